// Batch-normalization leaf loops over channels-last rows: x (rows, C).
// Included once per ISA inside namespace fastnet::norm::<isa> (no STL). Sums are
// accumulated in double per channel so large N*H*W keep their precision.

// Per-channel sums of x and x^2 over rows [r0, r1): sum, sumsq (C doubles each, += into).
void bn_sums(const float* __restrict x, int64_t r0, int64_t r1, int64_t C, double* __restrict sum,
             double* __restrict sumsq) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const double v = xr[c];
      sum[c] += v;
      sumsq[c] += v * v;
    }
  }
}

// y = x * scale + shift (scale = gamma*inv_std, shift = beta - mean*scale).
void bn_apply(const float* __restrict x, float* __restrict y, int64_t r0, int64_t r1, int64_t C,
              const float* __restrict scale, const float* __restrict shift) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * scale[c] + shift[c];
  }
}

// Backward reductions: dbeta = sum(dy), dgamma_raw = sum(dy * (x - mean)) (double, += into).
void bn_grad_sums(const float* __restrict x, const float* __restrict dy, int64_t r0, int64_t r1, int64_t C,
                  const float* __restrict mean, double* __restrict sdy, double* __restrict sdyx) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    const float* gr = dy + r * C;
    for (int64_t c = 0; c < C; ++c) {
      sdy[c] += gr[c];
      sdyx[c] += static_cast<double>(gr[c]) * (xr[c] - mean[c]);
    }
  }
}

// dx = a*dy + b*(x - mean) + d  per channel (coefficients precomputed by the driver).
void bn_dx(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t r0,
           int64_t r1, int64_t C, const float* __restrict mean, const float* __restrict a,
           const float* __restrict b, const float* __restrict d) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    const float* gr = dy + r * C;
    float* o = dx + r * C;
    for (int64_t c = 0; c < C; ++c) o[c] = a[c] * gr[c] + b[c] * (xr[c] - mean[c]) + d[c];
  }
}

NormTable table() {
  NormTable t;
  t.sums = &bn_sums;
  t.apply = &bn_apply;
  t.grad_sums = &bn_grad_sums;
  t.dx = &bn_dx;
  return t;
}
