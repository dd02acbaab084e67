// Drivers of the convolution kernels (see fastnet/conv.h): tiling over output
// rows, thread-local scratch, threading, and the calls into the GEMM and the
// per-ISA leaf loops (conv_leaf.h).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "conv/conv_table.h"
#include "fastnet/conv.h"
#include "fastnet/cpu.h"
#include "fastnet/elementwise.h"
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

// A per-thread float buffer (64-byte aligned), grown on demand and kept for the next call.
float* scratch(int slot, int64_t n) {
  struct Buf {
    std::unique_ptr<float[]> p;
    float* aligned = nullptr;
    int64_t cap = 0;
  };
  thread_local Buf bufs[3];
  Buf& b = bufs[slot];
  if (b.cap < n) {
    b.p.reset();
    b.p.reset(new float[static_cast<size_t>(n + 16)]);
    const uintptr_t u = reinterpret_cast<uintptr_t>(b.p.get());
    b.aligned = reinterpret_cast<float*>((u + 63) & ~uintptr_t(63));
    b.cap = n;
  }
  return b.aligned;
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

// y = max(y, 0) over n floats in place (nan stays nan), on the calling thread: the
// drivers call it on each block of output they have just written, while it is in cache.
void relu_inplace(float* y, int64_t n) {
  if (n > 0) elementwise::table().relu_fwd(y, y, n);
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
  const bool det = threads::deterministic();
  const int fixed = det ? threads::deterministic_parts(rows, std::max<int64_t>(1, 65536 / c), c * 4) : 0;
  if (det ? fixed <= 1 : (nt <= 1 || rows * c < 65536)) {
    L.sum_rows(out, dy, rows, c);
    return;
  }
  std::vector<float> part(static_cast<size_t>((det ? fixed : nt) * c), 0.0f);
  const int used = threads::parallel_parts(fixed, [&](int p, int np) {
    const int64_t r0 = rows * p / np, r1 = rows * (p + 1) / np;
    L.sum_rows(part.data() + p * c, dy + r0 * c, r1 - r0, c);
  });
  for (int t = 0; t < used; ++t) L.sum_rows(out, part.data() + t * c, 1, c);
}

// ---- direct (implicit-GEMM) path: no im2col, a pointer per (tap, pixel) ----

namespace {

const DirectKernel* pick_direct(const LeafTable& L, int64_t cout) {
  if (!L.direct_wide.fn) return nullptr;
  return (L.direct_narrow.fn && cout <= L.direct_narrow.nr) ? &L.direct_narrow : &L.direct_wide;
}

// Packs the kernel into nr-column panels wp[panel][t][i][j] (zero past co), then the
// bias panels (if any), then `ci` zeros (the padding vector). With `adjoint`, the
// kernel w (ntaps, co, ci) is read with its taps reversed and its channels swapped:
// the convolution whose forward pass is the input gradient of a stride-1 conv.
// Returns the floats used: panels * (ntaps*ci*nr + nr) + ci.
struct Packed {
  const float* w;
  const float* bias;
  const float* zeros;
};

Packed pack_kernel(const float* w, const float* bias, int64_t ntaps, int64_t ci, int64_t co, int nr,
                   bool adjoint) {
  const int64_t panels = ceil_div(co, nr), kdim = ntaps * ci;
  float* buf = scratch(1, panels * (kdim * nr + nr) + ci);
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = buf + p * kdim * nr;
    const int64_t j0 = p * nr, jn = std::min<int64_t>(nr, co - j0);
    for (int64_t t = 0; t < ntaps; ++t) {
      for (int64_t i = 0; i < ci; ++i, dst += nr) {
        if (!adjoint) {
          const float* src = w + (t * ci + i) * co + j0;
          for (int64_t j = 0; j < jn; ++j) dst[j] = src[j];
        } else {
          const float* src = w + ((ntaps - 1 - t) * co + j0) * ci + i;  // w[T-1-t][j0 + j][i]
          for (int64_t j = 0; j < jn; ++j) dst[j] = src[j * ci];
        }
        for (int64_t j = jn; j < nr; ++j) dst[j] = 0.0f;
      }
    }
  }
  float* pb = buf + panels * kdim * nr;
  for (int64_t j = 0; j < panels * nr; ++j) pb[j] = (bias && j < co) ? bias[j] : 0.0f;
  float* zeros = pb + panels * nr;
  zero(zeros, ci);
  return Packed{buf, bias ? pb : nullptr, zeros};
}

constexpr int64_t kPadBudget = int64_t(1) << 20;  // floats of one zero-padded image (4 MiB)

// Extents of the (padded) input the windows read, and whether x must be copied
// into a zero-padded buffer first.
struct PadPlan {
  int64_t dim[3];  // padded spatial sizes
  bool copy;
};

PadPlan pad_plan(const Geometry& g) {
  PadPlan p;
  p.copy = false;
  for (int i = 0; i < 3; ++i) {
    const int64_t need = (g.out[i] - 1) * g.stride[i] + (g.k[i] - 1) * g.dil[i] + 1;
    if (g.pad[i] != 0 || need > g.in[i]) p.copy = true;
    p.dim[i] = need;
  }
  if (!p.copy)
    for (int i = 0; i < 3; ++i) p.dim[i] = g.in[i];
  return p;
}

// dst (dim0, dim1, dim2, c) = image of x (in0, in1, in2, c) shifted by -pad, zeros elsewhere.
void pad_image(const Geometry& g, const PadPlan& pp, const float* x, float* dst) {
  const int64_t c = g.cin, row = pp.dim[2] * c;
  for (int64_t pd = 0; pd < pp.dim[0]; ++pd) {
    const int64_t id = pd - g.pad[0];
    for (int64_t ph = 0; ph < pp.dim[1]; ++ph, dst += row) {
      const int64_t ih = ph - g.pad[1];
      if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
        zero(dst, row);
        continue;
      }
      const int64_t w0 = std::max<int64_t>(0, g.pad[2]);                    // first padded column with data
      const int64_t w1 = std::min<int64_t>(pp.dim[2], g.in[2] + g.pad[2]);  // one past the last
      const float* src = x + ((id * g.in[1] + ih) * g.in[2]) * c;
      if (w1 <= w0) {
        zero(dst, row);
        continue;
      }
      zero(dst, w0 * c);
      std::memcpy(dst + w0 * c, src + (w0 - g.pad[2]) * c,
                  static_cast<size_t>((w1 - w0) * c) * sizeof(float));
      zero(dst + w1 * c, (pp.dim[2] - w1) * c);
    }
  }
}

// y (rows, g.cout) = conv(x) over geometry g with the packed kernel; false (nothing
// done) when the padded image would exceed kPadBudget.
bool direct_run(const Geometry& g, const DirectKernel& dk, const float* x, const Packed& pk, float* y,
                bool relu = false) {
  const PadPlan pp = pad_plan(g);
  const int64_t cin = g.cin, cout = g.cout, ntaps = taps(g), mr = dk.mr, nr = dk.nr;
  const int64_t img = pp.dim[0] * pp.dim[1] * pp.dim[2] * cin, x_img = in_pixels(g) * cin;
  if (pp.copy && img > kPadBudget) return false;
  const int64_t panels = ceil_div(cout, nr), kdim = ntaps * cin;
  const int64_t sH = pp.dim[2] * cin, sD = pp.dim[1] * sH;
  // With no dilation along W, the taps of one kernel row read KW*Cin contiguous floats:
  // merge them into the channel loop (fewer, longer inner loops; same packed order).
  const bool merge_w = g.dil[2] == 1;
  const int64_t row_taps = merge_w ? g.k[0] * g.k[1] : ntaps, row_len = merge_w ? g.k[2] * cin : cin;
  int64_t off_stack[64];
  std::vector<int64_t> off_heap;
  int64_t* off = off_stack;
  if (row_taps > 64) {
    off_heap.resize(static_cast<size_t>(row_taps));
    off = off_heap.data();
  }
  {
    int64_t t = 0;
    const int64_t kw_n = merge_w ? 1 : g.k[2];
    for (int64_t kd = 0; kd < g.k[0]; ++kd)
      for (int64_t kh = 0; kh < g.k[1]; ++kh)
        for (int64_t kw = 0; kw < kw_n; ++kw)
          off[t++] = kd * g.dil[0] * sD + kh * g.dil[1] * sH + kw * g.dil[2] * cin;
  }
  const int64_t img_pix = g.out[0] * g.out[1] * g.out[2], img_tiles = ceil_div(img_pix, mr);
  // Tiles [t0, t1) of image n (tiles run across output rows), reading the (padded) image a.
  auto tiles = [&](const float* a, int64_t n, int64_t t0, int64_t t1) {
    int64_t pix[64];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t p0 = t * mr, m = std::min(mr, img_pix - p0);
      int64_t ow = p0 % g.out[2], oh = (p0 / g.out[2]) % g.out[1], od = p0 / (g.out[2] * g.out[1]);
      for (int64_t r = 0; r < mr; ++r) {
        if (r >= m) {
          pix[r] = pix[m - 1];
          continue;
        }
        pix[r] = od * g.stride[0] * sD + oh * g.stride[1] * sH + ow * g.stride[2] * cin;
        if (++ow == g.out[2]) {
          ow = 0;
          if (++oh == g.out[1]) {
            oh = 0;
            ++od;
          }
        }
      }
      float* c = y + (n * img_pix + p0) * cout;
      for (int64_t p = 0; p < panels; ++p)
        dk.fn(row_taps, row_len, a, off, pix, pk.w + p * kdim * nr, pk.bias ? pk.bias + p * nr : nullptr,
              c + p * nr, cout, m, std::min<int64_t>(nr, cout - p * nr));
      if (relu) relu_inplace(c, m * cout);  // the tile's m pixels x all channels, just written
    }
  };
  // ~1M multiply-adds per chunk at least: waking a thread costs microseconds.
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(1, mr * kdim * cout));
  if (!pp.copy) {
    threads::parallel_for(g.n * img_tiles, grain, [&](int64_t t0, int64_t t1) {
      while (t0 < t1) {
        const int64_t n = t0 / img_tiles, e = std::min(t1, (n + 1) * img_tiles);
        tiles(x + n * x_img, n, t0 - n * img_tiles, e - n * img_tiles);
        t0 = e;
      }
    });
    return true;
  }
  const int nt = threads::num_threads();
  const int64_t img_grain = std::max<int64_t>(1, ceil_div(grain, std::max<int64_t>(1, img_tiles)));
  if (nt > 1 && g.n >= nt) {
    threads::parallel_for(g.n, img_grain, [&](int64_t n0, int64_t n1) {
      float* a = scratch(0, img);
      for (int64_t n = n0; n < n1; ++n) {
        pad_image(g, pp, x + n * x_img, a);
        tiles(a, n, 0, img_tiles);
      }
    });
    return true;
  }
  float* a = scratch(0, img);
  for (int64_t n = 0; n < g.n; ++n) {
    pad_image(g, pp, x + n * x_img, a);
    threads::parallel_for(img_tiles, grain, [&](int64_t t0, int64_t t1) { tiles(a, n, t0, t1); });
  }
  return true;
}

// dw (K*Cin, Cout) = kernel gradient by the direct grad tiles over the zero-padded
// images; false (nothing done) when a padded image would exceed kPadBudget.
bool direct_grad(const Geometry& g, const GradKernel& gk, const float* x, const float* dy, float* dw) {
  const PadPlan pp = pad_plan(g);
  const int64_t cin = g.cin, cout = g.cout, ntaps = taps(g), mr = gk.mr, nr = gk.nr;
  const int64_t img = pp.dim[0] * pp.dim[1] * pp.dim[2] * cin, x_img = in_pixels(g) * cin;
  if (pp.copy && img > kPadBudget) return false;
  const int64_t kdim = ntaps * cin, wsize = kdim * cout, panels = ceil_div(cout, nr),
                kblocks = ceil_div(kdim, mr);
  const int64_t sH = pp.dim[2] * cin, sD = pp.dim[1] * sH;
  std::vector<int64_t> koff(static_cast<size_t>(kblocks * mr));
  {
    int64_t kk = 0;
    for (int64_t kd = 0; kd < g.k[0]; ++kd)
      for (int64_t kh = 0; kh < g.k[1]; ++kh)
        for (int64_t kw = 0; kw < g.k[2]; ++kw)
          for (int64_t i = 0; i < cin; ++i)
            koff[kk++] = kd * g.dil[0] * sD + kh * g.dil[1] * sH + kw * g.dil[2] * cin + i;
    for (; kk < kblocks * mr; ++kk) koff[kk] = koff[kdim - 1];
  }
  const int64_t plane = g.out[1] * g.out[2] * cout;
  // acc += the gradient of image n (padded image a) for (k-block, panel) tasks [t0, t1).
  auto image_grad = [&](const float* a, int64_t n, float* acc, int64_t t0, int64_t t1) {
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const float* ap = a + od * g.stride[0] * sD;
      const float* dp = dy + (n * g.out[0] + od) * plane;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t kb = t / panels, p = t % panels;
        gk.fn(g.out[1], g.out[2], ap, g.stride[1] * sH, g.stride[2] * cin, koff.data() + kb * mr,
              std::min(mr, kdim - kb * mr), dp + p * nr, cout, acc + kb * mr * cout + p * nr, cout,
              std::min<int64_t>(nr, cout - p * nr));
      }
    }
  };
  const int64_t tasks = kblocks * panels;
  // Below ~1M multiply-adds in all, one thread (waking a worker costs more).
  const int nt =
      g.n * g.out[0] * g.out[1] * g.out[2] * kdim * cout < (int64_t(1) << 20) ? 1 : threads::num_threads();
  // Blocks of images, one partial per block, combined in block order: one block per
  // thread, or in determinism mode a count fixed by the size (not by the thread count).
  const bool det = threads::deterministic();
  const int det_parts = det ? threads::deterministic_parts(g.n, 1, wsize * 4) : 0;
  if (det ? det_parts > 1 : (nt > 1 && g.n >= nt)) {
    float* part = scratch(1, ((det ? det_parts : nt) - 1) * wsize);  // block 0 writes dw
    const int used = threads::parallel_parts(det_parts, [&](int b, int nb) {
      float* acc = b == 0 ? dw : part + (b - 1) * wsize;
      zero(acc, wsize);
      float* buf = pp.copy ? scratch(0, img) : nullptr;
      for (int64_t n = g.n * b / nb; n < g.n * (b + 1) / nb; ++n) {
        const float* a = x + n * x_img;
        if (pp.copy) {
          pad_image(g, pp, a, buf);
          a = buf;
        }
        image_grad(a, n, acc, 0, tasks);
      }
    });
    const LeafTable& L = leaf_table();
    for (int t = 1; t < used; ++t) L.sum_rows(dw, part + (t - 1) * wsize, 1, wsize);
    return true;
  }
  zero(dw, wsize);
  float* buf = pp.copy ? scratch(0, img) : nullptr;
  const int64_t grain =
      std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, mr * nr * plane / cout));
  for (int64_t n = 0; n < g.n; ++n) {
    const float* a = x + n * x_img;
    if (pp.copy) {
      pad_image(g, pp, a, buf);
      a = buf;
    }
    threads::parallel_for(tasks, grain, [&](int64_t t0, int64_t t1) { image_grad(a, n, dw, t0, t1); });
  }
  return true;
}

// ---- Winograd F(2x2, 3x3) and F(4x4, 3x3) paths for 2-D, 3x3, stride-1 convolutions ----
// Per block of kWinoTiles output tiles: the input transform (16 planes of tiles x Cin),
// 16 GEMMs against the transformed kernel (Cin x Cout each), the output transform. 2.25x
// fewer multiply-adds than the direct tile; the blocks (not the thread count) fix the
// GEMM shapes, so the bits are the same on any number of threads. F(4x4, 3x3) (forward,
// input and kernel gradients, chosen by winograd_tile) does the same with 36 planes per
// block of kWino4Tiles 4x4 tiles: 4x fewer multiply-adds than direct, at ~20x F(2,3)'s
// rounding error (still ~1e-5 of the output's scale; tests/test_conv_winograd4.py).

constexpr int64_t kWinoTiles = 64;
constexpr int64_t kWino4Tiles = 32;       // F(4,3): 36 planes, so fewer tiles per block (L2)
constexpr int64_t kWino4Ratio100 = 75;    // F(4,3) when its GEMM work <= 0.75x F(2,3)'s (winograd_tile)
constexpr int64_t kWinoMinChannels = 32;  // below, the transforms cost more than they save (measured)

bool winograd_eligible(const Geometry& g, const LeafTable& L) {
  if (!L.wino_input) return false;  // (every level has the transforms; generic: 1.5-1.9x im2col)
  if (g.k[0] != 1 || g.in[0] != 1 || g.out[0] != 1 || g.k[1] != 3 || g.k[2] != 3) return false;
  for (int i = 0; i < 3; ++i)
    if (g.stride[i] != 1 || g.dil[i] != 1) return false;
  return g.cin >= kWinoMinChannels && g.cout >= kWinoMinChannels && g.out[1] >= 2 && g.out[2] >= 2;
}

// U[k][i][o] = (G g G^T)[k] of the 3x3 kernel g(i, o), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
// g(i, o)[kh][kw] = w[((kh*3 + kw)*cin + i)*cout + o], or with `adjoint` (the kernel of the
// input gradient: taps flipped, channels swapped) w[(((2-kh)*3 + (2-kw))*cout + o)*cin + i].
// The kernel transforms below run over blocks of kWinoKB output channels with the channel
// as the inner loop (contiguous in w and U: the compiler vectorizes it), and over the input
// channels on the threads: done per (i, o) with a gather of the 9 taps they were the serial
// part of a Winograd call (F(4,3) 64->64: 0.35 ms of a 1.8 ms batch-64 forward).
constexpr int64_t kWinoKB = 16;

// g[t][j] = tap t of kernel (i, o0 + j), j < ob (zeros after), read as winograd_kernel says.
void wino_load_taps(const float* w, int64_t cin, int64_t cout, bool adjoint, int64_t i, int64_t o0,
                    int64_t ob, float (*g)[kWinoKB]) {
  for (int t = 0; t < 9; ++t) {
    for (int64_t j = 0; j < ob; ++j)
      g[t][j] = adjoint ? w[((8 - t) * cout + o0 + j) * cin + i] : w[(t * cin + i) * cout + o0 + j];
    for (int64_t j = ob; j < kWinoKB; ++j) g[t][j] = 0.0f;
  }
}

// Runs fn(i0, i1) over the input channels, on the threads when the transform is large.
template <class Fn>
void wino_over_inputs(int64_t cin, int64_t cout, int64_t planes, Fn&& fn) {
  threads::parallel_for(cin, std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, cout * planes)),
                        fn);
}

void winograd_kernel(const float* w, int64_t cin, int64_t cout, bool adjoint, float* U) {
  const int64_t plane = cin * cout;
  wino_over_inputs(cin, cout, 16, [&](int64_t i0, int64_t i1) {
    float gk[9][kWinoKB], t[4][3][kWinoKB];
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t o0 = 0; o0 < cout; o0 += kWinoKB) {
        const int64_t ob = std::min(kWinoKB, cout - o0);
        wino_load_taps(w, cin, cout, adjoint, i, o0, ob, gk);
        for (int c = 0; c < 3; ++c)  // t = G g
          for (int64_t j = 0; j < kWinoKB; ++j) {
            const float g0 = gk[c][j], g1 = gk[3 + c][j], g2 = gk[6 + c][j];
            t[0][c][j] = g0;
            t[1][c][j] = 0.5f * (g0 + g1 + g2);
            t[2][c][j] = 0.5f * (g0 - g1 + g2);
            t[3][c][j] = g2;
          }
        for (int r = 0; r < 4; ++r) {  // U = t G^T
          float* u = U + (r * 4) * plane + i * cout + o0;
          for (int64_t j = 0; j < ob; ++j) {
            const float t0 = t[r][0][j], t1 = t[r][1][j], t2 = t[r][2][j];
            u[j] = t0;
            u[plane + j] = 0.5f * (t0 + t1 + t2);
            u[2 * plane + j] = 0.5f * (t0 - t1 + t2);
            u[3 * plane + j] = t2;
          }
        }
      }
  });
}

// U[k][i][o] = (G g G^T)[k] for F(4x4, 3x3), k over the 6x6 planes, G (6 x 3) =
// [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]; the kernel
// read as in winograd_kernel.
void winograd4_kernel(const float* w, int64_t cin, int64_t cout, bool adjoint, float* U) {
  const int64_t plane = cin * cout;
  // r[0..5] = G (g0, g1, g2)
#define FASTNET_WINO4_G(g0, g1, g2, r)                                             \
  do {                                                                             \
    (r)[0] = 0.25f * (g0);                                                         \
    (r)[1] = (-1.0f / 6.0f) * ((g0) + (g1) + (g2));                                \
    (r)[2] = (-1.0f / 6.0f) * ((g0) - (g1) + (g2));                                \
    (r)[3] = (1.0f / 24.0f) * (g0) + (1.0f / 12.0f) * (g1) + (1.0f / 6.0f) * (g2); \
    (r)[4] = (1.0f / 24.0f) * (g0) - (1.0f / 12.0f) * (g1) + (1.0f / 6.0f) * (g2); \
    (r)[5] = (g2);                                                                 \
  } while (0)
  wino_over_inputs(cin, cout, 36, [&](int64_t i0, int64_t i1) {
    float gk[9][kWinoKB], t[6][3][kWinoKB];
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t o0 = 0; o0 < cout; o0 += kWinoKB) {
        const int64_t ob = std::min(kWinoKB, cout - o0);
        wino_load_taps(w, cin, cout, adjoint, i, o0, ob, gk);
        for (int c = 0; c < 3; ++c)  // t = G g (6 x 3)
          for (int64_t j = 0; j < kWinoKB; ++j) {
            float col[6];
            FASTNET_WINO4_G(gk[c][j], gk[3 + c][j], gk[6 + c][j], col);
            for (int r = 0; r < 6; ++r) t[r][c][j] = col[r];
          }
        for (int r = 0; r < 6; ++r) {  // U = t G^T (6 x 6)
          float* u = U + (r * 6) * plane + i * cout + o0;
          for (int64_t j = 0; j < ob; ++j) {
            float col[6];
            FASTNET_WINO4_G(t[r][0][j], t[r][1][j], t[r][2][j], col);
            for (int c = 0; c < 6; ++c) u[c * plane + j] = col[c];
          }
        }
      }
  });
#undef FASTNET_WINO4_G
}

std::atomic<int> g_winograd_tile{-1};  // -1: not read yet; 0: by shape; 2 or 4: forced

int winograd_tile_setting() {
  int v = g_winograd_tile.load(std::memory_order_relaxed);
  if (v < 0) {
    v = 0;
    if (const char* env = std::getenv("FASTNET_WINOGRAD_TILE")) {
      const int e = std::atoi(env);
      if (e == 2 || e == 4) v = e;
    }
    g_winograd_tile.store(v, std::memory_order_relaxed);
  }
  return v;
}

// The output tile (2: F(2x2, 3x3), 4: F(4x4, 3x3)) for a Winograd-eligible geometry. By
// shape: F(4,3) does 36 multiplies per 4x4 tile against F(2,3)'s 16 per 2x2 (1.78x fewer on
// a large image), but its tiles waste more of a small image's edge and its transforms cost
// more per output. Measured (1 thread, batch 64, AVX-512 and AVX2, F(2,3)/F(4,3) time):
// 28x28x64 `same` 1.48-1.55x, 30x30x32->64 valid 1.38-1.43x, 16x16x32 1.33-1.66x, 14x14x64
// 1.06-1.21x (GEMM work ratio 0.56-0.73); 10x10 and 9x9 `same` 0.92-1.02x (ratio 0.81), 6x6
// outputs 0.71-0.80x (ratio 1.0); the kernel gradient alike (28x28 1.43x, 7x7 1.52x, 10x10
// 1.03x, 6x6 0.87x). Hence F(4,3) when its GEMM work is <= 0.75x F(2,3)'s.
int winograd_tile(const Geometry& g) {
  const int forced = winograd_tile_setting();
  if (forced) return forced;
  const int64_t OH = g.out[1], OW = g.out[2];
  if (OH < 4 || OW < 4) return 2;
  const int64_t t2 = ceil_div(OH, 2) * ceil_div(OW, 2), t4 = ceil_div(OH, 4) * ceil_div(OW, 4);
  return 36 * t4 * 100 <= 16 * t2 * kWino4Ratio100 ? 4 : 2;
}

void winograd_run(const Geometry& g, const LeafTable& L, const float* x, const float* w, bool adjoint,
                  const float* bias, float* y, bool relu = false) {
  const int64_t cin = g.cin, cout = g.cout, H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int m = L.wino4_input ? winograd_tile(g) : 2;
  const int64_t planes = (m + 2) * (m + 2), bt = m == 4 ? kWino4Tiles : kWinoTiles;
  const int64_t th = ceil_div(OH, m), tw = ceil_div(OW, m), tiles = g.n * th * tw;
  const int64_t usize = planes * cin * cout;
  float* U = scratch(2, usize + cin);
  (m == 4 ? winograd4_kernel : winograd_kernel)(w, cin, cout, adjoint, U);
  const float* zeros = U + usize;
  zero(U + usize, cin);
  const auto input = m == 4 ? L.wino4_input : L.wino_input;
  const auto output = m == 4 ? L.wino4_output : L.wino_output;
  const int64_t blocks = ceil_div(tiles, bt);
  threads::parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    float* V = scratch(0, planes * bt * (cin + cout) + cout);
    float* M = V + planes * bt * cin;
    float* trash = M + planes * bt * cout;
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t t0 = b * bt, nt = std::min(bt, tiles - t0);
      input(x, H, W, cin, g.pad[1], g.pad[2], th, tw, t0, nt, zeros, V);
      for (int64_t k = 0; k < planes; ++k)
        sgemm(false, false, nt, cout, cin, 1.0f, V + k * nt * cin, cin, U + k * cin * cout, cout, 0.0f,
              M + k * nt * cout, cout);
      output(M, nt, cout, bias, relu, y, OH, OW, th, tw, t0, trash);
    }
  });
}

// dw (3, 3, Cin, Cout) = the kernel gradient in the Winograd domain: per block of tiles
// dU[k] += V[k]^T dM[k] (V the input transform of x, dM the adjoint output transform of dy),
// partials per block range combined in order, then dw = G^T dU G (the adjoint of
// winograd_kernel).
void winograd_grad(const Geometry& g, const LeafTable& L, const float* x, const float* dy, float* dw) {
  const int64_t cin = g.cin, cout = g.cout, H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const int m = L.wino4_output_adjoint ? winograd_tile(g) : 2;
  const int64_t planes = (m + 2) * (m + 2), bt = m == 4 ? kWino4Tiles : kWinoTiles;
  const int64_t th = ceil_div(OH, m), tw = ceil_div(OW, m), tiles = g.n * th * tw;
  const int64_t usize = planes * cin * cout, plane = cin * cout;
  const int64_t blocks = ceil_div(tiles, bt);
  const bool det = threads::deterministic();
  const int det_parts = det ? threads::deterministic_parts(blocks, 1, usize * 4) : 0;
  const int max_parts = det ? det_parts : std::max(1, threads::num_threads());
  float* parts = scratch(2, max_parts * usize + std::max(cin, cout));
  float* zeros = parts + max_parts * usize;
  zero(zeros, std::max(cin, cout));
  const auto input = m == 4 ? L.wino4_input : L.wino_input;
  const auto adjoint = m == 4 ? L.wino4_output_adjoint : L.wino_output_adjoint;
  auto part = [&](int p, int np) {
    float* acc = parts + p * usize;
    float* V = scratch(0, planes * bt * (cin + cout));
    float* dM = V + planes * bt * cin;
    const int64_t b0 = blocks * p / np, b1 = blocks * (p + 1) / np;
    if (b0 >= b1) zero(acc, usize);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t t0 = b * bt, nt = std::min(bt, tiles - t0);
      input(x, H, W, cin, g.pad[1], g.pad[2], th, tw, t0, nt, zeros, V);
      adjoint(dy, OH, OW, cout, th, tw, t0, nt, zeros, dM);
      for (int64_t k = 0; k < planes; ++k)
        sgemm(true, false, cin, cout, nt, 1.0f, V + k * nt * cin, cin, dM + k * nt * cout, cout,
              b == b0 ? 0.0f : 1.0f, acc + k * plane, cout);
    }
  };
  // One block, or under ~1M multiply-adds: the caller alone (no worker woken).
  const bool serial = !det && (blocks < 2 || tiles * planes * cin * cout < (int64_t(1) << 20));
  int used = 1;
  if (serial)
    part(0, 1);
  else
    used = threads::parallel_parts(det_parts, part);
  for (int p = 1; p < used; ++p) L.sum_rows(parts, parts + p * usize, 1, usize);
  if (m == 4) {
    // dw = G^T dU G per (i, o) (the adjoint of winograd4_kernel), G^T (3 x 6) =
    // [1/4 -1/6 -1/6 1/24 1/24 0; 0 -1/6 1/6 1/12 -1/12 0; 0 -1/6 -1/6 1/6 1/6 1].
#define FASTNET_WINO4_GT(u0, u1, u2, u3, u4, u5, r)                                         \
  do {                                                                                      \
    (r)[0] = 0.25f * (u0) - (1.0f / 6.0f) * ((u1) + (u2)) + (1.0f / 24.0f) * ((u3) + (u4)); \
    (r)[1] = (1.0f / 6.0f) * ((u2) - (u1)) + (1.0f / 12.0f) * ((u3) - (u4));                \
    (r)[2] = (1.0f / 6.0f) * ((u3) + (u4) - (u1) - (u2)) + (u5);                            \
  } while (0)
    wino_over_inputs(cin, cout, 36, [&](int64_t i0, int64_t i1) {
      float t[6][3][kWinoKB];
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t o0 = 0; o0 < cout; o0 += kWinoKB) {
          const int64_t ob = std::min(kWinoKB, cout - o0);
          const float* u = parts + i * cout + o0;
          for (int r = 0; r < 6; ++r)  // t = dU G (6 x 3)
            for (int64_t j = 0; j < ob; ++j) {
              float col[3];
              FASTNET_WINO4_GT(u[(6 * r) * plane + j], u[(6 * r + 1) * plane + j], u[(6 * r + 2) * plane + j],
                               u[(6 * r + 3) * plane + j], u[(6 * r + 4) * plane + j],
                               u[(6 * r + 5) * plane + j], col);
              for (int c = 0; c < 3; ++c) t[r][c][j] = col[c];
            }
          for (int c = 0; c < 3; ++c) {  // dw = G^T t (3 x 3)
            float* d0 = dw + ((0 * 3 + c) * cin + i) * cout + o0;
            float* d1 = dw + ((1 * 3 + c) * cin + i) * cout + o0;
            float* d2 = dw + ((2 * 3 + c) * cin + i) * cout + o0;
            for (int64_t j = 0; j < ob; ++j) {
              float row[3];
              FASTNET_WINO4_GT(t[0][c][j], t[1][c][j], t[2][c][j], t[3][c][j], t[4][c][j], t[5][c][j], row);
              d0[j] = row[0];
              d1[j] = row[1];
              d2[j] = row[2];
            }
          }
        }
    });
#undef FASTNET_WINO4_GT
    return;
  }
  // dw = G^T dU G per (i, o), G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]; o inner (vectorized),
  // the input channels on the threads.
  wino_over_inputs(cin, cout, 16, [&](int64_t i0, int64_t i1) {
    float t[4][3][kWinoKB];
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t o0 = 0; o0 < cout; o0 += kWinoKB) {
        const int64_t ob = std::min(kWinoKB, cout - o0);
        const float* u = parts + i * cout + o0;
        for (int r = 0; r < 4; ++r)  // t = dU G (4 x 3)
          for (int64_t j = 0; j < ob; ++j) {
            const float u0 = u[(4 * r) * plane + j], u1 = u[(4 * r + 1) * plane + j],
                        u2 = u[(4 * r + 2) * plane + j], u3 = u[(4 * r + 3) * plane + j];
            t[r][0][j] = u0 + 0.5f * (u1 + u2);
            t[r][1][j] = 0.5f * (u1 - u2);
            t[r][2][j] = 0.5f * (u1 + u2) + u3;
          }
        for (int c = 0; c < 3; ++c) {  // dw = G^T t (3 x 3)
          float* d0 = dw + ((0 * 3 + c) * cin + i) * cout + o0;
          float* d1 = dw + ((1 * 3 + c) * cin + i) * cout + o0;
          float* d2 = dw + ((2 * 3 + c) * cin + i) * cout + o0;
          for (int64_t j = 0; j < ob; ++j) {
            d0[j] = t[0][c][j] + 0.5f * (t[1][c][j] + t[2][c][j]);
            d1[j] = 0.5f * (t[1][c][j] - t[2][c][j]);
            d2[j] = 0.5f * (t[1][c][j] + t[2][c][j]) + t[3][c][j];
          }
        }
      }
  });
}

bool all_stride_one(const Geometry& g) { return g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1; }

}  // namespace

void set_winograd_tile(int m) { g_winograd_tile.store(m == 2 || m == 4 ? m : 0, std::memory_order_relaxed); }
int get_winograd_tile() { return winograd_tile_setting(); }

void conv_forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y) {
  conv_forward_act(g, x, w, bias, Activation::kNone, y);
}

void relu_backward_from_output(const float* y, const float* dy, float* dz, int64_t n) {
  if (n <= 0) return;
  const auto bwd = elementwise::table().relu_bwd;  // dz = y > 0 ? dy : 0 (y > 0 iff its input > 0)
  threads::parallel_for(n, 1 << 16, [&](int64_t i0, int64_t i1) { bwd(y + i0, dy + i0, dz + i0, i1 - i0); });
}

// y (rows, Cout) = act(im2col(x) (rows, K*Cin) @ w (K*Cin, Cout) [+ bias])
void conv_forward_act(const Geometry& g, const float* x, const float* w, const float* bias, Activation act,
                      float* y) {
  const int64_t rows = out_rows(g), cout = g.cout, kdim = taps(g) * g.cin;
  if (rows <= 0 || cout <= 0) return;
  const bool relu = act == Activation::kRelu;
  if (is_pointwise(g)) {
    sgemm(false, false, rows, cout, g.cin, 1.0f, x, g.cin, w, cout, 0.0f, y, cout);
    if (bias || relu) {
      const LeafTable& L = leaf_table();
      threads::parallel_for(rows, std::max<int64_t>(1, 65536 / cout), [&](int64_t r0, int64_t r1) {
        if (bias) L.add_bias(y + r0 * cout, r1 - r0, cout, bias);
        if (relu) relu_inplace(y + r0 * cout, (r1 - r0) * cout);
      });
    }
    return;
  }
  const LeafTable& L = leaf_table();
  if (winograd_eligible(g, L)) {
    winograd_run(g, L, x, w, false, bias, y, relu);
    return;
  }
  if (const DirectKernel* dk = pick_direct(L, cout)) {
    if (direct_run(g, *dk, x, pack_kernel(w, bias, taps(g), g.cin, cout, dk->nr, false), y, relu)) return;
  }
  const int nt = threads::num_threads();
  int64_t tr = tile_rows(kdim);
  const bool par = nt > 1 && rows >= kMinRowsPerThread * nt;
  // Tiles sized by the thread count give GEMMs whose path (and rounding) depends on it.
  if (par && !threads::deterministic()) tr = std::min(tr, ceil_div(rows, nt));
  const int64_t ntiles = ceil_div(rows, tr);
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * tr, r1 = std::min(rows, r0 + tr);
      float* cols = scratch(0, (r1 - r0) * kdim);
      L.im2col(g, x, r0, r1, cols);
      sgemm(false, false, r1 - r0, cout, kdim, 1.0f, cols, kdim, w, cout, 0.0f, y + r0 * cout, cout);
      if (bias) L.add_bias(y + r0 * cout, r1 - r0, cout, bias);
      if (relu) relu_inplace(y + r0 * cout, (r1 - r0) * cout);
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
  const DirectKernel* dk = pick_direct(L, g.cin);
  // (few input channels: the direct tile would waste most of its width; use col2im). The
  // determinism mode judges "few" by the AVX-512 tile width (16) on every level, so that AVX2
  // and AVX-512 take the same path and give the same bits.
  const int64_t few = threads::deterministic() ? 16 : (dk ? dk->nr : 0);
  if (all_stride_one(g) && (!dk || g.cin * 2 > few)) {
    // Stride 1: the input gradient is a convolution of dy with the flipped, transposed kernel.
    Geometry a = g;
    for (int i = 0; i < 3; ++i) {
      a.in[i] = g.out[i];
      a.out[i] = g.in[i];
      a.pad[i] = (g.k[i] - 1) * g.dil[i] - g.pad[i];
    }
    a.cin = g.cout;
    a.cout = g.cin;
    if (winograd_eligible(a, L)) {
      winograd_run(a, L, dy, w, true, nullptr, dx);
      return;
    }
    if (dk && direct_run(a, *dk, dy, pack_kernel(w, nullptr, taps(g), g.cout, g.cin, dk->nr, true), dx))
      return;
  }
  const int nt = threads::num_threads();
  const int64_t tr = tile_rows(kdim);
  // Determinism mode starts the row tiles at every image, so that splitting the images
  // over threads leaves the tiles (and each GEMM's path) as they are on one thread.
  const bool per_image = threads::deterministic();
  auto run = [&](int64_t n0, int64_t n1) {
    zero(dx + n0 * img_in, (n1 - n0) * img_in);
    for (int64_t s0 = n0; s0 < n1; s0 = per_image ? s0 + 1 : n1) {
      const int64_t rend = (per_image ? s0 + 1 : n1) * img_rows;
      for (int64_t r0 = s0 * img_rows; r0 < rend; r0 += tr) {
        const int64_t r1 = std::min(rend, r0 + tr);
        float* cols = scratch(0, (r1 - r0) * kdim);
        sgemm(false, true, r1 - r0, kdim, cout, 1.0f, dy + r0 * cout, cout, w, cout, 0.0f, cols, kdim);
        L.col2im(g, cols, r0, r1, dx);
      }
    }
  };
  const int64_t img_macs = std::max<int64_t>(1, img_rows * kdim * cout);
  if (nt > 1 && g.n >= nt)
    threads::parallel_for(g.n, std::max<int64_t>(1, (int64_t(1) << 20) / img_macs), run);
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
  if (winograd_eligible(g, L)) {
    winograd_grad(g, L, x, dy, dw);
    return;
  }
  if (L.grad_wide.fn) {
    const GradKernel& gk = (L.grad_narrow.fn && cout <= L.grad_narrow.nr) ? L.grad_narrow : L.grad_wide;
    if (direct_grad(g, gk, x, dy, dw)) return;
  }
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
  // Blocks of row tiles, one partial per block, combined in block order: one block per
  // thread (tiles shrunk to spread the rows), or in determinism mode the tile size kept and
  // a block count fixed by the size, so the bits do not depend on the thread count.
  const bool det = threads::deterministic();
  if (!det) {
    if (nt <= 1 || rows < kMinRowsPerThread * nt) {
      run(0, ceil_div(rows, tr), dw);
      return;
    }
    tr = std::min(tr, ceil_div(rows, nt));
  }
  const int64_t ntiles = ceil_div(rows, tr);
  const int det_parts = det ? threads::deterministic_parts(ntiles, 1, wsize * 4) : 0;
  if (det && det_parts <= 1) {
    run(0, ntiles, dw);
    return;
  }
  float* part = scratch(1, ((det ? det_parts : nt) - 1) * wsize);  // block 0 writes dw
  const int used = threads::parallel_parts(det_parts, [&](int b, int nb) {
    run(ntiles * b / nb, ntiles * (b + 1) / nb, b == 0 ? dw : part + (b - 1) * wsize);
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
  const bool det = threads::deterministic();
  const int fixed =
      det ? threads::deterministic_parts(
                lines, std::max<int64_t>(1, 65536 * lines / std::max<int64_t>(work, 1)), wsize * 4)
          : 0;
  if (det ? fixed <= 1 : (nt <= 1 || lines < nt || work < 65536)) {
    run(0, lines, dw);
    return;
  }
  float* part = scratch(1, ((det ? fixed : nt) - 1) * wsize);
  const int used = threads::parallel_parts(fixed, [&](int p, int np) {
    float* acc = p == 0 ? dw : part + (p - 1) * wsize;
    if (p != 0) zero(acc, wsize);
    run(lines * p / np, lines * (p + 1) / np, acc);
  });
  for (int t = 1; t < used; ++t) L.sum_rows(dw, part + (t - 1) * wsize, 1, wsize);
}

}  // namespace conv
}  // namespace fastnet
