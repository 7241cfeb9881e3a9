// Redirects followed hop by hop, and the scheme policy: plain HTTP only where allowed.
#include <fmt/format.h>

#include <algorithm>

#include "flavourgraph/oci/http.h"
#include "flavourgraph/text.h"

namespace flavourgraph::oci {

namespace {

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}


}  // namespace

std::pair<std::string, std::string> scheme_host(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return {};
  auto end = url.find_first_of("/?#", sep + 3);
  return {ascii_lower(url.substr(0, sep)), url.substr(sep + 3, end == std::string::npos ? std::string::npos : end - sep - 3)};
}

std::string PolicyTransport::resolve_location(const std::string& from, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  auto [scheme, host] = scheme_host(from);
  if (!location.empty() && location[0] == '/') return scheme + "://" + host + location;
  auto query = from.find_first_of("?#", scheme.size() + 3 + host.size());
  std::string path = from.substr(0, query);
  return path.substr(0, path.rfind('/') + 1) + location;
}

void PolicyTransport::check(const HttpRequest& r) const {
  auto [scheme, host] = scheme_host(r.url);
  if (scheme == "https") return;
  if (scheme == "http" && http_allowed_(host)) return;
  if (scheme == "http")
    throw RegistryError(fmt::format("{}: refusing plain HTTP to {} (not an insecure registry)", r.what, host));
  throw RegistryError(fmt::format("{}: refusing the URL scheme of {}", r.what, r.url));
}

HttpResponse PolicyTransport::perform(const HttpRequest& request) {
  check(request);
  HttpResponse resp = inner_.perform(request);
  if (!request.follow) return resp;
  HttpRequest hop = request;
  for (int hops = 0; is_redirect(resp.status); ++hops) {
    std::string location = resp.header("location");
    if (location.empty()) return resp;
    if (hops == 5) throw RegistryError(fmt::format("{}: more than 5 redirects", request.what));
    hop.url = resolve_location(hop.url, location);
    check(hop);
    if (scheme_host(hop.url).second != auth_host_)  // credentials stay with the registry
      hop.headers.erase(std::remove_if(hop.headers.begin(), hop.headers.end(),
                                       [](const std::string& h) { return ascii_lower(h).rfind("authorization:", 0) == 0; }),
                        hop.headers.end());
    resp = inner_.perform(hop);
  }
  return resp;
}

}  // namespace flavourgraph::oci
