// Pooling leaf loops compiled for the avx512 level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/pool.h"

#if defined(__AVX512F__)
namespace fastnet {
namespace pool {
namespace avx512 {
#define FASTNET_VBYTES 64
#include "pool/pool_leaf.h"
#undef FASTNET_VBYTES
}  // namespace avx512
}  // namespace pool
}  // namespace fastnet
#else
namespace fastnet {
namespace pool {
namespace avx512 {
PoolTable table() { return generic::table(); }
}  // namespace avx512
}  // namespace pool
}  // namespace fastnet
#endif
