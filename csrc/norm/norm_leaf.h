// Normalization leaf loops over channels-last rows: x (rows, C).
// Included once per ISA inside namespace fastnet::norm::<isa> with FASTNET_VBYTES set
// (no STL). Batch norm: sums are accumulated in double per channel so large N*H*W keep
// their precision. Layer norm: statistics per row (two passes over the row, which stays
// in L1), reductions along the row on GCC vector extensions.

typedef float vf __attribute__((vector_size(FASTNET_VBYTES)));
constexpr int kLanes = FASTNET_VBYTES / 4;

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

// ---- layer normalization over the last axis ------------------------------------------------

#include "cpu/reduce_leaf.h"

// sum(x) and sum((x - m)^2) of one row, in the same order on every ISA (reduce_leaf.h).
static inline float row_sum(const float* __restrict x, int64_t C) {
  Red a;
  red_zero(a);
  const int64_t full = red_full(C);
  for (int64_t c = 0; c < C; c += kLanes) {
    const int64_t m = C - c < kLanes ? C - c : kLanes;
    red_add(a, red_load(x + c, m), c, m, full);
  }
  return red_sum(a);
}
static inline float row_sqdev(const float* __restrict x, int64_t C, float mean) {
  Red a;
  red_zero(a);
  const int64_t full = red_full(C);
  for (int64_t c = 0; c < C; c += kLanes) {
    const int64_t m = C - c < kLanes ? C - c : kLanes;
    const vf u = red_load(x + c, m) - mean;
    red_add(a, u * u, c, m, full);  // padded lanes: (0 - mean)^2, not added (m lanes only)
  }
  return red_sum(a);
}

// y = (x - mean) * rstd * gamma + beta per row; saves mean and rstd = 1/sqrt(var + eps).
void ln_fwd(const float* __restrict x, const float* __restrict gamma, const float* __restrict beta, float eps,
            float* __restrict y, float* __restrict mean, float* __restrict rstd, int64_t r0, int64_t r1,
            int64_t C) {
  const float invC = C > 0 ? 1.0f / static_cast<float>(C) : 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    const float m = row_sum(xr, C) * invC;
    const float v = row_sqdev(xr, C, m) * invC;
    const float rs = 1.0f / __builtin_sqrtf(v + eps);
    mean[r] = m;
    rstd[r] = rs;
    if (gamma && beta)
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * rs * gamma[c] + beta[c];
    else if (gamma)
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * rs * gamma[c];
    else if (beta)
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * rs + beta[c];
    else
      for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * rs;
  }
}

// One pass per row: xhat = (x - mean) * rstd, g = dy * gamma,
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dgamma += dy * xhat, dbeta += dy
// (float partials over this row range, += into; the driver keeps ranges short).
void ln_bwd(const float* __restrict x, const float* __restrict dy, const float* __restrict mean,
            const float* __restrict rstd, const float* __restrict gamma, float* __restrict dx,
            float* __restrict dgamma, float* __restrict dbeta, int64_t r0, int64_t r1, int64_t C) {
  const float invC = C > 0 ? 1.0f / static_cast<float>(C) : 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    const float* gr = dy + r * C;
    float* o = dx + r * C;
    const float m = mean[r], rs = rstd[r];
    Red a, b;
    red_zero(a);
    red_zero(b);
    const int64_t full = red_full(C);
    for (int64_t c = 0; c < C; c += kLanes) {
      const int64_t n = C - c < kLanes ? C - c : kLanes;
      vf g = red_load(gr + c, n);
      if (gamma) g *= red_load(gamma + c, n);
      red_add(a, g, c, n, full);
      red_add(b, g * ((red_load(xr + c, n) - m) * rs), c, n, full);
    }
    const float k1 = red_sum(a) * invC, k2 = red_sum(b) * invC;
    if (gamma) {
      for (int64_t j = 0; j < C; ++j) {
        const float xh = (xr[j] - m) * rs;
        o[j] = rs * (gr[j] * gamma[j] - k1 - xh * k2);
        dgamma[j] += gr[j] * xh;
        dbeta[j] += gr[j];
      }
    } else {
      for (int64_t j = 0; j < C; ++j) {
        const float xh = (xr[j] - m) * rs;
        o[j] = rs * (gr[j] - k1 - xh * k2);
        dgamma[j] += gr[j] * xh;
        dbeta[j] += gr[j];
      }
    }
  }
}

NormTable table() {
  NormTable t;
  t.sums = &bn_sums;
  t.apply = &bn_apply;
  t.grad_sums = &bn_grad_sums;
  t.dx = &bn_dx;
  t.ln_fwd = &ln_fwd;
  t.ln_bwd = &ln_bwd;
  return t;
}
