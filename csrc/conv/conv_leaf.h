// Leaf loops of the conv family: plain C++ the compiler vectorizes with each
// file's ISA flags. Included *inside* a namespace by conv_generic.cpp,
// conv_avx2.cpp and conv_avx512.cpp — no STL, no includes, everything static.
//
// Row r of the im2col matrix is output pixel (n, od, oh, ow) in row-major order;
// its columns are the taps (kd, kh, kw) times Cin, i.e. Keras's kernel order,
// so  y (rows, Cout) = cols (rows, K*Cin) @ w (K*Cin, Cout).

static inline void copy_f(float* __restrict dst, const float* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}
static inline void zero_f(float* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
}
static inline void add_f(float* __restrict dst, const float* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Splits row r into (n, od, oh, ow).
static inline void split_row(const Geometry& g, int64_t r, int64_t* n, int64_t* od, int64_t* oh,
                             int64_t* ow) {
  *ow = r % g.out[2];
  r /= g.out[2];
  *oh = r % g.out[1];
  r /= g.out[1];
  *od = r % g.out[0];
  *n = r / g.out[0];
}

static inline void next_row(const Geometry& g, int64_t* n, int64_t* od, int64_t* oh, int64_t* ow) {
  if (++*ow < g.out[2]) return;
  *ow = 0;
  if (++*oh < g.out[1]) return;
  *oh = 0;
  if (++*od < g.out[0]) return;
  *od = 0;
  ++*n;
}

// cols (r1-r0, K*Cin) = im2col rows [r0, r1) of x (N, D, H, W, Cin)
static void im2col(const Geometry& g, const float* x, int64_t r0, int64_t r1, float* cols) {
  const int64_t cin = g.cin, kw_len = g.k[2] * cin;
  const int64_t kdim = g.k[0] * g.k[1] * kw_len;
  const int64_t in_w = g.in[2] * cin, in_hw = g.in[1] * in_w, in_img = g.in[0] * in_hw;
  int64_t n, od, oh, ow;
  split_row(g, r0, &n, &od, &oh, &ow);
  for (int64_t r = r0; r < r1; ++r, next_row(g, &n, &od, &oh, &ow)) {
    float* dst = cols + (r - r0) * kdim;
    const float* xn = x + n * in_img;
    const int64_t iw0 = ow * g.stride[2] - g.pad[2];
    const bool w_inside = g.dil[2] == 1 && iw0 >= 0 && iw0 + g.k[2] <= g.in[2];
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      if (id < 0 || id >= g.in[0]) {
        zero_f(dst, g.k[1] * kw_len);
        dst += g.k[1] * kw_len;
        continue;
      }
      for (int64_t kh = 0; kh < g.k[1]; ++kh, dst += kw_len) {
        const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        if (ih < 0 || ih >= g.in[1]) {
          zero_f(dst, kw_len);
          continue;
        }
        const float* xrow = xn + id * in_hw + ih * in_w;
        if (w_inside) {
          copy_f(dst, xrow + iw0 * cin, kw_len);
          continue;
        }
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int64_t iw = iw0 + kw * g.dil[2];
          if (iw < 0 || iw >= g.in[2])
            zero_f(dst + kw * cin, cin);
          else
            copy_f(dst + kw * cin, xrow + iw * cin, cin);
        }
      }
    }
  }
}

// dx += col2im(cols rows [r0, r1)): the adjoint of im2col.
static void col2im(const Geometry& g, const float* cols, int64_t r0, int64_t r1, float* dx) {
  const int64_t cin = g.cin, kw_len = g.k[2] * cin;
  const int64_t kdim = g.k[0] * g.k[1] * kw_len;
  const int64_t in_w = g.in[2] * cin, in_hw = g.in[1] * in_w, in_img = g.in[0] * in_hw;
  int64_t n, od, oh, ow;
  split_row(g, r0, &n, &od, &oh, &ow);
  for (int64_t r = r0; r < r1; ++r, next_row(g, &n, &od, &oh, &ow)) {
    const float* src = cols + (r - r0) * kdim;
    float* dn = dx + n * in_img;
    const int64_t iw0 = ow * g.stride[2] - g.pad[2];
    const bool w_inside = g.dil[2] == 1 && iw0 >= 0 && iw0 + g.k[2] <= g.in[2];
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      if (id < 0 || id >= g.in[0]) {
        src += g.k[1] * kw_len;
        continue;
      }
      for (int64_t kh = 0; kh < g.k[1]; ++kh, src += kw_len) {
        const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        if (ih < 0 || ih >= g.in[1]) continue;
        float* drow = dn + id * in_hw + ih * in_w;
        if (w_inside) {
          add_f(drow + iw0 * cin, src, kw_len);
          continue;
        }
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int64_t iw = iw0 + kw * g.dil[2];
          if (iw >= 0 && iw < g.in[2]) add_f(drow + iw * cin, src + kw * cin, cin);
        }
      }
    }
  }
}

static void add_bias(float* y, int64_t rows, int64_t c, const float* bias) {
  for (int64_t r = 0; r < rows; ++r) add_f(y + r * c, bias, c);
}

static void sum_rows(float* acc, const float* x, int64_t rows, int64_t c) {
  for (int64_t r = 0; r < rows; ++r) add_f(acc, x + r * c, c);
}

// acc[c*m + j] += x[c] * w[c*m + j]
static void dw_mac(float* __restrict acc, const float* __restrict x, const float* __restrict w, int64_t c,
                   int64_t m) {
  if (m == 1) {
    for (int64_t i = 0; i < c; ++i) acc[i] += x[i] * w[i];
    return;
  }
  for (int64_t i = 0; i < c; ++i) {
    const float xv = x[i];
    for (int64_t j = 0; j < m; ++j) acc[i * m + j] += xv * w[i * m + j];
  }
}

// dx[c] += sum_j dy[c*m + j] * w[c*m + j]
static void dw_dot(float* __restrict dx, const float* __restrict dy, const float* __restrict w, int64_t c,
                   int64_t m) {
  if (m == 1) {
    for (int64_t i = 0; i < c; ++i) dx[i] += dy[i] * w[i];
    return;
  }
  for (int64_t i = 0; i < c; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < m; ++j) s += dy[i * m + j] * w[i * m + j];
    dx[i] += s;
  }
}

// Depthwise forward of the output row (n, od, oh, *): yrow (OW, C*M).
static void dw_forward_row(const Geometry& g, const float* x, const float* w, const float* bias, int64_t n,
                           int64_t od, int64_t oh, float* yrow) {
  const int64_t c = g.cin, cm = g.cout, m = cm / c;
  const int64_t in_w = g.in[2] * c, in_hw = g.in[1] * in_w;
  const float* xn = x + n * g.in[0] * in_hw;
  for (int64_t ow = 0; ow < g.out[2]; ++ow) {
    float* acc = yrow + ow * cm;
    if (bias)
      copy_f(acc, bias, cm);
    else
      zero_f(acc, cm);
    const int64_t iw0 = ow * g.stride[2] - g.pad[2];
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      if (id < 0 || id >= g.in[0]) continue;
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        if (ih < 0 || ih >= g.in[1]) continue;
        const float* xrow = xn + id * in_hw + ih * in_w;
        const float* wt = w + ((kd * g.k[1] + kh) * g.k[2]) * cm;
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int64_t iw = iw0 + kw * g.dil[2];
          if (iw < 0 || iw >= g.in[2]) continue;
          dw_mac(acc, xrow + iw * c, wt + kw * cm, c, m);
        }
      }
    }
  }
}

// Each including file defines its LeafTable from these and its own direct tile kernels.

// ---- Winograd F(2x2, 3x3) transforms (conv.cpp: winograd_run) ----
// Tile t of a block is output tile (n, ty, tx) = t0 + t over tiles_h x tiles_w tiles per
// image; it covers output pixels (2ty..2ty+1, 2tx..2tx+1) and reads the 4x4 input window
// at (2ty - ph, 2tx - pw) of x (N, H, W, C), zeros outside. The 16 transformed planes of
// a block of nt tiles are V[k][t][c] (plane stride nt*C).

// V = B^T d B per tile and channel, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
static void wino_input(const float* x, int64_t H, int64_t W, int64_t C, int64_t ph, int64_t pw,
                       int64_t tiles_h, int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros,
                       float* V) {
  const int64_t ps = nt * C;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tt = t0 + t, tx = tt % tiles_w, ty = (tt / tiles_w) % tiles_h, n = tt / (tiles_w * tiles_h);
    const float* p[16];
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t ih = 2 * ty - ph + i;
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t iw = 2 * tx - pw + j;
        p[i * 4 + j] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x + ((n * H + ih) * W + iw) * C : zeros;
      }
    }
    float* v = V + t * C;
#pragma GCC ivdep
    for (int64_t c = 0; c < C; ++c) {
      float r[16];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const float d0 = p[j][c], d1 = p[4 + j][c], d2 = p[8 + j][c], d3 = p[12 + j][c];
        r[j] = d0 - d2;
        r[4 + j] = d1 + d2;
        r[8 + j] = d2 - d1;
        r[12 + j] = d1 - d3;
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const float* q = r + 4 * i;
        v[(4 * i + 0) * ps + c] = q[0] - q[2];
        v[(4 * i + 1) * ps + c] = q[1] + q[2];
        v[(4 * i + 2) * ps + c] = q[2] - q[1];
        v[(4 * i + 3) * ps + c] = q[1] - q[3];
      }
    }
  }
}

// y (N, OH, OW, C) tiles = A^T m A (+ bias) per tile and channel, A^T = [1 1 1 0; 0 1 -1 -1],
// then max(., 0) with Relu; output pixels past OH/OW go to `trash` (C floats). (A template:
// a runtime ReLU test inside the channel loop keeps GCC from vectorizing it; a runtime
// `bias ? bias[c] : 0` became a masked load from a null bias, which faults under qemu.)
template <bool Relu, bool Bias>
static void wino_output_t(const float* M, int64_t nt, int64_t C, const float* bias, float* y, int64_t OH,
                          int64_t OW, int64_t tiles_h, int64_t tiles_w, int64_t t0, float* trash) {
  const int64_t ps = nt * C;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tt = t0 + t, tx = tt % tiles_w, ty = (tt / tiles_w) % tiles_h, n = tt / (tiles_w * tiles_h);
    float* o[4];
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t oh = 2 * ty + i, ow = 2 * tx + j;
        o[i * 2 + j] = (oh < OH && ow < OW) ? y + ((n * OH + oh) * OW + ow) * C : trash;
      }
    const float* m = M + t * C;
#pragma GCC ivdep
    for (int64_t c = 0; c < C; ++c) {
      float s[8];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const float m0 = m[j * ps + c], m1 = m[(4 + j) * ps + c], m2 = m[(8 + j) * ps + c],
                    m3 = m[(12 + j) * ps + c];
        s[j] = m0 + m1 + m2;
        s[4 + j] = m1 - m2 - m3;
      }
      const float b = Bias ? bias[c] : 0.0f;
      float v0 = s[0] + s[1] + s[2] + b, v1 = s[1] - s[2] - s[3] + b, v2 = s[4] + s[5] + s[6] + b,
            v3 = s[5] - s[6] - s[7] + b;
      if (Relu) {  // nan stays nan, as relu_fwd
        v0 = v0 < 0.0f ? 0.0f : v0;
        v1 = v1 < 0.0f ? 0.0f : v1;
        v2 = v2 < 0.0f ? 0.0f : v2;
        v3 = v3 < 0.0f ? 0.0f : v3;
      }
      o[0][c] = v0;
      o[1][c] = v1;
      o[2][c] = v2;
      o[3][c] = v3;
    }
  }
}

static void wino_output(const float* M, int64_t nt, int64_t C, const float* bias, bool relu, float* y,
                        int64_t OH, int64_t OW, int64_t tiles_h, int64_t tiles_w, int64_t t0, float* trash) {
  auto f = relu ? (bias ? wino_output_t<true, true> : wino_output_t<true, false>)
                : (bias ? wino_output_t<false, true> : wino_output_t<false, false>);
  f(M, nt, C, bias, y, OH, OW, tiles_h, tiles_w, t0, trash);
}

// dM = A dy A^T per tile and channel (the adjoint of wino_output: dy of the tile's 2x2
// output pixels, zeros past OH/OW), in the planes layout of wino_input (C = output channels).
static void wino_output_adjoint(const float* dy, int64_t OH, int64_t OW, int64_t C, int64_t tiles_h,
                                int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros, float* dM) {
  const int64_t ps = nt * C;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tt = t0 + t, tx = tt % tiles_w, ty = (tt / tiles_w) % tiles_h, n = tt / (tiles_w * tiles_h);
    const float* q[4];
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t oh = 2 * ty + i, ow = 2 * tx + j;
        q[i * 2 + j] = (oh < OH && ow < OW) ? dy + ((n * OH + oh) * OW + ow) * C : zeros;
      }
    float* m = dM + t * C;
#pragma GCC ivdep
    for (int64_t c = 0; c < C; ++c) {
      const float d00 = q[0][c], d01 = q[1][c], d10 = q[2][c], d11 = q[3][c];
      // t = A dy (4 x 2), A = [1 0; 1 1; 1 -1; 0 -1]; then dM = t A^T (4 x 4)
      const float r[4][2] = {{d00, d01}, {d00 + d10, d01 + d11}, {d00 - d10, d01 - d11}, {-d10, -d11}};
#pragma GCC unroll 4
      for (int a = 0; a < 4; ++a) {
        m[(4 * a + 0) * ps + c] = r[a][0];
        m[(4 * a + 1) * ps + c] = r[a][0] + r[a][1];
        m[(4 * a + 2) * ps + c] = r[a][0] - r[a][1];
        m[(4 * a + 3) * ps + c] = -r[a][1];
      }
    }
  }
}

// ---- Winograd F(4x4, 3x3) transforms (conv.cpp: winograd_run with m = 4) ----
// As F(2x2, 3x3) above, with 4x4 output tiles: tile (n, ty, tx) covers output pixels
// (4ty..4ty+3, 4tx..4tx+3) and reads the 6x6 input window at (4ty - ph, 4tx - pw); 36
// planes V[k][t][c]. Interpolation points 0, +-1, +-2 (Lavin & Gray's matrices):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]

// V = B^T d B per tile and channel.
static void wino4_input(const float* x, int64_t H, int64_t W, int64_t C, int64_t ph, int64_t pw,
                        int64_t tiles_h, int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros,
                        float* V) {
  const int64_t ps = nt * C;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tt = t0 + t, tx = tt % tiles_w, ty = (tt / tiles_w) % tiles_h, n = tt / (tiles_w * tiles_h);
    const float* p[36];
    for (int64_t i = 0; i < 6; ++i) {
      const int64_t ih = 4 * ty - ph + i;
      for (int64_t j = 0; j < 6; ++j) {
        const int64_t iw = 4 * tx - pw + j;
        p[i * 6 + j] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x + ((n * H + ih) * W + iw) * C : zeros;
      }
    }
    float* v = V + t * C;
#pragma GCC ivdep
    for (int64_t c = 0; c < C; ++c) {
      float r[36];  // r = B^T d (6 x 6), row-major
#pragma GCC unroll 6
      for (int j = 0; j < 6; ++j) {
        const float d0 = p[j][c], d1 = p[6 + j][c], d2 = p[12 + j][c], d3 = p[18 + j][c], d4 = p[24 + j][c],
                    d5 = p[30 + j][c];
        r[j] = 4.0f * d0 - 5.0f * d2 + d4;
        r[6 + j] = (d3 + d4) - 4.0f * (d1 + d2);
        r[12 + j] = (d4 - d3) + 4.0f * (d1 - d2);
        r[18 + j] = (d4 - d2) + 2.0f * (d3 - d1);
        r[24 + j] = (d4 - d2) - 2.0f * (d3 - d1);
        r[30 + j] = 4.0f * d1 - 5.0f * d3 + d5;
      }
#pragma GCC unroll 6
      for (int i = 0; i < 6; ++i) {  // V = r B: the same combination along each row
        const float* q = r + 6 * i;
        v[(6 * i + 0) * ps + c] = 4.0f * q[0] - 5.0f * q[2] + q[4];
        v[(6 * i + 1) * ps + c] = (q[3] + q[4]) - 4.0f * (q[1] + q[2]);
        v[(6 * i + 2) * ps + c] = (q[4] - q[3]) + 4.0f * (q[1] - q[2]);
        v[(6 * i + 3) * ps + c] = (q[4] - q[2]) + 2.0f * (q[3] - q[1]);
        v[(6 * i + 4) * ps + c] = (q[4] - q[2]) - 2.0f * (q[3] - q[1]);
        v[(6 * i + 5) * ps + c] = 4.0f * q[1] - 5.0f * q[3] + q[5];
      }
    }
  }
}

// y tiles = A^T m A (+ bias), then max(., 0) with Relu; pixels past OH/OW go to `trash`.
template <bool Relu, bool Bias>
static void wino4_output_t(const float* M, int64_t nt, int64_t C, const float* bias, float* y, int64_t OH,
                           int64_t OW, int64_t tiles_h, int64_t tiles_w, int64_t t0, float* trash) {
  const int64_t ps = nt * C;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tt = t0 + t, tx = tt % tiles_w, ty = (tt / tiles_w) % tiles_h, n = tt / (tiles_w * tiles_h);
    float* o[16];
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t oh = 4 * ty + i, ow = 4 * tx + j;
        o[i * 4 + j] = (oh < OH && ow < OW) ? y + ((n * OH + oh) * OW + ow) * C : trash;
      }
    const float* m = M + t * C;
#pragma GCC ivdep
    for (int64_t c = 0; c < C; ++c) {
      float s[24];  // s = A^T m (4 x 6)
#pragma GCC unroll 6
      for (int j = 0; j < 6; ++j) {
        const float m0 = m[j * ps + c], m1 = m[(6 + j) * ps + c], m2 = m[(12 + j) * ps + c],
                    m3 = m[(18 + j) * ps + c], m4 = m[(24 + j) * ps + c], m5 = m[(30 + j) * ps + c];
        const float a = m1 + m2, b = m1 - m2, e = m3 + m4, f = m3 - m4;
        s[j] = m0 + a + e;
        s[6 + j] = b + 2.0f * f;
        s[12 + j] = a + 4.0f * e;
        s[18 + j] = b + 8.0f * f + m5;
      }
      const float bb = Bias ? bias[c] : 0.0f;
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const float* q = s + 6 * i;
        const float a = q[1] + q[2], b = q[1] - q[2], e = q[3] + q[4], f = q[3] - q[4];
        float v0 = q[0] + a + e + bb, v1 = b + 2.0f * f + bb, v2 = a + 4.0f * e + bb,
              v3 = b + 8.0f * f + q[5] + bb;
        if (Relu) {  // nan stays nan, as relu_fwd
          v0 = v0 < 0.0f ? 0.0f : v0;
          v1 = v1 < 0.0f ? 0.0f : v1;
          v2 = v2 < 0.0f ? 0.0f : v2;
          v3 = v3 < 0.0f ? 0.0f : v3;
        }
        o[4 * i + 0][c] = v0;
        o[4 * i + 1][c] = v1;
        o[4 * i + 2][c] = v2;
        o[4 * i + 3][c] = v3;
      }
    }
  }
}

static void wino4_output(const float* M, int64_t nt, int64_t C, const float* bias, bool relu, float* y,
                         int64_t OH, int64_t OW, int64_t tiles_h, int64_t tiles_w, int64_t t0, float* trash) {
  auto f = relu ? (bias ? wino4_output_t<true, true> : wino4_output_t<true, false>)
                : (bias ? wino4_output_t<false, true> : wino4_output_t<false, false>);
  f(M, nt, C, bias, y, OH, OW, tiles_h, tiles_w, t0, trash);
}

// dM = A dy A^T per tile and channel (the adjoint of wino4_output: dy of the tile's 4x4
// output pixels, zeros past OH/OW), in the 36-plane layout of wino4_input (C = output
// channels). A (6 x 4) = (A^T)^T: (A d) = (d0, d0+d1+d2+d3, d0-d1+d2-d3, d0+2d1+4d2+8d3,
// d0-2d1+4d2-8d3, d3).
static void wino4_output_adjoint(const float* dy, int64_t OH, int64_t OW, int64_t C, int64_t tiles_h,
                                 int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros, float* dM) {
  const int64_t ps = nt * C;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tt = t0 + t, tx = tt % tiles_w, ty = (tt / tiles_w) % tiles_h, n = tt / (tiles_w * tiles_h);
    const float* q[16];
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t oh = 4 * ty + i, ow = 4 * tx + j;
        q[i * 4 + j] = (oh < OH && ow < OW) ? dy + ((n * OH + oh) * OW + ow) * C : zeros;
      }
    float* m = dM + t * C;
#pragma GCC ivdep
    for (int64_t c = 0; c < C; ++c) {
      float r[24];  // r = A dy (6 x 4)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const float d0 = q[j][c], d1 = q[4 + j][c], d2 = q[8 + j][c], d3 = q[12 + j][c];
        const float e = d0 + d2, f = d1 + d3, g = d0 + 4.0f * d2, h = 2.0f * d1 + 8.0f * d3;
        r[j] = d0;
        r[4 + j] = e + f;
        r[8 + j] = e - f;
        r[12 + j] = g + h;
        r[16 + j] = g - h;
        r[20 + j] = d3;
      }
#pragma GCC unroll 6
      for (int a = 0; a < 6; ++a) {  // dM = r A^T (6 x 6)
        const float* s = r + 4 * a;
        const float e = s[0] + s[2], f = s[1] + s[3], g = s[0] + 4.0f * s[2], h = 2.0f * s[1] + 8.0f * s[3];
        m[(6 * a + 0) * ps + c] = s[0];
        m[(6 * a + 1) * ps + c] = e + f;
        m[(6 * a + 2) * ps + c] = e - f;
        m[(6 * a + 3) * ps + c] = g + h;
        m[(6 * a + 4) * ps + c] = g - h;
        m[(6 * a + 5) * ps + c] = s[3];
      }
    }
  }
}
