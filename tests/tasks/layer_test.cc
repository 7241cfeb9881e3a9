// layer alone: a reproducible blob in the store, cached by the tree's listing, rebuilt when a
// file changes.
#include "task_fixture.h"

using namespace flavourgraph;
using fgtest::quote;
using fgtest::run;

TEST_CASE("layer: the blob is in the store with its diffID; an unchanged tree is cached without reading a file") {
  fgtest::TaskFixture f;
  uint32_t app = f.layer_index("/srv/app");
  LayerTask layer(*f.env, app);
  auto r = f.run(layer);
  CHECK(r.outcome.state == TaskState::done);
  const oci::LayerBlob& blob = layer.blob();
  CHECK(f.store->has_blob(blob.blob.digest, blob.blob.size));
  CHECK(r.bytes_out == static_cast<uint64_t>(blob.blob.size));
  // The diffID is the sha256 of the uncompressed tar (checked with gzip and sha256sum).
  auto sum = run("gzip -dc " + quote(f.store->blob_path(blob.blob.digest).string()) + " | sha256sum");
  CHECK(sum.out.substr(0, 64) == blob.diff_id.hex);
  auto names = run("gzip -dc " + quote(f.store->blob_path(blob.blob.digest).string()) + " | tar -tf -");
  CHECK(names.out == "srv/\nsrv/app/\nsrv/app/index.php\nsrv/app/lib/\nsrv/app/lib/a.php\n");
  // Progress: the tar's bytes read, of the size its listing foretold (exact here).
  REQUIRE(r.progress.size() >= 2);
  CHECK(r.progress.front() == std::pair<uint64_t, uint64_t>(0, blob.tar_size));
  CHECK(r.progress.back() == std::pair<uint64_t, uint64_t>(blob.tar_size, blob.tar_size));

  LayerTask again(*f.env, app);
  auto r2 = f.run(again);
  CHECK(r2.outcome.state == TaskState::cached);
  CHECK(r2.bytes_in == 0);
  CHECK(r2.progress.empty());  // nothing to read
  CHECK(again.blob().blob.digest == blob.blob.digest);

  fgtest::write_file(f.tmp / "cfg/app/lib/a.php", "<?php // changed\n");
  LayerTask changed(*f.env, app);
  CHECK(f.run(changed).outcome.state == TaskState::done);
  CHECK(changed.blob().blob.digest != blob.blob.digest);
}

TEST_CASE("layer: a missing source fails the task, naming the directory") {
  fgtest::TaskFixture f;
  std::filesystem::remove_all(f.tmp / "cfg/app");
  LayerTask layer(*f.env, f.layer_index("/srv/app"));
  auto r = f.run(layer);
  CHECK(r.outcome.state == TaskState::failed);
  CHECK(r.outcome.error.find("is not a directory") != std::string::npos);
}
