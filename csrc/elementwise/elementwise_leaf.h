// Elementwise leaf loops: activations (forward and gradient), row softmax /
// log-softmax, and the fused softmax cross-entropy. Included once per ISA inside
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

// exp(x): x = n*ln2 + r, |r| <= ln2/2, Cephes's degree-6 polynomial for e^r, 2^n put in
// the exponent bits. Max relative error ~2e-7 on [-87, 88]; clamped outside.
static inline vf v_exp(vf x) {
  x = x < -87.3f ? v_splat(-87.3f) : x;
  x = x > 88.7f ? v_splat(88.7f) : x;
  const vf t = x * 1.44269504088896341f + 0.5f;
  vi n = __builtin_convertvector(t, vi);  // truncates toward zero
  vf fn = __builtin_convertvector(n, vf);
  const vi adjust = fn > t;  // -1 where truncation rounded up (t < 0): take the floor
  n = n + adjust;
  fn = __builtin_convertvector(n, vf);
  const vf r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
  vf p = v_splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi bits = (n + 127) << 23;
  return p * (vf)bits;  // same-size vector cast: reinterprets the bits
}

static inline vf v_sigmoid(vf x) { return 1.0f / (1.0f + v_exp(-x)); }

static inline vf v_tanh(vf x) {
  const vf ax = x < 0.0f ? -x : x;
  const vf e = v_exp(-2.0f * ax);
  const vf big = (1.0f - e) / (1.0f + e);
  const vf x2 = x * x;
  const vf small = ax * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.0539682540f)));
  const vf tv = ax < 0.0625f ? small : big;
  return x < 0.0f ? -tv : tv;
}

// Applies a vector function to n floats: full vectors, then the tail through a padded vector.
template <typename F>
static inline void v_map(const float* __restrict x, float* __restrict y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) v_store(y + i, f(v_load(x + i)));
  if (i < n) {
    float buf[kLanes] = {};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
    vf v = f(v_load(buf));
    v_store(buf, v);
    for (int64_t j = i; j < n; ++j) y[j] = buf[j - i];
  }
}

static inline float fn_exp(float x) {
  float buf[kLanes] = {};
  buf[0] = x;
  vf v = v_exp(v_load(buf));
  v_store(buf, v);
  return buf[0];
}

// ---- activations: y = f(x); dx = dy * f'(x) -------------------------------------------
void relu_fwd(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
void relu_bwd(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
void sigmoid_fwd(const float* __restrict x, float* __restrict y, int64_t n) {
  v_map(x, y, n, [](vf v) { return v_sigmoid(v); });
}
// gradient from the output: dy * y * (1 - y)
void sigmoid_bwd(const float* __restrict y, const float* __restrict dy, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}
void tanh_fwd(const float* __restrict x, float* __restrict y, int64_t n) {
  v_map(x, y, n, [](vf v) { return v_tanh(v); });
}
// gradient from the output: dy * (1 - y^2)
void tanh_bwd(const float* __restrict y, const float* __restrict dy, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

// ---- rows: softmax / log-softmax over the last axis (rows x cols) --------------------
void softmax_rows(const float* __restrict x, float* __restrict y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = xr[0];
    for (int64_t j = 1; j < cols; ++j) mx = xr[j] > mx ? xr[j] : mx;
    v_map(xr, yr, cols, [mx](vf v) { return v_exp(v - mx); });
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j) sum += yr[j];
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}
void log_softmax_rows(const float* __restrict x, float* __restrict y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = xr[0];
    for (int64_t j = 1; j < cols; ++j) mx = xr[j] > mx ? xr[j] : mx;
    v_map(xr, yr, cols, [mx](vf v) { return v_exp(v - mx); });
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j) sum += yr[j];
    const float lse = mx + __builtin_logf(sum);
    for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
  }
}
// softmax backward from the output: dx = y * (dy - sum(dy * y))
void softmax_bwd_rows(const float* __restrict y, const float* __restrict dy, float* __restrict dx,
                      int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float dot = 0.0f;
    for (int64_t j = 0; j < cols; ++j) dot += yr[j] * gr[j];
    float* out = dx + r * cols;
    for (int64_t j = 0; j < cols; ++j) out[j] = yr[j] * (gr[j] - dot);
  }
}

// Fused sparse softmax cross-entropy from logits: loss[r] = logsumexp(x_r) - x_r[label_r],
// and, when grad != nullptr, grad = softmax(x) - onehot(label) (per unit upstream gradient).
void sparse_xent_rows(const float* __restrict x, const int32_t* __restrict labels, float* __restrict loss,
                      float* __restrict grad, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float mx = xr[0];
    for (int64_t j = 1; j < cols; ++j) mx = xr[j] > mx ? xr[j] : mx;
    float ebuf[256];
    float* e = grad ? grad + r * cols : (cols <= 256 ? ebuf : nullptr);
    float sum = 0.0f;
    if (e) {
      v_map(xr, e, cols, [mx](vf v) { return v_exp(v - mx); });
      for (int64_t j = 0; j < cols; ++j) sum += e[j];
    } else {
      for (int64_t j = 0; j < cols; ++j) sum += fn_exp(xr[j] - mx);
    }
    const float lse = mx + __builtin_logf(sum);
    const int32_t lab = labels[r];
    loss[r] = lse - xr[lab];
    if (grad) {
      float* gr = grad + r * cols;
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < cols; ++j) gr[j] *= inv;
      gr[lab] -= 1.0f;
    }
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
  t.softmax_rows = &softmax_rows;
  t.log_softmax_rows = &log_softmax_rows;
  t.softmax_bwd_rows = &softmax_bwd_rows;
  t.sparse_xent_rows = &sparse_xent_rows;
  return t;
}
