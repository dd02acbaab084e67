// Pooling-family kernels, channels-last float32, forward and backward:
//  * windowed max / average pooling on one 3-D core (N, D, H, W, C); 1-D and 2-D
//    pooling run it with size-1 leading spatial dims (TensorFlow 'valid'/'same');
//  * global max / average pooling over (N, S, C) (any spatial rank flattened to S);
//  * nearest upsampling (N, D, H, W, C) -> (N, D*sd, H*sh, W*sw, C) and its adjoint.
#pragma once
#include <cstdint>
#include <vector>

namespace fastnet {
namespace pool {

// Window geometry of one pooling call. Dim 0..2 = D, H, W (size 1 when absent).
// The tables are filled by the driver (bindings) so the leaf loops never divide:
//  first[d][o], last[d][o]: clipped input range [first, last) of output window o;
//  cover_lo[d][i], cover_hi[d][i]: output windows [lo, hi) that contain input i;
//  inv[d][o] = 1 / (last - first): average's divisor, a product over the dims.
struct PoolGeom {
  int64_t N, C;
  int64_t in[3], out[3], k[3], s[3], pad[3];
  const int32_t* first[3];
  const int32_t* last[3];
  const int32_t* cover_lo[3];
  const int32_t* cover_hi[3];
  const float* inv[3];
};

struct PoolTable {
  // y and arg over output rows [r0, r1) of N*OD*OH. arg = flat input index d*H*W + h*W + w
  // (within the image) of the first maximum in window scan order (TensorFlow's tie rule).
  void (*max_fwd)(const float* x, float* y, int32_t* arg, const PoolGeom& g, int64_t r0, int64_t r1);
  // dx over input rows [r0, r1) of N*D*H, fully written (no zero fill needed): each input
  // element gathers dy of the windows that cover it and chose it as their maximum.
  void (*max_bwd)(const float* dy, const int32_t* arg, float* dx, const PoolGeom& g, int64_t r0, int64_t r1);
  // Average over the real (unpadded) elements of each window.
  void (*avg_fwd)(const float* x, float* y, const PoolGeom& g, int64_t r0, int64_t r1);
  void (*avg_bwd)(const float* dy, float* dx, const PoolGeom& g, int64_t r0, int64_t r1);
  // The same dx when every stride >= pool size (windows never overlap), over output rows
  // [r0, r1) of N*OD*OH: each writes its window blocks (and the uncovered rest) once.
  void (*max_bwd_blocks)(const float* dy, const int32_t* arg, float* dx, const PoolGeom& g, int64_t r0,
                         int64_t r1);
  void (*avg_bwd_blocks)(const float* dy, float* dx, const PoolGeom& g, int64_t r0, int64_t r1);
  // Average dx over images [n0, n1) (zero the image, add each window's share): used for
  // overlapping windows when there are enough images for the threads.
  void (*avg_bwd_images)(const float* dy, float* dx, const PoolGeom& g, int64_t n0, int64_t n1);

  // Global pooling over x (N, S, C), images [n0, n1). Max also counts the ties (TensorFlow's
  // reduce_max gradient shares dy among them).
  void (*gmax_fwd)(const float* x, float* y, float* count, int64_t S, int64_t C, int64_t n0, int64_t n1);
  // dx over rows [r0, r1) of N*S: x == y ? gs : 0, with gs = dy / count (N, C).
  void (*gmax_bwd)(const float* x, const float* y, const float* gs, float* dx, int64_t S, int64_t C,
                   int64_t r0, int64_t r1);
  void (*gavg_fwd)(const float* x, float* y, int64_t S, int64_t C, int64_t n0, int64_t n1);
  void (*gavg_bwd)(const float* dy, float* dx, int64_t S, int64_t C, int64_t r0, int64_t r1);

  // Nearest upsampling; in = (D, H, W) of x, f = (sd, sh, sw). Forward over output rows
  // [r0, r1) of N*D*sd*H*sh; backward over input rows [r0, r1) of N*D*H (block sums).
  void (*up_fwd)(const float* x, float* y, const int64_t* in, const int64_t* f, int64_t C, int64_t r0,
                 int64_t r1);
  void (*up_bwd)(const float* dy, float* dx, const int64_t* in, const int64_t* f, int64_t C, int64_t r0,
                 int64_t r1);
};

const PoolTable& table();

// A PoolGeom with the tables it points into (not copyable: g points into the vectors;
// moving keeps the vectors' buffers, so g stays valid).
struct PoolWindows {
  PoolGeom g{};
  std::vector<int32_t> tab[4][3];  // first, last, cover_lo, cover_hi per dim
  std::vector<float> inv[3];
  PoolWindows() = default;
  PoolWindows(PoolWindows&&) = default;
  PoolWindows& operator=(PoolWindows&&) = default;
  PoolWindows(const PoolWindows&) = delete;
  PoolWindows& operator=(const PoolWindows&) = delete;
};

// The windows of pool size k, stride s over an (N, in[0], in[1], in[2], C) input,
// TensorFlow 'valid' (out = (in - k) / s + 1, 0 when k > in) or 'same' (out = ceil(in / s),
// the odd extra padding after). Sizes are not checked (the callers do).
PoolWindows make_windows(int64_t N, int64_t C, const int64_t in[3], const int64_t k[3], const int64_t s[3],
                         bool same);

namespace generic {
PoolTable table();
}
namespace avx2 {
PoolTable table();
}
namespace avx512 {
PoolTable table();
}

}  // namespace pool
}  // namespace fastnet
