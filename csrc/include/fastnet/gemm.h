// Single-precision GEMM, row-major:  C = alpha * op(A) * op(B) + beta * C
//
//   op(A) is m x k: A is stored m x k (row stride lda) or, with trans_a,
//   k x m (row stride lda); likewise op(B) is k x n.  C is m x n (ldc).
//   beta == 0 means C is write-only (its old contents, even NaN, are ignored).
//
// Used by Dense, im2col convolution, the recurrent cells and every backward
// pass; threads over blocks through the shared pool (serial when nested).
#pragma once
#include <cstdint>

namespace fastnet {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// batch independent products; stride_* is the distance between consecutive
// matrices of an operand (0 broadcasts one matrix to the whole batch).
void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                   int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c);

}  // namespace fastnet
