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
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = _mm512_loadu_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
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

}  // namespace

KernelInfo kernel() { return KernelInfo{MR, NR, &ukernel_avx512}; }

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
