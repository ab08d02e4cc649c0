// Fixed-size I/O buffers from a per-worker free list.
//
// A connection holds a Buffer only while it has bytes in flight; an idle
// keep-alive connection gives its buffer back (nginx does the same with its
// header buffers), so ten thousand idle clients cost no read buffers.
// Loop thread only.
#pragma once

#include <cstdint>
#include <cstdlib>
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
  explicit BufferPool(uint32_t size) : size_(size) {}
  ~BufferPool() {
    for (char* p : free_) std::free(p);
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  uint32_t size() const { return size_; }
  void acquire(Buffer& b) {
    if (b.data != nullptr) return;
    if (!free_.empty()) {
      b.data = free_.back();
      free_.pop_back();
    } else {
      b.data = static_cast<char*>(std::malloc(size_));
    }
    b.cap = size_;
    b.pos = b.end = 0;
  }
  void release(Buffer& b) {
    if (b.data == nullptr) return;
    if (free_.size() < kMaxFree) {
      free_.push_back(b.data);
    } else {
      std::free(b.data);
    }
    b = Buffer{};
  }

 private:
  static constexpr size_t kMaxFree = 256;
  uint32_t size_;
  std::vector<char*> free_;
};

}  // namespace sluice
