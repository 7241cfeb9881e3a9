// bench/fanout: the real plan and executor on generated configurations of growing size, each
// task a modelled wait. Prints tasks, makespan, the lower bound
// max(critical path, work of each pool / its width) and their ratio.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/simulate.h"
#include "gen_config.h"

using namespace flavourgraph;

namespace {

class NullStatus : public Status {};

struct Size {
  unsigned flavours, kinds, releases;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fan-out benchmark: makespan against its lower bound"};
  std::string model_text = "base-pull=5ms,layer=30ms,build=10ms,tag=100us,push=2ms,render-values=100us";
  unsigned jobs = 2, push_jobs = 4, repeat = 1;
  app.add_option("--model", model_text, "task durations (the issue's example model / 10)");
  app.add_option("-j,--jobs", jobs, "CPU pool width");
  app.add_option("--push-jobs", push_jobs, "I/O pool width");
  app.add_option("--repeat", repeat, "runs per size (the median is printed)");
  CLI11_PARSE(app, argc, argv);
  auto model = SimModel::parse(model_text);
  if (!model) {
    fmt::print(stderr, "--model: {}\n", model.message());
    return 2;
  }
  const Size sizes[] = {{4, 3, 16}, {40, 3, 160}, {150, 3, 1500}, {500, 3, 4500}};
  auto dir = std::filesystem::temp_directory_path() / ("fg-fanout-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  fmt::print("model: {}; -j {}, --push-jobs {}\n", model_text, jobs, push_jobs);
  fmt::print("{:>8} {:>8} {:>12} {:>12} {:>14} {:>12} {:>7}\n", "tasks", "flavours", "makespan s",
             "bound s", "critical s", "cpu/io s", "ratio");
  for (const auto& s : sizes) {
    auto cfg_text = fgbench::generate_config(s.flavours, s.kinds, s.releases);
    fgbench::write_config(dir, cfg_text);
    Diagnostics diags;
    auto cfg = std::make_shared<ImagesConfig>(load_images_config(dir / "images.yaml", diags));
    auto dep = std::make_shared<DeploymentsFile>(load_deployments(dir / "deployments.yaml", diags));
    PlanOptions po;
    po.timestamp = "2024-10-29-190315";
    Plan plan = expand(cfg, dep, {}, po, diags);
    if (diags.has_errors()) {
      fmt::print(stderr, "{}", diags.str());
      return 1;
    }
    ExecGraph g = exec_graph(plan, &*model);
    std::vector<double> secs;
    double cpu_work = 0, io_work = 0;
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      secs.push_back(model->of(plan.tasks[i].kind));
      (g.tasks[i].pool == Pool::io ? io_work : cpu_work) += secs.back();
    }
    double bound = makespan_lower_bound(g, secs, jobs, push_jobs);
    ExecGraph chain_only = g;
    double critical = makespan_lower_bound(chain_only, secs, 1u << 30, 1u << 30);
    std::vector<double> spans;
    for (unsigned r = 0; r < repeat; ++r) {
      SimulatedRunner sim(g, secs);
      NullStatus status;
      CancelSource cancel;
      ExecOptions opts;
      opts.jobs = jobs;
      opts.io_jobs = push_jobs;
      RunResult result = execute(g, sim, status, opts, cancel);
      if (!result.all_succeeded()) {
        fmt::print(stderr, "run failed\n");
        return 1;
      }
      spans.push_back(result.wall);
    }
    std::sort(spans.begin(), spans.end());
    double span = spans[spans.size() / 2];
    fmt::print("{:>8} {:>8} {:>12.3f} {:>12.3f} {:>14.3f} {:>5.2f}/{:<6.2f} {:>7.3f}\n", plan.tasks.size(),
               s.flavours, span, bound, critical, cpu_work / jobs, io_work / push_jobs, span / bound);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
