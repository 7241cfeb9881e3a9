// libFuzzer target: report.json text through parse_report. A report that reads is written
// again and must read back the same (render reads what build writes).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "flavourgraph/report.h"

namespace {

bool same_kinds_and_metadata(const flavourgraph::BuiltImages& a,
                             const flavourgraph::BuiltImages& b) {
  if (a.images.size() != b.images.size()) return false;
  for (auto i = a.images.begin(), j = b.images.begin(); i != a.images.end(); ++i, ++j) {
    if (i->first != j->first || i->second.size() != j->second.size()) return false;
    for (auto f = i->second.begin(), g = j->second.begin(); f != i->second.end(); ++f, ++g) {
      if (f->first != g->first || f->second.kinds != g->second.kinds) return false;
      const auto& ma = f->second.metadata;
      const auto& mb = g->second.metadata;
      if (ma.size() != mb.size()) return false;
      for (auto m = ma.begin(), n = mb.begin(); m != ma.end(); ++m, ++n)
        if (m->first != n->first || m->second.text != n->second.text ||
            m->second.json_literal != n->second.json_literal)
          return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flavourgraph;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto built = parse_report(text);
  if (!built) return 0;
  std::string written = report_json(*built, ReportFormat::v3);
  auto again = parse_report(written);
  if (!again || !same_kinds_and_metadata(*built, *again)) {
    std::fprintf(stderr, "fuzz_report: the report does not read back as written: %s\n%s\n",
                 again ? "it differs" : again.message().c_str(), written.c_str());
    std::abort();
  }
  (void)report_json(*built, ReportFormat::v2);
  return 0;
}
