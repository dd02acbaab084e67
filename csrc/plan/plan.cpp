// The compiled training plan: one training step (forward, fused loss + gradient,
// backward, optimizer update of every weight) of a static graph as a list of
// instructions over one preallocated arena, run by one C++ call with the GIL
// released (fastnet/plan/ compiles a model into it; csrc/bindings/plan.cpp binds it).
//
// Buffer references (`Ref`) are int64: >= 0 is a float offset into the arena,
// < 0 is external slot -(1 + k): a weight, optimizer slot, dropout mask or
// output array bound once (kept alive by the binding), or a per-step stream
// (inputs, targets, sample weights) set before every step. A bound external may
// advance by `stride` floats per step (the masks and outputs of N steps).
#include "plan/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fastnet/conv.h"
#include "fastnet/elementwise.h"
#include "fastnet/embedding.h"
#include "fastnet/gemm.h"
#include "fastnet/norm.h"
#include "fastnet/optim.h"
#include "fastnet/pool.h"
#include "fastnet/rnn.h"
#include "fastnet/threads.h"

namespace fastnet {
namespace plan {

namespace {

constexpr int64_t kGrain = 1 << 15;

// threads::parallel_for with the body held by reference: the std::function it takes then
// stores one pointer in place instead of a heap copy of every capture, per call.
template <class F>
void pfor(int64_t n, int64_t grain, const F& body) {
  threads::parallel_for(n, grain, [&body](int64_t i0, int64_t i1) { body(i0, i1); });
}

void act_forward(int act, const float* z, float* y, int64_t rows, int64_t cols) {
  const auto& t = elementwise::table();
  const int64_t n = rows * cols;
  switch (act) {
    case kLinear:
      if (y != z) std::memcpy(y, z, sizeof(float) * n);
      break;
    case kRelu: t.relu_fwd(z, y, n); break;
    case kSigmoid: t.sigmoid_fwd(z, y, n); break;
    case kTanh: t.tanh_fwd(z, y, n); break;
    case kSoftmax: t.softmax_rows(z, y, rows, cols); break;
    default: throw std::logic_error("plan: unknown activation");
  }
}

// gz = gy * f'(.) from the activation's output y (gz may alias gy, not for softmax).
void act_backward(int act, const float* y, const float* gy, float* gz, int64_t rows, int64_t cols) {
  const auto& t = elementwise::table();
  const int64_t n = rows * cols;
  switch (act) {
    case kLinear:
      if (gz != gy) std::memcpy(gz, gy, sizeof(float) * n);
      break;
    case kRelu:
      t.relu_bwd(y, gy, gz, n);  // y > 0 exactly where x > 0
      break;
    case kSigmoid: t.sigmoid_bwd(y, gy, gz, n); break;
    case kTanh: t.tanh_bwd(y, gy, gz, n); break;
    case kSoftmax: t.softmax_bwd_rows(y, gy, gz, rows, cols); break;
    default: throw std::logic_error("plan: unknown activation");
  }
}

// gy = gy * f'(.) in place from a convolution's output y: ReLU threaded (the conv sizes).
void conv_act_backward(int act, const float* y, float* gy, int64_t rows, int64_t cols) {
  if (act == kRelu)
    conv::relu_backward_from_output(y, gy, gy, rows * cols);
  else
    act_backward(act, y, gy, gy, rows, cols);
}

// ints: n, H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, cin, cout (2-D, channels-last)
conv::Geometry conv_geometry(const int64_t* p) {
  const int64_t in[2] = {p[1], p[2]}, out[2] = {p[3], p[4]}, k[2] = {p[5], p[6]}, st[2] = {p[7], p[8]},
                dil[2] = {p[9], p[10]}, pad[2] = {p[11], p[12]};
  return conv::make_geometry(2, p[0], in, out, k, st, dil, pad, p[13], p[14]);
}

}  // namespace

// The window tables of one pooling instruction.
struct Plan::PoolTables : pool::PoolWindows {};

// Geometry ints at `start`: N, D, H, W, KD, KH, KW, SD, SH, SW, same, C; the tables'
// index is appended to the instruction. (A forward pooling has 4 ints before the geometry
// and none after, a backward 5 before and 1 after.)
void Plan::add_pool_tables(Instr& in) {
  const size_t start = in.i.size() == 16 ? 4 : 5;
  const int64_t* p = in.i.data() + start;
  auto T = std::make_shared<PoolTables>();
  static_cast<pool::PoolWindows&>(*T) = pool::make_windows(p[0], p[11], p + 1, p + 4, p + 7, p[10] != 0);
  in.i.push_back(static_cast<int64_t>(pools_.size()));
  pools_.push_back(std::move(T));
}

Plan::~Plan() {
  if (arena_.ptr) memory::release(arena_);
}

void Plan::set_arena(int64_t floats, int64_t scratch_floats) {
  if (arena_.ptr) memory::release(arena_);
  arena_ = memory::Block{};
  arena_floats_ = floats;
  scratch_floats_ = scratch_floats;
  // one block: the planned buffers, then a scratch area for accumulating gradients
  arena_ =
      memory::acquire(static_cast<size_t>(std::max<int64_t>(1, floats + scratch_floats)) * sizeof(float));
  std::memset(arena_.ptr, 0, static_cast<size_t>(floats + scratch_floats) * sizeof(float));
  ++arena_allocations_;
}

int Plan::add_external(int64_t stride) {
  ext_.push_back(External{nullptr, stride});
  return static_cast<int>(ext_.size()) - 1;
}

void Plan::set_external(int k, void* ptr) { ext_.at(static_cast<size_t>(k)).ptr = ptr; }

void Plan::add(int list, int op, std::vector<int64_t> ints, std::vector<float> floats) {
  Instr in{op, std::move(ints), std::move(floats)};
  if (op == kPool) add_pool_tables(in);
  switch (list) {
    case kForward: forward_.push_back(std::move(in)); break;
    case kLoss: loss_.push_back(std::move(in)); break;
    case kBackward: backward_.push_back(std::move(in)); break;
    case kUpdate: update_.push_back(std::move(in)); break;
    default: throw std::invalid_argument("plan: unknown instruction list");
  }
  if (profiling_) set_profiling(true);
}

float* Plan::f(int64_t ref, int step) const {
  if (ref >= 0) return static_cast<float*>(arena_.ptr) + ref;
  const External& e = ext_[static_cast<size_t>(-ref - 1)];
  return static_cast<float*>(e.ptr) + e.stride * step;
}

const int32_t* Plan::i32(int64_t ref, int step) const {
  const External& e = ext_[static_cast<size_t>(-ref - 1)];
  return static_cast<const int32_t*>(e.ptr) + e.stride * step;
}

float* Plan::scratch() const { return static_cast<float*>(arena_.ptr) + arena_floats_; }

// Writes src into dst, or adds it (accumulating the gradient of a tensor used twice).
static void store(float* dst, const float* src, int64_t n, bool acc) {
  if (!acc) {
    if (dst != src) std::memcpy(dst, src, sizeof(float) * n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

void Plan::run_forward(const Instr& in, int step) {
  const auto& a = in.i;
  switch (in.op) {
    case kDense: {  // x, w, b, z, y, M, K, N, act
      const float* x = f(a[0], step);
      const float* w = f(a[1], step);
      float* z = f(a[3], step);
      float* y = f(a[4], step);
      const int64_t M = a[5], K = a[6], N = a[7];
      sgemm(false, false, M, N, K, 1.0f, x, K, w, N, 0.0f, z, N);
      if (a[2] != kNone) elementwise::table().bias_add_rows(z, f(a[2], step), z, M, N);
      act_forward(static_cast<int>(a[8]), z, y, M, N);
      break;
    }
    case kAct: {  // x, y, rows, cols, act
      act_forward(static_cast<int>(a[4]), f(a[0], step), f(a[1], step), a[2], a[3]);
      break;
    }
    case kDropout: {  // x, y, mask, n
      const float* x = f(a[0], step);
      const float* m = f(a[2], step);
      float* y = f(a[1], step);
      for (int64_t i = 0; i < a[3]; ++i) y[i] = x[i] * m[i];
      break;
    }
    case kAdd: {  // y, n, k, x_1..x_k
      float* y = f(a[0], step);
      const int64_t n = a[1], k = a[2];
      const float* x0 = f(a[3], step);
      const float* x1 = f(a[4], step);
      for (int64_t i = 0; i < n; ++i) y[i] = x0[i] + x1[i];
      for (int64_t j = 2; j < k; ++j) {
        const float* xj = f(a[3 + j], step);
        for (int64_t i = 0; i < n; ++i) y[i] += xj[i];
      }
      break;
    }
    case kConcat: {  // y, rows, k, (x_j, cols_j)...; y has sum(cols_j) columns
      float* y = f(a[0], step);
      const int64_t rows = a[1], k = a[2];
      int64_t total = 0;
      for (int64_t j = 0; j < k; ++j) total += a[4 + 2 * j];
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) {
        const float* x = f(a[3 + 2 * j], step);
        const int64_t c = a[4 + 2 * j];
        for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * total + off, x + r * c, sizeof(float) * c);
        off += c;
      }
      break;
    }
    case kCopy: {  // src, dst, n
      std::memcpy(f(a[1], step), f(a[0], step), sizeof(float) * a[2]);
      break;
    }
    case kConv: {  // x, w, b, y, act, geometry (15)
      const conv::Geometry g = conv_geometry(a.data() + 5);
      float* y = f(a[3], step);
      const int act = static_cast<int>(a[4]);
      // ReLU (the seed models' case) is applied by the kernel while each output block is in
      // cache; the backward then masks by the output (y > 0 exactly where z > 0)
      conv::conv_forward_act(g, f(a[0], step), f(a[1], step), a[2] != kNone ? f(a[2], step) : nullptr,
                             act == kRelu ? conv::Activation::kRelu : conv::Activation::kNone, y);
      if (act != kRelu) act_forward(act, y, y, g.n * g.out[0] * g.out[1] * g.out[2], g.cout);
      break;
    }
    case kPool: {  // x, y, arg, kind (0 max, 1 avg), geometry (12), tables
      const pool::PoolGeom& g = pools_[static_cast<size_t>(a[16])]->g;
      const auto& t = pool::table();
      const float* x = f(a[0], step);
      float* y = f(a[1], step);
      const int64_t rows = g.N * g.out[0] * g.out[1];
      const int64_t win = std::max<int64_t>(1, g.k[0] * g.k[1] * g.k[2]);
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, g.out[2] * g.C * win));
      if (a[3] == 0) {
        int32_t* arg = reinterpret_cast<int32_t*>(f(a[2], step));
        pfor(rows, grain, [&](int64_t r0, int64_t r1) { t.max_fwd(x, y, arg, g, r0, r1); });
      } else {
        pfor(rows, grain, [&](int64_t r0, int64_t r1) { t.avg_fwd(x, y, g, r0, r1); });
      }
      break;
    }
    case kGlobalPool: {  // x, y, count, kind, N, S, C
      const auto& t = pool::table();
      const float* x = f(a[0], step);
      float* y = f(a[1], step);
      const int64_t S = a[5], C = a[6];
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, S * C));
      if (a[3] == 0) {
        float* cnt = f(a[2], step);
        pfor(a[4], grain, [&](int64_t n0, int64_t n1) { t.gmax_fwd(x, y, cnt, S, C, n0, n1); });
      } else {
        pfor(a[4], grain, [&](int64_t n0, int64_t n1) { t.gavg_fwd(x, y, S, C, n0, n1); });
      }
      break;
    }
    case kBatchNorm: {  // x, y, gamma, beta, mean, var, moving_mean, moving_var, rows, C, train
      const float* x = f(a[0], step);
      float* y = f(a[1], step);
      const float* gamma = a[2] != kNone ? f(a[2], step) : nullptr;
      const float* beta = a[3] != kNone ? f(a[3], step) : nullptr;
      float* mm = f(a[6], step);
      float* mv = f(a[7], step);
      const int64_t rows = a[8], C = a[9];
      const float eps = in.f[0];
      if (a[10]) {
        float* mean = f(a[4], step);
        float* var = f(a[5], step);
        norm::batch_norm_train(x, rows, C, gamma, beta, eps, y, mean, var);
        // the moving statistics exactly as the layer updates them (float32 numpy)
        const float m = in.f[1], one_m = in.f[2];
        for (int64_t c = 0; c < C; ++c) {
          mm[c] = mm[c] * m + mean[c] * one_m;
          mv[c] = mv[c] * m + var[c] * one_m;
        }
      } else {
        norm::batch_norm_infer(x, rows, C, mm, mv, gamma, beta, eps, y);
      }
      break;
    }
    case kConvTranspose: {  // x, w, b, y, act, geometry (15) of the convolution it transposes
      const conv::Geometry g = conv_geometry(a.data() + 5);
      float* y = f(a[3], step);
      // y = conv^T(x): the input gradient of the convolution from y's shape to x's
      conv::conv_backward_input(g, f(a[0], step), f(a[1], step), y);
      const int64_t rows = g.n * g.in[0] * g.in[1] * g.in[2], n = rows * g.cin;
      if (a[2] != kNone) conv::add_bias(y, rows, g.cin, f(a[2], step));  // threaded
      if (a[4] == kRelu) {
        const auto relu = elementwise::table().relu_fwd;
        pfor(n, 1 << 16, [&](int64_t i0, int64_t i1) { relu(y + i0, y + i0, i1 - i0); });
      } else {
        act_forward(static_cast<int>(a[4]), y, y, rows, g.cin);
      }
      break;
    }
    case kUpsample: {  // x, y, N, H, W, fh, fw, C
      const int64_t in[3] = {1, a[3], a[4]}, fac[3] = {1, a[5], a[6]};
      const int64_t C = a[7], rows = a[2] * a[3] * a[5];
      const float* x = f(a[0], step);
      float* y = f(a[1], step);
      const auto& t = pool::table();
      pfor(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, a[4] * a[6] * C)),
           [&](int64_t r0, int64_t r1) { t.up_fwd(x, y, in, fac, C, r0, r1); });
      break;
    }
    case kEmbedding: run_embedding(in, step); break;
    case kRecurrent: run_recurrent_forward(in, step); break;
    case kRegularize:  // handled with the loss
      break;
    default: throw std::logic_error("plan: unknown forward op " + std::to_string(in.op));
  }
}

// One output's loss: returns the reduced value; writes d(total)/d(pred) into grad
// when `grad` is not kNone. ints: kind, pred, target, sample_weight (kNone), grad,
// rows, cols; floats: loss weight, eps, divisor (the number of loss values, or 1
// for reduction "sum").
double Plan::run_loss(const Instr& in, int step, bool want_grad) {
  const auto& a = in.i;
  const int kind = static_cast<int>(a[0]);
  const float* p = f(a[1], step);
  const int64_t rows = a[5], cols = a[6];
  const float lw = in.f[0], eps = in.f[1];
  const double divisor = in.f[2];
  const float* sw = a[3] != kNone ? f(a[3], step) : nullptr;
  float* g = (want_grad && a[4] != kNone) ? f(a[4], step) : nullptr;
  float* values = scratch();  // rows floats (the scratch area holds at least max(rows))
  const auto& t = elementwise::table();
  switch (kind) {
    case kSparseLogits: t.sparse_xent_rows(p, i32(a[2], step), values, g, rows, cols); break;
    case kSparseProbs: t.sparse_xent_probs_rows(p, i32(a[2], step), values, g, rows, cols, eps); break;
    case kCategoricalLogits: t.cce_logits_rows(p, f(a[2], step), values, g, rows, cols); break;
    case kCategoricalProbs: t.cce_probs_rows(p, f(a[2], step), values, g, rows, cols, eps); break;
    case kBinaryLogits:
      t.bce_rows(p, f(a[2], step), values, g, rows, cols, elementwise::kBceFromLogits | elementwise::kBceMean,
                 eps);
      break;
    case kBinaryProbs: t.bce_rows(p, f(a[2], step), values, g, rows, cols, elementwise::kBceMean, eps); break;
    case kMse:
    case kMae: {
      const float* y = f(a[2], step);
      const float inv = 1.0f / static_cast<float>(cols);
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0.0;
        for (int64_t c = 0; c < cols; ++c) {
          const float d = p[r * cols + c] - y[r * cols + c];
          if (kind == kMse) {
            s += static_cast<double>(d) * d;
            if (g) g[r * cols + c] = 2.0f * d * inv;
          } else {
            s += std::fabs(static_cast<double>(d));
            if (g) g[r * cols + c] = (d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : 0.0f) * inv;
          }
        }
        values[r] = static_cast<float>(s / static_cast<double>(cols));
      }
      break;
    }
    default: throw std::logic_error("plan: unknown loss kind");
  }
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += sw ? static_cast<double>(values[r]) * sw[r] : values[r];
  if (g) {
    // d(lw * sum_r(sw_r * l_r) / divisor) / d(pred_r) = lw * sw_r / divisor * dl_r
    const float base = static_cast<float>(lw / divisor);
    for (int64_t r = 0; r < rows; ++r) {
      const float c = sw ? base * sw[r] : base;
      float* gr = g + r * cols;
      for (int64_t j = 0; j < cols; ++j) gr[j] *= c;
    }
  }
  return total / divisor;
}

double Plan::run_regularizer(const Instr& in, int step, bool want_grad) {
  // ints: w, gw, n; floats: l1, l2
  const float* w = f(in.i[0], step);
  const int64_t n = in.i[2];
  const float l1 = in.f[0], l2 = in.f[1];
  double s1 = 0.0, s2 = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    s1 += std::fabs(w[i]);
    s2 += static_cast<double>(w[i]) * w[i];
  }
  return static_cast<double>(l1) * s1 + static_cast<double>(l2) * s2;
}

void Plan::run_backward(const Instr& in, int step) {
  const auto& a = in.i;
  switch (in.op) {
    case kDense: {  // x, w, y, gy, gx, gw, gb, M, K, N, act, acc_gx, acc_gw
      const float* x = f(a[0], step);
      const float* w = f(a[1], step);
      const float* y = f(a[2], step);
      float* gy = f(a[3], step);
      const int64_t M = a[7], K = a[8], N = a[9];
      const int act = static_cast<int>(a[10]);
      float* gz = gy;
      if (act == kSoftmax) {
        gz = scratch();
        act_backward(act, y, gy, gz, M, N);
      } else {
        act_backward(act, y, gy, gz, M, N);
      }
      if (a[5] != kNone) {
        sgemm(true, false, K, N, M, 1.0f, x, K, gz, N, a[12] ? 1.0f : 0.0f, f(a[5], step), N);
      }
      if (a[6] != kNone) {
        float* gb = f(a[6], step);
        std::fill(dacc_.begin(), dacc_.begin() + N, 0.0);
        elementwise::table().bias_grad_rows(gz, dacc_.data(), M, N, N);
        for (int64_t j = 0; j < N; ++j)
          gb[j] = a[12] ? gb[j] + static_cast<float>(dacc_[j]) : static_cast<float>(dacc_[j]);
      }
      if (a[4] != kNone) {
        sgemm(false, true, M, K, N, 1.0f, gz, N, w, N, a[11] ? 1.0f : 0.0f, f(a[4], step), K);
      }
      break;
    }
    case kAct: {  // y, gy, gx, rows, cols, act, acc
      const int act = static_cast<int>(a[5]);
      const bool acc = a[6] != 0;
      float* gx = f(a[2], step);
      float* dst = (acc || act == kSoftmax) ? scratch() : gx;
      act_backward(act, f(a[0], step), f(a[1], step), dst, a[3], a[4]);
      if (dst != gx) store(gx, dst, a[3] * a[4], acc);
      break;
    }
    case kDropout: {  // gy, gx, mask, n, acc
      const float* gy = f(a[0], step);
      const float* m = f(a[2], step);
      float* gx = f(a[1], step);
      if (a[4]) {
        for (int64_t i = 0; i < a[3]; ++i) gx[i] += gy[i] * m[i];
      } else {
        for (int64_t i = 0; i < a[3]; ++i) gx[i] = gy[i] * m[i];
      }
      break;
    }
    case kAdd: {  // gy, n, k, (gx_j, acc_j)...
      const float* gy = f(a[0], step);
      const int64_t n = a[1], k = a[2];
      for (int64_t j = 0; j < k; ++j) {
        if (a[3 + 2 * j] == kNone) continue;
        store(f(a[3 + 2 * j], step), gy, n, a[4 + 2 * j] != 0);
      }
      break;
    }
    case kConcat: {  // gy, rows, k, (gx_j, cols_j, acc_j)...
      const float* gy = f(a[0], step);
      const int64_t rows = a[1], k = a[2];
      int64_t total = 0;
      for (int64_t j = 0; j < k; ++j) total += a[4 + 3 * j];
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t c = a[4 + 3 * j];
        if (a[3 + 3 * j] != kNone) {
          float* gx = f(a[3 + 3 * j], step);
          const bool acc = a[5 + 3 * j] != 0;
          for (int64_t r = 0; r < rows; ++r) store(gx + r * c, gy + r * total + off, c, acc);
        }
        off += c;
      }
      break;
    }
    case kConv: {  // x, w, y, gy, gx, gw, gb, act, acc_gx, geometry (15)
      const conv::Geometry g = conv_geometry(a.data() + 9);
      float* gy = f(a[3], step);
      conv_act_backward(static_cast<int>(a[7]), f(a[2], step), gy, g.n * g.out[0] * g.out[1] * g.out[2],
                        g.cout);
      auto kernel_grad = [&] {
        if (a[5] != kNone)
          conv::conv_backward_kernel(g, f(a[0], step), gy, f(a[5], step),
                                     a[6] != kNone ? f(a[6], step) : nullptr);
      };
      auto input_grad = [&] {
        if (a[4] == kNone) return;
        float* gx = f(a[4], step);
        const int64_t n = g.n * g.in[0] * g.in[1] * g.in[2] * g.cin;
        float* dst = a[8] ? scratch() : gx;
        conv::conv_backward_input(g, gy, f(a[1], step), dst);
        if (dst != gx) store(gx, dst, n, true);
      };
      run_pair(a[4] != kNone && a[5] != kNone, input_grad, kernel_grad);
      break;
    }
    case kPool: {  // gy, arg, gx, kind, acc, geometry (12), relu_y, tables
      const pool::PoolGeom& g = pools_[static_cast<size_t>(a[18])]->g;
      const auto& t = pool::table();
      const float* gy = f(a[0], step);
      float* gx = f(a[2], step);
      float* dx = a[4] ? scratch() : gx;
      if (a[17] != kNone) {
        // A max pooling of a ReLU's output (the ReLU's only reader): the ReLU's mask is
        // applied here, to the pooled gradient, instead of to the whole input gradient
        // after. Each window routes its gradient to its maximum, whose value is the pooled
        // output, so masking by the pooled output > 0 gives the same bits.
        if (a[4] || a[3] != 0) throw std::logic_error("plan: a ReLU mask on an accumulating or average pool");
        float* masked = scratch();
        const int64_t n_out = g.N * g.out[0] * g.out[1] * g.out[2] * g.C;
        conv::relu_backward_from_output(f(a[17], step), gy, masked, n_out);
        gy = masked;
      }
      const int64_t win = std::max<int64_t>(1, g.k[0] * g.k[1] * g.k[2]);
      const bool blocks = g.s[0] >= g.k[0] && g.s[1] >= g.k[1] && g.s[2] >= g.k[2];
      const int64_t rows = blocks ? g.N * g.out[0] * g.out[1] : g.N * g.in[0] * g.in[1];
      const int64_t per_row = blocks ? g.s[0] * g.s[1] * g.in[2] * g.C
                                     : g.in[2] * g.C * std::max<int64_t>(1, win / (g.s[0] * g.s[1] * g.s[2]));
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, per_row));
      if (a[3] == 0) {
        const int32_t* arg = reinterpret_cast<const int32_t*>(f(a[1], step));
        pfor(rows, grain, [&](int64_t r0, int64_t r1) {
          if (blocks)
            t.max_bwd_blocks(gy, arg, dx, g, r0, r1);
          else
            t.max_bwd(gy, arg, dx, g, r0, r1);
        });
      } else if (!blocks && (g.N >= threads::num_threads() || threads::deterministic())) {
        const int64_t image = g.in[0] * g.in[1] * g.in[2] * g.C * win;
        pfor(g.N, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, image)),
             [&](int64_t n0, int64_t n1) { t.avg_bwd_images(gy, dx, g, n0, n1); });
      } else {
        pfor(rows, grain, [&](int64_t r0, int64_t r1) {
          if (blocks)
            t.avg_bwd_blocks(gy, dx, g, r0, r1);
          else
            t.avg_bwd(gy, dx, g, r0, r1);
        });
      }
      if (dx != gx) store(gx, dx, g.N * g.in[0] * g.in[1] * g.in[2] * g.C, true);
      break;
    }
    case kGlobalPool: {  // x, y, count, gy, gx, gs, kind, N, S, C, acc
      const auto& t = pool::table();
      const int64_t N = a[7], S = a[8], C = a[9];
      float* gx = f(a[4], step);
      float* dx = a[10] ? scratch() : gx;
      const float* gy = f(a[3], step);
      const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, C));
      if (a[6] == 0) {
        const float* cnt = f(a[2], step);
        float* gs = f(a[5], step);
        for (int64_t i = 0; i < N * C; ++i) gs[i] = cnt[i] > 0 ? gy[i] / cnt[i] : 0.0f;
        const float* x = f(a[0], step);
        const float* y = f(a[1], step);
        pfor(N * S, grain, [&](int64_t r0, int64_t r1) { t.gmax_bwd(x, y, gs, dx, S, C, r0, r1); });
      } else {
        pfor(N * S, grain, [&](int64_t r0, int64_t r1) { t.gavg_bwd(gy, dx, S, C, r0, r1); });
      }
      if (dx != gx) store(gx, dx, N * S * C, true);
      break;
    }
    case kBatchNorm: {  // x, gy, gx, mean, var, gamma, ggamma, gbeta, rows, C, acc_gx
      const int64_t rows = a[8], C = a[9];
      float* gx = a[2] != kNone ? f(a[2], step) : nullptr;
      float* dx = gx && a[10] ? scratch() : gx;
      float* tmp = nullptr;
      if (!dx) {  // batch_norm_backward always writes dx: the scratch takes it
        tmp = scratch();
        dx = tmp;
      }
      norm::batch_norm_backward(f(a[0], step), f(a[1], step), rows, C, f(a[3], step), f(a[4], step),
                                a[5] != kNone ? f(a[5], step) : nullptr, in.f[0], dx,
                                a[6] != kNone ? f(a[6], step) : nullptr,
                                a[7] != kNone ? f(a[7], step) : nullptr);
      if (gx && dx != gx) store(gx, dx, rows * C, true);
      break;
    }
    case kConvTranspose: {  // x, w, y, gy, gx, gw, gb, act, acc_gx, geometry (15)
      const conv::Geometry g = conv_geometry(a.data() + 9);
      float* gy = f(a[3], step);
      const int64_t rows = g.n * g.in[0] * g.in[1] * g.in[2];
      conv_act_backward(static_cast<int>(a[7]), f(a[2], step), gy, rows, g.cin);
      auto kernel_grad = [&] {
        if (a[5] != kNone) conv::conv_backward_kernel(g, gy, f(a[0], step), f(a[5], step), nullptr);
        if (a[6] != kNone) {
          float* gb = f(a[6], step);
          std::fill(dacc_.begin(), dacc_.begin() + g.cin, 0.0);
          elementwise::table().bias_grad_rows(gy, dacc_.data(), rows, g.cin, g.cin);
          for (int64_t j = 0; j < g.cin; ++j) gb[j] = static_cast<float>(dacc_[j]);
        }
      };
      auto input_grad = [&] {
        if (a[4] == kNone) return;
        float* gx = f(a[4], step);
        float* dst = a[8] ? scratch() : gx;
        conv::conv_forward(g, gy, f(a[1], step), nullptr, dst);
        if (dst != gx) store(gx, dst, g.n * g.out[0] * g.out[1] * g.out[2] * g.cout, true);
      };
      run_pair(a[4] != kNone && (a[5] != kNone || a[6] != kNone), input_grad, kernel_grad);
      break;
    }
    case kUpsample: {  // gy, gx, N, H, W, fh, fw, C, acc
      const int64_t in[3] = {1, a[3], a[4]}, fac[3] = {1, a[5], a[6]};
      const int64_t C = a[7], rows = a[2] * a[3];
      float* gx = f(a[1], step);
      float* dx = a[8] ? scratch() : gx;
      const float* gy = f(a[0], step);
      const auto& t = pool::table();
      pfor(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, a[4] * a[6] * C * a[5])),
           [&](int64_t r0, int64_t r1) { t.up_bwd(gy, dx, in, fac, C, r0, r1); });
      if (dx != gx) store(gx, dx, a[2] * a[3] * a[4] * C, true);
      break;
    }
    case kRegularize: {  // w, gw, n; floats l1, l2: gw += l1 sign(w) + 2 l2 w
      const float* w = f(a[0], step);
      float* gw = f(a[1], step);
      const float l1 = in.f[0], l2x2 = 2.0f * in.f[1];
      for (int64_t i = 0; i < a[2]; ++i) {
        float g = 0.0f;
        if (l1 != 0.0f) g += l1 * (w[i] > 0.0f ? 1.0f : w[i] < 0.0f ? -1.0f : 0.0f);
        if (l2x2 != 0.0f) g += l2x2 * w[i];
        gw[i] += g;
      }
      break;
    }
    case kEmbedding: {  // idx, idx_is_stream, gy, gw, m, d, rows: gw = scatter-add of gy rows
      const int32_t* idx = a[1] ? i32(a[0], step) : reinterpret_cast<const int32_t*>(f(a[0], step));
      embedding::scatter_add(idx, a[4], f(a[2], step), a[5], a[6], f(a[3], step));
      break;
    }
    case kRecurrent: run_recurrent_backward(in, step); break;
    default: throw std::logic_error("plan: unknown backward op " + std::to_string(in.op));
  }
}

// ints: kind, var, grad, slot0, slot1, slot2, n, extra (sgd: nesterov; adam: amsgrad)
// floats: hyper-parameters (sgd: momentum; rmsprop: rho, momentum, eps; adam: b1, b2, eps)
// per step: hyper[0] = lr, hyper[1] = adam's alpha, hyper[2] = weight_decay * lr
void Plan::run_update(const Instr& in, int step, const double* hyper) {
  const auto& a = in.i;
  float* var = f(a[1], step);
  const float* g = f(a[2], step);
  float* s0 = a[3] != kNone ? f(a[3], step) : nullptr;
  float* s1 = a[4] != kNone ? f(a[4], step) : nullptr;
  float* s2 = a[5] != kNone ? f(a[5], step) : nullptr;
  const int64_t n = a[6];
  const float wd_lr = static_cast<float>(hyper[2]);
  if (wd_lr != 0.0f) {
    for (int64_t i = 0; i < n; ++i) var[i] -= var[i] * wd_lr;
  }
  const auto& t = optim::table();
  const float lr = static_cast<float>(hyper[0]);
  auto at = [](float* p, int64_t i) { return p ? p + i : nullptr; };
  pfor(n, kGrain, [&](int64_t i0, int64_t i1) {
    const int64_t len = i1 - i0;
    switch (a[0]) {
      case kSgd: t.sgd(var + i0, g + i0, at(s0, i0), len, lr, in.f[0], static_cast<int>(a[7])); break;
      case kRmsprop:
        t.rmsprop(var + i0, g + i0, at(s0, i0), at(s1, i0), at(s2, i0), len, lr, in.f[0], in.f[1], in.f[2]);
        break;
      case kAdam:
        t.adam(var + i0, g + i0, at(s0, i0), at(s1, i0), at(s2, i0), len, static_cast<float>(hyper[1]),
               in.f[0], in.f[1], in.f[2]);
        break;
      default: throw std::logic_error("plan: unknown optimizer");
    }
  });
}

int Plan::add_text(std::string text) {
  texts_.push_back(std::move(text));
  return static_cast<int>(texts_.size()) - 1;
}

// ints: x, x_is_int_stream, idx, table, y, m, d, rows, text, ndim, dims (ndim)...
// x: the indices, float (an Input's float32 stream or a tensor: cast to int32 into idx as
// numpy's astype, which is what the eager Embedding does) or an int32 stream (idx unused).
// An index outside [0, rows) raises the eager Embedding's IndexError (texts_[text] names
// the layer).
void Plan::run_embedding(const Instr& in, int step) {
  const auto& a = in.i;
  const int64_t m = a[5], d = a[6], rows = a[7];
  const int32_t* idx;
  if (a[1]) {
    idx = i32(a[0], step);
  } else {
    const float* x = f(a[0], step);
    int32_t* dst = reinterpret_cast<int32_t*>(f(a[2], step));
    for (int64_t i = 0; i < m; ++i) {
      const float v = x[i];
      // truncation toward zero; NaN and out-of-range values give INT32_MIN (x86's cvttss2si,
      // numpy's float32 -> int32 astype there)
      dst[i] = (v >= -2147483648.0f && v < 2147483648.0f) ? static_cast<int32_t>(v) : INT32_MIN;
    }
    idx = dst;
  }
  const int64_t bad = embedding::first_out_of_range(idx, m, rows);
  if (bad >= 0) {
    const int64_t ndim = a[9];
    std::vector<int64_t> pos(static_cast<size_t>(ndim));
    int64_t rest = bad;
    for (int64_t k = ndim - 1; k >= 0; --k) {
      pos[static_cast<size_t>(k)] = rest % a[10 + k];
      rest /= a[10 + k];
    }
    auto tuple = [ndim](const int64_t* v) {
      std::string s = "(";
      for (int64_t k = 0; k < ndim; ++k) s += (k ? ", " : "") + std::to_string(v[k]);
      return s + (ndim == 1 ? ",)" : ")");
    };
    throw std::out_of_range(texts_.at(static_cast<size_t>(a[8])) + ": index " + std::to_string(idx[bad]) +
                            " at position " + tuple(pos.data()) + " of the indices " + tuple(a.data() + 10) +
                            " is out of range: it must be in [0, " + std::to_string(rows) + ")");
  }
  embedding::gather(f(a[3], step), d, idx, m, f(a[4], step));
}

namespace {
rnn::SeqArgs seq_args(const std::vector<int64_t>& a, int64_t n_at) {
  rnn::SeqArgs s;
  s.n = a[static_cast<size_t>(n_at)];
  s.t = a[static_cast<size_t>(n_at) + 1];
  s.in = a[static_cast<size_t>(n_at) + 2];
  s.u = a[static_cast<size_t>(n_at) + 3];
  return s;
}
}  // namespace

// ints: cell, x, kernel, recurrent, bias, packed, ws, y, n, t, in, u, return_sequences,
// activation (SimpleRNN's; rnn::Activation). The eager layer's sequence kernel (zero initial states, no mask,
// no dropout, forwards): packed (n, t + states, u) and the workspace stay in the arena for the backward; y is
// packed's outputs (n, t, u), or the last one (n, u).
void Plan::run_recurrent_forward(const Instr& in, int step) {
  const auto& a = in.i;
  rnn::SeqArgs s = seq_args(a, 8);
  s.x = f(a[1], step);
  s.kernel = f(a[2], step);
  s.recurrent = f(a[3], step);
  s.bias = a[4] != kNone ? f(a[4], step) : nullptr;
  s.packed = f(a[5], step);
  float* ws = f(a[6], step);
  s.activation = static_cast<rnn::Activation>(a[13]);
  if (a[0] == kLstmCell)
    rnn::lstm_forward(s, ws);
  else if (a[0] == kGruCell)
    rnn::gru_forward(s, ws);
  else
    rnn::simple_rnn_forward(s, ws);
  const int64_t states = a[0] == kLstmCell ? 2 : 1, ps = (s.t + states) * s.u;
  float* y = f(a[7], step);
  const float* packed = s.packed;
  if (a[12]) {
    for (int64_t r = 0; r < s.n; ++r)
      std::memcpy(y + r * s.t * s.u, packed + r * ps, sizeof(float) * s.t * s.u);
  } else {
    for (int64_t r = 0; r < s.n; ++r)
      std::memcpy(y + r * s.u, packed + r * ps + (s.t - 1) * s.u, sizeof(float) * s.u);
  }
}

// ints: cell, x, kernel, recurrent, bias, packed, ws, gy, dpacked, dx, gx, acc_gx, dk, dr,
// db, dh0, dc0, n, t, in, u, return_sequences, activation. dpacked is gy in packed's layout (zeros for
// the final states); dx, dk, dr, dh0 (dc0) are written (arena buffers when the gradient is
// not wanted), then dx goes to gx (added when acc_gx) unless it is gx.
void Plan::run_recurrent_backward(const Instr& in, int step) {
  const auto& a = in.i;
  rnn::SeqArgs s = seq_args(a, 17);
  s.x = f(a[1], step);
  s.kernel = f(a[2], step);
  s.recurrent = f(a[3], step);
  s.bias = a[4] != kNone ? f(a[4], step) : nullptr;  // the forward's arguments
  s.packed = f(a[5], step);
  const int64_t states = a[0] == kLstmCell ? 2 : 1, ps = (s.t + states) * s.u;
  const float* gy = f(a[7], step);
  float* dp = f(a[8], step);
  std::memset(dp, 0, sizeof(float) * s.n * ps);
  if (a[21]) {
    for (int64_t r = 0; r < s.n; ++r) std::memcpy(dp + r * ps, gy + r * s.t * s.u, sizeof(float) * s.t * s.u);
  } else {
    for (int64_t r = 0; r < s.n; ++r)
      std::memcpy(dp + r * ps + (s.t - 1) * s.u, gy + r * s.u, sizeof(float) * s.u);
  }
  float* dx = f(a[9], step);
  float* db = a[14] != kNone ? f(a[14], step) : nullptr;
  s.activation = static_cast<rnn::Activation>(a[22]);
  if (a[0] == kLstmCell)
    rnn::lstm_backward(s, f(a[6], step), dp, dx, f(a[12], step), f(a[13], step), db, f(a[15], step),
                       f(a[16], step));
  else if (a[0] == kGruCell)
    rnn::gru_backward(s, f(a[6], step), dp, dx, f(a[12], step), f(a[13], step), db, f(a[15], step));
  else
    rnn::simple_rnn_backward(s, f(a[6], step), dp, dx, f(a[12], step), f(a[13], step), db, f(a[15], step));
  if (a[10] != kNone) {
    float* gx = f(a[10], step);
    if (gx != dx) store(gx, dx, s.n * s.t * s.in, a[11] != 0);
  }
}

void Plan::finalize(int n_outputs, int hyper_width, int64_t max_cols) {
  n_outputs_ = n_outputs;
  hyper_width_ = hyper_width;
  dacc_.assign(static_cast<size_t>(std::max<int64_t>(1, max_cols)), 0.0);
}

void Plan::set_profiling(bool on) {
  profiling_ = on;
  prof_ns_.assign(on ? n_instructions() : 0, 0);
  prof_calls_.assign(prof_ns_.size(), 0);
}

std::pair<int, int> Plan::instruction(size_t j) const {
  const std::vector<Instr>* lists[4] = {&forward_, &loss_, &backward_, &update_};
  for (int l = 0; l < 4; ++l) {
    if (j < lists[l]->size()) return {l, (*lists[l])[j].op};
    j -= lists[l]->size();
  }
  throw std::out_of_range("plan: no instruction " + std::to_string(j));
}

// On two threads, a convolution's input gradient and kernel gradient (independent, both
// reading dy) run side by side, each kernel on one thread, instead of one after the other
// with the two threads splitting each: the kernels scale worse from 1 to 2 threads than
// two independent halves do. Elsewhere (1 thread, more than 2, inside a parallel region,
// or concurrent_pairs off) one after the other.
template <class A, class B>
void Plan::run_pair(bool both, const A& first, const B& second) {
  if (!both || !concurrent_pairs_ || threads::num_threads() != 2 || threads::in_parallel_region()) {
    first();
    second();
    return;
  }
  threads::parallel_run(2, [&](int tid, int n) {
    if (n < 2) {  // the pool is busy (another Python thread): the caller runs both
      first();
      second();
    } else if (tid == 0) {
      first();
    } else {
      second();
    }
  });
}

template <class F>
void Plan::timed(size_t j, F&& fn) {
  if (!profiling_) {
    fn();
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  prof_ns_[j] +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  ++prof_calls_[j];
}

void Plan::run(int steps, int mode, const std::function<void(int)>& set_step, const double* hyper,
               double* losses) {
  const int width = 1 + n_outputs_;
  const size_t nf = forward_.size(), nl = loss_.size(), nb = backward_.size();
  for (int s = 0; s < steps; ++s) {
    set_step(s);
    for (size_t j = 0; j < nf; ++j) timed(j, [&] { run_forward(forward_[j], s); });
    if (mode == kPredict) continue;
    const bool train = mode == kTrain;
    double total = 0.0;
    int out = 0;
    for (size_t j = 0; j < nl; ++j) {
      const Instr& in = loss_[j];
      if (in.op == kRegularize) {
        timed(nf + j, [&] { total += run_regularizer(in, s, train); });
        continue;
      }
      double v = 0.0;
      timed(nf + j, [&] { v = run_loss(in, s, train); });
      losses[s * width + 1 + out] = v;
      total += static_cast<double>(in.f[0]) * v;
      ++out;
    }
    losses[s * width] = total;
    if (!train) continue;
    for (size_t j = 0; j < nb; ++j) timed(nf + nl + j, [&] { run_backward(backward_[j], s); });
    const double* h = hyper + static_cast<int64_t>(s) * hyper_width_;
    for (size_t j = 0; j < update_.size(); ++j)
      timed(nf + nl + nb + j, [&] { run_update(update_[j], s, h); });
  }
  ++runs_;
}

}  // namespace plan
}  // namespace fastnet
