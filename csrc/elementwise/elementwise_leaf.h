// Elementwise leaf loops: activations (forward and gradient), row softmax /
// log-softmax, the fused cross-entropies and bias-add. Included once per ISA inside
// namespace fastnet::elementwise::<isa>; no STL (see ARCHITECTURE.md). The
// transcendental functions are written as branch-free polynomials so GCC
// vectorizes every loop for the ISA the file is compiled for.

// Vector math on GCC vector extensions: FASTNET_VBYTES (set by the including file:
// 64 for AVX-512, 32 for AVX2, 16 for the portable SSE2 baseline) sets the width, so
// one source gives each ISA its own vector code.
typedef float vf __attribute__((vector_size(FASTNET_VBYTES)));
typedef int32_t vi __attribute__((vector_size(FASTNET_VBYTES)));
constexpr int kLanes = FASTNET_VBYTES / 4;

static inline vf v_load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
static inline void v_store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof(v)); }
static inline vf v_splat(float x) { return vf{} + x; }

// The first m (< kLanes) floats of p, the other lanes `fill`.
static inline vf v_load_n(const float* p, int64_t m, float fill) {
  float buf[kLanes];
  for (int j = 0; j < kLanes; ++j) buf[j] = j < m ? p[j] : fill;
  return v_load(buf);
}
static inline void v_store_n(float* p, vf v, int64_t m) {
  float buf[kLanes];
  v_store(buf, v);
  for (int64_t j = 0; j < m; ++j) p[j] = buf[j];
}
#include "cpu/reduce_leaf.h"
#include "cpu/vec_math_leaf.h"

static inline float v_hmax(vf v) {
  float s = v[0];
  for (int j = 1; j < kLanes; ++j) s = v[j] > s ? v[j] : s;
  return s;
}
// x * s where s is a gate in [0, 1]: 0 where the gate is exactly 0, so x = -inf gives 0
// (the limit) rather than -inf * 0 = nan; a nan in x or s still propagates.
static inline vf v_gated(vf x, vf s) { return s == 0.0f ? vf{} : x * s; }
// A derivative that tends to 1 (x -> inf) and 0 (x -> -inf), fixed where |x| is huge
// (and where the formula would compute inf * 0).
static inline vf v_unit_step_tails(vf x, vf d) {
  return v_abs(x) > 88.0f ? (x > 0.0f ? v_splat(1.0f) : vf{}) : d;
}

// exp(x) = e^r 2^n (Cody-Waite reduction, as v_exp_reduced): max relative error ~2e-7;
// 0 below -87.3 (no denormals), inf above 88.7, nan passes.
static inline vf v_exp(vf x) {
  const vf zero_below = x < -87.3f ? vf{} : v_splat(1.0f);
  x = v_min(v_max(x, v_splat(-87.3f)), v_splat(88.7f));  // nan passes
  const vf magic = v_splat(12582912.0f);                 // 1.5 * 2^23
  const vf tm = x * 1.44269504088896341f + magic;        // n = round(x / ln2) in the low mantissa bits
  const vf fn = tm - magic;
  const vf r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
  return v_exp_reduced(r, (vi)tm - 0x4B400000) * zero_below;
}

// log(x) for positive normal x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m =
// 2 atanh(s), s = (m-1)/(m+1) (|s| <= 0.172), odd series to s^11; e ln2 split hi + lo.
static inline vf v_log(vf x) {
  const vi bits = (vi)x;
  vi e = ((bits >> 23) & 0xff) - 127;
  vf m = (vf)((bits & 0x007fffff) | 0x3f800000);
  const vi big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = e - big;
  const vf fe = __builtin_convertvector(e, vf);
  const vf s = (m - 1.0f) / (m + 1.0f);
  const vf s2 = s * s;
  vf p = v_splat(1.0f / 11.0f);
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  const vf two_s = s + s;
  const vf logm = two_s + two_s * s2 * p;
  return fe * 0.693359375f + (logm - fe * 2.12194440e-4f);
}

// log1p(u) for -1/2 <= u <= 1 (softplus and the logit cross-entropy need u in (0, 1]):
// log1p(u) = 2 atanh(s), s = u / (2 + u), |s| <= 1/3, odd series to s^15 (truncation
// < 2e-9 relative); one division, no cancellation near u = 0.
static inline vf v_log1p(vf u) {
  const vf s = u / (2.0f + u);
  const vf s2 = s * s;
  vf p = v_splat(1.0f / 15.0f);
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  const vf two_s = s + s;
  return two_s + two_s * s2 * p;
}

// 2^t for |t| <= 125, no clamping (callers bound t): t = n + f with n = round(t) by the
// 1.5 * 2^23 trick (exact, round-to-nearest-even, the same on every ISA), 2^f for |f| <= 1/2
// by a degree-5 minimax polynomial (relative error 7.5e-8), 2^n put in the exponent bits.
static inline vf v_exp2_bounded(vf t) {
  const vf magic = v_splat(12582912.0f);
  const vf tm = t + magic;  // n sits in the low mantissa bits of tm
  const vf f = t - (tm - magic);
  vf p = v_splat(1.327647129e-03f);
  p = p * f + 9.675541893e-03f;
  p = p * f + 5.550713092e-02f;
  p = p * f + 2.402212024e-01f;
  p = p * f + 6.931469440e-01f;
  p = p * f + 1.000000119e+00f;
  return p * (vf)(((vi)tm - (0x4B400000 - 127)) << 23);  // (n + 127) << 23 reinterpreted
}

// The standard normal CDF as a logistic: Phi(x) = 1 / (1 + 2^t(x)), t = -logit(Phi(x)) / ln2
// = x P(x^2) with P of degree 6, fitted (minimax) on |x| <= kPhiClamp with the error
// weighted by its effect on gelu = x Phi(x) (absolute where |gelu| < 1, relative above).
// The logistic form has no 1 - Phi cancellation: float32 evaluation keeps gelu's error
// below 1.3e-7 absolute for x < 0 and 2.5e-7 relative for x > 0 (the test states the
// bounds). |x| is clamped to kPhiClamp, where Phi is 1 to float precision; below -kPhiClamp
// callers use Phi = 0 (gelu's value there is under 6e-8). The clamp passes a nan.
constexpr float kPhiClamp = 5.6f;
static inline vf v_normal_cdf_exp2(vf xc) {
  const vf s = xc * xc;
  vf p = v_splat(-5.318458562e-09f);
  p = p * s + 3.913357318e-07f;
  p = p * s - 1.157516726e-05f;
  p = p * s + 1.604329009e-04f;
  p = p * s + 9.156555461e-05f;
  p = p * s - 1.048321053e-01f;
  p = p * s - 2.302210331e+00f;
  return v_exp2_bounded(xc * p);  // 1 / Phi(x) - 1
}
static inline vf v_phi_clamp(vf x) { return v_min(v_max(x, v_splat(-kPhiClamp)), v_splat(kPhiClamp)); }

// Applies a vector function to n floats: full vectors, then the tail through a padded
// vector. y may be x (each vector is loaded before it is stored).
template <typename F>
static inline void v_map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) v_store(y + i, f(v_load(x + i)));
  if (i < n) v_store_n(y + i, f(v_load_n(x + i, n - i, 0.0f)), n - i);
}
// out = f(a, b) elementwise; out may be a or b.
template <typename F>
static inline void v_map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) v_store(out + i, f(v_load(a + i), v_load(b + i)));
  if (i < n) v_store_n(out + i, f(v_load_n(a + i, n - i, 0.0f), v_load_n(b + i, n - i, 0.0f)), n - i);
}

static inline float row_max(const float* x, int64_t n) {
  int64_t i = 0;
  vf m = v_splat(x[0]);
  for (; i + kLanes <= n; i += kLanes) m = v_max(m, v_load(x + i));
  if (i < n) m = v_max(m, v_load_n(x + i, n - i, x[0]));
  return v_hmax(m);
}
// sum_j exp(x_j - mx), optionally storing the exponentials in e.
// The sum is in the same order on every ISA (reduce_leaf.h).
static inline float row_sum_exp(const float* x, float* e, int64_t n, float mx) {
  Red acc;
  red_zero(acc);
  const int64_t full = red_full(n);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t m = n - i < kLanes ? n - i : kLanes;
    const vf v = v_exp((m == kLanes ? v_load(x + i) : v_load_n(x + i, m, mx)) - mx);
    if (e) {
      if (m == kLanes)
        v_store(e + i, v);
      else
        v_store_n(e + i, v, m);
    }
    red_add(acc, v, i, m, full);  // only the m real lanes count (padding gives exp(0) = 1)
  }
  return red_sum(acc);
}

// ---- activations: y = f(x); dx = dy * f'(x) -------------------------------------------
void relu_fwd(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];  // nan stays nan
}
void relu_bwd(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
void sigmoid_fwd(const float* x, float* y, int64_t n) {
  v_map(x, y, n, [](vf v) { return v_sigmoid(v); });
}
// gradient from the output: dy * y * (1 - y)
void sigmoid_bwd(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}
void tanh_fwd(const float* x, float* y, int64_t n) {
  v_map(x, y, n, [](vf v) { return v_tanh(v); });
}
// gradient from the output: dy * (1 - y^2)
void tanh_bwd(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

// Parameterised forms for the activation table (p unused by relu/sigmoid/tanh).
void relu_fwd_p(const float* x, float* y, int64_t n, float) { relu_fwd(x, y, n); }
void relu_bwd_p(const float* x, const float* dy, float* dx, int64_t n, float) { relu_bwd(x, dy, dx, n); }
void sigmoid_fwd_p(const float* x, float* y, int64_t n, float) { sigmoid_fwd(x, y, n); }
void sigmoid_bwd_p(const float* y, const float* dy, float* dx, int64_t n, float) {
  sigmoid_bwd(y, dy, dx, n);
}
void tanh_fwd_p(const float* x, float* y, int64_t n, float) { tanh_fwd(x, y, n); }
void tanh_bwd_p(const float* y, const float* dy, float* dx, int64_t n, float) { tanh_bwd(y, dy, dx, n); }

// leaky_relu: x >= 0 ? x : p x
void leaky_relu_fwd(const float* x, float* y, int64_t n, float p) {
  v_map(x, y, n, [p](vf v) { return v >= 0.0f ? v : v * p; });
}
void leaky_relu_bwd(const float* x, const float* dy, float* dx, int64_t n, float p) {
  v_map2(x, dy, dx, n, [p](vf v, vf g) { return v >= 0.0f ? g : g * p; });
}

// elu: x > 0 ? x : p expm1(x); selu: scale * elu(x, alpha) with Keras's constants.
constexpr float kSeluAlpha = 1.67326324235437728f;
constexpr float kSeluScale = 1.05070098735548049f;
static inline vf v_elu(vf v, float alpha) { return v > 0.0f ? v : alpha * v_expm1(v); }
static inline vf v_elu_grad(vf v, float alpha) {
  return v > 0.0f ? v_splat(1.0f) : alpha * v_exp(v_min(v, vf{}));
}
void elu_fwd(const float* x, float* y, int64_t n, float p) {
  v_map(x, y, n, [p](vf v) { return v_elu(v, p); });
}
void elu_bwd(const float* x, const float* dy, float* dx, int64_t n, float p) {
  v_map2(x, dy, dx, n, [p](vf v, vf g) { return g * v_elu_grad(v, p); });
}
void selu_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) { return kSeluScale * v_elu(v, kSeluAlpha); });
}
void selu_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n, [](vf v, vf g) { return g * (kSeluScale * v_elu_grad(v, kSeluAlpha)); });
}

// gelu, tanh form: 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = c (x + k x^3), which keeps
// relative accuracy for negative x (no 1 + tanh cancellation).
constexpr float kGeluC = 0.797884560802865356f;  // sqrt(2/pi)
constexpr float kGeluK = 0.044715f;
void gelu_tanh_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) { return v_gated(v, v_sigmoid(2.0f * kGeluC * (v + kGeluK * v * v * v))); });
}
void gelu_tanh_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n, [](vf v, vf g) {
    const vf s = v_sigmoid(2.0f * kGeluC * (v + kGeluK * v * v * v));
    vf d = s + v * (2.0f * s * (1.0f - s)) * (kGeluC * (1.0f + 3.0f * kGeluK * v * v));
    d = v_abs(v) > 30.0f ? (v > 0.0f ? v_splat(1.0f) : vf{}) : d;  // no 0 * inf at huge |x|
    return g * d;
  });
}

// gelu, exact: x Phi(x); derivative Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
void gelu_erf_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) {
    const vf g = v / (1.0f + v_normal_cdf_exp2(v_phi_clamp(v)));
    return v < -kPhiClamp ? vf{} : g;  // -inf gives 0, the limit
  });
}
void gelu_erf_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n, [](vf v, vf g) {
    const vf xc = v_phi_clamp(v);
    const vf cdf = 1.0f / (1.0f + v_normal_cdf_exp2(xc));
    const vf pdf = v_exp2_bounded(xc * xc * -0.721347520f) * 0.398942280f;  // -log2(e) / 2
    vf d = cdf + xc * pdf;
    d = v < -kPhiClamp ? vf{} : d;
    d = v > kPhiClamp ? v_splat(1.0f) : d;
    return g * d;
  });
}

// hard_sigmoid (Keras 3): relu6(x + 3) / 6; hard_silu: x hard_sigmoid(x).
static inline vf v_hard_sigmoid(vf v) { return v_min(v_max(v + 3.0f, vf{}), v_splat(6.0f)) / 6.0f; }
static inline vf v_hard_sigmoid_grad(vf v) {
  const vf s = v + 3.0f;
  return (s > 0.0f) & (s < 6.0f) ? v_splat(1.0f / 6.0f) : vf{};
}
void hard_sigmoid_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) { return v_hard_sigmoid(v); });
}
void hard_sigmoid_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n, [](vf v, vf g) { return g * v_hard_sigmoid_grad(v); });
}
void hard_silu_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) { return v_gated(v, v_hard_sigmoid(v)); });
}
void hard_silu_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n,
         [](vf v, vf g) { return g * v_unit_step_tails(v, v_hard_sigmoid(v) + v * v_hard_sigmoid_grad(v)); });
}

// softplus: max(x, 0) + log1p(exp(-|x|)) (no overflow); derivative sigmoid(x).
void softplus_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) { return v_max(v, vf{}) + v_log1p(v_exp(-v_abs(v))); });
}
void softplus_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n, [](vf v, vf g) { return g * v_sigmoid(v); });
}

// silu / swish: x sigmoid(x); derivative s (1 + x (1 - s)).
void silu_fwd(const float* x, float* y, int64_t n, float) {
  v_map(x, y, n, [](vf v) { return v_gated(v, v_sigmoid(v)); });
}
void silu_bwd(const float* x, const float* dy, float* dx, int64_t n, float) {
  v_map2(x, dy, dx, n, [](vf v, vf g) {
    const vf s = v_sigmoid(v);
    return g * v_unit_step_tails(v, s * (1.0f + v * (1.0f - s)));
  });
}

// ---- rows: softmax / log-softmax over the last axis (rows x cols) --------------------
void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mx = row_max(xr, cols);
    const float inv = 1.0f / row_sum_exp(xr, yr, cols, mx);
    v_map(yr, yr, cols, [inv](vf v) { return v * inv; });
  }
}
void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float mx = row_max(xr, cols);
    const float lse = mx + __builtin_logf(row_sum_exp(xr, nullptr, cols, mx));
    v_map(xr, y + r * cols, cols, [lse](vf v) { return v - lse; });
  }
}
// softmax backward from the output: dx = y * (dy - sum(dy * y))
void softmax_bwd_rows(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    Red acc;
    red_zero(acc);
    const int64_t full = red_full(cols);
    for (int64_t j = 0; j < cols; j += kLanes) {
      const int64_t m = cols - j < kLanes ? cols - j : kLanes;
      red_add(acc, red_load(yr + j, m) * red_load(gr + j, m), j, m, full);
    }
    const float dot = red_sum(acc);
    v_map2(yr, gr, dx + r * cols, cols, [dot](vf a, vf g) { return a * (g - dot); });
  }
}

// sum(p) of one row, in the same order on every ISA.
static inline float row_sum(const float* p, int64_t n) {
  Red acc;
  red_zero(acc);
  const int64_t full = red_full(n);
  for (int64_t j = 0; j < n; j += kLanes) {
    const int64_t m = n - j < kLanes ? n - j : kLanes;
    red_add(acc, red_load(p + j, m), j, m, full);
  }
  return red_sum(acc);
}

// Fused sparse softmax cross-entropy from logits: loss[r] = logsumexp(x_r) - x_r[label_r],
// and, when grad != nullptr, grad = softmax(x) - onehot(label) (per unit upstream gradient).
void sparse_xent_rows(const float* x, const int32_t* labels, float* loss, float* grad, int64_t rows,
                      int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float mx = row_max(xr, cols);
    float* gr = grad ? grad + r * cols : nullptr;
    const float sum = row_sum_exp(xr, gr, cols, mx);
    const int32_t lab = labels[r];
    loss[r] = (mx - xr[lab]) + __builtin_logf(sum);
    if (gr) {
      const float inv = 1.0f / sum;
      v_map(gr, gr, cols, [inv](vf v) { return v * inv; });
      gr[lab] -= 1.0f;
    }
  }
}

// Sparse cross-entropy from probabilities: q = p / sum(p), c = clip(q, eps, 1 - eps),
// loss = -log c[label]. With u = -1/c[label] where the clip passes (0 where it clips),
// dloss/dp_k = (u [k == label] - u q[label]) / sum(p).
void sparse_xent_probs_rows(const float* p, const int32_t* labels, float* loss, float* grad, int64_t rows,
                            int64_t cols, float eps) {
  const float hi = 1.0f - eps;
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * cols;
    const float s = row_sum(pr, cols);
    const int32_t lab = labels[r];
    const float q = pr[lab] / s;
    const float c = q < eps ? eps : (q > hi ? hi : q);
    float buf[kLanes] = {};
    buf[0] = c;
    loss[r] = -v_log(v_load(buf))[0];
    if (grad) {
      const float u = (q >= eps && q <= hi) ? -1.0f / c : 0.0f;
      const float off = -u * q / s;
      float* gr = grad + r * cols;
      for (int64_t k = 0; k < cols; ++k) gr[k] = off;
      gr[lab] = u / s + off;
    }
  }
}

// Categorical cross-entropy from logits: loss = sum_j t_j (lse - x_j), written as
// sum_j t_j (mx - x_j) + sum(t) log(sum exp(x - mx)) so large logits lose nothing;
// grad = sum(t) softmax(x) - t.
void cce_logits_rows(const float* x, const float* t, float* loss, float* grad, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* tr = t + r * cols;
    const float mx = row_max(xr, cols);
    float* gr = grad ? grad + r * cols : nullptr;
    const float sum = row_sum_exp(xr, gr, cols, mx);
    Red at, atx;
    red_zero(at);
    red_zero(atx);
    const int64_t full = red_full(cols);
    for (int64_t j = 0; j < cols; j += kLanes) {
      const int64_t m = cols - j < kLanes ? cols - j : kLanes;
      const vf tv = red_load(tr + j, m);
      red_add(at, tv, j, m, full);
      red_add(atx, tv * (mx - red_load(xr + j, m)), j, m, full);
    }
    const float ts = red_sum(at), tx = red_sum(atx);
    loss[r] = tx + ts * __builtin_logf(sum);
    if (gr) {
      const float scale = ts / sum;
      v_map2(gr, tr, gr, cols, [scale](vf e, vf tv) { return e * scale - tv; });
    }
  }
}

// Categorical cross-entropy from probabilities, as Keras: q = p / sum(p), c = clip(q, eps,
// 1 - eps), loss = -sum_j t_j log c_j. With u_j = -t_j / c_j where the clip passes (0 where
// it clips), dloss/dp_k = (u_k - sum_j u_j q_j) / sum(p).
void cce_probs_rows(const float* p, const float* t, float* loss, float* grad, int64_t rows, int64_t cols,
                    float eps) {
  const float hi = 1.0f - eps;
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * cols;
    const float* tr = t + r * cols;
    float* gr = grad ? grad + r * cols : nullptr;
    const float s = row_sum(pr, cols);
    Red al, ad;
    red_zero(al);
    red_zero(ad);
    const int64_t full = red_full(cols);
    for (int64_t j = 0; j < cols; j += kLanes) {
      const int64_t m = cols - j < kLanes ? cols - j : kLanes;
      const vf pv = m == kLanes ? v_load(pr + j) : v_load_n(pr + j, m, 0.0f);
      const vf tv = m == kLanes ? v_load(tr + j) : v_load_n(tr + j, m, 0.0f);
      const vf q = pv / s;
      const vf c = v_min(v_max(q, v_splat(eps)), v_splat(hi));
      red_add(al, tv * v_log(c), j, m, full);
      if (gr) {
        const vf u = (q >= eps) & (q <= hi) ? -tv / c : vf{};
        red_add(ad, u * q, j, m, full);
        if (m == kLanes)
          v_store(gr + j, u);
        else
          v_store_n(gr + j, u, m);
      }
    }
    loss[r] = -red_sum(al);
    if (gr) {
      const float dot = red_sum(ad);
      v_map(gr, gr, cols, [dot, s](vf u) { return (u - dot) / s; });
    }
  }
}

// Binary cross-entropy per element; from logits: max(x, 0) - x t + log1p(exp(-|x|)),
// gradient sigmoid(x) - t; from probabilities: c = clip(p, eps, 1 - eps),
// -(t log c + (1 - t) log(1 - c)), gradient -(t / c - (1 - t) / (1 - c)) where the clip
// passes. With kBceMean the loss is the row mean and the gradient that of the mean.
void bce_rows(const float* x, const float* t, float* loss, float* grad, int64_t rows, int64_t cols, int flags,
              float eps) {
  const bool logits = flags & kBceFromLogits, mean = flags & kBceMean;
  const float hi = 1.0f - eps, inv_cols = 1.0f / static_cast<float>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* tr = t + r * cols;
    float* lr = mean ? nullptr : loss + r * cols;
    float* gr = grad ? grad + r * cols : nullptr;
    Red acc;
    red_zero(acc);
    const int64_t full = red_full(cols);
    for (int64_t j = 0; j < cols; j += kLanes) {
      const int64_t m = cols - j < kLanes ? cols - j : kLanes;
      const vf xv = m == kLanes ? v_load(xr + j) : v_load_n(xr + j, m, 0.5f);
      const vf tv = m == kLanes ? v_load(tr + j) : v_load_n(tr + j, m, 0.0f);
      vf l, g;
      if (logits) {
        const vf e = v_exp(-v_abs(xv));
        l = v_max(xv, vf{}) - xv * tv + v_log1p(e);
        const vf inv = 1.0f / (1.0f + e);
        g = (xv >= 0.0f ? inv : e * inv) - tv;
      } else {
        const vf c = v_min(v_max(xv, v_splat(eps)), v_splat(hi));
        const vf oc = 1.0f - c;
        l = -(tv * v_log(c) + (1.0f - tv) * v_log(oc));
        g = (xv >= eps) & (xv <= hi) ? (1.0f - tv) / oc - tv / c : vf{};
      }
      if (mean) {
        red_add(acc, l, j, m, full);
        g = g * inv_cols;
      } else if (m == kLanes) {
        v_store(lr + j, l);
      } else {
        v_store_n(lr + j, l, m);
      }
      if (gr) {
        if (m == kLanes)
          v_store(gr + j, g);
        else
          v_store_n(gr + j, g, m);
      }
    }
    if (mean) loss[r] = red_sum(acc) * inv_cols;
  }
}

// ---- bias -------------------------------------------------------------------------------
void bias_add_rows(const float* x, const float* b, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    v_map2(x + r * cols, b, y + r * cols, cols, [](vf a, vf c) { return a + c; });
}
// acc[j] += sum_r dy[r * stride + j] for j < cols, in double.
void bias_grad_rows(const float* dy, double* acc, int64_t rows, int64_t cols, int64_t stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* d = dy + r * stride;
    for (int64_t j = 0; j < cols; ++j) acc[j] += d[j];
  }
}

ElementwiseTable table() {
  ElementwiseTable t;
  t.relu_fwd = &relu_fwd;
  t.relu_bwd = &relu_bwd;
  t.sigmoid_fwd = &sigmoid_fwd;
  t.sigmoid_bwd = &sigmoid_bwd;
  t.tanh_fwd = &tanh_fwd;
  t.tanh_bwd = &tanh_bwd;
  t.act_fwd[kRelu] = &relu_fwd_p;
  t.act_bwd[kRelu] = &relu_bwd_p;
  t.act_fwd[kSigmoid] = &sigmoid_fwd_p;
  t.act_bwd[kSigmoid] = &sigmoid_bwd_p;
  t.act_fwd[kTanh] = &tanh_fwd_p;
  t.act_bwd[kTanh] = &tanh_bwd_p;
  t.act_fwd[kLeakyRelu] = &leaky_relu_fwd;
  t.act_bwd[kLeakyRelu] = &leaky_relu_bwd;
  t.act_fwd[kElu] = &elu_fwd;
  t.act_bwd[kElu] = &elu_bwd;
  t.act_fwd[kSelu] = &selu_fwd;
  t.act_bwd[kSelu] = &selu_bwd;
  t.act_fwd[kGeluTanh] = &gelu_tanh_fwd;
  t.act_bwd[kGeluTanh] = &gelu_tanh_bwd;
  t.act_fwd[kGeluErf] = &gelu_erf_fwd;
  t.act_bwd[kGeluErf] = &gelu_erf_bwd;
  t.act_fwd[kHardSigmoid] = &hard_sigmoid_fwd;
  t.act_bwd[kHardSigmoid] = &hard_sigmoid_bwd;
  t.act_fwd[kHardSilu] = &hard_silu_fwd;
  t.act_bwd[kHardSilu] = &hard_silu_bwd;
  t.act_fwd[kSoftplus] = &softplus_fwd;
  t.act_bwd[kSoftplus] = &softplus_bwd;
  t.act_fwd[kSilu] = &silu_fwd;
  t.act_bwd[kSilu] = &silu_bwd;
  t.softmax_rows = &softmax_rows;
  t.log_softmax_rows = &log_softmax_rows;
  t.softmax_bwd_rows = &softmax_bwd_rows;
  t.sparse_xent_rows = &sparse_xent_rows;
  t.sparse_xent_probs_rows = &sparse_xent_probs_rows;
  t.cce_logits_rows = &cce_logits_rows;
  t.cce_probs_rows = &cce_probs_rows;
  t.bce_rows = &bce_rows;
  t.bias_add_rows = &bias_add_rows;
  t.bias_grad_rows = &bias_grad_rows;
  return t;
}
