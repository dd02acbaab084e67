"""Control flow with Keras 3's names (keras.ops.cond, while_loop, fori_loop, scan, map,
switch, associative_scan, vectorized_map) and custom_gradient.

fastnet runs eagerly, so a loop is a Python loop over ops: every op in a branch or a loop
body records itself on the active tape, and the result is differentiable (to any order)
through exactly the iterations that ran, as TensorFlow's eager control flow. On symbolic
KerasTensors each function gives its output spec from the branch/body functions called
on KerasTensors (fastnet/ops/_specs.py), as Keras's ops do.
"""

from __future__ import annotations

import numpy as np

from fastnet.backend.tape import first_order_only, stop_recording_all
from fastnet.backend.tensor import Tensor
from fastnet.ops import math as m
from fastnet.ops.core import _t, make, op


# ---- nested structures (lists, tuples, dicts of tensors) -----------------------------------
def _flatten(s):
    if isinstance(s, (list, tuple)):
        return [leaf for x in s for leaf in _flatten(x)]
    if isinstance(s, dict):
        return [leaf for k in sorted(s) for leaf in _flatten(s[k])]
    return [s]


def _pack(s, it):
    if isinstance(s, (list, tuple)):
        out = [_pack(x, it) for x in s]
        return tuple(out) if isinstance(s, tuple) else out
    if isinstance(s, dict):
        return {k: _pack(s[k], it) for k in sorted(s)}
    return next(it)


def _pack_like(s, flat):
    return _pack(s, iter(flat))


def _to_tensors(s):
    return _pack_like(s, [_t(x) for x in _flatten(s)])


def _truth(pred, name):
    v = np.asarray(_t(pred)._value)
    if v.size != 1:
        raise ValueError(f"{name}: the predicate must be a scalar (one element); got a tensor "
                         f"of shape {v.shape}")
    return bool(v.reshape(()))


# ---- branches and loops -----------------------------------------------------------------------
@op
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()`` (pred a scalar)."""
    return true_fn() if _truth(pred, "cond") else false_fn()


@op
def switch(index, branches, *operands):
    """``branches[index](*operands)``, the index clipped to the valid range as Keras."""
    if not branches:
        raise ValueError("switch: `branches` must be a non-empty list of callables")
    i = int(np.clip(np.asarray(_t(index)._value).reshape(()), 0, len(branches) - 1))
    return branches[i](*operands)


@op
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Runs ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (a tuple or list
    of loop variables is unpacked into the calls; one variable is passed as is), at most
    ``maximum_iterations`` times."""
    is_tuple = isinstance(loop_vars, (tuple, list))
    vs = tuple(loop_vars) if is_tuple else (loop_vars,)
    vs = tuple(_to_tensors(v) for v in vs)
    if maximum_iterations is not None and int(maximum_iterations) < 0:
        raise ValueError(f"while_loop: maximum_iterations must be >= 0. Received: "
                         f"maximum_iterations={maximum_iterations}")
    n = 0
    while (maximum_iterations is None or n < int(maximum_iterations)) and \
            _truth(cond(*vs), "while_loop"):
        out = body(*vs)
        out = tuple(out) if isinstance(out, (list, tuple)) else (out,)
        if len(out) != len(vs):
            raise ValueError(f"while_loop: `body` returned {len(out)} values for "
                             f"{len(vs)} loop variables")
        vs = out
        n += 1
    return vs if is_tuple else vs[0]


@op
def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for i in range(lower, upper)."""
    lo, hi = int(_t(lower)._value), int(_t(upper)._value)
    val = init_val
    for i in range(lo, hi):
        val = body_fun(i, val)
    return val



@op
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """jax.lax.scan: ``carry, y = f(carry, x)`` over the leading axis of xs (or ``length``
    steps of ``x = None``); returns the last carry and the stacked ys."""
    if not callable(f):
        raise TypeError(f"scan: `f` should be a callable. Received: f={f}")
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"scan: `unroll` must be a positive integer or a boolean. "
                         f"Received: unroll={unroll}")
    if xs is None and length is None:
        raise ValueError("scan: got no `xs` to scan over and `length` not provided.")
    xs_flat = [] if xs is None else [_t(x) for x in _flatten(xs)]
    n = int(length) if length is not None else int(xs_flat[0].shape[0])
    for x in xs_flat:
        if x.ndim == 0 or x.shape[0] != n:
            raise ValueError(f"scan: every `xs` leaf needs a leading axis of length {n}; got "
                             f"shape {tuple(x.shape)}")
    carry = _to_tensors(init)
    ys = []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        x = _pack_like(xs, [v[i] for v in xs_flat]) if xs is not None else None
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    if not ys or all(y is None for y in ys):
        return carry, None
    template = ys[0]
    leaves = [_flatten(y) for y in ys]
    stacked = [m.stack([_t(leaf[k]) for leaf in leaves], axis=0)
               for k in range(len(leaves[0]))]
    return carry, _pack_like(template, stacked)


@op
def map(f, xs):  # noqa: A001  (Keras's name)
    """``stack([f(x) for x in xs])`` over the leading axis (xs may be nested)."""
    return scan(lambda carry, x: ((), f(x)), (), xs)[1]


@op
def vectorized_map(function, elements):
    """``function`` applied to each slice of ``elements`` along axis 0 (a list/tuple of
    tensors is sliced together and passed as a list), the results stacked."""
    if isinstance(elements, (list, tuple)):
        es = [_t(e) for e in elements]
        outs = [function([e[i] for e in es]) for i in range(int(es[0].shape[0]))]
    else:
        e = _t(elements)
        outs = [function(e[i]) for i in range(int(e.shape[0]))]
    leaves = [_flatten(o) for o in outs]
    stacked = [m.stack([_t(leaf[k]) for leaf in leaves], axis=0)
               for k in range(len(leaves[0]))]
    return _pack_like(outs[0], stacked)


@op
def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive prefix scan with an associative ``f`` along ``axis`` (jax.lax's
    associative_scan): out[i] = f(...f(f(e[0], e[1]), e[2])..., e[i]); ``reverse`` scans
    from the end. ``f`` is called on slices of length one along ``axis``."""
    if not callable(f):
        raise TypeError(f"associative_scan: `f` should be a callable. Received: f={f}")
    flat = [_t(e) for e in _flatten(elems)]
    nd = flat[0].ndim
    ax = m._axis(axis, flat[0].shape, "associative_scan: axis")
    n = flat[0].shape[ax]
    if any(e.shape[ax] != n for e in flat):
        raise ValueError("associative_scan: array inputs must have the same size along axis "
                         f"{axis}; got shapes {[tuple(e.shape) for e in flat]}")

    def piece(e, i):
        return m.get_item(e, (slice(None),) * ax + (slice(i, i + 1),) + (slice(None),) *
                          (nd - ax - 1))

    order = list(range(n - 1, -1, -1)) if reverse else list(range(n))
    acc, outs = None, []
    for i in order:
        cur = _pack_like(elems, [piece(e, i) for e in flat])
        acc = cur if acc is None else f(acc, cur)
        outs.append(_flatten(acc))
    if reverse:
        outs = outs[::-1]
    cat = [m.concatenate([o[k] for o in outs], axis=ax) for k in range(len(flat))]
    return _pack_like(elems, cat)


# ---- custom gradients -------------------------------------------------------------------------
def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(y, grad_fn)``; the gradient of y is
    ``grad_fn(upstream)`` (one gradient per tensor argument, a tuple for several), instead
    of the gradient of the ops f ran (which are not recorded). Keras's two grad_fn forms
    both work: ``grad_fn(upstream)`` and ``grad_fn(*args, upstream=None)``. The result is
    first-order: under nested tapes the gradient raises rather than silently dropping the
    second-order terms that grad_fn's closures would hide."""
    import functools

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        tensors = [a for a in args if isinstance(a, Tensor)] + \
            [v for v in kwargs.values() if isinstance(v, Tensor)]
        with stop_recording_all():
            result = f(*args, **kwargs)
        if not (isinstance(result, (tuple, list)) and len(result) == 2 and
                callable(result[1])):
            raise TypeError(f"custom_gradient: {getattr(f, '__name__', f)} must return "
                            "(output, grad_fn)")
        y, grad_fn = result
        if isinstance(y, (list, tuple, dict)):
            raise NotImplementedError("custom_gradient: a function with several outputs is "
                                      "not supported in fastnet; return one tensor")
        y = _t(y)

        def backward(g):
            grads = grad_fn(g)
            grads = tuple(grads) if isinstance(grads, (list, tuple)) else (grads,)
            if len(grads) != len(tensors):
                raise ValueError(f"custom_gradient: grad_fn of {getattr(f, '__name__', f)} "
                                 f"returned {len(grads)} gradients for {len(tensors)} tensor "
                                 "arguments")
            return tuple(None if gr is None else _t(gr) for gr in grads)

        ins = tuple(tensors)
        return make(y._value, ins, first_order_only("custom_gradient", backward, ins))

    return wrapper


__all__ = ["associative_scan", "cond", "custom_gradient", "fori_loop", "map", "scan",
           "switch", "vectorized_map", "while_loop"]
