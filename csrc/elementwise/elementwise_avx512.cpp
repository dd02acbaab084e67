// Elementwise leaf loops compiled for the avx512 level (flags from setup.py by file name).
#include <immintrin.h>

#include <cstdint>

#include "fastnet/elementwise.h"

#if defined(__AVX512F__)
namespace fastnet {
namespace elementwise {
namespace avx512 {
#define FASTNET_VBYTES 64
#include "elementwise/elementwise_leaf.h"
#undef FASTNET_VBYTES
}  // namespace avx512
}  // namespace elementwise
}  // namespace fastnet
#else
namespace fastnet {
namespace elementwise {
namespace avx512 {
ElementwiseTable table() { return generic::table(); }
}  // namespace avx512
}  // namespace elementwise
}  // namespace fastnet
#endif
