// bench/layer: the cold build of the example's images (2 mediawiki flavours × 3 kinds + the
// webserver) over a generated tree of ~60,000 PHP-like files (~600 MB), next to
// `tar -cf - TREE | pigz -6 -p2 | sha256sum` measured in the same run; then the no-change
// rebuild and the build's peak RSS. Medians of --repeat runs.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "flavourgraph/fs_util.h"
#include "bench_util.h"
#include "gen_tree.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using fgbench::Measured;
using fgbench::measure;
using fgbench::median;

namespace {

std::string self_dir() { return fs::canonical("/proc/self/exe").parent_path().string(); }

/// The app layer's blob size (largest layer in the metadata of a cold build) and pigz -6's
/// output size for the same tree.
bool blob_sizes(const fs::path& dir, const std::string& build, const std::string& clean, uint64_t* app_blob,
                uint64_t* pigz_size) {
  measure(clean);
  if (measure(build).status != 0) return false;
  auto meta = nlohmann::json::parse(flavourgraph::read_file(dir / "meta.json"));
  for (const auto& t : meta["tasks"])
    if (t["kind"] == "layer") *app_blob = std::max<uint64_t>(*app_blob, t["bytes_out"].get<uint64_t>());
  std::string size_file = (dir / "pigz-size").string();
  measure(fmt::format("tar -cf - -C {} tree | pigz -6 -p2 | wc -c > {}", dir.string(), size_file));
  *pigz_size = std::stoull(flavourgraph::read_file(size_file));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Layer building against the pigz pipeline"};
  std::string work = (fs::temp_directory_path() / "fg-bench-layer").string();
  std::string binary = self_dir() + "/../flavourgraph";
  std::string source = FG_SOURCE_DIR;
  unsigned files = 60000, repeat = 3;
  double megabytes = 640;
  std::string compression = "gzip-5";
  app.add_option("--dir", work, "work directory (the tree is kept there and reused)");
  app.add_option("--files", files, "files in the tree");
  app.add_option("--mb", megabytes, "approximate size of the tree in MB");
  app.add_option("--repeat", repeat, "runs of each measurement (medians are printed)");
  app.add_option("--flavourgraph", binary, "the flavourgraph binary");
  app.add_option("--compression", compression, "the layers' compression: gzip-N or zstd-N");
  CLI11_PARSE(app, argc, argv);

  fs::path dir(work), tree = dir / "tree";
  auto t0 = Clock::now();
  auto stats = fgbench::generate_tree(tree, files, static_cast<uint64_t>(megabytes * 1e6));
  fmt::print("tree: {} files, {:.0f} MB in {} ({:.1f}s to generate or check)\n", stats.files, stats.bytes / 1e6,
             tree.string(), std::chrono::duration<double>(Clock::now() - t0).count());
  auto example = fgbench::prepare_example(dir, tree, compression, binary, source);
  const std::string build = example.build + " --timestamp 2024-10-29-190315";
  const std::string& clean = example.clean;
  std::string pigz = fmt::format("tar -cf - -C {} tree | pigz -6 -p2 | sha256sum >/dev/null", work);

  std::vector<double> cold, warm, pipe;
  long rss = 0;
  for (unsigned r = 0; r < repeat; ++r) {
    if (measure(clean).status != 0) return 1;
    Measured c = measure(build);
    if (c.status != 0) {
      fmt::print(stderr, "the cold build failed ({})\n", c.status);
      return 1;
    }
    Measured w = measure(build);
    if (w.status != 0) return 1;
    Measured p = measure(pigz);
    if (p.status != 0) {
      fmt::print(stderr, "the pigz pipeline failed (is pigz installed?)\n");
      return 1;
    }
    cold.push_back(c.seconds);
    warm.push_back(w.seconds);
    pipe.push_back(p.seconds);
    rss = std::max(rss, c.max_rss_kb);
    fmt::print("run {}: cold {:.2f}s, no-change {:.3f}s, pigz pipeline {:.2f}s\n", r + 1, c.seconds, w.seconds, p.seconds);
  }
  uint64_t app_blob = 0, pigz_size = 0;
  if (!blob_sizes(dir, build, clean, &app_blob, &pigz_size)) return 1;

  double c = median(cold), w = median(warm), p = median(pipe);
  fmt::print("\nlayer compression: {}; {} on {} cores\n", compression, binary, std::thread::hardware_concurrency());
  fmt::print("cold build of 7 images (one app layer):  {:.2f} s\n", c);
  fmt::print("tar | pigz -6 -p2 | sha256sum:           {:.2f} s\n", p);
  fmt::print("ratio cold / pigz:                       {:.3f}   (target <= 0.5)\n", c / p);
  fmt::print("no-change rebuild:                       {:.3f} s = {:.1f} % of cold   (target <= 2 %)\n", w, 100 * w / c);
  fmt::print("peak RSS of the cold build:              {:.0f} MB   (target <= 256 MB)\n", rss / 1024.0);
  fmt::print("app layer blob: {:.1f} MB; pigz -6: {:.1f} MB ({:+.1f} %)\n", app_blob / 1e6, pigz_size / 1e6,
             100.0 * (static_cast<double>(app_blob) - static_cast<double>(pigz_size)) / static_cast<double>(pigz_size));
  return 0;
}
