"""Normalization kernels on numpy float32 arrays (csrc/norm).

Batch norm: channels are the last axis, statistics over all the others.

    batch_norm_train(x, gamma|None, beta|None, epsilon) -> (y, mean, var)   # biased var
    batch_norm_inference(x, mean, var, gamma|None, beta|None, epsilon) -> y
    batch_norm_backward(x, dy, mean, var, gamma|None, epsilon) -> (dx, dgamma, dbeta)

Layer norm: statistics per row over the last axis (Keras LayerNormalization with
axis=-1; biased variance).

    layer_norm_forward(x, gamma|None, beta|None, epsilon) -> (y, mean, rstd)
        # mean, rstd = 1/sqrt(var + epsilon): shape x.shape[:-1]
    layer_norm_backward(x, dy, mean, rstd, gamma|None) -> (dx, dgamma, dbeta)
        # one pass over the rows; dgamma/dbeta summed in double across row blocks
"""

from fastnet._C import (  # noqa: F401
    batch_norm_backward,
    batch_norm_inference,
    batch_norm_train,
    layer_norm_backward,
    layer_norm_forward,
)

__all__ = ["batch_norm_train", "batch_norm_inference", "batch_norm_backward",
           "layer_norm_forward", "layer_norm_backward"]
