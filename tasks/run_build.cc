// run: a kind's Containerfile built by a build engine (docs/run-builds.md).
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <random>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/archive.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/tree.h"
#include "flavourgraph/tasks/engines.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

namespace {

/// A work directory under the store's temp dir (so that the base's blobs are hard links), and
/// a link to it under /tmp: buildah makes an image name of an `oci:` path, and the store's
/// path may hold what names cannot (`.flavourgraph`, capitals). Both named with `nonce`, unique
/// to this build; both removed when done.
struct WorkDir {
  std::filesystem::path path;
  std::filesystem::path link;
  WorkDir(std::filesystem::path p, const std::string& nonce) : path(std::move(p)) {
    std::filesystem::create_directories(path);
    link = std::filesystem::path("/tmp") / ("flavourgraph-run-" + nonce);
    try {
      std::filesystem::create_directory_symlink(std::filesystem::absolute(path), link);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      throw;
    }
  }
  ~WorkDir() {
    std::error_code ec;
    std::filesystem::remove(link, ec);
    std::filesystem::remove_all(path, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
};

/// Lower-case hex, unique to one RUN build of this process (and, by its random part, of any
/// other process on any machine sharing an engine).
std::string nonce(const std::string& key, uint32_t run) {
  std::random_device rd;
  return fmt::format("{}-{}-{}-{:08x}", key.substr(0, 16), run, ::getpid(), rd());
}

/// Brings the blobs of `img` the store lacks from where they are (a registry it was not pulled
/// from, layers being mountable there).
void complete_in_store(const BuildEnv& env, const ImageData& img, TaskContext& ctx) {
  std::vector<oci::Descriptor> need = {img.parsed.config};
  need.insert(need.end(), img.parsed.layers.begin(), img.parsed.layers.end());
  for (const auto& d : need) {
    if (env.store().has_blob(d.digest, d.size)) continue;
    if (img.remote_host.empty())
      throw Error(fmt::format("blob {} of {} is not in the store and has nowhere to come from", d.digest.str(), img.name));
    oci::RegistrySource source(env.registries().client(img.remote_host), img.remote_repo);
    ctx.add_bytes_in(source.copy_blob(d, env.store()));
  }
}

/// The engine's manifest without its annotations: they name the temp path the base came from,
/// which differs from run to run, and nothing else about the image.
oci::Descriptor without_annotations(oci::Layout& store, const oci::Descriptor& manifest) {
  auto j = nlohmann::json::parse(store.read_blob(manifest.digest), nullptr, false);
  if (!j.is_object() || !j.contains("annotations")) return manifest;
  j.erase("annotations");
  return store.put_blob(j.dump(), manifest.media_type);
}

}  // namespace

std::string RunTask::cache_key(TaskContext& ctx) const {
  const PlanRun& pr = env_.plan().runs[run_];
  std::string containerfile = read_file(pr.spec.containerfile_path);
  nlohmann::json key = {{"v", 1},
                        {"containerfile", oci::sha256_hex(containerfile)},
                        {"context", oci::tree_hash(pr.spec.context_path, oci::Filter{}, &ctx.cancel())},
                        {"target", pr.spec.target.value_or("")},
                        {"args", pr.args},
                        {"base", base_.image().manifest.digest.str()},
                        {"timestamp", env_.settings().source_date_epoch}};
  return oci::sha256_hex(key.dump());
}

ImageData RunTask::load(const oci::Descriptor& manifest) const {
  const PlanRun& pr = env_.plan().runs[run_];
  ImageData img;
  img.manifest = manifest;
  auto parsed = oci::Manifest::parse(env_.store().read_blob(manifest.digest));
  if (!parsed) throw Error(fmt::format("run:{}: the engine's manifest: {}", pr.name, parsed.message()));
  img.parsed = std::move(*parsed);
  img.config = nlohmann::json::parse(env_.store().read_blob(img.parsed.config.digest), nullptr, false);
  if (!img.config.is_object()) throw Error(fmt::format("run:{}: the engine's image config is not a JSON object", pr.name));
  img.name = "run:" + pr.name + "@" + manifest.digest.str();  // no registry has it: named after its task
  return img;
}

/// An entry is used only when the store still has every blob it names.
std::optional<ImageData> RunTask::cached(const std::filesystem::path& entry) const {
  std::error_code ec;
  if (!std::filesystem::exists(entry, ec)) return std::nullopt;
  auto j = nlohmann::json::parse(read_file(entry), nullptr, false);
  if (!j.is_object() || !j.contains("manifest")) return std::nullopt;
  auto d = oci::Descriptor::from_json(j["manifest"]);
  if (!d || !env_.store().has_blob(d->digest, d->size)) return std::nullopt;
  auto parsed = oci::Manifest::parse(env_.store().read_blob(d->digest));
  if (!parsed || !env_.store().has_blob(parsed->config.digest, parsed->config.size)) return std::nullopt;
  for (const auto& l : parsed->layers)
    if (!env_.store().has_blob(l.digest, l.size)) return std::nullopt;
  return load(*d);
}

ImageData RunTask::build_on_engine(TaskContext& ctx, const std::string& key, double* seconds) const {
  const PlanRun& pr = env_.plan().runs[run_];
  const ImageData& base = base_.image();
  complete_in_store(env_, base, ctx);
  std::string unique = nonce(key, run_);
  WorkDir work(env_.store().tmp_dir() / ("run-" + unique), unique);
  EngineJob job;
  job.containerfile = std::filesystem::absolute(pr.spec.containerfile_path);
  job.context = std::filesystem::absolute(pr.spec.context_path);
  job.target = pr.spec.target;
  job.args = pr.args;
  job.base_name = "flavourgraph-base-" + base.manifest.digest.hex.substr(0, 16);
  job.base_digest = base.manifest.digest.str();
  job.base_layout = work.link / "base";
  job.timestamp = env_.settings().source_date_epoch;
  job.tag = "localhost/flavourgraph-run:" + unique;
  job.out_archive = std::filesystem::absolute(work.path / "out.tar");
  {
    auto layout = oci::Layout::open(job.base_layout, true);  // hard links into the store where it can
    std::vector<oci::Descriptor> blobs = {base.manifest, base.parsed.config};
    blobs.insert(blobs.end(), base.parsed.layers.begin(), base.parsed.layers.end());
    for (const auto& d : blobs) layout->copy_blob_from(env_.store(), d, true);
    layout->set_ref(job.base_name, base.manifest);
  }
  EngineSet& engines = env_.engines();
  const EngineDriver& driver = engines.driver(static_cast<size_t>(pr.engine));
  job.base_archive = std::filesystem::absolute(work.path / "base.tar");
  job.write_base_archive = [&] { oci::write_oci_archive(env_.store(), base.manifest, job.base_name, job.base_archive); };
  auto slot = engines.acquire(static_cast<size_t>(pr.engine), ctx.cancel());
  if (!slot) throw oci::Cancelled();
  auto start = std::chrono::steady_clock::now();
  driver.build(job, ctx.cancel());
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  slot.reset();
  ctx.add_bytes_in(std::filesystem::file_size(job.out_archive));
  oci::Descriptor manifest = oci::import_oci_archive(job.out_archive, env_.store());
  return load(without_annotations(env_.store(), manifest));
}

TaskOutcome RunTask::run(TaskContext& ctx) {
  const PlanRun& pr = env_.plan().runs[run_];
  if (const PublishedImages* p = env_.published(); p && p->skip_run(run_))
    return {TaskState::cached, {}, {}, "published already: every image that needs it is at the push target"};
  const EngineSpec& engine = env_.plan().engines[static_cast<size_t>(pr.engine)];
  std::string key = cache_key(ctx);
  auto entry = env_.cache_dir() / "runs" / (key + ".json");
  if (!env_.settings().no_cache) {
    if (auto hit = cached(entry)) {
      std::string digest = hit->manifest.digest.str();
      image_.set(std::move(*hit));
      return {TaskState::cached, {}, digest, "its Containerfile, context, args, target and base are as built before"};
    }
  }
  double seconds = 0;
  ImageData img;
  try {
    img = build_on_engine(ctx, key, &seconds);
  } catch (const oci::Cancelled&) {
    return {TaskState::cancelled, "cancelled", {}};
  }
  std::filesystem::create_directories(entry.parent_path());
  nlohmann::json j = {{"manifest", img.manifest.to_json()},
                      {"containerfile", pr.spec.containerfile_path.string()},
                      {"base", base_.image().manifest.digest.str()},
                      {"engine", engine.name}};
  write_file_atomic(entry, j.dump(2) + "\n");
  std::string digest = img.manifest.digest.str();
  image_.set(std::move(img));
  std::string why = env_.settings().no_cache ? "--no-cache" : "no earlier build of these inputs";
  return {TaskState::done, {}, digest,
          fmt::format("{}; built by engine {} ({}) in {:.1f} s", why, engine.name, engine.url, seconds)};
}

}  // namespace flavourgraph
