// bench/scheduler: 100,000 no-op tasks as a chain, a wide fan-out and a random DAG. Prints
// microseconds per task for flavourgraph's executor next to a bare tbb::flow::graph of the
// same shape (graph construction included on both sides). Medians of several runs.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>

#include "flavourgraph/executor.h"

using namespace flavourgraph;
using Clock = std::chrono::steady_clock;

namespace {

class NullStatus : public Status {};
class NoOp : public TaskRunner {
 public:
  TaskOutcome run(uint32_t, TaskContext&) override { return {}; }
};

ExecGraph make_shape(const std::string& shape, uint32_t n, uint32_t seed) {
  ExecGraph g;
  g.tasks.resize(n);
  std::mt19937 rng(seed);
  for (uint32_t i = 0; i < n; ++i) {
    g.tasks[i].id = "t" + std::to_string(i);
    g.tasks[i].kind = "noop";
    if (shape == "chain" && i > 0) g.tasks[i].deps = {i - 1};
    if (shape == "fan-out" && i > 0) g.tasks[i].deps = {0};
    if (shape == "random" && i > 0) {
      std::uniform_int_distribution<uint32_t> pick(0, i - 1), count(0, 3);
      for (uint32_t k = count(rng); k > 0; --k) g.tasks[i].deps.push_back(pick(rng));
      std::sort(g.tasks[i].deps.begin(), g.tasks[i].deps.end());
      g.tasks[i].deps.erase(std::unique(g.tasks[i].deps.begin(), g.tasks[i].deps.end()), g.tasks[i].deps.end());
    }
  }
  return g;
}

/// The same DAG as continue_nodes with empty bodies, in an arena of the same width.
double bare_tbb(const ExecGraph& g, unsigned jobs) {
  auto t0 = Clock::now();
  tbb::task_arena arena(static_cast<int>(jobs));
  arena.execute([&] {
    using Node = tbb::flow::continue_node<tbb::flow::continue_msg>;
    tbb::flow::graph graph;
    tbb::flow::broadcast_node<tbb::flow::continue_msg> start(graph);
    std::deque<Node> nodes;
    for (size_t i = 0; i < g.tasks.size(); ++i)
      nodes.emplace_back(graph, [](const tbb::flow::continue_msg&) { return tbb::flow::continue_msg(); });
    for (size_t i = 0; i < g.tasks.size(); ++i) {
      if (g.tasks[i].deps.empty()) tbb::flow::make_edge(start, nodes[i]);
      for (uint32_t d : g.tasks[i].deps) tbb::flow::make_edge(nodes[d], nodes[i]);
    }
    start.try_put(tbb::flow::continue_msg());
    graph.wait_for_all();
  });
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double ours(const ExecGraph& g, unsigned jobs, bool prioritize) {
  NoOp runner;
  NullStatus status;
  CancelSource cancel;
  ExecOptions opts;
  opts.jobs = jobs;
  opts.prioritize = prioritize;
  auto t0 = Clock::now();
  RunResult r = execute(g, runner, status, opts, cancel);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.all_succeeded()) throw std::runtime_error("a no-op task did not succeed");
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scheduler overhead against bare oneTBB flow graph"};
  uint32_t n = 100000;
  unsigned jobs = 2, repeat = 5;
  app.add_option("-n,--tasks", n, "tasks per shape");
  app.add_option("-j,--jobs", jobs, "arena width");
  app.add_option("--repeat", repeat, "runs per measurement (median printed)");
  CLI11_PARSE(app, argc, argv);
  fmt::print("{} no-op tasks, -j {}, median of {} runs; us per task (graph construction included)\n", n, jobs,
             repeat);
  fmt::print("{:<8} {:>10} {:>14} {:>18} {:>10}\n", "shape", "bare TBB", "flavourgraph", "(no priorities)",
             "delta");
  for (const std::string shape : {"chain", "fan-out", "random"}) {
    ExecGraph g = make_shape(shape, n, 42);
    std::vector<double> bare, mine, plain;
    for (unsigned r = 0; r < repeat; ++r) {
      bare.push_back(bare_tbb(g, jobs) / n * 1e6);
      mine.push_back(ours(g, jobs, true) / n * 1e6);
      plain.push_back(ours(g, jobs, false) / n * 1e6);
    }
    fmt::print("{:<8} {:>10.3f} {:>14.3f} {:>18.3f} {:>+10.3f}\n", shape, median(bare), median(mine), median(plain),
               median(mine) - median(bare));
  }
  return 0;
}
