// GEMM panel packing, compiled once per ISA level: included by ukernel_avx2.cpp
// and ukernel_avx512.cpp inside their own namespace (no include guard on
// purpose), so the copies use that level's vector width.
//
// A panel is W floats wide (W = MR for A, NR for B) and kc steps long, stored
// p-major: dst[p * W + j] = src(p, j), zero-padded past `width`.
//   contiguous: src(p, j) = src[p * ld + j]  (A transposed, B not transposed)
//   strided:    src(p, j) = src[j * ld + p]  (A not transposed, B transposed)
// The strided case reads each source row along its contiguous axis, 8 floats at
// a time, and transposes 8 x 8 blocks in registers: reading one float from each
// of W rows per step instead keeps W lines live, and with a leading dimension
// that is a multiple of 4 KB they share one L1 set and evict each other.
// The including file provides <immintrin.h> and <cstdint> (outside any namespace).

namespace pack_detail {

template <int W>
void contiguous(const float* src, int64_t ld, int64_t kc, int64_t width, float* dst) {
  if (width == W) {
    for (int64_t p = 0; p < kc; ++p) {
      const float* s = src + p * ld;
      float* d = dst + p * W;
#pragma GCC unroll 4
      for (int j = 0; j < W; ++j) d[j] = s[j];  // constant trip count: vector moves
    }
    return;
  }
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * ld;
    float* d = dst + p * W;
    for (int64_t j = 0; j < width; ++j) d[j] = s[j];
    for (int64_t j = width; j < W; ++j) d[j] = 0.0f;
  }
}

// rows[r] holds 8 consecutive p of source row r; writes them as 8 p-steps of 8 columns.
inline void transpose8x8_store(const float* const* rows, float* dst, int64_t stride) {
  __m256 r0 = _mm256_loadu_ps(rows[0]), r1 = _mm256_loadu_ps(rows[1]);
  __m256 r2 = _mm256_loadu_ps(rows[2]), r3 = _mm256_loadu_ps(rows[3]);
  __m256 r4 = _mm256_loadu_ps(rows[4]), r5 = _mm256_loadu_ps(rows[5]);
  __m256 r6 = _mm256_loadu_ps(rows[6]), r7 = _mm256_loadu_ps(rows[7]);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * stride, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * stride, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * stride, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * stride, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * stride, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * stride, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * stride, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * stride, _mm256_permute2f128_ps(u3, u7, 0x31));
}

template <int W>
void strided(const float* src, int64_t ld, int64_t kc, int64_t width, float* dst) {
  int64_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    int64_t j = 0;
    for (; j + 8 <= width; j += 8) {
      const float* rows[8];
      for (int r = 0; r < 8; ++r) rows[r] = src + (j + r) * ld + p;
      transpose8x8_store(rows, dst + p * W + j, W);
    }
    for (; j < width; ++j) {
      const float* s = src + j * ld + p;
      for (int q = 0; q < 8; ++q) dst[(p + q) * W + j] = s[q];
    }
    for (; j < W; ++j)
      for (int q = 0; q < 8; ++q) dst[(p + q) * W + j] = 0.0f;
  }
  for (; p < kc; ++p) {  // the last kc % 8 steps
    float* d = dst + p * W;
    for (int64_t j = 0; j < width; ++j) d[j] = src[j * ld + p];
    for (int64_t j = width; j < W; ++j) d[j] = 0.0f;
  }
}

}  // namespace pack_detail

// The packers gemm.cpp calls through KernelInfo (W fixed to this kernel's MR/NR).
void pack_a(bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
            float* out) {
  for (int64_t r = 0; r < mc; r += MR) {
    const int64_t rows = mc - r < MR ? mc - r : MR;
    if (ta)
      pack_detail::contiguous<MR>(a + p0 * lda + i0 + r, lda, kc, rows, out);
    else
      pack_detail::strided<MR>(a + (i0 + r) * lda + p0, lda, kc, rows, out);
    out += kc * MR;
  }
}

void pack_b(bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
            float* out) {
  for (int64_t s = 0; s < nc; s += NR) {
    const int64_t cols = nc - s < NR ? nc - s : NR;
    if (tb)
      pack_detail::strided<NR>(b + (j0 + s) * ldb + p0, ldb, kc, cols, out);
    else
      pack_detail::contiguous<NR>(b + p0 * ldb + j0 + s, ldb, kc, cols, out);
    out += kc * NR;
  }
}
