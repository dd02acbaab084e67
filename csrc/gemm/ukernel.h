// GEMM micro-kernel interface (internal to csrc/gemm).
//
// A micro-kernel computes one MR x NR tile of C from packed panels:
//   C[i, j] = alpha * sum_p a[p*MR + i] * b[p*NR + j] + beta * C[i, j]
// with beta == 0 meaning C is write-only. `a` is an MR-row panel of op(A)
// (kc steps, zero-padded), `b` an NR-column panel of op(B). Each ISA file
// defines one in its own namespace; gemm.cpp picks by fastnet::cpu::isa().
#pragma once
#include <cstdint>

namespace fastnet {
namespace gemm {

using UKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                         float beta);

// A partial tile: only rows x cols (rows <= MR, cols <= NR) of C are read and
// written, straight into C (the panels are still MR/NR wide, zero-padded).
using UKernelEdge = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                             float beta, int rows, int cols);

// Panel packers (see pack_leaf.h): op(A)[i0:i0+mc, p0:p0+kc] into MR-row panels,
// op(B)[p0:p0+kc, j0:j0+nc] into NR-column panels.
using PackA = void (*)(bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                       float* out);
using PackB = void (*)(bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                       float* out);

// A whole small GEMM without packing A: C = alpha * A B + beta * C where A(i, p)
// is a[i * rsa + p * csa]. B is either in place (b_panel == 0: row p of B is
// b + p * ldb, columns contiguous) or packed by PackB with kc = k (b_panel =
// k * NR floats between panels, ldb = NR).
using SmallGemm = void (*)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t rsa,
                           int64_t csa, const float* b, int64_t ldb, int64_t b_panel, float beta, float* c,
                           int64_t ldc);

struct KernelInfo {
  int mr;
  int nr;
  UKernel fn;
  UKernelEdge edge = nullptr;  // null: gemm.cpp computes edges into a scratch tile
  PackA pack_a = nullptr;      // null: gemm.cpp's portable packers
  PackB pack_b = nullptr;
  SmallGemm small = nullptr;  // null: small products take the packed path too
};

namespace generic {
KernelInfo kernel();
}
namespace avx2 {
KernelInfo kernel();  // mr = 0 when not compiled in
}
namespace avx512 {
KernelInfo kernel();  // mr = 0 when not compiled in
}

}  // namespace gemm
}  // namespace fastnet
