// Helpers shared by the config tests.
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"

namespace sluice::config {

// A complete valid config (8 lines). Tests prepend a snippet to it, so the
// snippet's line numbers are the file's.
inline constexpr const char* kMinimal = R"([[listener]]
listen = "127.0.0.1:8080"

[pool.blue]
servers = ["127.0.0.1:3000"]

[[route]]
name = "app"
split = { blue = 100 }
)";

inline std::vector<std::string> Strs(const std::vector<Diagnostic>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.str());
  return out;
}

inline std::string Joined(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.str() + "\n";
  return out;
}

}  // namespace sluice::config
