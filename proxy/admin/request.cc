#include "proxy/admin/request.h"

#include <cctype>
#include <cstring>

#include "proxy/admin/json.h"

namespace sluice::admin {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string error_body(std::string_view message) {
  json::Writer w;
  w.begin_object().key("error").value(message).end_object();
  std::string body = w.take();
  body.push_back('\n');
  return body;
}

bool url_decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::string_view method_name(llhttp_method_t m) {
  return llhttp_method_name(m);
}

bool parse_mutating_query(std::string_view query, bool allow_pool, MutatingQuery* q,
                          std::string* error) {
  bool seen_dry = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string key, value;
    if (!url_decode(part.substr(0, eq), true, &key) ||
        !url_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true,
                    &value)) {
      *error = "invalid percent-encoding in the query string";
      return false;
    }
    if (key == "dry_run") {
      if (seen_dry) {
        *error = "query parameter \"dry_run\" given more than once";
        return false;
      }
      seen_dry = true;
      // A bare ?dry_run asks for a dry run: when in doubt, change nothing.
      if (value.empty() || value == "1" || value == "true") {
        q->dry_run = true;
      } else if (value == "0" || value == "false") {
        q->dry_run = false;
      } else {
        *error = "dry_run must be 1, true, 0 or false, not " + json::quote(value);
        return false;
      }
    } else if (key == "pool" && allow_pool) {
      if (q->pool) {
        *error = "query parameter \"pool\" given more than once";
        return false;
      }
      if (value.empty()) {
        *error = "query parameter \"pool\" must name a pool";
        return false;
      }
      q->pool = std::move(value);
    } else {
      // A typo such as ?dryrun=1 must not turn into a real change.
      *error = "unknown query parameter " + json::quote(key);
      return false;
    }
  }
  return true;
}

// Body of PUT /v1/routes/{route}/split: {"pool": integer >= 0, ...}.
bool parse_split_body(std::string_view body, size_t max_bytes,
                      std::vector<std::pair<std::string, uint64_t>>* weights, std::string* error) {
  static constexpr std::string_view kExample = R"(, e.g. {"blue":90,"canary":10})";
  bool blank = true;
  for (char c : body) blank = blank && (c == ' ' || c == '\t' || c == '\r' || c == '\n');
  if (blank) {
    *error = "request body required: a JSON object of pool weights" + std::string(kExample);
    return false;
  }
  json::ParseError perr;
  json::ParseOptions popt;
  popt.max_bytes = max_bytes;
  popt.max_depth = 16;
  std::optional<json::Value> doc = json::parse(body, &perr, popt);
  if (!doc) {
    *error = "request body: " + perr.describe();
    return false;
  }
  if (!doc->is_object()) {
    *error = std::string("request body must be a JSON object of pool weights") +
             std::string(kExample) + ", not " + (doc->is_array() ? "an " : "a ") + doc->type_name();
    return false;
  }
  for (const json::Member& m : doc->members()) {
    if (m.key.empty()) {
      *error = "pool names must not be empty";
      return false;
    }
    const json::Value& v = m.value;
    if (!v.is_number() || !v.is_integer() || v.is_negative()) {
      std::string shown = json::to_string(v);
      if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
      *error = "weight of pool " + json::quote(m.key) + " must be an integer >= 0, got " + shown;
      return false;
    }
    weights->emplace_back(m.key, v.as_uint64());
  }
  return true;
}

}  // namespace sluice::admin
