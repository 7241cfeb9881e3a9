// `flavourgraph build`: expand the plan and run it on the flow-graph executor.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <set>

#include "build_args.h"
#include "common.h"
#include "flavourgraph/run_files.h"
#include "flavourgraph/simulate.h"
#include "flavourgraph/status.h"
#include "signals.h"

namespace flavourgraph::cli {

void add_exec_options(CLI::App& cmd, ExecArgs& args) {
  cmd.add_option("-j,--jobs", args.jobs, "CPU tasks (layers, builds) run at once (default: cores)")
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--push-jobs", args.push_jobs,
                 "transfers (base pulls, pushes) run at once, on their own threads")
      ->check(CLI::Range(1, 256))
      ->default_val(4);
  cmd.add_flag("-k,--keep-going", args.keep_going,
               "after a failure, run everything that does not depend on it (default: start no "
               "new task after the first failure)");
  cmd.add_option("--progress", args.progress,
                 "auto (tty on a terminal, else plain), tty, plain (a line per start and finish), "
                 "json (an object per event) or quiet")
      ->check(CLI::IsMember({"auto", "tty", "plain", "json", "quiet"}))
      ->default_val("auto");
  cmd.add_option("--metadata-file", args.metadata_file,
                 "write each task's state, start, end and bytes as JSON")
      ->type_name("FILE");
  cmd.add_option("--trace", args.trace_file, "write a Chrome trace (open it in the Perfetto UI)")
      ->type_name("FILE");
  cmd.add_option("--simulate", args.simulate,
                 "run the real plan and executor with each task replaced by a wait, e.g. "
                 "base-pull=50ms,layer=300ms,build=100ms,tag=1ms,push=20ms,render-values=1ms "
                 "(unlisted kinds take 0); nothing is read or written but the files asked for")
      ->type_name("MODEL");
  cmd.add_option("--fail", args.fail, "make this task fail (fault injection; repeatable)")
      ->type_name("TASK-ID");
}

namespace {

ProgressMode progress_mode(const std::string& s) {
  if (s == "tty") return ProgressMode::tty;
  if (s == "plain") return ProgressMode::plain;
  if (s == "json") return ProgressMode::json;
  if (s == "quiet") return ProgressMode::quiet;
  return ProgressMode::automatic;
}

void print_summary(const ExecGraph& g, const RunResult& r) {
  fmt::print(stderr, "flavourgraph: {} tasks in {:.2f}s: {} done, {} cached, {} failed, {} skipped, {} cancelled\n",
             g.tasks.size(), r.wall, r.count(TaskState::done), r.count(TaskState::cached),
             r.count(TaskState::failed), r.count(TaskState::skipped), r.count(TaskState::cancelled));
  for (size_t i = 0; i < g.tasks.size(); ++i)
    if (r.records[i].state == TaskState::failed)
      fmt::print(stderr, "  failed: {}: {}\n", g.tasks[i].id, r.records[i].error);
}

}  // namespace

int run_build(const PlanArgs& plan_args, const ExecArgs& args) {
  // Signals first: every thread started later inherits the blocked mask.
  CancelSource cancel;
  SignalCanceller signals(cancel);

  auto loaded = load_and_expand(plan_args, static_cast<int64_t>(std::time(nullptr)),
                                std::getenv("SOURCE_DATE_EPOCH"));
  if (!loaded) return kExitUsage;
  const Plan& plan = loaded->plan;

  Diagnostics diags;
  std::optional<SimModel> model;
  if (!args.simulate.empty()) {
    std::string err;
    model = SimModel::parse(args.simulate, &err);
    if (!model) diags.error({}, "--simulate", err);
  }
  std::set<uint32_t> failing;
  for (const auto& id : args.fail) {
    int i = plan.find(id);
    if (i < 0)
      diags.error({}, "--fail", fmt::format("'{}' is not a task of this plan (see `flavourgraph plan`)", id));
    else
      failing.insert(static_cast<uint32_t>(i));
  }
  if (!model)
    diags.error({}, "", "the native builder is not available in this version yet: use --simulate");
  if (diags.has_errors()) {
    print_diagnostics(diags);
    return kExitUsage;
  }

  ExecGraph graph = exec_graph(plan, model ? &*model : nullptr);
  SimulatedRunner sim(graph, plan, *model);
  TaskRunner* runner = &sim;
  FaultInjector faults(*runner, failing);
  if (!failing.empty()) runner = &faults;

  auto printer = make_progress_printer(progress_mode(args.progress), STDERR_FILENO);
  ExecOptions opts;
  opts.jobs = args.jobs;
  opts.io_jobs = args.push_jobs;
  opts.keep_going = args.keep_going;
  RunResult result = execute(graph, *runner, *printer, opts, cancel);

  int status = kExitOk;
  try {
    if (!args.metadata_file.empty()) write_metadata_file(args.metadata_file, graph, result);
    if (!args.trace_file.empty()) write_trace_file(args.trace_file, graph, result);
  } catch (const std::exception& e) {
    fmt::print(stderr, "flavourgraph: error: {}\n", e.what());
    status = kExitTaskFailed;
  }
  print_summary(graph, result);
  if (result.interrupted) return kExitCancelled;
  if (!result.all_succeeded()) return kExitTaskFailed;
  return status;
}

}  // namespace flavourgraph::cli
