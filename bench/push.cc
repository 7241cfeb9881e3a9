// bench/push: pushing the example's images to a loopback registry (Debian's docker-registry),
// flavourgraph next to `skopeo copy oci:... docker://...` of the same images, cold (empty
// registry) and warm (everything there), measured in one run. Also counts the requests each
// warm push made, by method, from the registry's log. Then a fresh machine (no store, no state)
// on the unchanged tree, against the registry the cold push filled: its time, requests and
// bytes, with the same tags (nothing to move) and with a new deploy time (every name moves).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "flavourgraph/fs_util.h"
#include "bench_util.h"
#include "registry_server.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using fgbench::median;

namespace {

double timed(const std::string& cmd) {
  auto t0 = Clock::now();
  int rc = std::system(cmd.c_str());
  if (rc != 0) throw std::runtime_error("failed: " + cmd);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}


std::map<std::string, int> methods(const std::string& log) {
  std::map<std::string, int> out;
  const std::string key = "http.request.method=";
  for (size_t p = log.find(key); p != std::string::npos; p = log.find(key, p + 1)) {
    size_t end = log.find(' ', p);
    out[log.substr(p + key.size(), end - p - key.size())]++;
  }
  return out;
}

std::string show(const std::map<std::string, int>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", v, k);
  return s.empty() ? "none" : s;
}

struct Figures {
  std::vector<double> ours_cold, ours_warm, ours_push_cold, sk_cold, sk_warm, skp_cold, skp_warm;
  std::map<std::string, int> ours_warm_requests, sk_warm_requests;
  double scratch = 0;  ///< the first build, from nothing
  std::vector<double> fresh_same, fresh_new;
  std::map<std::string, int> fresh_same_requests, fresh_new_requests;
  std::map<std::string, uint64_t> fresh_same_bytes, fresh_new_bytes;
};

/// bytes_out of a metadata file, by task kind.
std::map<std::string, uint64_t> bytes_by_kind(const fs::path& meta) {
  std::map<std::string, uint64_t> out;
  json m = json::parse(flavourgraph::read_file(meta));  // (a range-for over a temporary's member would dangle)
  for (const auto& t : m["tasks"]) out[t["kind"].get<std::string>()] += t["bytes_out"].get<uint64_t>();
  return out;
}

std::string show_bytes(const std::map<std::string, uint64_t>& m) {
  std::string s;
  uint64_t total = 0;
  for (const auto& [k, v] : m) {
    total += v;
    if (v) s += fmt::format("{}{} {} B", s.empty() ? "" : ", ", k, v);
  }
  return fmt::format("{} B out{}{}", total, s.empty() ? "" : ": ", s);
}

/// flavourgraph's push to a fresh registry (cold), then again (warm).
void push_ours(const std::string& base, const fs::path& work, Figures& fig) {
  fgtest::RegistryServer reg;
  std::string cmd = base + " --registry " + reg.address() + " --insecure-registry " + reg.address() +
                    " --metadata-file " + (work / "push.json").string();
  fig.ours_cold.push_back(timed(cmd));
  auto m = json::parse(flavourgraph::read_file(work / "push.json"));
  double first = 1e9, last = 0;
  for (const auto& t : m["tasks"])
    if (t["kind"] == "push") {
      first = std::min(first, t["start"].get<double>());
      last = std::max(last, t["end"].get<double>());
    }
  fig.ours_push_cold.push_back(last - first);
  size_t before = reg.log().size();
  fig.ours_warm.push_back(timed(cmd));
  fig.ours_warm_requests = methods(reg.log().substr(before));
  // A fresh machine: the same command with an empty store and state, first at the same deploy
  // time, then at a new one.
  std::string fresh = cmd;
  for (const char* dir : {"/store ", "/state "}) fresh.replace(fresh.find(dir), 7, std::string(dir).insert(6, "-fresh"));
  for (bool same : {true, false}) {
    fs::remove_all(work / "store-fresh");
    fs::remove_all(work / "state-fresh");
    std::string c = same ? fresh : fresh + " --timestamp 2024-11-01-000000";
    if (!same) c.erase(c.find("--timestamp 2024-10-29-190315"), 30);
    before = reg.log().size();
    (same ? fig.fresh_same : fig.fresh_new).push_back(timed(c));
    (same ? fig.fresh_same_requests : fig.fresh_new_requests) = methods(reg.log().substr(before));
    (same ? fig.fresh_same_bytes : fig.fresh_new_bytes) = bytes_by_kind(work / "push.json");
  }
}

/// `skopeo copy` of every name from the store to a fresh registry, `parallel` at a time.
void push_skopeo(int parallel, const std::vector<std::string>& all_refs, const fs::path& work, Figures& fig) {
  fgtest::RegistryServer reg;
  std::string list = (work / "refs.txt").string();
  std::string lines;
  for (const auto& ref : all_refs) lines += ref + "\n";
  flavourgraph::write_file_atomic(list, lines);
  std::string cmd =
      fmt::format("xargs -P {} -I REF skopeo copy --quiet --dest-tls-verify=false 'oci:{}/store:REF' 'docker://{}/REF' < {}",
                  parallel, work.string(), reg.address(), list);
  double cold = timed(cmd);
  size_t before = reg.log().size();
  double warm = timed(cmd);
  (parallel == 1 ? fig.sk_cold : fig.skp_cold).push_back(cold);
  (parallel == 1 ? fig.sk_warm : fig.skp_warm).push_back(warm);
  if (parallel == 1) fig.sk_warm_requests = methods(reg.log().substr(before));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Pushing to a registry: flavourgraph against skopeo copy"};
  std::string binary = fs::canonical("/proc/self/exe").parent_path().string() + "/../flavourgraph";
  std::string app_dir;
  unsigned repeat = 3;
  app.add_option("--flavourgraph", binary, "the flavourgraph binary");
  app.add_option("--app", app_dir, "a source tree to use as the app layer instead of the example's");
  app.add_option("--repeat", repeat, "runs (medians are printed)");
  CLI11_PARSE(app, argc, argv);

  fs::path work = fs::temp_directory_path() / ("fg-bench-push-" + std::to_string(getpid()));
  fs::create_directories(work);
  fs::copy(std::string(FG_SOURCE_DIR) + "/configs/example", work / "cfg", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  if (!app_dir.empty()) {
    std::string images = flavourgraph::read_file(work / "cfg/images.yaml");
    auto p = images.find("    source: app\n");
    images.replace(p, 16, "    source: " + fs::absolute(app_dir).string() + "\n");
    flavourgraph::write_file_atomic(work / "cfg/images.yaml", images);
  }
  std::string base = fmt::format("{} build -c {}/cfg/images.yaml -d {}/cfg/deployments.yaml --store {}/store "
                                 "--state-dir {}/state --values-dir {}/values --timestamp 2024-10-29-190315 --progress quiet",
                                 binary, work.string(), work.string(), work.string(), work.string(), work.string());
  // Build once into the store (not timed): the pushes below only push.
  Figures fig;
  fig.scratch = timed(base + " --registry oci:" + (work / "warmup").string());
  json meta = json::parse(flavourgraph::read_file(work / "state/report.json"));
  std::vector<std::string> refs;
  for (const auto& [image, body] : meta.items())
    for (const auto& [fl, f] : body["flavours"].items())
      for (const auto& [kind, k] : f["kinds"].items()) {
        std::string name = k["image_name"];
        refs.push_back(name.substr(name.find('/', name.find("registry") + 1) + 1));
      }
  auto idx = json::parse(flavourgraph::read_file(work / "store/index.json"));
  std::vector<std::string> all_refs;  // primary tags and `latest`
  for (const auto& m : idx["manifests"]) all_refs.push_back(m["annotations"]["org.opencontainers.image.ref.name"]);

  for (unsigned r = 0; r < repeat; ++r) {
    push_ours(base, work, fig);
    for (int parallel : {1, 4}) push_skopeo(parallel, all_refs, work, fig);
  }
  fs::remove_all(work);
  fmt::print("{} image names ({} images); medians of {} runs\n\n", all_refs.size(), refs.size(), repeat);
  fmt::print("{:<42} {:>10} {:>10}\n", "", "cold s", "warm s");
  fmt::print("{:<42} {:>10.3f} {:>10.3f}\n", "flavourgraph build (everything but pushes cached)", median(fig.ours_cold), median(fig.ours_warm));
  fmt::print("{:<42} {:>10.3f}\n", "  of which the pushes (first start..last end)", median(fig.ours_push_cold));
  fmt::print("{:<42} {:>10.3f} {:>10.3f}\n", "skopeo copy, one name after another", median(fig.sk_cold), median(fig.sk_warm));
  fmt::print("{:<42} {:>10.3f} {:>10.3f}\n", "skopeo copy, 4 at a time", median(fig.skp_cold), median(fig.skp_warm));
  fmt::print("\nrequests of a warm push: flavourgraph: {}; skopeo (one at a time): {}\n", show(fig.ours_warm_requests),
             show(fig.sk_warm_requests));
  fmt::print("\nfresh machine (empty store and state), unchanged tree, against the filled registry:\n");
  fmt::print("  (the first build, from nothing, took {:.3f} s)\n", fig.scratch);
  fmt::print("  same deploy time: {:.3f} s ({:.1f} % of the build from nothing); requests: {}; {}\n", median(fig.fresh_same),
             100 * median(fig.fresh_same) / fig.scratch, show(fig.fresh_same_requests), show_bytes(fig.fresh_same_bytes));
  fmt::print("  new deploy time:  {:.3f} s ({:.1f} %); requests: {}; {}\n", median(fig.fresh_new),
             100 * median(fig.fresh_new) / fig.scratch, show(fig.fresh_new_requests), show_bytes(fig.fresh_new_bytes));
  return 0;
}
