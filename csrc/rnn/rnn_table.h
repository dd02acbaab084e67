// Per-ISA leaves of the recurrent kernels (csrc/rnn/rnn_leaf.h): the small per-step
// GEMM against a recurrent kernel packed once per sequence. Internal to csrc/rnn.
#pragma once
#include <cstdint>

namespace fastnet {
namespace rnn {

struct RnnTable {
  int nr;  // packed panel width (floats)
  // Packs B (k x n; with trans, B is given as its transpose, n x k, row stride ldb)
  // into ceil(n/nr) panels of k rows x nr floats, zero padded: packed_size floats.
  void (*pack_b)(int64_t k, int64_t n, const float* b, int64_t ldb, bool trans, float* bp);
  // C (m x n, ldc) = ADD + A (m x k, lda) @ B (packed). ADD is m x n with row stride
  // ld_add (0: one row broadcast to all rows) or zeros when add is null. add may equal c.
  void (*gemm)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
               const float* add, int64_t ld_add, float* c, int64_t ldc);
  // One row of the LSTM backward step (see lstm.cpp): from the activated gates z (4U),
  // tanh(c) tc, the previous c cp, the output gradient ds and the carried dh, dcar, dc,
  // writes dz (4U), dc <- dc_prev part, and zeroes dh and dcar.
  void (*lstm_bwd_row)(int64_t u, const float* z, const float* tc, const float* cp, const float* ds,
                       float* dh, float* dcar, float* dc, float* dz);
  // The fused LSTM step (lstm.cpp, without dropout masks). lanes: units per packed panel.
  int lanes;
  // Packs [kernel; recurrent_kernel] ((in + u) x 4u, gates i f g o) into ceil(u / lanes)
  // gate-interleaved panels: panel p, row k = the i, f, g, o columns of units
  // [p * lanes, p * lanes + lanes), zero padded: lstm_packed_size floats.
  void (*pack_lstm)(int64_t in, int64_t u, const float* kernel, const float* recurrent, float* bp);
  // One step for `rows` rows: z = bias + [x | h] @ packed (xh: rows x (in + u), row stride
  // ldxh), then the gates (sigmoid i f o, tanh g) into z (rows x 4u), c = f * cp + i * g
  // (cp rows x u, or null for zeros), tc = tanh(c), h = o * tc (row stride ldh).
  void (*lstm_step)(int64_t rows, int64_t in, int64_t u, const float* xh, int64_t ldxh, const float* bp,
                    const float* bias, const float* cp, float* z, float* c, float* tc, float* h, int64_t ldh);
  // The step's arithmetic after the product, for the masked-dropout path: z (rows x 4u)
  // holds the pre-activations and receives the gates; c, tc, h as lstm_step.
  void (*lstm_gates)(int64_t rows, int64_t u, float* z, const float* cp, float* c, float* tc, float* h,
                     int64_t ldh);
};

inline int64_t lstm_packed_size(const RnnTable& tb, int64_t in, int64_t u) {
  return (in + u) * ((u + tb.lanes - 1) / tb.lanes) * 4 * tb.lanes;
}

inline int64_t packed_size(const RnnTable& tb, int64_t k, int64_t n) {
  return k * ((n + tb.nr - 1) / tb.nr) * tb.nr;
}

const RnnTable& table();  // for fastnet::cpu::isa()

namespace generic {
RnnTable table();
}
namespace avx2 {
RnnTable table();
}
namespace avx512 {
RnnTable table();
}

}  // namespace rnn
}  // namespace fastnet
