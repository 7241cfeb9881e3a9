// RUN builds end to end: the example's RUN-built PHP bases built by real buildah (daemonless)
// and by two real podman API services on loopback acting as remote machines; the results
// unpacked by umoci; failures, unreachable engines and cancellation.
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "example.h"
#include "podman_service.h"
#include "test_util.h"

namespace fs = std::filesystem;
using fgtest::Example;
using fgtest::quote;
using fgtest::run;
using fgtest::RunBases;
using nlohmann::json;

namespace {

/// The example with its RUN bases, and `buildah` on PATH through a script that logs each call
/// and runs the real one.
struct RunExample : Example {
  fs::path bin, log;
  RunExample() : Example(RunBases::keep) {
    bin = tmp / "bin";
    log = tmp / "buildah.log";
    fgtest::write_file(bin / "buildah", "#!/bin/sh\necho \"$*\" >> " + quote(log.string()) + "\nexec /usr/bin/buildah \"$@\"\n");
    fs::permissions(bin / "buildah", fs::perms::owner_all);
  }
  [[nodiscard]] std::string path_env() const { return "PATH=" + quote(bin.string()) + ":\"$PATH\""; }
  /// How many builds buildah was asked for.
  [[nodiscard]] size_t buds() const {
    std::string text = fgtest::read_file(log);
    size_t n = 0;
    for (size_t p = 0; (p = text.find(" bud ", p)) != std::string::npos; ++p) ++n;
    return n;
  }
  fgtest::CommandResult build_logged(const std::string& extra) const { return build(extra, path_env()); }
};


/// Digest of every name in an OCI layout's index.json.
std::map<std::string, std::string> names(const fs::path& layout) {
  std::map<std::string, std::string> out;
  json index = json::parse(fgtest::read_file(layout / "index.json"));
  for (const auto& m : index["manifests"]) out[m["annotations"]["org.opencontainers.image.ref.name"]] = m["digest"];
  return out;
}

/// Unpacks `ref` of `layout` with umoci; returns the bundle's rootfs.
fs::path unpack(const fs::path& layout, const std::string& ref, const fs::path& bundle) {
  auto u = run("umoci unpack --image " + quote(layout.string() + ":" + ref) + " " + quote(bundle.string()));
  REQUIRE_MESSAGE(u.status == 0, u.err);
  return bundle / "rootfs";
}

/// Gives php8.1 its own base ref (the same image, from a copy of the layout), so that the two
/// RUN builds are on different bases and may go to different engines.
void split_bases(const Example& ex) {
  fs::copy(ex.cfg_dir / "shell", ex.cfg_dir / "shell2", fs::copy_options::recursive);
  ex.edit_config("        base: \"oci:shell:busybox\"\n", "");
  ex.edit_config("      php7.4:\n        args: {PHP_VERSION: \"7.4\"}",
                 "      php7.4:\n        base: \"oci:shell:busybox\"\n        args: {PHP_VERSION: \"7.4\"}");
  ex.edit_config("      php8.1:\n        args: {PHP_VERSION: \"8.1\"}",
                 "      php8.1:\n        base: \"oci:shell2:busybox\"\n        args: {PHP_VERSION: \"8.1\"}");
}

/// Whether a process runs whose command line matches `pattern` (whose first character is put in
/// brackets, so that the shell running pgrep does not match itself).
bool running(const std::string& pattern) {
  std::string re = "[" + pattern.substr(0, 1) + "]" + pattern.substr(1);
  return run("pgrep -f " + quote(re) + " >/dev/null").status == 0;
}

}  // namespace

TEST_CASE("RUN bases: the RUN output is in every image on them, one RUN build per PHP version, none when unchanged") {
  REQUIRE(fgtest::have_tool("buildah"));
  REQUIRE(fgtest::have_tool("umoci"));
  RunExample ex;
  auto a = ex.build_logged(ex.meta_arg("a.json"));
  REQUIRE_MESSAGE(a.status == 0, a.err);
  CHECK(ex.buds() == 2);  // php7.4 and php8.1, for the six mediawiki images on them
  json meta = ex.metadata("a.json");
  auto runs = fgtest::tasks_of_kind(meta, "run");
  REQUIRE(runs.size() == 2);
  for (const auto& t : runs) CHECK(t["state"] == "done");

  for (const auto& [flavour, version] : {std::pair{"publish", "7.4"}, std::pair{"publish-81", "8.1"}}) {
    for (const char* repo : {"mediawiki-multiversion", "mediawiki-multiversion-cli", "mediawiki-multiversion-debug"}) {
      std::string ref = std::string("restricted/") + repo + ":" + ex.timestamp + "-" + flavour;
      fs::path root = unpack(ex.registry, ref, ex.tmp / (std::string(repo) + flavour));
      INFO(ref);
      CHECK(fgtest::read_file(root / "etc/php" / version / "php.ini").find(std::string("; php ") + version + " ") == 0);
      CHECK(fs::is_regular_file(root / "usr/sbin" / (std::string("php-fpm") + version)));
      CHECK(fs::is_regular_file(root / "bin/busybox"));             // the RUN build's base
      CHECK(fs::is_regular_file(root / "srv/mediawiki/w/index.php"));  // the app layer, appended natively
    }
  }

  ex.timestamp = "2024-10-30-080000";
  // --ignore-published: else the images are taken by their build keys and no RUN task looks at its cache.
  auto b = ex.build_logged(ex.meta_arg("b.json") + " --ignore-published");
  REQUIRE_MESSAGE(b.status == 0, b.err);
  CHECK(ex.buds() == 2);  // no engine was asked again
  json again = ex.metadata("b.json");
  for (const auto& t : fgtest::tasks_of_kind(again, "run")) CHECK(t["state"] == "cached");
  std::map<std::string, std::string> before, after;
  for (const auto& t : fgtest::tasks_of_kind(meta, "build")) before[t["id"]] = t["output"];
  for (const auto& t : fgtest::tasks_of_kind(again, "build")) after[t["id"]] = t["output"];
  CHECK(before == after);  // same images, new tags only
}

TEST_CASE("a failed RUN shows the last lines of the engine's output") {
  REQUIRE(fgtest::have_tool("buildah"));
  RunExample ex;
  std::string cf = fgtest::read_file(ex.cfg_dir / "php-base/Containerfile");
  fgtest::write_file(ex.cfg_dir / "php-base/Containerfile",
                     cf + "RUN echo first-marker-line && echo second-marker-line && exit 3\n");
  auto r = ex.build_logged(ex.meta_arg("m.json"));
  CHECK(r.status == 1);
  CHECK(r.err.find("run:php-base:php7.4:image") != std::string::npos);
  CHECK(r.err.find("second-marker-line") != std::string::npos);
  CHECK(r.err.find("engine local") != std::string::npos);
  CHECK(ex.buds() >= 1);
}

TEST_CASE("an engine that is missing or does not answer is reported before anything is built") {
  RunExample ex;
  int port = fgtest::registry_detail::pick_free_port();  // nothing listens there
  auto r = ex.build("--engine far=podman+tcp://127.0.0.1:" + std::to_string(port));
  CHECK(r.status == 1);
  CHECK(r.err.find("engine 'far'") != std::string::npos);
  CHECK(r.err.find("run:php-base:php7.4:image") != std::string::npos);
  CHECK(r.err.find("nothing was built") != std::string::npos);
  CHECK_FALSE(fs::exists(ex.registry));

  auto bad = ex.build("--engine 'far=podman+tcp://nowhere'");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--engine") != std::string::npos);

  auto missing = ex.build("", "PATH=" + quote((ex.tmp / "empty").string()));
  CHECK(missing.status == 1);
  CHECK(missing.err.find("buildah is not installed") != std::string::npos);
  CHECK_FALSE(fs::exists(ex.registry));
}

TEST_CASE("two podman services on loopback act as two build machines; the images are those of a local build") {
  REQUIRE(fgtest::have_tool("podman"));
  RunExample local;
  split_bases(local);
  auto l = local.build_logged("");
  REQUIRE_MESSAGE(l.status == 0, l.err);

  Example remote(RunBases::keep);
  split_bases(remote);
  fgtest::PodmanService m1(remote.tmp / "m1"), m2(remote.tmp / "m2");
  auto r = remote.build("--engine m1=podman+tcp://" + m1.url().substr(6) + " --engine m2=podman+tcp://" +
                        m2.url().substr(6) + remote.meta_arg("m.json"));
  INFO(m1.log_text(), m2.log_text());
  REQUIRE_MESSAGE(r.status == 0, r.err);
  std::set<std::string> engines;
  for (const auto& t : fgtest::tasks_of_kind(remote.metadata("m.json"), "run")) {
    std::string why = t["reason"];
    engines.insert(why.substr(why.find("engine "), 9));
  }
  CHECK(engines == std::set<std::string>{"engine m1", "engine m2"});  // one build on each machine
  CHECK(names(remote.registry) == names(local.registry));           // the same images, byte for byte
}

TEST_CASE("cancelling a build stops the engine's process") {
  REQUIRE(fgtest::have_tool("buildah"));
  RunExample ex;
  std::string marker = "sleep 6" + std::to_string(::getpid() % 1000);
  std::string cf = fgtest::read_file(ex.cfg_dir / "php-base/Containerfile");
  fgtest::write_file(ex.cfg_dir / "php-base/Containerfile", cf + "RUN " + marker + "\n");
  bool signalled = false;
  auto r = fgtest::run_watching(
      quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
          quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) + " --state-dir " +
          quote(ex.state.string()) + " --values-dir " + quote(ex.values.string()) + " --registry oci:" +
          quote(ex.registry.string()) + " --progress plain",
      [&](const std::string& line, int pid) {
        if (signalled || line.find("start     run:") == std::string::npos) return;
        // Wait (bounded) until the engine runs the RUN step, then interrupt the build.
        for (int i = 0; i < 600 && !running(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK(running(marker));
        ::kill(pid, SIGINT);
        signalled = true;
      });
  CHECK(signalled);
  CHECK(r.status == 130);
  bool gone = false;
  for (int i = 0; i < 100 && !(gone = !running(marker)); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(gone);
}
