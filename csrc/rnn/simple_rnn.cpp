// SimpleRNN sequence forward and backward-through-time (see fastnet/rnn.h, rnn_common.h):
// h_t = act(x_t @ kernel + h_{t-1} @ recurrent + bias), act tanh (Keras's default), relu,
// sigmoid or linear.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fastnet/elementwise.h"
#include "fastnet/rnn.h"
#include "rnn/rnn_common.h"
#include "rnn/rnn_table.h"

namespace fastnet {
namespace rnn {

// Workspace: activated step results y (T, N, U) | hs (T, N, U).
int64_t simple_rnn_workspace_size(int64_t n, int64_t t, int64_t u) { return t * n * 2 * u; }

namespace {

void activate(Activation act, float* y, int64_t count) {
  const auto& ew = elementwise::table();
  switch (act) {
    case Activation::Tanh: ew.tanh_fwd(y, y, count); break;
    case Activation::Relu: ew.relu_fwd(y, y, count); break;
    case Activation::Sigmoid: ew.sigmoid_fwd(y, y, count); break;
    case Activation::Linear: break;
  }
}

// dy -> d(pre-activation), from the activation's output y.
inline float act_grad(Activation act, float y, float dy) {
  switch (act) {
    case Activation::Tanh: return dy * (1.0f - y * y);
    case Activation::Relu: return y > 0.0f ? dy : 0.0f;
    case Activation::Sigmoid: return dy * y * (1.0f - y);
    case Activation::Linear: return dy;
  }
  return dy;
}

}  // namespace

void simple_rnn_forward(const SeqArgs& a, float* ws) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, ps = (t + 1) * u;
  if (n == 0) return;
  const Buf xp = input_projection(a, u, a.bias);
  const RecPack rp = pack_recurrent(a, u, false);
  float* ys = ws;
  float* hs = ws + t * n * u;
  over_rows(a, 2 * u * u, [&](int64_t r0, int64_t r1) {
    std::vector<float> hcur(static_cast<size_t>((r1 - r0) * u));  // the state, contiguous rows
    std::vector<float> hm(a.rec_mask ? hcur.size() : 0);          // its dropout-masked copy
    init_h(a, hs, r0, r1);
    load_h(a, hs, r0, r1, hcur.data());
    for (int64_t s = 0; s < t; ++s) {
      const int64_t tt = time_at(a, s);
      float* y = ys + s * n * u;
      rec_forward(a, u, rp, r0, r1, hcur.data(), hm.data(), xp.data() + (tt * n + r0) * u, u, y + r0 * u, u);
      activate(a.activation, y + r0 * u, (r1 - r0) * u);
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
        std::memcpy(hp, y + r * u, sizeof(float) * u);
        std::memcpy(hn, y + r * u, sizeof(float) * u);
        std::memcpy(out, y + r * u, sizeof(float) * u);
      }
    }
  });
}

void simple_rnn_backward(const SeqArgs& a, const float* ws, const float* dpacked, float* dx, float* dkernel,
                         float* drecurrent, float* dbias, float* dh0) {
  using namespace detail;
  const int64_t n = a.n, t = a.t, u = a.u, ps = (t + 1) * u;
  if (n == 0) return empty_backward(a, u, u, dkernel, drecurrent, dbias);
  const float* ys = ws;
  const float* hs = ws + t * n * u;
  const RecPack rtp = pack_recurrent(a, u, true);
  Buf dxp(n * t * u);
  const int64_t ldz = padded_ld(u);
  over_rows(a, 2 * u * u, [&](int64_t r0, int64_t r1) {
    const int64_t rows = r1 - r0;
    std::vector<float> dh(static_cast<size_t>(rows * u)), dcar(dh.size(), 0.0f);
    std::vector<float> dz(static_cast<size_t>(rows * ldz));  // this step's dz rows, contiguous
    std::vector<float> tmp(a.rec_mask ? dh.size() : 0);
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(dh.data() + (r - r0) * u, dpacked + r * ps + t * u, sizeof(float) * u);
    for (int64_t s = t - 1; s >= 0; --s) {
      const int64_t tt = time_at(a, s);
      for (int64_t r = r0; r < r1; ++r) {
        float* dhr = dh.data() + (r - r0) * u;
        float* dcarr = dcar.data() + (r - r0) * u;
        const float* ds = dpacked + r * ps + s * u;
        float* dzr = dz.data() + (r - r0) * ldz;
        float* dxr = dxp.data() + (tt * n + r) * u;
        if (!step_on(a, r, tt)) {
          for (int64_t j = 0; j < u; ++j) dcarr[j] += ds[j];
          std::fill(dzr, dzr + u, 0.0f);
          std::fill(dxr, dxr + u, 0.0f);
          continue;
        }
        const float* y = ys + (s * n + r) * u;
        for (int64_t j = 0; j < u; ++j) {
          dzr[j] = act_grad(a.activation, y[j], dhr[j] + dcarr[j] + ds[j]);
          dhr[j] = 0.0f;
          dcarr[j] = 0.0f;
        }
        std::memcpy(dxr, dzr, sizeof(float) * u);
      }
      rec_backward(a, u, rtp, r0, r1, dz.data(), ldz, dh.data(), tmp.data());
    }
    std::memcpy(dh0 + r0 * u, dh.data(), sizeof(float) * rows * u);
  });
  finish_backward(a, u, dxp.data(), hs, dxp.data(), dx, dkernel, drecurrent);
  if (dbias) col_sums(dxp.data(), n * t, u, dbias);
}

}  // namespace rnn
}  // namespace fastnet
