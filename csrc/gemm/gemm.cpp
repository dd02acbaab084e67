// INTERIM GEMM: a row-streaming loop (C[i,:] += a_ip * B[p,:]) that the
// compiler vectorizes, threaded over rows of C. Correct for every shape and
// transpose; stands in until the packed, cache-blocked, per-ISA GEMM of
// issue 2 lands in csrc/gemm/ (same API, fastnet/gemm.h).
#include <algorithm>
#include <vector>

#include "fastnet/gemm.h"
#include "fastnet/threads.h"

namespace fastnet {
namespace {

void gemm_rows(int64_t i0, int64_t i1, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
               const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = i0; i < i1; ++i) {
    float* crow = c + i * ldc;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < n; ++j) crow[j] = 0.0f;
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < n; ++j) crow[j] *= beta;
    }
    const float* arow = a + i * lda;
    for (int64_t p = 0; p < k; ++p) {
      const float av = alpha * arow[p];
      const float* brow = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j];
    }
  }
}

// Copies op(X) (rows x cols) into a dense row-major buffer.
void materialize(bool trans, int64_t rows, int64_t cols, const float* x, int64_t ldx,
                 std::vector<float>* out) {
  out->resize(static_cast<size_t>(rows * cols));
  float* o = out->data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) o[r * cols + c] = trans ? x[c * ldx + r] : x[r * ldx + c];
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  std::vector<float> abuf, bbuf;
  if (trans_a) {
    materialize(true, m, k, a, lda, &abuf);
    a = abuf.data();
    lda = k;
  }
  if (trans_b) {
    materialize(true, k, n, b, ldb, &bbuf);
    b = bbuf.data();
    ldb = n;
  }
  const int64_t work_per_row = std::max<int64_t>(1, n * std::max<int64_t>(k, 1));
  const int64_t grain = std::max<int64_t>(1, 65536 / work_per_row);
  threads::parallel_for(m, grain, [&](int64_t i0, int64_t i1) {
    gemm_rows(i0, i1, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  });
}

void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                   int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c) {
  for (int64_t i = 0; i < batch; ++i)
    sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
          c + i * stride_c, ldc);
}

}  // namespace fastnet
