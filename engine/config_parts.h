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

/// A kind's containerfile/context/target (nullopt when it has no containerfile).
std::optional<RunSpec> parse_run(const yamlr::Ctx& ctx, const yamlr::MapReader& kind, const std::filesystem::path& dir);
/// What is wrong with a `build:IMAGE/FLAVOUR/KIND` base ("" when it names a kind of `cfg`).
std::string build_ref_problem(const ImagesConfig& cfg, std::string_view ref);
/// variables: {NAME: string or list of strings}
std::vector<Variable> parse_variables(const yamlr::Ctx& ctx, const YAML::Node& node);
/// --set NAME=VALUE (NAME=[a, b] for a list), each replacing a variable's value.
void apply_sets(const yamlr::Ctx& ctx, std::vector<Variable>& vars, const std::vector<std::string>& sets);
/// Puts the variables into every layer's source, include and exclude patterns (a list
/// variable gives one pattern per item).
void expand_layers(const yamlr::Ctx& ctx, ImagesConfig& cfg);
/// engines: {NAME: URL or {url, width}}
std::vector<EngineSpec> parse_engines(const yamlr::Ctx& ctx, const YAML::Node& node);

}  // namespace flavourgraph::config_parts
