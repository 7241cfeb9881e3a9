// Usage errors found before any work: a bad push target, output paths that cannot be written;
// and a TLS failure against a plain-HTTP registry that says what to do.
#include <doctest/doctest.h>

#include "example.h"
#include "registry_server.h"
#include "test_util.h"

namespace fs = std::filesystem;
using fgtest::Example;
using fgtest::quote;

namespace {

/// `build` with `extra` instead of the example's push target.
fgtest::CommandResult build_to(const Example& ex, const std::string& registry, const std::string& extra = "") {
  return fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
                     quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
                     " --state-dir " + quote(ex.state.string()) + " --values-dir " + quote(ex.values.string()) +
                     " --registry " + registry + " --progress plain " + extra);
}

}  // namespace

TEST_CASE("a bad --registry is a usage error, found before anything is written") {
  Example ex;
  for (const auto& [target, says] : std::vector<std::pair<std::string, std::string>>{
           {"oci-layout:x", "oci:DIR"},
           {"host:abc", "port 'abc'"},
           {"''", "is empty"},
           {"localhost:5000/Bad", "lower-case"},
           {"localhost:99999", "1 to 65535"},
           {"bad..example", "not a host name"},
           {"https://registry.example", "without a scheme"}}) {
    auto r = build_to(ex, target);
    INFO(target, " ", r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find("--registry") != std::string::npos);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK_FALSE(fs::exists(ex.store));
    CHECK_FALSE(fs::exists(ex.state));
  }
}

TEST_CASE("output paths that cannot be written are usage errors before any work") {
  Example ex;
  auto trace = ex.build("--trace /nonexistent-dir/t.json");
  CHECK(trace.status == 2);
  CHECK(trace.err.find("--trace: /nonexistent-dir/t.json cannot be made: /nonexistent-dir is not a directory") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(ex.registry));  // nothing was pushed
  CHECK_FALSE(fs::exists(ex.store));

  fs::create_directories(ex.tmp / "a-dir");
  auto meta = ex.build("--metadata-file " + quote((ex.tmp / "a-dir").string()));
  CHECK(meta.status == 2);
  CHECK(meta.err.find("is a directory") != std::string::npos);

  fgtest::write_file(ex.tmp / "a-file", "x");
  auto state = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) +
                           " -d " + quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " +
                           quote(ex.store.string()) + " --state-dir " + quote((ex.tmp / "a-file/state").string()) +
                           " --registry oci:" + quote(ex.registry.string()));
  CHECK(state.status == 2);
  CHECK(state.err.find("--state-dir") != std::string::npos);
  CHECK(state.err.find("is not a directory") != std::string::npos);
  CHECK_FALSE(fs::exists(ex.registry));

  auto ok = ex.build("--trace " + quote((ex.tmp / "t.json").string()));
  CHECK(ok.status == 0);
  CHECK(fs::exists(ex.tmp / "t.json"));
}

TEST_CASE("TLS to a plain-HTTP registry fails with the fix in the message") {
  fgtest::RegistryServer reg;
  Example ex;
  auto r = build_to(ex, reg.address(), "--retries 1");
  CHECK(r.status == 1);
  CHECK(r.err.find("--insecure-registry") != std::string::npos);
  auto ok = build_to(ex, reg.address(), "--insecure-registry " + reg.address());
  CHECK(ok.status == 0);
}
