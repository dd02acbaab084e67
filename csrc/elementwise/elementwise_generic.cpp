// Elementwise leaf loops compiled for the generic level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/elementwise.h"

namespace fastnet {
namespace elementwise {
namespace generic {
#define FASTNET_VBYTES 16
#include "elementwise/elementwise_leaf.h"
#undef FASTNET_VBYTES
}  // namespace generic
}  // namespace elementwise
}  // namespace fastnet
