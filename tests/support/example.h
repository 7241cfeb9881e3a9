#pragma once
// A copy of the bundled example in a temp directory, and `build` through the real binary.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

namespace fgtest {

/// Replaces `from` (which must be there) by `to` in `cfg_dir`'s images.yaml.
inline void edit_config(const std::filesystem::path& cfg_dir, const std::string& from, const std::string& to) {
  std::string text = read_file(cfg_dir / "images.yaml");
  size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("images.yaml has no '" + from + "'");
  text.replace(at, from.size(), to);
  write_file(cfg_dir / "images.yaml", text);
}

/// The example in `cfg_dir` without its RUN-built PHP bases: the mediawiki kinds on the
/// prebuilt bases of configs/example/bases.
inline void use_prebuilt_bases(const std::filesystem::path& cfg_dir) {
  edit_config(cfg_dir,
              "image:\n        repository: restricted/mediawiki-multiversion\n        # The php-base image of this PHP "
              "version, built in the same run (build:IMAGE/FLAVOUR/KIND).\n        base: \"build:php-base/php{PHP_VERSION}/image\"",
              "image:\n        repository: restricted/mediawiki-multiversion\n        base: \"oci:bases:php{PHP_VERSION}-fpm-multiversion-base\"");
  edit_config(cfg_dir, "base: \"build:php-base/php{PHP_VERSION}/image\"", "base: \"oci:bases:php{PHP_VERSION}-cli\"");
  std::string text = read_file(cfg_dir / "images.yaml");
  size_t a = text.find("  # The multiversion PHP bases."), b = text.find("  webserver:\n");
  if (a == std::string::npos || b == std::string::npos || b < a) throw std::runtime_error("images.yaml: no php-base image");
  write_file(cfg_dir / "images.yaml", text.erase(a, b - a));
}

/// Whether the example keeps its RUN-built PHP bases. Without them (most tests: a RUN build
/// takes a build engine and seconds), the mediawiki kinds are on the prebuilt PHP bases of
/// configs/example/bases, as the example was before it had RUN steps.
enum class RunBases { keep, prebuilt };

/// A copy of the example with its own app tree, so that tests may change files.
struct Example {
  TempDir tmp;
  std::filesystem::path cfg_dir, store, registry, values, state;
  std::string timestamp = "2024-10-29-190315";  ///< --timestamp of build()

  explicit Example(RunBases bases = RunBases::prebuilt) {
    cfg_dir = tmp / "cfg";
    namespace fs = std::filesystem;
    fs::copy(source_dir() + "/configs/example", cfg_dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    store = tmp / "store";
    registry = tmp / "registry";
    values = tmp / "values";
    state = tmp / "state";
    if (bases == RunBases::prebuilt) use_prebuilt_bases(cfg_dir);
  }

  void edit_config(const std::string& from, const std::string& to) const { fgtest::edit_config(cfg_dir, from, to); }

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

/// A metadata file's tasks by id.
inline std::map<std::string, nlohmann::json> tasks_by_id(const nlohmann::json& meta) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& t : meta["tasks"]) out[t["id"]] = t;
  return out;
}

/// A metadata file's tasks of one kind, in its order.
inline std::vector<nlohmann::json> tasks_of_kind(const nlohmann::json& meta, const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& t : meta["tasks"])
    if (t["kind"] == kind) out.push_back(t);
  return out;
}

}  // namespace fgtest
