// sluice: flags, then either --check, --version, or run the server.
#include <cstdio>
#include <cstring>
#include <string>

#include "proxy/config/config.h"
#include "proxy/server.h"
#include "sluice_version.h"

namespace {

void usage(FILE* out) {
  std::fputs(
      "usage: sluice -c FILE          run the gateway in the foreground\n"
      "       sluice --check -c FILE  validate FILE and exit (0 valid, 1 invalid)\n"
      "       sluice --version\n"
      "options:\n"
      "  -c, --config FILE  configuration file (TOML)\n"
      "  -h, --help         this text\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sluice: %s needs a file\n", a.c_str());
        return 2;
      }
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--check" || a == "-t") {
      check = true;
    } else if (a == "--version" || a == "-v") {
      std::printf("sluice %s\n", SLUICE_VERSION);
      return 0;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "sluice: unknown argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "sluice: no configuration file (-c FILE)\n");
    usage(stderr);
    return 2;
  }

  sluice::config::LoadResult r = sluice::config::load_file(config_path);
  for (const auto& w : r.warnings) std::fprintf(stderr, "%s\n", w.str().c_str());
  if (!r.config) {
    for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.str().c_str());
    if (check) return 1;
    std::fprintf(stderr, "sluice: %s: configuration invalid, not starting\n", config_path.c_str());
    return 1;
  }
  if (check) {
    std::printf("%s: configuration ok\n", config_path.c_str());
    return 0;
  }
  sluice::Server server(r.config);
  return server.run();
}
