#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace flavourgraph::cli {

/// Options of `gc`.
struct GcArgs {
  std::string store = ".flavourgraph/store";
  std::string state_dir = ".flavourgraph/state";
  std::string values_dir = ".flavourgraph/values";
  unsigned keep = 3;
  bool dry_run = false;
  std::string registry;  ///< the push target to clean too: oci:DIR or HOST[:PORT][/PREFIX]
  bool registry_given = false;  ///< --registry was given (perhaps empty)
  std::vector<std::string> insecure_registries;
  std::string ca_bundle;
  int retries = 5;
};

void add_gc_options(CLI::App& cmd, GcArgs& args);
int run_gc(const GcArgs& args);

}  // namespace flavourgraph::cli
