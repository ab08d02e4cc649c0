// Stats: everything one worker observed during a run, merged across workers
// at the end. A plain value owned by its worker's thread; nothing here is
// shared while the run is going (the progress line reads Worker's atomics).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/histogram.h"

namespace sluice::bench {

// Why a request got no response. One failed request counts once, under the
// first failure that ended it.
enum class ErrorKind : uint8_t {
  Connect,  // TCP connect failed (refused, unreachable)
  Tls,      // TLS handshake or record failure
  Write,    // writing the request failed
  Read,     // the connection broke or closed before the response completed
  Timeout,  // no complete response within --timeout (or never sent: see Worker)
  Parse,    // malformed response
};
inline constexpr size_t kErrorKinds = 6;
const char* to_string(ErrorKind k);

// Responses per value of the pool header. A handful of pools in practice: a
// flat vector searched linearly, a string allocated the first time a value is
// seen and never again. Past kMaxPools distinct values, the rest are lumped
// under "(other)" so a header that carries a request id cannot grow it forever.
class PoolCounts {
 public:
  static constexpr size_t kMaxPools = 64;

  void add(std::string_view pool, uint64_t n = 1);
  void add_missing(uint64_t n = 1) { missing_ += n; }
  void merge(const PoolCounts& other);

  struct Entry {
    std::string name;
    uint64_t count;
  };
  // In order of first appearance; merge() keeps the receiving side's order.
  const std::vector<Entry>& entries() const { return entries_; }
  uint64_t other() const { return other_; }
  uint64_t missing() const { return missing_; }  // responses without the header

 private:
  std::vector<Entry> entries_;
  uint64_t other_ = 0;
  uint64_t missing_ = 0;
};

struct Stats {
  uint64_t responses = 0;   // complete responses, any status
  uint64_t bytes_read = 0;  // from the socket (TLS: ciphertext)
  uint64_t bytes_written = 0;
  uint64_t connections_opened = 0;
  uint64_t tls_full = 0;  // completed handshakes
  uint64_t tls_resumed = 0;
  std::array<uint64_t, kErrorKinds> errors{};
  std::array<uint64_t, 600> status{};  // by status code; 0..99 unused
  uint64_t status_other = 0;           // outside 100..599
  Histogram latency;                   // nanoseconds
  PoolCounts pools;
  uint64_t last_done_ns = 0;  // latest completion, success or not (uv_hrtime clock)

  uint64_t error_total() const;
  void count_error(ErrorKind k) { ++errors[static_cast<size_t>(k)]; }
  void count_status(int code);
  void merge(const Stats& other);
};

}  // namespace sluice::bench
