// Optimizer leaf loops compiled for the avx2 level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/optim.h"

#if defined(__AVX2__)
namespace fastnet {
namespace optim {
namespace avx2 {
#include "optim/optim_leaf.h"
}  // namespace avx2
}  // namespace optim
}  // namespace fastnet
#else
namespace fastnet {
namespace optim {
namespace avx2 {
OptimTable table() { return generic::table(); }
}  // namespace avx2
}  // namespace optim
}  // namespace fastnet
#endif
