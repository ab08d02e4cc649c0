// The one step of feeding an HTTP parser that both HTTP fuzz targets take.
#pragma once

#include <cstddef>
#include <vector>

#include "proxy/http/parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace sluice::fuzz {

// One read of `n` bytes at `p`, fed as a connection feeds its parser; every
// body slice must point into the bytes just fed.
inline http::Parser::Result feed(http::Parser& parser, const char* p, size_t n,
                                 std::vector<http::Slice>* body) {
  if (body != nullptr) body->clear();
  http::Parser::Result r = parser.execute(p, n, body);
  if (r.consumed > n) fail("the parser consumed more than it was given");
  if (body != nullptr) {
    for (const http::Slice& s : *body) {
      if (s.data < p || s.data + s.len > p + n) fail("body slice outside the bytes fed");
    }
  }
  return r;
}

}  // namespace sluice::fuzz
