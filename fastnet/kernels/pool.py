"""2-D pooling kernels on numpy float32 arrays (csrc/pool), channels-last.

    pool2d_forward(x (N, H, W, C), kind 'max'|'avg', kh, kw, sh, sw, padding) -> (y, argmax|None)
    pool2d_backward(dy, argmax|None, x_shape, kind, kh, kw, sh, sw, padding) -> dx

TensorFlow's padding: 'same' pads the odd extra after; max ignores padded
positions (the gradient goes to the first maximum in scan order), average
divides by the number of real elements.
"""

from fastnet._C import pool2d_backward, pool2d_forward  # noqa: F401

__all__ = ["pool2d_forward", "pool2d_backward"]
