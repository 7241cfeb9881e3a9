// flavourgraph: builds the container images a deployments file needs, as a parallel task graph.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>

#include "build_args.h"
#include "common.h"
#include "gc_args.h"
#include "help.h"
#include "render_args.h"
#include "flavourgraph/error.h"
#include "flavourgraph/build_info.h"
#include "flavourgraph/version.h"

using namespace flavourgraph::cli;

int main(int argc, char** argv) {
  CLI::App app{
      "flavourgraph: builds the container images that a deployments file needs (every flavour\n"
      "and kind its releases run, shared work done once) as a parallel task graph, pushes them,\n"
      "and writes each release's helmfile values.\n\n"
      "Exit status: 0 success, 1 a task failed, 2 bad configuration or usage, 130 interrupted.",
      "flavourgraph"};
  app.set_version_flag("-V,--version", fmt::format("{} {} (commit {})", flavourgraph::kName,
                                                   flavourgraph::kVersion, flavourgraph::kCommit));
  app.require_subcommand(1);
  app.fallthrough(false);

  PlanArgs plan_args;
  std::string format = "text";
  auto* plan = app.add_subcommand(
      "plan", "Show the task graph a build would run: tasks, sharing, stages, critical path");
  add_plan_options(*plan, plan_args);
  plan->add_option("--format", format, "text (a summary), json or dot (Graphviz)")
      ->check(CLI::IsMember({"text", "json", "dot"}));

  PlanArgs build_plan_args;
  ExecArgs exec_args;
  auto* build = app.add_subcommand(
      "build", "Build, tag and push the images the releases need, then write their values files");
  add_plan_options(*build, build_plan_args);
  add_exec_options(*build, exec_args);

  RenderArgs render_args;
  auto* render = app.add_subcommand(
      "render", "Write the releases' helmfile values files from a report.json alone, without building");
  add_render_options(*render, render_args);

  RevertArgs revert_args;
  auto* values = app.add_subcommand("values", "Values files: revert the last deploy");
  values->require_subcommand(1);
  auto* revert = values->add_subcommand(
      "revert", "Put back the values files of the deploy before the last one, in one commit ('Configuration(s) reverted')");
  add_revert_options(*revert, revert_args);

  GcArgs gc_args;
  auto* gc = app.add_subcommand(
      "gc", "Remove the images no report, build record or values file names from the store (and the push "
            "target), keeping the newest N of each image, flavour and kind");
  add_gc_options(*gc, gc_args);

  if (auto status = parse_command_line(app, argc, argv)) return *status;

  try {
    if (plan->parsed()) return run_plan(plan_args, format);
    if (build->parsed()) {
      exec_args.values_dir_given = build->count("--values-dir") > 0;
      return run_build(build_plan_args, exec_args);
    }
    if (render->parsed()) return run_render(render_args);
    if (revert->parsed()) return run_revert(revert_args);
    if (gc->parsed()) return run_gc(gc_args);
  } catch (const flavourgraph::Error& e) {
    // The exit status says what failed: the input (2), the environment (1), an interruption.
    fmt::print(stderr, "flavourgraph: error: {}\n", e.what());
    switch (e.kind()) {
      case flavourgraph::ErrorKind::config: return kExitUsage;
      case flavourgraph::ErrorKind::cancelled: return kExitCancelled;
      case flavourgraph::ErrorKind::runtime: return kExitTaskFailed;
    }
  } catch (const std::exception& e) {  // a file, the disk, memory: the environment
    fmt::print(stderr, "flavourgraph: error: {}\n", e.what());
    return kExitTaskFailed;
  }
  return kExitUsage;
}
