// The endpoints of the OCI Distribution API, over the auth, retry and redirect layers.
#include "flavourgraph/oci/registry.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "flavourgraph/oci/layout.h"
#include "flavourgraph/text.h"

namespace flavourgraph::oci {

using nlohmann::json;

namespace {


/// Text from a server, safe to print: control characters (escape sequences) become spaces.
std::string printable(std::string s, size_t max = 200) {
  if (s.size() > max) s = s.substr(0, max) + "...";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return trim(s);
}

/// The registry's error document, shortened: "CODE: message; CODE: message".
std::string registry_errors(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return printable(body);
  std::vector<std::string> parts;
  for (const auto& e : j["errors"]) {
    if (!e.is_object()) continue;
    auto text = [&](const char* key) { return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : ""; };
    parts.push_back(printable(text("code") + ": " + text("message")));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

/// A Content-Length header as a number (-1 when absent or malformed).
int64_t content_length(const std::string& v) {
  int64_t n = -1;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc() && p == v.data() + v.size() ? n : -1;
}

std::string scope_of(const std::string& repo, bool push, const std::string& from = "") {
  std::string s = "repository:" + repo + (push ? ":pull,push" : ":pull");
  if (!from.empty()) s += " repository:" + from + ":pull";
  return s;
}

/// Fails with the registry's words unless the status is one of `ok`.
void expect(const HttpResponse& resp, std::initializer_list<long> ok, const std::string& what) {
  if (std::find(ok.begin(), ok.end(), resp.status) != ok.end()) return;
  bool transient = resp.status >= 500 || resp.status == 429;
  throw RegistryError(fmt::format("{}: {} {}", what, resp.status, registry_errors(resp.body)), resp.status, transient);
}

}  // namespace

RegistryClient::RegistryClient(RegistryOptions options, const CancelSource& cancel)
    : opt_(std::move(options)),
      cancel_(cancel),
      clock_(steady_clock_waits()),
      owned_(make_curl_transport(opt_.curl, cancel)),
      policy_(*owned_, opt_.host, [this](const std::string& h) { return insecure(h); }),
      auth_(opt_.host, opt_.credentials, policy_),
      base_((opt_.plain_http ? "http://" : "https://") + opt_.host) {}

RegistryClient::RegistryClient(RegistryOptions options, HttpTransport& transport, const CancelSource& cancel,
                               const Clock& clock)
    : opt_(std::move(options)),
      cancel_(cancel),
      clock_(clock),
      policy_(transport, opt_.host, [this](const std::string& h) { return insecure(h); }),
      auth_(opt_.host, opt_.credentials, policy_),
      base_((opt_.plain_http ? "http://" : "https://") + opt_.host) {}

RegistryClient::~RegistryClient() = default;

uint64_t RegistryClient::bytes_sent() const { return policy_.bytes_sent(); }
uint64_t RegistryClient::bytes_received() const { return policy_.bytes_received(); }

bool RegistryClient::insecure(const std::string& host) const {
  if (host == opt_.host && opt_.plain_http) return true;
  return std::find(opt_.insecure_hosts.begin(), opt_.insecure_hosts.end(), host) != opt_.insecure_hosts.end();
}

std::string RegistryClient::absolute(const std::string& location) const {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) {
    auto [scheme, host] = scheme_host(location);
    if (scheme == "http" && !insecure(host))
      throw RegistryError(fmt::format("registry {}: refusing an upload location over plain HTTP ({})", opt_.host, host));
    return location;
  }
  return base_ + (location.empty() || location[0] != '/' ? "/" : "") + location;
}

void RegistryClient::ping() {
  // HEAD first (so that a push with nothing to do makes nothing but HEAD requests), GET when a
  // registry does not answer HEAD /v2/.
  std::string what = fmt::format("registry {}: /v2/", opt_.host);
  retried(what, [&] {
    HttpRequest r;
    r.method = "HEAD";
    r.url = url("/v2/");
    r.what = what;
    HttpResponse resp = send(r, "");
    if (resp.status == 405 || resp.status == 404) {
      r.method = "GET";
      resp = send(r, "");
    }
    expect(resp, {200}, what);
    return 0;
  });
}

std::optional<int64_t> RegistryClient::blob_size(const std::string& repo, const Digest& d, bool for_push) {
  std::string what = fmt::format("registry {}: HEAD blob {}@{}", opt_.host, repo, d.str());
  return retried(what, [&]() -> std::optional<int64_t> {
    HttpRequest r;
    r.method = "HEAD";
    r.url = url("/v2/" + repo + "/blobs/" + d.str());
    r.follow = true;
    r.what = what;
    HttpResponse resp = send(r, scope_of(repo, for_push));
    if (resp.status == 404) return std::nullopt;
    expect(resp, {200}, what);
    return content_length(resp.header("content-length"));
  });
}

uint64_t RegistryClient::fetch_blob(const std::string& repo, const Descriptor& d, Layout& store) {
  std::string what = fmt::format("registry {}: GET blob {}@{}", opt_.host, repo, d.digest.str());
  return retried(what, [&]() -> uint64_t {
    BlobWriter w(store);  // a fresh temp blob per attempt
    HttpRequest r;
    r.url = url("/v2/" + repo + "/blobs/" + d.digest.str());
    r.follow = true;
    r.sink = &w;
    r.sink_limit = d.size;
    r.long_transfer = true;
    r.what = what;
    HttpResponse resp = send(r, scope_of(repo, false));
    expect(resp, {200}, what);
    // A complete answer of the wrong size or content is the registry's word, not a glitch:
    // asking again gets the same.
    if (static_cast<int64_t>(w.size()) != d.size)
      throw RegistryError(fmt::format("{}: got {} bytes, the descriptor gives {}", what, w.size(), d.size));
    try {
      w.commit(d.digest);
    } catch (const StoreError& e) {
      throw RegistryError(fmt::format("{}: {}", what, e.what()));
    }
    return resp.sink_bytes;
  });
}

bool RegistryClient::mount_blob(const std::string& repo, const Digest& d, const std::string& from_repo) {
  std::string what = fmt::format("registry {}: mount {} from {} into {}", opt_.host, d.str(), from_repo, repo);
  return retried(what, [&]() -> bool {
    HttpRequest r;
    r.method = "POST";
    r.url = url("/v2/" + repo + "/blobs/uploads/?mount=" + url_escape(d.str()) + "&from=" + url_escape(from_repo));
    r.what = what;
    HttpResponse resp;
    try {
      resp = send(r, scope_of(repo, true, from_repo));
    } catch (const RegistryError& e) {
      if (e.transient() || e.status() == 0) throw;
      return false;  // no token for the other repository: not mountable from there
    }
    if (resp.status == 201) return true;
    if (resp.status >= 400 && resp.status < 500 && resp.status != 429) return false;  // refused: upload instead
    expect(resp, {202}, what);
    // Not mounted: the registry opened an upload session instead; close it.
    std::string loc = resp.header("location");
    if (!loc.empty()) {
      HttpRequest del;
      del.method = "DELETE";
      del.url = absolute(loc);
      del.what = what;
      try {
        send(del, scope_of(repo, true));
      } catch (const RegistryError&) {
      }
    }
    return false;
  });
}

void RegistryClient::upload_blob(const std::string& repo, const Descriptor& d, const std::filesystem::path& file) {
  std::string what = fmt::format("registry {}: upload {}@{}", opt_.host, repo, d.digest.str());
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw RegistryError(fmt::format("{}: cannot read {}", what, file.string()));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto size = static_cast<uint64_t>(d.size);
  std::string scope = scope_of(repo, true);
  // A failed attempt starts the upload again from a new session.
  retried(what, [&] {
    HttpRequest start;
    start.method = "POST";
    start.url = url("/v2/" + repo + "/blobs/uploads/");
    start.what = what;
    HttpResponse s = send(start, scope);
    expect(s, {202}, what);
    std::string loc = absolute(s.header("location"));
    if (loc.empty()) throw RegistryError(what + ": the registry gave no upload location");
    uint64_t off = 0;
    if (size > opt_.chunk_size) {
      while (off < size) {
        uint64_t n = std::min<uint64_t>(opt_.chunk_size, size - off);
        HttpRequest p;
        p.method = "PATCH";
        p.url = loc;
        p.file_fd = fd;
        p.file_off = off;
        p.file_len = n;
        p.long_transfer = true;
        p.headers = {"Content-Type: application/octet-stream", fmt::format("Content-Range: {}-{}", off, off + n - 1)};
        p.what = what;
        HttpResponse pr = send(p, scope);
        expect(pr, {202}, what);
        loc = absolute(pr.header("location"));
        off += n;
      }
    }
    HttpRequest put;
    put.method = "PUT";
    put.url = loc + (loc.find('?') == std::string::npos ? "?" : "&") + "digest=" + url_escape(d.digest.str());
    put.headers = {"Content-Type: application/octet-stream"};
    if (off < size) {
      put.file_fd = fd;
      put.file_off = 0;
      put.file_len = size;
      put.long_transfer = true;
    }
    put.what = what;
    HttpResponse pr = send(put, scope);
    expect(pr, {201, 204}, what);
    return 0;
  });
}

FetchedManifest RegistryClient::get_manifest(const std::string& repo, const std::string& ref) {
  std::string what = fmt::format("registry {}: GET manifest {}{}{}", opt_.host, repo, ref.find(':') == std::string::npos ? ":" : "@", ref);
  return retried(what, [&]() -> FetchedManifest {
    HttpRequest r;
    r.url = url("/v2/" + repo + "/manifests/" + ref);
    r.headers = {fmt::format("Accept: {}, {}, {}, {}", media::kManifest, media::kIndex, media::kDockerManifest,
                             media::kDockerList)};
    r.what = what;
    HttpResponse resp = send(r, scope_of(repo, false));
    if (resp.status == 404) throw RegistryError(fmt::format("{}: not found", what), 404);
    expect(resp, {200}, what);
    FetchedManifest m;
    m.bytes = resp.body;
    m.media_type = resp.header("content-type");
    if (auto semi = m.media_type.find(';'); semi != std::string::npos) m.media_type = trim(m.media_type.substr(0, semi));
    m.digest = Digest::sha256_of(m.bytes);
    if (auto want = Digest::parse(ref); want && *want != m.digest)
      throw RegistryError(fmt::format("{}: the manifest does not match its digest", what));
    auto j = json::parse(m.bytes, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) m.media_type = j["mediaType"];
    return m;
  });
}

std::optional<Descriptor> RegistryClient::head_manifest(const std::string& repo, const std::string& ref, bool for_push) {
  std::string what = fmt::format("registry {}: HEAD manifest {}:{}", opt_.host, repo, ref);
  return retried(what, [&]() -> std::optional<Descriptor> {
    HttpRequest r;
    r.method = "HEAD";
    r.url = url("/v2/" + repo + "/manifests/" + ref);
    r.headers = {fmt::format("Accept: {}, {}, {}, {}", media::kManifest, media::kIndex, media::kDockerManifest,
                             media::kDockerList)};
    r.what = what;
    HttpResponse resp = send(r, scope_of(repo, for_push));
    if (resp.status == 404) return std::nullopt;
    expect(resp, {200}, what);
    auto d = Digest::parse(resp.header("docker-content-digest"));
    if (!d) return std::nullopt;  // no digest header: the caller fetches instead
    std::string mt = resp.header("content-type");
    if (auto semi = mt.find(';'); semi != std::string::npos) mt = trim(mt.substr(0, semi));
    return Descriptor{mt, *d, std::max<int64_t>(0, content_length(resp.header("content-length"))), {}, std::nullopt, {}};
  });
}

std::vector<std::string> RegistryClient::tags(const std::string& repo) {
  std::vector<std::string> out;
  std::string next = "/v2/" + repo + "/tags/list?n=1000";
  for (int page = 0; page < 1000 && !next.empty(); ++page) {  // bounded: a million tags
    std::string what = fmt::format("registry {}: GET tags of {}", opt_.host, repo);
    HttpResponse resp = retried(what, [&] {
      HttpRequest r;
      r.url = next.rfind("http", 0) == 0 ? next : url(next);
      r.what = what;
      HttpResponse got = send(r, scope_of(repo, false));
      if (got.status != 404) expect(got, {200}, what);
      return got;
    });
    if (resp.status == 404) return out;
    json j = json::parse(resp.body, nullptr, false);
    if (j.is_object() && j.contains("tags") && j["tags"].is_array())
      for (const auto& t : j["tags"])
        if (t.is_string()) out.push_back(t.get<std::string>());
    // Link: </v2/repo/tags/list?last=x&n=1000>; rel="next"
    std::string link = resp.header("link");
    auto lt = link.find('<'), gt = link.find('>');
    next = link.find("rel=\"next\"") != std::string::npos && lt != std::string::npos && gt > lt
               ? link.substr(lt + 1, gt - lt - 1)
               : "";
  }
  return out;
}

std::string RegistryClient::read_blob(const std::string& repo, const Descriptor& d) {
  std::string what = fmt::format("registry {}: GET blob {}@{}", opt_.host, repo, d.digest.str());
  if (d.size < 0 || static_cast<size_t>(d.size) > kMaxBody) throw RegistryError(fmt::format("{}: too large to read", what));
  return retried(what, [&] {
    HttpRequest r;
    r.url = url("/v2/" + repo + "/blobs/" + d.digest.str());
    r.follow = true;
    r.what = what;
    HttpResponse resp = send(r, scope_of(repo, false));
    if (resp.status == 404) throw RegistryError(fmt::format("{}: not found", what), 404);
    expect(resp, {200}, what);
    if (Digest::sha256_of(resp.body) != d.digest) throw RegistryError(fmt::format("{}: the blob does not match its digest", what));
    return resp.body;
  });
}

void RegistryClient::delete_manifest(const std::string& repo, const Digest& d) {
  std::string what = fmt::format("registry {}: DELETE manifest {}@{}", opt_.host, repo, d.str());
  retried(what, [&] {
    HttpRequest r;
    r.method = "DELETE";
    r.url = url("/v2/" + repo + "/manifests/" + d.str());
    r.what = what;
    HttpResponse resp = send(r, "repository:" + repo + ":delete");
    // Deletes turned off: distribution answers 405 with the code UNSUPPORTED; others may say
    // UNSUPPORTED with another status.
    if (resp.status != 202 && resp.status != 200 && resp.body.find("\"UNSUPPORTED\"") != std::string::npos)
      throw RegistryError(fmt::format("{}: {} {}", what, resp.status, registry_errors(resp.body)), 405);
    expect(resp, {202, 200}, what);
    return 0;
  });
}

void RegistryClient::put_manifest(const std::string& repo, const std::string& ref, const std::string& bytes,
                                  const std::string& media_type) {
  std::string what = fmt::format("registry {}: PUT manifest {}:{}", opt_.host, repo, ref);
  retried(what, [&] {
    HttpRequest r;
    r.method = "PUT";
    r.url = url("/v2/" + repo + "/manifests/" + ref);
    r.body = bytes;
    r.headers = {"Content-Type: " + media_type};
    r.what = what;
    HttpResponse resp = send(r, scope_of(repo, true));
    expect(resp, {201, 200}, what);
    return 0;
  });
}

}  // namespace flavourgraph::oci
