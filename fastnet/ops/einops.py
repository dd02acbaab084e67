"""keras.ops.rearrange: einops-style axis rearrangement (a reshape, a transpose, a
reshape: differentiable)."""

from __future__ import annotations

import re

import numpy as np

from fastnet.ops import math as m
from fastnet.ops.core import _t, op

_TOKEN = re.compile(r"\(([^)]*)\)|(\w+)")


def _parse(side, name):
    groups = []
    for group, single in _TOKEN.findall(side):
        groups.append(group.split() if group or not single else [single])
    leftover = _TOKEN.sub("", side).strip()
    if leftover:
        raise ValueError(f"rearrange: cannot parse {leftover!r} in the {name} pattern {side!r} "
                         "(axis names, and groups in parentheses)")
    return groups


def _plan(shape, pattern, axes_lengths):
    """(decomposed input shape, permutation, output shape) of a rearrange pattern."""
    if "->" not in pattern:
        raise ValueError(f"rearrange: the pattern needs '->'. Received: pattern={pattern!r}")
    left, right = pattern.split("->")
    ins, outs = _parse(left, "input"), _parse(right, "output")
    if len(ins) != len(shape):
        raise ValueError(f"rearrange: the input pattern {left.strip()!r} has {len(ins)} axes; "
                         f"the tensor has shape {tuple(shape)}")
    sizes = dict(axes_lengths)
    for group, dim in zip(ins, shape):
        known = [a for a in group if a in sizes]
        unknown = [a for a in group if a not in sizes]
        if len(unknown) > 1:
            raise ValueError(f"rearrange: give the sizes of all but one of {group} "
                             f"(axes_lengths)")
        prod = int(np.prod([sizes[a] for a in known])) if known else 1
        if unknown:
            if dim is None or prod == 0 or dim % prod:
                raise ValueError(f"rearrange: axis of size {dim} cannot be split into {group} "
                                 f"with {dict((a, sizes[a]) for a in known)}")
            sizes[unknown[0]] = dim // prod
        elif dim is not None and prod != dim:
            raise ValueError(f"rearrange: {group} multiply to {prod}, not the axis size {dim}")
    flat_in = [a for g in ins for a in g]
    flat_out = [a for g in outs for a in g]
    if sorted(flat_in) != sorted(flat_out) or len(set(flat_in)) != len(flat_in):
        raise ValueError(f"rearrange: the input axes {flat_in} and output axes {flat_out} must "
                         "be the same names, each once")
    perm = [flat_in.index(a) for a in flat_out]
    out_shape = tuple(int(np.prod([sizes[a] for a in g])) if g else 1 for g in outs)
    return tuple(sizes[a] for a in flat_in), perm, out_shape


@op
def rearrange(tensor, pattern, **axes_lengths):
    """einops.rearrange with Keras 3's pattern language: named axes, groups in
    parentheses to merge ``(h w)`` or split (sizes from axes_lengths), reordering."""
    x = _t(tensor)
    dec, perm, out_shape = _plan(x.shape, pattern, axes_lengths)
    if tuple(dec) != tuple(x.shape):
        x = m.reshape(x, dec)
    x = m.transpose(x, perm)
    return m.reshape(x, out_shape)


__all__ = ["rearrange"]
