// Vector transcendental functions shared by the leaves (elementwise, rnn): exp, expm1,
// sigmoid, tanh as branch-free polynomials. Included inside a leaf's per-ISA namespace
// after its `vf` / `vi` typedefs and v_splat (no STL), so every leaf computes the same
// bits for the same function on one ISA level: the LSTM step's gates equal the
// elementwise sigmoid / tanh. No include guard: one copy per ISA namespace.

static inline vf v_abs(vf x) { return x < 0.0f ? -x : x; }
// min / max that pass a NaN in `a` through (as numpy's clip/maximum do).
static inline vf v_min(vf a, vf b) { return b < a ? b : a; }
static inline vf v_max(vf a, vf b) { return a < b ? b : a; }
// e^r * 2^n for the reduced argument |r| <= ln2/2: Cephes's degree-6 polynomial for
// e^r, 2^n put in the exponent bits (the tail of v_exp).
static inline vf v_exp_reduced(vf r, vi n) {
  vf p = v_splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * (vf)((n + 127) << 23);  // same-size vector cast: reinterprets the bits
}

// expm1(x) for x <= 88, accurate relative to the result near 0: with x = n ln2 + r,
// expm1(x) = 2^n expm1(r) + (2^n - 1), and expm1(r) = r + r^2 P(r) never forms 1 + r.
static inline vf v_expm1(vf x) {
  x = x < -88.0f ? v_splat(-88.0f) : x;
  x = x > 88.0f ? v_splat(88.0f) : x;
  const vf magic = v_splat(12582912.0f);  // n = round(x / ln2), as v_exp
  const vf tm = x * 1.44269504088896341f + magic;
  const vf fn = tm - magic;
  const vi n = (vi)tm - 0x4B400000;
  const vf r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
  vf p = v_splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const vf em1r = p * r * r + r;
  const vf two = (vf)((n + 127) << 23);  // n >= -127: 2^-127 encodes as 0, fine here
  return two * em1r + (two - 1.0f);
}

// v_exp without the flush to 0 below -87.3 (it gives ~1.2e-38 there), for 1 / (1 + e), where
// 1 + e is then 1 exactly either way: the same sigmoid bits with three operations fewer.
static inline vf v_exp_no_flush(vf x) {
  x = v_min(v_max(x, v_splat(-87.3f)), v_splat(88.7f));  // nan passes
  const vf magic = v_splat(12582912.0f);
  const vf tm = x * 1.44269504088896341f + magic;
  const vf fn = tm - magic;
  const vf r = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
  return v_exp_reduced(r, (vi)tm - 0x4B400000);
}
static inline vf v_sigmoid(vf x) { return 1.0f / (1.0f + v_exp_no_flush(-x)); }

// tanh(|x|) = -expm1(-2|x|) / (2 + expm1(-2|x|)): relative accuracy everywhere, no branch.
static inline vf v_tanh(vf x) {
  const vf e = v_expm1(-2.0f * v_abs(x));
  const vf tv = -e / (2.0f + e);
  return x < 0.0f ? -tv : tv;
}
