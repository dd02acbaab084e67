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
void direct_16(int64_t ntaps, int64_t cin, const float* a, const int64_t* off, int64_t ps, const float* wp,
               const float* bias, float* c, int64_t ldc, int64_t mr, int64_t nr) {
  __m256 acc0[MR], acc1[MR];
  const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    acc0[r] = b0;
    acc1[r] = b1;
  }
  int64_t rofs[MR];
  for (int r = 0; r < MR; ++r) rofs[r] = (r < mr ? r : mr - 1) * ps;
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
void direct_8(int64_t ntaps, int64_t cin, const float* a, const int64_t* off, int64_t ps, const float* wp,
              const float* bias, float* c, int64_t ldc, int64_t mr, int64_t nr) {
  __m256 acc[MR];
  const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r] = b0;
  int64_t rofs[MR];
  for (int r = 0; r < MR; ++r) rofs[r] = (r < mr ? r : mr - 1) * ps;
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

const LeafTable kLeafTable = {im2col,           col2im, add_bias,       sum_rows,
                              dw_mac,           dw_dot, dw_forward_row, {MR, 16, direct_16},
                              {MR, 8, direct_8}};
}  // namespace

const LeafTable* table() { return &kLeafTable; }
#else
const LeafTable* table() { return nullptr; }
#endif

}  // namespace avx2
}  // namespace conv
}  // namespace fastnet
