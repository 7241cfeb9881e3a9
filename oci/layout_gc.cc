// What `gc` needs of a layout: its named entries, dropping some, listing and deleting blobs, and
// the blobs a manifest or an index keeps alive.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "flavourgraph/oci/layout.h"

namespace flavourgraph::oci {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

/// Manifests and indexes are small; anything larger is a leaf (a layer), never read.
constexpr int64_t kMaxDocument = 4 << 20;
constexpr int kMaxDepth = 8;  ///< an index of indexes of manifests is depth 2

void mark(const Layout& layout, const Digest& d, std::set<Digest>& live, int depth) {
  struct stat st {};
  if (::stat(layout.blob_path(d).c_str(), &st) != 0) return;  // not here: nothing to keep
  if (!live.insert(d).second || depth > kMaxDepth || st.st_size > kMaxDocument) return;
  json j = json::parse(layout.read_blob(d, kMaxDocument), nullptr, false);
  if (!j.is_object()) return;  // a config, a tree index: a leaf
  if (j.contains("manifests")) {
    auto idx = Index::parse(j.dump());
    if (!idx) throw StoreError(fmt::format("{}: index {}: {}", layout.dir().string(), d.str(), idx.message()));
    for (const auto& m : idx->manifests) mark(layout, m.digest, live, depth + 1);
  } else if (j.contains("config") && j.contains("layers")) {
    auto m = Manifest::parse(j.dump());
    if (!m) throw StoreError(fmt::format("{}: manifest {}: {}", layout.dir().string(), d.str(), m.message()));
    if (layout.has_blob(m->config.digest)) live.insert(m->config.digest);
    for (const auto& l : m->layers)
      if (layout.has_blob(l.digest)) live.insert(l.digest);
  }
}

}  // namespace

std::vector<std::pair<std::string, Descriptor>> Layout::refs() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, Descriptor>> out;
  for (const auto& m : manifests_) {
    auto it = m.annotations.find(std::string(kRefNameAnnotation));
    if (it != m.annotations.end()) out.emplace_back(it->second, m);
  }
  return out;
}

size_t Layout::remove_refs(const std::set<std::string>& names) {
  std::lock_guard lock(mutex_);
  size_t before = manifests_.size();
  std::erase_if(manifests_, [&](const Descriptor& m) {
    auto it = m.annotations.find(std::string(kRefNameAnnotation));
    return it != m.annotations.end() && names.count(it->second) > 0;
  });
  size_t removed = before - manifests_.size();
  if (removed > 0) write_index_locked();
  return removed;
}

std::vector<std::pair<Digest, uint64_t>> Layout::blobs() const {
  std::vector<std::pair<Digest, uint64_t>> out;
  std::error_code ec;
  fs::path dir = dir_ / "blobs" / "sha256";
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    struct stat st {};
    if (!hex64(name) || ::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.emplace_back(Digest{"sha256", name}, static_cast<uint64_t>(st.st_size));
  }
  if (ec) throw StoreError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  return out;
}

bool Layout::remove_blob(const Digest& d) {
  fs::path p = blob_path(d);
  if (::unlink(p.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw StoreError(fmt::format("cannot remove {}: {}", p.string(), std::strerror(errno)));
}

void mark_reachable(const Layout& layout, const Digest& root, std::set<Digest>& live) {
  mark(layout, root, live, 0);
}

}  // namespace flavourgraph::oci
