// Batch-norm leaf loops compiled for the generic level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/norm.h"

namespace fastnet {
namespace norm {
namespace generic {
#include "norm/norm_leaf.h"
}  // namespace generic
}  // namespace norm
}  // namespace fastnet
