// Optimizer leaf loops compiled for the generic level (flags from setup.py by file name).
#include <cstdint>

#include "fastnet/optim.h"

namespace fastnet {
namespace optim {
namespace generic {
#include "optim/optim_leaf.h"
}  // namespace generic
}  // namespace optim
}  // namespace fastnet
