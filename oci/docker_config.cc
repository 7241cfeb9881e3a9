#include "flavourgraph/oci/docker_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "flavourgraph/fs_util.h"

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

}  // namespace flavourgraph::oci
