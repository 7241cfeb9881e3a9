// Builds pushed to a real registry (Debian's docker-registry on 127.0.0.1), checked with
// skopeo: digests, a second push that uploads nothing, basic auth from the Docker config,
// credentials kept out of every output, and the registry killed in the middle of a push.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/registry.h"
#include "registry_build.h"
#include "registry_server.h"
#include "example.h"
#include "test_util.h"

using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using fgtest::RegistryBuild;
using fgtest::pushed;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("push to a registry: skopeo reads every image, copies it back with the same digest") {
  fgtest::RegistryServer reg;
  RegistryBuild b(reg.address());
  auto r = b.build(b.meta("m1.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto images = pushed(b.metadata("m1.json"), reg.address());
  CHECK(images.size() == 7);
  for (const auto& [ref, digest] : images) {
    auto s = run("skopeo inspect --tls-verify=false " + quote("docker://" + reg.address() + "/" + ref));
    REQUIRE_MESSAGE(s.status == 0, s.err);
    CHECK(json::parse(s.out)["Digest"] == digest);
    // And it is the image of the local store.
    auto local = run("skopeo inspect " + quote("oci:" + (b.tmp / "store").string() + ":" + ref));
    CHECK(json::parse(local.out)["Digest"] == digest);
  }
  auto back = b.tmp / "back";
  std::string ref = "restricted/mediawiki-multiversion-debug:2024-10-29-190315-publish-81";
  auto c = run("skopeo copy --src-tls-verify=false " + quote("docker://" + reg.address() + "/" + ref) + " " +
               quote("oci:" + back.string() + ":copy"));
  REQUIRE_MESSAGE(c.status == 0, c.err);
  auto index = json::parse(fgtest::read_file(back / "index.json"));
  CHECK(index["manifests"][0]["digest"] == images[ref]);
  auto latest = run("skopeo inspect --tls-verify=false " +
                    quote("docker://" + reg.address() + "/restricted/mediawiki-multiversion:latest"));
  CHECK(json::parse(latest.out)["Digest"] == images["restricted/mediawiki-multiversion:2024-10-29-190315-publish-81"]);

  // A second push uploads no blob: bytes_out 0, and the registry saw nothing but reads.
  size_t log_before = reg.log().size();
  auto again = b.build(b.meta("m2.json"));
  REQUIRE(again.status == 0);
  json second = b.metadata("m2.json");  // (not a range-for over a temporary's member: it would dangle)
  for (const auto& t : second["tasks"])
    if (t["kind"] == "push") {
      CHECK(t["bytes_out"] == 0);
      CHECK(t["state"] == "cached");
    }
  std::string log = reg.log().substr(log_before);
  CHECK(count(log, "http.request.method=HEAD") > 0);
  CHECK(count(log, "http.request.method=PUT") == 0);
  CHECK(count(log, "http.request.method=POST") == 0);
  CHECK(count(log, "http.request.method=PATCH") == 0);
}

TEST_CASE("bases on the push target's registry: layers are mounted, never downloaded") {
  fgtest::RegistryServer reg;
  RegistryBuild b(reg.address());
  for (const char* base : {"php7.4-fpm-multiversion-base", "php8.1-fpm-multiversion-base", "php7.4-cli", "php8.1-cli", "httpd"}) {
    auto c = run("skopeo copy --all --dest-tls-verify=false " +
                 quote("oci:" + fgtest::source_dir() + "/configs/example/bases:" + base) + " " +
                 quote("docker://" + reg.address() + "/bases/" + base + ":1"));
    REQUIRE_MESSAGE(c.status == 0, c.err);
  }
  std::string images = fgtest::read_file(b.cfg / "images.yaml");
  for (size_t p; (p = images.find("\"oci:bases:")) != std::string::npos;) {
    size_t end = images.find('"', p + 1);
    images.replace(p, end - p + 1, "\"" + reg.address() + "/bases/" + images.substr(p + 11, end - p - 11) + ":1\"");
  }
  fgtest::write_file(b.cfg / "images.yaml", images);
  auto r = b.build(b.meta("m.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  json meta = b.metadata("m.json");
  for (const auto& t : meta["tasks"]) {
    if (t["kind"] != "base-pull") continue;
    CHECK(t["bytes_in"].get<uint64_t>() < 2048);  // the config only
    CHECK(t["output"].get<std::string>().find("@sha256:") != std::string::npos);  // pinned
  }
  auto report = json::parse(fgtest::read_file(b.tmp / "state/report.json"));
  std::string base = report["webserver"]["flavours"]["webserver"]["kinds"]["image"]["base"];
  CHECK(base.rfind(reg.address() + "/bases/httpd:1@sha256:", 0) == 0);
  auto s = run("skopeo inspect --tls-verify=false " +
               quote("docker://" + reg.address() + "/restricted/mediawiki-webserver:latest"));
  REQUIRE(s.status == 0);
  CHECK(json::parse(s.out)["Layers"].size() == 3);
}

TEST_CASE("a registry with basic auth: credentials from DOCKER_CONFIG, never in any output") {
  fgtest::RegistryOptions opts;
  opts.htpasswd = true;
  opts.password = "pw-9f3b2c-never-printed";
  fgtest::RegistryServer reg(opts);
  RegistryBuild b(reg.address());
  fs::create_directories(b.tmp / "no-creds");
  auto denied = b.build("", "DOCKER_CONFIG=" + quote((b.tmp / "no-creds").string()));
  CHECK(denied.status == 1);
  CHECK(denied.err.find("registry " + reg.address()) != std::string::npos);
  CHECK(denied.err.find("needs credentials") != std::string::npos);

  reg.write_docker_config((b.tmp / "docker").string());
  std::string env = "DOCKER_CONFIG=" + quote((b.tmp / "docker").string());
  auto ok = run(env + " " + b.command("--progress json" + b.meta("m.json") + " --trace " + quote((b.tmp / "trace.json").string())));
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  auto s = run("skopeo inspect --tls-verify=false --creds " + quote(opts.user + ":" + opts.password) + " " +
               quote("docker://" + reg.address() + "/restricted/mediawiki-webserver:latest"));
  CHECK(s.status == 0);
  for (const std::string& text : {ok.out, ok.err, fgtest::read_file(b.tmp / "m.json"), fgtest::read_file(b.tmp / "trace.json"),
                                  fgtest::read_file(b.tmp / "state/report.json")}) {
    CHECK(text.find(opts.password) == std::string::npos);
    CHECK(text.find("cHctOWYz") == std::string::npos);  // nor its base64
  }
}

TEST_CASE("credential helpers (credHelpers, credsStore): the secret reaches the registry, never any output") {
  fgtest::RegistryOptions opts;
  opts.htpasswd = true;
  opts.password = "helper-secret-5d81e7";
  fgtest::RegistryServer reg(opts);
  RegistryBuild b(reg.address());
  // A helper as docker runs it: `docker-credential-NAME get`, the host on stdin, JSON out. It
  // logs the host it was asked for, so that the test sees it was the one asked.
  fs::path bin = b.tmp / "bin";
  fgtest::write_file(bin / "docker-credential-fgtest",
                     std::string(R"(#!/bin/sh
[ "$1" = get ] || exit 2
read host
echo "$host" >> )") + quote((b.tmp / "asked").string()) + R"(
printf '{"ServerURL":"%s","Username":")" + opts.user + R"(","Secret":")" + opts.password +
                         R"("}\n' "$host"
)");
  fs::permissions(bin / "docker-credential-fgtest", fs::perms::owner_all);
  std::string path = "PATH=" + quote(bin.string()) + ":\"$PATH\" ";
  for (const std::string& config : {"{\"credHelpers\": {\"" + reg.address() + "\": \"fgtest\"}}",
                                    std::string("{\"credsStore\": \"fgtest\", \"auths\": {}}")}) {
    fs::remove_all(b.tmp / "state");
    fs::remove_all(b.tmp / "store");
    fs::remove(b.tmp / "asked");
    fgtest::write_file(b.tmp / "docker/config.json", config);
    std::string env = path + "DOCKER_CONFIG=" + quote((b.tmp / "docker").string());
    auto ok = run(env + " " + b.command("--progress json" + b.meta("m.json") + " --trace " + quote((b.tmp / "trace.json").string())));
    INFO(config, ok.err);
    REQUIRE(ok.status == 0);
    CHECK(fgtest::read_file(b.tmp / "asked").find(reg.address()) != std::string::npos);
    for (const std::string& text : {ok.out, ok.err, fgtest::read_file(b.tmp / "m.json"), fgtest::read_file(b.tmp / "trace.json"),
                                    fgtest::read_file(b.tmp / "state/report.json")})
      CHECK(text.find(opts.password) == std::string::npos);
  }
  auto s = run("skopeo inspect --tls-verify=false --creds " + quote(opts.user + ":" + opts.password) + " " +
               quote("docker://" + reg.address() + "/restricted/mediawiki-webserver:latest"));
  CHECK(s.status == 0);
  // A helper that is not installed is an error that names it.
  fgtest::write_file(b.tmp / "docker/config.json", "{\"credsStore\": \"nosuchhelper\"}");
  auto missing = b.build("", "DOCKER_CONFIG=" + quote((b.tmp / "docker").string()));
  CHECK(missing.status == 1);
  CHECK(missing.err.find("docker-credential-nosuchhelper is not installed") != std::string::npos);
}

TEST_CASE("the registry killed in the middle of a push: bounded retries, a clear failure, no tag on an "
          "incomplete image; after a restart a rerun completes") {
  fgtest::RegistryServer reg;
  RegistryBuild b(reg.address());
  // 24 MiB of incompressible data makes the app layer's upload take a while.
  {
    std::mt19937_64 rng(7);
    std::string big(24u << 20, '\0');
    for (size_t i = 0; i + 8 <= big.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(big.data() + i, &v, 8);
    }
    fgtest::write_file(b.cfg / "app/blob.bin", big);
  }
  bool killed = false;
  auto r = fgtest::run_watching(b.command("--progress json --retries 3" + b.meta("m.json")), [&](const std::string& line, int) {
    if (!killed && fgtest::starts_kind(line, "push")) {
      reg.kill_now();
      killed = true;
    }
  });
  REQUIRE(killed);
  CHECK(r.status == 1);
  const std::string& output = r.out;
  CHECK(output.find("gave up after 3 attempt(s)") != std::string::npos);
  CHECK(output.find("failed: push:") != std::string::npos);  // the summary names the image's task
  auto meta = b.metadata("m.json");
  size_t failed_pushes = 0;
  for (const auto& t : meta["tasks"])
    if (t["kind"] == "push" && t["state"] == "failed") {
      ++failed_pushes;
      CHECK(t["error"].get<std::string>().find("registry " + reg.address()) != std::string::npos);
    }
  CHECK(failed_pushes >= 1);

  // Restarted on the same storage: every tag there names a complete image.
  reg.restart();
  for (const char* repo : {"restricted/mediawiki-multiversion", "restricted/mediawiki-multiversion-cli",
                           "restricted/mediawiki-multiversion-debug", "restricted/mediawiki-webserver"}) {
    auto tags = run("curl -sf http://" + reg.address() + "/v2/" + repo + "/tags/list");
    if (tags.status != 0) continue;  // the repository was never created
    auto list = json::parse(tags.out)["tags"];
    if (!list.is_array()) continue;
    for (const auto& tag : list) {
      auto inspect = run("skopeo inspect --tls-verify=false " + quote("docker://" + reg.address() + "/" + repo + ":" +
                                                                      tag.get<std::string>()));
      REQUIRE(inspect.status == 0);
      json manifest = json::parse(inspect.out);
      for (const auto& layer : manifest["Layers"]) {
        auto head = run("curl -sfI http://" + reg.address() + "/v2/" + repo + "/blobs/" + layer.get<std::string>());
        CHECK_MESSAGE(head.status == 0, (std::string(repo) + ":" + tag.get<std::string>() + " names a missing blob"));
      }
    }
  }
  auto rerun = b.build(b.meta("m2.json"));
  INFO(rerun.err);
  CHECK(rerun.status == 0);
  auto images = pushed(b.metadata("m2.json"), reg.address());
  CHECK(images.size() == 7);
  for (const auto& [ref, digest] : images) {
    auto s = run("skopeo inspect --tls-verify=false " + quote("docker://" + reg.address() + "/" + ref));
    CHECK(s.status == 0);
  }
}

namespace {

/// tests/support/token_server.py, started for one test and stopped by pid.
class TokenServer {
 public:
  TokenServer(const std::string& work, const std::string& user, const std::string& password) {
    std::string cmd = "sh -c " + quote("echo $$; exec python3 " + quote(fgtest::source_dir() + "/tests/support/token_server.py") +
                                       " " + quote(work) + " " + quote(user) + " " + quote(password));
    pipe_ = popen(cmd.c_str(), "r");
    if (!pipe_) throw std::runtime_error("cannot start the token server");
    char buf[512];
    if (!fgets(buf, sizeof buf, pipe_)) throw std::runtime_error("the token server did not start");
    pid_ = std::stoi(buf);
    if (!fgets(buf, sizeof buf, pipe_)) throw std::runtime_error("the token server did not listen");
    std::string line(buf);
    auto at = line.find("http://");
    if (at == std::string::npos) throw std::runtime_error("unexpected token server output: " + line);
    realm_ = line.substr(at);
    while (!realm_.empty() && (realm_.back() == '\n' || realm_.back() == '\r')) realm_.pop_back();
  }
  ~TokenServer() {
    if (pid_ > 0) kill(pid_, SIGTERM);
    if (pipe_) pclose(pipe_);
  }
  [[nodiscard]] const std::string& realm() const { return realm_; }

 private:
  FILE* pipe_ = nullptr;
  pid_t pid_ = -1;
  std::string realm_;
};

}  // namespace

TEST_CASE("a registry with bearer-token auth: the client follows the challenge to the token service") {
  REQUIRE(fgtest::have_tool("openssl"));
  fgtest::TempDir work;
  TokenServer tokens(work.str(), "tester", "tok-pass-7e1");
  fgtest::RegistryOptions opts;
  opts.token_realm = tokens.realm();
  opts.token_cert = (work / "cert.pem").string();
  opts.user = "tester";
  opts.password = "tok-pass-7e1";
  fgtest::RegistryServer reg(opts);
  auto challenge = run("curl -sI http://" + reg.address() + "/v2/");
  CHECK(challenge.out.find("Bearer realm=\"" + tokens.realm() + "\"") != std::string::npos);

  RegistryBuild b(reg.address());
  reg.write_docker_config((b.tmp / "docker").string());
  std::string token_host = tokens.realm().substr(7, tokens.realm().find('/', 7) - 7);
  // The token service speaks plain HTTP: it must be listed as insecure, or no credential goes.
  auto refused = run("DOCKER_CONFIG=" + quote((b.tmp / "docker").string()) + " " + b.command("--progress quiet"));
  CHECK(refused.status != 0);
  CHECK(refused.err.find("refusing plain HTTP to " + token_host) != std::string::npos);
  auto r = run("DOCKER_CONFIG=" + quote((b.tmp / "docker").string()) + " " +
               b.command("--progress plain --insecure-registry " + token_host + b.meta("m.json")));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto images = pushed(b.metadata("m.json"), reg.address());
  CHECK(images.size() == 7);
  auto s = run("skopeo inspect --tls-verify=false --creds tester:tok-pass-7e1 " +
               quote("docker://" + reg.address() + "/restricted/mediawiki-multiversion-cli:latest"));
  REQUIRE_MESSAGE(s.status == 0, s.err);
  CHECK(json::parse(s.out)["Digest"] == images["restricted/mediawiki-multiversion-cli:2024-10-29-190315-publish-81"]);

  // Without credentials the token service refuses, and the message says where to look.
  fs::create_directories(b.tmp / "none");
  auto denied = run("DOCKER_CONFIG=" + quote((b.tmp / "none").string()) + " " +
                    b.command("--progress quiet --insecure-registry " + token_host));
  CHECK(denied.status != 0);
  CHECK(denied.err.find("no credentials for this registry in the Docker config") != std::string::npos);
}

TEST_CASE("the client's chunked upload, download and mount against a real registry") {
  fgtest::RegistryServer reg;
  fgtest::TempDir tmp;
  flavourgraph::CancelSource cancel;
  flavourgraph::oci::RegistryOptions o;
  o.host = reg.address();
  o.plain_http = true;
  o.chunk_size = 1u << 20;  // a 3.5 MiB blob goes in four PATCHes
  flavourgraph::oci::RegistryClient client(o, cancel);
  auto store = flavourgraph::oci::Layout::open(tmp / "store", true);
  std::string data;
  std::mt19937_64 rng(3);
  while (data.size() < (7u << 19)) data += std::to_string(rng());
  auto d = store->put_blob(data, "application/octet-stream");
  client.upload_blob("chunks/a", d, store->blob_path(d.digest));
  CHECK(client.blob_size("chunks/a", d.digest) == static_cast<int64_t>(data.size()));
  std::string log = reg.log();
  CHECK(count(log, "http.request.method=PATCH") == 4);
  // Mounted into another repository, no bytes sent; a mount from nowhere is declined.
  uint64_t sent = client.bytes_sent();
  CHECK(client.mount_blob("chunks/b", d.digest, "chunks/a"));
  CHECK(client.bytes_sent() == sent);
  CHECK_FALSE(client.mount_blob("chunks/c", d.digest, "chunks/nowhere"));
  // Downloaded into another store, verified.
  auto other = flavourgraph::oci::Layout::open(tmp / "other", true);
  CHECK(client.fetch_blob("chunks/b", d, *other) == data.size());
  CHECK(other->read_blob(d.digest, 16u << 20) == data);
  CHECK_FALSE(client.blob_size("chunks/c", d.digest));
}
