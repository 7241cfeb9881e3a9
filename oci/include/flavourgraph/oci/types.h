#pragma once
/// OCI image-spec types: media types, descriptors, manifests and indexes as JSON documents.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/error.h"
#include "flavourgraph/oci/digest.h"

namespace flavourgraph::oci {

namespace media {
inline constexpr std::string_view kManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}  // namespace media

/// The annotation naming a manifest in an image layout's index.json.
inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

bool is_index_media_type(std::string_view mt);
bool is_manifest_media_type(std::string_view mt);
/// The OCI media type for a layer of a Docker schema2 manifest (same bytes).
std::string oci_layer_media_type(std::string_view mt);

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::vector<std::string> urls;

  [[nodiscard]] nlohmann::json to_json() const;
  /// Parses and validates a descriptor.
  static Expected<Descriptor> from_json(const nlohmann::json& j);
};

/// A manifest as read from a blob: its config and layers, plus the raw document.
struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;

  static Expected<Manifest> parse(std::string_view json);
  [[nodiscard]] std::string serialize() const;  ///< canonical JSON (sorted keys, compact)
};

struct Index {
  std::vector<Descriptor> manifests;
  static Expected<Index> parse(std::string_view json);
  /// The manifest for `os/arch` (variant ignored), or nullopt.
  [[nodiscard]] std::optional<Descriptor> pick(std::string_view os, std::string_view arch) const;
};

/// Canonical JSON bytes: sorted keys, no spaces (deterministic digests).
std::string canonical(const nlohmann::json& j);

}  // namespace flavourgraph::oci
