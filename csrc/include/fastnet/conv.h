// Convolution kernels: N-D (1-D/2-D/3-D) convolution by im2col/col2im + GEMM,
// transposed convolution (as the convolution's adjoint) and depthwise 2-D.
//
// Layouts (all float32, C-contiguous, channels-last):
//   x   (N, D, H, W, Cin)          1-D / 2-D are 3-D with leading size-1 spatial dims
//   w   (KD, KH, KW, Cin, Cout)    Keras's kernel layout; viewed as a (K*Cin, Cout) matrix
//   y   (N, OD, OH, OW, Cout)
//
// One Geometry describes every pass: output position o reads input position
//   i = o * stride - pad + t * dilation       (t = kernel tap; outside the input reads 0)
// so `pad` is the padding *before* each axis (top/left/front) and the padding
// after is whatever `out` implies. Any out/pad pair is well defined, which lets
// the transposed convolution use the same geometry with input/output swapped.
//
//   y  = conv(x, w)              conv_forward:         y[o] = sum_t x[i(o,t)] . w[t]
//   dx = conv^T(dy, w)           conv_backward_input:  dx[i] = sum_{o,t: i(o,t)=i} dy[o] . w[t]^T
//   dw = x (*) dy                conv_backward_kernel: dw[t] = sum_o x[i(o,t)]^T dy[o]
//   db = sum over N and spatial of dy
//
// Transposed convolution (Keras Conv2DTranspose, kernel (KH, KW, filters, Cin)) is
// conv_backward_input of the convolution that maps its output back to its input
// (kernel read as (KH, KW, Cin=filters, Cout=in_channels)); its input gradient is
// conv_forward and its kernel gradient conv_backward_kernel with x/dy swapped.
//
// Memory: no full im2col matrix is built. Rows (output pixels) are processed in
// tiles whose column buffer holds at most max(kTileBytes, 16 rows) floats, i.e.
//   per thread: max(1 MiB, 16 * K*Cin * 4 B)       (K = KD*KH*KW)
// kept in a thread-local buffer and reused across calls. conv_backward_kernel
// adds one (K*Cin + 1) * Cout partial-gradient buffer per thread (caller-owned,
// also cached). A 1x1 stride-1 unpadded convolution is a plain GEMM with no
// scratch at all. Depthwise kernels use no scratch except per-thread kernel
// gradients (K * C * M floats each) in depthwise_backward_kernel.
#pragma once
#include <cstdint>

namespace fastnet {
namespace conv {

// Plain data (no constructors: the per-ISA leaf files read it).
struct Geometry {
  int64_t n;          // batch
  int64_t in[3];      // input spatial sizes (D, H, W)
  int64_t out[3];     // output spatial sizes
  int64_t k[3];       // kernel sizes
  int64_t stride[3];  // >= 1
  int64_t dil[3];     // dilation, >= 1
  int64_t pad[3];     // padding before each axis, >= 0
  int64_t cin, cout;  // for depthwise: cin = C, cout = C * depth_multiplier
};

// Fills a Geometry from rank-r (1..3) sizes; missing leading dims become 1.
Geometry make_geometry(int rank, int64_t n, const int64_t* in, const int64_t* out, const int64_t* k,
                       const int64_t* stride, const int64_t* dil, const int64_t* pad, int64_t cin,
                       int64_t cout);

// Keras/TensorFlow output size and padding-before of one axis.
//   valid: out = floor((in - eff) / stride) + 1  (eff = (k-1)*dil + 1; may be <= 0), pad 0
//   same:  out = ceil(in / stride), total = max((out-1)*stride + eff - in, 0),
//          pad before = total / 2 (the odd extra pad goes after)
int64_t output_size(int64_t in, int64_t k, int64_t stride, int64_t dil, bool same);
int64_t same_pad_before(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dil);
// Keras's deconv_output_length (output_padding < 0 means None).
int64_t transpose_output_size(int64_t in, int64_t k, int64_t stride, int64_t dil, bool same,
                              int64_t output_padding);

// y = conv(x, w) (+ bias if not null). y is write-only.
void conv_forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y);

// Activations conv_forward_act applies while the output is still in cache.
enum class Activation : int { kNone = 0, kRelu = 1 };

// y = act(conv(x, w) (+ bias if not null)): the activation is applied to each block of
// output as the kernel writes it (Winograd's output transform, the direct tiles, the
// im2col GEMM's row tiles), not in a second pass over y. Same bits as conv_forward
// followed by the activation. conv_forward(g, x, w, b, y) == conv_forward_act(.., kNone, y).
void conv_forward_act(const Geometry& g, const float* x, const float* w, const float* bias, Activation act,
                      float* y);
// The gradient through a ReLU from its output: dz = dy where y > 0, else 0 (n floats;
// dz may alias dy), threaded. With conv_forward_act(.., kRelu, y), the pre-activation
// gradient is relu_backward_from_output(y, dy, dz, n), so the pre-activation is never
// stored.
void relu_backward_from_output(const float* y, const float* dy, float* dz, int64_t n);
// dx = input gradient (dx is write-only; every element is written).
void conv_backward_input(const Geometry& g, const float* dy, const float* w, float* dx);
// dw = kernel gradient (write-only); dbias (Cout) too when not null.
void conv_backward_kernel(const Geometry& g, const float* x, const float* dy, float* dw, float* dbias);

// The Winograd output tile of 3x3 stride-1 convolutions (forward, input and kernel
// gradients): 0 chooses by shape (the default), 2 forces F(2x2, 3x3), 4 forces F(4x4, 3x3)
// (tests, tuning; also FASTNET_WINOGRAD_TILE at start-up).
void set_winograd_tile(int m);
int get_winograd_tile();

// out[c] = sum over the `rows` rows of dy (rows x c); out is write-only.
void bias_grad(const float* dy, int64_t rows, int64_t c, float* out);
// y (rows x c) += bias (c), threaded.
void add_bias(float* y, int64_t rows, int64_t c, const float* bias);

// Depthwise (2-D and 3-D geometries alike): w (KD, KH, KW, C, M), y channels C*M,
// y[o, c*M+m] = sum_t x[i(o,t), c] * w[t, c, m]. g.cin = C, g.cout = C*M.
void depthwise_forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y);
void depthwise_backward_input(const Geometry& g, const float* dy, const float* w, float* dx);
void depthwise_backward_kernel(const Geometry& g, const float* x, const float* dy, float* dw, float* dbias);

}  // namespace conv
}  // namespace fastnet
