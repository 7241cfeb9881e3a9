#pragma once
/// SIGINT/SIGTERM become a cancellation request. Signals are blocked in every thread and
/// taken by one waiting thread (so no work happens in a signal handler); a second signal
/// exits at once.

#include <atomic>
#include <csignal>
#include <thread>

#include "flavourgraph/cancel.h"

namespace flavourgraph::cli {

class SignalCanceller {
 public:
  /// Must be constructed before any other thread starts, so that all inherit the mask.
  explicit SignalCanceller(CancelSource& cancel);
  ~SignalCanceller();
  SignalCanceller(const SignalCanceller&) = delete;
  SignalCanceller& operator=(const SignalCanceller&) = delete;

  /// The signal that cancelled the run, or 0.
  [[nodiscard]] int signal() const { return signal_.load(); }

 private:
  CancelSource& cancel_;
  std::atomic<int> signal_{0};
  std::thread waiter_;
  sigset_t old_mask_{};
};

}  // namespace flavourgraph::cli
