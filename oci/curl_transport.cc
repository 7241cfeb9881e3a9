// The libcurl transport: one exchange per call, TLS verified, idle handles kept for
// connection reuse, cancellation polled during transfers.
#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "flavourgraph/oci/http.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/text.h"

namespace flavourgraph::oci {

namespace {

/// What to try when TLS fails: the registry may speak plain HTTP, or use a private CA.
std::string tls_hint(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return " (if the registry speaks plain HTTP, pass --insecure-registry HOST; if its certificate is from a "
             "private CA, --ca-bundle FILE)";
    default: return "";
  }
}

std::once_flag curl_init;

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


class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(CurlOptions options, const CancelSource& cancel) : opt_(std::move(options)), cancel_(cancel) {
    std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  ~CurlTransport() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  HttpResponse perform(const HttpRequest& r) override;
  [[nodiscard]] uint64_t bytes_sent() const override { return sent_.load(); }
  [[nodiscard]] uint64_t bytes_received() const override { return received_.load(); }

 private:
  /// What the callbacks of one transfer share.
  struct Transfer {
    HttpResponse* resp;
    const HttpRequest* req;
    CURL* h;
    uint64_t read_pos = 0;
    bool too_large = false;
    bool over_limit = false;
    const CancelSource* cancel;
    std::atomic<uint64_t>* received;
  };

  CURL* acquire() {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(h);
      return h;
    }
    return curl_easy_init();
  }

  void release(CURL* h) {
    std::lock_guard lock(mutex_);
    idle_.push_back(h);
  }

  static size_t on_header(char* data, size_t size, size_t n, void* p);
  static size_t on_body(char* data, size_t size, size_t n, void* p);
  static size_t on_read(char* out, size_t size, size_t n, void* p);
  static int on_progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Transfer*>(p)->cancel->requested() ? 1 : 0;
  }
  void set_method(CURL* h, const HttpRequest& r, Transfer& t) const;

  CurlOptions opt_;
  const CancelSource& cancel_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;
  std::atomic<uint64_t> sent_{0}, received_{0};
};

size_t CurlTransport::on_header(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after a 100 Continue, say)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = ascii_lower(trim(line.substr(0, colon)));
    t->resp->headers[name] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t CurlTransport::on_body(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
  t->received->fetch_add(len, std::memory_order_relaxed);
  if (t->req->sink && status >= 200 && status < 300) {
    if (t->req->sink_limit >= 0 && t->resp->sink_bytes + len > static_cast<uint64_t>(t->req->sink_limit)) {
      t->over_limit = true;
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
    t->too_large = true;
    return 0;  // aborts: no manifest, token or error document is this large
  }
  t->resp->body.append(data, len);
  return len;
}

size_t CurlTransport::on_read(char* out, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  size_t want = size * n;
  const HttpRequest& r = *t->req;
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

void CurlTransport::set_method(CURL* h, const HttpRequest& r, Transfer& t) const {
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
}

HttpResponse CurlTransport::perform(const HttpRequest& r) {
  if (cancel_.requested()) throw Cancelled();
  CURL* h = acquire();
  HttpResponse resp;
  Transfer t{&resp, &r, h, 0, false, false, &cancel_, &received_};
  curl_slist* hdrs = nullptr;
  for (const auto& x : r.headers) hdrs = curl_slist_append(hdrs, x.c_str());
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "flavourgraph/0.1");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opt_.connect_timeout.count()));
  if (r.long_transfer) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opt_.stall_timeout.count()));
  } else {
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(opt_.request_timeout.count()));
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are the caller's, hop by hop
  // The scheme was checked above this transport; curl is told exactly the one it may use.
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, scheme_host(r.url).first == "http" ? "http" : "https");
  if (!opt_.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opt_.ca_bundle.c_str());
  set_method(h, r, t);
  CURLcode code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_slist_free_all(hdrs);
  if (code == CURLE_OK) sent_.fetch_add(t.read_pos, std::memory_order_relaxed);
  release(h);
  if (code == CURLE_ABORTED_BY_CALLBACK && cancel_.requested()) throw Cancelled();
  if (t.too_large) throw RegistryError(fmt::format("{}: the answer is larger than {} MiB", r.what, kMaxBody >> 20));
  if (t.over_limit)
    throw RegistryError(fmt::format("{}: the registry sent more than the {} bytes its descriptor gives; nothing was kept",
                                    r.what, r.sink_limit),
                        resp.status);
  if (code != CURLE_OK)
    throw RegistryError(fmt::format("{}: {}{}", r.what, curl_easy_strerror(code), tls_hint(code)), 0, transient_curl(code));
  return resp;
}

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options, const CancelSource& cancel) {
  return std::make_unique<CurlTransport>(options, cancel);
}

}  // namespace flavourgraph::oci
