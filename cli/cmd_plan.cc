#include <fmt/format.h>

#include <cstdlib>
#include <ctime>

#include "common.h"

namespace flavourgraph::cli {

int run_plan(const PlanArgs& args, const std::string& format) {
  auto loaded = load_and_expand(args, static_cast<int64_t>(std::time(nullptr)),
                                std::getenv("SOURCE_DATE_EPOCH"));
  if (!loaded) return kExitUsage;
  const Plan& plan = loaded->plan;
  std::string out;
  if (format == "json")
    out = plan_to_json(plan);
  else if (format == "dot")
    out = plan_to_dot(plan);
  else
    out = plan_to_text(plan);
  fmt::print("{}", out);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace flavourgraph::cli
