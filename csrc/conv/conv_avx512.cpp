// AVX-512 build of the conv leaf loops (conv_leaf.h) and the direct tile kernels
// (12 pixels x 32 or 16 output channels); setup.py adds the flags by file name.
#include "conv/conv_table.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace fastnet {
namespace conv {
namespace avx512 {
#ifdef __AVX512F__
namespace {
#include "conv/conv_leaf.h"

constexpr int MR = 12;

__mmask16 lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 12 x 32 tile: 24 zmm accumulators.
void direct_32(int64_t ntaps, int64_t cin, const float* a, const int64_t* off, const int64_t* pix,
               const float* wp, const float* bias, float* c, int64_t ldc, int64_t mr, int64_t nr) {
  __m512 acc0[MR], acc1[MR];
  const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc0[r] = b0;
    acc1[r] = b1;
  }
  int64_t rofs[MR];
  for (int r = 0; r < MR; ++r) rofs[r] = pix[r];
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* p[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) p[r] = a + off[t] + rofs[r];
    for (int64_t i = 0; i < cin; ++i, wp += 32) {
      const __m512 w0 = _mm512_loadu_ps(wp);
      const __m512 w1 = _mm512_loadu_ps(wp + 16);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(p[r][i]);
        acc0[r] = _mm512_fmadd_ps(a, w0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(a, w1, acc1[r]);
      }
    }
  }
  const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    if (r < mr) {
      _mm512_mask_storeu_ps(c + r * ldc, m0, acc0[r]);
      _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc1[r]);
    }
  }
}

// 12 x 16 tile: 12 zmm accumulators (few output channels).
void direct_16(int64_t ntaps, int64_t cin, const float* a, const int64_t* off, const int64_t* pix,
               const float* wp, const float* bias, float* c, int64_t ldc, int64_t mr, int64_t nr) {
  __m512 acc[MR];
  const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc[r] = b0;
  int64_t rofs[MR];
  for (int r = 0; r < MR; ++r) rofs[r] = pix[r];
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* p[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) p[r] = a + off[t] + rofs[r];
    for (int64_t i = 0; i < cin; ++i, wp += 16) {
      const __m512 w0 = _mm512_loadu_ps(wp);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][i]), w0, acc[r]);
    }
  }
  const __mmask16 m0 = lane_mask(nr);
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r)
    if (r < mr) _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r]);
}

// dW tile of 12 (tap, channel) rows x 32 output channels: 24 zmm accumulators.
void grad_32(int64_t nlines, int64_t npix, const float* a, int64_t ls, int64_t ps, const int64_t* koff,
             int64_t mk, const float* dy, int64_t ldy, float* c, int64_t ldc, int64_t nr) {
  const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
  }
  for (int64_t l = 0; l < nlines; ++l) {
    const float* al = a + l * ls;
    const float* d = dy + l * npix * ldy;
    for (int64_t q = 0; q < npix; ++q, al += ps, d += ldy) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, d);
      const __m512 b1 = _mm512_maskz_loadu_ps(m1, d + 16);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        const __m512 x = _mm512_set1_ps(al[koff[r]]);
        acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
        acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
      }
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    if (r < mk) {
      float* row = c + r * ldc;
      _mm512_mask_storeu_ps(row, m0, _mm512_add_ps(acc0[r], _mm512_maskz_loadu_ps(m0, row)));
      _mm512_mask_storeu_ps(row + 16, m1, _mm512_add_ps(acc1[r], _mm512_maskz_loadu_ps(m1, row + 16)));
    }
  }
}

// dW tile of 12 rows x 16 output channels.
void grad_16(int64_t nlines, int64_t npix, const float* a, int64_t ls, int64_t ps, const int64_t* koff,
             int64_t mk, const float* dy, int64_t ldy, float* c, int64_t ldc, int64_t nr) {
  const __mmask16 m0 = lane_mask(nr);
  __m512 acc[MR];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t l = 0; l < nlines; ++l) {
    const float* al = a + l * ls;
    const float* d = dy + l * npix * ldy;
    for (int64_t q = 0; q < npix; ++q, al += ps, d += ldy) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, d);
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(al[koff[r]]), b0, acc[r]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r)
    if (r < mk)
      _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_add_ps(acc[r], _mm512_maskz_loadu_ps(m0, c + r * ldc)));
}

const LeafTable kLeafTable = {im2col,
                              col2im,
                              add_bias,
                              sum_rows,
                              dw_mac,
                              dw_dot,
                              dw_forward_row,
                              {MR, 32, direct_32},
                              {MR, 16, direct_16},
                              {MR, 32, grad_32},
                              {MR, 16, grad_16},
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

}  // namespace avx512
}  // namespace conv
}  // namespace fastnet
