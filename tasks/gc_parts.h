#pragma once
// What gc_layout.cc and gc_registry.cc share.

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "flavourgraph/gc.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph::gc_parts {

/// An image's io.flavourgraph labels, from its config into `img`; returns the config's
/// `created` ("" when none).
std::string read_config(const nlohmann::json& config, gc::Image& img);

/// `repository:tag` split at the tag's colon; the tag is "" when there is none.
std::pair<std::string, std::string> split_ref(const std::string& name);

/// The manifest digest of an image's base, from its manifest's annotation ("" when none).
std::string base_digest(const oci::Manifest& m);

}  // namespace flavourgraph::gc_parts
