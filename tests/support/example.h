#pragma once
// A copy of the bundled example in a temp directory, and `build` through the real binary.

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace fgtest {

/// A copy of the example with its own app tree, so that tests may change files.
struct Example {
  TempDir tmp;
  std::filesystem::path cfg_dir, store, registry, values, state;
  std::string timestamp = "2024-10-29-190315";  ///< --timestamp of build()

  Example() {
    cfg_dir = tmp / "cfg";
    namespace fs = std::filesystem;
    fs::copy(source_dir() + "/configs/example", cfg_dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    store = tmp / "store";
    registry = tmp / "registry";
    values = tmp / "values";
    state = tmp / "state";
  }

  CommandResult build(const std::string& extra = "", const std::string& env = "") const {
    return run(env + " " + quote(binary()) + " build -c " + quote((cfg_dir / "images.yaml").string()) + " -d " +
               quote((cfg_dir / "deployments.yaml").string()) + " --store " + quote(store.string()) + " --state-dir " +
               quote(state.string()) + " --values-dir " + quote(values.string()) + " --registry oci:" +
               quote(registry.string()) + " --timestamp " + timestamp + " --progress plain " + extra);
  }

  [[nodiscard]] nlohmann::json metadata(const std::string& file) const {
    return nlohmann::json::parse(read_file(tmp / file));
  }
  [[nodiscard]] std::string meta_arg(const std::string& file) const { return " --metadata-file " + quote((tmp / file).string()); }
};

}  // namespace fgtest
