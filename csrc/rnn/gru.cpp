// GRU sequence forward and backward-through-time, Keras reset_after=True (see fastnet/rnn.h,
// rnn_common.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "fastnet/elementwise.h"
#include "fastnet/rnn.h"
#include "rnn/rnn_common.h"
#include "rnn/rnn_table.h"

namespace fastnet {
namespace rnn {

// Workspace: per step and row z, r, hh, rec_h (T, N, 4U) | hs (T, N, U).
int64_t gru_workspace_size(int64_t n, int64_t t, int64_t u) { return t * n * 5 * u; }

void gru_forward(const SeqArgs& a, float* ws) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, g3 = 3 * u, ps = (t + 1) * u;
  if (n == 0) return;  // empty batch: nothing to compute (and no null memcpy)
  const auto& ew = elementwise::table();
  const Buf xp = input_projection(a, g3, a.bias);      // bias row 0
  const float* brec = a.bias ? a.bias + g3 : nullptr;  // bias row 1
  const RecPack rp = pack_recurrent(a, g3, false);
  float* hs = ws + t * n * 4 * u;
  over_rows(a, 2 * u * g3, [&](int64_t r0, int64_t r1) {
    std::vector<float> rec(static_cast<size_t>((r1 - r0) * g3));
    std::vector<float> hcur(static_cast<size_t>((r1 - r0) * u));  // the state, contiguous rows
    std::vector<float> hm(a.rec_mask ? hcur.size() : 0);          // its dropout-masked copy
    init_h(a, hs, r0, r1);
    load_h(a, hs, r0, r1, hcur.data());
    for (int64_t s = 0; s < t; ++s) {
      const int64_t tt = time_at(a, s);
      // rec = h @ U + b_rec (the bias row broadcast as the product's initial value).
      rec_forward(a, g3, rp, r0, r1, hcur.data(), hm.data(), brec, 0, rec.data(), g3);
      for (int64_t r = r0; r < r1; ++r) {
        float* hp = hcur.data() + (r - r0) * u;
        float* hn = next_h(a, hs, s, r, 1);
        float* out = a.packed + r * ps + s * u;
        if (!step_on(a, r, tt)) {
          std::memcpy(hn, hp, sizeof(float) * u);
          if (s > 0)
            std::memcpy(out, out - u, sizeof(float) * u);
          else
            std::fill(out, out + u, 0.0f);
          continue;
        }
        const float* xr = xp.data() + (tt * n + r) * g3;
        const float* rr = rec.data() + (r - r0) * g3;
        float* wz = ws + (s * n + r) * 4 * u;
        float* wr = wz + u;
        float* wh = wz + 2 * u;
        float* wrec = wz + 3 * u;
        for (int64_t j = 0; j < 2 * u; ++j) wz[j] = xr[j] + rr[j];  // z, r pre-activations
        ew.sigmoid_fwd(wz, wz, 2 * u);
        for (int64_t j = 0; j < u; ++j) {
          wrec[j] = rr[2 * u + j];
          wh[j] = xr[2 * u + j] + wr[j] * wrec[j];
        }
        ew.tanh_fwd(wh, wh, u);
        for (int64_t j = 0; j < u; ++j) {
          const float h = wz[j] * hp[j] + (1.0f - wz[j]) * wh[j];
          hp[j] = h;
          hn[j] = h;
          out[j] = h;
        }
      }
    }
  });
}

void gru_backward(const SeqArgs& a, const float* ws, const float* dpacked, float* dx, float* dkernel,
                  float* drecurrent, float* dbias, float* dh0) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, g3 = 3 * u, ps = (t + 1) * u;
  if (n == 0) return empty_backward(a, g3, 2 * g3, dkernel, drecurrent, dbias);
  const float* hs = ws + t * n * 4 * u;
  const RecPack rtp = pack_recurrent(a, g3, true);
  // Gradients of the input-side and recurrent-side pre-activations, (T*N, 3U) each.
  Buf dxp(n * t * g3), drec(n * t * g3);
  const int64_t ldr = padded_ld(g3);
  over_rows(a, 2 * u * g3, [&](int64_t r0, int64_t r1) {
    const int64_t rows = r1 - r0;
    std::vector<float> dh(static_cast<size_t>(rows * u)), dcar(dh.size(), 0.0f);
    std::vector<float> dr(static_cast<size_t>(rows * ldr));  // this step's drec rows, contiguous
    std::vector<float> tmp(a.rec_mask ? dh.size() : 0);
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(dh.data() + (r - r0) * u, dpacked + r * ps + t * u, sizeof(float) * u);
    for (int64_t s = t - 1; s >= 0; --s) {
      const int64_t tt = time_at(a, s);
      for (int64_t r = r0; r < r1; ++r) {
        float* dhr = dh.data() + (r - r0) * u;
        float* dcarr = dcar.data() + (r - r0) * u;
        const float* ds = dpacked + r * ps + s * u;
        float* dxr = dxp.data() + (tt * n + r) * g3;
        float* drr = dr.data() + (r - r0) * ldr;
        float* drg = drec.data() + (tt * n + r) * g3;
        if (!step_on(a, r, tt)) {
          for (int64_t j = 0; j < u; ++j) dcarr[j] += ds[j];
          std::fill(dxr, dxr + g3, 0.0f);
          std::fill(drr, drr + g3, 0.0f);
          std::fill(drg, drg + g3, 0.0f);
          continue;
        }
        const float* z = ws + (s * n + r) * 4 * u;
        const float* rg = z + u;
        const float* hh = z + 2 * u;
        const float* rech = z + 3 * u;
        const float* hp = hs + (tt * n + r) * u;
        for (int64_t j = 0; j < u; ++j) {
          const float dht = dhr[j] + dcarr[j] + ds[j];
          const float dzp = dht * (hp[j] - hh[j]) * z[j] * (1.0f - z[j]);
          const float dhhp = dht * (1.0f - z[j]) * (1.0f - hh[j] * hh[j]);
          const float drp = dhhp * rech[j] * rg[j] * (1.0f - rg[j]);
          dxr[j] = dzp;
          dxr[u + j] = drp;
          dxr[2 * u + j] = dhhp;
          drr[j] = dzp;
          drr[u + j] = drp;
          drr[2 * u + j] = dhhp * rg[j];
          dhr[j] = dht * z[j];  // direct path; the recurrent product adds the rest
          dcarr[j] = 0.0f;
        }
        std::memcpy(drg, drr, sizeof(float) * g3);
      }
      rec_backward(a, g3, rtp, r0, r1, dr.data(), ldr, dh.data(), tmp.data());
    }
    std::memcpy(dh0 + r0 * u, dh.data(), sizeof(float) * rows * u);
  });
  finish_backward(a, g3, dxp.data(), hs, drec.data(), dx, dkernel, drecurrent);
  if (dbias) {
    col_sums(dxp.data(), n * t, g3, dbias);
    col_sums(drec.data(), n * t, g3, dbias + g3);
  }
}

}  // namespace rnn
}  // namespace fastnet
