// Tree indexes (content only), the stat cache, and tree deltas as layer changesets.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/tree_index.h"
#include "test_util.h"

using namespace flavourgraph;
using namespace flavourgraph::oci;
namespace fs = std::filesystem;

namespace {

int64_t now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000LL + t.tv_nsec;
}

struct Indexed {
  TreeListing listing;
  TreeIndex index;
  IndexStats stats;
};

Indexed index_of(const fs::path& root, StatCache& cache) {
  Indexed out;
  CancelSource cancel;
  out.listing = walk_tree(root, {}, nullptr);
  out.index = index_tree(root, out.listing, "spec", cache, cancel, &out.stats);
  return out;
}

std::vector<std::string> paths(const TreeDelta& d) {
  std::vector<std::string> out;
  for (const auto& e : d.listing.entries) out.push_back(e.path);
  return out;
}

}  // namespace

TEST_CASE("a tree index holds content only, reads back the same, and does not depend on this machine") {
  fgtest::TempDir tmp;
  fgtest::write_file(tmp / "a/x.txt", "x\n");
  fgtest::write_file(tmp / "b.txt", "bee\n");
  fs::create_symlink("b.txt", tmp / "link");
  StatCache cache;
  auto first = index_of(tmp.path(), cache);
  auto parsed = TreeIndex::parse(first.index.serialize());
  REQUIRE(parsed);
  CHECK(parsed->spec == "spec");
  REQUIRE(parsed->entries.size() == first.index.entries.size());
  for (size_t i = 0; i < parsed->entries.size(); ++i) CHECK(parsed->entries[i].same(first.index.entries[i]));
  CHECK(parsed->entries[2].path == "a/x.txt");
  CHECK(parsed->entries[2].digest == sha256_hex("x\n"));
  // A copy of the tree elsewhere (other inodes, other times) has the same index.
  fgtest::TempDir other;
  CHECK(fgtest::run("cp -a " + fgtest::quote(tmp.str() + "/.") + " " + fgtest::quote(other.str())).status == 0);
  StatCache none;
  CHECK(index_of(other.path(), none).index.serialize() == first.index.serialize());
  CHECK_FALSE(TreeIndex::parse("not an index"));
}

TEST_CASE("a tree's content digest: the same for a copy with other times and inodes; not for other content or modes") {
  fgtest::TempDir tmp;
  fgtest::write_file(tmp / "a/x.txt", "x\n");
  fgtest::write_file(tmp / "b.txt", "bee\n");
  fs::create_symlink("b.txt", tmp / "link");
  StatCache none;
  std::string first = content_digest(index_of(tmp.path(), none).index);
  fgtest::TempDir other;  // copied without -a: new mtimes, new inodes
  CHECK(fgtest::run("cp -r " + fgtest::quote(tmp.str() + "/.") + " " + fgtest::quote(other.str())).status == 0);
  ::utimensat(AT_FDCWD, (other / "b.txt").c_str(), nullptr, 0);
  CHECK(content_digest(index_of(other.path(), none).index) == first);
  fgtest::write_file(other / "b.txt", "bee!\n");
  std::string changed = content_digest(index_of(other.path(), none).index);
  CHECK(changed != first);
  fs::permissions(other / "a/x.txt", fs::perms::owner_exec, fs::perm_options::add);
  std::string moded = content_digest(index_of(other.path(), none).index);
  CHECK(moded != changed);
  fs::rename(other / "a/x.txt", other / "a/y.txt");  // a name is content too
  CHECK(content_digest(index_of(other.path(), none).index) != moded);
}

TEST_CASE("the stat cache: an unchanged tree is indexed without reading a file; a changed file is read") {
  fgtest::TempDir tmp;
  for (int i = 0; i < 20; ++i) fgtest::write_file(tmp / ("f" + std::to_string(i)), std::string(100, 'a' + i % 26));
  StatCache cache;
  auto first = index_of(tmp.path(), cache);
  CHECK(first.stats.files_read == 20);
  fgtest::TempDir state;
  // As if saved a while after the files were written (they are not "racy" then).
  StatCache::save(state / "cache", first.listing, first.index, now_ns() + 1'000'000'000);
  StatCache loaded = StatCache::load(state / "cache");
  CHECK(loaded.size() == 20);
  auto second = index_of(tmp.path(), loaded);
  CHECK(second.stats.files_read == 0);
  fgtest::write_file(tmp / "f3", "changed");
  auto third = index_of(tmp.path(), loaded);
  CHECK(third.stats.files_read == 1);
  CHECK(third.index.serialize() != first.index.serialize());
}

TEST_CASE("a tree delta: changes, additions, whiteouts, type changes, opaque directories, hard links") {
  fgtest::TempDir tmp;
  auto root = tmp / "t";
  fgtest::write_file(root / "keep.txt", "same\n");
  fgtest::write_file(root / "edit.txt", "old\n");
  fgtest::write_file(root / "gone.txt", "bye\n");
  fgtest::write_file(root / "olddir/a", "a\n");
  fgtest::write_file(root / "olddir/deep/b", "b\n");
  fgtest::write_file(root / "tofile/c", "c\n");
  fgtest::write_file(root / "todir", "was a file\n");
  fgtest::write_file(root / "cleared/1", "1\n");
  fgtest::write_file(root / "cleared/2", "2\n");
  fgtest::write_file(root / "target", "content\n");
  fgtest::write_file(root / "mode.sh", "#!/bin/sh\n");
  fs::create_symlink("keep.txt", root / "link");
  StatCache cache;
  auto before = index_of(root, cache);

  fgtest::write_file(root / "edit.txt", "new\n");
  fs::remove(root / "gone.txt");
  fs::remove_all(root / "olddir");
  fs::remove_all(root / "tofile");
  fgtest::write_file(root / "tofile", "now a file\n");
  fs::remove(root / "todir");
  fgtest::write_file(root / "todir/inside", "now a dir\n");
  fs::remove(root / "cleared/1");
  fs::remove(root / "cleared/2");
  fgtest::write_file(root / "cleared/3", "3\n");
  fs::create_hard_link(root / "target", root / "zlink");
  fs::remove(root / "link");
  fs::create_symlink("edit.txt", root / "link");
  ::chmod((root / "mode.sh").c_str(), 0755);
  fgtest::write_file(root / "added/new.txt", "new file\n");
  auto after = index_of(root, cache);
  TreeDelta d = diff_trees(before.index, after.index, after.listing);

  // Whiteouts first (each hides an old entry before a new one of its name is written), then the
  // entries in tar order, each with its directories ("" is the tree's root).
  CHECK(paths(d) == std::vector<std::string>{".wh.gone.txt", ".wh.olddir", ".wh.todir", ".wh.tofile",
                                             "cleared/.wh..wh..opq", "", "added", "added/new.txt", "cleared", "cleared/3",
                                             "edit.txt", "link", "mode.sh", "target", "todir", "todir/inside", "tofile",
                                             "zlink"});
  CHECK(d.added == 5);    // added, added/new.txt, cleared/3, todir/inside, zlink
  CHECK(d.changed == 5);  // edit.txt, link, mode.sh, todir, tofile
  CHECK(d.removed == 4);  // gone.txt, olddir (one whiteout for its subtree), cleared's 2 entries
  auto zlink = std::find_if(d.listing.entries.begin(), d.listing.entries.end(),
                            [](const TreeEntry& e) { return e.path == "zlink"; });
  REQUIRE(zlink != d.listing.entries.end());
  CHECK(zlink->type == EntryType::hardlink);  // written with its file, "target"
  CHECK(zlink->link == "target");
  // Nothing changed: an empty delta.
  auto again = index_of(root, cache);
  CHECK(diff_trees(after.index, again.index, again.listing).empty());
}

TEST_CASE("a whiteout's directory is written with it, with its mode, and the directories above it") {
  fgtest::TempDir tmp;
  auto root = tmp / "t";
  fgtest::write_file(root / "conf/private/a.key", "a\n");
  fgtest::write_file(root / "conf/private/b.key", "b\n");
  fgtest::write_file(root / "other.txt", "same\n");
  ::chmod((root / "conf/private").c_str(), 0750);
  StatCache none;
  auto before = index_of(root, none);
  fs::remove(root / "conf/private/a.key");
  auto after = index_of(root, none);
  TreeDelta d = diff_trees(before.index, after.index, after.listing);
  CHECK(paths(d) == std::vector<std::string>{"conf/private/.wh.a.key", "", "conf", "conf/private"});
  auto priv = std::find_if(d.listing.entries.begin(), d.listing.entries.end(),
                           [](const TreeEntry& e) { return e.path == "conf/private"; });
  REQUIRE(priv != d.listing.entries.end());
  CHECK((priv->mode & 07777) == 0750);
  CHECK(d.removed == 1);
}

TEST_CASE("tar order of whole paths: a directory before its contents, as a tar stream lists them") {
  CHECK(tar_path_less("a", true, "a/b", false));
  CHECK(tar_path_less("a-c", false, "a", true));  // "a-c" < "a/"
  CHECK(tar_path_less("a", false, "a-c", false));
  CHECK(tar_path_less("a.b/x", false, "a/y", false));
  CHECK_FALSE(tar_path_less("a/b", false, "a", true));
}

TEST_CASE("a delta hides an old entry before it writes a new one of that name, whatever the name's bytes") {
  fgtest::TempDir tmp;
  auto root = tmp / "t";
  fgtest::write_file(root / ".htaccess", "Deny from all\n");
  fgtest::write_file(root / "-x", "dash\n");
  StatCache none;
  auto before = index_of(root, none);
  fs::remove(root / ".htaccess");
  fs::create_symlink("elsewhere", root / ".htaccess");
  fs::remove(root / "-x");
  fgtest::write_file(root / "-x/inside", "now a dir\n");
  auto after = index_of(root, none);
  auto p = paths(diff_trees(before.index, after.index, after.listing));
  auto at = [&](const std::string& name) { return std::find(p.begin(), p.end(), name) - p.begin(); };
  CHECK(at(".wh..htaccess") < at(".htaccess"));
  CHECK(at(".wh.-x") < at("-x"));
}

TEST_CASE("a delta writes the root again when its mode changed, and never makes the root opaque") {
  fgtest::TempDir tmp;
  auto root = tmp / "t";
  fgtest::write_file(root / "a/1", "1\n");
  fgtest::write_file(root / "b/2", "2\n");
  StatCache none;
  auto before = index_of(root, none);
  ::chmod(root.c_str(), 0750);
  auto chmodded = index_of(root, none);
  TreeDelta d = diff_trees(before.index, chmodded.index, chmodded.listing);
  CHECK_FALSE(d.empty());
  CHECK(paths(d) == std::vector<std::string>{""});
  // Every old top-level entry gone: whiteouts each, no opaque marker at the root (at dest "/"
  // it would hide the whole base image).
  fs::remove_all(root / "a");
  fs::remove_all(root / "b");
  fgtest::write_file(root / "c/3", "3\n");
  auto after = index_of(root, none);
  auto p = paths(diff_trees(chmodded.index, after.index, after.listing));
  CHECK(std::find(p.begin(), p.end(), ".wh..wh..opq") == p.end());
  CHECK(std::find(p.begin(), p.end(), ".wh.a") != p.end());
}

TEST_CASE("the stat cache does not trust a file changed just before it was saved") {
  fgtest::TempDir tmp;
  fgtest::write_file(tmp / "t/old", "old\n");
  timespec past[2] = {{946684800, 0}, {946684800, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (tmp / "t/old").c_str(), past, 0) == 0);  // mtime long ago; ctime now
  fgtest::write_file(tmp / "t/fresh", "fresh\n");
  StatCache none;
  auto first = index_of(tmp / "t", none);
  StatCache::save(tmp / "cache", first.listing, first.index);
  // Both files' ctime is within the racy window of the save: neither is trusted yet.
  auto loaded = StatCache::load(tmp / "cache");
  CHECK(loaded.size() == 0);
}
