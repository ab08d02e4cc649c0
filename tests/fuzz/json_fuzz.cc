// libFuzzer target: the admin API's JSON parser and its request parsing
// (split bodies, query strings from the admin socket), and the state file
// parser (state_dir, edited by operators).
//
// The first byte picks the parser. Properties beyond the sanitizers: a value
// the JSON parser accepts writes out as text that parses to the same text
// again; a state document parse_state accepts serialises to a document that
// parses back to the same routes; a refused split body or query says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/admin/json.h"
#include "proxy/admin/request.h"
#include "routing/controller.h"
#include "tests/fuzz/fuzz_check.h"

using sluice::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 4 == 2) {
    std::vector<std::pair<std::string, uint64_t>> weights;
    std::string error;
    // "{}" parses: the control plane then refuses it for the pools it lacks.
    if (!sluice::admin::parse_split_body(text, 4096, &weights, &error) && error.empty()) {
      fail("split body refused without a reason", text);
    }
    return 0;
  }
  if (data[0] % 4 == 3) {
    sluice::admin::MutatingQuery q;
    std::string error;
    if (!sluice::admin::parse_mutating_query(text, (data[0] & 4) != 0, &q, &error) &&
        error.empty()) {
      fail("query refused without a reason", text);
    }
    std::string decoded;
    sluice::admin::url_decode(text, (data[0] & 8) != 0, &decoded);
    return 0;
  }
  if (data[0] % 4 == 1) {
    sluice::routing::StateParseResult r = sluice::routing::parse_state(text);
    if (!r.ok()) return 0;
    std::string again = sluice::routing::serialize_state(r.routes);
    sluice::routing::StateParseResult r2 = sluice::routing::parse_state(again);
    if (!r2.ok()) fail("serialised state does not parse back", again);
    if (!(r2.routes == r.routes)) fail("state changed across a round trip", again);
    return 0;
  }
  sluice::json::ParseError err;
  std::optional<sluice::json::Value> v = sluice::json::parse(text, &err);
  if (!v) {
    if (err.message.empty()) fail("refused without a message", text);
    return 0;
  }
  std::string once = sluice::json::to_string(*v);
  std::optional<sluice::json::Value> v2 = sluice::json::parse(once);
  if (!v2) fail("written JSON does not parse back", once);
  if (sluice::json::to_string(*v2) != once) fail("JSON changed across a round trip", once);
  return 0;
}
