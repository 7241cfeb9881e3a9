#include "signals.h"

#include <pthread.h>
#include <unistd.h>

#include <cstring>

namespace flavourgraph::cli {

namespace {
constexpr int kShutdown = SIGUSR2;
}

SignalCanceller::SignalCanceller(CancelSource& cancel) : cancel_(cancel) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kShutdown);
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  waiter_ = std::thread([this, set] {
    // Bounded: each signal either ends the loop (shutdown) or counts towards the second one.
    for (int received = 0;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == kShutdown) return;
      if (++received == 1) {
        signal_.store(sig);
        static constexpr char msg[] = "\nflavourgraph: interrupted: stopping (again to exit at once)\n";
        [[maybe_unused]] auto w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        cancel_.cancel();
      } else {
        static constexpr char msg[] = "flavourgraph: interrupted again: exiting\n";
        [[maybe_unused]] auto w = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(130);
      }
    }
  });
}

SignalCanceller::~SignalCanceller() {
  pthread_kill(waiter_.native_handle(), kShutdown);
  waiter_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace flavourgraph::cli
