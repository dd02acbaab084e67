// Pooling leaf loops compiled for the avx2 level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/pool.h"

#if defined(__AVX2__)
namespace fastnet {
namespace pool {
namespace avx2 {
#define FASTNET_VBYTES 32
#include "pool/pool_leaf.h"
#undef FASTNET_VBYTES
}  // namespace avx2
}  // namespace pool
}  // namespace fastnet
#else
namespace fastnet {
namespace pool {
namespace avx2 {
PoolTable table() { return generic::table(); }
}  // namespace avx2
}  // namespace pool
}  // namespace fastnet
#endif
