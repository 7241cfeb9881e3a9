// bench/plan: the time to load and plan a generated configuration (default 1,000 flavours ×
// 3 kinds, 10,000 releases): reading images.yaml, reading the deployments file, expanding the
// plan, and the three together, medians over --repeat runs; then the process's peak RSS.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "flavourgraph/plan.h"
#include "gen_config.h"

using namespace flavourgraph;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load-and-plan benchmark on a generated configuration"};
  unsigned flavours = 1000, kinds = 3, releases = 10000, repeat = 5;
  app.add_option("--flavours", flavours, "mediawiki flavours")->check(CLI::Range(1, 100000));
  app.add_option("--kinds", kinds, "kinds per flavour")->check(CLI::Range(1, 100));
  app.add_option("--releases", releases, "releases, four per namespace")->check(CLI::Range(1, 1000000));
  app.add_option("--repeat", repeat, "runs (medians are printed)")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  auto dir = std::filesystem::temp_directory_path() / ("fg-plan-bench-" + std::to_string(getpid()));
  auto text = fgbench::generate_config(flavours, kinds, releases);
  fgbench::write_config(dir, text);

  std::vector<double> t_images, t_deployments, t_expand, t_total;
  size_t tasks = 0, builds = 0, renders = 0;
  for (unsigned r = 0; r < repeat; ++r) {
    Diagnostics diags;
    auto t0 = std::chrono::steady_clock::now();
    auto cfg = std::make_shared<ImagesConfig>(load_images_config(dir / "images.yaml", diags));
    t_images.push_back(seconds_since(t0));
    auto t1 = std::chrono::steady_clock::now();
    auto dep = std::make_shared<DeploymentsFile>(load_deployments(dir / "deployments.yaml", diags));
    t_deployments.push_back(seconds_since(t1));
    auto t2 = std::chrono::steady_clock::now();
    PlanOptions po;
    po.timestamp = "2024-10-29-190315";
    Plan plan = expand(cfg, dep, {}, po, diags);
    t_expand.push_back(seconds_since(t2));
    t_total.push_back(seconds_since(t0));
    if (diags.has_errors()) {
      fmt::print(stderr, "{}", diags.str());
      std::filesystem::remove_all(dir);
      return 1;
    }
    tasks = plan.tasks.size();
    builds = plan.builds.size();
    renders = plan.count(TaskKind::render_values);
  }
  std::filesystem::remove_all(dir);

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("{} flavours x {} kinds, {} releases: images.yaml {} KiB, deployments {} KiB\n", flavours, kinds,
             releases, text.images_yaml.size() / 1024, text.deployments_yaml.size() / 1024);
  fmt::print("plan: {} tasks ({} builds, {} render-values); medians of {} runs\n", tasks, builds, renders, repeat);
  fmt::print("  load images.yaml     {:8.3f} s\n", median(t_images));
  fmt::print("  load deployments     {:8.3f} s\n", median(t_deployments));
  fmt::print("  expand               {:8.3f} s\n", median(t_expand));
  fmt::print("  load and plan        {:8.3f} s   (target < 1 s)\n", median(t_total));
  fmt::print("  peak RSS             {:8.1f} MB\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  return 0;
}
