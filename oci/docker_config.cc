#include "flavourgraph/oci/docker_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "flavourgraph/error.h"
#include "flavourgraph/fs_util.h"
#include "flavourgraph/process.h"

namespace flavourgraph::oci {

using nlohmann::json;

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

namespace {

/// "https://host/v1/" and the like, as written in a Docker config, to the host alone.
std::string config_host(std::string k) {
  for (std::string_view p : {"https://", "http://"})
    if (k.rfind(p, 0) == 0) k = k.substr(p.size());
  if (auto slash = k.find('/'); slash != std::string::npos) k = k.substr(0, slash);
  return k;
}

/// Asks `docker-credential-<helper> get` for `host`, as docker and skopeo do (the host on
/// stdin, JSON with Username and Secret on stdout). nullopt when it has none; throws Error
/// (never with its output, which may hold the secret) when it cannot be run.
std::optional<Credentials> from_helper(const std::string& helper, const std::string& host) {
  if (helper.empty() || helper.find('/') != std::string::npos)
    throw Error(fmt::format("credential helper '{}' is not a helper name", helper));
  ProcessOptions o;
  o.input = host;
  o.timeout = std::chrono::seconds(30);
  o.keep_tail = 1 << 20;
  ProcessResult r = run_process({"docker-credential-" + helper, "get"}, o);
  if (r.status < 0) throw Error(fmt::format("credential helper docker-credential-{} is not installed", helper));
  if (r.status != 0) {
    if (r.out.find("credentials not found") != std::string::npos || r.err.find("credentials not found") != std::string::npos)
      return std::nullopt;
    throw Error(fmt::format("credential helper docker-credential-{} failed for {} (exit status {})", helper, host, r.status));
  }
  json j = json::parse(r.out, nullptr, false);
  if (!j.is_object() || !j.contains("Secret") || !j["Secret"].is_string())
    throw Error(fmt::format("credential helper docker-credential-{} gave no Secret for {}", helper, host));
  return Credentials{j.value("Username", ""), j["Secret"].get<std::string>()};
}

}  // namespace

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
  if (!j.is_object()) return std::nullopt;
  // A helper for this host, else the store for every host, else the credentials written in "auths".
  if (j.contains("credHelpers") && j["credHelpers"].is_object())
    for (const auto& [key, helper] : j["credHelpers"].items())
      if (config_host(key) == host && helper.is_string())
        if (auto c = from_helper(helper.get<std::string>(), host)) return c;
  if (j.contains("credsStore") && j["credsStore"].is_string() && !j["credsStore"].get<std::string>().empty())
    if (auto c = from_helper(j["credsStore"].get<std::string>(), host)) return c;
  if (!j.contains("auths") || !j["auths"].is_object()) return std::nullopt;
  for (const auto& [key, entry] : j["auths"].items()) {
    if (config_host(key) != host || !entry.is_object()) continue;
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

}  // namespace flavourgraph::oci
