#pragma once
/// Where images come from and where they go, whatever the place is: an OCI image layout on
/// disk or a registry. A base is pulled through an ImageSource; a built image is published
/// through an ImageSink, blobs first and names last, so a name never points at an image whose
/// blobs are not all there.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/registry.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph::oci {

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  /// The manifest or index `ref` names: a tag, or a digest.
  virtual FetchedManifest manifest(const std::string& ref) = 0;
  /// Brings blob `d` into `store`, verified against its digest; returns the bytes read (0 when
  /// the store had it).
  virtual uint64_t copy_blob(const Descriptor& d, Layout& store) = 0;
};

/// An `oci:DIR` layout.
class LayoutSource final : public ImageSource {
 public:
  explicit LayoutSource(const Layout& layout) : layout_(layout) {}
  FetchedManifest manifest(const std::string& ref) override;
  uint64_t copy_blob(const Descriptor& d, Layout& store) override;

 private:
  const Layout& layout_;
};

/// A repository of a registry.
class RegistrySource final : public ImageSource {
 public:
  RegistrySource(RegistryClient& client, std::string repository)
      : client_(client), repository_(std::move(repository)) {}
  FetchedManifest manifest(const std::string& ref) override { return client_.get_manifest(repository_, ref); }
  uint64_t copy_blob(const Descriptor& d, Layout& store) override;

 private:
  RegistryClient& client_;
  std::string repository_;
};

/// An image as pulled: its manifest pinned by digest, parsed, and its config.
struct PulledImage {
  Descriptor manifest;
  Manifest parsed;
  nlohmann::json config;
  std::string name;  ///< the reference as written, pinned: `<ref without digest>@sha256:...`
};

struct PullOptions {
  std::string os = "linux";   ///< the platform picked from an index
  std::string arch = "amd64";
  bool layers = true;         ///< bring the layers into the store too (not when they can be mounted)
  /// Hears after each blob of the bytes of the blobs brought (or found in the store) so far,
  /// and their total (the config's and, with `layers`, the layers' sizes).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct PullResult {
  PulledImage image;
  uint64_t bytes_in = 0;
  bool copied = false;  ///< some blob was not in the store before
};

/// Resolves `ref` (a tag or a digest) through `source` to the platform's manifest, and brings
/// its config (and layers) into `store`. `text` names the reference in messages and in the
/// pinned name. Throws Error naming `text`; Cancelled when `cancel` is requested.
PullResult pull_image(ImageSource& source, const std::string& ref, const std::string& text, Layout& store,
                      const PullOptions& options, const CancelSource& cancel);

class ImageSink {
 public:
  virtual ~ImageSink() = default;
  struct BlobResult {
    bool placed = false;   ///< the target did not have it: uploaded, mounted or copied now
    uint64_t sent = 0;     ///< bytes sent to the target
    uint64_t fetched = 0;  ///< bytes fetched into the store first (a base layer only mountable)
  };
  /// Makes blob `d` present in `repository` of the target: it is there already, or it is
  /// mounted from a repository of `mount_from`, or copied from `store`. When the store lacks it
  /// too, `fetch` (when given) brings it into the store first and returns the bytes it read.
  virtual BlobResult put_blob(const std::string& repository, const Descriptor& d, Layout& store,
                              const std::vector<std::string>& mount_from, const std::function<uint64_t()>& fetch) = 0;
  struct TagResult {
    bool changed = false;
    uint64_t sent = 0;
  };
  /// Names `manifest` (in `store`) `repository:tag` at the target.
  virtual TagResult put_tag(const std::string& repository, const std::string& tag, const Descriptor& manifest,
                            Layout& store) = 0;
  /// Puts `manifest` (in `store`) by its digest, with no name: for manifests a tagged one
  /// refers to. True when the target did not have it.
  virtual bool put_manifest(const std::string& repository, const Descriptor& manifest, Layout& store) = 0;
  /// The manifest `repository:tag` names at the target now; nullopt when none.
  virtual std::optional<std::string> tag_manifest(const std::string& repository, const std::string& tag) = 0;
  /// True when put_blob can mount from other repositories (a registry), so that callers look
  /// for candidates.
  [[nodiscard]] virtual bool mounts() const { return false; }
};

/// An `oci:DIR` layout: blobs are hard links to the store's when both are on one filesystem.
class LayoutSink final : public ImageSink {
 public:
  explicit LayoutSink(Layout& layout) : layout_(layout) {}
  BlobResult put_blob(const std::string& repository, const Descriptor& d, Layout& store,
                      const std::vector<std::string>& mount_from, const std::function<uint64_t()>& fetch) override;
  TagResult put_tag(const std::string& repository, const std::string& tag, const Descriptor& manifest,
                    Layout& store) override;
  bool put_manifest(const std::string& repository, const Descriptor& manifest, Layout& store) override;
  std::optional<std::string> tag_manifest(const std::string& repository, const std::string& tag) override;

 private:
  Layout& layout_;
};

/// A registry. One sink serves every push of a run: a blob another push is uploading is
/// waited for and then mounted, so each blob goes over the network once.
class RegistrySink final : public ImageSink {
 public:
  RegistrySink(RegistryClient& client, const CancelSource& cancel) : client_(client), cancel_(cancel) {}
  BlobResult put_blob(const std::string& repository, const Descriptor& d, Layout& store,
                      const std::vector<std::string>& mount_from, const std::function<uint64_t()>& fetch) override;
  TagResult put_tag(const std::string& repository, const std::string& tag, const Descriptor& manifest,
                    Layout& store) override;
  bool put_manifest(const std::string& repository, const Descriptor& manifest, Layout& store) override;
  std::optional<std::string> tag_manifest(const std::string& repository, const std::string& tag) override;
  [[nodiscard]] bool mounts() const override { return true; }

 private:
  /// Waits while another push places `digest`; returns the repositories known to hold it.
  std::vector<std::string> begin(const std::string& digest);
  void finish(const std::string& digest, const std::string& repository);

  RegistryClient& client_;
  const CancelSource& cancel_;
  std::mutex mutex_;
  std::condition_variable cv_;
  struct BlobState {
    bool busy = false;
    std::vector<std::string> repositories;
  };
  std::map<std::string, BlobState> blobs_;
};

/// The tree index of an image travels with it as an OCI artifact: a manifest whose one layer is
/// the index blob and whose subject is the image, listed in an image index under the tag
/// `sha256-<hex of the image's digest>` (the OCI referrers tag schema, which any registry and
/// any layout can hold).
std::string referrers_tag(const Digest& image);
struct IndexArtifact {
  Descriptor config;        ///< the empty config `{}`
  std::string manifest;     ///< the artifact's manifest
  std::string referrers;    ///< the index to put under referrers_tag(image)
};
IndexArtifact index_artifact(const Descriptor& index_blob, const Descriptor& image);
/// The referrers index `existing` with our tree index's entry in place of any earlier one:
/// what other tools attached to the image (signatures, SBOMs) stays listed.
std::string add_referrer(std::string_view existing, const IndexArtifact& art);
inline constexpr std::string_view kEmptyJson = "{}";
inline constexpr std::string_view kEmptyMediaType = "application/vnd.oci.empty.v1+json";
/// The tree index published for `image` through `source` (whose refs are `ref_of(tag)`),
/// brought into `store`; nullopt when the image has none.
std::optional<Descriptor> fetch_tree_index(ImageSource& source, const std::string& referrers_ref, const Digest& image,
                                           Layout& store);

}  // namespace flavourgraph::oci
