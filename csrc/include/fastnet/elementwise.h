// Elementwise kernels: activations and gradients, row softmax / log-softmax,
// fused sparse softmax cross-entropy. Per-ISA leaf loops (csrc/elementwise).
#pragma once
#include <cstdint>

namespace fastnet {
namespace elementwise {

struct ElementwiseTable {
  void (*relu_fwd)(const float*, float*, int64_t);
  void (*relu_bwd)(const float*, const float*, float*, int64_t);
  void (*sigmoid_fwd)(const float*, float*, int64_t);
  void (*sigmoid_bwd)(const float*, const float*, float*, int64_t);
  void (*tanh_fwd)(const float*, float*, int64_t);
  void (*tanh_bwd)(const float*, const float*, float*, int64_t);
  void (*softmax_rows)(const float*, float*, int64_t, int64_t);
  void (*log_softmax_rows)(const float*, float*, int64_t, int64_t);
  void (*softmax_bwd_rows)(const float*, const float*, float*, int64_t, int64_t);
  void (*sparse_xent_rows)(const float*, const int32_t*, float*, float*, int64_t, int64_t);
};

const ElementwiseTable& table();  // for fastnet::cpu::isa()

namespace generic {
ElementwiseTable table();
}
namespace avx2 {
ElementwiseTable table();
}
namespace avx512 {
ElementwiseTable table();
}

}  // namespace elementwise
}  // namespace fastnet
