// LSTM sequence forward and backward-through-time (see fastnet/rnn.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "fastnet/elementwise.h"
#include "fastnet/gemm.h"
#include "fastnet/rnn.h"

namespace fastnet {
namespace rnn {

int64_t lstm_workspace_size(int64_t n, int64_t t, int64_t u) { return t * n * 6 * u; }

void lstm_forward(int64_t n, int64_t t, int64_t in, int64_t u, const float* x, const float* kernel,
                  const float* recurrent, const float* bias, const float* h0, const float* c0,
                  bool go_backwards, float* seq, float* h_last, float* c_last, float* ws) {
  if (n == 0) return;  // empty batch: nothing to compute (and no null memcpy)
  const int64_t g4 = 4 * u;
  const auto& ew = elementwise::table();
  // Input projection of every step at once: xp (N*T, 4U) = x @ kernel + bias.
  std::vector<float> xp(static_cast<size_t>(n * t * g4));
  sgemm(false, false, n * t, g4, in, 1.0f, x, in, kernel, g4, 0.0f, xp.data(), g4);
  if (bias)
    for (int64_t r = 0; r < n * t; ++r)
      for (int64_t j = 0; j < g4; ++j) xp[r * g4 + j] += bias[j];
  std::vector<float> h(static_cast<size_t>(n * u), 0.0f), c(static_cast<size_t>(n * u), 0.0f);
  if (h0) std::memcpy(h.data(), h0, sizeof(float) * n * u);
  if (c0) std::memcpy(c.data(), c0, sizeof(float) * n * u);
  float* gates = ws;            // (T, N, 4U)
  float* cs = ws + t * n * g4;  // (T, N, U)
  float* tcs = cs + t * n * u;  // (T, N, U)
  for (int64_t s = 0; s < t; ++s) {
    const int64_t tt = go_backwards ? t - 1 - s : s;
    float* z = gates + s * n * g4;
    for (int64_t r = 0; r < n; ++r)
      std::memcpy(z + r * g4, xp.data() + (r * t + tt) * g4, sizeof(float) * g4);
    sgemm(false, false, n, g4, u, 1.0f, h.data(), u, recurrent, g4, 1.0f, z, g4);
    float* cn = cs + s * n * u;
    float* tc = tcs + s * n * u;
    for (int64_t r = 0; r < n; ++r) {
      float* zr = z + r * g4;
      ew.sigmoid_fwd(zr, zr, 2 * u);              // i, f
      ew.tanh_fwd(zr + 2 * u, zr + 2 * u, u);     // g
      ew.sigmoid_fwd(zr + 3 * u, zr + 3 * u, u);  // o
      const float* ig = zr;
      const float* fg = zr + u;
      const float* gg = zr + 2 * u;
      float* cr = cn + r * u;
      const float* cp = c.data() + r * u;
      for (int64_t j = 0; j < u; ++j) cr[j] = fg[j] * cp[j] + ig[j] * gg[j];
    }
    ew.tanh_fwd(cn, tc, n * u);
    for (int64_t r = 0; r < n; ++r) {
      const float* og = z + r * g4 + 3 * u;
      float* hr = h.data() + r * u;
      float* out = seq + (r * t + s) * u;
      for (int64_t j = 0; j < u; ++j) {
        hr[j] = og[j] * tc[r * u + j];
        out[j] = hr[j];
      }
    }
    std::memcpy(c.data(), cn, sizeof(float) * n * u);
  }
  std::memcpy(h_last, h.data(), sizeof(float) * n * u);
  std::memcpy(c_last, c.data(), sizeof(float) * n * u);
}

void lstm_backward(int64_t n, int64_t t, int64_t in, int64_t u, const float* x, const float* kernel,
                   const float* recurrent, const float* h0, const float* c0, bool go_backwards,
                   const float* seq, const float* ws, const float* dseq, const float* dh_last,
                   const float* dc_last, float* dx, float* dkernel, float* drecurrent, float* dbias,
                   float* dh0, float* dc0) {
  if (n == 0) {  // empty batch: zero weight gradients, nothing else
    std::fill(dkernel, dkernel + in * 4 * u, 0.0f);
    std::fill(drecurrent, drecurrent + u * 4 * u, 0.0f);
    if (dbias) std::fill(dbias, dbias + 4 * u, 0.0f);
    return;
  }
  const int64_t g4 = 4 * u;
  const float* gates = ws;
  const float* cs = ws + t * n * g4;
  const float* tcs = cs + t * n * u;
  std::vector<float> dh(static_cast<size_t>(n * u), 0.0f), dc(static_cast<size_t>(n * u), 0.0f);
  if (dh_last) std::memcpy(dh.data(), dh_last, sizeof(float) * n * u);
  if (dc_last) std::memcpy(dc.data(), dc_last, sizeof(float) * n * u);
  std::vector<float> dxp(static_cast<size_t>(n * t * g4));  // gradient of the pre-activations
  std::vector<float> dz(static_cast<size_t>(n * g4)), hprev(static_cast<size_t>(n * u));
  std::fill(drecurrent, drecurrent + u * g4, 0.0f);
  for (int64_t s = t - 1; s >= 0; --s) {
    const int64_t tt = go_backwards ? t - 1 - s : s;
    const float* z = gates + s * n * g4;
    const float* tc = tcs + s * n * u;
    for (int64_t r = 0; r < n; ++r) {
      const float* zr = z + r * g4;
      const float *ig = zr, *fg = zr + u, *gg = zr + 2 * u, *og = zr + 3 * u;
      const float* cp = s > 0 ? cs + ((s - 1) * n + r) * u : (c0 ? c0 + r * u : nullptr);
      float* dzr = dz.data() + r * g4;
      float* dhr = dh.data() + r * u;
      float* dcr = dc.data() + r * u;
      const float* ds = dseq ? dseq + (r * t + s) * u : nullptr;
      for (int64_t j = 0; j < u; ++j) {
        const float dhj = dhr[j] + (ds ? ds[j] : 0.0f);
        const float tcj = tc[r * u + j];
        const float cprev = cp ? cp[j] : 0.0f;
        const float dcj = dcr[j] + dhj * og[j] * (1.0f - tcj * tcj);
        dzr[3 * u + j] = dhj * tcj * og[j] * (1.0f - og[j]);    // o
        dzr[j] = dcj * gg[j] * ig[j] * (1.0f - ig[j]);          // i
        dzr[u + j] = dcj * cprev * fg[j] * (1.0f - fg[j]);      // f
        dzr[2 * u + j] = dcj * ig[j] * (1.0f - gg[j] * gg[j]);  // g
        dcr[j] = dcj * fg[j];
      }
      std::memcpy(dxp.data() + (r * t + tt) * g4, dzr, sizeof(float) * g4);
      const float* hp = s > 0 ? seq + (r * t + s - 1) * u : (h0 ? h0 + r * u : nullptr);
      if (hp)
        std::memcpy(hprev.data() + r * u, hp, sizeof(float) * u);
      else
        std::fill(hprev.data() + r * u, hprev.data() + (r + 1) * u, 0.0f);
    }
    // dU += h_prev^T dz ; dh_prev = dz U^T
    sgemm(true, false, u, g4, n, 1.0f, hprev.data(), u, dz.data(), g4, 1.0f, drecurrent, g4);
    sgemm(false, true, n, u, g4, 1.0f, dz.data(), g4, recurrent, g4, 0.0f, dh.data(), u);
  }
  // Input projection gradients, all steps at once.
  sgemm(true, false, in, g4, n * t, 1.0f, x, in, dxp.data(), g4, 0.0f, dkernel, g4);
  sgemm(false, true, n * t, in, g4, 1.0f, dxp.data(), g4, kernel, g4, 0.0f, dx, in);
  if (dbias) {
    std::fill(dbias, dbias + g4, 0.0f);
    for (int64_t r = 0; r < n * t; ++r)
      for (int64_t j = 0; j < g4; ++j) dbias[j] += dxp[r * g4 + j];
  }
  std::memcpy(dh0, dh.data(), sizeof(float) * n * u);
  std::memcpy(dc0, dc.data(), sizeof(float) * n * u);
}

}  // namespace rnn
}  // namespace fastnet
