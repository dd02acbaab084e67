// fastnet's own cache of large buffers.
//
// A training step allocates the same large activation and gradient buffers every
// step. glibc returns blocks above its mmap threshold to the OS on free, so each
// step page-faults them in again (a CNN step ~25% slower, a max-pool backward up to
// 10x). Instead of retuning glibc for the whole process (mallopt), fastnet keeps
// the large blocks *it* allocates — kernel outputs, recurrent workspaces — in this
// cache and hands them out again; the user's own allocations are untouched.
//
// Blocks below kMinPooledBytes go straight to malloc (glibc's heap reuses those).
// The cache holds at most limit() bytes of free blocks (FASTNET_POOL_LIMIT_MB,
// default 1024); a block released beyond that goes back to the OS.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastnet {
namespace memory {

constexpr size_t kMinPooledBytes = size_t(256) << 10;
constexpr size_t kAlignment = 64;

struct Block {
  void* ptr = nullptr;
  size_t capacity = 0;  // bytes actually reserved; give it back to release()
};

// A 64-byte aligned block of at least `bytes` (at least one byte). Throws
// std::bad_alloc when the system has no memory.
Block acquire(size_t bytes);
// Returns a block from acquire() to the cache (or to the OS past the limit).
void release(Block b);

struct Stats {
  size_t cached_bytes = 0;  // free blocks held for reuse
  size_t cached_blocks = 0;
  size_t in_use_bytes = 0;  // pooled-size blocks handed out and not yet released
  size_t limit_bytes = 0;
  uint64_t hits = 0, misses = 0;
};
Stats stats();
// Sets the cap on cached free bytes (0: cache nothing); frees what exceeds it.
void set_limit(size_t bytes);
// Frees every cached block; returns the bytes given back.
size_t release_cached();

// An uninitialised float buffer from the cache, released on destruction.
class FloatBuffer {
 public:
  explicit FloatBuffer(int64_t n) : b_(acquire(static_cast<size_t>(n > 0 ? n : 1) * sizeof(float))) {}
  ~FloatBuffer() { release(b_); }
  FloatBuffer(FloatBuffer&& o) noexcept : b_(o.b_) { o.b_ = Block{}; }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;
  FloatBuffer& operator=(FloatBuffer&&) = delete;
  float* data() { return static_cast<float*>(b_.ptr); }
  const float* data() const { return static_cast<const float*>(b_.ptr); }

 private:
  Block b_;
};

}  // namespace memory
}  // namespace fastnet
