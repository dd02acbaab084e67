// Elementwise leaf loops compiled for the avx2 level (flags from setup.py by file name).
#include <immintrin.h>

#include <cstdint>

#include "fastnet/elementwise.h"

#if defined(__AVX2__)
namespace fastnet {
namespace elementwise {
namespace avx2 {
#define FASTNET_VBYTES 32
#include "elementwise/elementwise_leaf.h"
#undef FASTNET_VBYTES
}  // namespace avx2
}  // namespace elementwise
}  // namespace fastnet
#else
namespace fastnet {
namespace elementwise {
namespace avx2 {
ElementwiseTable table() { return generic::table(); }
}  // namespace avx2
}  // namespace elementwise
}  // namespace fastnet
#endif
