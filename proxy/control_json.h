// JSON text helpers shared by the control plane's replies (control.cc,
// control_status.cc). Loop thread of the control plane; no state.
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "proxy/observe/log.h"

namespace sluice {

// A number with at most four decimals ("0.05", "12.5"); not-a-number and
// infinities as 0, which JSON cannot carry.
inline void append_real(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, std::round(v * 10000.0) / 10000.0);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

// "key": (the caller appends the value).
inline void append_key(std::string& out, std::string_view k) {
  observe::append_json_string(out, k);
  out.push_back(':');
}

}  // namespace sluice
