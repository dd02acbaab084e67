// Pooling-family leaf loops, channels-last float32. Included once per ISA inside
// namespace fastnet::pool::<isa> with FASTNET_VBYTES set (64 AVX-512, 32 AVX2, 16 the
// portable baseline); no STL (see ARCHITECTURE.md). Vectors run over the contiguous
// channel axis, register-blocked (up to 4 vectors of channels per window scan).
//
// Windowed pooling is one 3-D core, x (N, D, H, W, C) -> y (N, OD, OH, OW, C); 1-D and
// 2-D pooling call it with size-1 dims. Window ranges come precomputed in PoolGeom (no
// division in the loops). Backward passes write every dx element exactly once (no zero
// fill, no scatter, no races between threads): non-overlapping windows write each
// window's block from its dy; overlapping windows gather over input rows.

typedef float vf __attribute__((vector_size(FASTNET_VBYTES)));
typedef int32_t vi __attribute__((vector_size(FASTNET_VBYTES)));
constexpr int kLanes = FASTNET_VBYTES / 4;

static inline vf v_load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
static inline vi v_loadi(const int32_t* p) {
  vi v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
static inline void v_store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof(v)); }
static inline void v_storei(int32_t* p, vi v) { __builtin_memcpy(p, &v, sizeof(v)); }
static inline vf v_splat(float x) { return vf{} + x; }
static inline vi v_splati(int32_t x) { return vi{} + x; }

// Decomposes an output row index of N*OD*OH into (n, od, oh).
static inline void split_row(int64_t row, int64_t A, int64_t B, int64_t* n, int64_t* a, int64_t* b) {
  *n = row / (A * B);
  const int64_t rem = row - *n * A * B;
  *a = rem / B;
  *b = rem - *a * B;
}

template <int N>
struct VN {
  static constexpr int value = N;
};

// Calls f(VN<nv>{}, c) over channel blocks of 4 vectors, then one block of the 1-3 vectors
// left (one window scan each); returns the first channel of the scalar tail.
template <typename F>
static inline int64_t vec_blocks(int64_t C, F f) {
  int64_t c = 0;
  for (; c + 4 * kLanes <= C; c += 4 * kLanes) f(VN<4>{}, c);
  const int64_t r = (C - c) / kLanes;
  if (r == 3)
    f(VN<3>{}, c);
  else if (r == 2)
    f(VN<2>{}, c);
  else if (r == 1)
    f(VN<1>{}, c);
  return c + r * kLanes;
}

// ---- max pooling ------------------------------------------------------------------------

// NV vectors of channels [c0, c0 + NV*kLanes) of one window.
template <int NV>
static inline void max_window(const float* __restrict xn, float* __restrict yo, int32_t* __restrict ao,
                              int64_t c0, int64_t ds, int64_t de, int64_t hs, int64_t he, int64_t ws,
                              int64_t we, int64_t H, int64_t W, int64_t C) {
  vf m[NV];
  vi a[NV];
  for (int j = 0; j < NV; ++j) {
    m[j] = v_splat(-__builtin_inff());
    a[j] = v_splati(static_cast<int32_t>((ds * H + hs) * W + ws));
  }
  for (int64_t d = ds; d < de; ++d)
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) {
        const int64_t idx = (d * H + h) * W + w;
        const float* p = xn + idx * C + c0;
        const vi iv = v_splati(static_cast<int32_t>(idx));
        for (int j = 0; j < NV; ++j) {
          const vf xv = v_load(p + j * kLanes);
          const vi gt = xv > m[j];
          m[j] = gt ? xv : m[j];
          a[j] = gt ? iv : a[j];
        }
      }
  for (int j = 0; j < NV; ++j) {
    v_store(yo + c0 + j * kLanes, m[j]);
    v_storei(ao + c0 + j * kLanes, a[j]);
  }
}

void max_pool_fwd(const float* __restrict x, float* __restrict y, int32_t* __restrict arg, const PoolGeom& g,
                  int64_t r0, int64_t r1) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2], C = g.C;
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, od, oh;
    split_row(row, OD, OH, &n, &od, &oh);
    const float* xn = x + n * D * H * W * C;
    const int64_t ds = g.first[0][od], de = g.last[0][od];
    const int64_t hs = g.first[1][oh], he = g.last[1][oh];
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t ws = g.first[2][ow], we = g.last[2][ow];
      float* yo = y + (row * OW + ow) * C;
      int32_t* ao = arg + (row * OW + ow) * C;
      int64_t c = vec_blocks(C, [&](auto nv, int64_t c0) {
        max_window<decltype(nv)::value>(xn, yo, ao, c0, ds, de, hs, he, ws, we, H, W, C);
      });
      if (c < C) {  // fewer than kLanes channels left: windows outer, channels inner
        const int64_t nc = C - c;
        float m[kLanes];
        int32_t a[kLanes];
        for (int64_t j = 0; j < nc; ++j) {
          m[j] = -__builtin_inff();
          a[j] = static_cast<int32_t>((ds * H + hs) * W + ws);
        }
        for (int64_t d = ds; d < de; ++d)
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) {
              const int64_t idx = (d * H + h) * W + w;
              const float* p = xn + idx * C + c;
              for (int64_t j = 0; j < nc; ++j) {
                const bool gt = p[j] > m[j];
                m[j] = gt ? p[j] : m[j];
                a[j] = gt ? static_cast<int32_t>(idx) : a[j];
              }
            }
        for (int64_t j = 0; j < nc; ++j) {
          yo[c + j] = m[j];
          ao[c + j] = a[j];
        }
      }
    }
  }
}

// Sum over the covering windows of dy where the window's argmax is this element.
template <int NV>
static inline void max_gather(const float* __restrict dy, const int32_t* __restrict arg, float* __restrict o,
                              int64_t c0, int32_t idx, int64_t base_n, int64_t odl, int64_t odh, int64_t ohl,
                              int64_t ohh, int64_t owl, int64_t owh, int64_t OH, int64_t OW, int64_t C) {
  vf acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = vf{};
  const vi iv = v_splati(idx);
  for (int64_t od = odl; od < odh; ++od)
    for (int64_t oh = ohl; oh < ohh; ++oh)
      for (int64_t ow = owl; ow < owh; ++ow) {
        const int64_t off = ((base_n + od) * OH + oh) * OW * C + ow * C + c0;
        for (int j = 0; j < NV; ++j) {
          const vi eq = v_loadi(arg + off + j * kLanes) == iv;
          acc[j] += eq ? v_load(dy + off + j * kLanes) : vf{};
        }
      }
  for (int j = 0; j < NV; ++j) v_store(o + c0 + j * kLanes, acc[j]);
}

void max_pool_bwd(const float* __restrict dy, const int32_t* __restrict arg, float* __restrict dx,
                  const PoolGeom& g, int64_t r0, int64_t r1) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2], C = g.C;
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, d, h;
    split_row(row, D, H, &n, &d, &h);
    float* dxr = dx + row * W * C;
    const int64_t odl = g.cover_lo[0][d], odh = g.cover_hi[0][d];
    const int64_t ohl = g.cover_lo[1][h], ohh = g.cover_hi[1][h];
    if (odl >= odh || ohl >= ohh) {
      for (int64_t i = 0; i < W * C; ++i) dxr[i] = 0.0f;
      continue;
    }
    for (int64_t w = 0; w < W; ++w) {
      float* o = dxr + w * C;
      const int64_t owl = g.cover_lo[2][w], owh = g.cover_hi[2][w];
      const int32_t idx = static_cast<int32_t>((d * H + h) * W + w);
      int64_t c = vec_blocks(C, [&](auto nv, int64_t c0) {
        max_gather<decltype(nv)::value>(dy, arg, o, c0, idx, n * OD, odl, odh, ohl, ohh, owl, owh, OH, OW, C);
      });
      if (c < C) {  // fewer than kLanes channels left: windows outer, channels inner
        for (int64_t j = c; j < C; ++j) o[j] = 0.0f;
        for (int64_t od = odl; od < odh; ++od)
          for (int64_t oh = ohl; oh < ohh; ++oh)
            for (int64_t ow = owl; ow < owh; ++ow) {
              const int64_t off = ((n * OD + od) * OH + oh) * OW * C + ow * C;
              for (int64_t j = c; j < C; ++j) o[j] += arg[off + j] == idx ? dy[off + j] : 0.0f;
            }
      }
    }
  }
}

// ---- average pooling --------------------------------------------------------------------

template <int NV>
static inline void avg_window(const float* __restrict xn, float* __restrict yo, int64_t c0, int64_t ds,
                              int64_t de, int64_t hs, int64_t he, int64_t ws, int64_t we, int64_t H,
                              int64_t W, int64_t C, float inv) {
  vf s[NV];
  for (int j = 0; j < NV; ++j) s[j] = vf{};
  for (int64_t d = ds; d < de; ++d)
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) {
        const float* p = xn + ((d * H + h) * W + w) * C + c0;
        for (int j = 0; j < NV; ++j) s[j] += v_load(p + j * kLanes);
      }
  for (int j = 0; j < NV; ++j) v_store(yo + c0 + j * kLanes, s[j] * inv);
}

void avg_pool_fwd(const float* __restrict x, float* __restrict y, const PoolGeom& g, int64_t r0, int64_t r1) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2], C = g.C;
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, od, oh;
    split_row(row, OD, OH, &n, &od, &oh);
    const float* xn = x + n * D * H * W * C;
    const int64_t ds = g.first[0][od], de = g.last[0][od];
    const int64_t hs = g.first[1][oh], he = g.last[1][oh];
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t ws = g.first[2][ow], we = g.last[2][ow];
      const float inv = g.inv[0][od] * g.inv[1][oh] * g.inv[2][ow];
      float* yo = y + (row * OW + ow) * C;
      int64_t c = vec_blocks(C, [&](auto nv, int64_t c0) {
        avg_window<decltype(nv)::value>(xn, yo, c0, ds, de, hs, he, ws, we, H, W, C, inv);
      });
      for (; c < C; ++c) {
        float s = 0.0f;
        for (int64_t d = ds; d < de; ++d)
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) s += xn[((d * H + h) * W + w) * C + c];
        yo[c] = s * inv;
      }
    }
  }
}

template <int NV>
static inline void avg_gather(const float* __restrict dy, float* __restrict o, const PoolGeom& g, int64_t c0,
                              int64_t base_n, int64_t odl, int64_t odh, int64_t ohl, int64_t ohh, int64_t owl,
                              int64_t owh) {
  const int64_t OH = g.out[1], OW = g.out[2], C = g.C;
  vf acc[NV];
  for (int j = 0; j < NV; ++j) acc[j] = vf{};
  for (int64_t od = odl; od < odh; ++od)
    for (int64_t oh = ohl; oh < ohh; ++oh) {
      const float idh = g.inv[0][od] * g.inv[1][oh];
      for (int64_t ow = owl; ow < owh; ++ow) {
        const float inv = idh * g.inv[2][ow];
        const float* p = dy + ((base_n + od) * OH + oh) * OW * C + ow * C + c0;
        for (int j = 0; j < NV; ++j) acc[j] += v_load(p + j * kLanes) * inv;
      }
    }
  for (int j = 0; j < NV; ++j) v_store(o + c0 + j * kLanes, acc[j]);
}

void avg_pool_bwd(const float* __restrict dy, float* __restrict dx, const PoolGeom& g, int64_t r0,
                  int64_t r1) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2], C = g.C;
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, d, h;
    split_row(row, D, H, &n, &d, &h);
    float* dxr = dx + row * W * C;
    const int64_t odl = g.cover_lo[0][d], odh = g.cover_hi[0][d];
    const int64_t ohl = g.cover_lo[1][h], ohh = g.cover_hi[1][h];
    if (odl >= odh || ohl >= ohh) {
      for (int64_t i = 0; i < W * C; ++i) dxr[i] = 0.0f;
      continue;
    }
    for (int64_t w = 0; w < W; ++w) {
      float* o = dxr + w * C;
      const int64_t owl = g.cover_lo[2][w], owh = g.cover_hi[2][w];
      int64_t c = vec_blocks(C, [&](auto nv, int64_t c0) {
        avg_gather<decltype(nv)::value>(dy, o, g, c0, n * OD, odl, odh, ohl, ohh, owl, owh);
      });
      if (c < C) {  // fewer than kLanes channels left: windows outer, channels inner
        for (int64_t j = c; j < C; ++j) o[j] = 0.0f;
        for (int64_t od = odl; od < odh; ++od)
          for (int64_t oh = ohl; oh < ohh; ++oh)
            for (int64_t ow = owl; ow < owh; ++ow) {
              const float inv = g.inv[0][od] * g.inv[1][oh] * g.inv[2][ow];
              const float* p = dy + ((n * OD + od) * OH + oh) * OW * C + ow * C;
              for (int64_t j = c; j < C; ++j) o[j] += p[j] * inv;
            }
      }
    }
  }
}

// Average backward by images [n0, n1) (overlapping windows, threads split images): zero
// the image's dx (cache-resident), then add each window's dy/count over the window. Fixed
// window trip counts keep the branches predictable, unlike the gather.
template <int NV>
static inline void avg_add_window(const float* __restrict gp, float* __restrict dxn, int64_t c0, int64_t ds,
                                  int64_t de, int64_t hs, int64_t he, int64_t ws, int64_t we, int64_t H,
                                  int64_t W, int64_t C, float inv) {
  vf gv[NV];
  for (int j = 0; j < NV; ++j) gv[j] = v_load(gp + c0 + j * kLanes) * inv;
  for (int64_t d = ds; d < de; ++d)
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) {
        float* o = dxn + ((d * H + h) * W + w) * C + c0;
        for (int j = 0; j < NV; ++j) v_store(o + j * kLanes, v_load(o + j * kLanes) + gv[j]);
      }
}

void avg_pool_bwd_images(const float* __restrict dy, float* __restrict dx, const PoolGeom& g, int64_t n0,
                         int64_t n1) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2], C = g.C;
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  for (int64_t n = n0; n < n1; ++n) {
    float* dxn = dx + n * D * H * W * C;
    for (int64_t i = 0; i < D * H * W * C; ++i) dxn[i] = 0.0f;
    for (int64_t od = 0; od < OD; ++od)
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t ds = g.first[0][od], de = g.last[0][od], hs = g.first[1][oh], he = g.last[1][oh];
        const float idh = g.inv[0][od] * g.inv[1][oh];
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t ws = g.first[2][ow], we = g.last[2][ow];
          const float inv = idh * g.inv[2][ow];
          const float* gp = dy + (((n * OD + od) * OH + oh) * OW + ow) * C;
          const int64_t c = vec_blocks(C, [&](auto nv, int64_t c0) {
            avg_add_window<decltype(nv)::value>(gp, dxn, c0, ds, de, hs, he, ws, we, H, W, C, inv);
          });
          if (c < C)
            for (int64_t d = ds; d < de; ++d)
              for (int64_t h = hs; h < he; ++h)
                for (int64_t w = ws; w < we; ++w) {
                  float* o = dxn + ((d * H + h) * W + w) * C;
                  for (int64_t j = c; j < C; ++j) o[j] += gp[j] * inv;
                }
        }
      }
  }
}

// ---- non-overlapping windows (stride >= pool on every dim): block backward -------------------
// Output row (n, od, oh) owns the input rows from its window's start to the next window's
// start (the last one to the end), so threads split output rows without overlap. Each
// window's dy and argmax are loaded once and written over the window (dy where the argmax
// is, else 0); positions in no window get 0.

// Block end of output o along a dim: the next window's start, or the input size.
static inline int64_t block_end(const PoolGeom& g, int dim, int64_t o) {
  return o + 1 < g.out[dim] ? g.first[dim][o + 1] : g.in[dim];
}

template <int NV>
static inline void max_block(const float* __restrict gp, const int32_t* __restrict ap, float* __restrict dxr,
                             int64_t c0, int64_t idx0, int64_t ws, int64_t we, int64_t C) {
  vf gv[NV];
  vi av[NV];
  for (int j = 0; j < NV; ++j) {
    gv[j] = v_load(gp + c0 + j * kLanes);
    av[j] = v_loadi(ap + c0 + j * kLanes);
  }
  for (int64_t w = ws; w < we; ++w) {
    const vi iv = v_splati(static_cast<int32_t>(idx0 + w));
    for (int j = 0; j < NV; ++j) v_store(dxr + w * C + c0 + j * kLanes, av[j] == iv ? gv[j] : vf{});
  }
}

template <int NV>
static inline void avg_block(const float* __restrict gp, float* __restrict dxr, int64_t c0, int64_t ws,
                             int64_t we, int64_t C, float inv) {
  vf gv[NV];
  for (int j = 0; j < NV; ++j) gv[j] = v_load(gp + c0 + j * kLanes) * inv;
  for (int64_t w = ws; w < we; ++w)
    for (int j = 0; j < NV; ++j) v_store(dxr + w * C + c0 + j * kLanes, gv[j]);
}

// kind 0 = max (arg used), 1 = average.
static inline void pool_bwd_blocks(const float* __restrict dy, const int32_t* __restrict arg,
                                   float* __restrict dx, const PoolGeom& g, int64_t r0, int64_t r1,
                                   int kind) {
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2], C = g.C;
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, od, oh;
    split_row(row, OD, OH, &n, &od, &oh);
    const int64_t dbs = g.first[0][od], dbe = block_end(g, 0, od), de = g.last[0][od];
    const int64_t hbs = g.first[1][oh], hbe = block_end(g, 1, oh), he = g.last[1][oh];
    const float idh = g.inv[0][od] * g.inv[1][oh];
    const int64_t obase = row * OW * C;
    if (kind == 0 && C < kLanes && de - dbs <= 1) {
      // Few channels, one depth slice per window: zero the block, then put each window's
      // dy at its argmax (one store per window and channel). The range check keeps any arg
      // value inside this block's rows (a corrupt one cannot leave them).
      for (int64_t d = dbs; d < dbe; ++d)
        for (int64_t h = hbs; h < hbe; ++h) {
          float* dxr = dx + ((n * D + d) * H + h) * W * C;
          for (int64_t i = 0; i < W * C; ++i) dxr[i] = 0.0f;
        }
      if (de > dbs && he > hbs) {
        const int64_t lo = (dbs * H + hbs) * W, hi = (dbs * H + he - 1) * W + W;
        float* dxn = dx + n * D * H * W * C;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const float* gp = dy + obase + ow * C;
          const int32_t* ap = arg + obase + ow * C;
          for (int64_t j = 0; j < C; ++j)
            if (ap[j] >= lo && ap[j] < hi) dxn[static_cast<int64_t>(ap[j]) * C + j] = gp[j];
        }
      }
      continue;
    }
    for (int64_t d = dbs; d < dbe; ++d)
      for (int64_t h = hbs; h < hbe; ++h) {
        float* dxr = dx + ((n * D + d) * H + h) * W * C;
        if (d >= de || h >= he) {
          for (int64_t i = 0; i < W * C; ++i) dxr[i] = 0.0f;
          continue;
        }
        const int64_t idx0 = (d * H + h) * W;
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t ws = g.first[2][ow], we = g.last[2][ow], wbe = block_end(g, 2, ow);
          const float* gp = dy + obase + ow * C;
          int64_t c = 0;
          if (kind == 0) {
            const int32_t* ap = arg + obase + ow * C;
            c = vec_blocks(C, [&](auto nv, int64_t c0) {
              max_block<decltype(nv)::value>(gp, ap, dxr, c0, idx0, ws, we, C);
            });
            for (int64_t w = ws; w < we; ++w)
              for (int64_t j = c; j < C; ++j) dxr[w * C + j] = ap[j] == idx0 + w ? gp[j] : 0.0f;
          } else {
            const float inv = idh * g.inv[2][ow];
            c = vec_blocks(
                C, [&](auto nv, int64_t c0) { avg_block<decltype(nv)::value>(gp, dxr, c0, ws, we, C, inv); });
            for (int64_t w = ws; w < we; ++w)
              for (int64_t j = c; j < C; ++j) dxr[w * C + j] = gp[j] * inv;
          }
          for (int64_t i = we * C; i < wbe * C; ++i) dxr[i] = 0.0f;
        }
      }
  }
}

void max_pool_bwd_blocks(const float* __restrict dy, const int32_t* __restrict arg, float* __restrict dx,
                         const PoolGeom& g, int64_t r0, int64_t r1) {
  pool_bwd_blocks(dy, arg, dx, g, r0, r1, 0);
}

void avg_pool_bwd_blocks(const float* __restrict dy, float* __restrict dx, const PoolGeom& g, int64_t r0,
                         int64_t r1) {
  pool_bwd_blocks(dy, nullptr, dx, g, r0, r1, 1);
}

// ---- global pooling over (N, S, C) --------------------------------------------------------

void global_max_fwd(const float* __restrict x, float* __restrict y, float* __restrict count, int64_t S,
                    int64_t C, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* xn = x + n * S * C;
    float* yn = y + n * C;
    float* cn = count + n * C;
    int64_t c = 0;
    for (; c + 2 * kLanes <= C; c += 2 * kLanes) {
      vf m0 = v_splat(-__builtin_inff()), m1 = m0, k0 = vf{}, k1 = vf{};
      for (int64_t s = 0; s < S; ++s) {
        const vf a = v_load(xn + s * C + c), b = v_load(xn + s * C + c + kLanes);
        k0 = a > m0 ? v_splat(1.0f) : (a == m0 ? k0 + 1.0f : k0);
        k1 = b > m1 ? v_splat(1.0f) : (b == m1 ? k1 + 1.0f : k1);
        m0 = a > m0 ? a : m0;
        m1 = b > m1 ? b : m1;
      }
      v_store(yn + c, m0);
      v_store(yn + c + kLanes, m1);
      v_store(cn + c, k0);
      v_store(cn + c + kLanes, k1);
    }
    for (; c < C; ++c) {
      float m = -__builtin_inff(), k = 0.0f;
      for (int64_t s = 0; s < S; ++s) {
        const float v = xn[s * C + c];
        k = v > m ? 1.0f : (v == m ? k + 1.0f : k);
        m = v > m ? v : m;
      }
      yn[c] = m;
      cn[c] = k;
    }
  }
}

void global_max_bwd(const float* __restrict x, const float* __restrict y, const float* __restrict gs,
                    float* __restrict dx, int64_t S, int64_t C, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / S;
    const float* xr = x + r * C;
    const float* yn = y + n * C;
    const float* gn = gs + n * C;
    float* o = dx + r * C;
    for (int64_t c = 0; c < C; ++c) o[c] = xr[c] == yn[c] ? gn[c] : 0.0f;
  }
}

void global_avg_fwd(const float* __restrict x, float* __restrict y, int64_t S, int64_t C, int64_t n0,
                    int64_t n1) {
  const float inv = S > 0 ? 1.0f / static_cast<float>(S) : 0.0f;
  for (int64_t n = n0; n < n1; ++n) {
    const float* xn = x + n * S * C;
    float* yn = y + n * C;
    int64_t c = 0;
    for (; c + 4 * kLanes <= C; c += 4 * kLanes) {
      vf s0 = vf{}, s1 = vf{}, s2 = vf{}, s3 = vf{};
      for (int64_t s = 0; s < S; ++s) {
        const float* p = xn + s * C + c;
        s0 += v_load(p);
        s1 += v_load(p + kLanes);
        s2 += v_load(p + 2 * kLanes);
        s3 += v_load(p + 3 * kLanes);
      }
      v_store(yn + c, s0 * inv);
      v_store(yn + c + kLanes, s1 * inv);
      v_store(yn + c + 2 * kLanes, s2 * inv);
      v_store(yn + c + 3 * kLanes, s3 * inv);
    }
    for (; c + kLanes <= C; c += kLanes) {
      vf s0 = vf{};
      for (int64_t s = 0; s < S; ++s) s0 += v_load(xn + s * C + c);
      v_store(yn + c, s0 * inv);
    }
    if (c < C) {
      for (int64_t j = c; j < C; ++j) yn[j] = 0.0f;
      for (int64_t s = 0; s < S; ++s)
        for (int64_t j = c; j < C; ++j) yn[j] += xn[s * C + j];
      for (int64_t j = c; j < C; ++j) yn[j] *= inv;
    }
  }
}

void global_avg_bwd(const float* __restrict dy, float* __restrict dx, int64_t S, int64_t C, int64_t r0,
                    int64_t r1) {
  const float inv = S > 0 ? 1.0f / static_cast<float>(S) : 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* gn = dy + (r / S) * C;
    float* o = dx + r * C;
    for (int64_t c = 0; c < C; ++c) o[c] = gn[c] * inv;
  }
}

// ---- nearest upsampling -------------------------------------------------------------------

void upsample_fwd(const float* __restrict x, float* __restrict y, const int64_t* in, const int64_t* f,
                  int64_t C, int64_t r0, int64_t r1) {
  const int64_t D = in[0], H = in[1], W = in[2];
  const int64_t OD = D * f[0], OH = H * f[1], sw = f[2];
  const int64_t OWC = W * sw * C;
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, od, oh;
    split_row(row, OD, OH, &n, &od, &oh);
    const float* src = x + ((n * D + od / f[0]) * H + oh / f[1]) * W * C;
    float* dst = y + row * OWC;
    if (C >= kLanes) {
      for (int64_t w = 0; w < W; ++w) {
        const float* s = src + w * C;
        for (int64_t e = 0; e < sw; ++e) {
          float* o = dst + (w * sw + e) * C;
          int64_t c = 0;
          for (; c + kLanes <= C; c += kLanes) v_store(o + c, v_load(s + c));
          for (; c < C; ++c) o[c] = s[c];
        }
      }
    } else {
      for (int64_t w = 0; w < W; ++w)
        for (int64_t e = 0; e < sw; ++e)
          for (int64_t c = 0; c < C; ++c) dst[(w * sw + e) * C + c] = src[w * C + c];
    }
  }
}

void upsample_bwd(const float* __restrict dy, float* __restrict dx, const int64_t* in, const int64_t* f,
                  int64_t C, int64_t r0, int64_t r1) {
  const int64_t D = in[0], H = in[1], W = in[2];
  const int64_t sd = f[0], sh = f[1], sw = f[2];
  const int64_t OD = D * sd, OH = H * sh, OWC = W * sw * C;
  for (int64_t row = r0; row < r1; ++row) {
    int64_t n, d, h;
    split_row(row, D, H, &n, &d, &h);
    float* dst = dx + row * W * C;
    for (int64_t i = 0; i < W * C; ++i) dst[i] = 0.0f;
    for (int64_t a = 0; a < sd; ++a)
      for (int64_t b = 0; b < sh; ++b) {
        const float* src = dy + ((n * OD + d * sd + a) * OH + h * sh + b) * OWC;
        for (int64_t w = 0; w < W; ++w) {
          float* __restrict o = dst + w * C;
          for (int64_t e = 0; e < sw; ++e) {
            const float* __restrict s = src + (w * sw + e) * C;
            for (int64_t c = 0; c < C; ++c) o[c] += s[c];
          }
        }
      }
  }
}

PoolTable table() {
  PoolTable t;
  t.max_fwd = &max_pool_fwd;
  t.max_bwd = &max_pool_bwd;
  t.avg_fwd = &avg_pool_fwd;
  t.avg_bwd = &avg_pool_bwd;
  t.max_bwd_blocks = &max_pool_bwd_blocks;
  t.avg_bwd_blocks = &avg_pool_bwd_blocks;
  t.avg_bwd_images = &avg_pool_bwd_images;
  t.gmax_fwd = &global_max_fwd;
  t.gmax_bwd = &global_max_bwd;
  t.gavg_fwd = &global_avg_fwd;
  t.gavg_bwd = &global_avg_bwd;
  t.up_fwd = &upsample_fwd;
  t.up_bwd = &upsample_bwd;
  return t;
}
