// Pooling leaf loops compiled for the generic level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/pool.h"

namespace fastnet {
namespace pool {
namespace generic {
#include "pool/pool_leaf.h"
}  // namespace generic
}  // namespace pool
}  // namespace fastnet
