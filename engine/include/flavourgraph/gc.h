#pragma once
/// `flavourgraph gc` (docs/gc.md): which images something still names, and which images of a
/// place (the store, an `oci:` layout, a registry's repositories) to keep. Reading the state
/// and values files is here; the rest is pure, so that the rules are tested on their own.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/build_state.h"

namespace flavourgraph::gc {

/// The image names found in report.json, the build records and the values files, each with
/// where it was found (for messages).
class References {
 public:
  /// Adds `text` when it reads as an image reference: `[HOST[:PORT]/]PATH:TAG`,
  /// `...@sha256:HEX`, or both. Returns whether it did.
  bool add(std::string_view text, const std::string& where);
  /// Adds a digest (`sha256:HEX`); false when it is not one.
  bool add_digest(std::string_view digest, const std::string& where);
  /// Where `repository:tag`, or `digest`, is named; nullopt when nowhere. `repository` has no
  /// registry host or prefix: a name matches when its path is `repository` or ends with
  /// `/repository` (so `registry.example/restricted/app:T` names the store's
  /// `restricted/app:T`), and has the same tag.
  [[nodiscard]] std::optional<std::string> find(std::string_view repository, std::string_view tag,
                                                std::string_view digest) const;
  /// The paths of the names, as written (host and prefix included).
  [[nodiscard]] std::vector<std::string> paths() const;
  [[nodiscard]] size_t size() const { return name_where_.size() + digests_.size(); }

 private:
  std::multimap<std::string, std::string> by_tag_;     ///< tag → path
  std::map<std::string, std::string> name_where_;      ///< "path:tag" → where
  std::map<std::string, std::string> digests_;         ///< "sha256:HEX" → where
};

/// What gc knows before it removes anything.
struct Knowledge {
  References refs;
  BuildState records;
  std::vector<std::string> notes;  ///< said before the plan (e.g. "no report.json in DIR")
};

/// Reads `state_dir`'s report.json and build records, every values file (`*.yaml`) of
/// `values_dir`, and, when values-deploys.json records a deploy of that directory in git, the
/// values files of the commit `values revert` would go back to. Missing files are fine; a file
/// that is there but does not read or parse throws an Error (config) naming it: gc never acts
/// on incomplete knowledge.
Knowledge load_knowledge(const std::filesystem::path& state_dir, const std::filesystem::path& values_dir);

/// Adds every string scalar of a values file that reads as an image reference. Throws an
/// Error (config) naming `display` when the text is not YAML.
void add_values_text(References& refs, std::string_view yaml_text, const std::string& display);

/// One image at a place: a manifest (by digest) in a repository, with every tag on it.
struct Image {
  std::string repository;        ///< as the place names it (a registry's, under its prefix)
  std::string short_repository;  ///< without the push target's prefix: what names end with
  std::string digest;            ///< sha256:HEX
  std::vector<std::string> tags;
  std::string image, flavour, kind;  ///< its config's io.flavourgraph labels; image "" when none
  std::optional<int64_t> time;       ///< image_time()
  size_t order = 0;                  ///< its place in index.json or the tag list (later: newer)
};

/// The time in a tag: its first `YYYY-MM-DD-HHMMSS` (UTC), as the tag template's {timestamp}.
std::optional<int64_t> tag_time(std::string_view tag);
/// An image's time: the newest of its tags' times; else its config's `created` (RFC 3339).
std::optional<int64_t> image_time(const std::vector<std::string>& tags, std::string_view created);
/// True for an OCI referrers tag, `sha256-<64 hex>`; `digest` gets `sha256:<hex>`.
bool is_referrers_tag(std::string_view tag, std::string* digest = nullptr);

struct Verdict {
  bool keep = true;
  std::string reason;
};

/// For each image (same order): kept when it is one of the `keep` newest of its (image,
/// flavour, kind), when `refs` names one of its tags or its digest, or when it has no
/// flavourgraph labels (not ours to remove). Newest: by time (an image without one is older
/// than any with one), then by order.
std::vector<Verdict> select(const std::vector<Image>& images, const References& refs, unsigned keep);

/// "image/flavour/kind"
std::string group_name(const Image& image);

}  // namespace flavourgraph::gc
