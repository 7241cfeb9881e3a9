// `flavourgraph render`: the releases' values files from a report.json alone, without building.
#include <fmt/format.h>

#include <set>

#include "common.h"
#include "flavourgraph/config.h"
#include "flavourgraph/fs_util.h"
#include "flavourgraph/release_values.h"
#include "flavourgraph/report.h"
#include "flavourgraph/values.h"
#include "render_args.h"

namespace flavourgraph::cli {

void add_render_options(CLI::App& cmd, RenderArgs& a) {
  cmd.add_option("-d,--deployments", a.deployments, "deployments file: namespaces and their releases")
      ->required()
      ->type_name("DEPLOYMENTS");
  cmd.add_option("--report", a.report, "report.json of a build (v3, or the older v2)")->required()->type_name("FILE");
  cmd.add_option("-c,--images", a.images,
                 "images.yaml: its 'clusters' and 'registry' are the defaults, as in `build`")
      ->type_name("IMAGES");
  cmd.add_option("--registry", a.registry,
                 "the registry the report's image names start with; values name images without it "
                 "(default: images.yaml's, with -c; one of the two is needed)")
      ->type_name("REGISTRY");
  cmd.add_option("--values-dir", a.values_dir, "where the values files are written (committed in a git repository)")
      ->required()
      ->type_name("DIR");
  cmd.add_option("--stage", a.stage, "only the releases of one stage")
      ->check(CLI::IsMember({"testservers", "canaries", "production"}));
  cmd.add_option("--scope", a.scope, "only the namespaces of one scope");
  cmd.add_option("--clusters", a.clusters, "default cluster list for namespaces without 'clusters' (e.g. eqiad,codfw)")
      ->type_name("A,B");
  cmd.add_option("--state-dir", a.state_dir, "where the deploy is recorded, for `values revert`")
      ->type_name("DIR")
      ->capture_default_str();
  cmd.add_flag("--prune", a.prune, "remove values files that no configured release writes (default: list them)");
  cmd.add_flag("--allow-detached", a.allow_detached,
               "commit even when the values directory's git HEAD is detached (refused by default)");
}

namespace {

/// The releases of the scope and stage asked for, each checked against the report before any
/// file is touched (errors at the place in the deployments file), rendered.
std::vector<RenderedValues> check_releases(const RenderArgs& a, const DeploymentsFile& dep,
                                           const std::vector<ReleaseTarget>& all, const BuiltImages& built,
                                           Diagnostics& diags) {
  if (!a.scope.empty() && std::none_of(dep.namespaces.begin(), dep.namespaces.end(),
                                       [&](const NamespaceSpec& n) { return n.scope == a.scope; }))
    diags.error({}, "--scope", fmt::format("'{}' matches no deployment targets", a.scope));
  std::vector<RenderedValues> planned;
  std::set<std::string> reported;
  for (const auto& t : all) {
    if (!a.scope.empty() && t.ns->scope != a.scope) continue;
    if (!a.stage.empty() && stage_name(t.release->stage) != a.stage) continue;
    ReportImages found = release_images(built, *t.release);
    for (const auto& [key, problem] : found.problems) {
      bool kind_problem = problem.rfind("Image kind", 0) == 0;
      const Location& at = kind_problem ? key.kind_at : key.flavour_at;
      if (reported.insert(at.str() + problem).second)
        diags.error(at, kind_problem ? key.kind_field : key.flavour_field,
                    fmt::format("release '{}/{}': {} (report {})", t.ns->name, t.release->name, problem, a.report));
    }
    if (found.images) planned.push_back(render_values(t, a.registry, *found.images));
  }
  return planned;
}

}  // namespace

/// Every image of the report must be under `registry`: values name images relative to it.
void check_registry(const BuiltImages& built, const std::string& registry, const std::string& report, Diagnostics& diags) {
  for (const auto& [image, flavours] : built.images)
    for (const auto& [flavour, fl] : flavours)
      for (const auto& [kind, name] : fl.kinds)
        if (name.rfind(registry + "/", 0) != 0) {
          diags.error({report, 0, 0}, "--registry",
                      fmt::format("{}:{}:{} is {}, not under {}: give the registry the report's images were pushed to",
                                  image, flavour, kind, name, registry));
          return;
        }
}

int run_render(const RenderArgs& given) {
  Diagnostics diags;
  RenderArgs a = given;
  std::vector<std::string> config_clusters;
  if (!a.images.empty()) {  // the defaults `build` takes from images.yaml
    ImagesConfig cfg = load_images_config(a.images, diags);
    config_clusters = cfg.clusters;
    if (a.registry.empty()) a.registry = cfg.registry;
  }
  if (a.registry.empty() && !diags.has_errors())
    diags.error({}, "--registry", "needed: the registry the report's images were pushed to (or -c IMAGES with 'registry:')");
  else if (!diags.has_errors())
    a.registry = normalise_push_target(a.registry);
  auto dep = load_deployments(a.deployments, diags);
  std::vector<std::string> clusters = a.clusters.empty() ? config_clusters : split_list(a.clusters);
  for (const auto& p : check_cluster_list(clusters)) diags.error({}, "--clusters", p);
  std::optional<BuiltImages> built;
  try {
    auto parsed = parse_report(read_file(a.report));
    if (parsed)
      built = *parsed;
    else
      diags.error({a.report, 0, 0}, "", "not a report.json: " + parsed.message());
  } catch (const std::exception& e) {
    diags.error({a.report, 0, 0}, "", e.what());
  }
  if (built && !a.registry.empty()) check_registry(*built, a.registry, a.report, diags);
  if (diags.has_errors()) {
    print_diagnostics(diags);
    return kExitUsage;
  }
  auto all = expand_targets(dep, clusters, diags);
  std::vector<RenderedValues> planned = check_releases(a, dep, all, *built, diags);
  if (diags.has_errors()) {
    print_diagnostics(diags);
    return kExitUsage;
  }

  size_t written = 0, commits = 0;
  std::unique_ptr<ValuesDir> dir;
  try {
    dir = std::make_unique<ValuesDir>(a.values_dir, true);
    dir->lock();
  } catch (const std::exception& e) {
    fmt::print(stderr, "flavourgraph: error: {}\nflavourgraph: nothing was written\n", e.what());
    return kExitTaskFailed;
  }
  if (auto detached = dir->detached_head(); detached && !a.allow_detached) {
    diags.error({}, "--values-dir",
                fmt::format("{}: {}; commits there would belong to no branch. Check out a branch, or pass "
                            "--allow-detached",
                            a.values_dir, *detached));
    print_diagnostics(diags);
    return kExitUsage;
  }
  try {
    for (const auto& p : planned) written += dir->write(p.file, p.content);
    auto before = dir->head();
    commits = commit_values(*dir, planned);
    note_deploy(*dir, before, a.state_dir, "render");
    std::set<std::string> configured;
    for (const auto& t : all) configured.insert(t.values_file());
    stale_values(*dir, configured, a.prune, diags);
  } catch (const std::exception& e) {
    diags.error({}, "", e.what());
  }
  print_diagnostics(diags, fmt::format("{} values file(s) written{}", written,
                                       dir->is_git() ? fmt::format(", {} committed", commits) : ""));
  if (diags.has_errors()) return kExitTaskFailed;
  fmt::print(stderr, "flavourgraph: {} values file(s): {} written, {} unchanged; {} commit(s)\n", planned.size(),
             written, planned.size() - written, commits);
  return kExitOk;
}

}  // namespace flavourgraph::cli
