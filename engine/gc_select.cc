// gc: which images of a place to keep (docs/gc.md). Pure.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <tuple>

#include "flavourgraph/gc.h"
#include "flavourgraph/time.h"

namespace flavourgraph::gc {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

/// `YYYY-MM-DD-HHMMSS` at `at` in `s`.
bool timestamp_at(std::string_view s, size_t at) {
  static constexpr std::string_view kShape = "dddd-dd-dd-dddddd";
  if (at + kShape.size() > s.size()) return false;
  for (size_t i = 0; i < kShape.size(); ++i)
    if (kShape[i] == 'd' ? !digit(s[at + i]) : s[at + i] != '-') return false;
  // Not part of a longer run of digits.
  return (at == 0 || !digit(s[at - 1])) && (at + kShape.size() == s.size() || !digit(s[at + kShape.size()]));
}

}  // namespace

std::optional<int64_t> tag_time(std::string_view tag) {
  for (size_t at = 0; at < tag.size(); ++at)
    if (timestamp_at(tag, at)) return parse_timestamp(tag.substr(at, 17));
  return std::nullopt;
}

std::optional<int64_t> image_time(const std::vector<std::string>& tags, std::string_view created) {
  std::optional<int64_t> best;
  for (const auto& t : tags)
    if (auto v = tag_time(t); v && (!best || *v > *best)) best = v;
  return best ? best : parse_rfc3339(created);
}

bool is_referrers_tag(std::string_view tag, std::string* digest) {
  if (!tag.starts_with("sha256-") || tag.size() != 7 + 64) return false;
  for (char c : tag.substr(7))
    if (!digit(c) && !(c >= 'a' && c <= 'f')) return false;
  if (digest) *digest = "sha256:" + std::string(tag.substr(7));
  return true;
}

std::string group_name(const Image& image) { return fmt::format("{}/{}/{}", image.image, image.flavour, image.kind); }

namespace {

std::optional<std::string> named_by(const Image& img, const References& refs) {
  if (img.tags.empty()) return refs.find(img.short_repository, "", img.digest);
  for (const auto& t : img.tags)
    if (auto where = refs.find(img.short_repository, t, img.digest)) return where;
  return std::nullopt;
}

/// Newest first: an image with a time before one without; the later time; the later place.
bool newer(const Image& a, const Image& b) {
  return std::tuple(a.time.has_value(), a.time.value_or(0), a.order) >
         std::tuple(b.time.has_value(), b.time.value_or(0), b.order);
}

}  // namespace

std::vector<Verdict> select(const std::vector<Image>& images, const References& refs, unsigned keep) {
  std::vector<Verdict> out(images.size());
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].image.empty())
      out[i] = {true, "it has no io.flavourgraph labels: not flavourgraph's to remove"};
    else
      groups[group_name(images[i])].push_back(i);
  }
  for (auto& [group, members] : groups) {
    std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) { return newer(images[a], images[b]); });
    for (size_t rank = 0; rank < members.size(); ++rank) {
      const Image& img = images[members[rank]];
      if (rank < keep) {
        out[members[rank]] = {true, fmt::format("one of the {} newest of {}", keep, group)};
      } else if (auto where = named_by(img, refs)) {
        out[members[rank]] = {true, fmt::format("named by {}", *where)};
      } else {
        out[members[rank]] = {false, fmt::format("older than the {} newest of {}, and named by no report, build "
                                                 "record or values file",
                                                 keep, group)};
      }
    }
  }
  return out;
}

}  // namespace flavourgraph::gc
