// AVX-512 GEMM micro-kernel: 12 x 32 tile, 24 zmm accumulators.
// Leaf code only (see ARCHITECTURE.md, "Rule for *_avx512.cpp").
#include "gemm/ukernel.h"

#if defined(__AVX512F__)
#include <immintrin.h>

namespace fastnet {
namespace gemm {
namespace avx512 {
namespace {

constexpr int MR = 12;
constexpr int NR = 32;

void ukernel_avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                    float beta) {
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  // The C tile is read (and written) only after the kc steps: fetch its lines now, so
  // its misses (C is far bigger than L2) overlap the multiply instead of stalling it.
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
    // Both 64-byte lines of the B step 8 steps ahead (the panel is line-aligned).
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < MR; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      _mm512_storeu_ps(row, _mm512_fmadd_ps(va, acc[i][0], _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
      _mm512_storeu_ps(row + 16,
                       _mm512_fmadd_ps(va, acc[i][1], _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16))));
    }
  }
}

// Edge tiles: R live rows (a template, so the accumulators stay in registers)
// and `cols` live columns through AVX-512 write masks. With M = 64 (a common
// batch size) the last 4 rows of 12 then cost a 4-row kernel, not a full tile
// computed into scratch and copied.
template <int R>
void ukernel_edge(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                  int cols) {
  __m512 acc[R][2];
  // Every loop over acc is unrolled, or GCC keeps acc in memory (stores each step).
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  const __mmask16 m0 = cols >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32   ? static_cast<__mmask16>(0xFFFF)
                       : cols <= 16 ? static_cast<__mmask16>(0)
                                    : static_cast<__mmask16>((1u << (cols - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc[i][0]);
    __m512 r1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

void ukernel_edge_any(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                      float beta, int rows, int cols) {
  switch (rows) {
    case 1: return ukernel_edge<1>(kc, a, b, c, ldc, alpha, beta, cols);
    case 2: return ukernel_edge<2>(kc, a, b, c, ldc, alpha, beta, cols);
    case 3: return ukernel_edge<3>(kc, a, b, c, ldc, alpha, beta, cols);
    case 4: return ukernel_edge<4>(kc, a, b, c, ldc, alpha, beta, cols);
    case 5: return ukernel_edge<5>(kc, a, b, c, ldc, alpha, beta, cols);
    case 6: return ukernel_edge<6>(kc, a, b, c, ldc, alpha, beta, cols);
    case 7: return ukernel_edge<7>(kc, a, b, c, ldc, alpha, beta, cols);
    case 8: return ukernel_edge<8>(kc, a, b, c, ldc, alpha, beta, cols);
    case 9: return ukernel_edge<9>(kc, a, b, c, ldc, alpha, beta, cols);
    case 10: return ukernel_edge<10>(kc, a, b, c, ldc, alpha, beta, cols);
    case 11: return ukernel_edge<11>(kc, a, b, c, ldc, alpha, beta, cols);
    default: return ukernel_edge<12>(kc, a, b, c, ldc, alpha, beta, cols);
  }
}

// Small products (what Dense layers and recurrent steps make) spend as long
// packing as multiplying: these read A and B in place. Each step broadcasts
// A(i, p) from R rows (rsa apart) and loads one row of B (masked at the edge,
// so nothing past the matrix is touched).
// W = 2 vectors (32 columns) or 1 (16: a product with few columns, such as a
// 10-class output layer, then computes 16 columns per row instead of 32).
template <int R, bool A_ROWS, int W>  // A_ROWS: A(i, p) = a[i * rsa + p], else a[i + p * csa]
void direct_tile(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, int64_t ldb, float* c,
                 int64_t ldc, float alpha, float beta, int cols) {
  __mmask16 mask[W];
#pragma GCC unroll 2
  for (int w = 0; w < W; ++w) {
    const int live = cols - 16 * w;
    mask[w] = live >= 16  ? static_cast<__mmask16>(0xFFFF)
              : live <= 0 ? static_cast<__mmask16>(0)
                          : static_cast<__mmask16>((1u << live) - 1);
  }
  __m512 acc[R][W];
  // Every loop over acc is unrolled, or GCC keeps acc in memory (stores each step).
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 2
    for (int w = 0; w < W; ++w) acc[i][w] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    __m512 bv[W];
#pragma GCC unroll 2
    for (int w = 0; w < W; ++w) bv[w] = _mm512_maskz_loadu_ps(mask[w], b + 16 * w);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
      const __m512 av = _mm512_set1_ps(A_ROWS ? a[i * rsa] : a[i]);
#pragma GCC unroll 2
      for (int w = 0; w < W; ++w) acc[i][w] = _mm512_fmadd_ps(av, bv[w], acc[i][w]);
    }
    a += A_ROWS ? 1 : csa;
    b += ldb;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
#pragma GCC unroll 2
    for (int w = 0; w < W; ++w) {
      __m512 r = _mm512_mul_ps(va, acc[i][w]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[w], row + 16 * w), r);
      _mm512_mask_storeu_ps(row + 16 * w, mask[w], r);
    }
  }
}

using DirectTile = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t,
                            float, float, int);
template <bool A_ROWS, int W>
constexpr DirectTile kDirect[MR + 1] = {nullptr,
                                        &direct_tile<1, A_ROWS, W>,
                                        &direct_tile<2, A_ROWS, W>,
                                        &direct_tile<3, A_ROWS, W>,
                                        &direct_tile<4, A_ROWS, W>,
                                        &direct_tile<5, A_ROWS, W>,
                                        &direct_tile<6, A_ROWS, W>,
                                        &direct_tile<7, A_ROWS, W>,
                                        &direct_tile<8, A_ROWS, W>,
                                        &direct_tile<9, A_ROWS, W>,
                                        &direct_tile<10, A_ROWS, W>,
                                        &direct_tile<11, A_ROWS, W>,
                                        &direct_tile<12, A_ROWS, W>};

void small_gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t rsa, int64_t csa,
                const float* b, int64_t ldb, int64_t b_panel, float beta, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n; j += NR) {
    const int cols = static_cast<int>(n - j < NR ? n - j : NR);
    const float* bj = b_panel ? b + (j / NR) * b_panel : b + j;
    for (int64_t i = 0; i < m; i += MR) {
      const int rows = static_cast<int>(m - i < MR ? m - i : MR);
      const DirectTile tile = cols <= 16 ? (csa == 1 ? kDirect<true, 1>[rows] : kDirect<false, 1>[rows])
                                         : (csa == 1 ? kDirect<true, 2>[rows] : kDirect<false, 2>[rows]);
      tile(k, a + i * rsa, rsa, csa, bj, ldb, c + i * ldc + j, ldc, alpha, beta, cols);
    }
  }
}

#include "gemm/pack_leaf.h"

}  // namespace

KernelInfo kernel() {
  return KernelInfo{MR, NR, &ukernel_avx512, &ukernel_edge_any, &pack_a, &pack_b, &small_gemm};
}

}  // namespace avx512
}  // namespace gemm
}  // namespace fastnet

#else
namespace fastnet {
namespace gemm {
namespace avx512 {
KernelInfo kernel() { return KernelInfo{0, 0, nullptr}; }
}  // namespace avx512
}  // namespace gemm
}  // namespace fastnet
#endif
