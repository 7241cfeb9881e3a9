#pragma once
/// Simulate mode and fault injection: the real plan and executor, with task bodies replaced by
/// waits of a modelled duration (for benchmarking fan-out), and chosen tasks made to fail.

#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "flavourgraph/error.h"
#include "flavourgraph/executor.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/plan_graph.h"

namespace flavourgraph {

/// Seconds per task kind, e.g. parsed from "base-pull=50ms,layer=300ms,push=20ms".
struct SimModel {
  std::array<double, kTaskKindCount> seconds{};

  /// Unlisted kinds take 0. Units: s, ms, us (a bare number is seconds).
  static Expected<SimModel> parse(std::string_view text);
  [[nodiscard]] double of(TaskKind k) const { return seconds[static_cast<size_t>(k)]; }
};

/// Parses a duration such as "50ms", "1.5s", "200us", "0".
std::optional<double> parse_duration(std::string_view text);

/// Waits for the modelled duration of each task's kind. CPU tasks hold their worker for the
/// whole duration (as CPU work does); waits end early on cancellation.
class SimulatedRunner final : public TaskRunner {
 public:
  SimulatedRunner(const ExecGraph& graph, std::vector<double> seconds)
      : graph_(graph), seconds_(std::move(seconds)) {}
  SimulatedRunner(const ExecGraph& graph, const Plan& plan, const SimModel& model);
  TaskOutcome run(uint32_t index, TaskContext& ctx) override;

 private:
  const ExecGraph& graph_;
  std::vector<double> seconds_;
};

/// Makes the named tasks fail (--fail TASK-ID), in simulate mode and in real builds.
class FaultInjector final : public TaskRunner {
 public:
  FaultInjector(TaskRunner& inner, std::set<uint32_t> failing)
      : inner_(inner), failing_(std::move(failing)) {}
  TaskOutcome run(uint32_t index, TaskContext& ctx) override;

 private:
  TaskRunner& inner_;
  std::set<uint32_t> failing_;
};

/// Waits `seconds` precisely (sleep, then a short spin when `spin_tail`); returns false when
/// cancelled first.
bool precise_wait(double seconds, const CancelSource& cancel, bool spin_tail);

}  // namespace flavourgraph
