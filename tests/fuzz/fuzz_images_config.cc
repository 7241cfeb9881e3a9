// libFuzzer target: images.yaml text through the loader (parse_images_config).
// Relative paths resolve lexically against the example's directory; nothing is read or written.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "flavourgraph/config.h"
#include "flavourgraph/diagnostics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flavourgraph;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diags;
  ImagesConfig cfg = parse_images_config(text, "images.yaml", FG_FUZZ_CONFIG_DIR, diags);
  // Every message is formatted, as the CLI prints them.
  (void)diags.str();
  if (!diags.has_errors()) {
    // What the plan asks of a valid configuration.
    for (const auto& img : cfg.images)
      for (const auto& fl : img.flavours)
        for (const auto& kind : img.kinds) (void)expand_template(kind.repository, fl.args, nullptr);
  }
  return 0;
}
