#pragma once
/// The build state: what a run remembers for the next (design.md §11). For every (image,
/// flavour, kind), the last good build: the image as published (name, manifest, layers), the
/// base it was built on, and for an image built from an incremental layer, that layer's tree
/// index. A record changes only when a run built and published that image; a failed,
/// cancelled or empty run never removes or replaces one. Records are files under
/// `<state-dir>/builds/`, each replaced atomically.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "flavourgraph/diagnostics.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph {

struct BuildRecord {
  std::string image, flavour, kind;
  std::string name;                      ///< registry/repository:tag, as published
  oci::Descriptor manifest;              ///< the image's manifest
  oci::Descriptor config;
  std::vector<oci::Descriptor> layers;   ///< the manifest's layers, bottom first
  std::string base_digest;               ///< the base's manifest digest (a `from` kind: its parent's)
  std::string base_name;                 ///< the base as pinned (for messages)
  std::string settings;                  ///< digest of the kind's settings it was built with
  /// For an image whose last layer came from an incremental layer.
  struct Incremental {
    std::string spec;           ///< the layer's fingerprint: dest, owner, filters, compression
    oci::Descriptor index;      ///< the tree index of the source tree the image holds
  };
  std::optional<Incremental> incremental;
};

using BuildKeyNames = std::tuple<std::string, std::string, std::string>;  ///< image, flavour, kind

class BuildState {
 public:
  /// Reads every record under `state_dir`/builds. A record that does not read is reported in
  /// `diags` as a warning, and left out (its image is built as if new).
  static BuildState load(const std::filesystem::path& state_dir, Diagnostics& diags);

  [[nodiscard]] const BuildRecord* find(const std::string& image, const std::string& flavour,
                                        const std::string& kind) const;
  [[nodiscard]] const std::map<BuildKeyNames, BuildRecord>& records() const { return records_; }
  void add(BuildRecord record);

  /// Writes one record (a temp file, then a rename).
  static void write(const std::filesystem::path& state_dir, const BuildRecord& record);
  static std::filesystem::path path_of(const std::filesystem::path& state_dir, const std::string& image,
                                       const std::string& flavour, const std::string& kind);

 private:
  std::map<BuildKeyNames, BuildRecord> records_;
};

std::string record_json(const BuildRecord& r);
Expected<BuildRecord> parse_record(std::string_view text);

}  // namespace flavourgraph
