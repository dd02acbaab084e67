// LSTM over a whole sequence (Keras layout and gate order i, f, c, o; activation tanh,
// recurrent activation sigmoid), forward and backward-through-time in C++:
// the input projection of all steps is one GEMM, then per step one GEMM with the
// recurrent kernel and the fused gate update (vectorized sigmoid/tanh from
// fastnet/elementwise.h).
//
//   x (N, T, I), kernel (I, 4U), recurrent (U, 4U), bias (4U) or null, h0/c0 (N, U) or null
//   seq (N, T, U): outputs in processing order (reversed time when go_backwards, as Keras)
//   ws: workspace kept for the backward: gates (T, N, 4U) after activation,
//       c (T, N, U), tanh(c) (T, N, U)  -> ws floats = T*N*6U
#pragma once
#include <cstdint>

namespace fastnet {
namespace rnn {

int64_t lstm_workspace_size(int64_t n, int64_t t, int64_t u);

void lstm_forward(int64_t n, int64_t t, int64_t i, int64_t u, const float* x, const float* kernel,
                  const float* recurrent, const float* bias, const float* h0, const float* c0,
                  bool go_backwards, float* seq, float* h_last, float* c_last, float* ws);

// dseq (N, T, U) or null, dh_last/dc_last (N, U) or null. Outputs: dx (N, T, I),
// dkernel (I, 4U), drecurrent (U, 4U), dbias (4U) or null, dh0/dc0 (N, U).
void lstm_backward(int64_t n, int64_t t, int64_t i, int64_t u, const float* x, const float* kernel,
                   const float* recurrent, const float* h0, const float* c0, bool go_backwards,
                   const float* seq, const float* ws, const float* dseq, const float* dh_last,
                   const float* dc_last, float* dx, float* dkernel, float* drecurrent, float* dbias,
                   float* dh0, float* dc0);

}  // namespace rnn
}  // namespace fastnet

namespace fastnet {
namespace rnn {

// GRU, Keras reset_after=True layout: kernel (I, 3U), recurrent (U, 3U), bias (2, 3U)
// (row 0 input bias, row 1 recurrent bias) or null; gates z, r, h;
// h_t = z*h + (1-z)*tanh(x_h + r*(h@U_h + b_rh)). ws floats = T*N*4U (z, r, hh, rec_h).
int64_t gru_workspace_size(int64_t n, int64_t t, int64_t u);

void gru_forward(int64_t n, int64_t t, int64_t i, int64_t u, const float* x, const float* kernel,
                 const float* recurrent, const float* bias, const float* h0, bool go_backwards, float* seq,
                 float* h_last, float* ws);

void gru_backward(int64_t n, int64_t t, int64_t i, int64_t u, const float* x, const float* kernel,
                  const float* recurrent, const float* h0, bool go_backwards, const float* seq,
                  const float* ws, const float* dseq, const float* dh_last, float* dx, float* dkernel,
                  float* drecurrent, float* dbias, float* dh0);

}  // namespace rnn
}  // namespace fastnet
