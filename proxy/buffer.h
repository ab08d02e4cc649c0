// Fixed-size I/O buffers from a per-worker pool.
//
// A connection holds a Buffer only while it has bytes in flight; an idle
// keep-alive connection gives its buffer back (nginx does the same with its
// header buffers), so ten thousand idle clients cost no read buffers.
//
// The buffers live in slabs mapped for the pool alone (mmap), never in the
// malloc heap: a burst of requests that takes hundreds of buffers and gives
// them back leaves no 16 KiB holes for connection objects to be carved out
// of, holes that would then keep the whole burst's pages resident (measured:
// 366 of 885 bytes per idle connection). Buffers given back sit on a "warm"
// list (LIFO: the most recently used, still in cache, go out first); once a
// second the worker calls trim(), which hands the pages of the buffers the
// pool did not need during the whole last second back to the kernel
// (MADV_DONTNEED, one call per run of adjacent buffers) and keeps them as
// "cold" buffers: address space only, faulted in again if a later burst
// needs them. A worker's memory follows its load down without a syscall per
// buffer.
//
// Under AddressSanitizer a buffer is poisoned while it sits in the pool, so a
// read or write through a Buffer that was given back is reported (the malloc
// red zones that used to catch it are gone with malloc).
//
// Loop thread only.
#pragma once

#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sluice {

struct Buffer {
  char* data = nullptr;
  uint32_t cap = 0;
  uint32_t pos = 0;  // first unconsumed byte
  uint32_t end = 0;  // one past the last byte read

  bool empty() const { return pos == end; }
  uint32_t unread() const { return end - pos; }
  uint32_t space() const { return cap - end; }
  // Drops consumed bytes [0, pos) by moving [keep_from, end) to the front.
  // Returns how far bytes moved.
  uint32_t compact(uint32_t keep_from) {
    if (keep_from == 0) return 0;
    std::memmove(data, data + keep_from, end - keep_from);
    end -= keep_from;
    pos -= keep_from;
    return keep_from;
  }
};

class BufferPool {
 public:
  // `size` is rounded up to whole pages (trim gives back whole buffers).
  explicit BufferPool(uint32_t size);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  uint32_t size() const { return size_; }
  // Gives `b` a buffer unless it has one. Aborts if the kernel refuses memory
  // (as `new` would).
  void acquire(Buffer& b) {
    if (b.data != nullptr) return;
    if (!warm_.empty()) {
      b.data = warm_.back();
      warm_.pop_back();
      if (warm_.size() < low_water_) low_water_ = warm_.size();
    } else {
      b.data = take_cold();
    }
    ASAN_UNPOISON_MEMORY_REGION(b.data, size_);
    b.cap = size_;
    b.pos = b.end = 0;
  }
  void release(Buffer& b) {
    if (b.data == nullptr) return;
    ASAN_POISON_MEMORY_REGION(b.data, size_);
    warm_.push_back(b.data);
    b = Buffer{};
  }
  // Returns the pages of the buffers that stayed unused since the last trim
  // to the kernel. Call about once a second.
  void trim();

  // For tests and metrics.
  size_t warm() const { return warm_.size(); }
  size_t cold() const { return cold_.size(); }
  size_t mapped_bytes() const { return slabs_.size() * slab_bytes_; }

 private:
  char* take_cold();

  uint32_t size_;
  size_t per_slab_;
  size_t slab_bytes_;
  size_t low_water_ = 0;      // fewest warm buffers since the last trim
  std::vector<char*> warm_;   // resident; the back was used last
  std::vector<char*> cold_;   // pages given back; faulted in on use
  std::vector<char*> slabs_;  // mappings, unmapped by the destructor
};

}  // namespace sluice
