#pragma once
/// The last steps of publishing values: git commits, stage by stage, and files of releases no
/// longer configured (listed, or removed with --prune). Shared by `build` and `render`.

#include <set>
#include <string>
#include <vector>

#include "flavourgraph/deployments.h"
#include "flavourgraph/diagnostics.h"
#include "flavourgraph/values.h"

namespace flavourgraph {

struct RenderedRelease {
  const ReleaseTarget* target = nullptr;
  std::string mw_image;   ///< registry stripped
  std::string web_image;  ///< registry stripped
};

/// In a git work tree, commits each changed file on its own, testservers first, then
/// canaries, then production (file order within a stage). Returns the number of commits.
size_t commit_values(const ValuesDir& dir, std::vector<RenderedRelease> releases);

/// Files in the values directory that no configured release writes: a warning each, or
/// removed when `prune`. Returns their names.
std::vector<std::string> stale_values(const ValuesDir& dir, const std::set<std::string>& configured, bool prune,
                                      Diagnostics& diags);

}  // namespace flavourgraph
