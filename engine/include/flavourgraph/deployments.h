#pragma once
/// The deployments file of production: namespaces, their helmfile releases, stages, clusters.
/// design.md §4 has the semantics; both production shapes (a list, or a mapping holding
/// `deployment_targets`) are read.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/diagnostics.h"

namespace flavourgraph {

enum class Stage { testservers = 0, canaries = 1, production = 2 };
inline constexpr std::array<Stage, 3> kStages = {Stage::testservers, Stage::canaries,
                                                 Stage::production};
std::string_view stage_name(Stage s);
std::optional<Stage> parse_stage(std::string_view s);

inline constexpr std::string_view kDefaultScope = "train";

/// A release as written, with namespace defaults applied.
struct ReleaseSpec {
  std::string name;
  std::string mw_flavour;
  std::string web_flavour;
  std::string mw_kind;   ///< effective kind ("image" unless set, "debug-image" in a debug ns)
  Stage stage = Stage::production;
  bool deploy = true;
  Location where;             ///< the release's key
  Location mw_flavour_at;     ///< where the effective value was written
  Location web_flavour_at;
  Location mw_kind_at;
  std::string mw_flavour_field;  ///< field path of the effective value
  std::string web_flavour_field;
  std::string mw_kind_field;
};

struct NamespaceSpec {
  std::string name;
  std::string scope{kDefaultScope};
  std::string dir;                    ///< helmfile directory ("" = default)
  std::vector<std::string> clusters;  ///< empty = the run's default list
  bool debug = false;
  std::vector<ReleaseSpec> releases;  ///< in file order
  Location where;
  Location clusters_at;
};

struct DeploymentsFile {
  std::filesystem::path file;
  std::vector<NamespaceSpec> namespaces;

  /// The release `release` of the first entry of namespace `ns`, or null.
  [[nodiscard]] const ReleaseSpec* find_release(std::string_view ns, std::string_view release) const;
};

/// One values file to render: a release in one cluster (cluster "" when none is configured).
struct ReleaseTarget {
  const NamespaceSpec* ns = nullptr;
  const ReleaseSpec* release = nullptr;
  std::string cluster;

  [[nodiscard]] std::string id() const;            ///< `ns/release[@cluster]`
  [[nodiscard]] std::string fq_name() const;       ///< `ns-release[-cluster]`
  [[nodiscard]] std::string values_file() const;   ///< fq_name + ".yaml"
};

/// Loads a deployments file, reporting every problem with its place.
DeploymentsFile load_deployments(const std::filesystem::path& file, Diagnostics& diags);
DeploymentsFile parse_deployments(std::string_view text, const std::string& display,
                                  Diagnostics& diags);

/// Expands releases per cluster (the namespace's `clusters`, else `default_clusters`, else none)
/// in production's order: namespace, then cluster, then release. Reports a namespace defined
/// twice for one cluster. Releases that production would drop are left out with a warning.
std::vector<ReleaseTarget> expand_targets(const DeploymentsFile& deployments,
                                          const std::vector<std::string>& default_clusters,
                                          Diagnostics& diags);

bool is_dns_label(std::string_view s);
/// Problems of a cluster list (names must be DNS labels, listed once); empty when valid.
std::vector<std::string> check_cluster_list(const std::vector<std::string>& clusters);
bool is_helm_release_name(std::string_view s);

}  // namespace flavourgraph
