"""Recurrent sequence kernels on numpy float32 arrays (csrc/rnn), Keras's layouts.

Each forward returns ``(packed, workspace)``: ``packed[:, :T]`` holds the outputs in
processing order (reversed time with go_backwards, as Keras), then the final states
(LSTM: h_T, c_T; GRU, SimpleRNN: h_T). The workspace is opaque; pass it, ``packed``
and the same mask back to the backward.

    lstm_forward(x (N,T,I), kernel (I,4U), recurrent_kernel (U,4U), bias (4U,)|None,
                 h0 (N,U)|None, c0 (N,U)|None, go_backwards=False, mask=None)
        -> (packed (N, T+2, U), workspace)
    lstm_backward(x, kernel, recurrent_kernel, h0, c0, go_backwards, packed, workspace,
                  dpacked, has_bias, mask=None) -> (dx, dkernel, drecurrent_kernel,
                  dbias|None, dh0, dc0)
    gru_forward(x, kernel (I,3U), recurrent_kernel (U,3U), bias (2,3U)|None, h0|None,
                go_backwards=False, mask=None) -> (packed (N, T+1, U), workspace)
        Keras reset_after=True, gates z, r, h; bias row 0 input side, row 1 recurrent.
    gru_backward(x, kernel, recurrent_kernel, h0, go_backwards, packed, workspace,
                 dpacked, has_bias, mask=None) -> (dx, dkernel, drecurrent_kernel,
                 dbias|None, dh0)
    simple_rnn_forward(x, kernel (I,U), recurrent_kernel (U,U), bias (U,)|None, h0|None,
                       go_backwards=False, mask=None, activation="tanh")
        -> (packed (N, T+1, U), workspace); activation "tanh", "relu", "sigmoid", "linear"
    simple_rnn_backward(x, kernel, recurrent_kernel, h0, go_backwards, packed, workspace,
                        dpacked, has_bias, mask=None, activation="tanh")
        -> (dx, dkernel, drecurrent_kernel, dbias|None, dh0)

Every forward and backward also takes ``in_mask=None, rec_mask=None`` (last, by keyword):
training-time dropout masks fixed over the steps, float32 ``in_mask`` (C, N, I) with C = 1
(one mask for all gates) or the gate count (gate g's input is x * in_mask[g]) and
``rec_mask`` (gates, N, U) (gate g's recurrent product is (h * rec_mask[g]) @ U_g); the
backward takes the same masks.

``mask``: (N, T) bool or uint8 in input time order, or None. At a False step the state
is carried unchanged and the output repeats the previous output (zeros before the
first step), as Keras's RNN layers (zero_output_for_mask=False).

Implementation: the input projection of all steps is one GEMM; each step is one small
GEMM with the recurrent kernel (packed once per call, per-ISA leaf) and the fused gate
update, the batch split across threads for the whole sequence; the backward's weight
gradients are GEMMs over all steps at once. Bad arguments raise TypeError (dtypes) or
ValueError (shapes), naming the argument and the shapes.
"""

from fastnet._C import (  # noqa: F401
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    simple_rnn_backward,
    simple_rnn_forward,
)

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
           "simple_rnn_forward", "simple_rnn_backward"]
