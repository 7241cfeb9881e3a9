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

std::optional<int64_t> parse_timestamp(std::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 12) return std::nullopt;
    return std::stoll(std::string(s));
  }
  std::tm tm{};
  int y, mo, d, h, mi, se;
  char tail;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d-%2d%2d%2d%c", &y, &mo, &d, &h, &mi, &se, &tail) != 6 ||
      str.size() != 17)
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  int64_t t = timegm(&tm);
  if (format_timestamp(t) != str) return std::nullopt;  // rejects 2024-02-31 and the like
  return t;
}

std::string iso_time(int64_t unix_seconds) { return format_utc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace flavourgraph
