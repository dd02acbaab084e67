// Small-GEMM leaf of the recurrent kernels, included once per ISA inside namespace
// fastnet::rnn::<isa> with FASTNET_VBYTES (64 AVX-512, 32 AVX2, 16 the SSE2 baseline)
// and FASTNET_MR (rows per register tile). No STL.
//
// The recurrent product of one step is small (batch rows x U times U x gU) and the
// recurrent kernel is the same at every step, so B is packed once per sequence into
// panels of kNR = 2 vectors of columns; A (the hidden state rows) is read in place.
// Each register tile is MR rows x kNR columns, initialised from ADD (the input
// projection, a broadcast bias or zeros) and accumulated over k with FMAs.

typedef float vf __attribute__((vector_size(FASTNET_VBYTES)));
typedef int32_t vi __attribute__((vector_size(FASTNET_VBYTES)));
constexpr int kLanes = FASTNET_VBYTES / 4;
constexpr int kNR = 2 * kLanes;
constexpr int kMR = FASTNET_MR;

static inline vf v_load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
static inline void v_store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof(v)); }
static inline vf v_splat(float x) { return vf{} + x; }
// The first w (<= kLanes) floats of p, zeros after; and the store of the first w lanes.
static inline vf v_load_w(const float* p, int64_t w) {
  if (w == kLanes) return v_load(p);
  float buf[kLanes] = {};
  for (int64_t j = 0; j < w; ++j) buf[j] = p[j];
  return v_load(buf);
}
static inline void v_store_w(float* p, vf v, int64_t w) {
  if (w == kLanes) return v_store(p, v);
  float buf[kLanes];
  v_store(buf, v);
  for (int64_t j = 0; j < w; ++j) p[j] = buf[j];
}
#include "cpu/vec_math_leaf.h"

static void pack_b(int64_t k, int64_t n, const float* b, int64_t ldb, bool trans, float* bp) {
  const int64_t panels = (n + kNR - 1) / kNR;
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = bp + p * k * kNR;
    const int64_t j0 = p * kNR;
    const int64_t w = n - j0 < kNR ? n - j0 : kNR;
    for (int64_t kk = 0; kk < k; ++kk) {
      float* row = dst + kk * kNR;
      for (int64_t j = 0; j < w; ++j) row[j] = trans ? b[(j0 + j) * ldb + kk] : b[kk * ldb + j0 + j];
      for (int64_t j = w; j < kNR; ++j) row[j] = 0.0f;
    }
  }
}

// One tile of M rows; w valid columns (w == kNR: full vectors straight from/to memory).
template <int M>
static inline void tile(int64_t k, const float* a, int64_t lda, const float* bp, const float* add,
                        int64_t ld_add, float* c, int64_t ldc, int64_t w) {
  vf acc0[M], acc1[M];
  for (int i = 0; i < M; ++i) {
    if (add == nullptr) {
      acc0[i] = vf{};
      acc1[i] = vf{};
    } else if (w == kNR) {
      acc0[i] = v_load(add + i * ld_add);
      acc1[i] = v_load(add + i * ld_add + kLanes);
    } else {
      float tmp[kNR] = {};
      for (int64_t j = 0; j < w; ++j) tmp[j] = add[i * ld_add + j];
      acc0[i] = v_load(tmp);
      acc1[i] = v_load(tmp + kLanes);
    }
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    const vf b0 = v_load(bp + kk * kNR);
    const vf b1 = v_load(bp + kk * kNR + kLanes);
    for (int i = 0; i < M; ++i) {
      const vf av = a[i * lda + kk] - vf{};  // x - 0 folds to x: an FMA with a broadcast load
      acc0[i] += av * b0;
      acc1[i] += av * b1;
    }
  }
  for (int i = 0; i < M; ++i) {
    if (w == kNR) {
      v_store(c + i * ldc, acc0[i]);
      v_store(c + i * ldc + kLanes, acc1[i]);
    } else {
      float tmp[kNR];
      v_store(tmp, acc0[i]);
      v_store(tmp + kLanes, acc1[i]);
      for (int64_t j = 0; j < w; ++j) c[i * ldc + j] = tmp[j];
    }
  }
}

template <int M>
static inline void rows_tail(int64_t m, int64_t k, const float* a, int64_t lda, const float* bp,
                             const float* add, int64_t ld_add, float* c, int64_t ldc, int64_t w) {
  if constexpr (M > 0) {
    if (m == M)
      tile<M>(k, a, lda, bp, add, ld_add, c, ldc, w);
    else
      rows_tail<M - 1>(m, k, a, lda, bp, add, ld_add, c, ldc, w);
  }
}

static void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
                 const float* add, int64_t ld_add, float* c, int64_t ldc) {
  const int64_t panels = (n + kNR - 1) / kNR;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * kNR;
    const int64_t w = n - j0 < kNR ? n - j0 : kNR;
    const float* bpp = bp + p * k * kNR;
    int64_t i = 0;
    for (; i + kMR <= m; i += kMR)
      tile<kMR>(k, a + i * lda, lda, bpp, add ? add + i * ld_add + j0 : nullptr, ld_add, c + i * ldc + j0,
                ldc, w);
    if (i < m)
      rows_tail<kMR - 1>(m - i, k, a + i * lda, lda, bpp, add ? add + i * ld_add + j0 : nullptr, ld_add,
                         c + i * ldc + j0, ldc, w);
  }
}

static void lstm_bwd_row(int64_t u, const float* __restrict z, const float* __restrict tc,
                         const float* __restrict cp, const float* __restrict ds, float* __restrict dh,
                         float* __restrict dcar, float* __restrict dc, float* __restrict dz) {
  const float *ig = z, *fg = z + u, *gg = z + 2 * u, *og = z + 3 * u;
  for (int64_t j = 0; j < u; ++j) {
    const float dht = dh[j] + dcar[j] + ds[j];
    const float tcj = tc[j];
    const float dcj = dc[j] + dht * og[j] * (1.0f - tcj * tcj);
    dz[3 * u + j] = dht * tcj * og[j] * (1.0f - og[j]);    // o
    dz[j] = dcj * gg[j] * ig[j] * (1.0f - ig[j]);          // i
    dz[u + j] = dcj * cp[j] * fg[j] * (1.0f - fg[j]);      // f
    dz[2 * u + j] = dcj * ig[j] * (1.0f - gg[j] * gg[j]);  // g
    dc[j] = dcj * fg[j];
    dcar[j] = 0.0f;
    dh[j] = 0.0f;  // the recurrent product gives it back
  }
}

// The fused LSTM step. A register tile is kLstmMR rows x the 4 gates of kLanes units
// (4 * kLstmMR accumulators): the input and recurrent products run as one k loop over
// [x | h] against the stacked kernels, and the gate activations, the cell update and
// h = o * tanh(c) are applied while the tile is still in registers. The k order (bias,
// then x @ kernel, then h @ recurrent) is the one of the unfused xp + h @ U.
constexpr int kLstmMR = FASTNET_LSTM_MR;

static void pack_lstm(int64_t in, int64_t u, const float* kernel, const float* recurrent, float* bp) {
  const int64_t k = in + u, panels = (u + kLanes - 1) / kLanes, g4 = 4 * u;
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = bp + p * k * 4 * kLanes;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* src = kk < in ? kernel + kk * g4 : recurrent + (kk - in) * g4;
      for (int64_t g = 0; g < 4; ++g)
        for (int64_t j = 0; j < kLanes; ++j) {
          const int64_t unit = p * kLanes + j;
          dst[(kk * 4 + g) * kLanes + j] = unit < u ? src[g * u + unit] : 0.0f;
        }
    }
  }
}

// The gates and the cell for w (<= kLanes) units of one row from the pre-activations zi zf zg
// zo: z (the row's i f g o blocks at the units' offset) <- the gates, c, tc, h.
static inline void lstm_cell(int64_t u, int64_t w, vf zi, vf zf, vf zg, vf zo, const float* cp, float* z,
                             float* c, float* tc, float* h) {
  const vf ig = v_sigmoid(zi), fg = v_sigmoid(zf), gg = v_tanh(zg), og = v_sigmoid(zo);
  const vf cn = fg * (cp ? v_load_w(cp, w) : vf{}) + ig * gg;
  const vf tcv = v_tanh(cn);
  v_store_w(z, ig, w);
  v_store_w(z + u, fg, w);
  v_store_w(z + 2 * u, gg, w);
  v_store_w(z + 3 * u, og, w);
  v_store_w(c, cn, w);
  v_store_w(tc, tcv, w);
  v_store_w(h, og * tcv, w);
}

template <int M>
static inline void lstm_tile(int64_t k, int64_t u, int64_t j0, int64_t w, const float* xh, int64_t ldxh,
                             const float* bp, const float* bias, const float* cp, float* z, float* c,
                             float* tc, float* h, int64_t ldh) {
  vf acc[4][M];
  for (int g = 0; g < 4; ++g) {
    const vf b = bias ? v_load_w(bias + g * u + j0, w) : vf{};
    for (int i = 0; i < M; ++i) acc[g][i] = b;
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* bk = bp + kk * 4 * kLanes;
    const vf b0 = v_load(bk), b1 = v_load(bk + kLanes), b2 = v_load(bk + 2 * kLanes),
             b3 = v_load(bk + 3 * kLanes);
    for (int i = 0; i < M; ++i) {
      const vf av = xh[i * ldxh + kk] - vf{};  // a broadcast load into the FMAs
      acc[0][i] += av * b0;
      acc[1][i] += av * b1;
      acc[2][i] += av * b2;
      acc[3][i] += av * b3;
    }
  }
  for (int i = 0; i < M; ++i)
    lstm_cell(u, w, acc[0][i], acc[1][i], acc[2][i], acc[3][i], cp ? cp + i * u + j0 : nullptr,
              z + i * 4 * u + j0, c + i * u + j0, tc + i * u + j0, h + i * ldh + j0);
}

template <int M>
static inline void lstm_rows_tail(int64_t m, int64_t k, int64_t u, int64_t j0, int64_t w, const float* xh,
                                  int64_t ldxh, const float* bp, const float* bias, const float* cp, float* z,
                                  float* c, float* tc, float* h, int64_t ldh) {
  if constexpr (M > 0) {
    if (m == M)
      lstm_tile<M>(k, u, j0, w, xh, ldxh, bp, bias, cp, z, c, tc, h, ldh);
    else
      lstm_rows_tail<M - 1>(m, k, u, j0, w, xh, ldxh, bp, bias, cp, z, c, tc, h, ldh);
  }
}

static void lstm_step(int64_t rows, int64_t in, int64_t u, const float* xh, int64_t ldxh, const float* bp,
                      const float* bias, const float* cp, float* z, float* c, float* tc, float* h,
                      int64_t ldh) {
  const int64_t k = in + u, panels = (u + kLanes - 1) / kLanes;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t j0 = p * kLanes;
    const int64_t w = u - j0 < kLanes ? u - j0 : kLanes;
    const float* bpp = bp + p * k * 4 * kLanes;
    int64_t i = 0;
    for (; i + kLstmMR <= rows; i += kLstmMR)
      lstm_tile<kLstmMR>(k, u, j0, w, xh + i * ldxh, ldxh, bpp, bias, cp ? cp + i * u : nullptr,
                         z + i * 4 * u, c + i * u, tc + i * u, h + i * ldh, ldh);
    if (i < rows)
      lstm_rows_tail<kLstmMR - 1>(rows - i, k, u, j0, w, xh + i * ldxh, ldxh, bpp, bias,
                                  cp ? cp + i * u : nullptr, z + i * 4 * u, c + i * u, tc + i * u,
                                  h + i * ldh, ldh);
  }
}

static void lstm_gates(int64_t rows, int64_t u, float* z, const float* cp, float* c, float* tc, float* h,
                       int64_t ldh) {
  for (int64_t i = 0; i < rows; ++i) {
    float* zr = z + i * 4 * u;
    for (int64_t j0 = 0; j0 < u; j0 += kLanes) {
      const int64_t w = u - j0 < kLanes ? u - j0 : kLanes;
      lstm_cell(u, w, v_load_w(zr + j0, w), v_load_w(zr + u + j0, w), v_load_w(zr + 2 * u + j0, w),
                v_load_w(zr + 3 * u + j0, w), cp ? cp + i * u + j0 : nullptr, zr + j0, c + i * u + j0,
                tc + i * u + j0, h + i * ldh + j0);
    }
  }
}

RnnTable table() {
  return RnnTable{kNR, pack_b, gemm, lstm_bwd_row, kLanes, pack_lstm, lstm_step, lstm_gates};
}
