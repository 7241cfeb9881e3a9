#pragma once
/// The files a run leaves: --metadata-file (each task's state, times, bytes) and --trace
/// (Chrome trace-event JSON, one lane per worker, which the Perfetto UI opens).

#include <filesystem>
#include <string>

#include "flavourgraph/executor.h"

namespace flavourgraph {

/// `{"tasks": [{"id", "kind", "state", "start", "end", "bytes_in", "bytes_out", "error", ...}],
///   "wall": s}`; times are seconds from the run's start, to the microsecond.
std::string metadata_json(const ExecGraph& graph, const RunResult& result);

/// Chrome trace-event JSON: an `X` event per task that ran, a named lane per worker.
std::string trace_json(const ExecGraph& graph, const RunResult& result);

/// Writes through a temp file and a rename; throws std::system_error on failure.
void write_metadata_file(const std::filesystem::path& path, const ExecGraph& graph,
                         const RunResult& result);
void write_trace_file(const std::filesystem::path& path, const ExecGraph& graph,
                      const RunResult& result);

}  // namespace flavourgraph
