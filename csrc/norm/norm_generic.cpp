// Batch-norm leaf loops compiled for the generic level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/norm.h"

namespace fastnet {
namespace norm {
namespace generic {
#define FASTNET_VBYTES 16
#include "norm/norm_leaf.h"
#undef FASTNET_VBYTES
}  // namespace generic
}  // namespace norm
}  // namespace fastnet
