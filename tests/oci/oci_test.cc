// OCI building blocks: patterns, tree walks, tar streams, compression, the layout store.
// Archives are checked with GNU tar, gzip and zstd.
#include <doctest/doctest.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/reference.h"
#include "flavourgraph/oci/layer_writer.h"
#include "flavourgraph/oci/tar_writer.h"
#include "flavourgraph/oci/tree.h"
#include "test_util.h"

using namespace flavourgraph;
using namespace flavourgraph::oci;
using fgtest::quote;
using fgtest::run;

TEST_CASE("rsync-style patterns") {
  CHECK(Pattern(".git").matches(".git", true));
  CHECK(Pattern(".git").matches("a/b/.git", true));
  CHECK_FALSE(Pattern(".git").matches("a/.github", true));
  CHECK(Pattern("**/cache/l10n/upstream").matches("php-1.43/cache/l10n/upstream", true));
  CHECK(Pattern("**/cache/l10n/upstream").matches("x/y/php-1.43/cache/l10n/upstream", true));
  CHECK_FALSE(Pattern("**/cache/l10n/upstream").matches("php-1.43/cache/l10n/upstream2", true));
  CHECK(Pattern("cache/l10n").matches("php/cache/l10n", true));   // unanchored: trailing components
  CHECK_FALSE(Pattern("cache/l10n").matches("php/xcache/l10n", true));
  CHECK(Pattern("/php-*").matches("php-1.42", true));
  CHECK_FALSE(Pattern("/php-*").matches("w/php-1.42", true));     // anchored at the root
  CHECK(Pattern("*.php").matches("w/index.php", false));
  CHECK_FALSE(Pattern("/*.php").matches("w/index.php", false));   // * stays within a component
  CHECK(Pattern("logs/").matches("a/logs", true));
  CHECK_FALSE(Pattern("logs/").matches("a/logs", false));          // directories only
  CHECK(Pattern("file?.txt").matches("file1.txt", false));
  CHECK(Pattern("[ab]*.txt").matches("b1.txt", false));
  CHECK_FALSE(Pattern("[!ab]*.txt").matches("b1.txt", false));
  CHECK(Pattern("\\*.txt").matches("*.txt", false));
  CHECK_FALSE(Pattern("\\*.txt").matches("a.txt", false));
  // Patterns that end in a class or an escape.
  CHECK(Pattern("*.sw[op]").matches("a/.main.c.swp", false));
  CHECK(Pattern("*.py[co]").matches("lib/x.pyc", false));
  CHECK_FALSE(Pattern("*.py[co]").matches("lib/x.py", false));
  CHECK(Pattern("/php-1.4[23]").matches("php-1.43", true));
  CHECK_FALSE(Pattern("/php-1.4[23]").matches("php-1.44", true));
  CHECK(Pattern("foo\\?").matches("x/foo?", false));
  CHECK_FALSE(Pattern("foo\\?").matches("x/fooa", false));
  CHECK(Pattern("a[b").matches("a[b", false));  // an unclosed class is literal
  Filter versions({"/php-1.4[23]"}, {"/php-*"});
  CHECK_FALSE(versions.excluded("php-1.42", true));
  CHECK(versions.excluded("php-1.41", true));

  // First match wins, includes before excludes; unmatched is kept.
  Filter f({"/php-1.43.0"}, {"/php-*", ".git"});
  CHECK_FALSE(f.excluded("php-1.43.0", true));
  CHECK(f.excluded("php-1.42.0", true));
  CHECK(f.excluded("w/.git", true));
  CHECK_FALSE(f.excluded("w/index.php", false));
}

namespace {

/// A tree with every entry type a layer handles.
void make_tree(const std::filesystem::path& root) {
  fgtest::write_file(root / "b.txt", "bee\n");
  fgtest::write_file(root / "a-c", "dash sorts before slash\n");
  fgtest::write_file(root / "a/x.php", "<?php echo 1;\n");
  fgtest::write_file(root / "a0", "zero sorts after slash\n");
  fgtest::write_file(root / ".git/HEAD", "ref: refs/heads/main\n");
  std::string deep = "d";
  for (int i = 0; i < 12; ++i) deep += "/a-rather-long-directory-name-" + std::to_string(i);
  fgtest::write_file(root / deep / "file-with-a-long-name.txt", "deep\n");
  std::filesystem::create_directories(root / "empty");
  std::filesystem::create_symlink("a/x.php", root / "link");
  std::filesystem::create_hard_link(root / "b.txt", root / "hard");
  ::chmod((root / "a/x.php").c_str(), 0750);
  ::chmod((root / "a").c_str(), 02775);
}


}  // namespace

TEST_CASE("the walk lists in tar order, never follows links, finds hard links") {
  fgtest::TempDir tmp;
  make_tree(tmp / "src");
  // A socket cannot be archived: it is reported and left out.
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = (tmp / "src" / "sock").string();
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);

  auto listing = walk_tree(tmp / "src", Filter({}, {".git"}), nullptr);
  ::close(s);
  std::vector<std::string> paths;
  for (const auto& e : listing.entries) paths.push_back(e.path + (e.type == EntryType::dir && !e.path.empty() ? "/" : ""));
  CHECK(paths.front() == "");
  std::vector<std::string> sorted(paths.begin() + 1, paths.end());
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::vector<std::string>(paths.begin() + 1, paths.end()) == sorted);  // bytewise order of tar names
  CHECK(std::find(paths.begin(), paths.end(), ".git/") == paths.end());
  CHECK(listing.skipped == std::vector<std::string>{"sock"});
  for (const auto& e : listing.entries) {
    if (e.path == "link") {
      CHECK(e.type == EntryType::symlink);
      CHECK(e.link == "a/x.php");
    }
    if (e.path == "b.txt") CHECK(e.type == EntryType::file);  // first in tar order: the file
    if (e.path == "hard") {                                     // later: a link to it
      CHECK(e.type == EntryType::hardlink);
      CHECK(e.link == "b.txt");
    }
    if (e.path == "a") CHECK(e.mode == 02775);
  }
}

TEST_CASE("the tar stream is read by GNU tar: names, links, owner, modes, fixed mtime") {
  fgtest::TempDir tmp;
  make_tree(tmp / "src");
  auto listing = walk_tree(tmp / "src", Filter(), nullptr);
  TarOptions opt{"srv/app", 33, 33, 1700000000};
  TarStream tar(tmp / "src", listing, opt);
  std::string archive;
  std::vector<char> buf(7777);  // an odd chunk size: headers and data cross chunk edges
  for (size_t n; (n = tar.read(buf.data(), buf.size())) > 0;) archive.append(buf.data(), n);
  CHECK(archive.size() % 512 == 0);
  CHECK(tar.bytes() == archive.size());
  fgtest::write_file(tmp / "layer.tar", archive);

  auto listed = run("LC_ALL=C TZ=UTC tar --numeric-owner --full-time -tvf " + quote((tmp / "layer.tar").string()));
  REQUIRE(listed.status == 0);
  auto rows = fgtest::lines(listed.out);
  CHECK(rows.at(0).find("srv/") != std::string::npos);
  CHECK(rows.at(0).find(" 0/0 ") != std::string::npos);  // parents of dest are root-owned
  for (const auto& r : rows) CHECK(r.find("2023-11-14 22:13:20") != std::string::npos);
  auto names = run("tar -tf " + quote((tmp / "layer.tar").string()));
  auto name_rows = fgtest::lines(names.out);
  auto sorted = name_rows;
  std::sort(sorted.begin(), sorted.end());
  CHECK(name_rows == sorted);
  CHECK(names.out.find("file-with-a-long-name.txt") != std::string::npos);  // via a pax path record

  REQUIRE(run("mkdir -p " + quote((tmp / "out").string()) + " && tar --numeric-owner -xpf " +
              quote((tmp / "layer.tar").string()) + " -C " + quote((tmp / "out").string()))
              .status == 0);
  auto diff = run("diff -r --no-dereference " + quote((tmp / "src").string()) + " " + quote((tmp / "out/srv/app").string()));
  CHECK_MESSAGE(diff.status == 0, diff.out);
  struct stat st {};
  REQUIRE(::lstat((tmp / "out/srv/app/a/x.php").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0750);
  CHECK(st.st_uid == 33);
  REQUIRE(::lstat((tmp / "out/srv/app/hard").c_str(), &st) == 0);
  CHECK(st.st_nlink == 2);
  REQUIRE(::lstat((tmp / "out/srv/app/link").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
}

TEST_CASE("layers: standard gzip and zstd streams, the same bytes whatever the thread count") {
  fgtest::TempDir tmp;
  make_tree(tmp / "src");
  // Enough data for several 1 MiB chunks.
  std::string big;
  for (int i = 0; i < 60000; ++i) big += "<?php // line " + std::to_string(i * 7919 % 100003) + " of generated text\n";
  fgtest::write_file(tmp / "src" / "big.php", big);
  auto listing = walk_tree(tmp / "src", Filter(), nullptr);
  TarOptions opt{"srv/app", 33, 33, 0};
  CancelSource cancel;
  tbb::global_control threads(tbb::global_control::max_allowed_parallelism, 4);
  for (Compression c : {Compression::gzip, Compression::zstd}) {
    CompressionSpec spec{c, c == Compression::gzip ? 5 : 3};
    auto store = Layout::open(tmp / ("store-" + spec.str()), true);
    LayerBlob one, four;
    tbb::task_arena(1).execute([&] { one = write_layer(tmp / "src", listing, opt, spec, *store, cancel); });
    std::vector<uint64_t> reads;  // progress: the tar bytes read, after each 1 MiB chunk
    tbb::task_arena(4).execute([&] {
      four = write_layer(tmp / "src", listing, opt, spec, *store, cancel, [&](uint64_t n) { reads.push_back(n); });
    });
    REQUIRE(reads.size() == (four.tar_size + kChunkSize - 1) / kChunkSize);
    for (size_t i = 0; i + 1 < reads.size(); ++i) CHECK(reads[i] == (i + 1) * kChunkSize);
    CHECK(reads.back() == four.tar_size);
    CHECK(estimated_tar_size(listing, opt) == four.tar_size);  // the total progress is shown against
    CHECK(one.blob.digest == four.blob.digest);
    CHECK(one.diff_id == four.diff_id);
    CHECK(one.blob.media_type == spec.media_type());
    std::string blob = store->blob_path(one.blob.digest).string();
    std::string tool = c == Compression::gzip ? "gzip" : "zstd";
    CHECK(run(tool + " -t " + quote(blob)).status == 0);
    auto sum = run(tool + " -dc " + quote(blob) + " | sha256sum");
    CHECK(sum.out.substr(0, 64) == one.diff_id.hex);
    auto blob_sum = run("sha256sum " + quote(blob));
    CHECK(blob_sum.out.substr(0, 64) == one.blob.digest.hex);
    CHECK(std::filesystem::is_empty(store->tmp_dir()));
  }
}

TEST_CASE("the layout store verifies blobs and keeps index.json consistent") {
  fgtest::TempDir tmp;
  auto store = Layout::open(tmp / "store", true);
  CHECK(fgtest::read_file(tmp / "store/oci-layout") == R"({"imageLayoutVersion":"1.0.0"})");
  auto d = store->put_blob("hello", "text/plain");
  CHECK(d.digest.hex == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK(store->has_blob(d.digest, 5));
  CHECK_FALSE(store->has_blob(d.digest, 6));
  CHECK(store->read_blob(d.digest) == "hello");

  // A wrong expected digest: nothing is stored, no temp file is left.
  {
    BlobWriter w(*store);
    w.write("other");
    CHECK_THROWS_AS(w.commit(d.digest), StoreError);
  }
  CHECK(std::filesystem::is_empty(store->tmp_dir()));
  // A corrupted blob is detected on read.
  ::chmod(store->blob_path(d.digest).c_str(), 0644);
  fgtest::write_file(store->blob_path(d.digest), "HELLO");
  CHECK_THROWS_WITH_AS(store->read_blob(d.digest), doctest::Contains("does not match its digest"), StoreError);

  Descriptor m{"application/vnd.oci.image.manifest.v1+json", Digest::sha256_of("m"), 1, {}, std::nullopt, {}};
  CHECK(store->set_ref("repo/a:1", m));
  CHECK_FALSE(store->set_ref("repo/a:1", m));  // unchanged
  CHECK(store->resolve("repo/a:1")->digest == m.digest);
  auto reopened = Layout::open(tmp / "store", false);
  CHECK(reopened->resolve("repo/a:1")->digest == m.digest);
  CHECK(reopened->ref_names() == std::vector<std::string>{"repo/a:1"});

  // A directory with other content is not taken over.
  fgtest::write_file(tmp / "notes/readme.txt", "mine");
  CHECK_THROWS_WITH_AS(Layout::open(tmp / "notes", true), doctest::Contains("not empty and not an OCI image layout"),
                       StoreError);
}

TEST_CASE("one run at a time holds a store") {
  fgtest::TempDir tmp;
  auto first = Layout::open(tmp / "store", true);
  first->lock();
  auto second = Layout::open(tmp / "store", true);
  std::string expected = "is in use by another flavourgraph run (pid " + std::to_string(getpid()) + ")";
  CHECK_THROWS_WITH_AS(second->lock(), doctest::Contains(expected.c_str()), StoreError);
  first.reset();  // released
  CHECK_NOTHROW(second->lock());
}

TEST_CASE("references") {
  auto a = Reference::parse("oci:bases:php8.1-cli", "/cfg");
  REQUIRE(a);
  CHECK(a->kind == Reference::Kind::layout);
  CHECK(a->dir == "/cfg/bases");
  CHECK(a->tag == "php8.1-cli");
  auto b = Reference::parse("oci:/abs/dir:restricted/mw:2024-10-29-190315-publish", "/cfg");
  REQUIRE(b);
  CHECK(b->dir == "/abs/dir");
  CHECK(b->tag == "restricted/mw:2024-10-29-190315-publish");
  auto c = Reference::parse("127.0.0.1:5000/restricted/mw:tag", "/cfg");
  REQUIRE(c);
  CHECK(c->host == "127.0.0.1:5000");
  CHECK(c->repository == "restricted/mw");
  CHECK(c->tag == "tag");
  auto d = Reference::parse("docker-registry.example.org/php@sha256:" + std::string(64, 'a'), "/cfg");
  REQUIRE(d);
  CHECK(d->digest);
  CHECK(d->tag.empty());
  auto e = Reference::parse("debian", "/cfg");
  CHECK(e->host == "docker.io");
  CHECK(e->repository == "library/debian");
  CHECK(e->tag == "latest");
  CHECK_FALSE(Reference::parse("oci:dir", "/cfg"));
  auto t = Target::parse("registry.example.org:5000/prefix/", "/cfg");
  REQUIRE(t);
  CHECK(t->host == "registry.example.org:5000");
  CHECK(t->prefix == "prefix");
}

TEST_CASE("the tree hash of a walk that stores nothing equals that of the listing") {
  fgtest::TempDir tmp;
  make_tree(tmp / "src");
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = (tmp / "src" / "a" / "sock").string();
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  for (const Filter& f : {Filter(), Filter({}, {".git"}), Filter({"/a"}, {"/a*", "*.txt"})}) {
    std::string streamed = tree_hash(tmp / "src", f, nullptr);
    CHECK(streamed.size() == 64);
    CHECK(streamed == tree_hash(walk_tree(tmp / "src", f, nullptr)));
  }
  ::close(s);
  std::string before = tree_hash(tmp / "src", Filter(), nullptr);
  // Any change shows: content with the same size (mtime, ctime), a mode, a new empty file.
  fgtest::write_file(tmp / "src" / "a0", "ZERO sorts after slash\n");
  std::string after_edit = tree_hash(tmp / "src", Filter(), nullptr);
  CHECK(after_edit != before);
  ::chmod((tmp / "src" / "b.txt").c_str(), 0600);
  std::string after_chmod = tree_hash(tmp / "src", Filter(), nullptr);
  CHECK(after_chmod != after_edit);
  fgtest::write_file(tmp / "src" / "empty" / "new", "");
  CHECK(tree_hash(tmp / "src", Filter(), nullptr) != after_chmod);
  // An excluded path's changes do not.
  std::string filtered = tree_hash(tmp / "src", Filter({}, {".git"}), nullptr);
  fgtest::write_file(tmp / "src" / ".git" / "HEAD", "ref: refs/heads/other\n");
  CHECK(tree_hash(tmp / "src", Filter({}, {".git"}), nullptr) == filtered);
}

TEST_CASE("the store refuses a symlinked temp directory and never follows a symlinked lock") {
  fgtest::TempDir tmp;
  std::filesystem::create_directories(tmp / "elsewhere");
  fgtest::write_file(tmp / "elsewhere/precious", "keep me");
  Layout::open(tmp / "store", true);
  std::filesystem::remove_all(tmp / "store/.flavourgraph/tmp");
  std::filesystem::create_symlink(tmp / "elsewhere", tmp / "store/.flavourgraph/tmp");
  CHECK_THROWS_WITH_AS(Layout::open(tmp / "store", true), doctest::Contains("is not a directory (a symbolic link?)"),
                       StoreError);
  CHECK(fgtest::read_file(tmp / "elsewhere/precious") == "keep me");

  auto other = Layout::open(tmp / "store2", true);
  std::filesystem::create_symlink(tmp / "elsewhere/precious", tmp / "store2/.flavourgraph/lock");
  CHECK_THROWS_AS(other->lock(), StoreError);
  CHECK(fgtest::read_file(tmp / "elsewhere/precious") == "keep me");
}
