// The flow-graph executor: ordering, pool widths, failure policy, skips, cancellation.
// Synchronisation is by events (latches opened from Status callbacks), never by sleeping.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "flavourgraph/executor.h"
#include "flavourgraph/fs_util.h"
#include "flavourgraph/run_files.h"
#include "flavourgraph/simulate.h"
#include "test_util.h"

using namespace flavourgraph;

namespace {

/// A one-shot event with a bounded wait.
class Latch {
 public:
  void open() {
    {
      std::lock_guard l(m_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock l(m_);
    return cv_.wait_for(l, std::chrono::seconds(30), [&] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// Records events and checks that each task finishes exactly once.
class Recorder : public Status {
 public:
  std::function<void(const TaskEvent&)> on_start, on_finish;
  std::mutex m;
  std::map<uint32_t, int> finished;
  std::vector<std::string> order;
  void task_started(const TaskEvent& e) override {
    if (on_start) on_start(e);
  }
  void task_finished(const TaskEvent& e) override {
    {
      std::lock_guard l(m);
      finished[e.index]++;
      order.emplace_back(e.id);
    }
    if (on_finish) on_finish(e);
  }
};

/// Runs tasks for a short modelled time, checking independently of the executor's clock that
/// dependencies have finished and counting how many run at once in each pool.
class CheckingRunner : public TaskRunner {
 public:
  explicit CheckingRunner(const ExecGraph& g) : g_(g), done_(g.tasks.size()) {}
  std::atomic<int> running[2] = {0, 0};
  std::atomic<int> peak[2] = {0, 0};
  std::atomic<int> order_violations{0};
  std::set<uint32_t> failing;

  TaskOutcome run(uint32_t i, TaskContext& ctx) override {
    for (uint32_t d : g_.tasks[i].deps)
      if (!done_[d].load()) ++order_violations;
    auto p = static_cast<size_t>(g_.tasks[i].pool);
    int now = ++running[p];
    int prev = peak[p].load();
    while (now > prev && !peak[p].compare_exchange_weak(prev, now)) {
    }
    precise_wait(0.0002, ctx.cancel(), false);
    --running[p];
    done_[i].store(true);
    if (failing.count(i)) return TaskOutcome::fail("planned failure");
    return {};
  }

 private:
  const ExecGraph& g_;
  std::vector<std::atomic<bool>> done_;
};

ExecGraph random_dag(uint32_t n, uint32_t seed, double io_share) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  ExecGraph g;
  for (uint32_t i = 0; i < n; ++i) {
    ExecTask t;
    t.id = "t" + std::to_string(i);
    t.kind = "k";
    t.pool = u(rng) < io_share ? Pool::io : Pool::cpu;
    if (i > 0) {
      uint32_t ndeps = static_cast<uint32_t>(u(rng) * 4);
      for (uint32_t k = 0; k < ndeps; ++k) t.deps.push_back(static_cast<uint32_t>(u(rng) * i));
    }
    g.tasks.push_back(t);
  }
  return g;
}

ExecGraph chain(std::initializer_list<std::pair<const char*, Pool>> tasks) {
  ExecGraph g;
  uint32_t i = 0;
  for (auto [id, pool] : tasks) {
    ExecTask t{id, "k", pool, {}, 1};
    if (i > 0) t.deps.push_back(i - 1);
    g.tasks.push_back(t);
    ++i;
  }
  return g;
}

}  // namespace

TEST_CASE("no task starts before its dependencies end; pools stay within their widths") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    ExecGraph g = random_dag(400, seed, 0.4);
    CheckingRunner runner(g);
    Recorder rec;
    CancelSource cancel;
    ExecOptions opts;
    opts.jobs = 2;
    opts.io_jobs = 3;
    RunResult r = execute(g, runner, rec, opts, cancel);
    CHECK(r.all_succeeded());
    CHECK(runner.order_violations == 0);
    CHECK(runner.peak[0] <= 2);
    CHECK(runner.peak[1] <= 3);
    CHECK(runner.peak[1] >= 2);  // the I/O pool really runs in parallel
    for (const auto& [i, count] : rec.finished) CHECK(count == 1);
    CHECK(rec.finished.size() == g.tasks.size());

    // The same, read back from the metadata file as a user would.
    auto meta = nlohmann::json::parse(metadata_json(g, r));
    std::map<std::string, std::pair<double, double>> span;
    for (const auto& t : meta["tasks"]) span[t["id"]] = {t["start"], t["end"]};
    for (const auto& t : g.tasks)
      for (uint32_t d : t.deps) CHECK(span[t.id].first >= span[g.tasks[d].id].second);
    for (const char* pool : {"cpu", "io"}) {
      std::vector<std::pair<double, int>> edges;
      for (const auto& t : meta["tasks"])
        if (t["pool"] == pool && t["ran"] == true) {
          edges.emplace_back(t["start"].get<double>(), +1);
          edges.emplace_back(t["end"].get<double>(), -1);
        }
      std::sort(edges.begin(), edges.end());  // at equal times an end (-1) sorts first
      int cur = 0, most = 0;
      for (auto [_, delta] : edges) most = std::max(most, cur += delta);
      CHECK(most <= (std::string(pool) == "cpu" ? 2 : 3));
    }
  }
}

TEST_CASE("a failure skips everything downstream, naming the failed dependency") {
  ExecGraph g = chain({{"a", Pool::cpu}, {"b", Pool::io}, {"c", Pool::cpu}, {"d", Pool::cpu}});
  CheckingRunner runner(g);
  runner.failing = {0};
  Recorder rec;
  CancelSource cancel;
  ExecOptions opts;
  opts.keep_going = true;
  RunResult r = execute(g, runner, rec, opts, cancel);
  CHECK(r.records[0].state == TaskState::failed);
  CHECK(r.records[0].error == "planned failure");
  for (int i : {1, 2, 3}) CHECK(r.records[static_cast<size_t>(i)].state == TaskState::skipped);
  CHECK(r.records[1].error == "dependency a failed");
  CHECK(r.records[2].error == "dependency b skipped");
  CHECK(r.records[3].lane == -1);  // never ran
}

namespace {

class PolicyRunner : public TaskRunner {
 public:
  Latch slow_started, failed;
  TaskOutcome run(uint32_t i, TaskContext&) override {
    if (i == 0) {
      CHECK(slow_started.wait());  // both are running before the failure
      return TaskOutcome::fail("boom");
    }
    if (i == 1) {
      slow_started.open();
      CHECK(failed.wait());
    }
    return {};
  }
};

/// `fail` and `slow` start together; `slow` ends only after `fail` has been recorded as failed;
/// `after` depends on `slow` alone, and `child` on `fail`.
struct PolicyCase {
  ExecGraph g;
  PolicyCase() {
    g.tasks = {{"fail", "k", Pool::cpu, {}, 1},
               {"slow", "k", Pool::cpu, {}, 1},
               {"after", "k", Pool::cpu, {1}, 1},
               {"child", "k", Pool::io, {0}, 1}};
  }

  RunResult run(bool keep_going) {
    PolicyRunner runner;
    Recorder rec;
    rec.on_finish = [&](const TaskEvent& e) {
      if (e.index == 0) runner.failed.open();
    };
    CancelSource cancel;
    ExecOptions opts;
    opts.jobs = 2;
    opts.keep_going = keep_going;
    return execute(g, runner, rec, opts, cancel);
  }
};

}  // namespace

TEST_CASE("fail-fast starts no new task after a failure; running ones finish") {
  RunResult r = PolicyCase().run(/*keep_going=*/false);
  CHECK(r.records[0].state == TaskState::failed);
  CHECK(r.records[1].state == TaskState::done);       // was running: allowed to finish
  CHECK(r.records[2].state == TaskState::cancelled);  // independent, but not started
  CHECK(r.records[3].state == TaskState::skipped);    // downstream of the failure
  CHECK_FALSE(r.interrupted);
}

TEST_CASE("keep-going runs everything not downstream of a failure") {
  RunResult r = PolicyCase().run(/*keep_going=*/true);
  CHECK(r.records[0].state == TaskState::failed);
  CHECK(r.records[1].state == TaskState::done);
  CHECK(r.records[2].state == TaskState::done);
  CHECK(r.records[3].state == TaskState::skipped);
}

TEST_CASE("exceptions in a task body are failures, not crashes") {
  struct Thrower : TaskRunner {
    TaskOutcome run(uint32_t, TaskContext&) override { throw std::runtime_error("disk on fire"); }
  } runner;
  ExecGraph g = chain({{"a", Pool::io}, {"b", Pool::cpu}});
  Recorder rec;
  CancelSource cancel;
  RunResult r = execute(g, runner, rec, {}, cancel);
  CHECK(r.records[0].state == TaskState::failed);
  CHECK(r.records[0].error == "disk on fire");
  CHECK(r.records[1].state == TaskState::skipped);
}

TEST_CASE("cancellation stops running tasks, starts no others, and leaves no temp files") {
  fgtest::TempDir dir;
  ExecGraph g;
  g.tasks = {{"writer", "k", Pool::cpu, {}, 1},
             {"uploader", "k", Pool::io, {}, 1},
             {"later", "k", Pool::cpu, {0}, 1},
             {"later-io", "k", Pool::io, {1}, 1}};
  struct Runner : TaskRunner {
    std::filesystem::path dir;
    std::atomic<int> started{0};
    TaskOutcome run(uint32_t i, TaskContext& ctx) override {
      TempFile tmp(dir / ("out-" + std::to_string(i)));
      tmp.write("partial");
      ++started;
      // Wait for the cancellation (bounded), as a long copy would poll it.
      if (ctx.cancel().wait_for(std::chrono::seconds(30))) return {TaskState::cancelled, "interrupted", {}};
      tmp.commit();
      return {};
    }
  } runner;
  runner.dir = dir.path();
  Recorder rec;
  CancelSource cancel;
  std::atomic<int> starts{0};
  rec.on_start = [&](const TaskEvent&) {
    if (++starts == 2) cancel.cancel();  // both roots are running: interrupt
  };
  ExecOptions opts;
  opts.jobs = 2;
  RunResult r = execute(g, runner, rec, opts, cancel);
  CHECK(r.interrupted);
  CHECK(r.records[0].state == TaskState::cancelled);
  CHECK(r.records[1].state == TaskState::cancelled);
  CHECK(r.records[2].state == TaskState::cancelled);
  CHECK(r.records[3].state == TaskState::cancelled);
  CHECK(r.records[2].lane == -1);
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("render-values is skipped for a failed image; other releases render") {
  Diagnostics diags;
  auto cfg = std::make_shared<ImagesConfig>(
      load_images_config(fgtest::source_dir() + "/configs/example/images.yaml", diags));
  auto dep = std::make_shared<DeploymentsFile>(
      load_deployments(fgtest::source_dir() + "/configs/example/deployments.yaml", diags));
  PlanOptions po;
  po.timestamp = "2024-10-29-190315";
  Plan plan = expand(cfg, dep, {}, po, diags);
  REQUIRE_FALSE(diags.has_errors());
  ExecGraph g = exec_graph(plan);
  SimulatedRunner sim(g, std::vector<double>(g.tasks.size(), 0.0));
  FaultInjector faults(sim, {static_cast<uint32_t>(plan.find("push:mediawiki:publish-81:image"))});
  Recorder rec;
  CancelSource cancel;
  ExecOptions opts;
  opts.keep_going = true;
  RunResult r = execute(g, faults, rec, opts, cancel);
  auto meta = nlohmann::json::parse(metadata_json(g, r));
  std::map<std::string, std::string> state;
  for (const auto& t : meta["tasks"]) state[t["id"]] = t["state"];
  CHECK(state["push:mediawiki:publish-81:image"] == "failed");
  CHECK(state["render-values:mw-web/next@eqiad"] == "skipped");
  CHECK(state["render-values:mw-api-ext/main@codfw"] == "skipped");
  CHECK(state["render-values:mw-web/main@eqiad"] == "done");
  CHECK(state["render-values:mw-debug/next@eqiad"] == "done");  // debug-image pushed fine
  CHECK(state["push:mediawiki:publish-81:debug-image"] == "done");
}

TEST_CASE("the trace has one X event per task that ran, on named lanes") {
  ExecGraph g = random_dag(50, 7, 0.5);
  SimulatedRunner sim(g, std::vector<double>(g.tasks.size(), 0.0));
  Recorder rec;
  CancelSource cancel;
  RunResult r = execute(g, sim, rec, {}, cancel);
  auto trace = nlohmann::json::parse(trace_json(g, r));
  size_t x = 0;
  std::set<int> named;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "X") ++x;
    if (e["ph"] == "M" && e["name"] == "thread_name") named.insert(e["tid"].get<int>());
  }
  CHECK(x == g.tasks.size());
  for (const auto& e : trace["traceEvents"])
    if (e["ph"] == "X") CHECK(named.count(e["tid"].get<int>()));
}

TEST_CASE("the simulate model parses durations and kinds") {
  std::string err;
  auto m = SimModel::parse("base-pull=50ms,layer=0.3s,push=200us,render-values=1");
  REQUIRE(m);
  CHECK(m->of(TaskKind::base_pull) == doctest::Approx(0.05));
  CHECK(m->of(TaskKind::layer) == doctest::Approx(0.3));
  CHECK(m->of(TaskKind::push) == doctest::Approx(0.0002));
  CHECK(m->of(TaskKind::render_values) == doctest::Approx(1));
  CHECK(m->of(TaskKind::build) == 0);
  auto bad = SimModel::parse("compile=5ms");
  CHECK_FALSE(bad);
  CHECK(bad.message().find("'compile=5ms' is not KIND=DURATION") != std::string::npos);
  CHECK_FALSE(SimModel::parse("layer=5 minutes"));
}

TEST_CASE("the makespan lower bound") {
  ExecGraph g = chain({{"a", Pool::cpu}, {"b", Pool::cpu}});
  g.tasks.push_back({"c", "k", Pool::io, {}, 1});
  CHECK(makespan_lower_bound(g, {1, 2, 1}, 1, 1) == doctest::Approx(3));
  g.tasks.push_back({"d", "k", Pool::cpu, {}, 1});
  CHECK(makespan_lower_bound(g, {1, 1, 1, 4}, 1, 1) == doctest::Approx(6));  // cpu work 6 / 1
  CHECK(makespan_lower_bound(g, {1, 1, 1, 4}, 2, 1) == doctest::Approx(4));  // longest task
}
