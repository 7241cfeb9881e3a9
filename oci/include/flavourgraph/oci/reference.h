#pragma once
/// Image references: `oci:DIR:TAG`, `oci:DIR@sha256:...` (an image layout on disk) and registry
/// references `host[:port]/repo[:tag][@digest]`.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "flavourgraph/error.h"
#include "flavourgraph/oci/digest.h"

namespace flavourgraph::oci {

struct Reference {
  enum class Kind { layout, registry } kind = Kind::registry;
  // layout
  std::filesystem::path dir;  ///< resolved against the base directory given to parse()
  // registry
  std::string host;           ///< host[:port]; docker.io for names without a host
  std::string repository;
  // both
  std::string tag;            ///< layout: the ref name in index.json
  std::optional<Digest> digest;

  /// Parses `text`; relative layout paths resolve against `base_dir`.
  static Expected<Reference> parse(std::string_view text, const std::filesystem::path& base_dir);
  [[nodiscard]] std::string str() const;
};

/// A push target: an image layout directory, or a registry host with an optional path prefix.
struct Target {
  enum class Kind { layout, registry } kind = Kind::registry;
  std::filesystem::path dir;  ///< layout
  std::string host;           ///< registry host[:port]
  std::string prefix;         ///< registry path prefix ("" = none)
  std::string text;           ///< as written

  static Expected<Target> parse(std::string_view text, const std::filesystem::path& base_dir);
};

}  // namespace flavourgraph::oci
