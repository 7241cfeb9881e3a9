// Release values: which images a release runs, its values file, its commit (design.md §5).
#include "flavourgraph/release_values.h"

#include <fmt/format.h>

#include <algorithm>

#include "flavourgraph/config.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/pyyaml.h"

namespace flavourgraph {

ReleaseImageKeys release_image_keys(const ReleaseSpec& r) {
  return {{kAppImage, r.mw_flavour, r.mw_kind, r.mw_flavour_at, r.mw_kind_at, r.mw_flavour_field, r.mw_kind_field},
          {kWebImage, r.web_flavour, std::string(kDefaultKind), r.web_flavour_at, r.web_flavour_at, r.web_flavour_field,
           r.web_flavour_field}};
}

ReleaseImages release_images(const Plan& plan, const PlanRelease& release) {
  const PlanBuild& mw = plan.builds[static_cast<size_t>(release.mw_build)];
  const PlanBuild& web = plan.builds[static_cast<size_t>(release.web_build)];
  ReleaseImages out{mw.image_ref(plan.registry), web.image_ref(plan.registry), std::nullopt};
  for (const auto& [k, v] : mw.metadata)
    if (k == "php_version") out.php_version = MetaValue{v, false};
  return out;
}

ReportImages release_images(const BuiltImages& report, const ReleaseSpec& release) {
  ReleaseImageKeys keys = release_image_keys(release);
  ReleaseImages images;
  ReportImages out;
  for (auto [key, image] : {std::pair{&keys.mw, &images.mw_image}, std::pair{&keys.web, &images.web_image}}) {
    std::string problem;
    if (auto found = report.find(std::string(key->image), key->flavour, key->kind, &problem))
      *image = *found;
    else
      out.problems.emplace_back(*key, problem);
  }
  if (out.problems.empty()) {
    images.php_version = report.metadata(std::string(kAppImage), release.mw_flavour, "php_version");
    out.images = std::move(images);
  }
  return out;
}

std::string strip_registry(const std::string& registry, const std::string& fqin) {
  std::string prefix = registry + "/";
  if (fqin.rfind(prefix, 0) == 0) return fqin.substr(prefix.size());
  return fqin;
}

std::string values_content(const std::string& registry, const std::string& mw_image, const std::string& web_image,
                           const std::optional<MetaValue>& php_version) {
  pyyaml::Tree t;
  t.child("docker").set("registry", registry);
  t.child("main_app").set("image", strip_registry(registry, mw_image));
  t.child("mw").child("httpd").set("image_tag", strip_registry(registry, web_image));
  if (php_version) {
    auto plain = php_version->json_literal ? pyyaml::plain_of_json(php_version->text) : std::nullopt;
    if (plain)
      t.child("php").set("version", *plain);
    else
      t.child("php").set("version", php_version->text);
  }
  return pyyaml::dump(t);
}

std::string values_commit_message(const std::string& fq_release_name, const std::string& mw_image_stripped,
                                  const std::string& web_image_stripped) {
  return fmt::format("Updating release '{}'\n\nMediaWiki image is: '{}'\nWebserver image is: '{}'", fq_release_name,
                     mw_image_stripped, web_image_stripped);
}

RenderedValues render_values(const ReleaseTarget& target, const std::string& registry, const ReleaseImages& images) {
  return {&target, target.values_file(), values_content(registry, images.mw_image, images.web_image, images.php_version),
          values_commit_message(target.fq_name(), strip_registry(registry, images.mw_image),
                                strip_registry(registry, images.web_image))};
}

size_t commit_values(const ValuesDir& dir, std::vector<RenderedValues> releases) {
  if (!dir.is_git()) return 0;
  std::stable_sort(releases.begin(), releases.end(), [](const RenderedValues& a, const RenderedValues& b) {
    return static_cast<int>(a.target->release->stage) < static_cast<int>(b.target->release->stage);
  });
  size_t commits = 0;
  for (const auto& r : releases)
    commits += dir.commit(r.file, r.commit_message);
  return commits;
}

std::vector<std::string> stale_values(const ValuesDir& dir, const std::set<std::string>& configured, bool prune,
                                      Diagnostics& diags) {
  std::vector<std::string> stale;
  for (const auto& f : dir.yaml_files())
    if (!configured.count(f)) stale.push_back(f);
  for (const auto& f : stale) {
    if (prune) {
      dir.remove(f);
      diags.warning({(dir.dir() / f).string(), 0, 0}, "", "removed: no configured release writes this file (--prune)");
    } else {
      diags.warning({(dir.dir() / f).string(), 0, 0}, "",
                    "no configured release writes this file; it was left in place (--prune removes it)");
    }
  }
  return stale;
}

}  // namespace flavourgraph
