// AVX2+FMA GEMM micro-kernel: 6 x 16 tile, 12 ymm accumulators.
// Leaf code only (see ARCHITECTURE.md, "Rule for *_avx2.cpp").
#include "gemm/ukernel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace fastnet {
namespace gemm {
namespace avx2 {
namespace {

constexpr int MR = 6;
constexpr int NR = 16;

void ukernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                  float beta) {
  __m256 acc[MR][2];
  // Every loop over acc is unrolled, or GCC keeps acc in memory and stores all 12
  // accumulators to the stack every step (the kernel then ran at 40% of its speed).
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  // The C tile is read (and written) only after the kc steps: fetch its lines now, so
  // its misses (C is far bigger than L2) overlap the multiply instead of stalling it.
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, acc[i][0]));
      _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      _mm256_storeu_ps(row, _mm256_fmadd_ps(va, acc[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
      _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(va, acc[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
    }
  }
}

#include "gemm/pack_leaf.h"

}  // namespace

KernelInfo kernel() { return KernelInfo{MR, NR, &ukernel_avx2, nullptr, &pack_a, &pack_b}; }

}  // namespace avx2
}  // namespace gemm
}  // namespace fastnet

#else
namespace fastnet {
namespace gemm {
namespace avx2 {
KernelInfo kernel() { return KernelInfo{0, 0, nullptr}; }
}  // namespace avx2
}  // namespace gemm
}  // namespace fastnet
#endif
