// Fused optimizer updates (Keras 3 formulas): one pass per weight, in place,
// threaded over large weights, per-ISA leaf loops (csrc/optim/optim_leaf.h).
#pragma once
#include <cstdint>

namespace fastnet {
namespace optim {

struct OptimTable {
  void (*sgd)(float*, const float*, float*, int64_t, float, float, int);
  void (*rmsprop)(float*, const float*, float*, float*, float*, int64_t, float, float, float, float);
  void (*adam)(float*, const float*, float*, float*, float*, int64_t, float, float, float, float);
  void (*adagrad)(float*, const float*, float*, int64_t, float, float);
  void (*adadelta)(float*, const float*, float*, float*, int64_t, float, float, float);
  void (*nadam)(float*, const float*, float*, float*, int64_t, float, float, float, float, float, float,
                float, float, float);
};

// The table for the active ISA level (fastnet::cpu::isa()).
const OptimTable& table();

namespace generic {
OptimTable table();
}
namespace avx2 {
OptimTable table();
}
namespace avx512 {
OptimTable table();
}

}  // namespace optim
}  // namespace fastnet
