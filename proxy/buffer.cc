#include "proxy/buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace sluice {

namespace {

size_t page_size() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

// About 1 MiB per mapping: few mappings (vm.max_map_count) and little
// address space left unused for a small pool.
constexpr size_t kSlabTarget = 1u << 20;

}  // namespace

BufferPool::BufferPool(uint32_t size) {
  const size_t page = page_size();
  size_ = static_cast<uint32_t>((std::max<size_t>(size, 1) + page - 1) / page * page);
  per_slab_ = std::max<size_t>(1, kSlabTarget / size_);
  slab_bytes_ = per_slab_ * size_;
}

BufferPool::~BufferPool() {
  for (char* s : slabs_) {
    ASAN_UNPOISON_MEMORY_REGION(s, slab_bytes_);
    munmap(s, slab_bytes_);
  }
}

char* BufferPool::take_cold() {
  if (cold_.empty()) {
    void* m =
        mmap(nullptr, slab_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("sluice: mmap of an I/O buffer slab");
      std::abort();
    }
    auto* slab = static_cast<char*>(m);
    ASAN_POISON_MEMORY_REGION(slab, slab_bytes_);
    slabs_.push_back(slab);
    // Highest address first, so the pops below go up through the slab.
    for (size_t i = per_slab_; i-- > 0;) cold_.push_back(slab + i * size_);
  }
  char* p = cold_.back();
  cold_.pop_back();
  return p;
}

void BufferPool::trim() {
  // The oldest warm buffers (front) are the ones not needed for a second.
  // All of them go: a later burst faults its pages in again (~11 us a page
  // on this project's machines, against the ~25 us of CPU its request costs
  // anyway), and RSS shows what the last second needed. (Giving back half a
  // second was tried: the pool's size then depends on how many quiet seconds
  // passed, by ~90 bytes per idle connection in scripts/side-by-side.js.)
  const size_t n = std::min(low_water_, warm_.size());
  if (n > 0) {
    // One madvise per run of adjacent buffers, not one per buffer: on this
    // project's KVM machines a call costs ~6 us, and the buffers of a burst
    // mostly came from the same slabs.
    const auto gone = warm_.begin() + static_cast<std::ptrdiff_t>(n);
    const auto from = cold_.insert(cold_.end(), warm_.begin(), gone);
    warm_.erase(warm_.begin(), gone);
    std::sort(from, cold_.end());
    char* run_begin = *from;  // the run covers [run_begin, run_end)
    char* run_end = run_begin;
    for (auto it = from; it != cold_.end(); ++it) {
      if (*it != run_end) {
        madvise(run_begin, static_cast<size_t>(run_end - run_begin), MADV_DONTNEED);
        run_begin = *it;
      }
      run_end = *it + size_;
    }
    madvise(run_begin, static_cast<size_t>(run_end - run_begin), MADV_DONTNEED);
  }
  low_water_ = warm_.size();
}

}  // namespace sluice
