#pragma once
// An in-memory OCI registry behind the HttpTransport interface, for unit tests of the registry
// client and of the tasks that use it: blobs per repository, manifests by tag and digest,
// upload sessions (monolithic and chunked), cross-repository mounts, basic or bearer auth, and
// failures injected by request. Every request is recorded. No socket, no thread, no wait.
//
// The behaviour follows the OCI Distribution spec; the real-registry integration tests
// (tests/cli/registry_test.cc) check the same client against Debian's docker-registry.

#include <unistd.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "flavourgraph/oci/auth.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/http.h"
#include "flavourgraph/oci/layout.h"

namespace fgtest {

class FakeRegistry final : public flavourgraph::oci::HttpTransport {
 public:
  using Request = flavourgraph::oci::HttpRequest;
  using Response = flavourgraph::oci::HttpResponse;

  enum class Auth { none, basic, bearer };

  explicit FakeRegistry(std::string host = "registry.test") : host_(std::move(host)) {}

  // --- setup -----------------------------------------------------------------------------
  void require_basic(std::string user, std::string password) {
    auth_ = Auth::basic;
    user_ = std::move(user);
    password_ = std::move(password);
  }
  /// Bearer tokens from https://auth.test/token (the realm), one per requested scope.
  void require_bearer() { auth_ = Auth::bearer; }
  /// The next `count` requests that `match` answer `status` instead (e.g. 503).
  void fail_next(int count, long status, std::function<bool(const Request&)> match = nullptr) {
    failures_.push_back({count, status, match ? std::move(match) : [](const Request&) { return true; }});
  }
  void put_blob(const std::string& repo, const std::string& content) {
    std::string d = flavourgraph::oci::Digest::sha256_of(content).str();
    blobs_[d] = content;
    repos_[repo].blobs.insert(d);
  }
  void put_manifest(const std::string& repo, const std::string& tag, const std::string& bytes, const std::string& mt) {
    std::string d = flavourgraph::oci::Digest::sha256_of(bytes).str();
    repos_[repo].manifests[d] = {bytes, mt};
    repos_[repo].manifests[tag] = {bytes, mt};
  }

  // --- inspection --------------------------------------------------------------------------
  [[nodiscard]] std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  /// Requests whose method is `method` and whose URL contains `part`.
  [[nodiscard]] size_t count(const std::string& method, const std::string& part = "") const {
    size_t n = 0;
    for (const auto& r : requests())
      n += r.method == method && r.url.find(part) != std::string::npos;
    return n;
  }
  [[nodiscard]] bool has_blob(const std::string& repo, const std::string& digest) const {
    auto it = repos_.find(repo);
    return it != repos_.end() && it->second.blobs.count(digest);
  }
  [[nodiscard]] std::optional<std::string> manifest(const std::string& repo, const std::string& ref) const {
    auto it = repos_.find(repo);
    if (it == repos_.end()) return std::nullopt;
    auto m = it->second.manifests.find(ref);
    if (m == it->second.manifests.end()) return std::nullopt;
    return m->second.first;
  }
  [[nodiscard]] std::set<std::string> tokens_issued() const { return scopes_issued_; }

  // --- HttpTransport -----------------------------------------------------------------------
  Response perform(const Request& r) override {
    std::lock_guard lock(mutex_);
    requests_.push_back(r);
    for (auto& f : failures_)
      if (f.count > 0 && f.match(r)) {
        --f.count;
        return reply(f.status, "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"injected\"}]}");
      }
    if (r.url.rfind("https://auth.test/token", 0) == 0) return token(r);
    std::string prefix = (r.url.rfind("https://", 0) == 0 ? "https://" : "http://") + host_;
    if (r.url.rfind(prefix, 0) != 0) return reply(404, "");
    if (!authorized(r)) return challenge(r);
    std::string path = r.url.substr(prefix.size());
    std::string query;
    if (auto q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.resize(q);
    }
    return route(r, path, query);
  }
  [[nodiscard]] uint64_t bytes_sent() const override { return sent_; }
  [[nodiscard]] uint64_t bytes_received() const override { return received_; }

 private:
  struct Repo {
    std::set<std::string> blobs;
    std::map<std::string, std::pair<std::string, std::string>> manifests;  // ref → (bytes, media type)
  };
  struct Failure {
    int count;
    long status;
    std::function<bool(const Request&)> match;
  };

  static Response reply(long status, std::string body, std::map<std::string, std::string> headers = {}) {
    Response out;
    out.status = status;
    out.body = std::move(body);
    out.headers = std::move(headers);
    return out;
  }

  static std::string header(const Request& r, const std::string& name) {
    for (const auto& h : r.headers) {
      auto colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string n = h.substr(0, colon);
      for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (n == name) return h.substr(h.find_first_not_of(' ', colon + 1));
    }
    return "";
  }

  static std::string param(const std::string& query, const std::string& key) {
    for (size_t pos = 0; pos <= query.size();) {
      size_t amp = query.find('&', pos);
      std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      if (kv.rfind(key + "=", 0) == 0) {
        std::string v = kv.substr(key.size() + 1), out;
        for (size_t i = 0; i < v.size(); ++i) {
          if (v[i] == '%' && i + 2 < v.size()) {
            out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
            i += 2;
          } else {
            out += v[i];
          }
        }
        return out;
      }
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
    return "";
  }

  bool authorized(const Request& r) const {
    std::string a = header(r, "authorization");
    switch (auth_) {
      case Auth::none: return true;
      case Auth::basic: return a == "Basic " + flavourgraph::oci::base64(user_ + ":" + password_);
      case Auth::bearer: return a.rfind("Bearer tok-", 0) == 0;
    }
    return false;
  }

  Response challenge(const Request&) const {
    std::string c = auth_ == Auth::basic ? "Basic realm=\"fake\""
                                         : "Bearer realm=\"https://auth.test/token\",service=\"" + host_ + "\"";
    return reply(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
                 {{"www-authenticate", c}});
  }

  Response token(const Request& r) {
    std::string query = r.url.substr(r.url.find('?') + 1);
    std::string scopes;
    for (size_t pos = 0; (pos = query.find("scope=", pos)) != std::string::npos; pos += 6) {
      size_t end = query.find('&', pos);
      scopes += (scopes.empty() ? "" : " ") + param(query.substr(pos, end == std::string::npos ? std::string::npos : end - pos), "scope");
    }
    scopes_issued_.insert(scopes);
    return reply(200, "{\"token\":\"tok-" + std::to_string(scopes_issued_.size()) + "\"}");
  }

  /// The repository and the rest of a /v2/<repo>/<kind>/<rest> path.
  static bool split(const std::string& path, const std::string& kind, std::string* repo, std::string* rest) {
    auto at = path.find("/" + kind + "/");
    if (path.rfind("/v2/", 0) != 0 || at == std::string::npos) return false;
    *repo = path.substr(4, at - 4);
    *rest = path.substr(at + kind.size() + 2);
    return true;
  }

  std::string body_of(const Request& r) {
    if (r.file_fd < 0) return r.body;
    std::string out(r.file_len, '\0');
    ssize_t n = ::pread(r.file_fd, out.data(), out.size(), static_cast<off_t>(r.file_off));
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  }

  Response route(const Request& r, const std::string& path, const std::string& query) {
    std::string repo, rest;
    if (path == "/v2/") return reply(200, "{}");
    if (split(path, "blobs/uploads", &repo, &rest)) return upload(r, repo, rest, query);
    if (split(path, "blobs", &repo, &rest)) return blob(r, repo, rest);
    if (split(path, "manifests", &repo, &rest)) return manifest_route(r, repo, rest);
    return reply(404, "");
  }

  Response blob(const Request& r, const std::string& repo, const std::string& digest) {
    if (!has_blob(repo, digest)) return reply(404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"unknown\"}]}");
    const std::string& content = blobs_[digest];
    Response out = reply(200, "", {{"content-length", std::to_string(content.size())}, {"docker-content-digest", digest}});
    if (r.method == "GET") {
      received_ += content.size();
      if (r.sink) {
        if (r.sink_limit >= 0 && content.size() > static_cast<size_t>(r.sink_limit))
          throw flavourgraph::oci::RegistryError(r.what + ": the registry sent more than the " +
                                                 std::to_string(r.sink_limit) + " bytes its descriptor gives");
        r.sink->write(content);
        out.sink_bytes = content.size();
      } else {
        out.body = content;
      }
    }
    return out;
  }

  Response upload(const Request& r, const std::string& repo, const std::string& session, const std::string& query) {
    if (r.method == "POST") {
      std::string mount = param(query, "mount"), from = param(query, "from");
      if (!mount.empty() && has_blob(from, mount)) {
        repos_[repo].blobs.insert(mount);
        return reply(201, "", {{"location", "/v2/" + repo + "/blobs/" + mount}});
      }
      std::string id = "u" + std::to_string(++sessions_);
      uploads_[id];
      return reply(202, "", {{"location", "/v2/" + repo + "/blobs/uploads/" + id}});
    }
    auto it = uploads_.find(session);
    if (it == uploads_.end()) return reply(404, "{\"errors\":[{\"code\":\"BLOB_UPLOAD_UNKNOWN\",\"message\":\"\"}]}");
    if (r.method == "DELETE") {
      uploads_.erase(it);
      return reply(204, "");
    }
    std::string chunk = body_of(r);
    sent_ += chunk.size();
    if (r.method == "PATCH") {
      std::string range = header(r, "content-range");
      if (!range.empty() && std::stoull(range) != it->second.size()) return reply(416, "");
      it->second += chunk;
      return reply(202, "", {{"location", "/v2/" + repo + "/blobs/uploads/" + session}});
    }
    if (r.method == "PUT") {
      std::string data = it->second + chunk;
      std::string digest = param(query, "digest");
      if (flavourgraph::oci::Digest::sha256_of(data).str() != digest)
        return reply(400, "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":\"digest mismatch\"}]}");
      blobs_[digest] = data;
      repos_[repo].blobs.insert(digest);
      uploads_.erase(it);
      return reply(201, "", {{"location", "/v2/" + repo + "/blobs/" + digest}});
    }
    return reply(405, "");
  }

  Response manifest_route(const Request& r, const std::string& repo, const std::string& ref) {
    auto& m = repos_[repo].manifests;
    if (r.method == "PUT") {
      std::string d = flavourgraph::oci::Digest::sha256_of(r.body).str();
      std::string mt = header(r, "content-type");
      m[d] = {r.body, mt};
      m[ref] = {r.body, mt};
      sent_ += r.body.size();
      return reply(201, "", {{"docker-content-digest", d}});
    }
    auto it = m.find(ref);
    if (it == m.end()) return reply(404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"unknown\"}]}");
    std::string d = flavourgraph::oci::Digest::sha256_of(it->second.first).str();
    Response out = reply(200, r.method == "GET" ? it->second.first : "",
                         {{"content-type", it->second.second},
                          {"docker-content-digest", d},
                          {"content-length", std::to_string(it->second.first.size())}});
    return out;
  }

  std::string host_;
  Auth auth_ = Auth::none;
  std::string user_, password_;
  std::vector<Failure> failures_;
  std::map<std::string, std::string> blobs_;  // digest → content
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::string> uploads_;  // session → bytes so far
  int sessions_ = 0;
  std::set<std::string> scopes_issued_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  uint64_t sent_ = 0, received_ = 0;
};

}  // namespace fgtest
