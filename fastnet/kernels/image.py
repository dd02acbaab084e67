"""Image-family kernels on numpy float32 arrays (csrc/image), channels-last.

    resize_forward(x (N, H, W, C), out_h, out_w, method) -> y (N, out_h, out_w, C)
        method 'nearest' | 'bilinear' | 'bicubic' | 'area'; half-pixel centers, no
        antialias (Keras 3 with antialias=False; bicubic is PyTorch's a = -0.75, area is
        TensorFlow's box average)
    resize_backward(dy (N, OH, OW, C), in_h, in_w, method) -> dx (N, in_h, in_w, C)
    transform_forward(x (N, H, W, C), transform (8,) | (N, 8), interpolation, fill_mode,
                      fill_value) -> y (N, H, W, C)
        output (y, x) samples the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k),
        k = c0 x + c1 y + 1; 'nearest' (round half to even) | 'bilinear'; fill modes
        'constant' | 'nearest' | 'wrap' | 'mirror' | 'reflect' (Keras's index rules)
    transform_backward(dy, transform, interpolation, fill_mode) -> dx

Threaded, GIL released. Wrong dtypes raise TypeError; wrong ranks, sizes or names
ValueError naming the argument and shapes.
"""

from fastnet._C import (  # noqa: F401
    resize_backward,
    resize_forward,
    transform_backward,
    transform_forward,
)

__all__ = ["resize_forward", "resize_backward", "transform_forward", "transform_backward"]
