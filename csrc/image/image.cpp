// Image-family kernels (see fastnet/image.h): separable resampling and projective
// transforms, channels-last float32, baseline code only.
#include "fastnet/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fastnet/threads.h"

namespace fastnet {
namespace image {

namespace {

constexpr int64_t kGrainElems = 1 << 14;

inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Keys' cubic convolution with PyTorch's a = -0.75.
inline float cubic1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
inline float cubic2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

// acc[0..n) += w * src[0..n)
inline void axpy(float* acc, const float* src, float w, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += w * src[i];
}

// Python-style modulo (result in [0, m)).
inline int64_t pymod(int64_t a, int64_t m) {
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}

inline int64_t floordiv2(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

inline int64_t mirror_index(int64_t i, int64_t size) {
  const int64_t s = size - 1;  // half-wavelength of the triangular wave
  if (s <= 0) return 0;
  return std::llabs(pymod(i + s, 2 * s) - s);
}

// An out-of-range index mapped into [0, size) by the fill mode (constant: clipped, as
// Keras, and then masked by the caller).
inline int64_t fix_index(int64_t i, int64_t size, Fill fill) {
  switch (fill) {
    case Fill::Wrap: return pymod(i, size);
    case Fill::Mirror: return mirror_index(i, size);
    case Fill::Reflect: return floordiv2(mirror_index(2 * i + 1, 2 * size + 1) - 1);
    default: return clamp64(i, 0, size - 1);
  }
}

// The (up to 2x2) input pixels and weights output pixel (oy, ox) of image t reads.
struct Sample {
  int n = 0;
  int64_t off[4];  // pixel offsets (y * W + x)
  float w[4];
  float fill_w = 0;  // weight of fill_value (constant mode, taps outside the image)
};

inline void sample_at(const float* t, int64_t oy, int64_t ox, int64_t H, int64_t W, bool bilinear, Fill fill,
                      Sample* s) {
  const float xf = static_cast<float>(ox), yf = static_cast<float>(oy);
  const float k = t[6] * xf + t[7] * yf + 1.0f;
  float sx = t[0] * xf + t[1] * yf + t[2];
  float sy = t[3] * xf + t[4] * yf + t[5];
  if (k != 1.0f) {
    sx /= k;
    sy /= k;
  }
  s->n = 0;
  s->fill_w = 0;
  int64_t iy[2], ix[2];
  float wy[2], wx[2];
  int ny, nx;
  if (!std::isfinite(sx) || !std::isfinite(sy)) {
    // A degenerate transform: Keras's index arithmetic gives garbage; fastnet gives the fill.
    s->fill_w = fill == Fill::Constant ? 1.0f : 0.0f;
    return;
  }
  // Coordinates beyond +-1e9 are clamped there so that the integer casts stay defined
  // (wrap / mirror / reflect then sample at the clamped coordinate).
  sx = std::min(std::max(sx, -1.0e9f), 1.0e9f);
  sy = std::min(std::max(sy, -1.0e9f), 1.0e9f);
  if (bilinear) {
    const float fy = std::floor(sy), fx = std::floor(sx);
    iy[0] = static_cast<int64_t>(fy);
    iy[1] = iy[0] + 1;
    wy[1] = sy - fy;
    wy[0] = 1.0f - wy[1];
    ix[0] = static_cast<int64_t>(fx);
    ix[1] = ix[0] + 1;
    wx[1] = sx - fx;
    wx[0] = 1.0f - wx[1];
    ny = nx = 2;
  } else {
    iy[0] = static_cast<int64_t>(std::nearbyint(sy));  // round half to even, as torch.round
    ix[0] = static_cast<int64_t>(std::nearbyint(sx));
    wy[0] = wx[0] = 1.0f;
    ny = nx = 1;
  }
  for (int a = 0; a < ny; ++a) {
    for (int b = 0; b < nx; ++b) {
      const float w = wy[a] * wx[b];
      if (fill == Fill::Constant && (iy[a] < 0 || iy[a] >= H || ix[b] < 0 || ix[b] >= W)) {
        s->fill_w += w;
        continue;
      }
      const int64_t y = fix_index(iy[a], H, fill), x = fix_index(ix[b], W, fill);
      s->off[s->n] = y * W + x;
      s->w[s->n] = w;
      ++s->n;
    }
  }
}

// The horizontal pass of one output row: out[ow, :] = sum_k w_k tmp[idx_k, :]. CC > 0 is
// the channel count known at compile time (the few-channel images where the generic loop
// over C costs more than the arithmetic): accumulated in registers, stored once.
template <int CC>
void hpass(const float* tmp, float* out, const Taps& tw, int64_t OW, int64_t C) {
  const int64_t* off = tw.off.data();
  const int32_t* idx = tw.idx.data();
  const float* w = tw.w.data();
  if (CC > 0) {
    for (int64_t ow = 0; ow < OW; ++ow) {
      float acc[CC > 0 ? CC : 1] = {};
      for (int64_t k = off[ow]; k < off[ow + 1]; ++k) {
        const float* src = tmp + static_cast<int64_t>(idx[k]) * CC;
        const float wk = w[k];
        for (int c = 0; c < CC; ++c) acc[c] += wk * src[c];
      }
      for (int c = 0; c < CC; ++c) out[ow * CC + c] = acc[c];
    }
    return;
  }
  for (int64_t ow = 0; ow < OW; ++ow) {
    float* o = out + ow * C;
    for (int64_t c = 0; c < C; ++c) o[c] = 0.0f;
    for (int64_t k = off[ow]; k < off[ow + 1]; ++k) axpy(o, tmp + static_cast<int64_t>(idx[k]) * C, w[k], C);
  }
}

}  // namespace

Taps resize_taps(Method m, int64_t in, int64_t out) {
  Taps t;
  t.off.assign(static_cast<size_t>(out) + 1, 0);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  auto push = [&](int64_t i, float w) {
    t.idx.push_back(static_cast<int32_t>(clamp64(i, 0, in - 1)));
    t.w.push_back(w);
  };
  for (int64_t o = 0; o < out; ++o) {
    const float of = static_cast<float>(o);
    switch (m) {
      case Method::Nearest: {
        const int64_t i = static_cast<int64_t>(std::floor((of + 0.5f) * scale));
        push(std::min(i, in - 1), 1.0f);
        break;
      }
      case Method::Bilinear: {
        float src = scale * (of + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        const int64_t i0 = static_cast<int64_t>(src);
        const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
        const float l1 = src - static_cast<float>(i0);
        push(i0, 1.0f - l1);
        if (i1 != i0) {
          push(i1, l1);
        } else {
          t.w.back() = 1.0f;  // the last input only (PyTorch: both weights on one index)
        }
        break;
      }
      case Method::Bicubic: {
        const float src = scale * (of + 0.5f) - 0.5f;
        const float fl = std::floor(src);
        const int64_t i = static_cast<int64_t>(fl);
        const float tt = src - fl;
        const float a = -0.75f;
        push(i - 1, cubic2(tt + 1.0f, a));
        push(i, cubic1(tt, a));
        push(i + 1, cubic1(1.0f - tt, a));
        push(i + 2, cubic2(2.0f - tt, a));
        break;
      }
      case Method::Area: {
        const float lo = of * scale, hi = (of + 1.0f) * scale;
        const int64_t start = static_cast<int64_t>(std::floor(lo));
        const int64_t end = static_cast<int64_t>(std::ceil(hi));
        for (int64_t i = start; i < end; ++i) {
          const float a = std::max(static_cast<float>(i), lo);
          const float b = std::min(static_cast<float>(i + 1), hi);
          if (b > a) push(i, (b - a) / scale);
        }
        break;
      }
    }
    t.off[static_cast<size_t>(o) + 1] = static_cast<int64_t>(t.idx.size());
  }
  return t;
}

void resize_forward(const float* x, float* y, int64_t N, int64_t H, int64_t W, int64_t C, const Taps& th,
                    const Taps& tw) {
  const int64_t OH = static_cast<int64_t>(th.off.size()) - 1, OW = static_cast<int64_t>(tw.off.size()) - 1;
  const int64_t rows = N * OH;
  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, OW * C));
  threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> tmp(static_cast<size_t>(W * C));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / OH, oh = r - n * OH;
      const float* img = x + n * H * W * C;
      // Vertical pass: one input row's worth of the output row.
      std::fill(tmp.begin(), tmp.end(), 0.0f);
      for (int64_t k = th.off[oh]; k < th.off[oh + 1]; ++k)
        axpy(tmp.data(), img + th.idx[k] * W * C, th.w[k], W * C);
      // Horizontal pass.
      float* out = y + r * OW * C;
      switch (C) {
        case 1: hpass<1>(tmp.data(), out, tw, OW, C); break;
        case 2: hpass<2>(tmp.data(), out, tw, OW, C); break;
        case 3: hpass<3>(tmp.data(), out, tw, OW, C); break;
        case 4: hpass<4>(tmp.data(), out, tw, OW, C); break;
        default: hpass<0>(tmp.data(), out, tw, OW, C);
      }
    }
  });
}

void resize_backward(const float* dy, float* dx, int64_t N, int64_t H, int64_t W, int64_t C, const Taps& th,
                     const Taps& tw) {
  const int64_t OH = static_cast<int64_t>(th.off.size()) - 1, OW = static_cast<int64_t>(tw.off.size()) - 1;
  threads::parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    std::vector<float> tmp(static_cast<size_t>(W * C));
    for (int64_t n = n0; n < n1; ++n) {
      float* img = dx + n * H * W * C;
      std::memset(img, 0, sizeof(float) * static_cast<size_t>(H * W * C));
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* g = dy + (n * OH + oh) * OW * C;
        std::fill(tmp.begin(), tmp.end(), 0.0f);
        for (int64_t ow = 0; ow < OW; ++ow)
          for (int64_t k = tw.off[ow]; k < tw.off[ow + 1]; ++k)
            axpy(tmp.data() + tw.idx[k] * C, g + ow * C, tw.w[k], C);
        for (int64_t k = th.off[oh]; k < th.off[oh + 1]; ++k)
          axpy(img + th.idx[k] * W * C, tmp.data(), th.w[k], W * C);
      }
    }
  });
}

void transform_forward(const float* x, const float* t, int64_t t_stride, float* y, int64_t N, int64_t H,
                       int64_t W, int64_t C, bool bilinear, Fill fill, float fill_value) {
  const int64_t rows = N * H;
  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, W * C));
  threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    Sample s;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / H, oy = r - n * H;
      const float* img = x + n * H * W * C;
      const float* tn = t + n * t_stride;
      float* out = y + r * W * C;
      for (int64_t ox = 0; ox < W; ++ox) {
        sample_at(tn, oy, ox, H, W, bilinear, fill, &s);
        float* o = out + ox * C;
        const float f = s.fill_w * fill_value;
        for (int64_t c = 0; c < C; ++c) o[c] = f;
        for (int i = 0; i < s.n; ++i) axpy(o, img + s.off[i] * C, s.w[i], C);
      }
    }
  });
}

void transform_backward(const float* dy, const float* t, int64_t t_stride, float* dx, int64_t N, int64_t H,
                        int64_t W, int64_t C, bool bilinear, Fill fill) {
  threads::parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    Sample s;
    for (int64_t n = n0; n < n1; ++n) {
      float* img = dx + n * H * W * C;
      std::memset(img, 0, sizeof(float) * static_cast<size_t>(H * W * C));
      const float* tn = t + n * t_stride;
      for (int64_t oy = 0; oy < H; ++oy) {
        const float* g = dy + (n * H + oy) * W * C;
        for (int64_t ox = 0; ox < W; ++ox) {
          sample_at(tn, oy, ox, H, W, bilinear, fill, &s);
          for (int i = 0; i < s.n; ++i) axpy(img + s.off[i] * C, g + ox * C, s.w[i], C);
        }
      }
    }
  });
}

}  // namespace image
}  // namespace fastnet
