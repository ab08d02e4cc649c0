#include "bench/loadgen/stats.h"

#include <algorithm>

namespace sluice::bench {

const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::Connect:
      return "connect";
    case ErrorKind::Tls:
      return "tls";
    case ErrorKind::Write:
      return "write";
    case ErrorKind::Read:
      return "read";
    case ErrorKind::Timeout:
      return "timeout";
    case ErrorKind::Parse:
      return "parse";
  }
  return "?";
}

void PoolCounts::add(std::string_view pool, uint64_t n) {
  for (Entry& e : entries_) {
    if (e.name == pool) {
      e.count += n;
      return;
    }
  }
  if (entries_.size() >= kMaxPools) {
    other_ += n;
    return;
  }
  entries_.push_back({std::string(pool), n});
}

void PoolCounts::merge(const PoolCounts& other) {
  for (const Entry& e : other.entries_) add(e.name, e.count);
  other_ += other.other_;
  missing_ += other.missing_;
}

uint64_t Stats::error_total() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void Stats::count_status(int code) {
  if (code >= 100 && code < static_cast<int>(status.size()))
    ++status[static_cast<size_t>(code)];
  else
    ++status_other;
}

void Stats::merge(const Stats& o) {
  responses += o.responses;
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  connections_opened += o.connections_opened;
  tls_full += o.tls_full;
  tls_resumed += o.tls_resumed;
  for (size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
  for (size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
  status_other += o.status_other;
  latency.add(o.latency);
  pools.merge(o.pools);
  last_done_ns = std::max(last_done_ns, o.last_done_ns);
}

}  // namespace sluice::bench
