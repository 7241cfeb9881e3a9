#pragma once
// The example configuration built against a registry (or any push target), for end-to-end
// tests of pushing and publishing.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "example.h"
#include "test_util.h"

namespace fgtest {

namespace fs = std::filesystem;

/// The example configuration in a temp dir, built against `registry`.
struct RegistryBuild {
  fgtest::TempDir tmp;
  std::string address;
  fs::path cfg;
  std::string timestamp = "2024-10-29-190315";  ///< the run's --timestamp

  explicit RegistryBuild(std::string addr) : address(std::move(addr)) {
    cfg = tmp / "cfg";
    fs::copy(fgtest::source_dir() + "/configs/example", cfg, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    fgtest::use_prebuilt_bases(cfg);
  }

  std::string command(const std::string& extra) const {
    return fgtest::quote(fgtest::binary()) + " build -c " + fgtest::quote((cfg / "images.yaml").string()) + " -d " +
           quote((cfg / "deployments.yaml").string()) + " --store " + fgtest::quote((tmp / "store").string()) +
           " --state-dir " + fgtest::quote((tmp / "state").string()) + " --values-dir " + fgtest::quote((tmp / "values").string()) +
           " --registry " + address + " --insecure-registry " + address + " --timestamp " + timestamp + " " + extra;
  }
  fgtest::CommandResult build(const std::string& extra = "", const std::string& env = "") const {
    return fgtest::run(env + " " + command("--progress plain " + extra));
  }
  nlohmann::json metadata(const std::string& name) const { return nlohmann::json::parse(fgtest::read_file(tmp / name)); }
  std::string meta(const std::string& name) const { return " --metadata-file " + fgtest::quote((tmp / name).string()); }
};

/// Every published image of the metadata's push tasks: "repository:tag" → digest.
inline std::map<std::string, std::string> pushed(const nlohmann::json& meta, const std::string& address) {
  std::map<std::string, std::string> out;
  for (const auto& t : meta["tasks"]) {
    if (t["kind"] != "push" || !t.contains("output")) continue;
    std::string ref = t["output"];  // ADDRESS/repo:tag@sha256:...
    auto at = ref.find('@');
    out[ref.substr(address.size() + 1, at - address.size() - 1)] = ref.substr(at + 1);
  }
  return out;
}

}  // namespace fgtest
