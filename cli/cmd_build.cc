// `flavourgraph build`: expand the plan and run it on the flow-graph executor.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <tuple>

#include "build_args.h"
#include "common.h"
#include "flavourgraph/fs_util.h"
#include "flavourgraph/native_build.h"
#include "flavourgraph/run_files.h"
#include "flavourgraph/simulate.h"
#include "flavourgraph/status.h"
#include "signals.h"

namespace flavourgraph::cli {

void add_exec_options(CLI::App& cmd, ExecArgs& args) {
  cmd.add_option("-j,--jobs", args.jobs, "CPU tasks (layers, builds) run at once (default: cores)")
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--push-jobs", args.push_jobs,
                 "transfers (base pulls, pushes) and RUN builds (which wait on an engine) run at once, "
                 "on their own threads")
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
  cmd.add_option("--store", args.store, "the local OCI image layout: build cache and store of built images")
      ->type_name("DIR")
      ->default_val(".flavourgraph/store");
  cmd.add_option("--state-dir", args.state_dir, "where report.json is written")
      ->type_name("DIR")
      ->default_val(".flavourgraph/state");
  cmd.add_option("--values-dir", args.values_dir,
                 "where the releases' helmfile values files are written; when given and in a git "
                 "repository, each changed file is committed")
      ->type_name("DIR")
      ->default_val(".flavourgraph/values");
  cmd.add_flag("--no-cache", args.no_cache, "rebuild every layer and image even when its inputs are unchanged");
  cmd.add_flag("--ignore-published", args.ignore_published,
               "build every image even when the push target holds one under its build key (default: take that "
               "one, building and uploading nothing; e.g. to check that a build is reproducible)");
  cmd.add_option("--report-format", args.report_format, "report.json shape: v3, or v2 for older readers")
      ->check(CLI::IsMember({"v3", "v2"}))
      ->default_val("v3");
  cmd.add_flag("--prune", args.prune, "remove values files that no configured release writes (default: list them)");
  cmd.add_flag("--full", args.full,
               "build incremental layers whole for every image (default: a delta on each image's last good build "
               "where the rules allow)");
  cmd.add_option("--previous-report", args.previous_report,
                 "report.json of the last good deploy: the images incremental layers build their deltas on, on a "
                 "machine without this state dir (default: the build state, else the push target's newest tags)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  cmd.add_option("--max-layers", args.max_layers,
                 "a last image with this many layers gets a full build (default: images.yaml, else 125)")
      ->type_name("N")
      ->check(CLI::Range(2, 500));
  cmd.add_option("--max-delta", args.max_delta,
                 "a delta larger than this fraction of the tree gets a full build (default: images.yaml, else 0.25)")
      ->type_name("FRACTION")
      ->check(CLI::Range(0.0, 1.0));
  cmd.add_flag("--explain", args.explain,
               "after the run, say why each layer, build, tag and push that did work did it (also in "
               "--metadata-file, as each task's 'reason')");
  cmd.add_flag("--allow-detached", args.allow_detached,
               "commit values even when the values directory's git HEAD is detached (the commits then belong "
               "to no branch; refused by default)");
  cmd.add_option("--insecure-registry", args.insecure_registries,
                 "speak plain HTTP to this registry (repeatable; also 'insecure_registries' in images.yaml); "
                 "TLS is verified everywhere else")
      ->type_name("HOST[:PORT]");
  cmd.add_option("--ca-bundle", args.ca_bundle, "CA certificates to verify registries' TLS with (default: the system's)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  cmd.add_option("--retries", args.retries,
                 "attempts per registry request on connection errors, 5xx and 429 (exponential backoff with "
                 "jitter)")
      ->check(CLI::Range(1, 20))
      ->default_val(5);
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

namespace {

/// After a real run: report.json, git commits of values (stage by stage), stale values files.
/// Each step is tried whatever happened to the one before; on errors, the summary says what
/// was written and what was not.
int publish(const NativeBuild& nb, const Plan& plan, const RunResult& result, const ExecArgs& args) {
  Diagnostics diags;
  auto saved = nb.save_state(args.report_format == "v2" ? ReportFormat::v2 : ReportFormat::v3, diags);
  size_t values_written = 0, commits = 0;
  bool values_step = plan.push && !plan.releases.empty() && !result.interrupted;
  for (const auto& r : plan.releases)
    if (r.task >= 0) values_written += result.records[static_cast<size_t>(r.task)].state == TaskState::done;
  if (values_step) {
    try {
      auto before = nb.values().head();
      commits = commit_values(nb.values(), nb.rendered());
      if (commits && args.progress != "quiet")
        fmt::print(stderr, "flavourgraph: {} values file(s) committed in {}\n", commits, nb.values().dir().string());
      note_deploy(nb.values(), before, args.state_dir, "build");
    } catch (const std::exception& e) {
      diags.error({}, "values", e.what());
    }
    try {
      stale_values(nb.values(), plan.values_files, args.prune, diags);
    } catch (const std::exception& e) {
      diags.error({}, "values", e.what());
    }
  }
  bool made = saved.published || saved.unpushed;
  std::string outcome = fmt::format("report.json {}; {} values file(s) written{}",
                                    saved.report_written ? "written" : made ? "NOT written" : "unchanged",
                                    values_written, nb.values_are_git() ? fmt::format(", {} committed", commits) : "");
  if (!plan.push && args.progress != "quiet")
    fmt::print(stderr,
               "flavourgraph: --no-push: {} image(s) left in the store {} and listed in report.json as unpushed; "
               "nothing was pushed and no values file changed\n",
               saved.unpushed, args.store);
  print_diagnostics(diags, outcome);
  return diags.has_errors() ? kExitTaskFailed : kExitOk;
}

/// --explain: why each layer, build, tag and push that did work did it.
void print_explanations(const ExecGraph& g, const RunResult& r) {
  for (size_t i = 0; i < g.tasks.size(); ++i) {
    const auto& kind = g.tasks[i].kind;
    bool published = kind == "build" && r.records[i].reason.rfind("published already", 0) == 0;
    if ((r.records[i].state != TaskState::done && !published) || r.records[i].reason.empty() ||
        (kind != "layer" && kind != "build" && kind != "tag" && kind != "push"))
      continue;
    fmt::print(stderr, "explain: {}: {}\n", g.tasks[i].id, r.records[i].reason);
  }
}

/// The settings of a real build, from the options and the environment.
BuildSettings build_settings(const ExecArgs& args, const Loaded& loaded) {
  BuildSettings settings;
  settings.store_dir = args.store;
  settings.state_dir = args.state_dir;
  settings.values_dir = args.values_dir;
  settings.values_git = args.values_dir_given;
  settings.no_cache = args.no_cache;
  settings.ignore_published = args.ignore_published;
  const char* sde = std::getenv("SOURCE_DATE_EPOCH");
  settings.source_date_epoch = sde && *sde ? parse_timestamp(sde).value_or(0) : 0;
  settings.created_fixed = sde && *sde;
  settings.run_time = loaded.timestamp;
  // Outputs (the push target, as the store, state and values) are where the command runs.
  settings.target_base_dir = std::filesystem::current_path();
  settings.insecure_registries = args.insecure_registries;
  settings.ca_bundle = args.ca_bundle;
  settings.retries = args.retries;
  settings.allow_detached = args.allow_detached;
  settings.full = args.full;
  settings.previous_report = args.previous_report;
  settings.max_layers = args.max_layers;
  settings.max_delta = args.max_delta;
  for (auto [name, field] : {std::pair{"DOCKER_CONFIG", &settings.docker_config}, std::pair{"HOME", &settings.home}})
    if (const char* v = std::getenv(name)) *field = v;
  return settings;
}

/// --simulate and --fail, checked against the plan.
struct FaultOptions {
  std::optional<SimModel> model;
  std::set<uint32_t> failing;
};

std::optional<FaultOptions> fault_options(const Plan& plan, const ExecArgs& args) {
  Diagnostics diags;
  FaultOptions out;
  if (!args.simulate.empty()) {
    auto model = SimModel::parse(args.simulate);
    if (model)
      out.model = *model;
    else
      diags.error({}, "--simulate", model.message());
  }
  for (const auto& id : args.fail) {
    int i = plan.find(id);
    if (i < 0)
      diags.error({}, "--fail", fmt::format("'{}' is not a task of this plan (see `flavourgraph plan`)", id));
    else
      out.failing.insert(static_cast<uint32_t>(i));
  }
  if (!diags.has_errors()) return out;
  print_diagnostics(diags);
  return std::nullopt;
}

/// Whether a file or directory can be made: a file's directory exists and is writable (and the
/// file is not a directory); a directory's nearest existing ancestor is a writable directory.
/// "" when it can.
std::string unwritable(const std::filesystem::path& path, bool directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (fs::is_directory(p, ec)) {
    if (!directory) return "is a directory";
    return ::access(p.c_str(), W_OK | X_OK) == 0 ? "" : "is not writable";
  }
  if (fs::exists(p, ec) && directory) return "exists and is not a directory";
  if (!directory && !fs::is_directory(p.parent_path(), ec))  // a file's directory is not made for it
    return fmt::format("cannot be made: {} is not a directory", p.parent_path().string());
  for (fs::path up = p.parent_path(); !up.empty(); up = up.parent_path()) {
    if (fs::exists(up, ec)) {
      if (!fs::is_directory(up, ec)) return fmt::format("cannot be made: {} is not a directory", up.string());
      return ::access(up.c_str(), W_OK | X_OK) == 0 ? "" : fmt::format("cannot be made: {} is not writable", up.string());
    }
    if (up == up.root_path()) break;
  }
  return "cannot be made";
}

/// Output paths are checked before any work: a run must not fail at its end, after pushing,
/// because a file cannot be written.
bool check_outputs(const ExecArgs& args) {
  Diagnostics diags;
  for (auto [flag, path, dir] : {std::tuple{"--metadata-file", args.metadata_file, false},
                                 std::tuple{"--trace", args.trace_file, false},
                                 std::tuple{"--store", args.store, true},
                                 std::tuple{"--state-dir", args.state_dir, true},
                                 std::tuple{"--values-dir", args.values_dir, true}}) {
    if (path.empty()) continue;
    if (std::string problem = unwritable(path, dir); !problem.empty())
      diags.error({}, flag, fmt::format("{} {}", path, problem));
  }
  if (!diags.has_errors()) return true;
  print_diagnostics(diags);
  return false;
}

/// The run files asked for; false when one could not be written.
bool write_run_files(const ExecArgs& args, const ExecGraph& graph, const RunResult& result, const NativeBuild* nb) {
  try {
    if (!args.metadata_file.empty())
      write_metadata_file(args.metadata_file, graph, result, nb ? nb->images_json() : nlohmann::json(nullptr));
    if (!args.trace_file.empty()) write_trace_file(args.trace_file, graph, result);
    return true;
  } catch (const std::exception& e) {
    fmt::print(stderr, "flavourgraph: error: {}\n", e.what());
    return false;
  }
}

}  // namespace

int run_build(const PlanArgs& plan_args, const ExecArgs& args) {
  // Signals first: every thread started later inherits the blocked mask.
  CancelSource cancel;
  SignalCanceller signals(cancel);

  auto loaded = load_and_expand(plan_args, static_cast<int64_t>(std::time(nullptr)), std::getenv("SOURCE_DATE_EPOCH"));
  if (!loaded) return kExitUsage;
  const Plan& plan = loaded->plan;
  auto faults_asked = fault_options(plan, args);
  if (!faults_asked) return kExitUsage;
  if (!check_outputs(args)) return kExitUsage;

  ExecGraph graph = exec_graph(plan, faults_asked->model ? &*faults_asked->model : nullptr);
  std::unique_ptr<SimulatedRunner> sim;
  std::unique_ptr<NativeBuild> native;
  TaskRunner* runner = nullptr;
  if (faults_asked->model) {
    sim = std::make_unique<SimulatedRunner>(graph, plan, *faults_asked->model);
    runner = sim.get();
  } else {
    Diagnostics diags;
    try {
      native = NativeBuild::prepare(plan, build_settings(args, *loaded), cancel, diags);
    } catch (const Error& e) {  // the environment's fault (a store in use, a registry down), or a signal
      fmt::print(stderr, "flavourgraph: error: {}\n", e.what());
      return e.kind() == ErrorKind::cancelled ? kExitCancelled : kExitTaskFailed;
    } catch (const std::exception& e) {
      fmt::print(stderr, "flavourgraph: error: {}\n", e.what());
      return kExitTaskFailed;
    }
    if (!native) {
      print_diagnostics(diags);
      return kExitUsage;
    }
    runner = &native->runner();
  }
  FaultInjector faults(*runner, faults_asked->failing);
  if (!faults_asked->failing.empty()) runner = &faults;

  // The JSON stream goes to stdout, alone: human text (the summary, errors) stays on stderr.
  bool json_stream = args.progress == "json";
  auto printer = make_progress_printer(progress_mode(args.progress), json_stream ? STDOUT_FILENO : STDERR_FILENO);
  ExecOptions opts;
  opts.jobs = args.jobs;
  opts.io_jobs = args.push_jobs;
  opts.keep_going = args.keep_going;
  RunResult result = execute(graph, *runner, *printer, opts, cancel);

  int status = native ? publish(*native, plan, result, args) : kExitOk;
  if (!write_run_files(args, graph, result, native.get())) status = kExitTaskFailed;
  if (args.explain) {
    if (native)
      for (const auto& p : native->key_problems()) fmt::print(stderr, "explain: {}\n", p);
    print_explanations(graph, result);
  }
  if (result.interrupted)
    status = kExitCancelled;
  else if (!result.all_succeeded())
    status = kExitTaskFailed;
  if (args.progress != "quiet" || status != kExitOk) print_summary(graph, result);  // quiet: nothing on success
  if (json_stream) {
    std::fflush(stdout);
    std::string event = summary_event(graph, result, status);
    if (::write(STDOUT_FILENO, event.data(), event.size()) < 0) {  // best effort, as every progress line
    }
  }
  return status;
}

}  // namespace flavourgraph::cli
