"""Elementwise kernels on numpy float32 arrays (csrc/elementwise).

    activation_forward(name, x, out)          # relu, sigmoid, tanh; out may be x
    activation_backward(name, saved, dy, out) # saved = x for relu, y for sigmoid/tanh
    softmax(x, out, log=False)                # over the last axis
    softmax_backward(y, dy, out)
    sparse_softmax_cross_entropy(logits (N, C), labels int32 (N,), loss (N,), grad=None)
"""

from fastnet._C import (  # noqa: F401
    activation_backward,
    activation_forward,
    softmax,
    softmax_backward,
    sparse_softmax_cross_entropy,
)

__all__ = ["activation_forward", "activation_backward", "softmax", "softmax_backward",
           "sparse_softmax_cross_entropy"]
