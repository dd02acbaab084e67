// 2-D pooling leaf loops, channels-last: x (N, H, W, C) -> y (N, OH, OW, C).
// Included once per ISA inside namespace fastnet::pool::<isa> (no STL; see
// ARCHITECTURE.md). The inner loops run over the contiguous channel axis.
//
// Windows start at oh*sh - pad_top; positions outside the input are skipped
// (TensorFlow 'same': max ignores them, average divides by the real count).
// Rows [n0*OH .. n1*OH) of the output are processed (threads split N*OH).

// Max: y = max over the window; arg = flat input index (h*W + w) of the first maximum in
// window scan order (the gradient goes there, as TensorFlow's MaxPoolGrad).
void max_pool_fwd(const float* __restrict x, float* __restrict y, int32_t* __restrict arg, int64_t row0,
                  int64_t row1, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int64_t kh,
                  int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl) {
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t n = row / OH, oh = row % OH;
    const float* xn = x + n * H * W * C;
    const int64_t h0 = oh * sh - pt;
    const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + kh > H ? H : h0 + kh;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = ow * sw - pl;
      const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + kw > W ? W : w0 + kw;
      float* yo = y + (row * OW + ow) * C;
      int32_t* ao = arg + (row * OW + ow) * C;
      for (int64_t c = 0; c < C; ++c) {
        yo[c] = -__builtin_inff();
        ao[c] = static_cast<int32_t>(hs * W + ws);
      }
      for (int64_t h = hs; h < he; ++h) {
        for (int64_t w = ws; w < we; ++w) {
          const float* xp = xn + (h * W + w) * C;
          const int32_t idx = static_cast<int32_t>(h * W + w);
          for (int64_t c = 0; c < C; ++c) {
            const bool gt = xp[c] > yo[c];
            yo[c] = gt ? xp[c] : yo[c];
            ao[c] = gt ? idx : ao[c];
          }
        }
      }
    }
  }
}

// Max backward: dx[n, arg, c] += dy (dx zeroed by the caller; rows of one image only
// touch that image, so threads split over images).
void max_pool_bwd(const float* __restrict dy, const int32_t* __restrict arg, float* __restrict dx, int64_t n0,
                  int64_t n1, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW) {
  for (int64_t n = n0; n < n1; ++n) {
    float* dxn = dx + n * H * W * C;
    const int64_t base = n * OH * OW * C;
    for (int64_t p = 0; p < OH * OW; ++p) {
      const float* g = dy + base + p * C;
      const int32_t* a = arg + base + p * C;
      for (int64_t c = 0; c < C; ++c) dxn[static_cast<int64_t>(a[c]) * C + c] += g[c];
    }
  }
}

// Average over the real (unpadded) elements of each window.
void avg_pool_fwd(const float* __restrict x, float* __restrict y, int64_t row0, int64_t row1, int64_t H,
                  int64_t W, int64_t C, int64_t OH, int64_t OW, int64_t kh, int64_t kw, int64_t sh,
                  int64_t sw, int64_t pt, int64_t pl) {
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t n = row / OH, oh = row % OH;
    const float* xn = x + n * H * W * C;
    const int64_t h0 = oh * sh - pt;
    const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + kh > H ? H : h0 + kh;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = ow * sw - pl;
      const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + kw > W ? W : w0 + kw;
      float* yo = y + (row * OW + ow) * C;
      for (int64_t c = 0; c < C; ++c) yo[c] = 0.0f;
      for (int64_t h = hs; h < he; ++h)
        for (int64_t w = ws; w < we; ++w) {
          const float* xp = xn + (h * W + w) * C;
          for (int64_t c = 0; c < C; ++c) yo[c] += xp[c];
        }
      const int64_t count = (he - hs) * (we - ws);
      const float inv = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
      for (int64_t c = 0; c < C; ++c) yo[c] *= inv;
    }
  }
}

void avg_pool_bwd(const float* __restrict dy, float* __restrict dx, int64_t n0, int64_t n1, int64_t H,
                  int64_t W, int64_t C, int64_t OH, int64_t OW, int64_t kh, int64_t kw, int64_t sh,
                  int64_t sw, int64_t pt, int64_t pl) {
  for (int64_t n = n0; n < n1; ++n) {
    float* dxn = dx + n * H * W * C;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * sh - pt;
      const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + kh > H ? H : h0 + kh;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * sw - pl;
        const int64_t ws = w0 < 0 ? 0 : w0, we = w0 + kw > W ? W : w0 + kw;
        const int64_t count = (he - hs) * (we - ws);
        if (count <= 0) continue;
        const float inv = 1.0f / static_cast<float>(count);
        const float* g = dy + ((n * OH + oh) * OW + ow) * C;
        for (int64_t h = hs; h < he; ++h)
          for (int64_t w = ws; w < we; ++w) {
            float* d = dxn + (h * W + w) * C;
            for (int64_t c = 0; c < C; ++c) d[c] += g[c] * inv;
          }
      }
    }
  }
}

PoolTable table() {
  PoolTable t;
  t.max_fwd = &max_pool_fwd;
  t.max_bwd = &max_pool_bwd;
  t.avg_fwd = &avg_pool_fwd;
  t.avg_bwd = &avg_pool_bwd;
  return t;
}
