// The flavourgraph command as a user runs it: exit statuses, messages, files it writes.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "test_util.h"

using fgtest::quote;
using fgtest::run;

namespace {

std::string example_args() {
  std::string dir = fgtest::source_dir() + "/configs/example/";
  return " -c " + quote(dir + "images.yaml") + " -d " + quote(dir + "deployments.yaml");
}

std::string fg(const std::string& args) { return quote(fgtest::binary()) + " " + args; }

const char* kModel = " --simulate base-pull=1ms,layer=2ms,build=1ms,tag=0,push=1ms,render-values=0";

}  // namespace

TEST_CASE("plan: text, json and dot; usage errors exit 2") {
  auto text = run(fg("plan" + example_args() + " --timestamp 2024-10-29-190315"));
  CHECK(text.status == 0);
  CHECK(text.out.find("plan: 47 tasks") != std::string::npos);
  CHECK(text.out.find("restricted/mediawiki-multiversion:2024-10-29-190315-publish-81") != std::string::npos);
  auto json = run(fg("plan" + example_args() + " --format json"));
  CHECK(json.status == 0);
  CHECK(nlohmann::json::parse(json.out)["tasks"].size() == 47);
  auto dot = run(fg("plan" + example_args() + " --format dot"));
  CHECK(dot.out.rfind("digraph plan {", 0) == 0);

  CHECK(run(fg("plan")).status == 2);
  CHECK(run(fg("frobnicate")).status == 2);
  CHECK(run(fg("plan" + example_args() + " --stage nightly")).status == 2);
  auto help = run(fg("build --help"));
  CHECK(help.status == 0);
  CHECK(help.out.find("--keep-going") != std::string::npos);
}

TEST_CASE("bad configuration: all errors, file:line:col, exit 2") {
  fgtest::TempDir tmp;
  fgtest::write_file(tmp / "d.yaml", "- namespace: mw-web\n  releases:\n    main:\n      mw_flavour: publish-82\n  web_flavour: webserver\n  extra: 1\n");
  std::string dir = fgtest::source_dir() + "/configs/example/";
  auto r = run(fg("plan -c " + quote(dir + "images.yaml") + " -d " + quote((tmp / "d.yaml").string())));
  CHECK(r.status == 2);
  CHECK(r.err.find("d.yaml:6:3: mw-web.extra: unknown key 'extra'") != std::string::npos);
  // Cross-file errors come once the file itself is clean; both files are always read.
  fgtest::write_file(tmp / "e.yaml", "- namespace: mw-web\n  releases:\n    main:\n      mw_flavour: publish-82\n  web_flavour: webserver\n");
  auto e = run(fg("plan -c " + quote(dir + "images.yaml") + " -d " + quote((tmp / "e.yaml").string())));
  CHECK(e.status == 2);
  CHECK(e.err.find("e.yaml:4:7: mw-web.releases.main.mw_flavour: unknown flavour 'publish-82' of image "
                   "'mediawiki' (known: publish, publish-81)") != std::string::npos);
  CHECK(e.out.empty());
}

TEST_CASE("build --simulate: success, files, failure, keep-going") {
  fgtest::TempDir tmp;
  auto meta = (tmp / "meta.json").string();
  auto trace = (tmp / "trace.json").string();
  auto ok = run(fg("build" + example_args() + kModel + " --progress json --metadata-file " + quote(meta) +
                   " --trace " + quote(trace)));
  CHECK(ok.status == 0);
  auto m = nlohmann::json::parse(fgtest::read_file(meta));
  CHECK(m["tasks"].size() == 47);
  for (const auto& t : m["tasks"]) CHECK(t["state"] == "done");
  auto tr = nlohmann::json::parse(fgtest::read_file(trace));
  CHECK(tr["traceEvents"].size() > 46);
  // --progress json: stdout is one object per line and nothing else, a start and a finish per
  // task that ran, and the summary last; the human summary is on stderr.
  size_t starts = 0, finishes = 0;
  nlohmann::json last;
  std::istringstream lines(ok.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(j.is_object(), line);
    starts += j["event"] == "start";
    finishes += j["event"] == "finish";
    last = j;
  }
  CHECK(starts == 47);
  CHECK(finishes == 47);
  CHECK(last["event"] == "summary");
  CHECK(last["done"] == 47);
  CHECK(last["exit"] == 0);
  CHECK(ok.err.find("flavourgraph: 47 tasks in") != std::string::npos);
  CHECK(ok.err.find("{\"event\"") == std::string::npos);

  // --progress quiet: nothing at all on success; plain: lines whose times never go back.
  auto quiet = run(fg("build" + example_args() + kModel + " --progress quiet"));
  CHECK(quiet.status == 0);
  CHECK(quiet.out.empty());
  CHECK(quiet.err.empty());
  auto plain = run(fg("build" + example_args() + kModel + " --progress plain -j 4 --push-jobs 8"));
  REQUIRE(plain.status == 0);
  double before = 0;
  size_t timed = 0;
  std::istringstream plain_lines(plain.err);
  for (std::string line; std::getline(plain_lines, line);) {
    if (line.rfind("[", 0) != 0) continue;
    double t = std::stod(line.substr(1));
    CHECK_MESSAGE(t >= before, line);
    before = t;
    ++timed;
  }
  CHECK(timed == 2 * 47);

  auto failed = run(fg("build" + example_args() + kModel +
                       " --progress quiet --fail build:mediawiki:publish:image --metadata-file " + quote(meta)));
  CHECK(failed.status == 1);
  CHECK(failed.err.find("failed: build:mediawiki:publish:image: injected failure (--fail)") != std::string::npos);

  auto kept = run(fg("build" + example_args() + kModel +
                     " --progress quiet -k --fail push:webserver:webserver:image --metadata-file " + quote(meta)));
  CHECK(kept.status == 1);
  auto k = nlohmann::json::parse(fgtest::read_file(meta));
  size_t skipped = 0, done = 0;
  for (const auto& t : k["tasks"]) {
    skipped += t["state"] == "skipped";
    done += t["state"] == "done";
  }
  CHECK(skipped == 17);  // every release uses the webserver image
  CHECK(done == 47 - 17 - 1);

  auto unknown = run(fg("build" + example_args() + kModel + " --fail build:nope"));
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("--fail: 'build:nope' is not a task of this plan") != std::string::npos);
}

TEST_CASE("SIGINT cancels the run: exit 130, every task accounted for") {
  fgtest::TempDir tmp;
  auto meta = (tmp / "meta.json").string();
  // The layer waits 60 s unless interrupted; the test interrupts as soon as it has started.
  bool sent = false;
  auto r = fgtest::run_watching(fg("build" + example_args() + " --simulate layer=60s --progress json -j 1 --metadata-file " +
                                   quote(meta)),
                                [&](const std::string& line, int pid) {
                                  if (!sent && fgtest::starts_kind(line, "layer")) sent = kill(pid, SIGINT) == 0;
                                });
  CHECK(sent);
  CHECK(r.status == 130);
  auto m = nlohmann::json::parse(fgtest::read_file(meta));
  CHECK(m["interrupted"] == true);
  size_t cancelled = 0;
  for (const auto& t : m["tasks"]) {
    CHECK(t["state"] != "pending");
    cancelled += t["state"] == "cancelled";
  }
  CHECK(cancelled > 0);
}
