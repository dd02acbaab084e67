// Recurrent layers over a whole sequence, forward and backward-through-time in C++:
// LSTM (Keras gate order i, f, c, o), GRU (Keras reset_after=True: z, r, h) and
// SimpleRNN, all with Keras's weight layouts, optional masks and go_backwards.
//
// Structure (csrc/rnn/rnn_common.h): the input projection of all steps is one GEMM;
// per step one small GEMM with the recurrent kernel (packed once per call, per-ISA
// leaf in csrc/rnn/rnn_leaf.h) and the fused gate update; the batch rows are split
// between threads once for the whole sequence. The backward runs the step loop for
// the gate gradients and the state gradient, then the weight gradients are three
// GEMMs over all steps (input kernel, recurrent kernel, dx).
//
// Masks: (N, T) bytes (0 = skip), in input time order. At a skipped step the state is
// carried unchanged and the output repeats the previous output (zeros before the first
// step), as Keras's backend.rnn with zero_output_for_mask=False.
//
// Dropout (Keras's recurrent cells in training; masks fixed over the time steps):
// in_mask (C, N, I), C = 1 (one mask for all gates, Keras's implementation 2) or the gate
// count (one per gate, implementation 1), multiplies the inputs of gate g before its input
// projection; rec_mask (G, N, U) multiplies the state entering gate g's recurrent product
// (the state itself, and the GRU's z * h_prev, stay unmasked, as Keras). The backward
// takes the same masks.
#pragma once
#include <cstdint>

namespace fastnet {
namespace rnn {

enum class Activation : int { Tanh = 0, Relu = 1, Sigmoid = 2, Linear = 3 };

struct SeqArgs {
  int64_t n = 0, t = 0, in = 0, u = 0;
  const float* x = nullptr;          // (N, T, I)
  const float* kernel = nullptr;     // (I, gU)
  const float* recurrent = nullptr;  // (U, gU)
  const float* bias = nullptr;       // LSTM (4U), GRU (2, 3U), SimpleRNN (U), or null
  const float* h0 = nullptr;         // (N, U) or null (zeros)
  const float* c0 = nullptr;         // LSTM only: (N, U) or null (zeros)
  const uint8_t* mask = nullptr;     // (N, T) or null
  const float* in_mask = nullptr;    // (in_mask_count, N, I) or null
  int64_t in_mask_count = 0;         // 1 or the gate count
  const float* rec_mask = nullptr;   // (gates, N, U) or null
  bool go_backwards = false;
  Activation activation = Activation::Tanh;  // SimpleRNN only
  // (N, T + S, U): outputs in processing order (reversed time when go_backwards, as
  // Keras), then the S final states (LSTM h, c; GRU and SimpleRNN h). Written by the
  // forward, read by nobody else.
  float* packed = nullptr;
};

// Workspace floats kept from forward to backward (contents are private to the kernel):
//   LSTM T*N*7U, GRU T*N*5U, SimpleRNN T*N*2U.
int64_t lstm_workspace_size(int64_t n, int64_t t, int64_t u);
int64_t gru_workspace_size(int64_t n, int64_t t, int64_t u);
int64_t simple_rnn_workspace_size(int64_t n, int64_t t, int64_t u);

void lstm_forward(const SeqArgs& a, float* ws);
void gru_forward(const SeqArgs& a, float* ws);
void simple_rnn_forward(const SeqArgs& a, float* ws);

// a: the forward's arguments (same mask); dpacked: gradient of packed (N, T + S, U).
// Outputs: dx (N, T, I), dkernel (I, gU), drecurrent (U, gU), dbias (bias's shape) or
// null, dh0 (N, U), dc0 (N, U, LSTM only).
void lstm_backward(const SeqArgs& a, const float* ws, const float* dpacked, float* dx, float* dkernel,
                   float* drecurrent, float* dbias, float* dh0, float* dc0);
void gru_backward(const SeqArgs& a, const float* ws, const float* dpacked, float* dx, float* dkernel,
                  float* drecurrent, float* dbias, float* dh0);
void simple_rnn_backward(const SeqArgs& a, const float* ws, const float* dpacked, float* dx, float* dkernel,
                         float* drecurrent, float* dbias, float* dh0);

}  // namespace rnn
}  // namespace fastnet
