// Per-ISA leaf loops of the conv family, as a table of plain function pointers.
// conv_generic.cpp / conv_avx2.cpp / conv_avx512.cpp each fill one from
// conv_leaf.h compiled with their own flags; leaf_table() picks by cpu::isa().
#pragma once
#include <cstdint>

#include "fastnet/conv.h"

namespace fastnet {
namespace conv {

struct LeafTable {
  // cols (r1-r0, K*Cin) = rows [r0, r1) of the im2col matrix of x.
  void (*im2col)(const Geometry& g, const float* x, int64_t r0, int64_t r1, float* cols);
  // dx += col2im of cols rows [r0, r1) (adjoint of im2col).
  void (*col2im)(const Geometry& g, const float* cols, int64_t r0, int64_t r1, float* dx);
  // y (rows x c) += bias (c)
  void (*add_bias)(float* y, int64_t rows, int64_t c, const float* bias);
  // acc (c) += sum of the rows of x (rows x c)
  void (*sum_rows)(float* acc, const float* x, int64_t rows, int64_t c);
  // acc[c*m + j] += x[c] * w[c*m + j]
  void (*dw_mac)(float* acc, const float* x, const float* w, int64_t c, int64_t m);
  // dx[c] += sum_j dy[c*m + j] * w[c*m + j]
  void (*dw_dot)(float* dx, const float* dy, const float* w, int64_t c, int64_t m);
  // Depthwise forward of output pixels [ow0, ow1) of one output row (n, od, oh):
  // y row pointer at ow0; see conv_leaf.h.
  void (*dw_forward_row)(const Geometry& g, const float* x, const float* w, const float* bias, int64_t n,
                         int64_t od, int64_t oh, float* yrow);
};

namespace generic {
const LeafTable* table();
}
namespace avx2 {
const LeafTable* table();
}
namespace avx512 {
const LeafTable* table();
}

// The table for the active ISA (cpu::isa()).
const LeafTable& leaf_table();

}  // namespace conv
}  // namespace fastnet
