// The registry test harness itself (registry_server.h): a real docker-registry on 127.0.0.1,
// checked with curl and skopeo: anonymous and htpasswd access, images kept across a kill and a
// restart on the same port, caller-owned storage kept, start-up failures reported with the log,
// and the child started with an empty signal mask and default dispositions.
#include "registry_server.h"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "test_util.h"

using fgtest::quote;
using fgtest::run;
namespace fs = std::filesystem;

namespace {

const std::string kSourceImage = "configs/example/bases:php7.4-cli";

std::string oci_source() {
  return "oci:" + fgtest::source_dir() + "/" + kSourceImage;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// HTTP status of GET http://ADDR/v2/ (curl's "000" when nothing answers).
std::string v2_status(const fgtest::RegistryServer& reg, const std::string& curl_args = "") {
  return run("curl -s -o /dev/null -w '%{http_code}' --max-time 10 " + curl_args + " " +
             quote("http://" + reg.address() + "/v2/"))
      .out;
}

/// The manifest digest skopeo reports for an image reference ("" on failure).
fgtest::CommandResult inspect_digest(const std::string& ref, const std::string& args = "") {
  auto r = run("skopeo inspect --format '{{.Digest}}' " + args + " " + quote(ref));
  r.out = trim(r.out);
  return r;
}

fgtest::CommandResult push(const fgtest::RegistryServer& reg, const std::string& repo_tag,
                           const std::string& args = "") {
  return run("skopeo copy --quiet --dest-tls-verify=false " + args + " " + quote(oci_source()) +
             " " + quote("docker://" + reg.address() + "/" + repo_tag));
}

/// One "Name:\tvalue" line of /proc/PID/status.
std::string proc_status_field(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  for (int i = 0; i < 1000 && std::getline(in, line); ++i) {
    if (line.rfind(name + ":", 0) != 0) continue;
    std::string value = trim(line.substr(name.size() + 1));
    return value.substr(std::min(value.size(), value.find_first_not_of(" \t")));
  }
  return "";
}

/// Points the harness at another registry binary (FG_DOCKER_REGISTRY) for one scope.
struct RegistryBinary {
  explicit RegistryBinary(const std::string& path) {
    ::setenv("FG_DOCKER_REGISTRY", path.c_str(), 1);
  }
  ~RegistryBinary() { ::unsetenv("FG_DOCKER_REGISTRY"); }
  RegistryBinary(const RegistryBinary&) = delete;
  RegistryBinary& operator=(const RegistryBinary&) = delete;
};

/// A shell script standing in for docker-registry, for the failure paths.
struct FakeRegistry {
  fgtest::TempDir tmp;
  std::optional<RegistryBinary> binary;
  explicit FakeRegistry(const std::string& script) {
    fs::path p = tmp / "fake-registry";
    fgtest::write_file(p, "#!/bin/sh\n" + script + "\n");
    fs::permissions(p, fs::perms::owner_all);
    binary.emplace(p.string());
  }
};

}  // namespace

TEST_CASE("registry harness: anonymous; an image survives kill_now and restart on the same port") {
  REQUIRE(fgtest::have_tool("curl"));
  REQUIRE(fgtest::have_tool("skopeo"));

  fgtest::RegistryServer reg;
  INFO("registry log:\n" << reg.log());
  CHECK(reg.pid() > 0);
  CHECK(reg.address() == "127.0.0.1:" + std::to_string(reg.port()));
  CHECK(reg.log().find("listening on " + reg.address()) != std::string::npos);
  CHECK(fs::is_directory(reg.storage()));

  auto v2 = run("curl -s --max-time 10 " + quote("http://" + reg.address() + "/v2/"));
  CHECK(v2.status == 0);
  CHECK(v2.out == "{}");

  auto pushed = push(reg, "test/php:1");
  INFO("skopeo copy: " << pushed.err);
  REQUIRE(pushed.status == 0);

  auto source = inspect_digest(oci_source());
  REQUIRE(source.status == 0);
  auto remote = inspect_digest("docker://" + reg.address() + "/test/php:1", "--tls-verify=false");
  INFO("skopeo inspect: " << remote.err);
  REQUIRE(remote.status == 0);
  CHECK(remote.out.rfind("sha256:", 0) == 0);
  CHECK(remote.out == source.out);  // copied as is: the same manifest

  const int port = reg.port();
  reg.kill_now();
  CHECK(reg.pid() == -1);
  CHECK_FALSE(fgtest::port_accepts(port));
  CHECK(v2_status(reg) == "000");

  reg.restart();
  CHECK(reg.port() == port);
  CHECK(reg.pid() > 0);
  CHECK(v2_status(reg) == "200");
  auto again = inspect_digest("docker://" + reg.address() + "/test/php:1", "--tls-verify=false");
  INFO("skopeo inspect after restart: " << again.err << "\nlog:\n" << reg.log());
  CHECK(again.status == 0);
  CHECK(again.out == remote.out);
}

TEST_CASE("registry harness: htpasswd; curl and skopeo with --creds and with a docker config") {
  REQUIRE(fgtest::have_tool("curl"));
  REQUIRE(fgtest::have_tool("skopeo"));
  REQUIRE(fgtest::have_tool("htpasswd"));

  fgtest::RegistryOptions opts;
  opts.htpasswd = true;
  fgtest::RegistryServer reg(opts);
  const std::string creds = opts.user + ":" + opts.password;
  INFO("registry log:\n" << reg.log());

  CHECK(v2_status(reg) == "401");
  CHECK(v2_status(reg, "-u " + quote(creds)) == "200");
  CHECK(v2_status(reg, "-u " + quote(opts.user + ":wrong")) == "401");
  auto challenge =
      run("curl -s -D - -o /dev/null --max-time 10 " + quote("http://" + reg.address() + "/v2/"));
  CHECK(challenge.out.find("Basic realm=\"test-realm\"") != std::string::npos);

  const std::string ref = "docker://" + reg.address() + "/test/php:1";
  CHECK(push(reg, "test/php:1", "--dest-no-creds").status != 0);
  auto pushed = push(reg, "test/php:1", "--dest-creds " + quote(creds));
  INFO("skopeo copy: " << pushed.err);
  REQUIRE(pushed.status == 0);

  auto with_creds = inspect_digest(ref, "--tls-verify=false --creds " + quote(creds));
  INFO("skopeo inspect --creds: " << with_creds.err);
  CHECK(with_creds.status == 0);
  CHECK(with_creds.out.rfind("sha256:", 0) == 0);
  CHECK(inspect_digest(ref, "--tls-verify=false --no-creds").status != 0);

  fgtest::TempDir docker_config;
  reg.write_docker_config(docker_config.str());
  const std::string config_json = fgtest::read_file(docker_config / "config.json");
  CHECK(config_json.find("\"" + reg.address() + "\"") != std::string::npos);
  CHECK(config_json.find("\"dGVzdGVyOnMzY3JldC1wYXNz\"") !=
        std::string::npos);  // base64("tester:s3cret-pass")
  auto with_file = inspect_digest(
      ref, "--tls-verify=false --authfile " + quote((docker_config / "config.json").string()));
  INFO("skopeo inspect --authfile: " << with_file.err);
  CHECK(with_file.status == 0);
  CHECK(with_file.out == with_creds.out);
}

TEST_CASE("registry harness: a storage directory given by the caller is kept and reused") {
  REQUIRE(fgtest::have_tool("skopeo"));
  fgtest::TempDir storage;
  std::string digest;
  {
    fgtest::RegistryServer reg({}, storage.str());
    CHECK(reg.storage() == storage.str());
    auto pushed = push(reg, "keep/php:1");
    INFO("skopeo copy: " << pushed.err << "\nlog:\n" << reg.log());
    REQUIRE(pushed.status == 0);
    digest = inspect_digest("docker://" + reg.address() + "/keep/php:1", "--tls-verify=false").out;
  }
  REQUIRE(fs::is_directory(storage.path() / "docker" / "registry" / "v2" / "repositories" / "keep" /
                           "php"));
  fgtest::RegistryServer reg({}, storage.str());
  auto again = inspect_digest("docker://" + reg.address() + "/keep/php:1", "--tls-verify=false");
  INFO("skopeo inspect: " << again.err << "\nlog:\n" << reg.log());
  CHECK(again.status == 0);
  CHECK(again.out == digest);
}

TEST_CASE("registry harness: the child starts with an empty signal mask and default dispositions") {
  // Block SIGTERM and ignore SIGINT here, as a test process might; the registry must inherit
  // neither. (The Go runtime unblocks the signals it handles by itself, so the mask check is a
  // safeguard; an ignored SIGINT, though, is kept by Go programs, and is what this catches when
  // posix_spawnattr_setsigdefault is missing.)
  sigset_t term;
  sigset_t old_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &term, &old_mask) == 0);
  struct sigaction ignore {};
  struct sigaction old_int {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  REQUIRE(sigaction(SIGINT, &ignore, &old_int) == 0);

  std::string blocked;
  std::string ignored;
  double stop_seconds = 0;
  try {
    auto reg = std::make_unique<fgtest::RegistryServer>();
    blocked = proc_status_field(reg->pid(), "SigBlk");
    ignored = proc_status_field(reg->pid(), "SigIgn");
    auto t0 = std::chrono::steady_clock::now();
    reg.reset();  // SIGTERM, bounded wait, SIGKILL only if needed
    stop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } catch (...) {
    sigaction(SIGINT, &old_int, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    throw;
  }
  sigaction(SIGINT, &old_int, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  INFO("SigBlk " << blocked << ", SigIgn " << ignored);
  REQUIRE(blocked.size() == 16);
  REQUIRE(ignored.size() == 16);
  const unsigned long long blk = std::stoull(blocked, nullptr, 16);
  const unsigned long long ign = std::stoull(ignored, nullptr, 16);
  CHECK((blk & (1ULL << (SIGTERM - 1))) == 0);
  CHECK((ign & (1ULL << (SIGINT - 1))) == 0);
  CHECK(stop_seconds < 5.0);  // stopped by SIGTERM, not by the SIGKILL fallback
}

TEST_CASE("registry harness: start-up failures throw with the registry's output") {
  SUBCASE("the registry exits before it is ready") {
    FakeRegistry fake("echo 'fake registry: config is bad' >&2; exit 3");
    std::string what;
    try {
      fgtest::RegistryServer reg;
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    CHECK(what.find("exited before it was ready") != std::string::npos);
    CHECK(what.find("exit status 3") != std::string::npos);
    CHECK(what.find("fake registry: config is bad") != std::string::npos);
  }
  SUBCASE("the port is taken every time: five attempts, then an error") {
    FakeRegistry fake(
        "echo 'level=fatal msg=\"listen tcp: bind: address already in use\"' >&2; exit 1");
    std::string what;
    try {
      fgtest::RegistryServer reg;
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    CHECK(what.find("in 5 attempts") != std::string::npos);
    CHECK(what.find("attempt 5:") != std::string::npos);
    CHECK(what.find("attempt 6:") == std::string::npos);
  }
  SUBCASE("the binary is missing") {
    RegistryBinary missing("/nonexistent/docker-registry");
    CHECK_THROWS_WITH_AS(fgtest::RegistryServer(), doctest::Contains("cannot start"),
                         std::runtime_error);
  }
}
