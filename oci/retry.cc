#include "flavourgraph/oci/retry.h"

#include <algorithm>

namespace flavourgraph::oci {

namespace {

class SteadyClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::now(); }
  bool wait(std::chrono::milliseconds d, const CancelSource& cancel) const override { return !cancel.wait_for(d); }
};

}  // namespace

const Clock& steady_clock_waits() {
  static const SteadyClock clock;
  return clock;
}

std::optional<std::chrono::milliseconds> next_wait(const RetryPolicy& policy, int attempt,
                                                   std::chrono::steady_clock::duration elapsed, std::mt19937& rng) {
  if (attempt >= policy.attempts) return std::nullopt;
  auto delay = std::min(policy.max_delay, policy.base * (1 << std::min(attempt - 1, 10)));
  delay += std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, delay.count() / 2)(rng));
  if (elapsed + delay >= policy.total) return std::nullopt;
  return delay;
}

}  // namespace flavourgraph::oci
