#pragma once
/// HTTP for the registry protocol: one exchange per call behind an interface, so that the
/// protocol above it (auth, retries, endpoints) is tested against a fake, and libcurl lives in
/// one file. A transport does no auth, no retries and follows no redirects;
/// `PolicyTransport` follows redirects hop by hop and keeps plain HTTP to the hosts allowed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/errors.h"

namespace flavourgraph::oci {

class BlobWriter;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  ///< "Name: value"
  std::string body;                  ///< request body, or:
  int file_fd = -1;                  ///< a range of a file
  uint64_t file_off = 0, file_len = 0;
  BlobWriter* sink = nullptr;        ///< a 2xx response body goes here instead of `body`
  int64_t sink_limit = -1;           ///< at most this many bytes go to the sink (-1: no limit)
  bool follow = false;               ///< follow redirects (PolicyTransport)
  bool long_transfer = false;        ///< a stall timeout instead of a total timeout
  std::string what;                  ///< for messages: "registry H: GET manifest repo:tag"
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names; the last of each
  std::string body;                            ///< at most kMaxBody bytes
  uint64_t sink_bytes = 0;                     ///< bytes written to the request's sink

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

/// Bodies that are not streamed to a sink (manifests, tokens, error documents) are cut off here.
inline constexpr size_t kMaxBody = 8u << 20;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  /// One exchange. Throws RegistryError on transport failures (transient ones marked so), on a
  /// body over kMaxBody, and on a sink past its limit (not transient).
  virtual HttpResponse perform(const HttpRequest& request) = 0;
  /// Bytes sent in request bodies and received in responses, in all.
  [[nodiscard]] virtual uint64_t bytes_sent() const = 0;
  [[nodiscard]] virtual uint64_t bytes_received() const = 0;
};

struct CurlOptions {
  std::string ca_bundle;                            ///< extra CA bundle for TLS ("" = the system's)
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds request_timeout{120};        ///< for requests without a large body
  std::chrono::seconds stall_timeout{60};           ///< a transfer slower than 1 KiB/s this long fails
};

/// libcurl: TLS verified, connections reused, cancellation polled during transfers.
std::unique_ptr<HttpTransport> make_curl_transport(const CurlOptions& options, const CancelSource& cancel);

/// The scheme and host[:port] of an absolute URL ({"", ""} when it is not one).
std::pair<std::string, std::string> scheme_host(const std::string& url);

/// Follows redirects (at most 5) and refuses plain HTTP to any host not allowed, for the first
/// request and every hop. An Authorization header goes only to `auth_host`.
class PolicyTransport final : public HttpTransport {
 public:
  PolicyTransport(HttpTransport& inner, std::string auth_host, std::function<bool(const std::string&)> http_allowed)
      : inner_(inner), auth_host_(std::move(auth_host)), http_allowed_(std::move(http_allowed)) {}
  HttpResponse perform(const HttpRequest& request) override;
  [[nodiscard]] uint64_t bytes_sent() const override { return inner_.bytes_sent(); }
  [[nodiscard]] uint64_t bytes_received() const override { return inner_.bytes_received(); }

  /// A Location header made absolute against the URL that sent it.
  static std::string resolve_location(const std::string& from, const std::string& location);

 private:
  void check(const HttpRequest& r) const;

  HttpTransport& inner_;
  std::string auth_host_;
  std::function<bool(const std::string&)> http_allowed_;
};

}  // namespace flavourgraph::oci
