// Embedding gather and gradient scatter-add (see fastnet/embedding.h).
#include "fastnet/embedding.h"

#include <algorithm>
#include <cstring>

#include "fastnet/threads.h"

namespace fastnet {
namespace embedding {
namespace {

constexpr int64_t kGrainFloats = 1 << 15;  // floats written per thread chunk, at least

template <typename I>
int64_t first_bad(const I* idx, int64_t m, int64_t rows) {
  for (int64_t i = 0; i < m; ++i)
    if (idx[i] < 0 || static_cast<int64_t>(idx[i]) >= rows) return i;
  return -1;
}

template <typename I>
void gather_impl(const float* table, int64_t d, const I* idx, int64_t m, float* out) {
  threads::parallel_for(
      m, std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(1, d)), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          std::memcpy(out + i * d, table + static_cast<int64_t>(idx[i]) * d, sizeof(float) * d);
      });
}

template <typename I>
void scatter_impl(const I* idx, int64_t m, const float* g, int64_t d, int64_t rows, float* out) {
  // A block of table rows per chunk: the zero-fill is one contiguous memset, and a
  // gradient row is added by the one chunk that owns its table row (no races, and each
  // table row sums its gradient rows in index order whatever the split).
  const int64_t grain = std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(1, d));
  threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::memset(out + r0 * d, 0, sizeof(float) * (r1 - r0) * d);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t r = static_cast<int64_t>(idx[i]);
      if (r < r0 || r >= r1) continue;
      float* dst = out + r * d;
      const float* src = g + i * d;
      for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
    }
  });
}

}  // namespace

int64_t first_out_of_range(const int32_t* idx, int64_t m, int64_t rows) { return first_bad(idx, m, rows); }
int64_t first_out_of_range(const int64_t* idx, int64_t m, int64_t rows) { return first_bad(idx, m, rows); }

void gather(const float* table, int64_t d, const int32_t* idx, int64_t m, float* out) {
  gather_impl(table, d, idx, m, out);
}
void gather(const float* table, int64_t d, const int64_t* idx, int64_t m, float* out) {
  gather_impl(table, d, idx, m, out);
}

void scatter_add(const int32_t* idx, int64_t m, const float* g, int64_t d, int64_t rows, float* out) {
  scatter_impl(idx, m, g, d, rows, out);
}
void scatter_add(const int64_t* idx, int64_t m, const float* g, int64_t d, int64_t rows, float* out) {
  scatter_impl(idx, m, g, d, rows, out);
}

}  // namespace embedding
}  // namespace fastnet
