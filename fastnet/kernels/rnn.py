"""LSTM sequence kernels on numpy float32 arrays (csrc/rnn), Keras's layout.

    lstm_forward(x (N,T,I), kernel (I,4U), recurrent_kernel (U,4U), bias (4U,)|None,
                 h0|None, c0|None, go_backwards=False) -> (packed (N, T+2, U), workspace)
        packed[:, :T] = outputs in processing order, packed[:, T] = h_T, packed[:, T+1] = c_T
    lstm_backward(x, kernel, recurrent_kernel, h0, c0, go_backwards, packed, workspace,
                  dpacked, has_bias) -> (dx, dkernel, drecurrent_kernel, dbias|None, dh0, dc0)
"""

from fastnet._C import gru_backward, gru_forward, lstm_backward, lstm_forward  # noqa: F401

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]
