# Type stubs for the compiled module fastnet._C (csrc/bindings/*.cpp).
# One section per kernel family; keep each in step with its binding file.
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

# ---- cpu (csrc/bindings/cpu.cpp) ----
def cpu_features() -> dict[str, Any]: ...
def get_isa() -> str: ...
def set_isa(name: str) -> str: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def default_num_threads() -> int: ...

# ---- gemm (csrc/bindings/gemm.cpp) ----
def gemm(a: F32, b: F32, c: F32, alpha: float = 1.0, beta: float = 0.0, trans_a: bool = False,
         trans_b: bool = False) -> None: ...
def batched_matmul(a: F32, b: F32, c: F32, trans_a: bool = False,
                   trans_b: bool = False) -> None: ...

# ---- conv (csrc/bindings/conv.cpp) ----
# Channels-last float32 C-contiguous arrays; rank r = x.ndim - 2 (1..3). Per-axis
# arguments are lists of r ints; padding is "valid" or "same". Wrapped by
# fastnet/kernels/conv.py (which documents the shapes).
def conv_forward(x: F32, kernel: F32, bias: F32 | None, strides: list[int], padding: str,
                 dilation_rate: list[int]) -> F32: ...
def conv_backward_input(dy: F32, kernel: F32, input_shape: list[int], strides: list[int],
                        padding: str, dilation_rate: list[int]) -> F32: ...
def conv_backward_kernel(x: F32, dy: F32, kernel_shape: list[int], strides: list[int],
                         padding: str, dilation_rate: list[int],
                         with_bias: bool) -> tuple[F32, F32 | None]: ...
def conv_transpose_forward(x: F32, kernel: F32, bias: F32 | None, strides: list[int],
                           padding: str, output_padding: list[int] | None,
                           dilation_rate: list[int]) -> F32: ...
def conv_transpose_backward_input(dy: F32, kernel: F32, input_shape: list[int],
                                  strides: list[int], padding: str,
                                  output_padding: list[int] | None,
                                  dilation_rate: list[int]) -> F32: ...
def conv_transpose_backward_kernel(x: F32, dy: F32, kernel_shape: list[int], strides: list[int],
                                   padding: str, output_padding: list[int] | None,
                                   dilation_rate: list[int],
                                   with_bias: bool) -> tuple[F32, F32 | None]: ...
def depthwise_conv_forward(x: F32, kernel: F32, bias: F32 | None, strides: list[int],
                           padding: str, dilation_rate: list[int]) -> F32: ...
def depthwise_conv_backward_input(dy: F32, kernel: F32, input_shape: list[int],
                                  strides: list[int], padding: str,
                                  dilation_rate: list[int]) -> F32: ...
def depthwise_conv_backward_kernel(x: F32, dy: F32, kernel_shape: list[int], strides: list[int],
                                   padding: str, dilation_rate: list[int],
                                   with_bias: bool) -> tuple[F32, F32 | None]: ...

# ---- pool (csrc/bindings/pool.cpp) ----

# ---- rnn (csrc/bindings/rnn.cpp) ----

# ---- norm (csrc/bindings/norm.cpp) ----

# ---- elementwise (csrc/bindings/elementwise.cpp) ----

# ---- optim (csrc/bindings/optim.cpp) ----
