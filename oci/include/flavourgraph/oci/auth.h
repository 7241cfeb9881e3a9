#pragma once
/// Registry auth over a transport: anonymous, HTTP basic, and bearer tokens from the service a
/// WWW-Authenticate challenge names (one token per scope, kept for the client's life).
/// Credentials never appear in errors.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "flavourgraph/oci/docker_config.h"
#include "flavourgraph/oci/http.h"

namespace flavourgraph::oci {

/// A WWW-Authenticate challenge: scheme and parameters (lower-case keys).
struct Challenge {
  std::string scheme;  ///< "basic" or "bearer"
  std::map<std::string, std::string> params;
};
std::optional<Challenge> parse_challenge(const std::string& header);

/// `%XX`-escapes what a URL query cannot hold (keeps `/` and `:`).
std::string url_escape(std::string_view s);

class Authenticator {
 public:
  Authenticator(std::string host, std::optional<Credentials> credentials, HttpTransport& transport)
      : host_(std::move(host)), credentials_(std::move(credentials)), transport_(transport) {}

  /// Sends `r` with the authorization held for `scope` (e.g. "repository:r:pull,push"), and
  /// answers a 401 once: with the credentials (basic), or with a token for `scope` from the
  /// challenge's realm (bearer). Throws RegistryError when the registry still refuses.
  HttpResponse send(HttpRequest r, const std::string& scope);

 private:
  std::string fetch_token(const Challenge& c, const std::string& scope);
  [[nodiscard]] std::string basic_value() const;

  std::string host_;
  std::optional<Credentials> credentials_;
  HttpTransport& transport_;
  std::mutex mutex_;
  std::map<std::string, std::string> tokens_;  ///< scope → Authorization value
  std::string basic_;                          ///< set once the registry asked for basic auth
};

}  // namespace flavourgraph::oci
