"""keras.backend's dtype helpers: is_float_dtype, is_int_dtype and result_type (Keras 3's
type-promotion lattice, keras/src/backend/common/dtypes.py).

fastnet keeps 64-bit results 64-bit (Keras's TensorFlow column): result_type("int64",
"float32") is float32 as in Keras, result_type("float64", "int32") is float64; Keras on
JAX/torch narrows 64-bit results to 32 bits, which fastnet does not do in its ops either.
"""

import functools

import numpy as np

_INT = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
_FLOAT = ("bfloat16", "float16", "float32", "float64")
_ALLOWED = ("bool", *_INT, *_FLOAT, "complex64", "complex128", "string")

# each dtype -> the dtypes immediately above it; "int" and "float" are Python scalars
# (weak types), which give way to any tensor dtype of their kind
_LATTICE = {
    "bool": ["int"], "uint8": ["int16", "uint16"], "uint16": ["int32", "uint32"],
    "uint32": ["int64", "uint64"], "uint64": ["float"], "int": ["uint8", "int8", "complex64"],
    "int8": ["int16"], "int16": ["int32"], "int32": ["int64"], "int64": ["float"],
    "float": ["bfloat16", "float16"], "bfloat16": ["float32"], "float16": ["float32"],
    "float32": ["float64", "complex64"], "float64": ["complex128"],
    "complex64": ["complex128"], "complex128": [],
}


def _upper_bounds():
    ub = {n: {n} for n in _LATTICE}
    for n in _LATTICE:
        while True:
            new = set().union(*(_LATTICE[b] for b in ub[n]))
            if new <= ub[n]:
                break
            ub[n] |= new
    return ub


_UB = _upper_bounds()


@functools.lru_cache(256)
def _least_upper_bound(*nodes):
    bounds = set.intersection(*[_UB[n] for n in nodes])
    lub = (bounds & set(nodes)) or {c for c in bounds if bounds <= _UB[c]}
    if len(lub) != 1:
        raise ValueError(f"Input dtypes {nodes} have no available implicit dtype promotion "
                         "path. Try explicitly casting inputs to the desired output type.")
    return lub.pop()


def _standard(dtype):
    from fastnet.backend.tensor import floatx

    if dtype is None:
        return floatx(), False
    if dtype is int or dtype is float:
        return ("int32" if dtype is int else "float32"), True
    if dtype is bool:
        return "bool", False
    if isinstance(dtype, str) and dtype in _ALLOWED:
        return dtype, False
    if hasattr(dtype, "dtype") and not isinstance(dtype, type):  # a tensor or an array
        dtype = dtype.dtype
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in _ALLOWED:
        raise ValueError(f"Invalid value for argument `dtype`. Expected one of {_ALLOWED}. "
                         f"Received: dtype={dtype!r}")
    return name, False


def result_type(*dtypes):
    """The dtype Keras 3 gives an operation on inputs of these dtypes (None: floatx;
    Python ``int``/``float``: weak types that follow a tensor dtype of their kind)."""
    from fastnet.backend.tensor import floatx

    if not dtypes:
        return floatx()
    pairs = [_standard(d) for d in dtypes]
    names = [n for n, _ in pairs]
    weak = [w for _, w in pairs]
    if len(pairs) == 1:
        return names[0]
    if len(set(names)) == 1 and not all(weak):
        return names[0]
    if all(weak):
        out = _least_upper_bound(*sorted(set(names)))
        out_weak = True
    else:
        nodes = {("float" if "float" in n else "int" if "int" in n else n) if w else n
                 for n, w in zip(names, weak)}
        out = _least_upper_bound(*sorted(nodes))
        out_weak = out in ("int", "float")
    if out_weak and out != "bool":
        precision = floatx()[-2:]
        out = {"i": f"int{precision}", "u": f"uint{precision}"}.get(out[0], f"float{precision}")
    return out


def is_float_dtype(dtype):
    name, _ = _standard(dtype)
    return name.startswith("float") or name.startswith("bfloat")


def is_int_dtype(dtype):
    name, _ = _standard(dtype)
    return name.startswith("int") or name.startswith("uint")


__all__ = ["is_float_dtype", "is_int_dtype", "result_type"]
