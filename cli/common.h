#pragma once
/// Options shared by the subcommands, and the steps every command takes: load the two
/// configuration files, validate them together, expand the plan.

#include <CLI/CLI.hpp>

#include "flavourgraph/values.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flavourgraph/config.h"
#include "flavourgraph/deployments.h"
#include "flavourgraph/plan.h"

namespace flavourgraph::cli {

/// Exit statuses (README documents them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitTaskFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCancelled = 130;

struct PlanArgs {
  std::string images;
  std::string deployments;
  std::vector<std::string> only;
  std::vector<std::string> releases;
  std::string stage;
  std::string scope;
  bool all_flavours = false;
  std::string clusters;
  std::string timestamp;
  std::string registry;
  bool registry_given = false;  ///< --registry was given (perhaps empty)
  std::optional<std::string> latest_tag;
  std::vector<std::string> engines;  ///< NAME=URL[?width=N]
  bool push = true;                  ///< --push / --no-push
  bool atomic = false;
  std::vector<std::string> sets;  ///< --set NAME=VALUE
};

/// Records the values directory's commits since `before` as a deploy in `state_dir` (for
/// `values revert`); nothing when it has none.
void note_deploy(const ValuesDir& dir, const std::optional<std::string>& before, const std::string& state_dir,
                 const std::string& what);

/// Adds -c/-d and the selection options to a subcommand.
void add_plan_options(CLI::App& cmd, PlanArgs& args);

struct Loaded {
  std::shared_ptr<ImagesConfig> config;
  std::shared_ptr<DeploymentsFile> deployments;
  Plan plan;
  int64_t timestamp = 0;
};

/// Loads, validates and expands; prints diagnostics to stderr. Returns nullopt on errors
/// (the caller exits 2). `env` lookups (SOURCE_DATE_EPOCH) and the clock are passed in.
std::optional<Loaded> load_and_expand(const PlanArgs& args, int64_t now,
                                      const char* source_date_epoch);

/// Prints diagnostics, errors last, with a count line when there are errors that ends with
/// `outcome`: what the errors left written (before any work: "nothing was written").
void print_diagnostics(const Diagnostics& d, std::string_view outcome = "nothing was written");

/// Splits "a,b c" into names.
std::vector<std::string> split_list(const std::string& s);

/// Subcommands.
int run_plan(const PlanArgs& args, const std::string& format);

}  // namespace flavourgraph::cli
