// bench/incremental: the example's images over a generated tree of ~60,000 files (~640 MB):
// the cold full build, then 0.1 % of the files changed (edited, added, deleted) and the
// incremental build, side by side in one run: its time against the cold build's, and the new
// bytes it made against the compressed size of the changed files. Then successive incremental
// builds until the layer limit forces a full build.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench_util.h"
#include "flavourgraph/fs_util.h"
#include "gen_tree.h"

namespace fs = std::filesystem;
using fgbench::measure;
using fgbench::Measured;

namespace {

struct Build {
  double seconds = 0;
  uint64_t layer_bytes = 0;  ///< blobs the layer tasks wrote (the full layer, or the delta)
  uint64_t push_bytes = 0;   ///< bytes the pushes copied to the target
  std::string reason;        ///< the app image's build reason
  size_t layers = 0;         ///< layers of the app image
};

Build run_build(const std::string& cmd, const fs::path& work) {
  Measured m = measure(cmd);
  if (m.status != 0) throw std::runtime_error("the build failed: " + cmd);
  Build b;
  b.seconds = m.seconds;
  auto meta = nlohmann::json::parse(flavourgraph::read_file(work / "meta.json"));
  for (const auto& t : meta["tasks"]) {
    if (t["kind"] == "layer") b.layer_bytes += t["bytes_out"].get<uint64_t>();
    if (t["kind"] == "push") b.push_bytes += t["bytes_out"].get<uint64_t>();
    if (t["id"] == "build:mediawiki:publish:image") b.reason = t.value("reason", "");
  }
  auto rec = nlohmann::json::parse(flavourgraph::read_file(work / "state/builds/mediawiki/publish/image.json"));
  b.layers = rec["layers"].size();
  return b;
}

/// Writes through a temp file and a rename: the tree is a hard-linked copy of the generated
/// one, which must stay as it was.
void rewrite(const fs::path& p, const std::string& content) { flavourgraph::write_file_atomic(p, content); }

/// Changes `count` files of `tree` (a third edited, a third added, a third deleted), spread
/// over the tree; returns the changed and added files' paths.
std::vector<fs::path> change_files(const fs::path& tree, size_t count, uint64_t seed) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(tree))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  fgbench::Rng rng(seed);
  std::vector<fs::path> written;
  for (size_t i = 0; i < count; ++i) {
    const fs::path& f = files[rng.below(files.size())];
    if (!fs::exists(f)) continue;
    std::string text;
    switch (i % 3) {
      case 0:
        text = flavourgraph::read_file(f);
        text += fmt::format("\n// edited {} {}\n", seed, i);
        rewrite(f, text);
        written.push_back(f);
        break;
      case 1: {
        fgbench::php_text(rng, 6000, text);
        fs::path added = f.parent_path() / fmt::format("Added{}x{}.php", seed, i);
        rewrite(added, text);
        written.push_back(added);
        break;
      }
      default: fs::remove(f); break;
    }
  }
  return written;
}

uint64_t compressed_size(const std::vector<fs::path>& files, const fs::path& work) {
  std::string list = (work / "changed.txt").string(), out = (work / "changed.size").string();
  std::string lines;
  for (const auto& f : files) lines += f.string() + "\n";
  flavourgraph::write_file_atomic(list, lines);
  measure(fmt::format("xargs cat < {} | gzip -6 | wc -c > {}", list, out));
  return std::stoull(flavourgraph::read_file(out));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Incremental builds against the cold full build"};
  std::string work = (fs::temp_directory_path() / "fg-bench-incremental").string();
  std::string binary = fs::canonical("/proc/self/exe").parent_path().string() + "/../flavourgraph";
  unsigned files = 60000, successive = 125;
  double megabytes = 640, fraction = 0.001;
  app.add_option("--dir", work, "work directory (the generated tree is kept there and reused)");
  app.add_option("--files", files, "files in the tree");
  app.add_option("--mb", megabytes, "approximate size of the tree in MB");
  app.add_option("--change", fraction, "fraction of the files changed (edited, added, deleted)");
  app.add_option("--successive", successive, "incremental builds after the first, one small change each");
  app.add_option("--flavourgraph", binary, "the flavourgraph binary");
  CLI11_PARSE(app, argc, argv);

  fs::path dir(work), generated = dir / "tree", tree = dir / "app";
  auto stats = fgbench::generate_tree(generated, files, static_cast<uint64_t>(megabytes * 1e6));
  measure(fmt::format("rm -rf {0} && cp -al {1} {0}", tree.string(), generated.string()));
  auto example = fgbench::prepare_example(dir, tree, "gzip-5", binary, FG_SOURCE_DIR);
  measure(example.clean + " " + (dir / "state").string());
  int stamp = 0;
  auto build = [&] { return run_build(example.build + fmt::format(" --timestamp {}", 1730000000 + 3600 * stamp++), dir); };

  // The cold full build, three times from nothing (the last one's state stays): its median.
  std::vector<double> colds;
  Build cold;
  for (int i = 0; i < 3; ++i) {
    measure(example.clean + " " + (dir / "state").string());
    cold = build();
    colds.push_back(cold.seconds);
  }
  cold.seconds = fgbench::median(colds);
  size_t changed = std::max<size_t>(3, static_cast<size_t>(stats.files * fraction));
  auto written = change_files(tree, changed, 1);
  uint64_t compressed = compressed_size(written, dir);
  Build inc = build();
  fmt::print("tree: {} files, {:.0f} MB; {} on {} cores; gzip-5\n\n", stats.files, stats.bytes / 1e6, binary,
             std::thread::hardware_concurrency());
  fmt::print("cold full build of 7 images:        {:7.2f} s (median of 3), app layer {:.1f} MB\n", cold.seconds,
             cold.layer_bytes / 1e6);
  fmt::print("{} files changed ({:.1f} %; edited, added, deleted); their content gzip -6: {} bytes\n", changed,
             100.0 * static_cast<double>(changed) / static_cast<double>(stats.files), compressed);
  fmt::print("incremental build:                  {:7.2f} s = {:.1f} % of cold   (target <= 5 %)\n", inc.seconds,
             100 * inc.seconds / cold.seconds);
  fmt::print("new bytes (the delta layer):        {} = {:.2f} x the changed files compressed   (target <= 2 x)\n",
             inc.layer_bytes, static_cast<double>(inc.layer_bytes) / static_cast<double>(std::max<uint64_t>(1, compressed)));
  fmt::print("bytes the pushes copied:            {}\n", inc.push_bytes);
  fmt::print("the app image: {} layers; {}\n\n", inc.layers, inc.reason.substr(0, 160));

  std::vector<double> times;
  for (unsigned i = 0; i < successive; ++i) {
    change_files(tree, 3, 100 + i);
    Build b = build();
    bool full = b.reason.rfind("full layer", 0) == 0;
    if (full || (i + 1) % 25 == 0)
      fmt::print("build {:3}: {:6.2f} s, {:3} layers, {}\n", i + 1, b.seconds, b.layers, b.reason.substr(0, 120));
    if (!full) times.push_back(b.seconds);
  }
  fmt::print("\nincremental builds: median {:.2f} s ({:.1f} % of cold)\n", fgbench::median(times),
             100 * fgbench::median(times) / cold.seconds);
  return 0;
}
