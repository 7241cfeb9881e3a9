#include "flavourgraph/run_files.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "flavourgraph/fs_util.h"

namespace flavourgraph {

namespace {

double micros(double seconds) { return std::round(seconds * 1e6) / 1e6; }

bool succeeded(TaskState s) { return s == TaskState::done || s == TaskState::cached; }

/// An --atomic run (one with a publish task): whether its names were set, and when they were
/// not, the images its pushes uploaded by digest and left without a name.
void add_atomic_outcome(const ExecGraph& graph, const RunResult& result, nlohmann::json& out) {
  int publish = -1;
  for (size_t i = 0; i < graph.tasks.size(); ++i)
    if (graph.tasks[i].kind == "publish") publish = static_cast<int>(i);
  if (publish < 0) return;
  bool tagged = succeeded(result.records[static_cast<size_t>(publish)].state);
  nlohmann::json untagged = nlohmann::json::array();
  if (!tagged)
    for (size_t i = 0; i < graph.tasks.size(); ++i)
      if (graph.tasks[i].kind == "push" && succeeded(result.records[i].state))
        untagged.push_back(result.records[i].output);
  out["atomic"] = {{"tagged", tagged}, {"uploaded_untagged", untagged}};
}

}  // namespace

std::string metadata_json(const ExecGraph& graph, const RunResult& result, const nlohmann::json& images) {
  nlohmann::json tasks = nlohmann::json::array();
  for (size_t i = 0; i < graph.tasks.size(); ++i) {
    const ExecTask& t = graph.tasks[i];
    const TaskRecord& r = result.records[i];
    bool ran = r.lane >= 0;
    nlohmann::json j = {
        {"id", t.id},
        {"kind", t.kind},
        {"state", state_name(r.state)},
        {"start", micros(std::max(0.0, r.start))},
        {"end", micros(std::max(0.0, r.end))},
        {"bytes_in", r.bytes_in},
        {"bytes_out", r.bytes_out},
        {"error", r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error)},
        {"pool", pool_name(t.pool)},
        {"ran", ran},
        {"lane", r.lane},
        {"cache_hit", r.state == TaskState::cached},
    };
    if (!r.output.empty()) j["output"] = r.output;
    if (!r.reason.empty()) j["reason"] = r.reason;
    if (!r.warnings.empty()) j["warnings"] = r.warnings;
    tasks.push_back(std::move(j));
  }
  nlohmann::json out = {{"tasks", tasks},
                        {"wall", micros(result.wall)},
                        {"jobs", result.cpu_width},
                        {"push_jobs", result.io_width},
                        {"interrupted", result.interrupted}};
  add_atomic_outcome(graph, result, out);
  if (!images.is_null()) out["images"] = images;
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string trace_json(const ExecGraph& graph, const RunResult& result) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "flavourgraph"}}}});
  std::set<int> lanes;
  for (const auto& r : result.records)
    if (r.lane >= 0) lanes.insert(r.lane);
  for (int lane : lanes) {
    std::string name = lane < static_cast<int>(result.cpu_width)
                           ? "cpu " + std::to_string(lane)
                           : "io " + std::to_string(lane - static_cast<int>(result.cpu_width));
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", lane}, {"args", {{"name", name}}}});
    events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 1}, {"tid", lane}, {"args", {{"sort_index", lane}}}});
  }
  for (size_t i = 0; i < graph.tasks.size(); ++i) {
    const TaskRecord& r = result.records[i];
    if (r.lane < 0) continue;
    nlohmann::json args = {{"state", state_name(r.state)}};
    if (r.bytes_in) args["bytes_in"] = r.bytes_in;
    if (r.bytes_out) args["bytes_out"] = r.bytes_out;
    if (!r.error.empty()) args["error"] = r.error;
    events.push_back({{"name", graph.tasks[i].id},
                      {"cat", graph.tasks[i].kind},
                      {"ph", "X"},
                      {"ts", std::round(r.start * 1e6)},
                      {"dur", std::max(1.0, std::round((r.end - r.start) * 1e6))},
                      {"pid", 1},
                      {"tid", r.lane},
                      {"args", args}});
  }
  nlohmann::json out = {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void write_metadata_file(const std::filesystem::path& path, const ExecGraph& graph, const RunResult& result,
                         const nlohmann::json& images) {
  write_file_atomic(path, metadata_json(graph, result, images));
}

std::string summary_event(const ExecGraph& graph, const RunResult& result, int exit_status) {
  nlohmann::json failed = nlohmann::json::array();
  for (size_t i = 0; i < graph.tasks.size(); ++i)
    if (result.records[i].state == TaskState::failed)
      failed.push_back({{"id", graph.tasks[i].id}, {"error", result.records[i].error}});
  nlohmann::json j = {{"event", "summary"},
                      {"tasks", graph.tasks.size()},
                      {"wall", micros(result.wall)},
                      {"failed_tasks", failed},
                      {"interrupted", result.interrupted},
                      {"exit", exit_status}};
  for (TaskState s : {TaskState::done, TaskState::cached, TaskState::failed, TaskState::skipped, TaskState::cancelled})
    j[std::string(state_name(s))] = result.count(s);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void write_trace_file(const std::filesystem::path& path, const ExecGraph& graph,
                      const RunResult& result) {
  write_file_atomic(path, trace_json(graph, result));
}

}  // namespace flavourgraph
