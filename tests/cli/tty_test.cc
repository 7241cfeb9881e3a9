// Progress as people see it: the real binary on a pseudo-terminal, its screen replayed through
// the emulator; and the names beside the ids in the plain and JSON streams.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "example.h"
#include "pty_run.h"
#include "screen.h"

using fgtest::quote;

namespace {

std::string example_args() {
  std::string dir = fgtest::source_dir() + "/configs/example/";
  return " -c " + quote(dir + "images.yaml") + " -d " + quote(dir + "deployments.yaml");
}

const char* kModel = " --simulate base-pull=1ms,layer=2ms,build=1ms,tag=0,push=1ms,render-values=0,run=1ms";

bool starts(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

}  // namespace

TEST_CASE("progress streams: json events and plain lines name the tasks beside their ids") {
  auto json = fgtest::run(quote(fgtest::binary()) + " build" + example_args() + kModel + " --progress json");
  REQUIRE(json.status == 0);
  std::map<std::string, std::string> name_of;
  std::istringstream lines(json.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] != "start" && j["event"] != "finish") continue;
    REQUIRE(j.contains("name"));
    name_of[j["id"]] = j["name"];
  }
  CHECK(name_of["build:mediawiki:publish:image"] == "build mediawiki:publish:image");
  std::string app_id;
  for (const auto& [id, name] : name_of)
    if (name == "layer app") app_id = id;
  REQUIRE(starts(app_id, "layer:"));

  auto plain = fgtest::run(quote(fgtest::binary()) + " build" + example_args() + kModel + " --progress plain");
  REQUIRE(plain.status == 0);
  CHECK(plain.err.find("start     " + app_id + " (layer app)\n") != std::string::npos);
  CHECK(plain.err.find("start     build:mediawiki:publish:image\n") != std::string::npos);  // its id says it all
}

TEST_CASE("progress on a terminal: history lines with names, the [N/N] status, nothing left behind") {
  fgtest::Example ex;
  fgtest::TempDir tmp;
  std::vector<std::string> argv = {fgtest::binary(),
                                   "build",
                                   "-c",
                                   (ex.cfg_dir / "images.yaml").string(),
                                   "-d",
                                   (ex.cfg_dir / "deployments.yaml").string(),
                                   "--store",
                                   ex.store.string(),
                                   "--state-dir",
                                   ex.state.string(),
                                   "--values-dir",
                                   ex.values.string(),
                                   "--registry",
                                   "oci:" + ex.registry.string(),
                                   "--timestamp",
                                   ex.timestamp,
                                   "--metadata-file",
                                   (tmp / "meta.json").string()};
  // No --progress: a terminal gets the TTY display by itself.
  constexpr unsigned short kCols = 100, kRows = 30;
  auto r = fgtest::run_on_pty(argv, kCols, kRows);
  REQUIRE_FALSE(r.timed_out);
  fgtest::Screen screen(kCols, kRows);
  screen.feed(r.output);
  REQUIRE_MESSAGE(r.status == 0, screen.dump());
  CHECK(screen.wraps() == 0);
  CHECK(screen.clamped_ups() == 0);
  CHECK(screen.col() == 0);  // the cursor on a fresh line

  auto meta = nlohmann::json::parse(fgtest::read_file(tmp / "meta.json"));
  size_t n = meta["tasks"].size();
  std::vector<std::string> text = screen.transcript();
  // Exactly one status line, the final one, and no live line anywhere, scrolled away or not.
  size_t statuses = 0, status_at = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    CHECK_MESSAGE(!starts(text[i], "=>"), text[i]);
    CHECK_MESSAGE(text[i].size() < kCols, text[i]);
    if (starts(text[i], "[")) {
      ++statuses;
      status_at = i;
      // `[N/N] 0 running, 1.2s` and nothing more (std::regex trips GCC's warnings under ASan).
      std::string head = fmt::format("[{}/{}] 0 running, ", n, n);
      CHECK_MESSAGE(text[i].rfind(head, 0) == 0, text[i]);
      std::string_view secs = std::string_view(text[i]).substr(std::min(head.size(), text[i].size()));
      CHECK_MESSAGE((secs.size() >= 2 && secs.back() == 's' &&
                     secs.substr(0, secs.size() - 1).find_first_not_of("0123456789.") == std::string_view::npos),
                    text[i]);
    }
  }
  CHECK_MESSAGE(statuses == 1, screen.dump());
  // A history line for every task, by its name, before the status line; the summary after it.
  std::set<std::string> history;
  for (size_t i = 0; i < status_at; ++i)
    if (starts(text[i], "DONE ") || starts(text[i], "CACHED ")) history.insert(text[i]);
  CHECK(history.size() == n);
  std::string all;
  for (const auto& l : history) all += l + "\n";
  CHECK_MESSAGE(all.find(" layer app") != std::string::npos, all);
  CHECK_MESSAGE(all.find(" layer webserver") != std::string::npos, all);
  CHECK_MESSAGE(all.find(" build mediawiki:publish-81:image") != std::string::npos, all);
  CHECK_MESSAGE(all.find(" push webserver:webserver:image") != std::string::npos, all);
  CHECK(all.find("layer:") == std::string::npos);  // names, not ids
  bool summary = false;
  for (size_t i = status_at + 1; i < text.size(); ++i) summary |= starts(text[i], fmt::format("flavourgraph: {} tasks in", n));
  CHECK_MESSAGE(summary, screen.dump());
}
