// Image-family kernels, channels-last float32 (N, H, W, C), forward and backward:
//  * separable resampling (resize): each output pixel is sum_i sum_j wh_i ww_j x[ih_i, iw_j],
//    the per-axis taps coming from resize_taps() (nearest / bilinear / bicubic / area, half-pixel
//    centers, no antialias: Keras 3's resize); the backward is the transposed map;
//  * projective transform (affine_transform): output pixel (y, x) samples the input at
//    ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, nearest or bilinear,
//    Keras's fill modes (constant / nearest / wrap / mirror / reflect); the backward scatters
//    into the image.
// Portable scalar code compiled once for the baseline (the inner loops over channels
// auto-vectorize at the baseline width); no per-ISA variants: the loops are dominated by
// gathers whose addresses come from tables, where wider vectors did not pay.
#pragma once
#include <cstdint>
#include <vector>

namespace fastnet {
namespace image {

enum class Method : int { Nearest = 0, Bilinear = 1, Bicubic = 2, Area = 3 };
enum class Fill : int { Constant = 0, Nearest = 1, Wrap = 2, Mirror = 3, Reflect = 4 };

// Output o of one axis reads inputs idx[off[o] .. off[o+1]) with weights w (indices in
// [0, in); an index may repeat where the taps were clamped at the border).
struct Taps {
  std::vector<int64_t> off;
  std::vector<int32_t> idx;
  std::vector<float> w;
};

// Keras 3's (PyTorch backend's) coordinates: scale = in / out; bilinear src = (o + 0.5) * scale
// - 0.5 clamped at 0; nearest floor((o + 0.5) * scale) ("nearest-exact"); bicubic Keys with
// a = -0.75 on 4 taps clamped to the border; area: TensorFlow's ResizeArea box average.
Taps resize_taps(Method m, int64_t in, int64_t out);

// y (N, OH, OW, C) from x (N, H, W, C). Threaded over output rows.
void resize_forward(const float* x, float* y, int64_t N, int64_t H, int64_t W, int64_t C, const Taps& th,
                    const Taps& tw);
// dx (N, H, W, C) from dy (N, OH, OW, C) (the adjoint map). Threaded over images.
void resize_backward(const float* dy, float* dx, int64_t N, int64_t H, int64_t W, int64_t C, const Taps& th,
                     const Taps& tw);

// One projective transform per image (t has N rows of 8, or one row shared: t_stride 0).
// y and x are (N, H, W, C) of one size. bilinear=false: nearest (round half to even).
void transform_forward(const float* x, const float* t, int64_t t_stride, float* y, int64_t N, int64_t H,
                       int64_t W, int64_t C, bool bilinear, Fill fill, float fill_value);
// dx (N, H, W, C) = the adjoint of transform_forward w.r.t. the image (fill pixels have
// no gradient). Threaded over images.
void transform_backward(const float* dy, const float* t, int64_t t_stride, float* dx, int64_t N, int64_t H,
                        int64_t W, int64_t C, bool bilinear, Fill fill);

}  // namespace image
}  // namespace fastnet
