// The registry client's protocol over a fake transport (an in-memory registry): auth
// challenges, retries and their time budget, mounts, monolithic and chunked uploads,
// redirects. The same client is checked against a real registry in registry_test.cc.
#include <doctest/doctest.h>

#include "fake_registry.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/registry.h"
#include "test_util.h"

using namespace flavourgraph;
using namespace flavourgraph::oci;
using fgtest::FakeRegistry;

namespace {

/// Time that passes only by waiting: retries run at once, and their waits are recorded.
class FakeClock final : public oci::Clock {
 public:
  [[nodiscard]] std::chrono::steady_clock::time_point now() const override { return now_; }
  bool wait(std::chrono::milliseconds d, const CancelSource& cancel) const override {
    waits.push_back(d);
    now_ += d;
    return !cancel.requested();
  }
  void advance(std::chrono::milliseconds d) { now_ += d; }
  mutable std::vector<std::chrono::milliseconds> waits;

 private:
  mutable std::chrono::steady_clock::time_point now_{};
};

RegistryOptions options(const std::string& host = "registry.test") {
  RegistryOptions o;
  o.host = host;
  return o;
}

Descriptor descriptor_of(const std::string& content) {
  return {"application/octet-stream", Digest::sha256_of(content), static_cast<int64_t>(content.size()), {}, std::nullopt,
          {}};
}

}  // namespace

TEST_CASE("basic auth: the challenge is answered with the credentials, then sent at once") {
  FakeRegistry reg;
  reg.require_basic("user", "secret");
  reg.put_blob("app", "hello");
  CancelSource cancel;
  FakeClock clock;
  auto o = options();
  o.credentials = Credentials{"user", "secret"};
  RegistryClient client(o, reg, cancel, clock);
  CHECK(client.blob_size("app", Digest::sha256_of("hello")) == 5);
  CHECK(client.blob_size("app", Digest::sha256_of("absent")) == std::nullopt);
  // One 401, then every request carries the credentials.
  CHECK(reg.requests().size() == 3);
  CHECK(reg.requests()[0].headers.size() == 0);
  CHECK(reg.requests()[2].headers.back() == "Authorization: Basic " + base64("user:secret"));
}

TEST_CASE("basic auth without credentials, or with wrong ones: a clear error, no retry") {
  FakeRegistry reg;
  reg.require_basic("user", "secret");
  CancelSource cancel;
  FakeClock clock;
  RegistryClient anonymous(options(), reg, cancel, clock);
  CHECK_THROWS_WITH_AS(anonymous.ping(), doctest::Contains("needs credentials"), RegistryError);
  auto o = options();
  o.credentials = Credentials{"user", "wrong"};
  RegistryClient wrong(o, reg, cancel, clock);
  CHECK_THROWS_WITH_AS(wrong.ping(), doctest::Contains("authentication failed"), RegistryError);
  CHECK(clock.waits.empty());
  for (const auto& r : reg.requests())
    for (const auto& h : r.headers) CHECK(h.find("wrong") == std::string::npos);  // base64 only, never in clear
}

TEST_CASE("bearer auth: one token per scope from the realm, kept for later requests") {
  FakeRegistry reg;
  reg.require_bearer();
  reg.put_blob("app", "layer");
  CancelSource cancel;
  FakeClock clock;
  RegistryClient client(options(), reg, cancel, clock);
  auto d = Digest::sha256_of("layer");
  CHECK(client.blob_size("app", d) == 5);
  CHECK(client.blob_size("app", d) == 5);
  CHECK(client.blob_size("app", d, /*for_push=*/true) == 5);
  CHECK(reg.tokens_issued() == std::set<std::string>{"repository:app:pull", "repository:app:pull,push"});
  CHECK(reg.count("GET", "auth.test/token") == 2);
  // A realm over plain HTTP to a host not listed as insecure would be refused; this one is HTTPS.
  CHECK(reg.count("HEAD", "/blobs/") == 5);  // two 401s, then three authorized
}

TEST_CASE("retries: transient failures are retried with growing waits; others are final at once") {
  CancelSource cancel;
  SUBCASE("503 twice, then success") {
    FakeRegistry reg;
    reg.fail_next(2, 503);
    FakeClock clock;
    RegistryClient client(options(), reg, cancel, clock);
    CHECK_NOTHROW(client.ping());
    REQUIRE(clock.waits.size() == 2);
    CHECK(clock.waits[0] >= std::chrono::milliseconds(500));
    CHECK(clock.waits[0] <= std::chrono::milliseconds(750));
    CHECK(clock.waits[1] >= std::chrono::milliseconds(1000));
  }
  SUBCASE("429 is transient too; attempts are bounded and the error says how many") {
    FakeRegistry reg;
    reg.fail_next(100, 429);
    FakeClock clock;
    auto o = options();
    o.retry.attempts = 4;
    RegistryClient client(o, reg, cancel, clock);
    CHECK_THROWS_WITH_AS(client.ping(), doctest::Contains("gave up after 4 attempt(s)"), RegistryError);
    CHECK(reg.requests().size() == 4);
  }
  SUBCASE("a 4xx is final") {
    FakeRegistry reg;
    reg.fail_next(1, 403);
    FakeClock clock;
    RegistryClient client(options(), reg, cancel, clock);
    CHECK_THROWS_WITH_AS(client.ping(), doctest::Contains("403"), RegistryError);
    CHECK(reg.requests().size() == 1);
    CHECK(clock.waits.empty());
  }
  SUBCASE("no attempt starts past the time allowed, counting its wait") {
    FakeRegistry reg;
    reg.fail_next(100, 503);
    FakeClock clock;
    auto o = options();
    o.retry.attempts = 100;
    o.retry.total = std::chrono::milliseconds(10000);
    RegistryClient client(o, reg, cancel, clock);
    auto t0 = clock.now();
    CHECK_THROWS_AS(client.ping(), RegistryError);
    // Waits of 0.5, 1, 2, 4 s (each + up to half) end before 10 s; the next would not.
    CHECK(clock.now() - t0 < std::chrono::milliseconds(10000));
    CHECK(reg.requests().size() >= 4);
  }
}

TEST_CASE("the retry budget: next_wait refuses a wait that would end past the total") {
  RetryPolicy p;
  std::mt19937 rng(7);
  CHECK(next_wait(p, 1, std::chrono::seconds(0), rng).has_value());
  CHECK_FALSE(next_wait(p, 1, std::chrono::milliseconds(119600), rng).has_value());  // 0.5 s more would pass 120 s
  CHECK_FALSE(next_wait(p, 5, std::chrono::seconds(0), rng).has_value());            // the fifth was the last
  for (int a = 1; a < 5; ++a) {
    auto w = next_wait(p, a, std::chrono::seconds(0), rng);
    REQUIRE(w);
    CHECK(*w >= std::min(p.max_delay, p.base * (1 << (a - 1))));
  }
}

TEST_CASE("mounts: a blob another repository holds is mounted; otherwise the opened session is closed") {
  FakeRegistry reg;
  reg.put_blob("base", "shared layer");
  CancelSource cancel;
  FakeClock clock;
  RegistryClient client(options(), reg, cancel, clock);
  auto d = Digest::sha256_of("shared layer");
  CHECK(client.mount_blob("app", d, "base"));
  CHECK(reg.has_blob("app", d.str()));
  auto other = Digest::sha256_of("not anywhere");
  CHECK_FALSE(client.mount_blob("app", other, "base"));
  CHECK(reg.count("DELETE", "/blobs/uploads/") == 1);
  CHECK_FALSE(reg.has_blob("app", other.str()));
}

TEST_CASE("uploads: monolithic below the chunk size, PATCH chunks with Content-Range above it") {
  fgtest::TempDir tmp;
  CancelSource cancel;
  FakeClock clock;
  std::string small = "small blob", big(2500, 'b');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  fgtest::write_file(tmp / "small", small);
  fgtest::write_file(tmp / "big", big);
  FakeRegistry reg;
  auto o = options();
  o.chunk_size = 1000;
  RegistryClient client(o, reg, cancel, clock);
  client.upload_blob("app", descriptor_of(small), tmp / "small");
  CHECK(reg.count("PATCH") == 0);
  CHECK(reg.has_blob("app", Digest::sha256_of(small).str()));
  client.upload_blob("app", descriptor_of(big), tmp / "big");
  CHECK(reg.has_blob("app", Digest::sha256_of(big).str()));
  std::vector<std::string> ranges;
  for (const auto& r : reg.requests())
    if (r.method == "PATCH")
      for (const auto& h : r.headers)
        if (h.rfind("Content-Range:", 0) == 0) ranges.push_back(h);
  CHECK(ranges == std::vector<std::string>{"Content-Range: 0-999", "Content-Range: 1000-1999", "Content-Range: 2000-2499"});
  CHECK(client.bytes_sent() == small.size() + big.size());
}

TEST_CASE("an upload that fails midway starts again from a new session") {
  fgtest::TempDir tmp;
  CancelSource cancel;
  FakeClock clock;
  std::string big(2500, 'z');
  fgtest::write_file(tmp / "big", big);
  FakeRegistry reg;
  reg.fail_next(1, 503, [](const FakeRegistry::Request& r) { return r.method == "PATCH"; });
  auto o = options();
  o.chunk_size = 1000;
  RegistryClient client(o, reg, cancel, clock);
  client.upload_blob("app", descriptor_of(big), tmp / "big");
  CHECK(reg.has_blob("app", Digest::sha256_of(big).str()));
  CHECK(reg.count("POST", "/blobs/uploads/") == 2);
}

TEST_CASE("manifests: by tag and digest, verified; HEAD gives the descriptor; PUT by tag") {
  FakeRegistry reg;
  std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  reg.put_manifest("app", "v1", m, std::string(media::kManifest));
  CancelSource cancel;
  FakeClock clock;
  RegistryClient client(options(), reg, cancel, clock);
  auto got = client.get_manifest("app", "v1");
  CHECK(got.bytes == m);
  CHECK(got.media_type == media::kManifest);
  CHECK(client.get_manifest("app", got.digest.str()).bytes == m);
  auto head = client.head_manifest("app", "v1");
  REQUIRE(head);
  CHECK(head->digest == got.digest);
  CHECK_FALSE(client.head_manifest("app", "v2"));
  client.put_manifest("app", "v2", m, std::string(media::kManifest));
  CHECK(reg.manifest("app", "v2") == m);
  CHECK_THROWS_WITH_AS(client.get_manifest("app", "missing"), doctest::Contains("not found"), RegistryError);
}

namespace {

/// A transport that answers from a function and records what it was asked.
class ScriptedTransport final : public HttpTransport {
 public:
  explicit ScriptedTransport(std::function<HttpResponse(const HttpRequest&)> f) : f_(std::move(f)) {}
  HttpResponse perform(const HttpRequest& r) override {
    seen.push_back(r);
    return f_(r);
  }
  [[nodiscard]] uint64_t bytes_sent() const override { return 0; }
  [[nodiscard]] uint64_t bytes_received() const override { return 0; }
  std::vector<HttpRequest> seen;

 private:
  std::function<HttpResponse(const HttpRequest&)> f_;
};

}  // namespace

TEST_CASE("redirects: followed hop by hop, relative or absolute; plain HTTP only where allowed; credentials "
          "only to the registry") {
  ScriptedTransport inner([](const HttpRequest& r) {
    HttpResponse out;
    if (r.url == "https://registry.test/v2/app/blobs/x") {
      out.status = 307;
      out.headers["location"] = "/storage/x";
    } else if (r.url == "https://registry.test/storage/x") {
      out.status = 302;
      out.headers["location"] = "http://cdn.test/x?sig=1";
    } else {
      out.status = 200;
      out.body = "data";
    }
    return out;
  });
  auto allowed = [](const std::string& host) { return host == "cdn.test"; };
  PolicyTransport policy(inner, "registry.test", allowed);
  HttpRequest r;
  r.url = "https://registry.test/v2/app/blobs/x";
  r.headers = {"Authorization: Bearer secret"};
  r.follow = true;
  auto resp = policy.perform(r);
  CHECK(resp.body == "data");
  REQUIRE(inner.seen.size() == 3);
  CHECK(inner.seen[1].headers == std::vector<std::string>{"Authorization: Bearer secret"});  // same host
  CHECK(inner.seen[2].url == "http://cdn.test/x?sig=1");
  CHECK(inner.seen[2].headers.empty());  // another host: no credentials

  PolicyTransport strict(inner, "registry.test", [](const std::string&) { return false; });
  CHECK_THROWS_WITH_AS(strict.perform(r), doctest::Contains("refusing plain HTTP to cdn.test"), RegistryError);
  HttpRequest plain;
  plain.url = "http://registry.test/v2/";
  CHECK_THROWS_AS(strict.perform(plain), RegistryError);
  CHECK(PolicyTransport::resolve_location("https://h/a/b?q", "c") == "https://h/a/c");
}
