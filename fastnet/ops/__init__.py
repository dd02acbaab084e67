"""fastnet.ops: differentiable operations with the Keras 3 ``keras.ops`` names.

Every op records itself on an active GradientTape; the hot ones run our C++
kernels (matmul → csrc/gemm, ...). See fastnet/ops/core.py for the mechanism.
"""

from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tensor import Tensor
from fastnet.ops import linalg
from fastnet.ops import operation as _operation  # noqa: F401  (the symbolic-op handler)
from fastnet.ops.attention import dot_product_attention  # noqa: F401
from fastnet.ops.core import convert_to_numpy, convert_to_tensor
from fastnet.ops.linalg import (  # noqa: F401
    cholesky,
    cholesky_inverse,
    det,
    eigh,
    inv,
    logdet,
    lstsq,
    matrix_rank,
    norm,
    pinv,
    qr,
    solve,
    solve_triangular,
    svd,
)
from fastnet.ops.math import *  # noqa: F401,F403
from fastnet.ops.math import (
    add,
    divide,
    equal,
    floor_divide,
    get_item,
    greater,
    greater_equal,
    less,
    less_equal,
    matmul,
    mod,
    multiply,
    negative,
    not_equal,
    power,
    subtract,
)
from fastnet.ops.nn import *  # noqa: F401,F403
from fastnet.ops.numpy_extra import *  # noqa: F401,F403
from fastnet.ops.sorting import *  # noqa: F401,F403
from fastnet.ops.spatial import *  # noqa: F401,F403
from fastnet.ops.spectral import *  # noqa: F401,F403

__all__ = ["convert_to_tensor", "convert_to_numpy", "linalg"]


def _bind_operators():
    def rev(fn):
        return lambda self, other: fn(other, self)

    T = Tensor
    T.__add__ = lambda s, o: add(s, o)
    T.__radd__ = rev(add)
    T.__sub__ = lambda s, o: subtract(s, o)
    T.__rsub__ = rev(subtract)
    T.__mul__ = lambda s, o: multiply(s, o)
    T.__rmul__ = rev(multiply)
    T.__truediv__ = lambda s, o: divide(s, o)
    T.__rtruediv__ = rev(divide)
    T.__floordiv__ = lambda s, o: floor_divide(s, o)
    T.__mod__ = lambda s, o: mod(s, o)
    T.__pow__ = lambda s, o: power(s, o)
    T.__rpow__ = rev(power)
    T.__matmul__ = lambda s, o: matmul(s, o)
    T.__rmatmul__ = rev(matmul)
    T.__neg__ = lambda s: negative(s)
    T.__pos__ = lambda s: s
    T.__abs__ = lambda s: abs(s)  # noqa: F405
    T.__lt__ = lambda s, o: less(s, o)
    T.__le__ = lambda s, o: less_equal(s, o)
    T.__gt__ = lambda s, o: greater(s, o)
    T.__ge__ = lambda s, o: greater_equal(s, o)
    T.__eq__ = lambda s, o: equal(s, o)
    T.__ne__ = lambda s, o: not_equal(s, o)
    T.__getitem__ = lambda s, k: get_item(s, k)
    T.astype = lambda s, dtype: cast(s, dtype)  # noqa: F405
    T.T = property(lambda s: transpose(s))  # noqa: F405

    # KerasTensor: the same operators, each an op node of the functional graph
    K = KerasTensor
    for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                 "__truediv__", "__rtruediv__", "__floordiv__", "__mod__", "__pow__",
                 "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__",
                 "__lt__", "__le__", "__gt__", "__ge__", "__getitem__"):
        setattr(K, name, getattr(T, name))


_bind_operators()
