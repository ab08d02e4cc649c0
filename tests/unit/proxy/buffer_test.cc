// BufferPool: buffers come from the pool's own mappings, go back LIFO, and
// trim() returns the pages of the buffers unused for a whole period to the
// kernel (checked with mincore, the kernel's own view of residency).
#include "proxy/buffer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace sluice {
namespace {

size_t page() {
  return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// How many pages of [p, p + n) are resident.
size_t resident_pages(const char* p, size_t n) {
  std::vector<unsigned char> v((n + page() - 1) / page());
  EXPECT_EQ(mincore(const_cast<char*>(p), n, v.data()), 0);
  size_t r = 0;
  for (unsigned char c : v) r += c & 1;
  return r;
}

// Takes a buffer from `pool` into each of `bufs`, fills it (every page
// resident) and returns their addresses.
std::vector<char*> take_filled(BufferPool& pool, std::vector<Buffer>& bufs) {
  std::vector<char*> addrs;
  for (Buffer& b : bufs) {
    pool.acquire(b);
    std::memset(b.data, 'x', b.cap);
    addrs.push_back(b.data);
  }
  return addrs;
}

TEST(BufferPool, SizeRoundsUpToWholePages) {
  BufferPool pool(17 * 1024 + 1);
  EXPECT_EQ(pool.size() % page(), 0u);
  EXPECT_GE(pool.size(), 17u * 1024 + 1);
  Buffer b;
  pool.acquire(b);
  EXPECT_EQ(b.cap, pool.size());
  EXPECT_EQ(b.pos, 0u);
  EXPECT_EQ(b.end, 0u);
  std::memset(b.data, 'x', b.cap);  // the whole capacity is writable
  pool.release(b);
  EXPECT_EQ(b.data, nullptr);
}

TEST(BufferPool, AcquireKeepsABufferAlreadyHeld) {
  BufferPool pool(4096);
  Buffer b;
  pool.acquire(b);
  char* first = b.data;
  b.end = 10;
  pool.acquire(b);
  EXPECT_EQ(b.data, first);
  EXPECT_EQ(b.end, 10u);
  pool.release(b);
}

TEST(BufferPool, GivesBackTheMostRecentlyReleasedFirst) {
  BufferPool pool(4096);
  Buffer a, b;
  pool.acquire(a);
  pool.acquire(b);
  char* pa = a.data;
  char* pb = b.data;
  EXPECT_NE(pa, pb);
  pool.release(a);
  pool.release(b);
  Buffer c;
  pool.acquire(c);
  EXPECT_EQ(c.data, pb);
  pool.release(c);
}

TEST(BufferPool, BuffersOfOneSlabDoNotOverlap) {
  BufferPool pool(16 * 1024);
  std::vector<Buffer> bufs(200);  // more than one 1 MiB slab
  for (Buffer& b : bufs) {
    pool.acquire(b);
    std::memset(b.data, static_cast<int>(&b - bufs.data()) & 0xff, b.cap);
  }
  for (Buffer& b : bufs) {
    unsigned char want = static_cast<unsigned char>(&b - bufs.data());
    EXPECT_EQ(static_cast<unsigned char>(b.data[0]), want);
    EXPECT_EQ(static_cast<unsigned char>(b.data[b.cap - 1]), want);
  }
  EXPECT_GE(pool.mapped_bytes(), 200u * 16 * 1024);
  for (Buffer& b : bufs) pool.release(b);
  EXPECT_EQ(pool.warm(), 200u);
}

TEST(BufferPool, TrimReturnsWhatAWholePeriodDidNotNeed) {
  BufferPool pool(16 * 1024);
  std::vector<Buffer> bufs(8);
  std::vector<char*> addrs = take_filled(pool, bufs);
  for (Buffer& b : bufs) pool.release(b);
  // The period in which all eight were taken: the low-water mark is 0.
  pool.trim();
  EXPECT_EQ(pool.warm(), 8u);
  for (char* p : addrs) EXPECT_EQ(resident_pages(p, pool.size()), pool.size() / page());

  // A quiet period in which only two were needed at once.
  Buffer x, y;
  pool.acquire(x);
  pool.acquire(y);
  pool.release(y);
  pool.release(x);
  pool.trim();  // six never left the pool: their pages go
  EXPECT_EQ(pool.warm(), 2u);
  EXPECT_EQ(pool.cold(), 6u + (pool.mapped_bytes() / pool.size() - 8));
  size_t resident = 0;
  for (char* p : addrs) resident += resident_pages(p, pool.size());
  EXPECT_EQ(resident, 2 * pool.size() / page());

  // A cold buffer comes back zeroed (fresh pages) and usable.
  std::vector<Buffer> again(8);
  for (Buffer& b : again) pool.acquire(b);
  bool zeroed = false;
  for (Buffer& b : again) zeroed |= b.data[0] == 0;
  EXPECT_TRUE(zeroed);
  for (Buffer& b : again) {
    std::memset(b.data, 'y', b.cap);
    pool.release(b);
  }
}

TEST(BufferPool, TrimGivesBackScatteredBuffersAndOnlyThose) {
  BufferPool pool(16 * 1024);
  std::vector<Buffer> bufs(6);
  std::vector<char*> addrs = take_filled(pool, bufs);
  // Oldest first on the warm list: 0, 2, 4 (not adjacent), then 1, 3, 5.
  for (size_t i : {0, 2, 4, 1, 3, 5}) pool.release(bufs[i]);
  pool.trim();     // all six were out in this period
  Buffer a, b, c;  // three needed in this one
  pool.acquire(a);
  pool.acquire(b);
  pool.acquire(c);
  pool.release(c);
  pool.release(b);
  pool.release(a);
  pool.trim();  // the three that stayed, the oldest (0, 2, 4), go
  EXPECT_EQ(pool.warm(), 3u);
  for (size_t i : {0, 2, 4}) EXPECT_EQ(resident_pages(addrs[i], pool.size()), 0u) << i;
  for (size_t i : {1, 3, 5})
    EXPECT_EQ(resident_pages(addrs[i], pool.size()), pool.size() / page()) << i;
  // The kept ones come back with their bytes (taken, not read while pooled).
  for (size_t k = 0; k < 3; ++k) {
    Buffer b;
    pool.acquire(b);
    EXPECT_EQ(b.data[0], 'x');
    EXPECT_EQ(b.data[b.cap - 1], 'x');
  }
}

TEST(BufferPool, IdlePoolEmptiesAfterTwoTrims) {
  BufferPool pool(64 * 1024);
  Buffer b;
  pool.acquire(b);
  std::memset(b.data, 'x', b.cap);
  char* p = b.data;
  pool.release(b);
  pool.trim();  // used in this period: kept
  EXPECT_EQ(resident_pages(p, pool.size()), pool.size() / page());
  pool.trim();  // not used in this one: given back
  EXPECT_EQ(pool.warm(), 0u);
  EXPECT_EQ(resident_pages(p, pool.size()), 0u);
}

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_ASAN 1
#endif
#endif

TEST(BufferPool, ABufferGivenBackCannotBeTouchedUnderAddressSanitizer) {
#ifndef SLUICE_ASAN
  GTEST_SKIP() << "not an AddressSanitizer build";
#else
  BufferPool pool(4096);
  Buffer b;
  pool.acquire(b);
  char* stale = b.data;
  stale[0] = 'x';  // fine while held
  pool.release(b);
  EXPECT_DEATH({ stale[0] = 'y'; }, "use-after-poison");
  pool.acquire(b);  // the same buffer (LIFO), usable again
  EXPECT_EQ(b.data, stale);
  b.data[0] = 'z';
  pool.release(b);
#endif
}

}  // namespace
}  // namespace sluice
