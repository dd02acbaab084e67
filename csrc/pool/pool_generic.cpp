// Pooling leaf loops compiled for the generic level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/pool.h"

namespace fastnet {
namespace pool {
namespace generic {
#define FASTNET_VBYTES 16
#include "pool/pool_leaf.h"
#undef FASTNET_VBYTES
}  // namespace generic
}  // namespace pool
}  // namespace fastnet
