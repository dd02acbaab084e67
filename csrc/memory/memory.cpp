// The large-buffer cache (see fastnet/memory.h): free blocks kept by size, a
// request served by the smallest free block that fits without wasting more than
// an eighth, everything under one mutex (acquire/release are per array, not per
// element, so contention is not a concern).
#include "fastnet/memory.h"

#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>
#include <new>

namespace fastnet {
namespace memory {
namespace {

constexpr size_t kPage = size_t(4) << 10;
// Pooled blocks start half a page into their page. numpy puts its own large arrays 16 bytes
// into theirs; an output whose page offset lies just past its input's (glibc's 64-byte
// aligned blocks sit at 64) makes every store 4K-alias a load a few lines ahead, and a
// streaming kernel (bias-add of 64 x 4096) measured 44-47 us there against 33-37 us at half
// a page apart.
constexpr size_t kStagger = kPage / 2;

void* pooled_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kPage, bytes + kPage);
  return p == nullptr ? nullptr : static_cast<char*>(p) + kStagger;
}
void pooled_free(void* p) { std::free(static_cast<char*>(p) - kStagger); }

size_t default_limit() {
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer cache nothing: a reused block would hide a use after free.
  return 0;
#endif
  if (const char* env = std::getenv("FASTNET_POOL_LIMIT_MB")) {
    char* end = nullptr;
    const long long mb = std::strtoll(env, &end, 10);
    if (end != env && mb >= 0) return static_cast<size_t>(mb) << 20;
  }
  return size_t(1024) << 20;
}

struct Pool {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // capacity -> block
  size_t cached = 0, in_use = 0;
  size_t limit = default_limit();
  uint64_t hits = 0, misses = 0;

  // Frees cached blocks, largest first, until at most `keep` bytes remain.
  // Caller holds mu.
  size_t shrink_to(size_t keep) {
    size_t freed = 0;
    while (cached > keep && !free_blocks.empty()) {
      auto it = std::prev(free_blocks.end());
      cached -= it->first;
      freed += it->first;
      pooled_free(it->second);
      free_blocks.erase(it);
    }
    return freed;
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: arrays may outlive static destruction
  return *p;
}

void* system_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

Block acquire(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < kMinPooledBytes) return Block{system_alloc(bytes), bytes};
  const size_t want = (bytes + kPage - 1) / kPage * kPage;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free_blocks.lower_bound(want);
    if (it != p.free_blocks.end() && it->first <= want + want / 8) {
      // Of the blocks of that capacity, the one released last: most likely still in cache
      // (the first, as lower_bound gives, cycles through them all, each one cold).
      it = std::prev(p.free_blocks.upper_bound(it->first));
      Block b{it->second, it->first};
      p.free_blocks.erase(it);
      p.cached -= b.capacity;
      p.in_use += b.capacity;
      ++p.hits;
      return b;
    }
    ++p.misses;
    p.in_use += want;
  }
  if (void* q = pooled_alloc(want)) return Block{q, want};
  {
    // Out of memory: give the cache back to the system and try once more.
    std::lock_guard<std::mutex> lock(p.mu);
    p.shrink_to(0);
    void* q = pooled_alloc(want);
    if (q == nullptr) {
      p.in_use -= want;
      throw std::bad_alloc();
    }
    return Block{q, want};
  }
}

void release(Block b) {
  if (b.ptr == nullptr) return;
  if (b.capacity < kMinPooledBytes) {
    std::free(b.ptr);
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.in_use -= b.capacity;
  if (p.cached + b.capacity > p.limit) {
    pooled_free(b.ptr);
    return;
  }
  p.free_blocks.emplace(b.capacity, b.ptr);
  p.cached += b.capacity;
}

Stats stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  Stats s;
  s.cached_bytes = p.cached;
  s.cached_blocks = p.free_blocks.size();
  s.in_use_bytes = p.in_use;
  s.limit_bytes = p.limit;
  s.hits = p.hits;
  s.misses = p.misses;
  return s;
}

void set_limit(size_t bytes) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.limit = bytes;
  p.shrink_to(bytes);
}

size_t release_cached() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.shrink_to(0);
}

}  // namespace memory
}  // namespace fastnet
