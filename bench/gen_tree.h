#pragma once
// A deterministic tree of PHP-like text files for layer benchmarks: the same bytes on every
// machine for the same parameters (a fixed-seed generator, fixed file mtimes).

#include <fmt/format.h>
#include <sys/stat.h>
#include <utime.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace fgbench {

struct TreeStats {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t s_;
};

/// Appends PHP-like text of about `size` bytes: classes, methods, comments, identifiers from a
/// vocabulary, so that it compresses like source code (roughly 4-5x with gzip -6).
inline void php_text(Rng& rng, size_t size, std::string& out) {
  static const std::array<const char*, 48> words = {
      "$this", "$wiki", "$title", "$user", "$request", "$config", "$services", "$context", "$parser", "$output",
      "$page", "$revision", "$content", "$options", "$cache", "$db", "$row", "$result", "$params", "$message",
      "getText", "getTitle", "getUser", "getConfig", "getService", "newFromText", "isAllowed", "execute",
      "wfDebugLog", "wfMessage", "MediaWikiServices", "getInstance", "Html::element", "Xml::tags", "array_merge",
      "count", "isset", "empty", "implode", "explode", "strlen", "in_array", "sprintf", "self::", "static::",
      "null", "true", "false"};
  static const std::array<const char*, 8> ops = {" = ", " === ", " !== ", " . ", " => ", "->", " && ", " || "};
  out += "<?php\n/**\n * Generated for flavourgraph's layer benchmark.\n *\n * @file\n */\n\nnamespace MediaWiki\\Bench;\n\n";
  int klass = 0;
  while (out.size() < size) {
    out += fmt::format("class Generated{}{} extends {} {{\n", klass++, rng.below(1000), words[rng.below(20)] + 1);
    int methods = 2 + static_cast<int>(rng.below(6));
    for (int m = 0; m < methods && out.size() < size; ++m) {
      out += fmt::format("\t/**\n\t * @param {} {}\n\t * @return bool\n\t */\n", words[rng.below(20)] + 1, words[rng.below(20)]);
      out += fmt::format("\tpublic function {}{}( {} ) {{\n", words[20 + rng.below(20)], rng.below(100), words[rng.below(20)]);
      int lines = 3 + static_cast<int>(rng.below(12));
      for (int l = 0; l < lines; ++l) {
        out += "\t\t";
        int depth = static_cast<int>(rng.below(3));
        for (int d = 0; d < depth; ++d) out += '\t';
        switch (rng.below(4)) {
          case 0:
            out += fmt::format("if ( {}( {} ) ) {{\n", words[20 + rng.below(28)], words[rng.below(20)]);
            break;
          case 1:
            out += fmt::format("{}{}{}( '{}', {} );\n", words[rng.below(20)], ops[rng.below(8)], words[20 + rng.below(28)],
                               words[20 + rng.below(20)], rng.below(100000));
            break;
          case 2: out += fmt::format("// {} {} {}\n", words[rng.below(48)] , words[rng.below(48)], rng.below(1000)); break;
          default: out += fmt::format("return {};\n", words[rng.below(48)]); break;
        }
      }
      out += "\t}\n\n";
    }
    out += "}\n\n";
  }
}

/// Writes the tree (or keeps it when a marker says it was written with these parameters).
inline TreeStats generate_tree(const std::filesystem::path& root, unsigned files, uint64_t total_bytes) {
  std::string marker = fmt::format("files={} bytes={} v1\n", files, total_bytes);
  auto marker_path = root.parent_path() / (root.filename().string() + ".done");
  TreeStats st;
  {
    std::ifstream in(marker_path);
    std::string line, all;
    while (std::getline(in, line)) all += line + "\n";
    if (all.rfind(marker, 0) == 0) {
      st.files = files;
      st.bytes = std::stoull(all.substr(marker.size()));
      return st;
    }
  }
  std::filesystem::remove_all(root);
  Rng rng(20241029);
  uint64_t mean = total_bytes / files;
  const unsigned per_dir = 50;
  std::string text;
  for (unsigned i = 0; i < files; ++i) {
    unsigned d = i / per_dir;
    auto dir = root / fmt::format("php-1.{}.0", 40 + d % 4) / fmt::format("includes{:03d}", d / 4 % 300) /
               fmt::format("sub{:02d}", d / 1200);
    if (i % per_dir == 0) std::filesystem::create_directories(dir);
    // Sizes spread from a tenth to about twice the mean.
    uint64_t size = mean / 10 + rng.below(mean * 19 / 10);
    text.clear();
    php_text(rng, size, text);
    text.resize(size);
    auto path = dir / fmt::format("Generated{:05d}.php", i);
    std::ofstream(path, std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
    utimbuf times{1700000000, 1700000000};
    utime(path.c_str(), &times);
    st.bytes += size;
    ++st.files;
  }
  std::ofstream(marker_path) << marker << st.bytes << "\n";
  return st;
}

}  // namespace fgbench
