"""model.summary(): Keras 3's table (layer, output shape, param count,
connected-to for non-linear functional graphs) and the parameter totals."""

from __future__ import annotations

import numpy as np


def _fmt_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt_shape(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_fmt_shape(v)}" for k, v in shape.items()) + "}"
    inner = ", ".join("None" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _fmt_bytes(n):
    units = ["B", "KB", "MB", "GB", "TB"]
    size = float(n)
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.2f} {units[i]}"


def _count(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


def _layer_output_shape(layer):
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        outs = nodes[0].outputs
        shapes = [tuple(t.shape) for t in outs]
        return shapes[0] if len(shapes) == 1 else shapes
    build = getattr(layer, "_build_shapes", None)
    if build is not None:  # built by a call outside any graph (subclassed models), as Keras
        try:
            shape = build[0] if isinstance(build, list) and len(build) == 1 else build
            out = layer.compute_output_shape(shape)
        except (NotImplementedError, TypeError, ValueError, IndexError, AttributeError):
            return None
        return [tuple(s) for s in out] if isinstance(out, list) else tuple(out)
    return None


def _is_sequential_like(model):
    from fastnet.layers.core import InputLayer
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if isinstance(model, Sequential) or not isinstance(model, Functional):
        return True
    for node in model._nodes:
        if len(node.input_tensors) > 1:
            return False
        for t in node.input_tensors:
            src = t._keras_history[0]
            if not isinstance(src, InputLayer) and len(src._inbound_nodes) > 1:
                return False
    return len(model.inputs) == 1 and len(model.outputs) == 1


def _connections(model, layer):
    from fastnet.models.functional import Functional

    if not isinstance(model, Functional):
        return ""
    parts = []
    node_ids = {id(n) for n in model._nodes}
    for node in layer._inbound_nodes:
        if id(node) not in node_ids:
            continue
        for t in node.input_tensors:
            src, node_index, tensor_index = t._keras_history
            parts.append(f"{src.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) if parts else "-"


def _rows(model):
    from fastnet.models.sequential import Sequential

    layers = model.layers
    if isinstance(model, Sequential):
        return [(lay, _layer_output_shape(lay)) for lay in layers]
    return [(lay, _layer_output_shape(lay)) for lay in layers]


def _in_range(layers, layer_range):
    """Keras's layer_range: from the first layer whose name matches layer_range[0] to the
    last whose name matches layer_range[1] (names or regexes, both inclusive)."""
    import re

    if layer_range is None:
        return layers
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range={layer_range}")
    names = [lay.name for lay, _ in layers]
    first = [i for i, n in enumerate(names) if re.match(layer_range[0], n)]
    last = [i for i, n in enumerate(names) if re.match(layer_range[1], n)]
    if not first or not last:
        raise ValueError(f"Passed layer_range={layer_range} does not match any layer name "
                         f"of the model: {names}")
    return layers[first[0]:last[-1] + 1]


def _expanded(rows, depth=0):
    """(layer, shape, depth) rows, nested models' layers after them when expanding."""
    from fastnet.models.model import Model

    for layer, shape in rows:
        yield layer, shape, depth
        if isinstance(layer, Model) and depth >= 0:
            yield from _expanded(_rows(layer), depth + 1)


def print_summary(model, line_length=None, print_fn=None, expand_nested=False,
                  show_trainable=False, positions=None, layer_range=None):
    print_fn = print_fn or print
    seq_like = _is_sequential_like(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if not seq_like:
        headers.append("Connected to")
    if show_trainable:
        headers.append("Trainable")
    rows = []
    picked = _in_range(_rows(model), layer_range)
    entries = _expanded(picked) if expand_nested else ((lay, sh, 0) for lay, sh in picked)
    for layer, shape, depth in entries:
        params = _count(layer.weights) if layer.built or layer.weights else 0
        row = [" " * (2 * depth) + f"{layer.name} ({type(layer).__name__})", _fmt_shape(shape),
               f"{params:,}"]
        if not seq_like:
            row.append(_connections(model, layer) if depth == 0 else "")
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    if line_length is None and positions is None:  # the widths Keras renders by default
        base = [31, 22, 13, 28][: 4 if not seq_like else 3] + ([9] if show_trainable else [])
    else:  # Keras's rule: column i ends at positions[i] * line_length
        line_length = line_length or ((108 if not seq_like else 88)
                                      + (12 if show_trainable else 0))
        if positions is None:
            positions = [0.3, 0.56, 0.74, 1.0] if not seq_like else [0.45, 0.80, 1.0]
            if show_trainable:
                positions = [p * 0.90 for p in positions] + [1.0]
        if len(positions) != len(headers):
            raise ValueError(f"summary: `positions` needs {len(headers)} entries (one per "
                             f"column), got {len(positions)}")
        if positions[-1] <= 1:
            positions = [int(p * line_length) for p in positions]
        base, current = [], 0
        for i, pos in enumerate(positions):  # each cell has 3 characters of border/padding
            width = int(pos) - current - 3 - (i == len(positions) - 1)  # and the right edge
            if width < 4:
                raise ValueError("Insufficient console width to print summary.")
            base.append(width)
            current = int(pos)
    widths = [max(w, b) for w, b in zip(widths, base)]

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def fmt(cells, sep="│"):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            out.append(" " + (c.rjust(w) if i == 2 else c.ljust(w)) + " ")
        return sep + sep.join(out) + sep

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "┳", "┓", "━"))
    print_fn(fmt(headers, "┃"))
    print_fn(line("┡", "╇", "┩", "━"))
    for i, r in enumerate(rows):
        print_fn(fmt(r))
        if i < len(rows) - 1:
            print_fn(line("├", "┼", "┤", "─"))
    print_fn(line("└", "┴", "┘", "─"))
    weights = model.weights
    trainable = _count(model.trainable_weights)
    total = _count(weights)
    non_trainable = total - trainable
    nbytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in weights)
    tbytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.trainable_weights)
    print_fn(f" Total params: {total:,} ({_fmt_bytes(nbytes)})")
    print_fn(f" Trainable params: {trainable:,} ({_fmt_bytes(tbytes)})")
    print_fn(f" Non-trainable params: {non_trainable:,} ({_fmt_bytes(nbytes - tbytes)})")
