// Optimizer leaf loops compiled for the avx512 level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/optim.h"

#if defined(__AVX512F__)
namespace fastnet {
namespace optim {
namespace avx512 {
#include "optim/optim_leaf.h"
}  // namespace avx512
}  // namespace optim
}  // namespace fastnet
#else
namespace fastnet {
namespace optim {
namespace avx512 {
OptimTable table() { return generic::table(); }
}  // namespace avx512
}  // namespace optim
}  // namespace fastnet
#endif
