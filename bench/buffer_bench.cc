// Question: what does one copy of a body buffer cost, against handing the buffer over?
// sluice never copies body bytes between the client and the upstream: body slices point into
// the read buffer and go to uv_write as they are, and a buffer changes hands by moving the
// Buffer struct or going back to the per-worker BufferPool. These benchmarks put numbers on
// the alternatives at the two buffer sizes in use: 16 KiB (client side, Worker::buffers_)
// and 64 KiB (upstream side, Worker::kUpstreamBufferSize).
//
//  - BM_PoolAcquireRelease vs BM_MallocFree: a buffer from the pool's free list against one
//    from malloc, which is what the pool saves a connection that wakes up from idle.
//  - BM_BodyCopy: memcpy of a full buffer into another pool buffer, cache-hot (the same two
//    buffers) and cache-cold (rotating over 64 buffers: 1 MiB / 4 MiB, past this machine's
//    1 MiB L2), what a proxy that re-buffers bodies pays per buffer.
//  - BM_BufferHandover: moving the Buffer to its next owner, what sluice pays instead.
//  - BM_Compact: Buffer::compact() moving a partial pipelined head to the buffer's front.
//  - BM_PoolBurstAndTrim: what a burst costs the pool once it is over: N buffers taken and
//    read into (one request head each, so one page touched), given back, and trimmed
//    (MADV_DONTNEED) a second later; per buffer, page fault and madvise included.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "proxy/buffer.h"

namespace sluice {
namespace {

constexpr int64_t kClientBuf = 16 * 1024;
constexpr int64_t kUpstreamBuf = 64 * 1024;

void BM_PoolAcquireRelease(benchmark::State& state) {
  BufferPool pool(static_cast<uint32_t>(state.range(0)));
  Buffer b;
  pool.acquire(b);  // warm: one buffer on the free list from here on
  pool.release(b);
  for (auto _ : state) {
    pool.acquire(b);
    benchmark::DoNotOptimize(b.data);
    pool.release(b);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PoolAcquireRelease)->Arg(kClientBuf)->Arg(kUpstreamBuf);

void BM_MallocFree(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFree)->Arg(kClientBuf)->Arg(kUpstreamBuf);

// range(0): buffer size; range(1): how many buffers the copies rotate over (2 = cache-hot).
void BM_BodyCopy(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  const auto count = static_cast<size_t>(state.range(1));
  BufferPool pool(size);
  std::vector<Buffer> bufs(count);
  for (size_t i = 0; i < count; ++i) {
    pool.acquire(bufs[i]);
    std::memset(bufs[i].data, static_cast<int>('a' + i % 26), size);
    bufs[i].end = size;
  }
  size_t i = 0;
  for (auto _ : state) {
    Buffer& src = bufs[i % count];
    Buffer& dst = bufs[(i + 1) % count];
    std::memcpy(dst.data, src.data, src.end);
    benchmark::ClobberMemory();
    ++i;
  }
  for (Buffer& b : bufs) pool.release(b);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BodyCopy)
    ->Args({kClientBuf, 2})
    ->Args({kClientBuf, 64})
    ->Args({kUpstreamBuf, 2})
    ->Args({kUpstreamBuf, 64});

// The Buffer struct moves from one owner to the next (e.g. a connection to the pool's next
// taker): 16 bytes, whatever the buffer's size.
void BM_BufferHandover(benchmark::State& state) {
  BufferPool pool(static_cast<uint32_t>(state.range(0)));
  Buffer a;
  Buffer b;
  pool.acquire(a);
  a.end = a.cap;
  for (auto _ : state) {
    b = std::exchange(a, Buffer{});
    benchmark::DoNotOptimize(b);
    a = std::exchange(b, Buffer{});
    benchmark::DoNotOptimize(a);
  }
  pool.release(a);
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_BufferHandover)->Arg(kClientBuf)->Arg(kUpstreamBuf);

// range(0): bytes kept (a partial next request after a pipelined one) in a 16 KiB buffer.
void BM_Compact(benchmark::State& state) {
  const auto keep = static_cast<uint32_t>(state.range(0));
  BufferPool pool(kClientBuf);
  Buffer b;
  pool.acquire(b);
  std::memset(b.data, 'x', b.cap);
  const uint32_t from = b.cap - keep;
  for (auto _ : state) {
    b.pos = from;
    b.end = b.cap;
    benchmark::DoNotOptimize(b.compact(from));
    benchmark::ClobberMemory();
  }
  pool.release(b);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Compact)->Arg(80)->Arg(500)->Arg(8192);

// range(0): buffers in the burst.
void BM_PoolBurstAndTrim(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  BufferPool pool(kClientBuf);
  std::vector<Buffer> bufs(n);
  for (auto _ : state) {
    for (Buffer& b : bufs) {
      pool.acquire(b);
      std::memset(b.data, 'x', 512);  // a request head: one page faulted in
    }
    for (Buffer& b : bufs) pool.release(b);
    pool.trim();  // the period of the burst: all of them were needed
    pool.trim();  // a quiet second later: all of them go
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PoolBurstAndTrim)->Arg(64)->Arg(512);

}  // namespace
}  // namespace sluice
