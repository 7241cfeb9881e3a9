// `flavourgraph gc`: removes the images nothing names from the store (and the push target),
// keeping the newest N of each (image, flavour, kind) (docs/gc.md).
#include <fmt/format.h>

#include <cstdlib>

#include "common.h"
#include "flavourgraph/gc_run.h"
#include "flavourgraph/tasks/registry_pool.h"
#include "gc_args.h"
#include "signals.h"

namespace flavourgraph::cli {

namespace fs = std::filesystem;

void add_gc_options(CLI::App& cmd, GcArgs& a) {
  cmd.add_option("--store", a.store, "the local OCI image layout to clean")->type_name("DIR")->capture_default_str();
  cmd.add_option("--state-dir", a.state_dir, "report.json and the build records: every image they name is kept")
      ->type_name("DIR")
      ->capture_default_str();
  cmd.add_option("--values-dir", a.values_dir,
                 "values files: every image they name is kept, and those of the deploy `values revert` would put "
                 "back")
      ->type_name("DIR")
      ->capture_default_str();
  cmd.add_option("--keep", a.keep, "the newest images kept per (image, flavour, kind), besides those named anywhere")
      ->type_name("N")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  cmd.add_flag("--dry-run", a.dry_run, "list what would be removed, and change nothing");
  cmd.add_option("--registry", a.registry,
                 "clean this push target too: oci:DIR (names and blobs, as the store), or HOST[:PORT][/PREFIX] (images "
                 "deleted by digest, where the registry allows deletes)")
      ->type_name("TARGET")
      ->each([&a](const std::string&) { a.registry_given = true; });
  cmd.add_option("--insecure-registry", a.insecure_registries,
                 "speak plain HTTP to this registry (repeatable); TLS is verified everywhere else")
      ->type_name("HOST[:PORT]");
  cmd.add_option("--ca-bundle", a.ca_bundle, "CA certificates to verify registries' TLS with (default: the system's)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  cmd.add_option("--retries", a.retries, "attempts per registry request on connection errors, 5xx and 429")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
}

namespace {

constexpr std::string_view kNothing = "nothing was removed";

bool is_layout(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "oci-layout", ec);
}

/// The push target to clean (nullopt: none); problems go to `diags`.
std::optional<oci::Target> check_args(const GcArgs& a, Diagnostics& diags) {
  if (!is_layout(a.store))
    diags.error({}, "--store", fmt::format("{} is not an OCI image layout (no oci-layout file)", a.store));
  if (a.registry_given && a.registry.empty())
    diags.error({}, "--registry", "is empty: give HOST[:PORT][/PREFIX] or oci:DIR");
  if (a.registry.empty()) return std::nullopt;
  if (std::string problem = check_push_target(a.registry); !problem.empty()) {
    diags.error({}, "--registry", problem);
    return std::nullopt;
  }
  auto t = oci::Target::parse(normalise_push_target(a.registry), fs::current_path());
  if (t->kind != oci::Target::Kind::layout) return *t;
  std::error_code ec;
  if (!is_layout(t->dir))
    diags.error({}, "--registry", fmt::format("{} is not an OCI image layout (no oci-layout file)", t->dir.string()));
  else if (fs::equivalent(t->dir, a.store, ec))
    diags.error({}, "--registry", fmt::format("{} is the store itself; give the push target", t->dir.string()));
  return *t;
}

std::string human(uint64_t bytes) {
  if (bytes < (1u << 20)) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

enum class Place { store, layout, registry };

void print_outcome(const GcOutcome& o, bool dry_run, Place place) {
  for (const auto& w : o.warnings) fmt::print(stderr, "flavourgraph: warning: {}: {}\n", o.place, w);
  std::string verb = dry_run ? "would remove" : o.deletes_refused ? "not removed" : "removed";
  for (const auto& r : o.removed)
    fmt::print("{}: {} {} ({}): {}\n", o.place, verb, r.name, r.group.empty() ? "-" : r.group, r.reason);
  for (const auto& k : o.kept_named) fmt::print("{}: kept {}\n", o.place, k);
  std::string done = dry_run ? "would be removed" : o.deletes_refused ? "removed (deletes refused)" : "removed";
  std::string blobs = fmt::format("; {} blob(s) ({} bytes, {}) {}", o.blobs, o.bytes, human(o.bytes),
                                  dry_run ? "would be freed" : "freed");
  if (place == Place::store)
    blobs += fmt::format("; {} cache entr{} {}", o.cache_entries, o.cache_entries == 1 ? "y" : "ies", done);
  if (place == Place::registry) blobs = "; the registry frees blobs when its own garbage collection runs";
  fmt::print(stderr, "flavourgraph: {}: {} of {} image(s) {} ({} name(s)){}\n", o.place,
             o.deletes_refused ? 0 : o.images_removed, o.images, done, o.removed.size(), blobs);
}

RegistrySettings registry_settings(const GcArgs& a) {
  RegistrySettings rs;
  rs.insecure = a.insecure_registries;
  rs.ca_bundle = a.ca_bundle;
  rs.retries = a.retries;
  for (auto [name, field] : {std::pair{"DOCKER_CONFIG", &rs.docker_config}, std::pair{"HOME", &rs.home}})
    if (const char* v = std::getenv(name)) *field = v;
  return rs;
}

/// What gc holds while it works: the store (locked, as a build locks it), the oci: target (the
/// same), the values directory (as a build or render locks it).
struct Held {
  std::unique_ptr<oci::Layout> store, target;
  std::unique_ptr<ValuesDir> values;
};

Held open_and_lock(const GcArgs& a, const std::optional<oci::Target>& target) {
  Held h;
  h.store = oci::Layout::open(a.store, false);
  if (target && target->kind == oci::Target::Kind::layout) h.target = oci::Layout::open(target->dir, false);
  if (a.dry_run) return h;  // a dry run writes nothing, not even a lock's pid
  h.store->lock();
  if (h.target) h.target->lock();
  std::error_code ec;
  if (fs::is_directory(a.values_dir, ec)) {
    h.values = std::make_unique<ValuesDir>(a.values_dir, false);
    h.values->lock();
  }
  return h;
}

void gc_target(const GcArgs& a, const oci::Target& target, Held& held, const gc::Knowledge& k, const GcSettings& s,
               const CancelSource& cancel) {
  if (held.target) {
    print_outcome(gc_layout_target(*held.target, k, s), a.dry_run, Place::layout);
    return;
  }
  RegistryPool pool(registry_settings(a), cancel);
  oci::RegistryClient& client = pool.client(target.host);
  client.ping();
  std::vector<std::string> repos = gc_repositories(target, held.store.get(), k);
  print_outcome(gc_registry(client, target, repos, k, held.store.get(), s), a.dry_run, Place::registry);
}

}  // namespace

int run_gc(const GcArgs& a) {
  CancelSource cancel;
  SignalCanceller signals(cancel);
  Diagnostics diags;
  std::optional<oci::Target> target = check_args(a, diags);
  if (diags.has_errors()) {
    print_diagnostics(diags, kNothing);
    return kExitUsage;
  }
  Held held;
  try {
    held = open_and_lock(a, target);  // before reading what names images: no build runs meanwhile
  } catch (const std::exception& e) {
    fmt::print(stderr, "flavourgraph: error: {}; {}\n", e.what(), kNothing);
    return kExitTaskFailed;
  }
  gc::Knowledge k;
  try {
    k = gc::load_knowledge(a.state_dir, a.values_dir);
  } catch (const Error& e) {
    fmt::print(stderr, "flavourgraph: error: {}; {}\n", e.what(), kNothing);
    return e.kind() == ErrorKind::config ? kExitUsage : kExitTaskFailed;
  }
  for (const auto& n : k.notes) fmt::print(stderr, "flavourgraph: note: {}\n", n);
  GcSettings s{a.keep, a.dry_run};
  print_outcome(gc_store(*held.store, k, s), a.dry_run, Place::store);
  if (target) gc_target(a, *target, held, k, s, cancel);
  if (a.dry_run) fmt::print(stderr, "flavourgraph: dry run: nothing was changed\n");
  return kExitOk;
}

}  // namespace flavourgraph::cli
