// Batch-norm drivers: threads split the rows; per-thread double partial sums are
// reduced in a fixed order (deterministic for a given thread count).
#include <algorithm>
#include <cmath>
#include <vector>

#include "fastnet/cpu.h"
#include "fastnet/norm.h"
#include "fastnet/threads.h"

namespace fastnet {
namespace norm {

const NormTable& table() { return cpu::isa_table<NormTable, generic::table, avx2::table, avx512::table>(); }

namespace {

constexpr int64_t kGrainElems = 1 << 15;

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(C, 1)); }

// Sums two per-channel quantities over rows with per-thread partials.
template <typename F>
void reduce_rows(int64_t rows, int64_t C, std::vector<double>* s1, std::vector<double>* s2, F leaf) {
  // Chunks of rows: one per thread, or in determinism mode a count fixed by the size.
  const bool det = threads::deterministic();
  const int nt =
      det ? threads::deterministic_parts(rows, row_grain(C), 2 * C * 8) : std::max(1, threads::num_threads());
  std::vector<double> part(static_cast<size_t>(2 * C * nt), 0.0);
  const int64_t chunks = std::min<int64_t>(nt, (rows + row_grain(C) - 1) / row_grain(C));
  auto body = [&](int tid, int n) {
    const int64_t r0 = rows * tid / n, r1 = rows * (tid + 1) / n;
    leaf(r0, r1, part.data() + 2 * C * tid, part.data() + 2 * C * tid + C);
  };
  if (det)
    threads::parallel_parts(nt, body);
  else
    threads::parallel_run(static_cast<int>(std::max<int64_t>(chunks, 1)), body);
  s1->assign(static_cast<size_t>(C), 0.0);
  s2->assign(static_cast<size_t>(C), 0.0);
  for (int t = 0; t < nt; ++t)
    for (int64_t c = 0; c < C; ++c) {
      (*s1)[c] += part[2 * C * t + c];
      (*s2)[c] += part[2 * C * t + C + c];
    }
}

}  // namespace

void batch_norm_train(const float* x, int64_t rows, int64_t C, const float* gamma, const float* beta,
                      float epsilon, float* y, float* mean, float* var) {
  const auto& t = table();
  std::vector<double> sum, sumsq;
  reduce_rows(rows, C, &sum, &sumsq,
              [&](int64_t r0, int64_t r1, double* a, double* b) { t.sums(x, r0, r1, C, a, b); });
  std::vector<float> scale(C), shift(C);
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  for (int64_t c = 0; c < C; ++c) {
    const double m = sum[c] * inv_rows;
    double v = sumsq[c] * inv_rows - m * m;
    if (v < 0) v = 0;
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(v);
    const double inv = 1.0 / std::sqrt(v + epsilon);
    const double g = gamma ? gamma[c] : 1.0;
    scale[c] = static_cast<float>(g * inv);
    shift[c] = static_cast<float>((beta ? beta[c] : 0.0) - m * g * inv);
  }
  threads::parallel_for(rows, row_grain(C), [&](int64_t r0, int64_t r1) {
    t.apply(x, y, r0, r1, C, scale.data(), shift.data());
  });
}

void batch_norm_infer(const float* x, int64_t rows, int64_t C, const float* mean, const float* var,
                      const float* gamma, const float* beta, float epsilon, float* y) {
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
    const double g = gamma ? gamma[c] : 1.0;
    scale[c] = static_cast<float>(g * inv);
    shift[c] = static_cast<float>((beta ? beta[c] : 0.0) - mean[c] * g * inv);
  }
  const auto& t = table();
  threads::parallel_for(rows, row_grain(C), [&](int64_t r0, int64_t r1) {
    t.apply(x, y, r0, r1, C, scale.data(), shift.data());
  });
}

void batch_norm_backward(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                         const float* var, const float* gamma, float epsilon, float* dx, float* dgamma,
                         float* dbeta) {
  const auto& t = table();
  std::vector<double> sdy, sdyx;
  reduce_rows(rows, C, &sdy, &sdyx, [&](int64_t r0, int64_t r1, double* a, double* b) {
    t.grad_sums(x, dy, r0, r1, C, mean, a, b);
  });
  // xhat = (x - mean)*inv;  dx = g*inv*(dy - mean(dy) - xhat*mean(dy*xhat))
  std::vector<float> a(C), b(C), d(C);
  const double m = rows > 0 ? static_cast<double>(rows) : 1.0;
  for (int64_t c = 0; c < C; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
    const double g = gamma ? gamma[c] : 1.0;
    if (dbeta) dbeta[c] = static_cast<float>(sdy[c]);
    if (dgamma) dgamma[c] = static_cast<float>(sdyx[c] * inv);
    a[c] = static_cast<float>(g * inv);
    b[c] = static_cast<float>(-g * inv * inv * inv * sdyx[c] / m);
    d[c] = static_cast<float>(-g * inv * sdy[c] / m);
  }
  threads::parallel_for(rows, row_grain(C), [&](int64_t r0, int64_t r1) {
    t.dx(x, dy, dx, r0, r1, C, mean, a.data(), b.data(), d.data());
  });
}

}  // namespace norm
}  // namespace fastnet
