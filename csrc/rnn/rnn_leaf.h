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
constexpr int kLanes = FASTNET_VBYTES / 4;
constexpr int kNR = 2 * kLanes;
constexpr int kMR = FASTNET_MR;

static inline vf v_load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
static inline void v_store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof(v)); }

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

RnnTable table() { return RnnTable{kNR, pack_b, gemm, lstm_bwd_row}; }
