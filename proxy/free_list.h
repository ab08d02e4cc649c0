// Objects a worker reuses instead of allocating one per request: a LIFO of
// the ones given back (the last one is still in cache), at most kMax deep;
// beyond that they go back to the allocator. Owns what it holds.
// Loop thread only.
#pragma once

#include <cstddef>
#include <vector>

namespace sluice {

template <class T>
class FreeList {
 public:
  static constexpr size_t kMax = 4096;

  FreeList() = default;
  ~FreeList() {
    for (T* t : free_) delete t;
  }
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;

  // A kept one, or nullptr when none is left (the caller makes a new one).
  T* take() {
    if (free_.empty()) return nullptr;
    T* t = free_.back();
    free_.pop_back();
    return t;
  }
  // Keeps `t` (already reset by the caller) for reuse, or deletes it when
  // the list is full.
  void give(T* t) {
    if (free_.size() >= kMax) {
      delete t;
      return;
    }
    free_.push_back(t);
  }

 private:
  std::vector<T*> free_;
};

}  // namespace sluice
