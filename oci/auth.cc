// Anonymous, basic and bearer-token auth, answering a registry's 401 challenges.
#include "flavourgraph/oci/auth.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "flavourgraph/text.h"

namespace flavourgraph::oci {

using nlohmann::json;

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

std::optional<Challenge> parse_challenge(const std::string& header) {
  std::string h = trim(header);
  auto sp = h.find(' ');
  Challenge c;
  c.scheme = ascii_lower(h.substr(0, sp));
  if (c.scheme != "basic" && c.scheme != "bearer") return std::nullopt;
  if (sp == std::string::npos) return c;
  std::string rest = h.substr(sp + 1);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ',')) ++i;
    size_t eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = ascii_lower(trim(rest.substr(i, eq - i)));
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

std::string Authenticator::basic_value() const {
  return "Basic " + base64(credentials_->username + ":" + credentials_->password);
}

std::string Authenticator::fetch_token(const Challenge& c, const std::string& scope) {
  auto param = [&](const char* k) {
    auto it = c.params.find(k);
    return it == c.params.end() ? std::string() : it->second;
  };
  std::string url = param("realm");
  if (url.empty()) throw RegistryError(fmt::format("registry {}: bearer challenge without a realm", host_));
  std::string sep = url.find('?') == std::string::npos ? "?" : "&";
  if (!param("service").empty()) {
    url += sep + "service=" + url_escape(param("service"));
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
  HttpRequest r;
  r.url = url;
  r.what = fmt::format("registry {}: token", host_);
  if (credentials_) r.headers.push_back("Authorization: " + basic_value());
  HttpResponse resp = transport_.perform(r);
  if (resp.status != 200)
    throw RegistryError(fmt::format("registry {}: the token service refused ({}){}", host_, resp.status,
                                    credentials_ ? "" : "; no credentials for this registry in the Docker config"),
                        resp.status, resp.status >= 500);
  json j = json::parse(resp.body, nullptr, false);
  std::string token;
  for (const char* key : {"token", "access_token"})
    if (token.empty() && j.is_object() && j.contains(key) && j[key].is_string()) token = j[key];
  if (token.empty()) throw RegistryError(fmt::format("registry {}: the token service sent no token", host_));
  return "Bearer " + token;
}

HttpResponse Authenticator::send(HttpRequest r, const std::string& scope) {
  std::string auth;
  {
    std::lock_guard lock(mutex_);
    auto it = tokens_.find(scope);
    auth = it != tokens_.end() ? it->second : basic_;
  }
  size_t plain = r.headers.size();
  if (!auth.empty()) r.headers.push_back("Authorization: " + auth);
  HttpResponse resp = transport_.perform(r);
  if (resp.status != 401) return resp;
  auto c = parse_challenge(resp.header("www-authenticate"));
  if (!c) throw RegistryError(fmt::format("{}: 401 unauthorized, and no challenge the client understands", r.what), 401);
  if (c->scheme == "basic") {
    if (!credentials_)
      throw RegistryError(
          fmt::format("{}: the registry needs credentials, and the Docker config has none for {}", r.what, host_), 401);
    auth = basic_value();
    std::lock_guard lock(mutex_);
    basic_ = auth;
  } else {
    auth = fetch_token(*c, scope);
    std::lock_guard lock(mutex_);
    tokens_[scope] = auth;
  }
  r.headers.resize(plain);
  r.headers.push_back("Authorization: " + auth);
  resp = transport_.perform(r);
  if (resp.status == 401)
    throw RegistryError(fmt::format("{}: authentication failed (check the credentials for {})", r.what, host_), 401);
  return resp;
}

}  // namespace flavourgraph::oci
