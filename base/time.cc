#include "flavourgraph/time.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

namespace flavourgraph {

std::string format_utc(int64_t unix_seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string format_timestamp(int64_t unix_seconds) { return format_utc(unix_seconds, "%Y-%m-%d-%H%M%S"); }

namespace {

int64_t utc_seconds(int y, int mo, int d, int h, int mi, int se) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return timegm(&tm);
}

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 12) return std::nullopt;
    return std::stoll(std::string(s));
  }
  int y, mo, d, h, mi, se;
  char tail;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d-%2d%2d%2d%c", &y, &mo, &d, &h, &mi, &se, &tail) != 6 ||
      str.size() != 17)
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  int64_t t = utc_seconds(y, mo, d, h, mi, se);
  if (format_timestamp(t) != str) return std::nullopt;  // rejects 2024-02-31 and the like
  return t;
}

std::optional<int64_t> parse_rfc3339(std::string_view text) {
  std::string s(text.substr(0, 64));
  int y, mo, d, h, mi, se, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19)
    return std::nullopt;
  int64_t t = utc_seconds(y, mo, d, h, mi, se);
  size_t at = 19;
  while (at < s.size() && (s[at] == '.' || (s[at] >= '0' && s[at] <= '9'))) ++at;  // fractions of a second
  if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + at + 1, "%2d:%2d", &oh, &om) == 2) t -= (s[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  return t;
}

std::string iso_time(int64_t unix_seconds) { return format_utc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace flavourgraph
