// gc's rules on their own: what reads as an image name, how names match the store's and a
// registry's, the time of an image, which images stay, and what the state and values files name.
#include <doctest/doctest.h>

#include "flavourgraph/gc.h"
#include "flavourgraph/values.h"
#include "test_util.h"
#include "values_repo.h"

using namespace flavourgraph;
using namespace flavourgraph::gc;
namespace fs = std::filesystem;

namespace {

const std::string kHex(64, 'a');
const std::string kHex2(64, 'b');

Image image(const std::string& group_image, std::vector<std::string> tags, size_t order, std::string digest = "") {
  Image img;
  img.repository = img.short_repository = "restricted/app";
  img.digest = digest.empty() ? "sha256:" + std::string(63, '0') + std::to_string(order) : digest;
  img.tags = std::move(tags);
  img.image = group_image;
  img.flavour = "publish";
  img.kind = "image";
  img.time = image_time(img.tags, "");
  img.order = order;
  return img;
}

}  // namespace

TEST_CASE("gc: what reads as an image name, and how names match a place's repository and tag") {
  References refs;
  CHECK(refs.add("docker-registry.example/restricted/app:2024-10-29-190315-publish", "report"));
  CHECK(refs.add("restricted/web:2024-10-29-190315-webserver", "values"));
  CHECK(refs.add("127.0.0.1:5000/restricted/cli@sha256:" + kHex, "record"));
  CHECK(refs.add("oci:/tmp/x/registry/restricted/debug:latest", "record"));
  for (std::string not_a_name : {"8.1", "docker-registry.discovery.wmnet", "hello world:x", "a:b c", "x@sha256:short",
                                 "", ":tag", "restricted/app:-bad"})
    CHECK_MESSAGE(!refs.add(not_a_name, "values"), not_a_name);

  // By path, at a path boundary, whatever host or prefix is in front.
  CHECK(refs.find("restricted/app", "2024-10-29-190315-publish", "") == "report");
  CHECK(refs.find("app", "2024-10-29-190315-publish", "") == "report");
  CHECK_FALSE(refs.find("estricted/app", "2024-10-29-190315-publish", ""));
  CHECK_FALSE(refs.find("restricted/app2", "2024-10-29-190315-publish", ""));
  CHECK_FALSE(refs.find("restricted/app", "2024-10-29-190315-publish-81", ""));
  CHECK(refs.find("restricted/web", "2024-10-29-190315-webserver", "") == "values");
  CHECK(refs.find("restricted/debug", "latest", "") == "record");
  // By digest, in any repository.
  CHECK(refs.find("elsewhere/thing", "sometag", "sha256:" + kHex) == "record");
  CHECK_FALSE(refs.find("elsewhere/thing", "sometag", "sha256:" + kHex2));
  CHECK(refs.add_digest("sha256:" + kHex2, "record 2"));
  CHECK_FALSE(refs.add_digest("sha256:xyz", "record 2"));
  CHECK(refs.find("elsewhere/thing", "", "sha256:" + kHex2) == "record 2");
}

TEST_CASE("gc: every string of a values file that reads as an image name, at any depth") {
  References refs;
  add_values_text(refs,
                  "docker:\n  registry: docker-registry.example\nmain_app:\n  image: restricted/app:2024-01-01-000000-a\n"
                  "mw:\n  httpd:\n    image_tag: \"restricted/web:2024-01-01-000000-w\"\nphp:\n  version: '8.1'\n"
                  "extra:\n  - [x, {deep: 'restricted/old@sha256:" + kHex + "'}]\n",
                  "v.yaml");
  CHECK(refs.find("restricted/app", "2024-01-01-000000-a", "") == "v.yaml");
  CHECK(refs.find("restricted/web", "2024-01-01-000000-w", ""));
  CHECK(refs.find("restricted/old", "", "sha256:" + kHex));
  CHECK(refs.size() == 3);
  add_values_text(refs, "# nothing but a comment\n", "empty.yaml");
  try {
    add_values_text(refs, "a: [unclosed\n", "broken.yaml");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::config);
    CHECK(std::string(e.what()).find("broken.yaml") != std::string::npos);
  }
}

TEST_CASE("gc: an image's time is its newest tag's timestamp, else its config's created time") {
  CHECK(tag_time("2024-10-29-190315-publish-81") == 1730228595);
  CHECK(tag_time("build-2024-10-29-190315") == 1730228595);
  CHECK_FALSE(tag_time("latest"));
  CHECK_FALSE(tag_time("12024-10-29-190315"));   // part of a longer number
  CHECK_FALSE(tag_time("2024-10-29-1903150"));
  CHECK_FALSE(tag_time("2024-13-29-190315"));    // no month 13
  CHECK(image_time({"latest", "2024-10-29-190315-a", "2024-11-01-000000-a"}, "") == tag_time("2024-11-01-000000-a"));
  CHECK(image_time({"latest"}, "2024-10-29T19:03:15Z") == 1730228595);
  CHECK(image_time({"latest"}, "2024-10-29T21:03:15.5+02:00") == 1730228595);
  CHECK_FALSE(image_time({"latest"}, "yesterday"));
  std::string digest;
  CHECK(is_referrers_tag("sha256-" + kHex, &digest));
  CHECK(digest == "sha256:" + kHex);
  CHECK_FALSE(is_referrers_tag("sha256-" + kHex.substr(1)));
  CHECK_FALSE(is_referrers_tag("sha512-" + kHex));
}

TEST_CASE("gc: the newest N of each image, flavour and kind stay, and every image something names") {
  std::vector<Image> images = {
      image("app", {"2024-01-01-000000-publish"}, 0),
      image("app", {"2024-01-02-000000-publish"}, 1),
      image("app", {"2024-01-04-000000-publish", "latest"}, 2),
      image("app", {"2024-01-03-000000-publish"}, 3),
      image("web", {"2024-01-01-000000-web"}, 4),
      image("", {"someone-elses"}, 5),
      image("app", {"custom-a"}, 6),  // no time: older than any with one; later place is newer
      image("app", {"custom-b"}, 7),
  };
  References refs;
  refs.add("registry.example/restricted/app:2024-01-01-000000-publish", "values a.yaml");
  auto v = select(images, refs, 2);
  REQUIRE(v.size() == images.size());
  CHECK(v[2].keep);  // newest
  CHECK(v[3].keep);  // second newest
  CHECK_FALSE(v[1].keep);
  CHECK(v[1].reason.find("older than the 2 newest of app/publish/image") != std::string::npos);
  CHECK(v[0].keep);  // the oldest, but named
  CHECK(v[0].reason == "named by values a.yaml");
  CHECK(v[4].keep);  // alone in its group
  CHECK(v[5].keep);  // not flavourgraph's
  CHECK(v[5].reason.find("no io.flavourgraph labels") != std::string::npos);
  CHECK_FALSE(v[6].keep);
  CHECK_FALSE(v[7].keep);

  // Keep 1 of two images without times: the later in the index.
  auto untimed = select({images[6], images[7]}, References{}, 1);
  CHECK_FALSE(untimed[0].keep);
  CHECK(untimed[1].keep);
  // A name by digest keeps the image whatever its tags.
  References by_digest;
  by_digest.add_digest(images[1].digest, "build record");
  CHECK(select(images, by_digest, 1)[1].keep);
  CHECK_FALSE(select(images, by_digest, 1)[3].keep);
}

TEST_CASE("gc: the names in report.json, the build records, the values files and the deploy `values revert` goes back to") {
  fgtest::TempDir tmp;
  fs::path state = tmp / "state", values = tmp / "values-missing";
  Knowledge none = load_knowledge(state, values);
  CHECK(none.refs.size() == 0);
  CHECK(none.notes.size() == 2);  // no report.json, no values dir

  fgtest::write_file(state / "report.json",
                     R"({"app": {"flavours": {"publish": {"kinds": {"image": {"image_name": "r.example/restricted/app:2024-01-01-000000-publish"}}, "metadata": {}}}}})");
  Knowledge k = load_knowledge(state, values);
  CHECK(k.refs.find("restricted/app", "2024-01-01-000000-publish", ""));

  SUBCASE("a report that does not parse: an error naming it") {
    fgtest::write_file(state / "report.json", "{not json");
    CHECK_THROWS_WITH_AS(load_knowledge(state, values), doctest::Contains((state / "report.json").c_str()), Error);
  }
  SUBCASE("a build record that does not parse: an error naming it") {
    fgtest::write_file(state / "builds/app/publish/image.json", "{}");
    CHECK_THROWS_WITH_AS(load_knowledge(state, values), doctest::Contains("builds/app/publish/image.json"), Error);
  }
  SUBCASE("values files, and those of the commit before the last deploy") {
    fgtest::ValuesRepo repo;
    fgtest::write_file(repo.dir / "ns-rel.yaml", "main_app:\n  image: restricted/app:2024-01-02-000000-publish\n");
    repo.git("add ns-rel.yaml");
    repo.git("commit -q -m old");
    std::string before = repo.git("rev-parse HEAD").out.substr(0, 40);
    fgtest::write_file(repo.dir / "ns-rel.yaml", "main_app:\n  image: restricted/app:2024-01-03-000000-publish\n");
    repo.git("commit -q -a -m new");
    std::string after = repo.git("rev-parse HEAD").out.substr(0, 40);
    Knowledge without = load_knowledge(state, repo.dir);
    CHECK(without.refs.find("restricted/app", "2024-01-03-000000-publish", ""));
    CHECK_FALSE(without.refs.find("restricted/app", "2024-01-02-000000-publish", ""));
    record_deploy(state, {fs::absolute(repo.dir).lexically_normal().string(), before, after, "build", "2024-01-03-000000"});
    Knowledge with = load_knowledge(state, repo.dir);
    auto where = with.refs.find("restricted/app", "2024-01-02-000000-publish", "");
    REQUIRE(where);
    CHECK(where->find("values revert") != std::string::npos);
    fgtest::write_file(repo.dir / "broken.yaml", "a: [\n");
    CHECK_THROWS_WITH_AS(load_knowledge(state, repo.dir), doctest::Contains("broken.yaml"), Error);
  }
}
