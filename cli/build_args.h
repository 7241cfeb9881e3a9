#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common.h"

namespace flavourgraph::cli {

/// Executor options of `build`.
struct ExecArgs {
  unsigned jobs = 0;
  unsigned push_jobs = 4;
  bool keep_going = false;
  std::string progress = "auto";
  std::string metadata_file;
  std::string trace_file;
  std::string simulate;
  std::vector<std::string> fail;
  std::string store = ".flavourgraph/store";
  std::string state_dir = ".flavourgraph/state";
  std::string values_dir = ".flavourgraph/values";
  bool no_cache = false;
  bool ignore_published = false;
  std::string report_format = "v3";
  bool prune = false;
  bool allow_detached = false;
  bool full = false;
  bool explain = false;
  std::string previous_report;
  std::optional<int> max_layers;
  std::optional<double> max_delta;
  bool values_dir_given = false;
  std::vector<std::string> insecure_registries;
  std::string ca_bundle;
  int retries = 5;
};

void add_exec_options(CLI::App& cmd, ExecArgs& args);
int run_build(const PlanArgs& plan_args, const ExecArgs& args);

}  // namespace flavourgraph::cli
