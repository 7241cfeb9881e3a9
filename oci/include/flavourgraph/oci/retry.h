#pragma once
/// Retries of registry requests: exponential backoff with jitter, bounded in attempts and in
/// time. No attempt starts once the time allowed is spent, counting the wait before it.
/// The clock is passed in, so that tests run the policy without waiting.

#include <chrono>
#include <optional>
#include <random>
#include <string>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/errors.h"

namespace flavourgraph::oci {

struct RetryPolicy {
  int attempts = 5;                                 ///< tries per request, the first included
  std::chrono::milliseconds base{500};              ///< first backoff, doubled each retry (+ jitter)
  std::chrono::milliseconds max_delay{8000};
  std::chrono::milliseconds total{120000};          ///< no attempt starts after this much time
};

/// Time and waiting, for retries: the steady clock, or a test's.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::chrono::steady_clock::time_point now() const = 0;
  /// Waits `d`; returns false when `cancel` was requested first.
  virtual bool wait(std::chrono::milliseconds d, const CancelSource& cancel) const = 0;
};

/// std::chrono::steady_clock, waiting on the cancel source.
const Clock& steady_clock_waits();

/// The wait after failed attempt number `attempt` (1-based): base × 2^(attempt-1), at most
/// max_delay, plus up to half of it as jitter. nullopt when no further attempt may start:
/// `attempt` is the last allowed, or `elapsed` + the wait reaches the time allowed.
std::optional<std::chrono::milliseconds> next_wait(const RetryPolicy& policy, int attempt,
                                                   std::chrono::steady_clock::duration elapsed, std::mt19937& rng);

/// Runs `f` until it returns, retrying transient RegistryErrors per `policy`. A transient
/// failure that is not retried becomes final, saying how many attempts were made; any other
/// std::exception (a malformed answer) becomes a RegistryError naming `what`.
template <class F>
auto with_retries(const RetryPolicy& policy, const Clock& clock, const CancelSource& cancel, const std::string& what,
                  F&& f) {
  auto start = clock.now();
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    try {
      try {
        return f();
      } catch (const Error&) {
        throw;
      } catch (const std::exception& e) {
        throw RegistryError(what + ": " + e.what());
      }
    } catch (const RegistryError& e) {
      if (!e.transient() || cancel.requested()) throw;
      auto wait = next_wait(policy, attempt, clock.now() - start, rng);
      if (!wait)
        throw RegistryError(std::string(e.what()) + " (gave up after " + std::to_string(attempt) + " attempt(s))",
                            e.status(), false);
      if (!clock.wait(*wait, cancel)) throw Cancelled();
    }
  }
}

}  // namespace flavourgraph::oci
