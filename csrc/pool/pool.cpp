// Picks the pooling leaf table for the active ISA level; builds the window tables.
#include <algorithm>

#include "fastnet/cpu.h"
#include "fastnet/pool.h"

namespace fastnet {
namespace pool {

const PoolTable& table() { return cpu::isa_table<PoolTable, generic::table, avx2::table, avx512::table>(); }

PoolWindows make_windows(int64_t N, int64_t C, const int64_t in[3], const int64_t k[3], const int64_t s[3],
                         bool same) {
  PoolWindows W;
  PoolGeom& g = W.g;
  g.N = N;
  g.C = C;
  for (int d = 0; d < 3; ++d) {
    const int64_t size = in[d], kd = k[d], sd = s[d];
    const int64_t out = same ? (size + sd - 1) / sd : (size >= kd ? (size - kd) / sd + 1 : 0);
    int64_t pad = 0;
    if (same) {
      const int64_t total = (out - 1) * sd + kd - size;
      pad = total > 0 ? total / 2 : 0;
    }
    g.in[d] = size;
    g.out[d] = out;
    g.k[d] = kd;
    g.s[d] = sd;
    g.pad[d] = pad;
    auto& first = W.tab[0][d];
    auto& last = W.tab[1][d];
    auto& lo = W.tab[2][d];
    auto& hi = W.tab[3][d];
    first.resize(static_cast<size_t>(std::max<int64_t>(out, 1)));
    last.resize(first.size());
    lo.resize(static_cast<size_t>(std::max<int64_t>(size, 1)));
    hi.resize(lo.size());
    auto& inv = W.inv[d];
    inv.resize(first.size());
    for (int64_t o = 0; o < out; ++o) {
      const int64_t st = o * sd - pad;
      first[o] = static_cast<int32_t>(std::max<int64_t>(st, 0));
      last[o] = static_cast<int32_t>(std::min(st + kd, size));
      inv[o] = last[o] > first[o] ? 1.0f / static_cast<float>(last[o] - first[o]) : 0.0f;
    }
    for (int64_t i = 0; i < size; ++i) {
      const int64_t num = i + pad - kd;
      int64_t l = num >= 0 ? num / sd + 1 : 0;
      const int64_t h = std::min((i + pad) / sd + 1, out);
      l = std::min(l, h);
      lo[i] = static_cast<int32_t>(l);
      hi[i] = static_cast<int32_t>(h);
    }
    g.first[d] = first.data();
    g.last[d] = last.data();
    g.cover_lo[d] = lo.data();
    g.cover_hi[d] = hi.data();
    g.inv[d] = inv.data();
  }
  return W;
}

}  // namespace pool
}  // namespace fastnet
