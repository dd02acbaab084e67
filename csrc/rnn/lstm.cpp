// LSTM sequence forward and backward-through-time (see fastnet/rnn.h, rnn_common.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "fastnet/rnn.h"
#include "rnn/rnn_common.h"
#include "rnn/rnn_table.h"

namespace fastnet {
namespace rnn {

// Workspace: gates (T, N, 4U) after activation | c (T, N, U) | tanh(c) (T, N, U) | hs (T, N, U).
int64_t lstm_workspace_size(int64_t n, int64_t t, int64_t u) { return t * n * 7 * u; }

namespace {

// Where a masked step (mask false) leaves row r: the state carried (c from cp, h from hprev)
// and the last output repeated (zeros before the first step).
void carry_row(const SeqArgs& a, int64_t s, int64_t r, const float* cp, const float* hprev, float* cn,
               float* hrow) {
  const int64_t u = a.u, ps = (a.t + 2) * u;
  float* out = a.packed + r * ps + s * u;
  if (cp)
    std::memcpy(cn, cp, sizeof(float) * u);
  else
    std::fill(cn, cn + u, 0.0f);
  std::memcpy(hrow, hprev, sizeof(float) * u);
  if (s > 0)
    std::memcpy(out, out - u, sizeof(float) * u);
  else
    std::fill(out, out + u, 0.0f);
}

// The forward without dropout masks: each step is one fused leaf call per thread (rnn_leaf.h,
// lstm_step), [x_t | h] @ [kernel; recurrent] with the gates, c and h applied in registers,
// so neither the input projection (T*N x 4U) nor the pre-activations go through memory.
// The thread keeps its rows' [x_t | h] contiguous, double buffered: h of the step is
// written into the other buffer while this one is still being read.
void lstm_forward_fused(const SeqArgs& a, float* ws) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, in = a.in, g4 = 4 * u, ps = (t + 2) * u, k = in + u;
  const RnnTable& tb = table();
  Buf bp(lstm_packed_size(tb, in, u));
  tb.pack_lstm(in, u, a.kernel, a.recurrent, bp.data());
  float* gates = ws;
  float* cs = gates + t * n * g4;
  float* tcs = cs + t * n * u;
  float* hs = tcs + t * n * u;
  over_rows(a, 2 * k * g4, [&](int64_t r0, int64_t r1) {
    const int64_t rows = r1 - r0, ld = padded_ld(k);
    std::vector<float> buf0(static_cast<size_t>(rows * ld)), buf1(buf0.size());
    float *cur = buf0.data(), *nxt = buf1.data();
    init_h(a, hs, r0, r1);
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(cur + (r - r0) * ld + in, hs + (time_at(a, 0) * n + r) * u, sizeof(float) * u);
    for (int64_t s = 0; s < t; ++s) {
      const int64_t tt = time_at(a, s);
      for (int64_t r = r0; r < r1; ++r)
        std::memcpy(cur + (r - r0) * ld, a.x + (r * t + tt) * in, sizeof(float) * in);
      const float* cp = s > 0 ? cs + ((s - 1) * n + r0) * u : (a.c0 ? a.c0 + r0 * u : nullptr);
      float* cn = cs + (s * n + r0) * u;
      tb.lstm_step(rows, in, u, cur, ld, bp.data(), a.bias, cp, gates + (s * n + r0) * g4, cn,
                   tcs + (s * n + r0) * u, nxt + in, ld);
      for (int64_t r = r0; r < r1; ++r) {
        float* hrow = nxt + (r - r0) * ld + in;
        if (!step_on(a, r, tt))
          carry_row(a, s, r, cp ? cp + (r - r0) * u : nullptr, cur + (r - r0) * ld + in, cn + (r - r0) * u,
                    hrow);
        else
          std::memcpy(a.packed + r * ps + s * u, hrow, sizeof(float) * u);
        std::memcpy(next_h(a, hs, s, r, 2), hrow, sizeof(float) * u);
      }
      std::swap(cur, nxt);
    }
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(a.packed + r * ps + (t + 1) * u, cs + ((t - 1) * n + r) * u, sizeof(float) * u);
  });
}

}  // namespace

void lstm_forward(const SeqArgs& a, float* ws) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, g4 = 4 * u, ps = (t + 2) * u;
  if (n == 0) return;  // empty batch: nothing to compute (and no null memcpy)
  if (a.in_mask == nullptr && a.rec_mask == nullptr) return lstm_forward_fused(a, ws);
  // With dropout masks each gate reads its own masked copy of x and h: the input
  // projection is one GEMM up front, the step product one per gate.
  const RnnTable& tb = table();
  const Buf xp = input_projection(a, g4, a.bias);
  const RecPack rp = pack_recurrent(a, g4, false);
  float* gates = ws;
  float* cs = gates + t * n * g4;
  float* tcs = cs + t * n * u;
  float* hs = tcs + t * n * u;
  over_rows(a, 2 * u * g4, [&](int64_t r0, int64_t r1) {
    const int64_t rows = r1 - r0;
    std::vector<float> buf0(static_cast<size_t>(rows * u)), buf1(buf0.size());  // h, double buffered
    std::vector<float> hm(a.rec_mask ? buf0.size() : 0);                        // its dropout-masked copy
    float *hcur = buf0.data(), *hnext = buf1.data();
    init_h(a, hs, r0, r1);
    load_h(a, hs, r0, r1, hcur);
    for (int64_t s = 0; s < t; ++s) {
      const int64_t tt = time_at(a, s);
      float* z = gates + (s * n + r0) * g4;
      // z = xp + h @ U for this thread's rows, straight into the workspace, then the same
      // gate and cell arithmetic as the fused step (the same bits for the same inputs).
      rec_forward(a, g4, rp, r0, r1, hcur, hm.data(), xp.data() + (tt * n + r0) * g4, g4, z, g4);
      const float* cp = s > 0 ? cs + ((s - 1) * n + r0) * u : (a.c0 ? a.c0 + r0 * u : nullptr);
      float* cn = cs + (s * n + r0) * u;
      tb.lstm_gates(rows, u, z, cp, cn, tcs + (s * n + r0) * u, hnext, u);
      for (int64_t r = r0; r < r1; ++r) {
        float* hrow = hnext + (r - r0) * u;
        if (!step_on(a, r, tt))
          carry_row(a, s, r, cp ? cp + (r - r0) * u : nullptr, hcur + (r - r0) * u, cn + (r - r0) * u, hrow);
        else
          std::memcpy(a.packed + r * ps + s * u, hrow, sizeof(float) * u);
        std::memcpy(next_h(a, hs, s, r, 2), hrow, sizeof(float) * u);
      }
      std::swap(hcur, hnext);
    }
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(a.packed + r * ps + (t + 1) * u, cs + ((t - 1) * n + r) * u, sizeof(float) * u);
  });
}

void lstm_backward(const SeqArgs& a, const float* ws, const float* dpacked, float* dx, float* dkernel,
                   float* drecurrent, float* dbias, float* dh0, float* dc0) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, g4 = 4 * u, ps = (t + 2) * u;
  if (n == 0) return empty_backward(a, g4, g4, dkernel, drecurrent, dbias);
  const RnnTable& tb = table();
  const float* gates = ws;
  const float* cs = gates + t * n * g4;
  const float* tcs = cs + t * n * u;
  const float* hs = tcs + t * n * u;
  // U^T packed for dh_prev = dz @ U^T.
  const RecPack rtp = pack_recurrent(a, g4, true);
  Buf dxp(n * t * g4);  // pre-activation gradients, (T*N, 4U)
  const int64_t ldz = padded_ld(g4);
  over_rows(a, 2 * u * g4, [&](int64_t r0, int64_t r1) {
    const int64_t rows = r1 - r0;
    // dh: gradient of the state h; dcar: of the last output while masked steps repeat it.
    std::vector<float> dh(static_cast<size_t>(rows * u)), dc(dh.size()), dcar(dh.size(), 0.0f);
    std::vector<float> dz(static_cast<size_t>(rows * ldz));  // this step's dz rows, contiguous
    std::vector<float> tmp(a.rec_mask ? dh.size() : 0);
    const std::vector<float> zeros(static_cast<size_t>(u), 0.0f);
    for (int64_t r = r0; r < r1; ++r) {
      std::memcpy(dh.data() + (r - r0) * u, dpacked + r * ps + t * u, sizeof(float) * u);
      std::memcpy(dc.data() + (r - r0) * u, dpacked + r * ps + (t + 1) * u, sizeof(float) * u);
    }
    for (int64_t s = t - 1; s >= 0; --s) {
      const int64_t tt = time_at(a, s);
      for (int64_t r = r0; r < r1; ++r) {
        float* dhr = dh.data() + (r - r0) * u;
        float* dcr = dc.data() + (r - r0) * u;
        float* dcarr = dcar.data() + (r - r0) * u;
        const float* ds = dpacked + r * ps + s * u;
        float* dzr = dz.data() + (r - r0) * ldz;
        float* dxr = dxp.data() + (tt * n + r) * g4;
        if (!step_on(a, r, tt)) {
          for (int64_t j = 0; j < u; ++j) dcarr[j] += ds[j];
          std::fill(dzr, dzr + g4, 0.0f);
          std::fill(dxr, dxr + g4, 0.0f);
          continue;
        }
        const float* cp = s > 0 ? cs + ((s - 1) * n + r) * u : (a.c0 ? a.c0 + r * u : zeros.data());
        tb.lstm_bwd_row(u, gates + (s * n + r) * g4, tcs + (s * n + r) * u, cp, ds, dhr, dcarr, dcr, dzr);
        std::memcpy(dxr, dzr, sizeof(float) * g4);
      }
      // dh_prev = dz @ U^T (+ the carried dh of masked rows, whose dz is zero).
      rec_backward(a, g4, rtp, r0, r1, dz.data(), ldz, dh.data(), tmp.data());
    }
    std::memcpy(dh0 + r0 * u, dh.data(), sizeof(float) * rows * u);
    std::memcpy(dc0 + r0 * u, dc.data(), sizeof(float) * rows * u);
  });
  finish_backward(a, g4, dxp.data(), hs, dxp.data(), dx, dkernel, drecurrent);
  if (dbias) col_sums(dxp.data(), n * t, g4, dbias);
}

}  // namespace rnn
}  // namespace fastnet
