// GRU sequence forward and backward-through-time, Keras reset_after=True (see fastnet/rnn.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "fastnet/elementwise.h"
#include "fastnet/gemm.h"
#include "fastnet/rnn.h"

namespace fastnet {
namespace rnn {

int64_t gru_workspace_size(int64_t n, int64_t t, int64_t u) { return t * n * 4 * u; }

void gru_forward(int64_t n, int64_t t, int64_t in, int64_t u, const float* x, const float* kernel,
                 const float* recurrent, const float* bias, const float* h0, bool go_backwards, float* seq,
                 float* h_last, float* ws) {
  if (n == 0) return;  // empty batch: nothing to compute (and no null memcpy)
  const int64_t g3 = 3 * u;
  const auto& ew = elementwise::table();
  std::vector<float> xp(static_cast<size_t>(n * t * g3));
  sgemm(false, false, n * t, g3, in, 1.0f, x, in, kernel, g3, 0.0f, xp.data(), g3);
  if (bias)
    for (int64_t r = 0; r < n * t; ++r)
      for (int64_t j = 0; j < g3; ++j) xp[r * g3 + j] += bias[j];
  std::vector<float> h(static_cast<size_t>(n * u), 0.0f), rec(static_cast<size_t>(n * g3));
  if (h0) std::memcpy(h.data(), h0, sizeof(float) * n * u);
  for (int64_t s = 0; s < t; ++s) {
    const int64_t tt = go_backwards ? t - 1 - s : s;
    // rec = h @ U + b_rec
    sgemm(false, false, n, g3, u, 1.0f, h.data(), u, recurrent, g3, 0.0f, rec.data(), g3);
    float* w = ws + s * n * 4 * u;  // per row: z, r, hh, rec_h
    for (int64_t r = 0; r < n; ++r) {
      const float* xr = xp.data() + (r * t + tt) * g3;
      float* rr = rec.data() + r * g3;
      if (bias)
        for (int64_t j = 0; j < g3; ++j) rr[j] += bias[g3 + j];
      float* wz = w + r * 4 * u;
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
      float* hr = h.data() + r * u;
      float* out = seq + (r * t + s) * u;
      for (int64_t j = 0; j < u; ++j) {
        hr[j] = wz[j] * hr[j] + (1.0f - wz[j]) * wh[j];
        out[j] = hr[j];
      }
    }
  }
  std::memcpy(h_last, h.data(), sizeof(float) * n * u);
}

void gru_backward(int64_t n, int64_t t, int64_t in, int64_t u, const float* x, const float* kernel,
                  const float* recurrent, const float* h0, bool go_backwards, const float* seq,
                  const float* ws, const float* dseq, const float* dh_last, float* dx, float* dkernel,
                  float* drecurrent, float* dbias, float* dh0) {
  if (n == 0) {  // empty batch: zero weight gradients, nothing else
    std::fill(dkernel, dkernel + in * 3 * u, 0.0f);
    std::fill(drecurrent, drecurrent + u * 3 * u, 0.0f);
    if (dbias) std::fill(dbias, dbias + 2 * 3 * u, 0.0f);
    return;
  }
  const int64_t g3 = 3 * u;
  std::vector<float> dh(static_cast<size_t>(n * u), 0.0f);
  if (dh_last) std::memcpy(dh.data(), dh_last, sizeof(float) * n * u);
  std::vector<float> dxp(static_cast<size_t>(n * t * g3)), drec(static_cast<size_t>(n * g3)),
      hprev(static_cast<size_t>(n * u)), dbrec(static_cast<size_t>(g3), 0.0f);
  std::fill(drecurrent, drecurrent + u * g3, 0.0f);
  for (int64_t s = t - 1; s >= 0; --s) {
    const int64_t tt = go_backwards ? t - 1 - s : s;
    const float* w = ws + s * n * 4 * u;
    for (int64_t r = 0; r < n; ++r) {
      const float* z = w + r * 4 * u;
      const float* rg = z + u;
      const float* hh = z + 2 * u;
      const float* rech = z + 3 * u;
      const float* hp = s > 0 ? seq + (r * t + s - 1) * u : (h0 ? h0 + r * u : nullptr);
      float* hpv = hprev.data() + r * u;
      for (int64_t j = 0; j < u; ++j) hpv[j] = hp ? hp[j] : 0.0f;
      float* dhr = dh.data() + r * u;
      const float* ds = dseq ? dseq + (r * t + s) * u : nullptr;
      float* dxr = dxp.data() + (r * t + tt) * g3;
      float* drr = drec.data() + r * g3;
      for (int64_t j = 0; j < u; ++j) {
        const float dht = dhr[j] + (ds ? ds[j] : 0.0f);
        const float dzp = dht * (hpv[j] - hh[j]) * z[j] * (1.0f - z[j]);
        const float dhhp = dht * (1.0f - z[j]) * (1.0f - hh[j] * hh[j]);
        const float drp = dhhp * rech[j] * rg[j] * (1.0f - rg[j]);
        dxr[j] = dzp;
        dxr[u + j] = drp;
        dxr[2 * u + j] = dhhp;
        drr[j] = dzp;
        drr[u + j] = drp;
        drr[2 * u + j] = dhhp * rg[j];
        dhr[j] = dht * z[j];  // direct path; the recurrent GEMM adds the rest below
      }
      for (int64_t j = 0; j < g3; ++j) dbrec[j] += drr[j];
    }
    sgemm(true, false, u, g3, n, 1.0f, hprev.data(), u, drec.data(), g3, 1.0f, drecurrent, g3);
    sgemm(false, true, n, u, g3, 1.0f, drec.data(), g3, recurrent, g3, 1.0f, dh.data(), u);
  }
  sgemm(true, false, in, g3, n * t, 1.0f, x, in, dxp.data(), g3, 0.0f, dkernel, g3);
  sgemm(false, true, n * t, in, g3, 1.0f, dxp.data(), g3, kernel, g3, 0.0f, dx, in);
  if (dbias) {
    std::fill(dbias, dbias + 2 * g3, 0.0f);
    for (int64_t r = 0; r < n * t; ++r)
      for (int64_t j = 0; j < g3; ++j) dbias[j] += dxp[r * g3 + j];
    for (int64_t j = 0; j < g3; ++j) dbias[g3 + j] = dbrec[j];
  }
  std::memcpy(dh0, dh.data(), sizeof(float) * n * u);
}

}  // namespace rnn
}  // namespace fastnet
