// Per-ISA leaf loops of the conv family, as a table of plain function pointers.
// conv_generic.cpp / conv_avx2.cpp / conv_avx512.cpp each fill one from
// conv_leaf.h compiled with their own flags; leaf_table() picks by cpu::isa().
#pragma once
#include <cstdint>

#include "fastnet/conv.h"

namespace fastnet {
namespace conv {

// Direct (implicit-GEMM) convolution tile over a zero-padded, channels-last input:
//   c[r*ldc + j] = bias[j] + sum_t sum_i a[off[t] + pix[r] + i] * wp[(t*cin + i)*NR + j]
// for r < mr, j < nr: pix (MR entries; those past mr repeat a valid one) the
// window origin of each output pixel, off the offset of each kernel tap, wp one
// NR-column panel of the packed kernel (zero-padded past nr). bias (NR) may be null.
typedef void (*DirectTileFn)(int64_t ntaps, int64_t cin, const float* a, const int64_t* off,
                             const int64_t* pix, const float* wp, const float* bias, float* c, int64_t ldc,
                             int64_t mr, int64_t nr);
struct DirectKernel {
  int mr, nr;  // tile rows (pixels) and panel width (output channels)
  DirectTileFn fn;
};

// Kernel-gradient tile over a zero-padded, channels-last input:
//   c[k][j] += sum_{l < nlines, q < npix} a[l*ls + q*ps + koff[k]] * dy[(l*npix + q)*ldy + j]
// for k < mk (rows of the (tap, in-channel) index), j < nr; koff has MR entries
// (entries past mk repeat a valid offset). Reads dy columns j < nr only.
typedef void (*GradTileFn)(int64_t nlines, int64_t npix, const float* a, int64_t ls, int64_t ps,
                           const int64_t* koff, int64_t mk, const float* dy, int64_t ldy, float* c,
                           int64_t ldc, int64_t nr);
struct GradKernel {
  int mr, nr;
  GradTileFn fn;
};

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
  // Direct tile kernels (fn null: use im2col + GEMM): `wide` for many output
  // channels, `narrow` for few (<= narrow.nr).
  DirectKernel direct_wide, direct_narrow;
  // Kernel-gradient tiles (fn null: im2col + GEMM).
  GradKernel grad_wide, grad_narrow;
  // Winograd F(2x2, 3x3) input and output transforms of a block of tiles (conv_leaf.h).
  void (*wino_input)(const float* x, int64_t H, int64_t W, int64_t C, int64_t ph, int64_t pw, int64_t tiles_h,
                     int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros, float* V);
  // (relu: y = max(., 0) as it is written.)
  void (*wino_output)(const float* M, int64_t nt, int64_t C, const float* bias, bool relu, float* y,
                      int64_t OH, int64_t OW, int64_t tiles_h, int64_t tiles_w, int64_t t0, float* trash);
  // The adjoint of wino_output (dy tiles -> the 16 planes), for the kernel gradient.
  void (*wino_output_adjoint)(const float* dy, int64_t OH, int64_t OW, int64_t C, int64_t tiles_h,
                              int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros, float* dM);
  // Winograd F(4x4, 3x3): the same contracts with 4x4 output tiles, 6x6 windows, 36 planes.
  void (*wino4_input)(const float* x, int64_t H, int64_t W, int64_t C, int64_t ph, int64_t pw,
                      int64_t tiles_h, int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros, float* V);
  void (*wino4_output)(const float* M, int64_t nt, int64_t C, const float* bias, bool relu, float* y,
                       int64_t OH, int64_t OW, int64_t tiles_h, int64_t tiles_w, int64_t t0, float* trash);
  void (*wino4_output_adjoint)(const float* dy, int64_t OH, int64_t OW, int64_t C, int64_t tiles_h,
                               int64_t tiles_w, int64_t t0, int64_t nt, const float* zeros, float* dM);
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
