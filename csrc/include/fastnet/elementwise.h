// Elementwise kernels: activations and gradients, row softmax / log-softmax,
// fused cross-entropies (categorical, sparse and binary; from logits or from
// probabilities) with their gradients, bias-add and its reduction. Per-ISA leaf
// loops (csrc/elementwise).
#pragma once
#include <cstdint>

namespace fastnet {
namespace elementwise {

// Activations with a table entry in ElementwiseTable::act_fwd / act_bwd.
enum Act : int {
  kRelu,
  kSigmoid,  // backward from the output y
  kTanh,     // backward from the output y
  kLeakyRelu,
  kElu,
  kSelu,
  kGeluTanh,  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kGeluErf,   // x Phi(x)
  kHardSigmoid,
  kHardSilu,
  kSoftplus,
  kSilu,
  kActCount
};

// y = f(x; p) over n floats (y may be x); p is the activation's parameter (leaky_relu's
// negative_slope, elu's alpha; ignored by the others).
using ActFwd = void (*)(const float* x, float* y, int64_t n, float p);
// dx = dy * f'(.) from `saved` (y for sigmoid/tanh, x for the others); dx may alias dy.
using ActBwd = void (*)(const float* saved, const float* dy, float* dx, int64_t n, float p);

// Binary cross-entropy flags.
constexpr int kBceFromLogits = 1;
constexpr int kBceMean = 2;  // loss[r] = mean over the row; grad of the mean

struct ElementwiseTable {
  void (*relu_fwd)(const float*, float*, int64_t);
  void (*relu_bwd)(const float*, const float*, float*, int64_t);
  void (*sigmoid_fwd)(const float*, float*, int64_t);
  void (*sigmoid_bwd)(const float*, const float*, float*, int64_t);
  void (*tanh_fwd)(const float*, float*, int64_t);
  void (*tanh_bwd)(const float*, const float*, float*, int64_t);
  ActFwd act_fwd[kActCount];
  ActBwd act_bwd[kActCount];
  void (*softmax_rows)(const float*, float*, int64_t, int64_t);
  void (*log_softmax_rows)(const float*, float*, int64_t, int64_t);
  void (*softmax_bwd_rows)(const float*, const float*, float*, int64_t, int64_t);
  // Sparse softmax cross-entropy from logits: loss[r] = lse(x_r) - x_r[label_r]; grad
  // (optional) = softmax - onehot.
  void (*sparse_xent_rows)(const float*, const int32_t*, float*, float*, int64_t, int64_t);
  // Sparse cross-entropy from probabilities p (Keras: q = p / sum(p), clipped to
  // [eps, 1 - eps]): loss[r] = -log(q[label]); grad (optional) = dloss/dp.
  void (*sparse_xent_probs_rows)(const float* p, const int32_t* labels, float* loss, float* grad,
                                 int64_t rows, int64_t cols, float eps);
  // Categorical cross-entropy from logits: loss[r] = -sum_j t_j log_softmax(x_r)_j;
  // grad (optional) = sum(t_r) softmax(x_r) - t_r.
  void (*cce_logits_rows)(const float* x, const float* t, float* loss, float* grad, int64_t rows,
                          int64_t cols);
  // Categorical cross-entropy from probabilities (normalised by the row sum, clipped to
  // [eps, 1 - eps]); grad (optional) = dloss/dp through the normalisation and clip.
  void (*cce_probs_rows)(const float* p, const float* t, float* loss, float* grad, int64_t rows, int64_t cols,
                         float eps);
  // Binary cross-entropy, elementwise (loss rows*cols) or row mean (loss rows) by flags;
  // from logits (stable) or from probabilities clipped to [eps, 1 - eps].
  void (*bce_rows)(const float* x, const float* t, float* loss, float* grad, int64_t rows, int64_t cols,
                   int flags, float eps);
  // y[r, :] = x[r, :] + b (y may be x).
  void (*bias_add_rows)(const float* x, const float* b, float* y, int64_t rows, int64_t cols);
  // acc[j] += sum_r dy[r, j] (double accumulators).
  void (*bias_grad_rows)(const float* dy, double* acc, int64_t rows, int64_t cols, int64_t stride);
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
