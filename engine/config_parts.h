#pragma once
// images.yaml: the parts of its parser in their own files (engine-internal).

#include <cstdint>
#include <optional>
#include <string_view>

#include "flavourgraph/config.h"
#include "yaml_reader.h"

namespace flavourgraph::config_parts {

/// A whole unsigned number, or nullopt.
std::optional<uint32_t> parse_id(std::string_view s);
/// A fraction written as 0.25 or 25%; nullopt unless it is from 0 to 1.
std::optional<double> parse_fraction(std::string_view s);

/// The top-level settings: push target, tags, clusters.
void parse_settings(const yamlr::Ctx& ctx, const yamlr::MapReader& top, ImagesConfig& cfg);
/// compression: {format, level}
CompressionSpec parse_compression(const yamlr::Ctx& ctx, const YAML::Node& node);
/// incremental: {max_layers, max_delta, labels}
IncrementalSettings parse_incremental(const yamlr::Ctx& ctx, const YAML::Node& node);

}  // namespace flavourgraph::config_parts
