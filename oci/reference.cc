#include "flavourgraph/oci/reference.h"

#include <fmt/format.h>

#include <charconv>

namespace flavourgraph::oci {

namespace {

bool looks_like_host(std::string_view s) {
  return s.find('.') != std::string_view::npos || s.find(':') != std::string_view::npos || s == "localhost";
}

bool valid_host(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
      return false;
  return true;
}

/// What is wrong with a push target's host (`NAME[:PORT]`, `[IPV6][:PORT]`) and prefix (lower-case
/// path components), or "".
std::string target_problem(std::string_view host, std::string_view prefix) {
  std::string_view name = host, port;
  bool has_port = false;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return "an IPv6 host needs its closing ']'";
    name = host.substr(0, close + 1);
    if (close + 1 < host.size() && host[close + 1] != ':') return "write [IPV6]:PORT";
    has_port = close + 1 < host.size();
    if (has_port) port = host.substr(close + 2);
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    has_port = true;
    if (name.empty() || host.find(':', colon + 1) != std::string_view::npos) return "write HOST[:PORT][/PREFIX]";
  }
  if (has_port) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || v < 1 || v > 65535)
      return fmt::format("port '{}' is not a number from 1 to 65535{}", port,
                         name.find('.') == std::string_view::npos && name != "localhost"
                             ? " (an OCI image layout on disk is oci:DIR)"
                             : "");
  }
  if (name.front() != '[') {
    if (name.front() == '-' || name.back() == '-' || name.front() == '.' || name.back() == '.' ||
        name.find("..") != std::string_view::npos)
      return fmt::format("'{}' is not a host name", name);
  }
  size_t start = 0;
  while (start < prefix.size()) {
    size_t end = prefix.find('/', start);
    std::string_view part = prefix.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (part.empty()) return "the prefix has an empty path component ('//')";
    for (char c : part)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
        return fmt::format("prefix component '{}' must be lower-case letters, digits, '.', '_' and '-'", part);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return "";
}

}  // namespace

Expected<Reference> Reference::parse(std::string_view text, const std::filesystem::path& base_dir) {
  auto fail = [](std::string msg) { return Error(std::move(msg), ErrorKind::config); };
  Reference r;
  if (text.rfind("oci:", 0) == 0) {
    r.kind = Kind::layout;
    std::string_view rest = text.substr(4);
    auto at = rest.find('@');
    std::string_view path;
    if (at != std::string_view::npos) {
      auto d = Digest::parse(rest.substr(at + 1));
      if (!d) return fail(fmt::format("'{}': bad digest after '@'", text));
      r.digest = d;
      path = rest.substr(0, at);
    } else {
      auto colon = rest.find(':');
      if (colon == std::string_view::npos || colon + 1 == rest.size())
        return fail(fmt::format("'{}' is not oci:DIR:TAG or oci:DIR@DIGEST", text));
      path = rest.substr(0, colon);
      r.tag = std::string(rest.substr(colon + 1));
    }
    if (path.empty()) return fail(fmt::format("'{}' has no directory", text));
    std::filesystem::path p(path);
    r.dir = (p.is_absolute() ? p : base_dir / p).lexically_normal();
    return r;
  }
  r.kind = Kind::registry;
  std::string_view rest = text;
  auto at = rest.find('@');
  if (at != std::string_view::npos) {
    auto d = Digest::parse(rest.substr(at + 1));
    if (!d) return fail(fmt::format("'{}': bad digest after '@'", text));
    r.digest = d;
    rest = rest.substr(0, at);
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos && looks_like_host(rest.substr(0, slash))) {
    r.host = std::string(rest.substr(0, slash));
    rest = rest.substr(slash + 1);
  } else {
    r.host = "docker.io";
  }
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return fail(fmt::format("'{}' has no repository", text));
  r.repository = std::string(rest);
  if (r.host == "docker.io" && r.repository.find('/') == std::string::npos) r.repository = "library/" + r.repository;
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  if (!valid_host(r.host)) return fail(fmt::format("'{}': invalid registry host '{}'", text, r.host));
  for (char c : r.repository)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/'))
      return fail(fmt::format("'{}': repository '{}' may hold only lower-case letters, digits, '.', '_', '-' and '/'",
                              text, r.repository));
  for (char c : r.tag)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return fail(fmt::format("'{}': tag '{}' may hold only letters, digits, '.', '_' and '-'", text, r.tag));
  return r;
}

std::string Reference::str() const {
  std::string out;
  if (kind == Kind::layout) {
    out = "oci:" + dir.string();
    if (!tag.empty()) out += ":" + tag;
  } else {
    out = host + "/" + repository;
    if (!tag.empty()) out += ":" + tag;
  }
  if (digest) out += "@" + digest->str();
  return out;
}

Expected<Target> Target::parse(std::string_view text, const std::filesystem::path& base_dir) {
  Target t;
  t.text = std::string(text);
  if (text.rfind("oci:", 0) == 0) {
    t.kind = Kind::layout;
    std::string_view path = text.substr(4);
    if (path.empty()) return Error("oci: target has no directory", ErrorKind::config);
    std::filesystem::path p(path);
    t.dir = (p.is_absolute() ? p : base_dir / p).lexically_normal();
    return t;
  }
  t.kind = Kind::registry;
  auto slash = text.find('/');
  t.host = std::string(text.substr(0, slash));
  if (slash != std::string_view::npos) {
    t.prefix = std::string(text.substr(slash + 1));
    while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  }
  if (!valid_host(t.host)) return Error(fmt::format("'{}' is not HOST[:PORT][/PREFIX] or oci:DIR", text), ErrorKind::config);
  if (std::string problem = target_problem(t.host, t.prefix); !problem.empty())
    return Error(fmt::format("'{}': {}", text, problem), ErrorKind::config);
  return t;
}

}  // namespace flavourgraph::oci
