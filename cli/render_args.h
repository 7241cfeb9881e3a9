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
  bool prune = false;
  bool allow_detached = false;
};

void add_render_options(CLI::App& cmd, RenderArgs& args);
int run_render(const RenderArgs& args);

}  // namespace flavourgraph::cli
