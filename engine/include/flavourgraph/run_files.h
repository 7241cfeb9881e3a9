#pragma once
/// The files a run leaves: --metadata-file (each task's state, times, bytes) and --trace
/// (Chrome trace-event JSON, one lane per worker, which the Perfetto UI opens).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "flavourgraph/executor.h"

namespace flavourgraph {

/// `{"tasks": [{"id", "kind", "state", "start", "end", "bytes_in", "bytes_out", "error", ...}],
///   "wall": s, "images": {...}}`; times are seconds from the run's start, to the microsecond.
/// `images` (by image:flavour:kind, as bake gives them per target) is written when not null.
std::string metadata_json(const ExecGraph& graph, const RunResult& result, const nlohmann::json& images = nullptr);

/// Chrome trace-event JSON: an `X` event per task that ran, a named lane per worker.
std::string trace_json(const ExecGraph& graph, const RunResult& result);

/// Writes through a temp file and a rename; throws std::system_error on failure.
void write_metadata_file(const std::filesystem::path& path, const ExecGraph& graph, const RunResult& result,
                         const nlohmann::json& images = nullptr);

/// The last event of `--progress json`: the counts by state, the wall time, the failed tasks
/// with their errors and the exit status.
std::string summary_event(const ExecGraph& graph, const RunResult& result, int exit_status);
void write_trace_file(const std::filesystem::path& path, const ExecGraph& graph,
                      const RunResult& result);

}  // namespace flavourgraph
