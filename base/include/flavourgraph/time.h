#pragma once
/// Times as flavourgraph writes them: tag timestamps and image configs, always UTC.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flavourgraph {

/// Formats a UTC time with strftime's `format`.
std::string format_utc(int64_t unix_seconds, const char* format);
/// Formats a UTC time as the tag timestamp YYYY-MM-DD-HHMMSS.
std::string format_timestamp(int64_t unix_seconds);
/// Parses --timestamp: YYYY-MM-DD-HHMMSS or seconds since the epoch.
std::optional<int64_t> parse_timestamp(std::string_view s);
/// RFC 3339 (`2024-10-29T19:03:15Z`, `...15.123+02:00`), as image configs' `created` is, as
/// seconds since the epoch.
std::optional<int64_t> parse_rfc3339(std::string_view s);
/// ISO 8601 UTC time, as image configs write it.
std::string iso_time(int64_t unix_seconds);

}  // namespace flavourgraph
