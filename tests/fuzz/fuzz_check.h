// What the fuzz targets share: how a broken property is reported, and the
// one step of feeding an HTTP parser that both HTTP targets take.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "proxy/http/parser.h"

namespace sluice::fuzz {

// A property does not hold: say which, show the bytes, and abort so that
// libFuzzer keeps the input.
[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  fprintf(stderr, "property broken: %s\n%.*s\n", what, static_cast<int>(detail.size()),
          detail.data());
  abort();
}

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
