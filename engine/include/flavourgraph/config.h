#pragma once
/// The build configuration (images.yaml) as plain data. docs/configuration.md has the schema.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flavourgraph/diagnostics.h"
#include "flavourgraph/oci/compress.h"

namespace flavourgraph {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

using oci::Compression;
using oci::CompressionSpec;

/// One layer: a source tree copied to `dest` in the image.
struct LayerSpec {
  std::string name;                  ///< top-level name, or "" for an inline layer
  std::string source;                ///< as written (relative to the images.yaml directory)
  std::filesystem::path source_path; ///< resolved
  std::string dest;                  ///< absolute, normalised path inside the image
  std::vector<std::string> include;  ///< rsync-style patterns; first match of include/exclude wins
  std::vector<std::string> exclude;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool incremental = false;          ///< built as a delta on each image's last good build
  Location where;
};

/// When an incremental layer is built as a delta, and how such images are labelled.
struct IncrementalSettings {
  int max_layers = 125;        ///< a last image with this many layers gets a full build
  double max_delta = 0.25;     ///< a delta larger than this fraction of the tree: a full build
  std::string build_type_label = "io.flavourgraph.build-type";     ///< "incremental" or "full"
  std::string parent_image_label = "io.flavourgraph.parent-image";  ///< the image a delta is on
};

/// Image config set by a kind (applied over the base image's config).
struct ImageSettings {
  std::optional<std::string> user;
  std::optional<std::string> workdir;
  StringPairs env;     ///< values may use {ARG} templates
  StringPairs labels;  ///< values may use {ARG} templates
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
};

/// A kind built from a Containerfile by a build engine (the command backend): the path for
/// RUN steps. The kind's base replaces the Containerfile's first FROM.
struct RunSpec {
  std::string containerfile;                 ///< as written
  std::filesystem::path containerfile_path;  ///< resolved
  std::string context;                       ///< as written ("" = the Containerfile's directory)
  std::filesystem::path context_path;        ///< resolved
  std::optional<std::string> target;         ///< the stage to build
  Location where;
};

/// Kinds of build engine a RUN build can go to.
enum class EngineType : uint8_t { buildah, podman, buildkit };

/// A build engine: `buildah` on this machine, or a remote podman API service or BuildKit daemon.
struct EngineSpec {
  std::string name;
  std::string url;       ///< as written: buildah[:STORAGE_DIR], podman+tcp://HOST:PORT, buildkit+tcp://...
  EngineType type = EngineType::buildah;
  std::string address;   ///< what the engine's client is given (--url, --addr, or buildah's storage root)
  unsigned width = 1;    ///< RUN builds it runs at once
  Location where;
};

/// Parses `NAME=URL[?width=N]` (the command line) or, with `name` given, a URL alone. Returns
/// the problem ("" when none) and fills `out`.
std::string parse_engine(std::string_view text, EngineSpec& out, std::string_view name = {});

/// A base naming another image's kind built in the same run: `build:IMAGE/FLAVOUR/KIND`.
struct BuildRef {
  std::string image, flavour, kind;
};
inline constexpr std::string_view kBuildRefPrefix = "build:";
/// Parses a `build:` base; nullopt (with `problem` set when it has the prefix) otherwise.
std::optional<BuildRef> parse_build_ref(std::string_view ref, std::string* problem = nullptr);

struct KindSpec {
  std::string name;
  std::string repository;            ///< may use {ARG} templates
  std::optional<std::string> from;   ///< another kind of the same image
  std::optional<std::string> base;   ///< base ref template; overrides the flavour's
  std::optional<RunSpec> run;       ///< built from a Containerfile first (its layers go on top)
  std::vector<LayerSpec> layers;
  ImageSettings config;
  Location where;
  Location repository_at;
  Location base_at;
};

struct FlavourSpec {
  std::string name;
  std::optional<std::string> base;   ///< base ref template for kinds that set none
  StringPairs args;                  ///< build args: template variables and image labels
  StringPairs metadata;              ///< copied to report.json (php_version → values files)
  Location where;
  Location base_at;
};

struct ImageSpec {
  std::string name;
  std::vector<FlavourSpec> flavours;
  std::vector<KindSpec> kinds;
  Location where;

  [[nodiscard]] const FlavourSpec* flavour(std::string_view n) const;
  [[nodiscard]] const KindSpec* kind(std::string_view n) const;
  [[nodiscard]] int kind_index(std::string_view n) const;
  [[nodiscard]] std::vector<std::string> flavour_names() const;
  [[nodiscard]] std::vector<std::string> kind_names() const;
};

/// A run variable: images.yaml's `variables` (its default), perhaps replaced by `--set`. A
/// list is for include and exclude patterns (one pattern per item); a string can be used in
/// any template.
struct Variable {
  std::string name;
  std::vector<std::string> values;  ///< one value for a string
  bool list = false;
  bool set = false;  ///< given by --set
  Location where;    ///< in images.yaml
  [[nodiscard]] std::string str() const;  ///< `v` or `[a, b]`
};

struct ImagesConfig {
  std::filesystem::path file;  ///< as given
  std::filesystem::path dir;   ///< directory relative paths are resolved against
  std::string registry;        ///< push target: host[:port][/prefix] or oci:DIR ("" = none set)
  std::vector<std::string> insecure_registries;
  std::string tag_template = "{timestamp}-{flavour}";
  Location tag_where;
  std::string latest_tag;      ///< extra tag ("" = none)
  Location latest_tag_where;
  std::vector<std::string> clusters;  ///< default cluster list for values files
  CompressionSpec compression;
  IncrementalSettings incremental;
  std::vector<EngineSpec> engines;  ///< build engines for RUN builds ("" = buildah here)
  std::vector<ImageSpec> images;
  std::vector<Variable> variables;

  [[nodiscard]] const ImageSpec* image(std::string_view n) const;
  [[nodiscard]] const Variable* variable(std::string_view n) const;
  [[nodiscard]] int image_index(std::string_view n) const;
};

/// Problems of a push target (HOST[:PORT][/PREFIX] or oci:DIR); empty when valid.
std::string check_push_target(std::string_view target);
/// A push target without trailing slashes.
std::string normalise_push_target(std::string_view target);

/// True for a valid OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
bool valid_tag(std::string_view tag);

/// The image names releases refer to (`mw_*` keys and `web_*` keys of the deployments file).
inline constexpr std::string_view kAppImage = "mediawiki";
inline constexpr std::string_view kWebImage = "webserver";
/// The kind a release runs when it names none.
inline constexpr std::string_view kDefaultKind = "image";

/// Loads and validates images.yaml. Errors go to `diags`; the result is only meaningful when
/// `diags` has no errors.
/// `sets`: --set NAME=VALUE (NAME=[a, b] for a list), each replacing a variable's default.
ImagesConfig load_images_config(const std::filesystem::path& file, Diagnostics& diags,
                                const std::vector<std::string>& sets = {});

/// The names a template of (image, flavour, kind) may use: the flavour's args (which win over
/// a variable of the same name), image, flavour, kind, and the string variables.
StringPairs template_vars(const ImagesConfig& cfg, const ImageSpec& img, const FlavourSpec& fl, const KindSpec& kind);
/// The same from text (tests); relative paths resolve against `dir`.
ImagesConfig parse_images_config(std::string_view text, const std::string& display,
                                 const std::filesystem::path& dir, Diagnostics& diags);

/// Expands `{NAME}` placeholders from `vars` (`{{` and `}}` are literal braces). Unknown names
/// are reported through `unknown` (an unclosed brace as "{...") and left empty.
std::string expand_template(std::string_view tmpl, const StringPairs& vars,
                            std::vector<std::string>* unknown);

}  // namespace flavourgraph
