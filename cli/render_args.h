#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace flavourgraph::cli {

/// Options of `render`.
struct RenderArgs {
  std::string images;  ///< images.yaml: the default clusters and push target, as `build` takes them
  std::string deployments;
  std::string report;
  std::string registry;
  std::string values_dir;
  std::string stage;
  std::string scope;
  std::string clusters;
  std::string state_dir = ".flavourgraph/state";  ///< where the deploy is recorded
  bool prune = false;
  bool allow_detached = false;
};

/// Options of `values revert`.
struct RevertArgs {
  std::string values_dir;
  std::string state_dir = ".flavourgraph/state";
};

void add_revert_options(CLI::App& cmd, RevertArgs& args);
int run_revert(const RevertArgs& args);

void add_render_options(CLI::App& cmd, RenderArgs& args);
int run_render(const RenderArgs& args);

}  // namespace flavourgraph::cli
