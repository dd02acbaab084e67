// Batch-norm leaf loops compiled for the avx2 level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/norm.h"

#if defined(__AVX2__)
namespace fastnet {
namespace norm {
namespace avx2 {
#define FASTNET_VBYTES 32
#include "norm/norm_leaf.h"
#undef FASTNET_VBYTES
}  // namespace avx2
}  // namespace norm
}  // namespace fastnet
#else
namespace fastnet {
namespace norm {
namespace avx2 {
NormTable table() { return generic::table(); }
}  // namespace avx2
}  // namespace norm
}  // namespace fastnet
#endif
