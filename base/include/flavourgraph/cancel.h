#pragma once
/// Cooperative cancellation: SIGINT/SIGTERM (or a test) call `cancel()`; running tasks poll
/// `requested()` or wait with `wait_for()` so that they stop promptly and clean up.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace flavourgraph {

class CancelSource {
 public:
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      flag_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }

  [[nodiscard]] bool requested() const { return flag_.load(std::memory_order_acquire); }

  /// Waits up to `d`; returns true when cancellation was requested (before or during the wait).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, d, [&] { return requested(); });
  }

  /// Waits until `deadline`; returns true when cancellation was requested.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_until(lock, deadline, [&] { return requested(); });
  }

 private:
  std::atomic<bool> flag_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
};

}  // namespace flavourgraph
