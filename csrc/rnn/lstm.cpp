// LSTM sequence forward and backward-through-time (see fastnet/rnn.h, rnn_common.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "fastnet/elementwise.h"
#include "fastnet/rnn.h"
#include "rnn/rnn_common.h"
#include "rnn/rnn_table.h"

namespace fastnet {
namespace rnn {

// Workspace: gates (T, N, 4U) after activation | c (T, N, U) | tanh(c) (T, N, U) | hs (T, N, U).
int64_t lstm_workspace_size(int64_t n, int64_t t, int64_t u) { return t * n * 7 * u; }

void lstm_forward(const SeqArgs& a, float* ws) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, g4 = 4 * u, ps = (t + 2) * u;
  if (n == 0) return;  // empty batch: nothing to compute (and no null memcpy)
  const auto& ew = elementwise::table();
  const Buf xp = input_projection(a, g4, a.bias);
  const RecPack rp = pack_recurrent(a, g4, false);
  float* gates = ws;
  float* cs = gates + t * n * g4;
  float* tcs = cs + t * n * u;
  float* hs = tcs + t * n * u;
  over_rows(a, 2 * u * g4, [&](int64_t r0, int64_t r1) {
    const std::vector<float> zeros(static_cast<size_t>(u), 0.0f);
    std::vector<float> hcur(static_cast<size_t>((r1 - r0) * u));  // the state, contiguous rows
    std::vector<float> hm(a.rec_mask ? hcur.size() : 0);          // its dropout-masked copy
    init_h(a, hs, r0, r1);
    load_h(a, hs, r0, r1, hcur.data());
    for (int64_t s = 0; s < t; ++s) {
      const int64_t tt = time_at(a, s);
      float* z = gates + s * n * g4;
      // z = xp + h @ U for this thread's rows, straight into the workspace.
      rec_forward(a, g4, rp, r0, r1, hcur.data(), hm.data(), xp.data() + (tt * n + r0) * g4, g4, z + r0 * g4,
                  g4);
      for (int64_t r = r0; r < r1; ++r) {
        const float* cp = s > 0 ? cs + ((s - 1) * n + r) * u : (a.c0 ? a.c0 + r * u : zeros.data());
        float* hrow = hcur.data() + (r - r0) * u;
        float* cn = cs + (s * n + r) * u;
        float* tc = tcs + (s * n + r) * u;
        float* hn = next_h(a, hs, s, r, 2);
        float* out = a.packed + r * ps + s * u;
        if (!step_on(a, r, tt)) {  // masked: carry the state, repeat the last output
          std::memcpy(cn, cp, sizeof(float) * u);
          std::memcpy(hn, hrow, sizeof(float) * u);
          if (s > 0)
            std::memcpy(out, out - u, sizeof(float) * u);
          else
            std::fill(out, out + u, 0.0f);
          continue;
        }
        float* zr = z + r * g4;
        ew.sigmoid_fwd(zr, zr, 2 * u);              // i, f
        ew.tanh_fwd(zr + 2 * u, zr + 2 * u, u);     // g
        ew.sigmoid_fwd(zr + 3 * u, zr + 3 * u, u);  // o
        const float *ig = zr, *fg = zr + u, *gg = zr + 2 * u;
        for (int64_t j = 0; j < u; ++j) cn[j] = fg[j] * cp[j] + ig[j] * gg[j];
        ew.tanh_fwd(cn, tc, u);
        const float* og = zr + 3 * u;
        for (int64_t j = 0; j < u; ++j) {
          const float h = og[j] * tc[j];
          hrow[j] = h;
          hn[j] = h;
          out[j] = h;
        }
      }
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
