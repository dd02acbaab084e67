"""model.summary(): Keras 3's table (layer, output shape, param count,
connected-to for non-linear functional graphs) and the parameter totals."""

from __future__ import annotations

import re
import shutil
import textwrap

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
    if nodes:  # as Keras: the shapes of the layer's last call in a graph
        shapes = [tuple(t.shape) for t in nodes[-1].outputs]
        return shapes[0] if len(shapes) == 1 else shapes
    recorded = getattr(layer, "_last_output_shape", None)
    if recorded is not None:
        return recorded
    graph = getattr(layer, "_graph", None)  # a Sequential built by a call: its traced graph
    if graph is not None:
        return graph.output_shape
    build_shapes = getattr(layer, "_build_shapes", None)
    if build_shapes is None or not getattr(layer, "built", False):
        return None
    # a layer of a subclassed model, built by its first call: its output for that input
    shape = build_shapes[0] if isinstance(build_shapes, list) and len(build_shapes) == 1 \
        else build_shapes
    try:
        return layer.compute_output_shape(shape)
    except NotImplementedError:
        pass
    except Exception:
        return None
    try:
        from fastnet.backend.symbolic import KerasTensor

        if isinstance(shape, list):
            args = ([KerasTensor(s) for s in shape],)
        else:
            args = (KerasTensor(shape),)
        spec = layer._output_spec(args, {})
    except Exception:
        return None
    if isinstance(spec, (list, tuple)):
        return [tuple(x.shape) for x in spec]
    return tuple(spec.shape) if hasattr(spec, "shape") else None


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


def _param_cell(layer):
    if not hasattr(layer, "built"):
        return "0"
    if not layer.built:
        return "0 (unbuilt)"
    return f"{_count(layer.weights):,}"


def _wrap(text, width):
    """Rich's wrapping of a table cell: at spaces; a word wider than the cell is cut with '…'."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    return [ln if len(ln) <= width else ln[: max(width - 1, 0)] + "…" for ln in lines]


def _ratio_reduce(total, widths):
    """Rich's ratio_reduce with equal ratios: takes `total` characters off the columns."""
    out, remaining, n = [], total, len(widths)
    for w in widths:
        take = min(w, round(remaining / n))
        out.append(w - take)
        remaining -= take
        n -= 1
    return out


def _column_widths(line_length, positions):
    if positions[-1] <= 1:  # relative, as Keras 3; absolute positions as Keras 2 takes them
        positions = [int(line_length * p) for p in positions]
    widths, current = [], 0
    for pos in positions:
        width = int(pos) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary. Received: "
                             f"line_length={line_length}, positions={positions}")
        widths.append(width)
        current += width
    # the table is `line_length` wide: borders (n + 1) and a space of padding on each side
    # of every cell come out of the columns, as rich lays out Keras's table
    excess = sum(widths) + 3 * len(widths) + 1 - line_length
    return _ratio_reduce(excess, widths) if excess > 0 else widths


def _layer_range(layers, layer_range):
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError("layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range = {layer_range} of length {len(layer_range)}")
    if not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError("Passed layer_names do not match the layer names in the model. "
                         f"Received: {layer_range}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def _optimizer_counts(model):
    """Keras counts the optimizer's variables: iterations, the learning rate (unless a
    schedule), the slots and the moving averages; 4 bytes each for its memory line."""
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None or not getattr(opt, "_built", False):
        return None
    from fastnet.optimizers.schedules import LearningRateSchedule

    arrays = [s for slots in opt._slots.values() for s in slots]
    arrays += [avg for _, avg in getattr(opt, "_ema", {}).values()]
    count = 1 + sum(int(np.prod(a.shape)) for a in arrays)
    nbytes = 4 + sum(a.nbytes for a in arrays)
    if not isinstance(opt._learning_rate, LearningRateSchedule):
        count, nbytes = count + 1, nbytes + 4
    return count, nbytes


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Keras 3's summary table. Its width is `line_length`, by default 88 characters (108 for
    graphs with branches), capped to the terminal's width - 4 (80 - 4 in a pipe), as Keras;
    `positions` are the columns' right edges, as fractions of the width (or, as in Keras 2,
    in characters). Cells wider than their column wrap."""
    print_fn = print_fn or print
    seq_like = _is_sequential_like(model)
    if seq_like:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
        headers, align = ["Layer (type)", "Output Shape", "Param #"], "llr"
    else:
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        headers, align = ["Layer (type)", "Output Shape", "Param #", "Connected to"], "llrl"
    positions = list(positions) if positions is not None else default_positions
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        headers.append("Trainable")
        align += "c"
    if len(positions) != len(headers):
        raise ValueError(f"summary: `positions` needs {len(headers)} values (one per column: "
                         f"{headers}). Received: positions={positions}")
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(line_length, positions)

    def fields(layer, prefix=""):
        row = [f"{prefix}{layer.name} ({type(layer).__name__})",
               _fmt_shape(_layer_output_shape(layer)), _param_cell(layer)]
        if not seq_like:
            row.append(_connections(model, layer))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if getattr(layer, "weights", None)
                       else "-")
        return row

    def rows_for(layer, level=0):
        rows = [fields(layer, "   " * level + "└ " if level else "")]
        if expand_nested and getattr(layer, "layers", None):
            for sub in layer.layers:
                rows.extend(rows_for(sub, level + 1))
        return rows

    # as Keras 3: a functional model lists every operation (ops on KerasTensors too)
    layers = getattr(model, "operations", None) or model.layers
    lo, hi = _layer_range(layers, layer_range)
    rows = [r for layer in layers[lo:hi] for r in rows_for(layer)]

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def fmt(cells, sep="│"):
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
        out = []
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for c, w, a in zip(wrapped, widths, align):
                text = c[k] if k < len(c) else ""
                text = text.rjust(w) if a == "r" else text.center(w) if a == "c" else text.ljust(w)
                parts.append(f" {text} ")
            out.append(sep + sep.join(parts) + sep)
        return out

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "┳", "┓", "━"))
    for text in fmt(headers, "┃"):
        print_fn(text)
    print_fn(line("┡", "╇", "┩", "━"))
    for i, r in enumerate(rows):
        for text in fmt(r):
            print_fn(text)
        if i < len(rows) - 1:
            print_fn(line("├", "┼", "┤", "─"))
    print_fn(line("└", "┴", "┘", "─"))
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    tbytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize
                 for w in model.trainable_weights)
    nbytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize
                 for w in model.non_trainable_weights)
    opt = _optimizer_counts(model)
    total, total_bytes = trainable + non_trainable, tbytes + nbytes
    if opt is not None:
        total, total_bytes = total + opt[0], total_bytes + opt[1]
    print_fn(f" Total params: {total:,} ({_fmt_bytes(total_bytes)})")
    print_fn(f" Trainable params: {trainable:,} ({_fmt_bytes(tbytes)})")
    print_fn(f" Non-trainable params: {non_trainable:,} ({_fmt_bytes(nbytes)})")
    if opt is not None:
        print_fn(f" Optimizer params: {opt[0]:,} ({_fmt_bytes(opt[1])})")
