// Scalar parsers and string checks for the config loader. Every refusal comes
// with a sentence an operator can act on, because these messages are printed
// verbatim by `sluice --check` and returned by the admin API.
#include "proxy/config/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

namespace sluice::config {
namespace detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Splits `s` into its leading run of digits and the rest.
std::pair<std::string_view, std::string_view> split_number(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  return {s.substr(0, i), s.substr(i)};
}

// Parses a run of digits; false on overflow of uint64_t.
bool to_u64(std::string_view digits, uint64_t& out) {
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && p == digits.data() + digits.size();
}

// Letters, digits, '-' and '_' (Docker service names use '_'), labels 1-63
// characters, no leading or trailing '-', at most 253 characters overall.
bool valid_host_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = h.find('.', start);
    std::string_view label = h.substr(start, dot == std::string_view::npos ? h.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool all_digits_and_dots(std::string_view h) {
  return std::all_of(h.begin(), h.end(), [](char c) { return is_digit(c) || c == '.'; });
}

bool is_tchar(char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return is_alpha(c) || is_digit(c) || kSpecials.find(c) != std::string_view::npos;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string format_duration(Duration d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<Duration> parse_duration(std::string_view s, std::string& why) {
  static constexpr const char* kForm =
      "write a whole number with a unit (ms, s, m or h), e.g. \"250ms\" or \"30s\"";
  auto [digits, unit] = split_number(s);
  if (s.empty()) {
    why = std::string("empty duration; ") + kForm;
    return std::nullopt;
  }
  if (digits.empty()) {
    why = quote(s) + (s[0] == '-' ? " is negative; durations must be 0 or more"
                                  : " is not a duration; " + std::string(kForm));
    return std::nullopt;
  }
  int64_t mult = 0;
  if (unit == "ms")
    mult = 1;
  else if (unit == "s")
    mult = 1000;
  else if (unit == "m")
    mult = 60'000;
  else if (unit == "h")
    mult = 3'600'000;
  if (unit.empty()) {
    why = quote(s) + " has no unit; durations need one of ms, s, m or h (e.g. \"" + std::string(s) +
          "s\")";
    return std::nullopt;
  }
  if (mult == 0) {
    why = quote(s) + (unit[0] == '.'
                          ? " is not a whole number; use a smaller unit instead, e.g. \"1500ms\""
                          : " has an unknown unit " + quote(unit) + "; use ms, s, m or h");
    return std::nullopt;
  }
  uint64_t n = 0;
  if (!to_u64(digits, n) || n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / mult)) {
    why = quote(s) + " is too large";
    return std::nullopt;
  }
  return Duration(static_cast<int64_t>(n) * mult);
}

std::optional<uint64_t> parse_size(std::string_view s, std::string& why) {
  static constexpr const char* kForm =
      "write a whole number of bytes with an optional k, m or g suffix, e.g. \"512k\" or \"10m\"";
  auto [digits, suffix] = split_number(s);
  if (s.empty()) {
    why = std::string("empty size; ") + kForm;
    return std::nullopt;
  }
  uint64_t mult = 0;
  if (suffix.empty())
    mult = 1;
  else if (suffix.size() == 1 && lower(suffix[0]) == 'k')
    mult = uint64_t{1} << 10;
  else if (suffix.size() == 1 && lower(suffix[0]) == 'm')
    mult = uint64_t{1} << 20;
  else if (suffix.size() == 1 && lower(suffix[0]) == 'g')
    mult = uint64_t{1} << 30;
  if (digits.empty() || mult == 0) {
    why = quote(s) + " is not a size; " + kForm;
    return std::nullopt;
  }
  uint64_t n = 0;
  if (!to_u64(digits, n) || n > std::numeric_limits<uint64_t>::max() / mult) {
    why = quote(s) + " is too large";
    return std::nullopt;
  }
  return n * mult;
}

std::optional<Endpoint> parse_endpoint(std::string_view s, std::string& why) {
  const std::string bad = quote(s) + " is not a valid host:port";
  Endpoint e;
  std::string_view port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) {
      why = bad + " (missing \"]\" after the IPv6 address)";
      return std::nullopt;
    }
    e.host = to_lower(s.substr(1, close - 1));
    e.ipv6 = true;
    in6_addr a6;
    if (inet_pton(AF_INET6, e.host.c_str(), &a6) != 1) {
      why = bad + " (" + quote(e.host) + " is not an IPv6 address)";
      return std::nullopt;
    }
    if (close + 1 >= s.size() || s[close + 1] != ':') {
      why = bad + " (missing \":PORT\")";
      return std::nullopt;
    }
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      why = bad + " (missing \":PORT\")";
      return std::nullopt;
    }
    std::string_view host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      why = bad + " (an IPv6 address must be written in brackets, e.g. \"[::1]:8080\")";
      return std::nullopt;
    }
    if (host.empty()) {
      why = bad + " (missing host; use 0.0.0.0 or [::] for all addresses)";
      return std::nullopt;
    }
    if (host == "*") {
      e.host = "0.0.0.0";
    } else if (all_digits_and_dots(host)) {
      e.host = std::string(host);
      in_addr a4;
      if (inet_pton(AF_INET, e.host.c_str(), &a4) != 1) {
        why = bad + " (" + quote(host) + " is not an IPv4 address)";
        return std::nullopt;
      }
    } else if (valid_host_name(host)) {
      e.host = to_lower(host);
    } else {
      why = bad + " (" + quote(host) + " is not a valid host name)";
      return std::nullopt;
    }
  }
  if (port.empty()) {
    why = bad + " (missing port)";
    return std::nullopt;
  }
  uint64_t n = 0;
  if (!std::all_of(port.begin(), port.end(), is_digit)) {
    why = bad + " (port must be a number 1-65535)";
    return std::nullopt;
  }
  if (!to_u64(port, n) || n < 1 || n > 65535) {
    why = bad + " (port must be 1-65535)";
    return std::nullopt;
  }
  e.port = static_cast<uint16_t>(n);
  return e;
}

bool is_ip_literal(const Endpoint& e) {
  in_addr a4;
  return e.ipv6 || inet_pton(AF_INET, e.host.c_str(), &a4) == 1;
}

std::string check_not_empty(const std::string& s) {
  return s.empty() ? "must not be empty" : "";
}

std::string check_name(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
  });
  return ok ? "" : quote(s) + " is not a valid name; use 1-64 letters, digits, \"-\" or \"_\"";
}

std::string check_http_path(const std::string& s) {
  if (s.empty() || s[0] != '/') return "must start with \"/\" (got " + quote(s) + ")";
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f || c == '?' || c == '#')
      return quote(s) + " must not contain spaces, control characters, \"?\" or \"#\"";
  return "";
}

std::string check_header_name(const std::string& s) {
  if (s.empty()) return "header name must not be empty";
  if (!std::all_of(s.begin(), s.end(), is_tchar))
    return quote(s) + " is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)";
  return "";
}

std::string normalize_header_name(std::string& s) {
  std::string why = check_header_name(s);
  if (why.empty()) s = to_lower(s);
  return why;
}

std::string check_header_value(const std::string& s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return "header value " + quote(s) +
             " must not contain CR, LF, NUL or other control characters";
  return "";
}

std::string normalize_host_pattern(std::string& s) {
  const std::string shown = quote(s);
  if (s == "*") return "\"*\" is not needed: leave out hosts to match any host";
  if (!s.empty() && s[0] == '[') {
    in6_addr a6;
    std::string inner =
        s.size() >= 2 && s.back() == ']' ? s.substr(1, s.size() - 2) : std::string();
    if (inet_pton(AF_INET6, inner.c_str(), &a6) != 1)
      return shown + " is not a valid bracketed IPv6 address";
    s = to_lower(s);
    return "";
  }
  if (s.find(':') != std::string::npos)
    return shown + " must not contain a port (hosts match the Host header without its port)";
  std::string_view name = s;
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  if (name.find('*') != std::string_view::npos)
    return shown + ": a wildcard is only allowed as the whole first label, e.g. \"*.example.com\"";
  if (!valid_host_name(name)) return shown + " is not a valid host name";
  s = to_lower(s);
  return "";
}

std::string list_words(const std::vector<std::string>& words, bool quoted,
                       std::string_view conjunction) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i + 1 == words.size() && i > 0) {
      out += ' ';
      out += conjunction;
      out += ' ';
    } else if (i > 0) {
      out += ", ";
    }
    out += quoted ? quote(words[i]) : words[i];
  }
  return out;
}

std::string closest(std::string_view key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = 3;
  for (const auto& k : known) {
    size_t d = edit_distance(key, k);
    if (d < best_d && d < k.size()) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

}  // namespace detail

std::optional<Duration> parse_duration(std::string_view s) {
  std::string why;
  return detail::parse_duration(s, why);
}

std::optional<uint64_t> parse_size(std::string_view s) {
  std::string why;
  return detail::parse_size(s, why);
}

std::optional<Endpoint> parse_endpoint(std::string_view s) {
  std::string why;
  return detail::parse_endpoint(s, why);
}

}  // namespace sluice::config
