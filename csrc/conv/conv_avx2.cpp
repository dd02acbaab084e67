// AVX2+FMA build of the conv leaf loops (conv_leaf.h) and the direct tile kernels
// (6 pixels x 16 or 8 output channels); setup.py adds the flags by file name.
#include "conv/conv_table.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace fastnet {
namespace conv {
namespace avx2 {
#ifdef __AVX2__
namespace {
#include "conv/conv_leaf.h"

constexpr int MR = 6;

// Stores the first n (<= 8) lanes of v.
void store_n(float* dst, __m256 v, int64_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(dst, v);
    return;
  }
  float tmp[8];
  _mm256_storeu_ps(tmp, v);
  for (int64_t i = 0; i < n; ++i) dst[i] = tmp[i];
}

// 6 x 16 tile: 12 ymm accumulators.
void direct_16(int64_t ntaps, int64_t cin, const float* a, const int64_t* off, const int64_t* pix,
               const float* wp, const float* bias, float* c, int64_t ldc, int64_t mr, int64_t nr) {
  __m256 acc0[MR], acc1[MR];
  const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    acc0[r] = b0;
    acc1[r] = b1;
  }
  int64_t rofs[MR];
  for (int r = 0; r < MR; ++r) rofs[r] = pix[r];
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* p[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) p[r] = a + off[t] + rofs[r];
    for (int64_t i = 0; i < cin; ++i, wp += 16) {
      const __m256 w0 = _mm256_loadu_ps(wp);
      const __m256 w1 = _mm256_loadu_ps(wp + 8);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) {
        const __m256 a = _mm256_broadcast_ss(p[r] + i);
        acc0[r] = _mm256_fmadd_ps(a, w0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(a, w1, acc1[r]);
      }
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    if (r < mr) {
      store_n(c + r * ldc, acc0[r], nr);
      if (nr > 8) store_n(c + r * ldc + 8, acc1[r], nr - 8);
    }
  }
}

// 6 x 8 tile (few output channels).
void direct_8(int64_t ntaps, int64_t cin, const float* a, const int64_t* off, const int64_t* pix,
              const float* wp, const float* bias, float* c, int64_t ldc, int64_t mr, int64_t nr) {
  __m256 acc[MR];
  const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r] = b0;
  int64_t rofs[MR];
  for (int r = 0; r < MR; ++r) rofs[r] = pix[r];
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* p[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) p[r] = a + off[t] + rofs[r];
    for (int64_t i = 0; i < cin; ++i, wp += 8) {
      const __m256 w0 = _mm256_loadu_ps(wp);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[r] + i), w0, acc[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r)
    if (r < mr) store_n(c + r * ldc, acc[r], nr);
}

// Loads the first n (<= 8) floats of src (zeros past n) without reading past them.
__m256 load_n(const float* src, int64_t n) {
  if (n >= 8) return _mm256_loadu_ps(src);
  float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) tmp[i] = src[i];
  return _mm256_loadu_ps(tmp);
}

// dW tile of 6 (tap, channel) rows x 16 output channels: 12 ymm accumulators.
void grad_16(int64_t nlines, int64_t npix, const float* a, int64_t ls, int64_t ps, const int64_t* koff,
             int64_t mk, const float* dy, int64_t ldy, float* c, int64_t ldc, int64_t nr) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  const bool full = nr >= 16;
  for (int64_t l = 0; l < nlines; ++l) {
    const float* al = a + l * ls;
    const float* d = dy + l * npix * ldy;
    for (int64_t q = 0; q < npix; ++q, al += ps, d += ldy) {
      const __m256 b0 = full ? _mm256_loadu_ps(d) : load_n(d, nr);
      const __m256 b1 = full ? _mm256_loadu_ps(d + 8) : load_n(d + 8, nr - 8);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) {
        const __m256 x = _mm256_broadcast_ss(al + koff[r]);
        acc0[r] = _mm256_fmadd_ps(x, b0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(x, b1, acc1[r]);
      }
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    if (r < mk) {
      float* row = c + r * ldc;
      store_n(row, _mm256_add_ps(acc0[r], load_n(row, nr)), nr);
      if (nr > 8) store_n(row + 8, _mm256_add_ps(acc1[r], load_n(row + 8, nr - 8)), nr - 8);
    }
  }
}

// dW tile of 6 rows x 8 output channels.
void grad_8(int64_t nlines, int64_t npix, const float* a, int64_t ls, int64_t ps, const int64_t* koff,
            int64_t mk, const float* dy, int64_t ldy, float* c, int64_t ldc, int64_t nr) {
  __m256 acc[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_ps();
  const bool full = nr >= 8;
  for (int64_t l = 0; l < nlines; ++l) {
    const float* al = a + l * ls;
    const float* d = dy + l * npix * ldy;
    for (int64_t q = 0; q < npix; ++q, al += ps, d += ldy) {
      const __m256 b0 = full ? _mm256_loadu_ps(d) : load_n(d, nr);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(al + koff[r]), b0, acc[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r)
    if (r < mk) store_n(c + r * ldc, _mm256_add_ps(acc[r], load_n(c + r * ldc, nr)), nr);
}

const LeafTable kLeafTable = {im2col,
                              col2im,
                              add_bias,
                              sum_rows,
                              dw_mac,
                              dw_dot,
                              dw_forward_row,
                              {MR, 16, direct_16},
                              {MR, 8, direct_8},
                              {MR, 16, grad_16},
                              {MR, 8, grad_8},
                              wino_input,
                              wino_output,
                              wino_output_adjoint,
                              wino4_input,
                              wino4_output,
                              wino4_output_adjoint};
}  // namespace

const LeafTable* table() { return &kLeafTable; }
#else
const LeafTable* table() { return nullptr; }
#endif

}  // namespace avx2
}  // namespace conv
}  // namespace fastnet
