#include "common.h"

#include <fmt/format.h>

#include <ctime>

#include <cstdio>
#include <cstdlib>

namespace flavourgraph::cli {

void add_plan_options(CLI::App& cmd, PlanArgs& args) {
  cmd.add_option("-c,--config", args.images, "images.yaml: images, flavours, kinds, layers")
      ->required()
      ->type_name("IMAGES");
  cmd.add_option("-d,--deployments", args.deployments,
                 "deployments file: namespaces and their helmfile releases (without it, only "
                 "--only and --all-flavours select builds)")
      ->type_name("DEPLOYMENTS");
  cmd.add_option("--only", args.only,
                 "build only IMAGE:FLAVOUR[:KIND] and what it needs (repeatable)")
      ->type_name("IMAGE:FLAVOUR[:KIND]");
  cmd.add_option("--release", args.releases,
                 "only the images and values of release NAMESPACE/NAME (repeatable)")
      ->type_name("NS/NAME");
  cmd.add_option("--stage", args.stage, "only the releases of one stage")
      ->check(CLI::IsMember({"testservers", "canaries", "production"}))
      ->type_name("STAGE");
  cmd.add_option("--scope", args.scope, "only the namespaces of one scope (default scope: train)")
      ->type_name("SCOPE");
  cmd.add_flag("--all-flavours", args.all_flavours,
               "build every flavour and kind in images.yaml, not only those releases use");
  cmd.add_option("--clusters", args.clusters,
                 "default cluster list for namespaces without 'clusters' (e.g. eqiad,codfw); "
                 "overrides images.yaml")
      ->type_name("A,B");
  cmd.add_option("--timestamp", args.timestamp,
                 "time in tags: YYYY-MM-DD-HHMMSS (UTC) or seconds since the epoch (default: "
                 "$SOURCE_DATE_EPOCH, else now)")
      ->type_name("TIME");
  cmd.add_option("--registry", args.registry,
                 "push target, overriding images.yaml: HOST[:PORT][/PREFIX] or oci:DIR")
      ->type_name("TARGET")
      ->each([&args](const std::string&) { args.registry_given = true; });
  cmd.add_option("--set", args.sets,
                 "give a variable of images.yaml's 'variables' a value for this run (repeatable); NAME=[a, b] "
                 "sets a list, which layers' include and exclude patterns expand to one pattern per item")
      ->type_name("NAME=VALUE");
  cmd.add_option("--latest-tag", args.latest_tag,
                 "extra tag, a template like 'latest-{flavour}'; when published images of one repository "
                 "would share it, the last in plan order gets it ('' for none; default: images.yaml's "
                 "latest_tag, else 'latest')")
      ->type_name("TAG");
  cmd.add_option("--engine", args.engines,
                 "a build engine for RUN builds (repeatable; adds to images.yaml's 'engines', replacing one of "
                 "the same name): NAME=buildah[:STORAGE_DIR], NAME=podman+tcp://HOST:PORT (podman's API service), "
                 "NAME=buildkit+tcp://HOST:PORT (buildctl); '?width=N' runs N builds there at once (default 1). "
                 "Default: buildah on this machine")
      ->type_name("NAME=URL");
  cmd.add_flag("--push,!--no-push", args.push,
                            "push the images and write the releases' values files (the default: values must name "
                            "images the cluster can pull). With --no-push the images end in the store, "
                            "report.json lists them as unpushed, and no values file changes");
  cmd.add_flag("--atomic", args.atomic,
               "publish all or nothing: upload every blob and manifest by digest first, then move every tag and "
               "write the values only once every image of the run is up; on any failure no tag moves");
}

void note_deploy(const ValuesDir& dir, const std::optional<std::string>& before, const std::string& state_dir,
                 const std::string& what) {
  auto after = dir.head();
  if (!after || after == before) return;
  record_deploy(state_dir, {std::filesystem::absolute(dir.dir()).lexically_normal().string(), before.value_or(""),
                            *after, what, format_timestamp(static_cast<int64_t>(std::time(nullptr)))});
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

void print_diagnostics(const Diagnostics& d, std::string_view outcome) {
  for (const auto& item : d.items())
    if (item.severity == Severity::warning) fmt::print(stderr, "{}\n", item.str());
  for (const auto& item : d.items())
    if (item.severity == Severity::error) fmt::print(stderr, "error: {}\n", item.str());
  if (d.has_errors()) fmt::print(stderr, "flavourgraph: {} error(s); {}\n", d.error_count(), outcome);
}

std::optional<Loaded> load_and_expand(const PlanArgs& args, int64_t now,
                                      const char* source_date_epoch) {
  Diagnostics diags;
  Loaded out;
  out.config = std::make_shared<ImagesConfig>(load_images_config(args.images, diags, args.sets));
  if (!args.deployments.empty())
    out.deployments = std::make_shared<DeploymentsFile>(load_deployments(args.deployments, diags));

  out.timestamp = now;
  if (!args.timestamp.empty()) {
    auto t = parse_timestamp(args.timestamp);
    if (!t)
      diags.error({}, "--timestamp",
                  fmt::format("'{}' is not YYYY-MM-DD-HHMMSS or seconds since the epoch",
                              args.timestamp));
    else
      out.timestamp = *t;
  } else if (source_date_epoch && *source_date_epoch) {
    auto t = parse_timestamp(source_date_epoch);
    if (!t)
      diags.error({}, "SOURCE_DATE_EPOCH",
                  fmt::format("'{}' is not a number of seconds", source_date_epoch));
    else
      out.timestamp = *t;
  }

  Selection sel;
  sel.only = args.only;
  sel.releases = args.releases;
  if (!args.stage.empty()) sel.stage = parse_stage(args.stage);
  if (!args.scope.empty()) sel.scope = args.scope;
  sel.all_flavours = args.all_flavours;
  if (!args.releases.empty() && !out.deployments)
    diags.error({}, "--release", "needs a deployments file (-d)");
  if ((sel.stage || sel.scope) && !out.deployments)
    diags.error({}, args.stage.empty() ? "--scope" : "--stage", "needs a deployments file (-d)");

  if (args.registry_given && args.registry.empty())
    diags.error({}, "--registry", "is empty: give HOST[:PORT][/PREFIX] or oci:DIR");
  else if (!args.registry.empty())
    if (auto problem = check_push_target(args.registry); !problem.empty()) diags.error({}, "--registry", problem);
  if (!args.clusters.empty())
    for (const auto& problem : check_cluster_list(split_list(args.clusters)))
      diags.error({}, "--clusters", problem);
  // A template (`latest-{flavour}`) is checked for each image as the plan is made.
  if (args.latest_tag && !args.latest_tag->empty() && args.latest_tag->find('{') == std::string::npos &&
      !valid_tag(*args.latest_tag))
    diags.error({}, "--latest-tag", fmt::format("'{}' is not a valid tag", *args.latest_tag));
  if (args.atomic && !args.push) diags.error({}, "--atomic", "publishes all or nothing: it cannot go with --no-push");
  std::vector<EngineSpec> engines;
  for (const auto& e : args.engines) {
    EngineSpec spec;
    if (auto problem = parse_engine(e, spec); !problem.empty())
      diags.error({}, "--engine", problem);
    else
      engines.push_back(std::move(spec));
  }
  if (diags.has_errors()) {
    print_diagnostics(diags);
    return std::nullopt;
  }
  PlanOptions opts;
  opts.engines = std::move(engines);
  opts.timestamp = format_timestamp(out.timestamp);
  if (!args.clusters.empty()) opts.clusters = split_list(args.clusters);
  if (!args.registry.empty()) opts.registry = normalise_push_target(args.registry);
  opts.latest_tag = args.latest_tag;
  opts.push = args.push;
  opts.atomic = args.atomic;
  out.plan = expand(out.config, out.deployments, sel, opts, diags);
  if (!out.deployments && args.only.empty() && !args.all_flavours && !diags.has_errors())
    diags.error({}, "", "nothing is selected: give a deployments file (-d), --only IMAGE:FLAVOUR[:KIND] or "
                        "--all-flavours");
  print_diagnostics(diags);
  if (diags.has_errors()) return std::nullopt;
  return out;
}

}  // namespace flavourgraph::cli
