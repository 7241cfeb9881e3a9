#include "flavourgraph/publish.h"

#include <fmt/format.h>

#include <algorithm>

namespace flavourgraph {

size_t commit_values(const ValuesDir& dir, std::vector<RenderedRelease> releases) {
  if (!dir.is_git()) return 0;
  std::stable_sort(releases.begin(), releases.end(), [](const RenderedRelease& a, const RenderedRelease& b) {
    return static_cast<int>(a.target->release->stage) < static_cast<int>(b.target->release->stage);
  });
  size_t commits = 0;
  for (const auto& r : releases)
    if (dir.commit(r.target->values_file(), values_commit_message(r.target->fq_name(), r.mw_image, r.web_image)))
      ++commits;
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
