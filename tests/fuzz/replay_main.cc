// A fuzz target without libFuzzer: feeds each file it is given (or each file
// in each directory it is given, in name order) to LLVMFuzzerTestOneInput
// once. The normal and sanitizer builds link every target with this and run
// it over tests/fuzz/corpus/<target>/ as a test, so the targets keep
// compiling and every input the fuzzers kept, and their properties, are
// checked on each run of scripts/test. A property that breaks aborts (see
// fuzz_check.h). Arguments starting with "--" are ignored (scripts/test
// passes gtest's flags to every test); no input at all is a failure, so a
// corpus that went missing does not pass as an empty one.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--")) continue;
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(arg, ec)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      if (ec) {
        fprintf(stderr, "%s: cannot list: %s\n", argv[i], ec.message().c_str());
        return 1;
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else {
      inputs.emplace_back(arg);
    }
  }
  if (inputs.empty()) {
    fprintf(stderr, "usage: %s DIR|FILE... (no input given or found)\n", argv[0]);
    return 1;
  }
  std::string bytes;
  for (const fs::path& p : inputs) {
    if (!read_file(p, bytes)) {
      fprintf(stderr, "%s: cannot read\n", p.c_str());
      return 1;
    }
    // A heap copy of exactly the input's size (never a null pointer, even
    // for an empty input), so the sanitizers see a read past its end as they
    // would in libFuzzer's own buffers.
    std::unique_ptr<uint8_t[]> data(new uint8_t[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), data.get());
    LLVMFuzzerTestOneInput(data.get(), bytes.size());
  }
  printf("%zu inputs replayed, no property broken\n", inputs.size());
  return 0;
}
