// Batch-norm leaf loops compiled for the avx512 level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/norm.h"

#if defined(__AVX512F__)
namespace fastnet {
namespace norm {
namespace avx512 {
#define FASTNET_VBYTES 64
#include "norm/norm_leaf.h"
#undef FASTNET_VBYTES
}  // namespace avx512
}  // namespace norm
}  // namespace fastnet
#else
namespace fastnet {
namespace norm {
namespace avx512 {
NormTable table() { return generic::table(); }
}  // namespace avx512
}  // namespace norm
}  // namespace fastnet
#endif
