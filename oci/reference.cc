#include "flavourgraph/oci/reference.h"

#include <fmt/format.h>

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
  return t;
}

}  // namespace flavourgraph::oci
