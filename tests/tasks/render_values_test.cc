// render-values alone: the release's file from the pushed images, written once; not written
// when an image of the release was not pushed.
#include "flavourgraph/release_values.h"
#include "task_fixture.h"

using namespace flavourgraph;

TEST_CASE("render-values: written from the plan's images, then unchanged; refused without a pushed image") {
  fgtest::TaskFixture f;
  BasePullTask pull(*f.env, 0);
  LayerTask layer(*f.env, f.layer_index("/srv/app"));
  REQUIRE(f.run(pull).outcome.state == TaskState::done);
  REQUIRE(f.run(layer).outcome.state == TaskState::done);
  uint32_t mw = f.build_index("mediawiki:publish:image"), web = f.build_index("webserver:webserver:image");
  BuildTask mw_build(*f.env, mw, pull, {&layer});
  BuildTask web_build(*f.env, web, pull, {});
  REQUIRE(f.run(mw_build).outcome.state == TaskState::done);
  REQUIRE(f.run(web_build).outcome.state == TaskState::done);
  PushTask mw_push(*f.env, mw, mw_build), web_push(*f.env, web, web_build), unpushed(*f.env, web, web_build);
  REQUIRE(f.run(mw_push).outcome.state == TaskState::done);
  REQUIRE(f.run(web_push).outcome.state == TaskState::done);

  RenderValuesTask render(*f.env, 0, mw_push, web_push);
  auto r = f.run(render);
  CHECK(r.outcome.state == TaskState::done);
  CHECK(render.rendered().file == "mw-web-main.yaml");
  CHECK(fgtest::read_file(f.tmp / "values/mw-web-main.yaml") ==
        "docker:\n  registry: registry.test/prefix\nmain_app:\n  image: restricted/mediawiki:2024-10-29-190315-publish\n"
        "mw:\n  httpd:\n    image_tag: restricted/webserver:2024-10-29-190315-webserver\nphp:\n  version: '8.1'\n");
  CHECK(render.rendered().commit_message.rfind("Updating release 'mw-web-main'", 0) == 0);
  RenderValuesTask again(*f.env, 0, mw_push, web_push);
  CHECK(f.run(again).outcome.state == TaskState::cached);

  RenderValuesTask missing(*f.env, 0, mw_push, unpushed);
  auto r3 = f.run(missing);
  CHECK(r3.outcome.state == TaskState::failed);
  CHECK(r3.outcome.error.find("not pushed") != std::string::npos);
}
