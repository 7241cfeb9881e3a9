#pragma once
/// report.json (design.md §6): the images a build published, which other tools (and
/// `flavourgraph render`) read. v3 (default):
///   {"<image>": {"flavours": {"<fl>": {"kinds": {"<kind>": {"image_name": "<registry>/<repo>:<tag>"}},
///                                      "metadata": {...}}}}}
/// v2 (older): {"<image>": {"by-flavour": {"<fl>": {"<kind>": "<registry>/<repo>:<tag>"}}}}
/// v3 kinds also carry "base": the base pinned by digest (or the `from` kind's image). After a
/// --no-push run, a v3 flavour also has "unpushed": {"<kind>": {"ref": "<repo>:<tag>", "digest":
/// ..., "store": DIR}}, the newer images that run left in its store, beside "kinds" (which
/// lists pushed images only, so that readers of image_name see no change); v2 has no room for
/// them.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "flavourgraph/config.h"
#include "flavourgraph/error.h"

namespace flavourgraph {

enum class ReportFormat { v3, v2 };

/// A metadata value: a string, or (from a report another tool wrote) a JSON number, boolean or
/// null kept in its JSON spelling, so that values files write it as production would.
struct MetaValue {
  std::string text;
  bool json_literal = false;
};

struct BuiltImages {
  struct Unpushed {
    std::string ref;     ///< repository:tag in the store
    std::string digest;  ///< its manifest digest
    std::string store;   ///< the store's directory
  };
  struct Flavour {
    std::map<std::string, std::string> kinds;  ///< kind → full image name, as pushed
    std::map<std::string, Unpushed> unpushed;  ///< kind → an image built later and not pushed
    std::map<std::string, std::string> bases;  ///< kind → the pinned base it was built on (v3 only)
    std::map<std::string, MetaValue> metadata;
  };
  std::map<std::string, std::map<std::string, Flavour>> images;  ///< image → flavour

  void add(const std::string& image, const std::string& flavour, const std::string& kind, const std::string& name,
           const StringPairs& metadata, const std::string& base = "");
  /// Production's lookup: the image of (image, flavour, kind), or its error message
  /// ("Image flavour '<fl>' not found among built images in [...]", "Image kind ...").
  [[nodiscard]] std::optional<std::string> find(const std::string& image, const std::string& flavour,
                                                const std::string& kind, std::string* error) const;
  [[nodiscard]] std::optional<MetaValue> metadata(const std::string& image, const std::string& flavour,
                                                    const std::string& key) const;
  void add_unpushed(const std::string& image, const std::string& flavour, const std::string& kind, Unpushed u);
  /// The images of `newer` replace these (kind by kind; a flavour's metadata as a whole, when
  /// `newer` pushed some kind of it); a pushed kind drops its unpushed image; the others stay.
  void merge(const BuiltImages& newer);
  [[nodiscard]] bool empty() const { return images.empty(); }
  [[nodiscard]] size_t count_unpushed() const;
};

std::string report_json(const BuiltImages& built, ReportFormat format);
/// Reads a v3 or v2 report.
Expected<BuiltImages> parse_report(std::string_view json);

}  // namespace flavourgraph
