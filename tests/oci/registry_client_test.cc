// Registry client pieces that need no server: auth challenges and Docker config credentials.
#include <doctest/doctest.h>

#include "flavourgraph/oci/registry.h"
#include "test_util.h"

using namespace flavourgraph::oci;

TEST_CASE("WWW-Authenticate challenges") {
  auto b = parse_challenge(R"(Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:a/b:pull")");
  REQUIRE(b);
  CHECK(b->scheme == "bearer");
  CHECK(b->params["realm"] == "https://auth.example.org/token");
  CHECK(b->params["service"] == "registry.example.org");
  CHECK(b->params["scope"] == "repository:a/b:pull");
  auto basic = parse_challenge(R"(Basic realm="test-realm")");
  REQUIRE(basic);
  CHECK(basic->scheme == "basic");
  CHECK(basic->params["realm"] == "test-realm");
  auto unquoted = parse_challenge("bearer realm=http://127.0.0.1:1/t, service=svc");
  REQUIRE(unquoted);
  CHECK(unquoted->params["realm"] == "http://127.0.0.1:1/t");
  CHECK(unquoted->params["service"] == "svc");
  CHECK_FALSE(parse_challenge("Negotiate abc"));
}

TEST_CASE("credentials from the Docker config") {
  fgtest::TempDir tmp;
  // "auth" is base64 of user:password; keys may carry a scheme or a path.
  fgtest::write_file(tmp / "config.json", R"({"auths": {
    "https://registry.example.org/v1/": {"auth": "dXNlcjpwYXNzOndpdGg6Y29sb25z"},
    "127.0.0.1:5000": {"username": "u2", "password": "p2"},
    "other.example.org": {}
  }})");
  auto a = docker_credentials("registry.example.org", tmp.str().c_str(), nullptr);
  REQUIRE(a);
  CHECK(a->username == "user");
  CHECK(a->password == "pass:with:colons");
  auto b = docker_credentials("127.0.0.1:5000", tmp.str().c_str(), nullptr);
  REQUIRE(b);
  CHECK(b->username == "u2");
  CHECK_FALSE(docker_credentials("other.example.org", tmp.str().c_str(), nullptr));
  CHECK_FALSE(docker_credentials("nowhere.example.org", tmp.str().c_str(), nullptr));
  // $HOME/.docker/config.json when DOCKER_CONFIG is unset.
  fgtest::write_file(tmp / "home/.docker/config.json", R"({"auths": {"h.example.org": {"auth": "YTpi"}}})");
  auto c = docker_credentials("h.example.org", nullptr, (tmp / "home").c_str());
  REQUIRE(c);
  CHECK(c->username == "a");
  CHECK(c->password == "b");
}

TEST_CASE("an unreachable registry fails after bounded retries, with a clear message") {
  flavourgraph::CancelSource cancel;
  RegistryOptions o;
  o.host = "127.0.0.1:1";  // nothing listens on port 1
  o.plain_http = true;
  o.retry.attempts = 3;
  o.retry.base = std::chrono::milliseconds(10);
  RegistryClient c(o, cancel);
  auto t0 = std::chrono::steady_clock::now();
  try {
    c.ping();
    FAIL("ping succeeded");
  } catch (const RegistryError& e) {
    std::string what = e.what();
    CHECK(what.find("registry 127.0.0.1:1: /v2/") != std::string::npos);
    CHECK(what.find("gave up after 3 attempt(s)") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
}
