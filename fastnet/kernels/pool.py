"""Pooling-family kernels on numpy float32 arrays (csrc/pool), channels-last.

    pool_forward(x (N, spatial..., C), kind 'max'|'avg', pool_size, strides, padding)
        -> (y, argmax|None)                    # 1 to 3 spatial dims
    pool_backward(dy, argmax|None, x_shape, kind, pool_size, strides, padding) -> dx
    pool2d_forward(x (N, H, W, C), kind, kh, kw, sh, sw, padding) -> (y, argmax|None)
    pool2d_backward(dy, argmax|None, x_shape, kind, kh, kw, sh, sw, padding) -> dx
    global_pool_forward(x (N, spatial..., C), kind) -> (y (N, C), tie counts|None)
    global_max_pool_backward(dy (N, C), x, y, counts) -> dx
    global_avg_pool_backward(dy (N, C), x_shape) -> dx
    upsampling_forward(x (N, spatial..., C), size) -> y   # nearest, y = x repeated per axis
    upsampling_backward(dy, size) -> dx                   # dy summed over each block

TensorFlow's padding: 'same' pads the odd extra after; max ignores padded positions,
average divides by the number of real elements. The max argmax is the flat spatial
index (d*H*W + h*W + w, int32) of the first maximum in window scan order; the backward
routes each window's dy there (TensorFlow's MaxPoolGrad tie rule). Global max shares
dy equally among tied maxima (TensorFlow's reduce_max gradient). 1-D and 2-D pooling
run the 3-D core with size-1 dims. Backward passes write every dx element once (no zero
fill): non-overlapping windows (stride >= pool) write their blocks, overlapping ones
gather; argmax values are only compared, never used as addresses (pool2d_backward still
rejects out-of-range ones). Threaded, GIL released. Wrong dtypes raise TypeError, wrong ranks,
sizes or shapes ValueError naming the argument and shapes.
"""

from fastnet._C import (  # noqa: F401
    global_avg_pool_backward,
    global_max_pool_backward,
    global_pool_forward,
    pool2d_backward,
    pool2d_forward,
    pool_backward,
    pool_forward,
    upsampling_backward,
    upsampling_forward,
)

__all__ = ["pool_forward", "pool_backward", "pool2d_forward", "pool2d_backward",
           "global_pool_forward", "global_max_pool_backward", "global_avg_pool_backward",
           "upsampling_forward", "upsampling_backward"]
