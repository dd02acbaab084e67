"""Constructor-argument checks shared by the built-in layers (Keras's
``utils/argument_validation.py`` idea): every refusal is a ValueError (or TypeError) that
names the layer, the argument and the received value."""

from __future__ import annotations

import numbers


def _where(layer):
    return f"{type(layer).__name__} {layer.name!r}"


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_int(value, name, layer, minimum=1):
    """An integer >= minimum (sizes: 1, counts that may be empty: 0)."""
    if not _is_int(value) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{_where(layer)}: `{name}` must be {kind}. Received: {name}={value!r}")
    return int(value)


def check_number(value, name, layer, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or value != value or (minimum is not None and value < minimum)):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{_where(layer)}: `{name}` must be a number{bound}. Received: "
                         f"{name}={value!r}")
    return value


def standardize_tuple(value, n, name, layer, minimum=1):
    """An int (repeated n times) or n ints, each >= minimum."""
    if _is_int(value):
        value = (value,) * n
    try:
        out = tuple(value)
    except TypeError:
        out = None
    if out is None or len(out) != n or any(not _is_int(v) or v < minimum for v in out):
        kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"{_where(layer)}: the `{name}` argument must be an integer or a tuple "
                         f"of {n} {kind}. Received: {name}={value!r}")
    return tuple(int(v) for v in out)


def check_padding(value, layer, allowed=("valid", "same")):
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{_where(layer)}: the `padding` argument must be one of {allowed}. "
                         f"Received: padding={value!r}")
    return value.lower()
