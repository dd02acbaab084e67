// Layer-norm drivers: threads split the rows. The backward's dgamma/dbeta partials are
// summed in float over short row blocks, then in double per thread, then reduced in
// thread order (deterministic for a given thread count).
#include <algorithm>
#include <vector>

#include "fastnet/norm.h"
#include "fastnet/threads.h"

namespace fastnet {
namespace norm {

namespace {

constexpr int64_t kGrainElems = 1 << 15;
constexpr int64_t kBlockRows = 64;

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(C, 1)); }

}  // namespace

void layer_norm_forward(const float* x, int64_t rows, int64_t C, const float* gamma, const float* beta,
                        float epsilon, float* y, float* mean, float* rstd) {
  const auto& t = table();
  threads::parallel_for(rows, row_grain(C), [&](int64_t r0, int64_t r1) {
    t.ln_fwd(x, gamma, beta, epsilon, y, mean, rstd, r0, r1, C);
  });
}

void layer_norm_backward(const float* x, const float* dy, int64_t rows, int64_t C, const float* mean,
                         const float* rstd, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  const auto& t = table();
  // Chunks of rows: one per thread, or in determinism mode a count fixed by the size.
  const bool det = threads::deterministic();
  const int nt = std::max(1, threads::num_threads());
  const int64_t chunks =
      det ? threads::deterministic_parts(rows, row_grain(C), 2 * C * 8)
          : std::max<int64_t>(1, std::min<int64_t>(nt, (rows + row_grain(C) - 1) / row_grain(C)));
  std::vector<double> part(static_cast<size_t>(2 * C * chunks), 0.0);
  auto body = [&](int tid, int n) {
    const int64_t r0 = rows * tid / n, r1 = rows * (tid + 1) / n;
    std::vector<float> fg(static_cast<size_t>(C)), fb(static_cast<size_t>(C));
    double* dg = part.data() + 2 * C * tid;
    double* db = dg + C;
    for (int64_t b0 = r0; b0 < r1; b0 += kBlockRows) {
      std::fill(fg.begin(), fg.end(), 0.0f);
      std::fill(fb.begin(), fb.end(), 0.0f);
      t.ln_bwd(x, dy, mean, rstd, gamma, dx, fg.data(), fb.data(), b0, std::min(r1, b0 + kBlockRows), C);
      for (int64_t c = 0; c < C; ++c) {
        dg[c] += fg[c];
        db[c] += fb[c];
      }
    }
  };
  if (det)
    threads::parallel_parts(chunks, body);
  else
    threads::parallel_run(static_cast<int>(chunks), body);
  for (int64_t c = 0; c < C; ++c) {
    double g = 0.0, b = 0.0;
    for (int64_t k = 0; k < chunks; ++k) {
      g += part[2 * C * k + c];
      b += part[2 * C * k + C + c];
    }
    if (dgamma) dgamma[c] = static_cast<float>(g);
    if (dbeta) dbeta[c] = static_cast<float>(b);
  }
}

}  // namespace norm
}  // namespace fastnet
