// Packed, cache-blocked, threaded SGEMM (BLIS-style five loops around one
// micro-kernel).
//
//   for jc in N by NC:           B block (KC x NC) lives in L3
//     for pc in K by KC:         pack op(B)[pc, jc] into NR-column panels
//       for ic in M by MC:       pack op(A)[ic, pc] into MR-row panels (L2)
//         for jr in NC by NR:    B micro-panel (L1)
//           for ir in MC by MR:  micro-kernel: one MR x NR tile of C
//
// Block sizes come from the micro-kernel's MR/NR and the CPU's cache sizes.
// Transposes are absorbed by the packing routines, so every operand layout
// runs the same micro-kernel. Threads split C into column (or row) slabs,
// each with its own packing buffers, reused across calls (thread_local).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fastnet/cpu.h"
#include "fastnet/gemm.h"
#include "fastnet/threads.h"
#include "gemm/ukernel.h"

namespace fastnet {
namespace gemm {
namespace generic {
namespace {

constexpr int MR = 4;
constexpr int NR = 8;

void ukernel_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                     float beta) {
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const float av = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += av * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < NR; ++j) row[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < NR; ++j) row[j] = alpha * acc[i][j] + beta * row[j];
    }
  }
}

}  // namespace

KernelInfo kernel() { return KernelInfo{MR, NR, &ukernel_generic}; }

}  // namespace generic

namespace {

struct Blocking {
  KernelInfo k;
  int64_t kc, mc, nc;
};

Blocking blocking_for(cpu::Isa isa) {
  KernelInfo k = generic::kernel();
  if (isa == cpu::Isa::Avx512 && avx512::kernel().fn) {
    k = avx512::kernel();
  } else if (isa >= cpu::Isa::Avx2 && avx2::kernel().fn) {
    k = avx2::kernel();
  }
  const auto& cs = cpu::cache_sizes();
  // KC: long enough that C-tile traffic (read+write per KC block) is amortized;
  // measured best near 384 on Zen 5 (the B micro-panel then lives in L1/L2).
  int64_t kc = (cs.l2 / 8) / ((k.mr + k.nr) * static_cast<int64_t>(sizeof(float)));
  kc = std::max<int64_t>(64, std::min<int64_t>(384, kc / 8 * 8));
  if (const char* env = std::getenv("FASTNET_GEMM_KC")) kc = std::max(8, std::atoi(env));
  // MC: the packed A block fills about half of L2.
  int64_t mc = (cs.l2 / 2) / (kc * static_cast<int64_t>(sizeof(float)));
  mc = std::max<int64_t>(k.mr, std::min<int64_t>(1024, mc / k.mr * k.mr));
  // NC: the packed B block stays well inside L3 (and bounded).
  int64_t nc = 4096 / k.nr * k.nr;
  return Blocking{k, kc, mc, nc};
}

Blocking blocking_generic() { return blocking_for(cpu::Isa::Generic); }
Blocking blocking_avx2() { return blocking_for(cpu::Isa::Avx2); }
Blocking blocking_avx512() { return blocking_for(cpu::Isa::Avx512); }

// The portable packers (the ISA files have vector versions in pack_leaf.h, same
// layout). A panel is w floats wide and kc steps long, stored p-major:
// dst[p * w + j] = src(p, j), zero-padded past `width`.
//   contiguous: src(p, j) = src[p * ld + j]  (A transposed, B not transposed)
//   strided:    src(p, j) = src[j * ld + p]  (A not transposed, B transposed)
// The strided case reads each source row 16 floats (one cache line) at a time: one
// float per row and step would keep w lines live, which at leading dimensions that
// are multiples of 4 KB share one L1 set and evict each other.
constexpr int64_t kLine = 16;

void panel_contiguous(const float* src, int64_t ld, int64_t kc, int64_t width, int w, float* dst) {
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * ld;
    float* d = dst + p * w;
    for (int64_t j = 0; j < width; ++j) d[j] = s[j];
    for (int64_t j = width; j < w; ++j) d[j] = 0.0f;
  }
}

void panel_strided(const float* src, int64_t ld, int64_t kc, int64_t width, int w, float* dst) {
  for (int64_t pb = 0; pb < kc; pb += kLine) {
    const int64_t pl = std::min(kLine, kc - pb);
    for (int64_t j = 0; j < w; ++j) {
      float* d = dst + pb * w + j;
      if (j < width) {
        const float* s = src + j * ld + pb;
        for (int64_t q = 0; q < pl; ++q) d[q * w] = s[q];
      } else {
        for (int64_t q = 0; q < pl; ++q) d[q * w] = 0.0f;
      }
    }
  }
}

// op(A)[i0:i0+mc, p0:p0+kc] into MR-row panels: panel r holds rows r*MR.., stored p-major.
void pack_a(bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr,
            float* out) {
  for (int64_t r = 0; r < mc; r += mr, out += kc * mr) {
    const int64_t rows = std::min<int64_t>(mr, mc - r);
    if (ta)
      panel_contiguous(a + p0 * lda + i0 + r, lda, kc, rows, mr, out);
    else
      panel_strided(a + (i0 + r) * lda + p0, lda, kc, rows, mr, out);
  }
}

// op(B)[p0:p0+kc, j0:j0+nc] into NR-column panels, stored p-major.
void pack_b(bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
            float* out) {
  for (int64_t s = 0; s < nc; s += nr, out += kc * nr) {
    const int64_t cols = std::min<int64_t>(nr, nc - s);
    if (tb)
      panel_strided(b + (j0 + s) * ldb + p0, ldb, kc, cols, nr, out);
    else
      panel_contiguous(b + p0 * ldb + j0 + s, ldb, kc, cols, nr, out);
  }
}

// The block length that cuts `extent` into ceil(extent / max_blk) nearly equal
// blocks, rounded up to a multiple of `unit` (never above max_blk when max_blk is
// a multiple of unit).
int64_t balanced_block(int64_t extent, int64_t max_blk, int64_t unit) {
  if (extent <= max_blk) return max_blk;
  const int64_t blocks = (extent + max_blk - 1) / max_blk;
  const int64_t len = (extent + blocks - 1) / blocks;
  return std::min(max_blk, (len + unit - 1) / unit * unit);
}

// Packed panels start on a cache line: the micro-kernels load B 64 bytes at a time,
// and a vector's data (large blocks come from mmap, 16 bytes past a page) would
// otherwise split every load across two lines.
float* scratch(std::vector<float>* buf, size_t n) {
  constexpr size_t kAlignFloats = 16;
  if (buf->size() < n + kAlignFloats) buf->resize(n + kAlignFloats);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf->data());
  const uintptr_t aligned = (p + kAlignFloats * sizeof(float) - 1) & ~(kAlignFloats * sizeof(float) - 1);
  return reinterpret_cast<float*>(aligned);
}

void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::memset(row, 0, static_cast<size_t>(n) * sizeof(float));
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// C[0:mc, 0:nc] (alpha, beta) from a packed A block (mc x kc, MR-row panels) and a
// packed B block (kc x nc, NR-column panels): the two loops around the micro-kernel.
void macro_kernel(const Blocking& bk, int64_t mc, int64_t nc, int64_t kc, const float* ap, const float* bp,
                  float* c, int64_t ldc, float alpha, float beta_eff) {
  const int mr = bk.k.mr, nr = bk.k.nr;
  float tile[16 * 64];  // edge tiles (MR x NR <= 16 x 64)
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int64_t cols = std::min<int64_t>(nr, nc - jr);
    const float* bpanel = bp + (jr / nr) * kc * nr;
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int64_t rows = std::min<int64_t>(mr, mc - ir);
      const float* apanel = ap + (ir / mr) * kc * mr;
      float* cptr = c + ir * ldc + jr;
      if (rows == mr && cols == nr) {
        bk.k.fn(kc, apanel, bpanel, cptr, ldc, alpha, beta_eff);
      } else if (bk.k.edge) {
        bk.k.edge(kc, apanel, bpanel, cptr, ldc, alpha, beta_eff, static_cast<int>(rows),
                  static_cast<int>(cols));
      } else {
        bk.k.fn(kc, apanel, bpanel, tile, nr, alpha, 0.0f);
        for (int64_t i = 0; i < rows; ++i) {
          float* row = cptr + i * ldc;
          const float* t = tile + i * nr;
          if (beta_eff == 0.0f) {
            for (int64_t j = 0; j < cols; ++j) row[j] = t[j];
          } else {
            for (int64_t j = 0; j < cols; ++j) row[j] = t[j] + beta_eff * row[j];
          }
        }
      }
    }
  }
}

void pack_a_block(const Blocking& bk, bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc,
                  int64_t p0, int64_t kc, float* out) {
  if (bk.k.pack_a)
    bk.k.pack_a(ta, a, lda, i0, mc, p0, kc, out);
  else
    pack_a(ta, a, lda, i0, mc, p0, kc, bk.k.mr, out);
}

void pack_b_block(const Blocking& bk, bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc,
                  int64_t j0, int64_t nc, float* out) {
  if (bk.k.pack_b)
    bk.k.pack_b(tb, b, ldb, p0, kc, j0, nc, out);
  else
    pack_b(tb, b, ldb, p0, kc, j0, nc, bk.k.nr, out);
}

// An unpacked A wins while the operands stay in L1/L2 and packing would cost
// as much as it saves: up to 256^3 multiply-adds with K at most 1024 (measured
// against the packed path on Zen 5: 64x784x64 1.24x, 256^3 1.06x numpy).
bool small_enough(bool ta, int64_t m, int64_t n, int64_t k) {
  if (k > 1024) return false;
  // Few columns (a tall product) with A row-major: each element of A is used for only
  // n columns, so packing A costs as much as the multiply, and B (k x n) stays in L2
  // whatever m is. (A column-major with many rows is read better packed.)
  return (n <= 64 && !ta) || m * n * k <= 256 * 256 * 256;
}

// One thread's share: C[0:m, 0:n] (pointers already offset). `small`: whether the
// unpacked path may be taken (-1: decide from this share's own m, n, k).
void gemm_serial(const Blocking& bk, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                 int small = -1) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  static thread_local std::vector<float> abuf, bbuf;
  if (bk.k.small && (small < 0 ? small_enough(ta, m, n, k) : small == 1)) {
    const int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1;
    if (!tb) {
      bk.k.small(m, n, k, alpha, a, rsa, csa, b, ldb, 0, beta, c, ldc);
      return;
    }
    const int64_t n_pad = (n + bk.k.nr - 1) / bk.k.nr * bk.k.nr;
    if (bk.k.pack_b && n_pad * k <= (int64_t{1} << 19)) {  // B^T packed whole: at most 2 MB
      float* bp = scratch(&bbuf, static_cast<size_t>(n_pad * k));
      bk.k.pack_b(true, b, ldb, 0, k, 0, n, bp);
      bk.k.small(m, n, k, alpha, a, rsa, csa, bp, bk.k.nr, k * bk.k.nr, beta, c, ldc);
      return;
    }
  }
  const int mr = bk.k.mr, nr = bk.k.nr;
  // K and M are cut into equal blocks no longer than KC / MC, not full blocks and a
  // short remainder: with k = 2048 and KC = 384 the last block would be 128 steps,
  // over which loading and storing the C tiles costs three times as much, and with
  // m = 2048 and MC = 336 a last block of 32 rows reuses each B micro-panel 3 times.
  // (The K split depends on k only, so results never depend on the thread count.)
  const int64_t kc_blk = balanced_block(k, bk.kc, 8);
  const int64_t mc_blk = balanced_block(m, bk.mc, mr);
  for (int64_t jc = 0; jc < n; jc += bk.nc) {
    const int64_t nc = std::min(bk.nc, n - jc);
    const int64_t nc_pad = (nc + nr - 1) / nr * nr;
    for (int64_t pc = 0; pc < k; pc += kc_blk) {
      const int64_t kc = std::min(kc_blk, k - pc);
      const float beta_eff = pc == 0 ? beta : 1.0f;
      float* bp = scratch(&bbuf, static_cast<size_t>(nc_pad * kc));
      pack_b_block(bk, tb, b, ldb, pc, kc, jc, nc, bp);
      for (int64_t ic = 0; ic < m; ic += mc_blk) {
        const int64_t mc = std::min(mc_blk, m - ic);
        const int64_t mc_pad = (mc + mr - 1) / mr * mr;
        float* ap = scratch(&abuf, static_cast<size_t>(mc_pad * kc));
        pack_a_block(bk, ta, a, lda, ic, mc, pc, kc, ap);
        macro_kernel(bk, mc, nc, kc, ap, bp, c + ic * ldc + jc, ldc, alpha, beta_eff);
      }
    }
  }
}

}  // namespace
}  // namespace gemm

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  // Blocking per ISA level, derived once (cache sizes, FASTNET_GEMM_KC read at first use)
  // and only for a level that is selected: the AVX-512 kernel() is AVX-512 code.
  const gemm::Blocking& bk =
      cpu::isa_table<gemm::Blocking, gemm::blocking_generic, gemm::blocking_avx2, gemm::blocking_avx512>();
  const double flops = 2.0 * static_cast<double>(m) * n * std::max<int64_t>(k, 1);
  int nt = threads::num_threads();
  // Below ~2 MFLOP a second thread costs more than it saves.
  if (flops < 2.0e6 || nt <= 1 || threads::in_parallel_region()) {
    gemm::gemm_serial(bk, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the larger output dimension into slabs aligned to the register tile.
  const bool split_n = n >= m;
  const int64_t extent = split_n ? n : m;
  const int64_t unit = split_n ? bk.k.nr : bk.k.mr;
  const int64_t units = (extent + unit - 1) / unit;
  nt = static_cast<int>(std::min<int64_t>(nt, units));
  // The unpacked and the packed paths round differently once K exceeds a KC block, so a
  // slab must not pick its path from its own size when results have to be the same on
  // any thread count: in determinism mode the whole product decides.
  const int small = threads::deterministic() ? (gemm::small_enough(trans_a, m, n, k) ? 1 : 0) : -1;
  threads::parallel_run(nt, [&](int tid, int nthreads) {
    const int64_t u0 = units * tid / nthreads, u1 = units * (tid + 1) / nthreads;
    const int64_t s0 = u0 * unit, s1 = std::min(extent, u1 * unit);
    if (s0 >= s1) return;
    if (split_n) {
      const float* bsub = trans_b ? b + s0 * ldb : b + s0;
      gemm::gemm_serial(bk, trans_a, trans_b, m, s1 - s0, k, alpha, a, lda, bsub, ldb, beta, c + s0, ldc,
                        small);
    } else {
      const float* asub = trans_a ? a + s0 : a + s0 * lda;
      gemm::gemm_serial(bk, trans_a, trans_b, s1 - s0, n, k, alpha, asub, lda, b, ldb, beta, c + s0 * ldc,
                        ldc, small);
    }
  });
}

void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                   int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c) {
  if (batch <= 0) return;
  const double flops = 2.0 * static_cast<double>(m) * n * std::max<int64_t>(k, 1);
  if (batch > 1 && flops < 4.0e6 && !threads::in_parallel_region()) {
    // Many small products: one per thread at a time.
    threads::parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i)
        sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
              c + i * stride_c, ldc);
    });
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
          c + i * stride_c, ldc);
}

}  // namespace fastnet
