// Request-level helpers of the admin server: error bodies, URL decoding,
// and the parsing of mutating calls (query string, split body). Pure
// functions, no I/O; split out of server.cc, which keeps the transport.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::admin {

// {"error": message}
std::string error_body(std::string_view message);
// Percent-decoding ('+' as space when asked). False on a malformed escape.
bool url_decode(std::string_view in, bool plus_is_space, std::string* out);
std::string_view method_name(llhttp_method_t m);

// A mutating call's query: ?dry_run=1|true|0|false and, for rollback, ?pool=NAME.
struct MutatingQuery {
  bool dry_run = false;
  std::optional<std::string> pool;
};
bool parse_mutating_query(std::string_view query, bool allow_pool, MutatingQuery* q,
                          std::string* error);

// Body of PUT /v1/routes/{route}/split: {"pool": integer >= 0, ...}.
bool parse_split_body(std::string_view body, size_t max_bytes,
                      std::vector<std::pair<std::string, uint64_t>>* weights, std::string* error);

}  // namespace sluice::admin
