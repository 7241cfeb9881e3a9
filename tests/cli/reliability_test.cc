// Faults at the command's level: a values directory used by another run, a detached HEAD, a
// socket in a source tree, errors after some files were written.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "example.h"
#include "test_util.h"
#include "values_repo.h"

using fgtest::quote;
using fgtest::ValuesRepo;
namespace fs = std::filesystem;

TEST_CASE("a values directory in use by another run is refused, and nothing is written") {
  fgtest::Example ex;
  fs::create_directories(ex.values);
  // The other run: a holder of the lock on the directory itself.
  int holder = ::open(ex.values.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(::flock(holder, LOCK_EX | LOCK_NB) == 0);
  auto r = ex.build();
  ::close(holder);
  CHECK(r.status == 1);
  CHECK(r.err.find("in use by another flavourgraph run") != std::string::npos);
  CHECK(fs::is_empty(ex.values));
  CHECK_FALSE(fs::exists(ex.state / "report.json"));
}

TEST_CASE("a detached HEAD in the values repository is refused unless --allow-detached") {
  fgtest::Example ex;
  ValuesRepo repo;
  repo.git("checkout -q --detach");
  fgtest::CommandResult r = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) +
                                        " -d " + quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " +
                                        quote(ex.store.string()) + " --state-dir " + quote(ex.state.string()) +
                                        " --values-dir " + quote(repo.dir.string()) + " --registry oci:" +
                                        quote(ex.registry.string()) + " --timestamp 2024-10-29-190315 --progress quiet");
  CHECK(r.status == 2);
  CHECK(r.err.find("HEAD is detached") != std::string::npos);
  CHECK(r.err.find("--allow-detached") != std::string::npos);
  CHECK(repo.commits() == 1);
  auto again = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
                           quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
                           " --state-dir " + quote(ex.state.string()) + " --values-dir " + quote(repo.dir.string()) +
                           " --registry oci:" + quote(ex.registry.string()) +
                           " --timestamp 2024-10-29-190315 --progress quiet --allow-detached");
  INFO(again.err);
  CHECK(again.status == 0);
  CHECK(repo.commits() > 1);
}

TEST_CASE("sockets in a source tree are left out with a warning naming them") {
  fgtest::Example ex;
  fs::path sock = ex.cfg_dir / "app/w/php-fpm.sock";
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  REQUIRE(sock.string().size() < sizeof a.sun_path);
  std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  for (const char* extra : {"", " --no-cache"}) {
    auto r = ex.build(std::string(extra) + ex.meta_arg("m.json"));
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("warning: layer:") != std::string::npos);
    CHECK(r.err.find("w/php-fpm.sock") != std::string::npos);
    bool recorded = false;
    nlohmann::json meta = ex.metadata("m.json");
    for (const auto& t : meta["tasks"])
      if (t.contains("warnings")) recorded |= t["warnings"][0].get<std::string>().find("php-fpm.sock") != std::string::npos;
    CHECK(recorded);
  }
  ::close(s);
}

TEST_CASE("an error after files were written says what was written, never 'nothing was written'") {
  fgtest::Example ex;
  ValuesRepo repo;
  // report.json cannot be written: a directory has its name (the state dir itself is fine, so
  // this is found only at the end).
  fs::create_directories(ex.state / "report.json");
  auto r = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
                       quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
                       " --state-dir " + quote(ex.state.string()) + " --values-dir " +
                       quote(repo.dir.string()) + " --registry oci:" + quote(ex.registry.string()) +
                       " --timestamp 2024-10-29-190315 --progress quiet");
  CHECK(r.status == 1);
  CHECK(r.err.find("nothing was written") == std::string::npos);
  CHECK(r.err.find("report.json NOT written; 17 values file(s) written, 17 committed") != std::string::npos);
  // git's index.lock held by someone else: the files are written, none committed, and it says so.
  ValuesRepo locked;
  fgtest::write_file(locked.dir / ".git/index.lock", "");
  fgtest::Example ex2;
  auto r2 = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex2.cfg_dir / "images.yaml").string()) + " -d " +
                        quote((ex2.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex2.store.string()) +
                        " --state-dir " + quote(ex2.state.string()) + " --values-dir " + quote(locked.dir.string()) +
                        " --registry oci:" + quote(ex2.registry.string()) +
                        " --timestamp 2024-10-29-190315 --progress quiet");
  CHECK(r2.status == 1);
  CHECK(r2.err.find("nothing was written") == std::string::npos);
  CHECK(r2.err.find("report.json written; 17 values file(s) written, 0 committed") != std::string::npos);
}
