// How every fuzz target reports a broken property: say which, show the bytes,
// and abort, so that libFuzzer keeps the input (and the corpus replay fails).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sluice::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  fprintf(stderr, "property broken: %s\n", what);
  fwrite(detail.data(), 1, detail.size(), stderr);
  fputc('\n', stderr);
  abort();
}

}  // namespace sluice::fuzz
