#include "flavourgraph/simulate.h"

#include <fmt/format.h>
#include <sys/prctl.h>

#include <charconv>
#include <chrono>
#include <thread>

namespace flavourgraph {

std::optional<double> parse_duration(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  if (unit.empty() || unit == "s") return value;
  if (unit == "ms") return value / 1e3;
  if (unit == "us") return value / 1e6;
  return std::nullopt;
}

Expected<SimModel> SimModel::parse(std::string_view text) {
  SimModel m;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? text.size() : comma + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    auto kind = eq == std::string_view::npos ? std::nullopt : parse_task_kind(item.substr(0, eq));
    auto secs = eq == std::string_view::npos ? std::nullopt : parse_duration(item.substr(eq + 1));
    if (!kind || !secs)
      return Error(fmt::format("'{}' is not KIND=DURATION (kinds: base-pull, layer, build, tag, push, publish, run, "
                               "render-values; durations like 50ms, 1.5s, 200us)",
                               item),
                   ErrorKind::config);
    m.seconds[static_cast<size_t>(*kind)] = *secs;
  }
  return m;
}

bool precise_wait(double seconds, const CancelSource& cancel, bool spin_tail) {
  thread_local bool slack_set = false;
  if (!slack_set) {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // wake within microseconds, not the default 50
    slack_set = true;
  }
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto spin = std::chrono::microseconds(spin_tail ? 150 : 0);
  if (deadline - Clock::now() > spin && cancel.wait_until(deadline - spin)) return false;
  while (Clock::now() < deadline)
    if (cancel.requested()) return false;
  return !cancel.requested();
}

SimulatedRunner::SimulatedRunner(const ExecGraph& graph, const Plan& plan, const SimModel& model)
    : graph_(graph) {
  seconds_.reserve(plan.tasks.size());
  for (const auto& t : plan.tasks) seconds_.push_back(model.of(t.kind));
}

TaskOutcome SimulatedRunner::run(uint32_t index, TaskContext& ctx) {
  double s = seconds_[index];
  if (s > 0 && !precise_wait(s, ctx.cancel(), graph_.tasks[index].pool == Pool::cpu))
    return {TaskState::cancelled, "cancelled", {}};
  return {};
}

TaskOutcome FaultInjector::run(uint32_t index, TaskContext& ctx) {
  if (failing_.count(index)) return TaskOutcome::fail("injected failure (--fail)");
  return inner_.run(index, ctx);
}

}  // namespace flavourgraph
