#pragma once
// What the gc tests look at: a layout's names and blobs, read from the files themselves.

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "test_util.h"

namespace fgtest {

/// index.json's names: "repository:tag" → manifest digest.
inline std::map<std::string, std::string> layout_names(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  auto index = nlohmann::json::parse(read_file(dir / "index.json"));
  for (const auto& m : index["manifests"])
    if (m.contains("annotations") && m["annotations"].contains("org.opencontainers.image.ref.name"))
      out[m["annotations"]["org.opencontainers.image.ref.name"]] = m["digest"];
  return out;
}

/// The blob files of a layout: "sha256:<hex>".
inline std::set<std::string> layout_blobs(const std::filesystem::path& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir / "blobs/sha256"))
    out.insert("sha256:" + e.path().filename().string());
  return out;
}

/// Runs `flavourgraph gc ARGS`.
inline CommandResult gc(const std::string& args) { return run(quote(binary()) + " gc " + args); }

}  // namespace fgtest
