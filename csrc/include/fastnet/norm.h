// Batch normalization over all but the last (channel) axis, channels-last:
// training forward (batch mean and biased variance), inference forward, and the
// backward for x, gamma and beta in one pass of reductions plus one elementwise pass.
// Layer normalization over the last axis: forward (saving mean and 1/std per row) and
// one backward pass giving dx, dgamma and dbeta.
#pragma once
#include <cstdint>

namespace fastnet {
namespace norm {

struct NormTable {
  void (*sums)(const float*, int64_t, int64_t, int64_t, double*, double*);
  void (*apply)(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*);
  void (*grad_sums)(const float*, const float*, int64_t, int64_t, int64_t, const float*, double*, double*);
  void (*dx)(const float*, const float*, float*, int64_t, int64_t, int64_t, const float*, const float*,
             const float*, const float*);
  void (*ln_fwd)(const float*, const float*, const float*, float, float*, float*, float*, int64_t, int64_t,
                 int64_t);
  void (*ln_bwd)(const float*, const float*, const float*, const float*, const float*, float*, float*, float*,
                 int64_t, int64_t, int64_t);
};

const NormTable& table();

namespace generic {
NormTable table();
}
namespace avx2 {
NormTable table();
}
namespace avx512 {
NormTable table();
}

// Training forward: y, batch mean and (biased) variance per channel; gamma/beta may be null.
void batch_norm_train(const float* x, int64_t rows, int64_t C, const float* gamma, const float* beta,
                      float epsilon, float* y, float* mean, float* var);
// Inference: y = (x - mean) / sqrt(var + eps) * gamma + beta.
void batch_norm_infer(const float* x, int64_t rows, int64_t C, const float* mean, const float* var,
                      const float* gamma, const float* beta, float epsilon, float* y);
// Backward of the training forward: dx, dgamma, dbeta (dgamma/dbeta may be null).
void batch_norm_backward(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                         const float* var, const float* gamma, float epsilon, float* dx, float* dgamma,
                         float* dbeta);

// Layer norm over the last axis of x (rows, C): y, mean (rows), rstd (rows) = 1/sqrt(var + eps).
void layer_norm_forward(const float* x, int64_t rows, int64_t C, const float* gamma, const float* beta,
                        float epsilon, float* y, float* mean, float* rstd);
// Backward: dx (rows, C), dgamma and dbeta (C; may be null when not wanted).
void layer_norm_backward(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                         const float* rstd, const float* gamma, float* dx, float* dgamma, float* dbeta);

}  // namespace norm
}  // namespace fastnet
