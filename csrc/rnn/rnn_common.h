// Shared pieces of the recurrent drivers (lstm.cpp, gru.cpp, simple_rnn.cpp). Internal.
//
// Every driver has the same shape:
//  * the input projection of all steps is one GEMM, xp (N*T, gU) = x @ kernel (+ bias)
//    (except the LSTM without dropout masks, whose fused step multiplies [x_t | h] by the
//    stacked kernels and applies the gates in registers: lstm.cpp, rnn_leaf.h);
//  * the recurrent kernel is packed once per call (rnn_table.h) for the per-step product;
//  * the batch rows are split between the pool's threads once per sequence: a row's
//    recurrence only depends on itself, so each thread runs all T steps on its own rows
//    with no synchronisation between steps;
//  * per-step matrices are time-major, (T, N, .), so that one step's rows are one
//    contiguous block streaming through the cache: xp, the gate gradients, and hs, the
//    hidden state before each step (kept in the workspace), with which the backward
//    computes the recurrent kernel's gradient as one GEMM over all steps, hs^T @ dgates;
//  * each thread keeps its rows' current state contiguous for the step product.
// Masks (N, T), in input time order: at a false step the state is carried unchanged and
// the output repeats the previous step's output (zeros before the first step), as Keras.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fastnet/gemm.h"
#include "fastnet/memory.h"
#include "fastnet/rnn.h"
#include "fastnet/threads.h"
#include "rnn/rnn_table.h"

namespace fastnet {
namespace rnn {
namespace detail {

// An uninitialised float buffer (std::vector would zero megabytes it then overwrites),
// from fastnet's buffer cache: the same sizes come back every training step.
using Buf = memory::FloatBuffer;

// Row stride of the per-thread A operands of the step products: one cache line more
// than the row so the rows of a register tile do not fall into the same L1 sets.
inline int64_t padded_ld(int64_t cols) { return cols + 16; }

// Copies the state rows [r0, r1) of the first step (h0 or zeros, see init_h) into the
// thread's contiguous state buffer (rows x U).
inline void load_h(const SeqArgs& a, const float* hs, int64_t r0, int64_t r1, float* hcur) {
  const int64_t first = a.go_backwards ? a.t - 1 : 0;
  for (int64_t r = r0; r < r1; ++r)
    std::memcpy(hcur + (r - r0) * a.u, hs + (first * a.n + r) * a.u, sizeof(float) * a.u);
}

inline int64_t time_at(const SeqArgs& a, int64_t s) { return a.go_backwards ? a.t - 1 - s : s; }

inline bool step_on(const SeqArgs& a, int64_t r, int64_t tt) {
  return a.mask == nullptr || a.mask[r * a.t + tt] != 0;
}

// Runs fn(r0, r1) over a partition of the batch rows, one contiguous block per thread.
// flops_per_step sizes the decision: tiny problems stay on the calling thread.
template <class F>
void over_rows(const SeqArgs& a, int64_t flops_per_row_step, F&& fn) {
  const int64_t work = a.n * a.t * flops_per_row_step;
  int nt = threads::num_threads();
  if (work < (int64_t{1} << 18) || a.n < 2) nt = 1;
  if (nt > a.n) nt = static_cast<int>(a.n);
  if (nt <= 1) {
    fn(int64_t{0}, a.n);
    return;
  }
  threads::parallel_run(nt, [&](int tid, int nth) {
    const int64_t r0 = a.n * tid / nth, r1 = a.n * (tid + 1) / nth;
    if (r0 < r1) fn(r0, r1);
  });
}

// Column sums of a (rows x cols) matrix into out (overwritten), split over column blocks.
inline void col_sums(const float* m, int64_t rows, int64_t cols, float* out) {
  threads::parallel_for(cols, 64, [&](int64_t c0, int64_t c1) {
    std::fill(out + c0, out + c1, 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = c0; j < c1; ++j) out[j] += m[r * cols + j];
  });
}

// Where the state after step s goes: the next step's hs slot, or the final-state row
// of the packed output after the last step.
inline float* next_h(const SeqArgs& a, float* hs, int64_t s, int64_t r, int64_t states) {
  if (s + 1 < a.t) return hs + (time_at(a, s + 1) * a.n + r) * a.u;
  return a.packed + r * (a.t + states) * a.u + a.t * a.u;
}

// Writes h0 (or zeros) into the hs slot of the first processed step for rows [r0, r1).
inline void init_h(const SeqArgs& a, float* hs, int64_t r0, int64_t r1) {
  const int64_t first = time_at(a, 0);
  for (int64_t r = r0; r < r1; ++r) {
    float* dst = hs + (first * a.n + r) * a.u;
    if (a.h0)
      std::memcpy(dst, a.h0 + r * a.u, sizeof(float) * a.u);
    else
      std::fill(dst, dst + a.u, 0.0f);
  }
}

// x (N, T, I) -> time-major (T, N, I); with m (N, I), each row times its mask row.
inline Buf time_major(const SeqArgs& a, const float* m = nullptr) {
  Buf xt(a.t * a.n * a.in);
  float* dst = xt.data();
  threads::parallel_for(a.n, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, a.t * a.in)),
                        [&](int64_t r0, int64_t r1) {
                          for (int64_t r = r0; r < r1; ++r)
                            for (int64_t tt = 0; tt < a.t; ++tt) {
                              float* d = dst + (tt * a.n + r) * a.in;
                              const float* x = a.x + (r * a.t + tt) * a.in;
                              if (m == nullptr) {
                                std::memcpy(d, x, sizeof(float) * a.in);
                              } else {
                                const float* mr = m + r * a.in;
                                for (int64_t j = 0; j < a.in; ++j) d[j] = x[j] * mr[j];
                              }
                            }
                        });
  return xt;
}

// The input dropout mask of gate gi, (N, I), or null.
inline const float* in_mask_of(const SeqArgs& a, int64_t gi) {
  if (a.in_mask == nullptr) return nullptr;
  return a.in_mask + (a.in_mask_count == 1 ? 0 : gi) * a.n * a.in;
}

// C (m x n) = ADD + A (m x k, row stride lda) @ op(B) on the recurrent leaf, for the tall
// products (m = N*T rows): B is packed once, A is read in place (no packing pass), the
// rows are split in blocks across the pool. op(B) = B (k x n, ldb) or, with trans_b, the
// transpose of B given as n x k. ADD as RnnTable::gemm (ld_add 0 broadcasts a bias row).
inline void tall_gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                      int64_t ldb, bool trans_b, const float* add, int64_t ld_add, float* c, int64_t ldc) {
  const RnnTable& tb = table();
  Buf bp(packed_size(tb, k, n));
  tb.pack_b(k, n, b, ldb, trans_b, bp.data());
  threads::parallel_for((m + 63) / 64, 1, [&](int64_t b0, int64_t b1) {
    const int64_t r0 = b0 * 64, r1 = std::min(m, b1 * 64);
    for (int64_t r = r0; r < r1; r += 64) {
      const int64_t rows = std::min<int64_t>(64, r1 - r);
      tb.gemm(rows, n, k, a + r * lda, lda, bp.data(), add ? add + r * ld_add : nullptr, ld_add, c + r * ldc,
              ldc);
    }
  });
}

// xp (T*N, g) = x @ kernel (+ bias row), time-major. With per-gate input masks, gate
// gi's columns are (x * in_mask[gi]) @ kernel[:, gi].
inline Buf input_projection(const SeqArgs& a, int64_t g, const float* bias) {
  Buf xp(a.n * a.t * g);
  if (a.in_mask == nullptr || a.in_mask_count == 1) {
    const Buf xt = time_major(a, in_mask_of(a, 0));
    tall_gemm(a.n * a.t, g, a.in, xt.data(), a.in, a.kernel, g, false, bias, 0, xp.data(), g);
    return xp;
  }
  for (int64_t gi = 0; gi < g / a.u; ++gi) {
    const Buf xt = time_major(a, in_mask_of(a, gi));
    tall_gemm(a.n * a.t, a.u, a.in, xt.data(), a.in, a.kernel + gi * a.u, g, false,
              bias ? bias + gi * a.u : nullptr, 0, xp.data() + gi * a.u, g);
  }
  return xp;
}

// The recurrent kernel packed for the step products: whole (U x gU) without a recurrent
// dropout mask, else one (U x U) block per gate, since each gate multiplies its own masked
// copy of the state. trans packs the transposes (for the backward's dh = dz @ U^T).
struct RecPack {
  RecPack(int64_t size, int64_t blk) : bp(size), block(blk) {}
  Buf bp;
  int64_t block;  // floats per gate block (per-gate packing), 0 when whole
};

inline RecPack pack_recurrent(const SeqArgs& a, int64_t g, bool trans) {
  const RnnTable& tb = table();
  const int64_t u = a.u;
  if (a.rec_mask == nullptr) {
    RecPack p(trans ? packed_size(tb, g, u) : packed_size(tb, u, g), 0);
    if (trans)
      tb.pack_b(g, u, a.recurrent, g, true, p.bp.data());
    else
      tb.pack_b(u, g, a.recurrent, g, false, p.bp.data());
    return p;
  }
  const int64_t gates = g / u, block = packed_size(tb, u, u);
  RecPack p(gates * block, block);
  for (int64_t gi = 0; gi < gates; ++gi)
    tb.pack_b(u, u, a.recurrent + gi * u, g, trans, p.bp.data() + gi * block);
  return p;
}

// Forward step product for rows [r0, r1): c (rows x g, ldc) = ADD + h @ U, or per gate
// ADD_g + (h * rec_mask[g]) @ U_g. h is the thread's contiguous state (rows x U); hm is
// rows x U scratch. ADD as RnnTable::gemm (ld_add 0 broadcasts a row).
inline void rec_forward(const SeqArgs& a, int64_t g, const RecPack& p, int64_t r0, int64_t r1, const float* h,
                        float* hm, const float* add, int64_t ld_add, float* c, int64_t ldc) {
  const RnnTable& tb = table();
  const int64_t rows = r1 - r0, u = a.u;
  if (p.block == 0) {
    tb.gemm(rows, g, u, h, u, p.bp.data(), add, ld_add, c, ldc);
    return;
  }
  for (int64_t gi = 0; gi < g / u; ++gi) {
    const float* m = a.rec_mask + (gi * a.n + r0) * u;
    for (int64_t i = 0; i < rows * u; ++i) hm[i] = h[i] * m[i];
    tb.gemm(rows, u, u, hm, u, p.bp.data() + gi * p.block, add ? add + gi * u : nullptr, ld_add, c + gi * u,
            ldc);
  }
}

// Backward step product for rows [r0, r1): dh (rows x U) += dz @ U^T, or per gate
// (dz_g @ U_g^T) * rec_mask[g]. tmp is rows x U scratch.
inline void rec_backward(const SeqArgs& a, int64_t g, const RecPack& p, int64_t r0, int64_t r1,
                         const float* dz, int64_t ldz, float* dh, float* tmp) {
  const RnnTable& tb = table();
  const int64_t rows = r1 - r0, u = a.u;
  if (p.block == 0) {
    tb.gemm(rows, u, g, dz, ldz, p.bp.data(), dh, u, dh, u);
    return;
  }
  for (int64_t gi = 0; gi < g / u; ++gi) {
    tb.gemm(rows, u, u, dz + gi * u, ldz, p.bp.data() + gi * p.block, nullptr, 0, tmp, u);
    const float* m = a.rec_mask + (gi * a.n + r0) * u;
    for (int64_t i = 0; i < rows * u; ++i) dh[i] += tmp[i] * m[i];
  }
}

// The weight and input gradients with dropout masks, gate by gate: dkernel_g =
// (x * in_mask_g)^T dxp_g, dx = sum_g (dxp_g kernel_g^T) * in_mask_g, drecurrent_g =
// (hs * rec_mask_g)^T drec_g. dxt receives the time-major dx.
inline void masked_weight_grads(const SeqArgs& a, int64_t g, const float* dxp, const float* hs,
                                const float* drec, float* dkernel, float* drecurrent, float* dxt) {
  const int64_t rows = a.n * a.t, in = a.in, u = a.u, gates = g / u;
  const int64_t rb = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, u));
  if (a.rec_mask == nullptr) {
    sgemm(true, false, u, g, rows, 1.0f, hs, u, drec, g, 0.0f, drecurrent, g);
  } else {
    Buf hm(rows * u);
    for (int64_t gi = 0; gi < gates; ++gi) {
      const float* m = a.rec_mask + gi * a.n * u;
      threads::parallel_for(rows, rb, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const float* mr = m + (q % a.n) * u;  // time-major row q is batch row q % N
          for (int64_t j = 0; j < u; ++j) hm.data()[q * u + j] = hs[q * u + j] * mr[j];
        }
      });
      sgemm(true, false, u, u, rows, 1.0f, hm.data(), u, drec + gi * u, g, 0.0f, drecurrent + gi * u, g);
    }
  }
  const int64_t cols = a.in_mask == nullptr || a.in_mask_count == 1 ? g : u;
  const int64_t passes = g / cols;
  Buf tmp(passes > 1 ? rows * in : 0);
  for (int64_t gi = 0; gi < passes; ++gi) {
    const float* m = in_mask_of(a, gi);
    const Buf xt = time_major(a, m);
    sgemm(true, false, in, cols, rows, 1.0f, xt.data(), in, dxp + gi * cols, g, 0.0f, dkernel + gi * cols, g);
    float* out = passes > 1 ? tmp.data() : dxt;
    tall_gemm(rows, in, cols, dxp + gi * cols, g, a.kernel + gi * cols, g, true, nullptr, 0, out, in);
    threads::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, in)),
                          [&](int64_t q0, int64_t q1) {
                            for (int64_t q = q0; q < q1; ++q) {
                              const float* mr = m ? m + (q % a.n) * in : nullptr;
                              float* d = dxt + q * in;
                              const float* o = out + q * in;
                              for (int64_t j = 0; j < in; ++j) {
                                const float v = mr ? o[j] * mr[j] : o[j];
                                d[j] = passes > 1 && gi > 0 ? d[j] + v : v;
                              }
                            }
                          });
  }
}

// The weight and input gradients after the step loop, each one GEMM over all steps
// (time-major rows): dkernel = x^T dxp, dx = dxp kernel^T, drecurrent = hs^T drec.
inline void finish_backward(const SeqArgs& a, int64_t g, const float* dxp, const float* hs, const float* drec,
                            float* dx, float* dkernel, float* drecurrent) {
  const int64_t rows = a.n * a.t, in = a.in, u = a.u;
  Buf dxt(rows * in);
  if (a.in_mask != nullptr || a.rec_mask != nullptr) {
    masked_weight_grads(a, g, dxp, hs, drec, dkernel, drecurrent, dxt.data());
  } else {
    const Buf xt = time_major(a);
    if (drec == dxp) {
      // One GEMM for both kernels: [x | hs]^T @ dxp, so dxp is streamed (and packed) once.
      const int64_t w = in + u;
      Buf xh(rows * w), out(w * g);
      float* p = xh.data();
      threads::parallel_for(rows, std::max<int64_t>(1, 16384 / w), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          std::memcpy(p + r * w, xt.data() + r * in, sizeof(float) * in);
          std::memcpy(p + r * w + in, hs + r * u, sizeof(float) * u);
        }
      });
      sgemm(true, false, w, g, rows, 1.0f, xh.data(), w, dxp, g, 0.0f, out.data(), g);
      std::memcpy(dkernel, out.data(), sizeof(float) * in * g);
      std::memcpy(drecurrent, out.data() + in * g, sizeof(float) * u * g);
    } else {
      sgemm(true, false, in, g, rows, 1.0f, xt.data(), in, dxp, g, 0.0f, dkernel, g);
      sgemm(true, false, u, g, rows, 1.0f, hs, u, drec, g, 0.0f, drecurrent, g);
    }
    tall_gemm(rows, in, g, dxp, g, a.kernel, g, true, nullptr, 0, dxt.data(), in);
  }
  const float* src = dxt.data();
  threads::parallel_for(
      a.n, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, a.t * in)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t tt = 0; tt < a.t; ++tt)
            std::memcpy(dx + (r * a.t + tt) * in, src + (tt * a.n + r) * in, sizeof(float) * in);
      });
}

// Empty batch: zero weight gradients, nothing else.
inline void empty_backward(const SeqArgs& a, int64_t g, int64_t bias_size, float* dkernel, float* drecurrent,
                           float* dbias) {
  std::fill(dkernel, dkernel + a.in * g, 0.0f);
  std::fill(drecurrent, drecurrent + a.u * g, 0.0f);
  if (dbias) std::fill(dbias, dbias + bias_size, 0.0f);
}

}  // namespace detail
}  // namespace rnn
}  // namespace fastnet
