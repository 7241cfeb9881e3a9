#include "flavourgraph/oci/registry.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "flavourgraph/fs_util.h"

namespace flavourgraph::oci {

using nlohmann::json;

namespace {

std::once_flag curl_init;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string base64(std::string_view in) {
  static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == ':')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

/// The scheme and host[:port] of an absolute URL.
std::pair<std::string, std::string> scheme_host(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return {};
  auto end = url.find_first_of("/?#", sep + 3);
  return {lower(url.substr(0, sep)), url.substr(sep + 3, end == std::string::npos ? std::string::npos : end - sep - 3)};
}

/// One HTTP exchange.
struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;              ///< request body, or:
  int file_fd = -1;              ///< a range of a file
  uint64_t file_off = 0, file_len = 0;
  BlobWriter* sink = nullptr;    ///< a 2xx response body goes here
  int64_t sink_limit = -1;       ///< at most this many bytes go to the sink (-1: no limit)
  bool follow = false;           ///< follow redirects (checked hop by hop; see perform)
  bool long_transfer = false;    ///< a stall timeout instead of a total timeout
  std::string what;              ///< for messages: "GET manifest repo:tag"
};

constexpr size_t kMaxBody = 8u << 20;

struct Response {
  bool too_large = false;
  bool over_limit = false;  ///< the body went past the request's sink_limit
  long status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  uint64_t sink_bytes = 0;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

bool transient_curl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_COULDNT_RESOLVE_HOST:
      return true;
    default:
      return false;
  }
}

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

}  // namespace

std::optional<Challenge> parse_challenge(const std::string& header) {
  std::string h = trim(header);
  auto sp = h.find(' ');
  Challenge c;
  c.scheme = lower(h.substr(0, sp));
  if (c.scheme != "basic" && c.scheme != "bearer") return std::nullopt;
  if (sp == std::string::npos) return c;
  std::string rest = h.substr(sp + 1);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ',')) ++i;
    size_t eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = lower(trim(rest.substr(i, eq - i)));
    std::string value;
    i = eq + 1;
    if (i < rest.size() && rest[i] == '"') {
      ++i;
      while (i < rest.size() && rest[i] != '"') {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value += rest[i++];
      }
      ++i;
    } else {
      while (i < rest.size() && rest[i] != ',') value += rest[i++];
      value = trim(value);
    }
    c.params[key] = value;
  }
  return c;
}

std::optional<Credentials> docker_credentials(const std::string& host, const char* docker_config_env,
                                              const char* home_env) {
  std::filesystem::path file;
  if (docker_config_env && *docker_config_env)
    file = std::filesystem::path(docker_config_env) / "config.json";
  else if (home_env && *home_env)
    file = std::filesystem::path(home_env) / ".docker" / "config.json";
  else
    return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  json j = json::parse(read_file(file), nullptr, false);
  if (!j.is_object() || !j.contains("auths") || !j["auths"].is_object()) return std::nullopt;
  for (const auto& [key, entry] : j["auths"].items()) {
    std::string k = key;
    for (std::string_view p : {"https://", "http://"})
      if (k.rfind(p, 0) == 0) k = k.substr(p.size());
    if (auto slash = k.find('/'); slash != std::string::npos) k = k.substr(0, slash);
    if (k != host || !entry.is_object()) continue;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      auto decoded = unbase64(entry["auth"].get<std::string>());
      if (decoded) {
        auto colon = decoded->find(':');
        if (colon != std::string::npos) return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
      }
    }
    if (entry.contains("username") && entry.contains("password"))
      return Credentials{entry.value("username", ""), entry.value("password", "")};
  }
  return std::nullopt;
}

struct RegistryClient::Impl {
  const RegistryOptions& opt;
  const CancelSource& cancel;
  std::string base;  ///< scheme://host
  std::mutex mutex;
  std::vector<CURL*> handles;                  ///< idle handles (kept for connection reuse)
  std::map<std::string, std::string> tokens;   ///< scope → Authorization header value
  std::string basic;                           ///< "Basic ..." once the registry asked for it
  std::optional<Challenge> bearer;             ///< the registry's bearer challenge
  std::atomic<uint64_t> sent{0}, received{0};

  Impl(const RegistryOptions& o, const CancelSource& c) : opt(o), cancel(c) {
    std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    base = (opt.plain_http ? "http://" : "https://") + opt.host;
  }

  ~Impl() {
    for (CURL* h : handles) curl_easy_cleanup(h);
  }

  CURL* acquire() {
    std::lock_guard lock(mutex);
    if (!handles.empty()) {
      CURL* h = handles.back();
      handles.pop_back();
      curl_easy_reset(h);
      return h;
    }
    return curl_easy_init();
  }

  void release(CURL* h) {
    std::lock_guard lock(mutex);
    handles.push_back(h);
  }

  struct Transfer {
    Response* resp;
    const Request* req;
    CURL* h;
    uint64_t read_pos = 0;
    const CancelSource* cancel;
    std::atomic<uint64_t>* received;
  };

  static size_t on_header(char* data, size_t size, size_t n, void* p) {
    auto* t = static_cast<Transfer*>(p);
    std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {
      t->resp->headers.clear();  // a new response (after a redirect or a 100)
      return size * n;
    }
    auto colon = line.find(':');
    if (colon != std::string::npos) t->resp->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    return size * n;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* p) {
    auto* t = static_cast<Transfer*>(p);
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    t->received->fetch_add(len, std::memory_order_relaxed);
    if (t->req->sink && status >= 200 && status < 300) {
      if (t->req->sink_limit >= 0 && t->resp->sink_bytes + len > static_cast<uint64_t>(t->req->sink_limit)) {
        t->resp->over_limit = true;
        return 0;  // aborts: no more than the descriptor's size is ever written
      }
      try {
        t->req->sink->write(data, len);
      } catch (...) {
        return 0;  // aborts the transfer; reported as a write error
      }
      t->resp->sink_bytes += len;
      return len;
    }
    if (t->resp->body.size() + len > kMaxBody) {
      t->resp->too_large = true;
      return 0;  // aborts: no manifest, token or error document is this large
    }
    t->resp->body.append(data, len);
    return len;
  }

  static size_t on_read(char* out, size_t size, size_t n, void* p) {
    auto* t = static_cast<Transfer*>(p);
    size_t want = size * n;
    const Request& r = *t->req;
    if (r.file_fd >= 0) {
      uint64_t left = r.file_len - t->read_pos;
      want = static_cast<size_t>(std::min<uint64_t>(want, left));
      if (want == 0) return 0;
      ssize_t got = ::pread(r.file_fd, out, want, static_cast<off_t>(r.file_off + t->read_pos));
      if (got <= 0) return CURL_READFUNC_ABORT;
      t->read_pos += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
    uint64_t left = r.body.size() - t->read_pos;
    want = static_cast<size_t>(std::min<uint64_t>(want, left));
    std::memcpy(out, r.body.data() + t->read_pos, want);
    t->read_pos += want;
    return want;
  }

  static int on_progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Transfer*>(p)->cancel->requested() ? 1 : 0;
  }

  /// One HTTP exchange, no retries, no auth handling, following redirects hop by hop when the
  /// request asks: each hop's scheme is checked as the first one's (plain HTTP only to hosts
  /// listed as insecure), and the credentials go only to the registry's own host. Throws
  /// RegistryError on transport errors.
  Response perform(const Request& r, const std::string& authorization) {
    Response resp = perform_once(r, authorization);
    if (!r.follow) return resp;
    Request hop = r;
    std::string auth = authorization;
    for (int hops = 0; is_redirect(resp.status); ++hops) {
      std::string location = resp.header("location");
      if (location.empty()) return resp;
      if (hops == 5) throw RegistryError(fmt::format("{}: more than 5 redirects", r.what));
      hop.url = resolve_location(hop.url, location);
      if (scheme_host(hop.url).second != opt.host) auth.clear();
      resp = perform_once(hop, auth);
    }
    return resp;
  }

  static bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /// A Location header made absolute against the URL that sent it.
  static std::string resolve_location(const std::string& from, const std::string& location) {
    if (location.find("://") != std::string::npos) return location;
    auto [scheme, host] = scheme_host(from);
    if (!location.empty() && location[0] == '/') return scheme + "://" + host + location;
    auto query = from.find_first_of("?#", scheme.size() + 3 + host.size());
    std::string path = from.substr(0, query);
    return path.substr(0, path.rfind('/') + 1) + location;
  }

  Response perform_once(const Request& r, const std::string& authorization) {
    if (cancel.requested()) throw RegistryError("cancelled");
    CURL* h = acquire();
    Response resp;
    Transfer t{&resp, &r, h, 0, &cancel, &received};
    curl_slist* hdrs = nullptr;
    for (const auto& x : r.headers) hdrs = curl_slist_append(hdrs, x.c_str());
    if (!authorization.empty()) hdrs = curl_slist_append(hdrs, ("Authorization: " + authorization).c_str());
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "flavourgraph/0.1");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opt.connect_timeout.count()));
    if (r.long_transfer) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opt.stall_timeout.count()));
    } else {
      curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(opt.request_timeout.count()));
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // perform() follows, checking each hop
    // Plain HTTP only to a host listed as insecure; HTTPS (verified) everywhere else.
    auto [scheme, url_host] = scheme_host(r.url);
    bool http_ok = insecure(url_host);
    if (scheme == "http" && !http_ok) {
      release(h);
      curl_slist_free_all(hdrs);
      throw RegistryError(fmt::format("{}: refusing plain HTTP to {} (not an insecure registry)", r.what, url_host));
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, http_ok ? "http,https" : "https");
    if (!opt.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opt.ca_bundle.c_str());
    bool has_body = r.file_fd >= 0 || !r.body.empty() || r.method == "PUT" || r.method == "PATCH" || r.method == "POST";
    uint64_t body_len = r.file_fd >= 0 ? r.file_len : r.body.size();
    if (r.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (has_body) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_len));
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    CURLcode code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_slist_free_all(hdrs);
    if (code == CURLE_OK) sent.fetch_add(t.read_pos, std::memory_order_relaxed);
    release(h);
    if (code == CURLE_ABORTED_BY_CALLBACK && cancel.requested()) throw RegistryError("cancelled");
    if (resp.too_large) throw RegistryError(fmt::format("{}: the answer is larger than {} MiB", r.what, kMaxBody >> 20));
    if (resp.over_limit)
      throw RegistryError(fmt::format("{}: the registry sent more than the {} bytes its descriptor gives; nothing was "
                                      "kept",
                                      r.what, r.sink_limit),
                          resp.status, false);
    if (code != CURLE_OK)
      throw RegistryError(fmt::format("{}: {}", r.what, curl_easy_strerror(code)), 0, transient_curl(code));
    return resp;
  }

  std::string scope_of(const std::string& repo, bool push, const std::string& from = "") const {
    std::string s = "repository:" + repo + (push ? ":pull,push" : ":pull");
    if (!from.empty()) s += " repository:" + from + ":pull";
    return s;
  }

  /// A bearer token for `scope` from the challenge's realm (with the credentials, if any).
  std::string fetch_token(const std::string& scope) {
    Challenge c;
    {
      std::lock_guard lock(mutex);
      c = *bearer;
    }
    std::string url = c.params["realm"];
    if (url.empty()) throw RegistryError(fmt::format("registry {}: bearer challenge without a realm", opt.host));
    std::string sep = url.find('?') == std::string::npos ? "?" : "&";
    if (!c.params["service"].empty()) {
      url += sep + "service=" + url_escape(c.params["service"]);
      sep = "&";
    }
    size_t start = 0;
    while (start < scope.size()) {
      size_t sp = scope.find(' ', start);
      url += sep + "scope=" + url_escape(scope.substr(start, sp == std::string::npos ? std::string::npos : sp - start));
      sep = "&";
      if (sp == std::string::npos) break;
      start = sp + 1;
    }
    Request r;
    r.url = url;
    r.what = fmt::format("registry {}: token", opt.host);
    std::string auth;
    if (opt.credentials) auth = "Basic " + base64(opt.credentials->username + ":" + opt.credentials->password);
    Response resp = perform(r, auth);
    if (resp.status != 200)
      throw RegistryError(fmt::format("registry {}: the token service refused ({}){}", opt.host, resp.status,
                                      opt.credentials ? "" : "; no credentials for this registry in the Docker config"),
                          resp.status, resp.status >= 500);
    json j = json::parse(resp.body, nullptr, false);
    std::string token;
    for (const char* key : {"token", "access_token"})
      if (token.empty() && j.is_object() && j.contains(key) && j[key].is_string()) token = j[key];
    if (token.empty()) throw RegistryError(fmt::format("registry {}: the token service sent no token", opt.host));
    return "Bearer " + token;
  }

  /// One exchange with auth: answers a 401 once with basic credentials or a bearer token.
  Response send(const Request& r, const std::string& scope) {
    std::string auth;
    {
      std::lock_guard lock(mutex);
      auto it = tokens.find(scope);
      auth = it != tokens.end() ? it->second : basic;
    }
    Response resp = perform(r, auth);
    if (resp.status != 401) return resp;
    auto c = parse_challenge(resp.header("www-authenticate"));
    if (!c)
      throw RegistryError(fmt::format("{}: 401 unauthorized, and no challenge the client understands", r.what), 401);
    if (c->scheme == "basic") {
      if (!opt.credentials)
        throw RegistryError(fmt::format("{}: the registry needs credentials, and the Docker config has none for {}",
                                        r.what, opt.host),
                            401);
      std::string b = "Basic " + base64(opt.credentials->username + ":" + opt.credentials->password);
      {
        std::lock_guard lock(mutex);
        basic = b;
      }
      auth = b;
    } else {
      {
        std::lock_guard lock(mutex);
        bearer = c;
      }
      auth = fetch_token(scope);
      std::lock_guard lock(mutex);
      tokens[scope] = auth;
    }
    resp = perform(r, auth);
    if (resp.status == 401)
      throw RegistryError(fmt::format("{}: authentication failed (check the credentials for {})", r.what, opt.host), 401);
    return resp;
  }

  /// Retries transient failures with exponential backoff and jitter, bounded in count and time.
  template <class F>
  auto retry(const std::string& what, F&& f) {
    auto start = std::chrono::steady_clock::now();
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 1;; ++attempt) {
      try {
        try {
          return f();
        } catch (const RegistryError&) {
          throw;
        } catch (const std::exception& e) {  // a malformed answer: say which request got it
          throw RegistryError(fmt::format("{}: {}", what, printable(e.what())));
        }
      } catch (const RegistryError& e) {
        auto delay = std::min(opt.retry.max_delay, opt.retry.base * (1 << std::min(attempt - 1, 10)));
        delay += std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, delay.count() / 2)(rng));
        // No attempt starts once the time allowed is spent: checked against the moment the
        // next attempt would start, after its backoff.
        bool out_of_time = std::chrono::steady_clock::now() - start + delay >= opt.retry.total;
        if (!e.transient() || attempt >= opt.retry.attempts || out_of_time || cancel.requested()) {
          if (e.transient() && !cancel.requested())
            throw RegistryError(fmt::format("{} (gave up after {} attempt(s))", e.what(), attempt), e.status(), false);
          throw;
        }
        if (cancel.wait_for(delay)) throw RegistryError(what + ": cancelled");
      }
    }
  }

  std::string url(const std::string& path) const { return base + path; }

  [[nodiscard]] bool insecure(const std::string& host) const {
    if (host == opt.host && opt.plain_http) return true;
    return std::find(opt.insecure_hosts.begin(), opt.insecure_hosts.end(), host) != opt.insecure_hosts.end();
  }

  /// An upload Location made absolute. One that would switch to plain HTTP is refused.
  std::string absolute(const std::string& location) const {
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) {
      auto [scheme, host] = scheme_host(location);
      if (scheme == "http" && !insecure(host))
        throw RegistryError(fmt::format("registry {}: refusing an upload location over plain HTTP ({})", opt.host, host));
      return location;
    }
    return base + (location.empty() || location[0] != '/' ? "/" : "") + location;
  }

  /// Fails with the registry's words unless the status is one of `ok`.
  void expect(const Response& resp, std::initializer_list<long> ok, const std::string& what) const {
    if (std::find(ok.begin(), ok.end(), resp.status) != ok.end()) return;
    bool transient = resp.status >= 500 || resp.status == 429;
    throw RegistryError(fmt::format("{}: {} {}", what, resp.status, registry_errors(resp.body)), resp.status, transient);
  }
};

RegistryClient::RegistryClient(RegistryOptions options, const CancelSource& cancel)
    : opt_(std::move(options)), impl_(std::make_unique<Impl>(opt_, cancel)) {}

RegistryClient::~RegistryClient() = default;

uint64_t RegistryClient::bytes_sent() const { return impl_->sent.load(); }
uint64_t RegistryClient::bytes_received() const { return impl_->received.load(); }

void RegistryClient::ping() {
  // HEAD first (so that a push with nothing to do makes nothing but HEAD requests), GET when a
  // registry does not answer HEAD /v2/.
  std::string what = fmt::format("registry {}: /v2/", opt_.host);
  impl_->retry(what, [&] {
    Request r;
    r.method = "HEAD";
    r.url = impl_->url("/v2/");
    r.what = what;
    Response resp = impl_->send(r, "");
    if (resp.status == 405 || resp.status == 404) {
      r.method = "GET";
      resp = impl_->send(r, "");
    }
    impl_->expect(resp, {200}, what);
    return 0;
  });
}

std::optional<int64_t> RegistryClient::blob_size(const std::string& repo, const Digest& d, bool for_push) {
  std::string what = fmt::format("registry {}: HEAD blob {}@{}", opt_.host, repo, d.str());
  return impl_->retry(what, [&]() -> std::optional<int64_t> {
    Request r;
    r.method = "HEAD";
    r.url = impl_->url("/v2/" + repo + "/blobs/" + d.str());
    r.follow = true;
    r.what = what;
    Response resp = impl_->send(r, impl_->scope_of(repo, for_push));
    if (resp.status == 404) return std::nullopt;
    impl_->expect(resp, {200}, what);
    return content_length(resp.header("content-length"));
  });
}

uint64_t RegistryClient::fetch_blob(const std::string& repo, const Descriptor& d, Layout& store) {
  std::string what = fmt::format("registry {}: GET blob {}@{}", opt_.host, repo, d.digest.str());
  return impl_->retry(what, [&]() -> uint64_t {
    BlobWriter w(store);  // a fresh temp blob per attempt
    Request r;
    r.url = impl_->url("/v2/" + repo + "/blobs/" + d.digest.str());
    r.follow = true;
    r.sink = &w;
    r.sink_limit = d.size;
    r.long_transfer = true;
    r.what = what;
    Response resp = impl_->send(r, impl_->scope_of(repo, false));
    impl_->expect(resp, {200}, what);
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
  return impl_->retry(what, [&]() -> bool {
    Request r;
    r.method = "POST";
    r.url = impl_->url("/v2/" + repo + "/blobs/uploads/?mount=" + url_escape(d.str()) + "&from=" + url_escape(from_repo));
    r.what = what;
    Response resp;
    try {
      resp = impl_->send(r, impl_->scope_of(repo, true, from_repo));
    } catch (const RegistryError& e) {
      if (e.transient() || e.status() == 0) throw;
      return false;  // no token for the other repository: not mountable from there
    }
    if (resp.status == 201) return true;
    if (resp.status >= 400 && resp.status < 500 && resp.status != 429) return false;  // refused: upload instead
    impl_->expect(resp, {202}, what);
    // Not mounted: the registry opened an upload session instead; close it.
    std::string loc = resp.header("location");
    if (!loc.empty()) {
      Request del;
      del.method = "DELETE";
      del.url = impl_->absolute(loc);
      del.what = what;
      try {
        impl_->send(del, impl_->scope_of(repo, true));
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
  std::string scope = impl_->scope_of(repo, true);
  // A failed attempt starts the upload again from a new session.
  impl_->retry(what, [&] {
    Request start;
    start.method = "POST";
    start.url = impl_->url("/v2/" + repo + "/blobs/uploads/");
    start.what = what;
    Response s = impl_->send(start, scope);
    impl_->expect(s, {202}, what);
    std::string loc = impl_->absolute(s.header("location"));
    if (loc.empty()) throw RegistryError(what + ": the registry gave no upload location");
    uint64_t off = 0;
    if (size > opt_.chunk_size) {
      while (off < size) {
        uint64_t n = std::min<uint64_t>(opt_.chunk_size, size - off);
        Request p;
        p.method = "PATCH";
        p.url = loc;
        p.file_fd = fd;
        p.file_off = off;
        p.file_len = n;
        p.long_transfer = true;
        p.headers = {"Content-Type: application/octet-stream", fmt::format("Content-Range: {}-{}", off, off + n - 1)};
        p.what = what;
        Response pr = impl_->send(p, scope);
        impl_->expect(pr, {202}, what);
        loc = impl_->absolute(pr.header("location"));
        off += n;
      }
    }
    Request put;
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
    Response pr = impl_->send(put, scope);
    impl_->expect(pr, {201, 204}, what);
    return 0;
  });
}

FetchedManifest RegistryClient::get_manifest(const std::string& repo, const std::string& ref) {
  std::string what = fmt::format("registry {}: GET manifest {}{}{}", opt_.host, repo, ref.find(':') == std::string::npos ? ":" : "@", ref);
  return impl_->retry(what, [&]() -> FetchedManifest {
    Request r;
    r.url = impl_->url("/v2/" + repo + "/manifests/" + ref);
    r.headers = {fmt::format("Accept: {}, {}, {}, {}", media::kManifest, media::kIndex, media::kDockerManifest,
                             media::kDockerList)};
    r.what = what;
    Response resp = impl_->send(r, impl_->scope_of(repo, false));
    if (resp.status == 404) throw RegistryError(fmt::format("{}: not found", what), 404);
    impl_->expect(resp, {200}, what);
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
  return impl_->retry(what, [&]() -> std::optional<Descriptor> {
    Request r;
    r.method = "HEAD";
    r.url = impl_->url("/v2/" + repo + "/manifests/" + ref);
    r.headers = {fmt::format("Accept: {}, {}, {}, {}", media::kManifest, media::kIndex, media::kDockerManifest,
                             media::kDockerList)};
    r.what = what;
    Response resp = impl_->send(r, impl_->scope_of(repo, for_push));
    if (resp.status == 404) return std::nullopt;
    impl_->expect(resp, {200}, what);
    auto d = Digest::parse(resp.header("docker-content-digest"));
    if (!d) return std::nullopt;  // no digest header: the caller fetches instead
    std::string mt = resp.header("content-type");
    if (auto semi = mt.find(';'); semi != std::string::npos) mt = trim(mt.substr(0, semi));
    return Descriptor{mt, *d, std::max<int64_t>(0, content_length(resp.header("content-length"))), {}, std::nullopt, {}};
  });
}

void RegistryClient::put_manifest(const std::string& repo, const std::string& ref, const std::string& bytes,
                                  const std::string& media_type) {
  std::string what = fmt::format("registry {}: PUT manifest {}:{}", opt_.host, repo, ref);
  impl_->retry(what, [&] {
    Request r;
    r.method = "PUT";
    r.url = impl_->url("/v2/" + repo + "/manifests/" + ref);
    r.body = bytes;
    r.headers = {"Content-Type: " + media_type};
    r.what = what;
    Response resp = impl_->send(r, impl_->scope_of(repo, true));
    impl_->expect(resp, {201, 200}, what);
    return 0;
  });
}

}  // namespace flavourgraph::oci
