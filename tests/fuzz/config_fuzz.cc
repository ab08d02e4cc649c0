// libFuzzer target: any text as a sluice.toml.
//
// A bad config must be refused with "file:line:col key: message" diagnostics
// and never crash the loader (SPEC: bad input loses nothing). The property
// checked beyond the sanitizers: a load either yields a config and no error,
// or errors and no config, and every diagnostic names the file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/config/config.h"
#include "tests/fuzz/fuzz_check.h"

using sluice::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sluice::config::LoadResult r = sluice::config::load_string(text, "fuzz.toml", false);
  if ((r.config != nullptr) == !r.errors.empty()) fail("a config and errors, or neither", text);
  for (const sluice::config::Diagnostic& d : r.errors) {
    std::string s = d.str();
    if (s.rfind("fuzz.toml:", 0) != 0 || d.message.empty())
      fail("diagnostic without a position", s);
  }
  return 0;
}
