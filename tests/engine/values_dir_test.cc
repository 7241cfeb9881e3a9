// Every status git reports for a values file: committed, or an error naming it.
#include <doctest/doctest.h>

#include "flavourgraph/values.h"
#include "test_util.h"
#include "values_repo.h"

using namespace flavourgraph;
using fgtest::ValuesRepo;
namespace fs = std::filesystem;

TEST_CASE("values files are committed whatever git reports for them") {
  const std::string file = "ns-rel.yaml", content = "image: new\n";
  SUBCASE("?? untracked") {
    ValuesRepo repo;
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK(v.commit(file, "msg"));
    CHECK(repo.at_head(file) == content);
    CHECK(repo.status().empty());
  }
  SUBCASE("M modified") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / file, "image: old\n");
    repo.git("add " + file);
    repo.git("commit -q -m old");
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK(v.commit(file, "msg"));
    CHECK(repo.at_head(file) == content);
    CHECK(repo.status().empty());
  }
  SUBCASE("T type changed: a symbolic link replaced by the file") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / "target.txt", "elsewhere\n");
    fs::create_symlink("target.txt", repo.dir / file);
    repo.git("add " + file + " target.txt");
    repo.git("commit -q -m link");
    ValuesDir v(repo.dir, true);
    CHECK(v.write(file, content));
    CHECK_FALSE(fs::is_symlink(repo.dir / file));
    CHECK(fgtest::read_file(repo.dir / "target.txt") == "elsewhere\n");  // not written through
    CHECK(v.commit(file, "msg"));
    CHECK(repo.at_head(file) == content);
    CHECK(repo.git("ls-tree HEAD " + file).out.rfind("100644", 0) == 0);
    CHECK(repo.status().empty());
  }
  SUBCASE("A added, then changed") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / file, "image: staged\n");
    repo.git("add " + file);
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK(v.commit(file, "msg"));
    CHECK(repo.at_head(file) == content);
    CHECK(repo.status().empty());
  }
  SUBCASE("D deleted in the index, present on disk") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / file, "image: old\n");
    repo.git("add " + file);
    repo.git("commit -q -m old");
    repo.git("rm -q --cached " + file);
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK(v.commit(file, "msg"));
    CHECK(repo.at_head(file) == content);
    CHECK(repo.status().empty());
  }
  SUBCASE("R renamed onto the file") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / "old-name.yaml", "image: old\n");
    repo.git("add old-name.yaml");
    repo.git("commit -q -m old");
    repo.git("mv old-name.yaml " + file);
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK(v.commit(file, "msg"));
    CHECK(repo.at_head(file) == content);
  }
  SUBCASE("!! ignored: an error naming the file, nothing committed silently") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / ".gitignore", "*.yaml\n");
    repo.git("add .gitignore");
    repo.git("commit -q -m ignore");
    int before = repo.commits();
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK_THROWS_WITH(v.commit(file, "msg"), doctest::Contains("ignored by git"));
    CHECK(repo.commits() == before);
  }
  SUBCASE("UU in a merge conflict: an error naming the file") {
    ValuesRepo repo;
    fgtest::write_file(repo.dir / file, "image: base\n");
    repo.git("add " + file);
    repo.git("commit -q -m base");
    repo.git("checkout -q -b other");
    fgtest::write_file(repo.dir / file, "image: other\n");
    repo.git("commit -q -am other");
    repo.git("checkout -q main");
    fgtest::write_file(repo.dir / file, "image: main\n");
    repo.git("commit -q -am main");
    repo.git("merge -q other");
    REQUIRE(repo.status().rfind("UU", 0) == 0);
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK_THROWS_WITH(v.commit(file, "msg"), doctest::Contains("merge conflict"));
  }
  SUBCASE("unchanged: no commit") {
    ValuesRepo repo;
    ValuesDir v(repo.dir, true);
    v.write(file, content);
    CHECK(v.commit(file, "msg"));
    int before = repo.commits();
    CHECK_FALSE(v.write(file, content));
    CHECK_FALSE(v.commit(file, "msg"));
    CHECK(repo.commits() == before);
  }
}

