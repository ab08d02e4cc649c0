// Private to proxy/config: the scalar parsers behind config.h's parse_* helpers,
// with an explanation of why a value was refused, and the string checks the
// schema uses. No toml++ here; everything is a pure function of its input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace sluice::config::detail {

// Like parse_duration / parse_size / parse_endpoint, but on failure `why`
// receives a complete operator-facing sentence naming the offending text.
std::optional<Duration> parse_duration(std::string_view s, std::string& why);
std::optional<uint64_t> parse_size(std::string_view s, std::string& why);
std::optional<Endpoint> parse_endpoint(std::string_view s, std::string& why);

// True for "0.0.0.0" / "[::]"-style literals (as parse_endpoint stores them).
bool is_ip_literal(const Endpoint& e);

// `s` in double quotes, with control characters, quotes and backslashes escaped,
// so a value containing CR/LF can be echoed safely in a diagnostic.
std::string quote(std::string_view s);

std::string to_lower(std::string_view s);
std::string format_duration(Duration d);  // "1500ms", "30s", "5m", "2h"

// String checks. Each returns an empty string when `s` is acceptable, else the
// reason. Checks named normalize_* may rewrite `s` (e.g. to lower case).
std::string check_not_empty(const std::string& s);
std::string check_name(const std::string& s);          // pool and route names
std::string check_http_path(const std::string& s);     // "/health", "/api/"
std::string normalize_header_name(std::string& s);     // RFC 9110 token, lower-cased
std::string check_header_name(const std::string& s);   // RFC 9110 token, case kept
std::string check_header_value(const std::string& s);  // no CR, LF, NUL, other controls
std::string normalize_host_pattern(std::string& s);    // "example.com", "*.example.com"

// "a", "a or b", "a, b or c" (each quoted when `quoted`; `conjunction` replaces "or").
std::string list_words(const std::vector<std::string>& words, bool quoted,
                       std::string_view conjunction = "or");

// A known key close to `key` (edit distance <= 2), or empty.
std::string closest(std::string_view key, const std::vector<std::string>& known);

}  // namespace sluice::config::detail
