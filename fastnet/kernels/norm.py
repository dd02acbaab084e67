"""Batch-normalization kernels on numpy float32 arrays (csrc/norm); channels are
the last axis, statistics over all the others.

    batch_norm_train(x, gamma|None, beta|None, epsilon) -> (y, mean, var)   # biased var
    batch_norm_inference(x, mean, var, gamma|None, beta|None, epsilon) -> y
    batch_norm_backward(x, dy, mean, var, gamma|None, epsilon) -> (dx, dgamma, dbeta)
"""

from fastnet._C import (  # noqa: F401
    batch_norm_backward,
    batch_norm_inference,
    batch_norm_train,
)

__all__ = ["batch_norm_train", "batch_norm_inference", "batch_norm_backward"]
