// Drivers of the convolution kernels (see fastnet/conv.h): tiling over output
// rows, thread-local scratch, threading, and the calls into the GEMM and the
// per-ISA leaf loops (conv_leaf.h).
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "conv/conv_table.h"
#include "fastnet/conv.h"
#include "fastnet/cpu.h"
#include "fastnet/gemm.h"
#include "fastnet/threads.h"

namespace fastnet {
namespace conv {

const LeafTable& leaf_table() {
  const LeafTable* t = nullptr;
  switch (cpu::isa()) {
    case cpu::Isa::Avx512: t = avx512::table(); break;
    case cpu::Isa::Avx2: t = avx2::table(); break;
    default: break;
  }
  if (!t) t = generic::table();
  return *t;
}

namespace {

constexpr int64_t kTileBytes = int64_t(1) << 20;  // column buffer per thread (see conv.h)
constexpr int64_t kMinTileRows = 16;
constexpr int64_t kMinRowsPerThread = 64;  // below this, one tile and a threaded GEMM

// A per-thread float buffer, grown on demand and kept for the next call.
float* scratch(int slot, int64_t n) {
  struct Buf {
    std::unique_ptr<float[]> p;
    int64_t cap = 0;
  };
  thread_local Buf bufs[2];
  Buf& b = bufs[slot];
  if (b.cap < n) {
    b.p.reset();
    b.p.reset(new float[static_cast<size_t>(n)]);
    b.cap = n;
  }
  return b.p.get();
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t taps(const Geometry& g) { return g.k[0] * g.k[1] * g.k[2]; }
int64_t out_rows(const Geometry& g) { return g.n * g.out[0] * g.out[1] * g.out[2]; }
int64_t in_pixels(const Geometry& g) { return g.in[0] * g.in[1] * g.in[2]; }
int64_t tile_rows(int64_t kdim) { return std::max<int64_t>(kMinTileRows, kTileBytes / (4 * kdim)); }

// A 1x1, stride-1, unpadded convolution: y = x @ w with no im2col.
bool is_pointwise(const Geometry& g) {
  for (int i = 0; i < 3; ++i)
    if (g.k[i] != 1 || g.stride[i] != 1 || g.pad[i] != 0 || g.out[i] != g.in[i]) return false;
  return true;
}

void zero(float* p, int64_t n) {
  if (n > 0) std::memset(p, 0, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace

Geometry make_geometry(int rank, int64_t n, const int64_t* in, const int64_t* out, const int64_t* k,
                       const int64_t* stride, const int64_t* dil, const int64_t* pad, int64_t cin,
                       int64_t cout) {
  Geometry g;
  g.n = n;
  g.cin = cin;
  g.cout = cout;
  const int lead = 3 - rank;
  for (int i = 0; i < 3; ++i) {
    const bool real = i >= lead;
    const int j = i - lead;
    g.in[i] = real ? in[j] : 1;
    g.out[i] = real ? out[j] : 1;
    g.k[i] = real ? k[j] : 1;
    g.stride[i] = real ? stride[j] : 1;
    g.dil[i] = real ? dil[j] : 1;
    g.pad[i] = real ? pad[j] : 0;
  }
  return g;
}

int64_t output_size(int64_t in, int64_t k, int64_t stride, int64_t dil, bool same) {
  if (same) return ceil_div(in, stride);
  const int64_t eff = (k - 1) * dil + 1;
  if (in < eff) return 0;
  return (in - eff) / stride + 1;
}

int64_t same_pad_before(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dil) {
  const int64_t eff = (k - 1) * dil + 1;
  return std::max<int64_t>((out - 1) * stride + eff - in, 0) / 2;
}

int64_t transpose_output_size(int64_t in, int64_t k, int64_t stride, int64_t dil, bool same,
                              int64_t output_padding) {
  const int64_t eff = (k - 1) * dil + 1;
  if (output_padding < 0) return same ? in * stride : in * stride + std::max<int64_t>(eff - stride, 0);
  const int64_t pad = same ? eff / 2 : 0;
  return (in - 1) * stride + eff - 2 * pad + output_padding;
}

void add_bias(float* y, int64_t rows, int64_t c, const float* bias) {
  if (rows <= 0 || c <= 0) return;
  const LeafTable& L = leaf_table();
  const int64_t grain = std::max<int64_t>(1, 65536 / c);
  threads::parallel_for(rows, grain,
                        [&](int64_t r0, int64_t r1) { L.add_bias(y + r0 * c, r1 - r0, c, bias); });
}

void bias_grad(const float* dy, int64_t rows, int64_t c, float* out) {
  if (c <= 0) return;
  zero(out, c);
  if (rows <= 0) return;
  const LeafTable& L = leaf_table();
  const int nt = threads::num_threads();
  if (nt <= 1 || rows * c < 65536) {
    L.sum_rows(out, dy, rows, c);
    return;
  }
  std::vector<float> part(static_cast<size_t>(nt * c), 0.0f);
  int used = 1;
  threads::parallel_run(nt, [&](int tid, int nth) {
    if (tid == 0) used = nth;
    const int64_t r0 = rows * tid / nth, r1 = rows * (tid + 1) / nth;
    L.sum_rows(part.data() + tid * c, dy + r0 * c, r1 - r0, c);
  });
  for (int t = 0; t < used; ++t) L.sum_rows(out, part.data() + t * c, 1, c);
}

// y (rows, Cout) = im2col(x) (rows, K*Cin) @ w (K*Cin, Cout) [+ bias]
void conv_forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t rows = out_rows(g), cout = g.cout, kdim = taps(g) * g.cin;
  if (rows <= 0 || cout <= 0) return;
  if (is_pointwise(g)) {
    sgemm(false, false, rows, cout, g.cin, 1.0f, x, g.cin, w, cout, 0.0f, y, cout);
    if (bias) add_bias(y, rows, cout, bias);
    return;
  }
  const LeafTable& L = leaf_table();
  const int nt = threads::num_threads();
  int64_t tr = tile_rows(kdim);
  const bool par = nt > 1 && rows >= kMinRowsPerThread * nt;
  if (par) tr = std::min(tr, ceil_div(rows, nt));
  const int64_t ntiles = ceil_div(rows, tr);
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * tr, r1 = std::min(rows, r0 + tr);
      float* cols = scratch(0, (r1 - r0) * kdim);
      L.im2col(g, x, r0, r1, cols);
      sgemm(false, false, r1 - r0, cout, kdim, 1.0f, cols, kdim, w, cout, 0.0f, y + r0 * cout, cout);
      if (bias) L.add_bias(y + r0 * cout, r1 - r0, cout, bias);
    }
  };
  if (par)
    threads::parallel_for(ntiles, 1, run);
  else
    run(0, ntiles);
}

// dx = col2im(dy (rows, Cout) @ w^T (Cout, K*Cin)), whole images per task.
void conv_backward_input(const Geometry& g, const float* dy, const float* w, float* dx) {
  const int64_t img_in = in_pixels(g) * g.cin, img_rows = g.out[0] * g.out[1] * g.out[2];
  const int64_t cout = g.cout, kdim = taps(g) * g.cin;
  if (g.n <= 0 || img_in <= 0) return;
  if (img_rows <= 0 || cout <= 0) {
    zero(dx, g.n * img_in);
    return;
  }
  if (is_pointwise(g)) {
    sgemm(false, true, g.n * img_rows, g.cin, cout, 1.0f, dy, cout, w, cout, 0.0f, dx, g.cin);
    return;
  }
  const LeafTable& L = leaf_table();
  const int nt = threads::num_threads();
  const int64_t tr = tile_rows(kdim);
  auto run = [&](int64_t n0, int64_t n1) {
    zero(dx + n0 * img_in, (n1 - n0) * img_in);
    const int64_t rend = n1 * img_rows;
    for (int64_t r0 = n0 * img_rows; r0 < rend; r0 += tr) {
      const int64_t r1 = std::min(rend, r0 + tr);
      float* cols = scratch(0, (r1 - r0) * kdim);
      sgemm(false, true, r1 - r0, kdim, cout, 1.0f, dy + r0 * cout, cout, w, cout, 0.0f, cols, kdim);
      L.col2im(g, cols, r0, r1, dx);
    }
  };
  if (nt > 1 && g.n >= nt)
    threads::parallel_for(g.n, 1, run);
  else
    run(0, g.n);
}

// dw (K*Cin, Cout) = im2col(x)^T @ dy, accumulated over row tiles; per-thread partials.
void conv_backward_kernel(const Geometry& g, const float* x, const float* dy, float* dw, float* dbias) {
  const int64_t rows = out_rows(g), cout = g.cout, kdim = taps(g) * g.cin;
  const int64_t wsize = kdim * cout;
  if (rows <= 0 || cout <= 0) {
    zero(dw, wsize);
    if (dbias) zero(dbias, cout);
    return;
  }
  if (dbias) bias_grad(dy, rows, cout, dbias);
  if (is_pointwise(g)) {
    sgemm(true, false, g.cin, cout, rows, 1.0f, x, g.cin, dy, cout, 0.0f, dw, cout);
    return;
  }
  const LeafTable& L = leaf_table();
  const int nt = threads::num_threads();
  int64_t tr = tile_rows(kdim);
  // acc (kdim, cout) (+)= im2col(rows [t0 tiles .. t1))^T @ dy
  auto run = [&](int64_t t0, int64_t t1, float* acc) {
    if (t0 >= t1) zero(acc, wsize);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * tr, r1 = std::min(rows, r0 + tr);
      float* cols = scratch(0, (r1 - r0) * kdim);
      L.im2col(g, x, r0, r1, cols);
      sgemm(true, false, kdim, cout, r1 - r0, 1.0f, cols, kdim, dy + r0 * cout, cout, t == t0 ? 0.0f : 1.0f,
            acc, cout);
    }
  };
  if (nt <= 1 || rows < kMinRowsPerThread * nt) {
    run(0, ceil_div(rows, tr), dw);
    return;
  }
  tr = std::min(tr, ceil_div(rows, nt));
  const int64_t ntiles = ceil_div(rows, tr);
  float* part = scratch(1, (nt - 1) * wsize);  // the caller's own buffer; thread 0 writes dw
  int used = 1;
  threads::parallel_run(nt, [&](int tid, int nth) {
    if (tid == 0) used = nth;
    run(ntiles * tid / nth, ntiles * (tid + 1) / nth, tid == 0 ? dw : part + (tid - 1) * wsize);
  });
  for (int t = 1; t < used; ++t) L.sum_rows(dw, part + (t - 1) * wsize, 1, wsize);
}

// ---- depthwise ----

void depthwise_forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t lines = g.n * g.out[0] * g.out[1], cm = g.cout;
  if (lines <= 0 || g.out[2] <= 0 || cm <= 0) return;
  const LeafTable& L = leaf_table();
  const int64_t work = g.out[2] * cm * taps(g);
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1));
  threads::parallel_for(lines, grain, [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l) {
      const int64_t oh = l % g.out[1], od = (l / g.out[1]) % g.out[0], n = l / (g.out[1] * g.out[0]);
      L.dw_forward_row(g, x, w, bias, n, od, oh, y + l * g.out[2] * cm);
    }
  });
}

namespace {

// Calls fn(in_offset, out_offset, tap) for every valid (output pixel, tap) pair of
// output row `line` = (n, od, oh); offsets are pixel indices into x / y.
template <class Fn>
void for_each_tap(const Geometry& g, int64_t line, Fn&& fn) {
  const int64_t oh = line % g.out[1], od = (line / g.out[1]) % g.out[0], n = line / (g.out[1] * g.out[0]);
  const int64_t img = n * in_pixels(g);
  for (int64_t ow = 0; ow < g.out[2]; ++ow) {
    const int64_t opix = line * g.out[2] + ow;
    int64_t t = 0;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      const bool dok = id >= 0 && id < g.in[0];
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        const bool hok = dok && ih >= 0 && ih < g.in[1];
        for (int64_t kw = 0; kw < g.k[2]; ++kw, ++t) {
          const int64_t iw = ow * g.stride[2] - g.pad[2] + kw * g.dil[2];
          if (!hok || iw < 0 || iw >= g.in[2]) continue;
          fn(img + (id * g.in[1] + ih) * g.in[2] + iw, opix, t);
        }
      }
    }
  }
}

}  // namespace

void depthwise_backward_input(const Geometry& g, const float* dy, const float* w, float* dx) {
  const int64_t c = g.cin, cm = g.cout, m = cm / c, img_in = in_pixels(g) * c;
  const int64_t lines_per_img = g.out[0] * g.out[1];
  if (g.n <= 0 || img_in <= 0) return;
  const LeafTable& L = leaf_table();
  const int nt = threads::num_threads();
  auto run = [&](int64_t n0, int64_t n1) {
    zero(dx + n0 * img_in, (n1 - n0) * img_in);
    for (int64_t line = n0 * lines_per_img; line < n1 * lines_per_img; ++line)
      for_each_tap(g, line, [&](int64_t ip, int64_t op, int64_t t) {
        L.dw_dot(dx + ip * c, dy + op * cm, w + t * cm, c, m);
      });
  };
  const int64_t work = lines_per_img * g.out[2] * taps(g) * cm;
  if (nt > 1 && g.n >= 2 && g.n * work >= 32768)
    threads::parallel_for(g.n, 1, run);
  else
    run(0, g.n);
}

void depthwise_backward_kernel(const Geometry& g, const float* x, const float* dy, float* dw, float* dbias) {
  const int64_t c = g.cin, cm = g.cout, m = cm / c, wsize = taps(g) * cm;
  const int64_t lines = g.n * g.out[0] * g.out[1];
  if (dbias) bias_grad(dy, lines * g.out[2], cm, dbias);
  zero(dw, wsize);
  if (lines <= 0 || g.out[2] <= 0) return;
  const LeafTable& L = leaf_table();
  const int nt = threads::num_threads();
  auto run = [&](int64_t l0, int64_t l1, float* acc) {
    for (int64_t line = l0; line < l1; ++line)
      for_each_tap(g, line, [&](int64_t ip, int64_t op, int64_t t) {
        L.dw_mac(acc + t * cm, x + ip * c, dy + op * cm, c, m);
      });
  };
  const int64_t work = lines * g.out[2] * taps(g) * cm;
  if (nt <= 1 || lines < nt || work < 65536) {
    run(0, lines, dw);
    return;
  }
  float* part = scratch(1, (nt - 1) * wsize);
  int used = 1;
  threads::parallel_run(nt, [&](int tid, int nth) {
    if (tid == 0) used = nth;
    float* acc = tid == 0 ? dw : part + (tid - 1) * wsize;
    if (tid != 0) zero(acc, wsize);
    run(lines * tid / nth, lines * (tid + 1) / nth, acc);
  });
  for (int t = 1; t < used; ++t) L.sum_rows(dw, part + (t - 1) * wsize, 1, wsize);
}

}  // namespace conv
}  // namespace fastnet
