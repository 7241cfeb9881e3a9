// bench/backend: the example's whole build with its RUN-built PHP bases (a build engine runs
// the RUN steps, then every image appends the shared app layer natively) against what a user
// writes today: a shell script of one `buildah bud` per image, each image's Containerfile
// copying the app tree, then `buildah push` of each image to an OCI layout. Same tree, same
// bases, same storage driver (vfs), side by side in one run, cold each time; medians.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>

#include "bench_util.h"
#include "flavourgraph/fs_util.h"
#include "gen_tree.h"

namespace fs = std::filesystem;
using flavourgraph::write_file_atomic;

namespace {

/// The script: the two PHP bases, then the six mediawiki images and the webserver, each
/// `buildah bud` from a Containerfile like the kind it stands for, then pushed.
std::string write_script(const fs::path& dir, const fs::path& cfg, const fs::path& tree) {
  fs::create_directories(dir);
  write_file_atomic(dir / "app.Containerfile",
                    "ARG BASE\nFROM $BASE\nARG PHP_VERSION\nCOPY --chown=33:33 . /srv/mediawiki\nUSER 33\n"
                    "WORKDIR /srv/mediawiki\nENV PHP_VERSION=$PHP_VERSION\n"
                    "LABEL org.example.mediawiki.php.version=$PHP_VERSION\n");
  write_file_atomic(dir / "debug.Containerfile", "ARG BASE\nFROM $BASE\nCOPY . /etc/php/conf.d\nENV PHP_DEBUG=1\n");
  write_file_atomic(dir / "web.Containerfile", "FROM scratch\nCOPY . /etc/apache2/sites-enabled\n");
  std::string s = "#!/bin/sh\n# One buildah bud per image, then a push of each: what a release engineer writes.\nset -e\n";
  s += fmt::format("B='buildah --root {0}/storage --runroot {0}/run --storage-driver vfs'\n", dir.string());
  s += fmt::format("R={}/registry\n", dir.string());
  for (const char* v : {"7.4", "8.1"}) {
    s += fmt::format("$B bud -q --isolation chroot --layers=false --from oci:{0}/shell:busybox --build-arg PHP_VERSION={1} "
                     "-t php-base:{1} {0}/php-base >/dev/null\n",
                     cfg.string(), v);
    s += fmt::format("$B push -q php-base:{0} oci:$R:php-base-{0}\n", v);
    for (const char* kind : {"image", "cli-image"}) {
      s += fmt::format("$B bud -q --isolation chroot --layers=false -f {0}/app.Containerfile --build-arg BASE=localhost/php-base:{1} "
                       "--build-arg PHP_VERSION={1} -t mw-{2}:{1} {3} >/dev/null\n",
                       dir.string(), v, kind, tree.string());
      s += fmt::format("$B push -q mw-{0}:{1} oci:$R:mw-{0}-{1}\n", kind, v);
    }
    s += fmt::format("$B bud -q --isolation chroot --layers=false -f {0}/debug.Containerfile --build-arg BASE=localhost/mw-image:{1} "
                     "-t mw-debug-image:{1} {2}/debug >/dev/null\n",
                     dir.string(), v, cfg.string());
    s += fmt::format("$B push -q mw-debug-image:{0} oci:$R:mw-debug-image-{0}\n", v);
  }
  s += fmt::format("$B bud -q --isolation chroot --layers=false --from oci:{0}/bases:httpd -f {1}/web.Containerfile "
                   "-t webserver {0}/webserver >/dev/null\n",
                   cfg.string(), dir.string());
  s += "$B push -q webserver oci:$R:webserver\n";
  write_file_atomic(dir / "build.sh", s);
  return "sh " + (dir / "build.sh").string() + fmt::format(" >/dev/null && rm -rf {0}/storage {0}/run {0}/registry", dir.string());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RUN builds: flavourgraph's graph against one buildah bud per image"};
  fs::path work = fs::temp_directory_path() / "flavourgraph-bench-backend";
  std::string binary = fs::canonical("/proc/self/exe").parent_path().string() + "/../flavourgraph";
  unsigned files = 20000, runs = 3;
  double megabytes = 200;
  app.add_option("--dir", work, "work directory (the generated tree is kept there and reused)");
  app.add_option("--files", files, "files in the app tree");
  app.add_option("--mb", megabytes, "approximate size of the app tree in MB");
  app.add_option("--runs", runs, "cold builds of each, for the medians");
  app.add_option("--flavourgraph", binary, "the flavourgraph binary");
  CLI11_PARSE(app, argc, argv);

  fs::path tree = work / "tree";
  auto stats = fgbench::generate_tree(tree, files, static_cast<uint64_t>(megabytes * 1e6));
  fs::path fg_dir = work / "flavourgraph";
  auto example = fgbench::prepare_example(fg_dir, tree, "gzip-5", binary, FG_SOURCE_DIR, /*run_bases=*/true);
  std::string script = write_script(work / "script", fg_dir / "cfg", tree);

  std::vector<double> fg, sh;
  for (unsigned i = 0; i < runs; ++i) {  // alternated, so that both see the same machine
    fgbench::measure(example.clean);
    auto a = fgbench::measure(example.build);
    if (a.status != 0) throw std::runtime_error("flavourgraph failed: " + example.build);
    fg.push_back(a.seconds);
    auto b = fgbench::measure(script);
    if (b.status != 0) throw std::runtime_error("the buildah script failed: " + script);
    sh.push_back(b.seconds);
  }
  double f = fgbench::median(fg), s = fgbench::median(sh);
  fmt::print("app tree: {} files, {:.0f} MB; 2 RUN-built PHP bases + 7 images; {} cold runs each\n", stats.files,
             stats.bytes / 1e6, runs);
  fmt::print("flavourgraph (buildah for RUN, native layers):  {:7.2f} s (median; runs {:.2f})\n", f, fmt::join(fg, ", "));
  fmt::print("shell script, one buildah bud per image:        {:7.2f} s (median; runs {:.2f})\n", s, fmt::join(sh, ", "));
  fmt::print("ratio: flavourgraph is {:.1f} x faster   (target >= 5 x)\n", s / f);
  return 0;
}
