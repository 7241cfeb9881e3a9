// libFuzzer target: deployments-file text through the loader (parse_deployments), then the
// per-cluster expansion that every command runs on a valid file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/deployments.h"
#include "flavourgraph/diagnostics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flavourgraph;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diags;
  DeploymentsFile deployments = parse_deployments(text, "deployments.yaml", diags);
  if (!diags.has_errors()) {
    static const std::vector<std::string> kClusters = {"eqiad", "codfw"};
    for (const auto& t : expand_targets(deployments, kClusters, diags)) (void)t.values_file();
    (void)expand_targets(deployments, {}, diags);
  }
  (void)diags.str();
  return 0;
}
