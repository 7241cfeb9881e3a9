#pragma once
/// Release values: the one place that says which images a release runs and what its helmfile
/// values file holds (design.md §5), for a build (from its plan), for its render-values task
/// and for `flavourgraph render` (from a report alone); then the commits, stage by stage, and
/// the files of releases no longer configured.

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/deployments.h"
#include "flavourgraph/diagnostics.h"
#include "flavourgraph/report.h"
#include "flavourgraph/values.h"

namespace flavourgraph {

struct Plan;
struct PlanRelease;

/// One of the images a release runs: (image, flavour, kind), and where the release says so.
struct ReleaseImageKey {
  std::string_view image;
  std::string flavour;
  std::string kind;
  Location flavour_at, kind_at;
  std::string flavour_field, kind_field;
};

/// The mediawiki image of the release's mw_flavour and mw_kind, and the webserver image of its
/// web_flavour (kind `image`).
struct ReleaseImageKeys {
  ReleaseImageKey mw, web;
};
ReleaseImageKeys release_image_keys(const ReleaseSpec& release);

/// What a values file names: full image names (registry/repository:tag) and the PHP version
/// (the mediawiki flavour's metadata `php_version`, when it has one).
struct ReleaseImages {
  std::string mw_image;
  std::string web_image;
  std::optional<MetaValue> php_version;
};

/// The images of a planned release.
ReleaseImages release_images(const Plan& plan, const PlanRelease& release);
/// The images of a release in a report, or, for each image the report lacks, its key and
/// production's message ("Image flavour '<fl>' not found among built images in [...]").
struct ReportImages {
  std::optional<ReleaseImages> images;
  std::vector<std::pair<ReleaseImageKey, std::string>> problems;
};
ReportImages release_images(const BuiltImages& report, const ReleaseSpec& release);

/// `fqin` without the `<registry>/` prefix (unchanged when it has another prefix).
std::string strip_registry(const std::string& registry, const std::string& fqin);

/// The values file content: PyYAML's yaml.dump of docker.registry, main_app.image,
/// mw.httpd.image_tag and php.version, the images stripped of the registry.
std::string values_content(const std::string& registry, const std::string& mw_image, const std::string& web_image,
                           const std::optional<MetaValue>& php_version);
/// The commit message for one changed file.
std::string values_commit_message(const std::string& fq_release_name, const std::string& mw_image_stripped,
                                  const std::string& web_image_stripped);

/// One release's values file, ready to write and commit.
struct RenderedValues {
  const ReleaseTarget* target = nullptr;
  std::string file;            ///< name in the values directory
  std::string content;
  std::string commit_message;
};
RenderedValues render_values(const ReleaseTarget& target, const std::string& registry, const ReleaseImages& images);

/// In a git work tree, commits each changed file on its own, testservers first, then
/// canaries, then production (file order within a stage). Returns the number of commits.
size_t commit_values(const ValuesDir& dir, std::vector<RenderedValues> releases);

/// Files in the values directory that no configured release writes: a warning each, or
/// removed when `prune`. Returns their names.
std::vector<std::string> stale_values(const ValuesDir& dir, const std::set<std::string>& configured, bool prune,
                                      Diagnostics& diags);

}  // namespace flavourgraph
