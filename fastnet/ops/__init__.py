"""fastnet.ops: differentiable operations with the Keras 3 ``keras.ops`` names.

Every op records itself on an active GradientTape; the hot ones run our C++
kernels (matmul → csrc/gemm, ...). See fastnet/ops/core.py for the mechanism.
"""

import numpy as _np

from fastnet.backend.symbolic import KerasTensor as _KerasTensor
from fastnet.backend.tensor import Tensor as _Tensor
from fastnet.ops import (
    _specs,  # noqa: F401  (the output-spec rules of the ops)
    core,
    image,  # noqa: F401  (keras.ops.image)
    linalg,
    math,
    nn,
    numpy,  # noqa: F401  (keras.ops.numpy)
)
from fastnet.ops import attention as _attention
from fastnet.ops import control_flow as _control_flow
from fastnet.ops import einops as _einops
from fastnet.ops import numpy_extra as _numpy_extra
from fastnet.ops import operation as _operation  # noqa: F401  (the symbolic-op handler)
from fastnet.ops import sorting as _sorting
from fastnet.ops import spatial as _spatial
from fastnet.ops import spectral as _spectral
from fastnet.ops import updates as _updates
from fastnet.ops.attention import *  # noqa: F401,F403
from fastnet.ops.control_flow import *  # noqa: F401,F403
from fastnet.ops.core import *  # noqa: F401,F403
from fastnet.ops.einops import *  # noqa: F401,F403
from fastnet.ops.linalg import *  # noqa: F401,F403
from fastnet.ops.math import *  # noqa: F401,F403
from fastnet.ops.nn import *  # noqa: F401,F403
from fastnet.ops.numpy_extra import *  # noqa: F401,F403
from fastnet.ops.sorting import *  # noqa: F401,F403
from fastnet.ops.spatial import *  # noqa: F401,F403
from fastnet.ops.spectral import *  # noqa: F401,F403
from fastnet.ops.updates import *  # noqa: F401,F403

# Exactly the public op set: the Keras 3 names of every module, and the submodules of
# Keras's layout (core, image, math, nn, linalg, numpy). The fused helpers the layers use (conv_bias,
# bias_add, batch_norm_train, layer_norm, *_sequence, ...) stay in their modules
# (fastnet.ops.nn, fastnet.ops.spatial) and are imported from there.
__all__ = sorted({*_attention.__all__, *_control_flow.__all__, *core.__all__, *_einops.__all__,
                  *linalg.__all__, *math.__all__, *nn.__all__, *_numpy_extra.__all__,
                  *_sorting.__all__, *_spatial.__all__, *_spectral.__all__, *_updates.__all__,
                  "core", "image", "linalg", "math", "nn", "numpy"})

_NUMPY_ONLY = frozenset(("out", "dtype", "order", "where", "initial", "copy", "ddof"))


def _bind_operators():
    from fastnet.ops.math import (
        absolute,
        add,
        argmax,
        argmin,
        cast,
        clip,
        divide,
        equal,
        floor_divide,
        get_item,
        greater,
        greater_equal,
        less,
        less_equal,
        logical_and,
        logical_not,
        logical_or,
        logical_xor,
        matmul,
        mod,
        multiply,
        negative,
        not_equal,
        power,
        reshape,
        squeeze,
        subtract,
        transpose,
    )
    from fastnet.ops.math import max as reduce_max
    from fastnet.ops.math import mean as reduce_mean
    from fastnet.ops.math import min as reduce_min
    from fastnet.ops.math import prod as reduce_prod
    from fastnet.ops.math import round as math_round
    from fastnet.ops.math import sum as reduce_sum
    from fastnet.ops.numpy_extra import bitwise_and, bitwise_invert, bitwise_or, bitwise_xor

    def rev(fn):
        return lambda self, other: fn(other, self)

    T = _Tensor
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
    T.__lt__ = lambda s, o: less(s, o)
    T.__le__ = lambda s, o: less_equal(s, o)
    T.__gt__ = lambda s, o: greater(s, o)
    T.__ge__ = lambda s, o: greater_equal(s, o)
    T.__eq__ = lambda s, o: equal(s, o)
    T.__ne__ = lambda s, o: not_equal(s, o)
    T.__getitem__ = lambda s, k: get_item(s, k)
    T.astype = lambda s, dtype: cast(s, dtype)
    T.T = property(lambda s: transpose(s))
    T.__abs__ = lambda s: absolute(s)
    T.__rfloordiv__ = rev(floor_divide)
    T.__rmod__ = rev(mod)
    T.__round__ = lambda s, ndigits=None: math_round(s, ndigits or 0)
    # & | ^ ~ as the backends' arrays have them: bitwise on integers, logical on booleans
    T.__and__ = lambda s, o: bitwise_and(s, o)
    T.__rand__ = rev(bitwise_and)
    T.__or__ = lambda s, o: bitwise_or(s, o)
    T.__ror__ = rev(bitwise_or)
    T.__xor__ = lambda s, o: bitwise_xor(s, o)
    T.__rxor__ = rev(bitwise_xor)
    T.__invert__ = lambda s: bitwise_invert(s)
    # The array methods Keras programs call on eager tensors (JAX and torch arrays have
    # them), numpy's signatures, each one differentiable op. numpy's own functions call
    # them too (np.mean(t) is t.mean(axis=None, dtype=None, out=None)): a call with one of
    # numpy's array-only keywords gets numpy's answer on the value, as before the methods.
    def method(name, fn):
        def call(s, *args, **kw):
            if _NUMPY_ONLY.intersection(kw):
                return getattr(_np, name)(s.numpy(), *args, **kw)
            return fn(s, *args, **kw)

        call.__name__ = name
        return call

    def shape_args(args):
        return args[0] if len(args) == 1 and not isinstance(args[0], int) else args

    T.reshape = method("reshape", lambda s, *shape: reshape(s, shape_args(shape)))
    T.transpose = method("transpose", lambda s, *axes: transpose(s, shape_args(axes) or None))
    T.flatten = method("ravel", lambda s: reshape(s, (-1,)))
    T.ravel = T.flatten
    T.squeeze = method("squeeze", lambda s, axis=None: squeeze(s, axis))
    for name, fn in (("sum", reduce_sum), ("mean", reduce_mean), ("max", reduce_max), ("min", reduce_min),
                     ("prod", reduce_prod), ("argmax", argmax), ("argmin", argmin)):
        setattr(T, name, method(name, lambda s, axis=None, keepdims=False, fn=fn: fn(s, axis, keepdims=keepdims)))
    T.clip = method("clip", lambda s, min=None, max=None: clip(s, min, max))  # noqa: A002  (numpy's names)
    T.item = lambda s: s.numpy().item()
    T.tolist = lambda s: s.numpy().tolist()

    # KerasTensor: the same operators, each an op node of the functional graph
    K = _KerasTensor
    for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                 "__truediv__", "__rtruediv__", "__floordiv__", "__mod__", "__pow__",
                 "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__",
                 "__lt__", "__le__", "__gt__", "__ge__", "__getitem__"):
        setattr(K, name, getattr(T, name))
    # Keras's symbolic tensors: & | ^ ~ are the logical ops (keras_tensor.py)
    K.__rfloordiv__, K.__rmod__, K.__round__ = T.__rfloordiv__, T.__rmod__, T.__round__
    K.__and__ = lambda s, o: logical_and(s, o)
    K.__rand__ = rev(logical_and)
    K.__or__ = lambda s, o: logical_or(s, o)
    K.__ror__ = rev(logical_or)
    K.__xor__ = lambda s, o: logical_xor(s, o)
    K.__rxor__ = rev(logical_xor)
    K.__invert__ = lambda s: logical_not(s)


_bind_operators()

# the implementation modules stay importable (fastnet.ops.spatial, ...) but are not names
# of the public namespace
for _name in ("_bind_operators", "attention", "control_flow", "einops", "numpy_extra", "operation",
              "sorting", "spatial", "spectral", "updates"):
    globals().pop(_name, None)
del _name
