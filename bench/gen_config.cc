// bench/gen-config --flavours N --kinds K --releases M --out DIR
// Writes DIR/images.yaml and DIR/deployments.yaml for fan-out benchmarks.
#include <CLI/CLI.hpp>

#include "gen_config.h"

int main(int argc, char** argv) {
  CLI::App app{"Writes a synthetic images.yaml and deployments.yaml for fan-out benchmarks"};
  unsigned flavours = 10, kinds = 3, releases = 40;
  std::string out;
  app.add_option("--flavours", flavours, "mediawiki flavours")->check(CLI::Range(1, 100000));
  app.add_option("--kinds", kinds, "kinds per flavour")->check(CLI::Range(1, 100));
  app.add_option("--releases", releases, "releases, four per namespace")->check(CLI::Range(1, 1000000));
  app.add_option("--out", out, "output directory")->required();
  CLI11_PARSE(app, argc, argv);
  auto cfg = fgbench::generate_config(flavours, kinds, releases);
  try {
    fgbench::write_config(out, cfg);
  } catch (const std::exception& e) {
    fmt::print(stderr, "gen-config: cannot write {}: {}\n", out, e.what());
    return 1;
  }
  fmt::print("wrote {0}/images.yaml and {0}/deployments.yaml\n", out);
  return 0;
}
