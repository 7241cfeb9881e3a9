// `flavourgraph values revert`: the values files of the previous good deploy, back in one commit.
#include <fmt/format.h>

#include "common.h"
#include "flavourgraph/values.h"
#include "render_args.h"

namespace flavourgraph::cli {

void add_revert_options(CLI::App& cmd, RevertArgs& a) {
  cmd.add_option("--values-dir", a.values_dir, "the values directory (a git work tree) the last deploy committed in")
      ->required()
      ->type_name("DIR");
  cmd.add_option("--state-dir", a.state_dir, "where builds and renders record their deploys (values-deploys.json)")
      ->type_name("DIR")
      ->capture_default_str();
}

int run_revert(const RevertArgs& a) {
  ValuesDir dir(a.values_dir, true);
  if (!dir.is_git()) {
    fmt::print(stderr, "flavourgraph: error: --values-dir: {} is not in a git work tree; nothing to revert\n", a.values_dir);
    return kExitUsage;
  }
  std::string abs = std::filesystem::absolute(a.values_dir).lexically_normal().string();
  std::vector<ValuesDeploy> deploys = load_deploys(a.state_dir);
  const ValuesDeploy* last = nullptr;
  for (const auto& d : deploys)
    if (d.values_dir == abs) last = &d;
  if (!last || last->before.empty()) {
    fmt::print(stderr, "flavourgraph: error: {} records no deploy in {} to revert (builds and renders record theirs); "
               "nothing reverted\n",
               (std::filesystem::path(a.state_dir) / "values-deploys.json").string(), abs);
    return kExitUsage;
  }
  dir.lock();
  if (auto detached = dir.detached_head()) {
    fmt::print(stderr, "flavourgraph: error: {}: {}; nothing reverted\n", abs, *detached);
    return kExitTaskFailed;
  }
  auto head = dir.head();
  if (head != last->after) {
    fmt::print(stderr,
               "flavourgraph: error: the values changed since the last deploy ({} {} ended at {}, HEAD is {}): "
               "nothing reverted; revert by hand with git\n",
               last->what, last->time, last->after.substr(0, 12), head.value_or("unborn").substr(0, 12));
    return kExitTaskFailed;
  }
  auto files = dir.revert_to(last->before, "Configuration(s) reverted");
  note_deploy(dir, head, a.state_dir, "revert");
  fmt::print(stderr, "flavourgraph: {} values file(s) back as before the {} of {} ({}), in 1 commit\n", files.size(),
             last->what, last->time, last->before.substr(0, 12));
  return kExitOk;
}

}  // namespace flavourgraph::cli
