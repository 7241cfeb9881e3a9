// The command backend's drivers: each runs an engine's own client (buildah, `podman --remote`,
// buildctl) and leaves the result as an oci-archive.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "flavourgraph/error.h"
#include "flavourgraph/oci/errors.h"
#include "flavourgraph/process.h"
#include "flavourgraph/tasks/engines.h"

namespace flavourgraph {

namespace {

constexpr size_t kTailBytes = 64 * 1024;
constexpr size_t kTailLines = 20;

/// Runs one engine command; throws with the tail of its output when it fails.
std::string run_engine(const std::string& engine, const std::vector<std::string>& argv, const CancelSource* cancel,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
  ProcessOptions o;
  o.cancel = cancel;
  o.timeout = timeout;
  o.keep_tail = kTailBytes;
  o.merge_stderr = true;
  ProcessResult r = run_process(argv, o);
  if (r.cancelled) throw oci::Cancelled();
  if (r.status == 0) return r.out;
  std::string what = r.status < 0 ? r.err : r.timed_out ? fmt::format("no answer in {} s", timeout.count() / 1000)
                                                        : fmt::format("exit status {}", r.status);
  std::string tail = last_lines(r.out, kTailLines);
  throw Error(fmt::format("engine {}: `{} {}` failed: {}{}{}", engine, argv[0], argv.size() > 1 ? argv[1] : "", what,
                          tail.empty() ? "" : "; its last lines:\n", tail));
}

/// A short side command (does the engine have an image; drop a name): its exit status, within
/// 60 s, stopped when the build is cancelled.
int quick(const std::vector<std::string>& argv, const CancelSource& cancel) {
  ProcessOptions o;
  o.cancel = &cancel;
  o.timeout = std::chrono::seconds(60);
  o.keep_tail = 4096;
  ProcessResult r = run_process(argv, o);
  if (r.cancelled) throw oci::Cancelled();
  return r.status;
}

void common_build_args(std::vector<std::string>& argv, const EngineJob& job) {
  argv.insert(argv.end(), {"-f", job.containerfile.string()});
  for (const auto& [k, v] : job.args) argv.insert(argv.end(), {"--build-arg", k + "=" + v});
  if (job.target) argv.insert(argv.end(), {"--target", *job.target});
  argv.insert(argv.end(), {"--timestamp", std::to_string(job.timestamp), "-t", job.tag});
}

/// buildah on this machine: daemonless, chroot isolation, its own storage.
class BuildahDriver final : public EngineDriver {
 public:
  BuildahDriver(std::string name, std::filesystem::path root) : name_(std::move(name)), root_(std::move(root)) {}

  [[nodiscard]] std::string check() const override {
    ProcessResult r = run_process({"buildah", "--version"});
    if (r.status == 0) return "";
    return r.status < 0 ? "buildah is not installed (apt-get install buildah)" : "buildah --version failed: " + r.err;
  }

  /// Whether the base is in buildah's storage under its name; pulling it there (buildah names
  /// what it pulls after the layout's path, so it is tagged with the base's own name); the
  /// build; the result out as an oci-archive; the result's name dropped.
  [[nodiscard]] std::vector<std::vector<std::string>> commands(const EngineJob& job) const override {
    std::string layout = "oci:" + job.base_layout.string() + ":" + job.base_name;
    std::vector<std::string> bud = with_base({"bud", "--isolation", "chroot", "--layers=false", "--pull=never", "--from", base_name(job)});
    common_build_args(bud, job);
    bud.push_back(job.context.string());
    return {with_base({"inspect", "--type", "image", base_name(job)}),
            with_base({"pull", "--quiet", layout}),
            with_base({"tag", "<pulled>", base_name(job)}),
            bud,
            with_base({"push", "--quiet", "--format", "oci", job.tag, "oci-archive:" + job.out_archive.string() + ":" + job.tag}),
            with_base({"rmi", job.tag})};
  }

  void build(const EngineJob& job, const CancelSource& cancel) const override {
    auto cmds = commands(job);
    if (quick(cmds[0], cancel) != 0) {  // not there yet: the engine keeps bases, its cache
      std::string id = run_engine(name_, cmds[1], &cancel);
      while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
      if (id.find('\n') != std::string::npos) id = id.substr(id.rfind('\n') + 1);
      cmds[2][cmds[2].size() - 2] = id;
      run_engine(name_, cmds[2], &cancel);
      quick(with_base({"rmi", "localhost" + job.base_layout.string() + ":latest"}), cancel);  // the path's name
    }
    run_engine(name_, cmds[3], &cancel);
    run_engine(name_, cmds[4], &cancel);
    quick(cmds[5], cancel);  // the result is out: the engine need not keep it
  }

 private:
  [[nodiscard]] std::vector<std::string> with_base(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"buildah", "--root", (root_ / "storage").string(), "--runroot",
                                     (root_ / "run").string(), "--storage-driver", "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  /// The base as the engine names it: the same on every engine, so that results are the same.
  static std::string base_name(const EngineJob& job) { return "localhost/" + job.base_name + ":latest"; }
  std::string name_;
  std::filesystem::path root_;
};

/// podman's API service on another machine, driven with `podman --remote --url`.
class PodmanDriver final : public EngineDriver {
 public:
  PodmanDriver(std::string name, std::string url) : name_(std::move(name)), url_(std::move(url)) {}

  [[nodiscard]] std::string check() const override {
    try {
      run_engine(name_, remote({"version", "--format", "{{.Server.Version}}"}), nullptr, std::chrono::seconds(15));
      return "";
    } catch (const Error& e) {
      return std::string(e.what()).find("cannot run") != std::string::npos
                 ? "podman is not installed (apt-get install podman)"
                 : fmt::format("podman's API service at {} does not answer: {}", url_, e.what());
    }
  }

  [[nodiscard]] std::vector<std::vector<std::string>> commands(const EngineJob& job) const override {
    std::vector<std::string> build = remote({"build", "--isolation", "chroot", "--layers=false", "--pull=never", "--from", local_name(job)});
    common_build_args(build, job);
    build.push_back(job.context.string());
    return {remote({"image", "exists", local_name(job)}),
            remote({"load", "-q", "-i", job.base_archive.string()}),
            build,
            remote({"save", "--format", "oci-archive", "-o", job.out_archive.string(), job.tag}),
            remote({"rmi", job.tag})};
  }

  void build(const EngineJob& job, const CancelSource& cancel) const override {
    auto cmds = commands(job);
    if (quick(cmds[0], cancel) != 0) {  // the engine keeps bases: its cache; sent only when it lacks one
      job.write_base_archive();
      run_engine(name_, cmds[1], &cancel);
    }
    run_engine(name_, cmds[2], &cancel);
    run_engine(name_, cmds[3], &cancel);
    quick(cmds[4], cancel);
  }

 private:
  [[nodiscard]] std::vector<std::string> remote(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"podman", "--remote", "--url", url_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  /// The base as loaded on the engine: the archive names it `base_name`.
  static std::string local_name(const EngineJob& job) { return "localhost/" + job.base_name + ":latest"; }

  std::string name_;
  std::string url_;
};

/// A BuildKit daemon through buildctl: the base goes in as a named context from an OCI layout.
class BuildkitDriver final : public EngineDriver {
 public:
  BuildkitDriver(std::string name, std::string addr) : name_(std::move(name)), addr_(std::move(addr)) {}

  [[nodiscard]] std::string check() const override {
    ProcessOptions o;
    o.timeout = std::chrono::seconds(15);
    ProcessResult r = run_process({"buildctl", "--addr", addr_, "debug", "workers"}, o);
    if (r.status == 0) return "";
    if (r.status < 0) return "buildctl is not installed (BuildKit's client; Debian 12 does not package it)";
    return fmt::format("the BuildKit daemon at {} does not answer: {}", addr_, last_lines(r.err, 3));
  }

  [[nodiscard]] std::vector<std::vector<std::string>> commands(const EngineJob& job) const override {
    std::ifstream in(job.containerfile);
    std::stringstream text;
    text << in.rdbuf();
    std::string from = first_from(text.str());
    if (from.find('$') != std::string::npos || from.empty())
      throw Error(fmt::format("engine {}: the first FROM of {} is '{}': BuildKit replaces a base by a literal image name "
                              "only; write the FROM without a variable",
                              name_, job.containerfile.string(), from));
    std::vector<std::string> argv = {"buildctl", "--addr", addr_, "build", "--frontend", "dockerfile.v0",
                                     "--local", "context=" + job.context.string(),
                                     "--local", "dockerfile=" + job.containerfile.parent_path().string(),
                                     "--opt", "filename=" + job.containerfile.filename().string(),
                                     "--oci-layout", "flavourgraph-base=" + job.base_layout.string(),
                                     "--opt", "build-arg:SOURCE_DATE_EPOCH=" + std::to_string(job.timestamp)};
    if (!from.empty())
      argv.insert(argv.end(), {"--opt", "context:" + from + "=oci-layout://flavourgraph-base@" + job.base_digest});
    for (const auto& [k, v] : job.args) argv.insert(argv.end(), {"--opt", "build-arg:" + k + "=" + v});
    if (job.target) argv.insert(argv.end(), {"--opt", "target=" + *job.target});
    argv.insert(argv.end(), {"--output", "type=oci,dest=" + job.out_archive.string()});
    return {argv};
  }

  void build(const EngineJob& job, const CancelSource& cancel) const override {
    run_engine(name_, commands(job)[0], &cancel);
  }

 private:
  std::string name_;
  std::string addr_;
};

}  // namespace

std::string first_from(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word)) continue;
    for (auto& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (word != "FROM") continue;
    while (words >> word)
      if (!word.starts_with("--")) return word;
    return "";
  }
  return "";
}

std::unique_ptr<EngineDriver> make_engine_driver(const EngineSpec& spec, const std::filesystem::path& state_dir) {
  switch (spec.type) {
    case EngineType::buildah:
      return std::make_unique<BuildahDriver>(spec.name, spec.address.empty() ? state_dir / "buildah"
                                                                             : std::filesystem::path(spec.address));
    case EngineType::podman: return std::make_unique<PodmanDriver>(spec.name, spec.address);
    case EngineType::buildkit: return std::make_unique<BuildkitDriver>(spec.name, spec.address);
  }
  throw Error("unknown engine type");
}

EngineSet::EngineSet(const std::vector<EngineSpec>& specs, const std::filesystem::path& state_dir) {
  for (const auto& s : specs) {
    drivers_.push_back(make_engine_driver(s, state_dir));
    free_.push_back(s.width);
  }
}

EngineSet::Slot::~Slot() {
  {
    std::lock_guard lock(set_.mutex_);
    ++set_.free_[engine_];
  }
  set_.cv_.notify_all();
}

std::unique_ptr<EngineSet::Slot> EngineSet::acquire(size_t engine, const CancelSource& cancel) {
  std::unique_lock lock(mutex_);
  // Bounded waits, so that a cancellation is seen within 100 ms.
  while (free_[engine] == 0) {
    if (cancel.requested()) return nullptr;
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  --free_[engine];
  return std::make_unique<Slot>(*this, engine);
}

}  // namespace flavourgraph
