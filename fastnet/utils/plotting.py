"""plot_model: draws a model's layer graph with Graphviz's `dot`.

The DOT text is written here (no pydot needed); `dot` renders it to the
format named by the file's extension (png, svg, pdf, ...). Without Graphviz
a `.dot` target still works, and other formats raise an ImportError saying
what to install.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess


def _shape_str(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")" if len(shape) != 1 \
        else f"({'None' if shape[0] is None else shape[0]},)"


def _layer_io(layer):
    nodes = layer._inbound_nodes
    if not nodes:
        return "?", "?", "?"
    node = nodes[0]
    ins = [tuple(t.shape) for t in node.input_tensors] or [tuple(node.outputs[0].shape)]
    outs = [tuple(t.shape) for t in node.outputs]
    dtype = node.outputs[0].dtype
    fmt = lambda xs: _shape_str(xs[0]) if len(xs) == 1 else _shape_str(list(xs))  # noqa: E731
    return fmt(ins), fmt(outs), dtype


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=96, show_layer_activations=False,
                 show_trainable=False):
    """The model's graph as DOT source text."""
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    if isinstance(model, Sequential):
        if model._graph is None:
            raise ValueError("This Sequential model has not been built: give it an input shape "
                             "(or call it on data) before plotting it.")
        graph = model._graph
    elif isinstance(model, Functional):
        graph = model
    else:
        raise ValueError("plot_model draws functional and Sequential models; a subclassed "
                         "model has no static graph to draw.")
    lines = [f'digraph "{model.name}" {{', f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
             "  node [shape=record, fontname=Helvetica, fontsize=11];"]
    ids = {}
    operations = getattr(graph, "operations", None) or graph.layers
    for i, layer in enumerate(operations):
        ids[id(layer)] = f"n{i}"
        title = f"{layer.name} ({type(layer).__name__})" if show_layer_names \
            else type(layer).__name__
        parts = [html.escape(title)]
        if show_layer_activations and hasattr(layer, "activation"):
            parts.append(f"activation: {getattr(layer.activation, '__name__', '?')}")
        if show_trainable:
            parts.append(f"trainable: {getattr(layer, 'trainable', False)}")
        if show_shapes or show_dtype:
            ins, outs, dtype = _layer_io(layer)
            if show_shapes:
                parts.append(f"input: {ins}")
                parts.append(f"output: {outs}")
            if show_dtype:
                parts.append(f"dtype: {dtype}")
        label = "|".join(p.replace("{", "\\{").replace("}", "\\}").replace("<", "\\<")
                         .replace(">", "\\>") for p in parts)
        lines.append(f'  {ids[id(layer)]} [label="{{{label}}}"];')
    node_ids = {id(n) for n in graph._nodes}
    for layer in operations:
        for node in layer._inbound_nodes:
            if id(node) not in node_ids:
                continue
            for t in node.input_tensors:
                src = t._keras_history[0]
                if id(src) in ids:
                    lines.append(f"  {ids[id(src)]} -> {ids[id(layer)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Writes the model's graph to `to_file` (format from its extension)."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: rankdir must be 'TB' or 'LR', got {rankdir!r}")
    dot_src = model_to_dot(model, show_shapes, show_dtype, show_layer_names, rankdir,
                           expand_nested, dpi, show_layer_activations, show_trainable)
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1].lstrip(".").lower() or "png"
    if ext in ("dot", "gv"):
        with open(to_file, "w") as f:
            f.write(dot_src)
        return None
    dot = shutil.which("dot")
    if dot is None:
        raise ImportError("plot_model needs Graphviz's `dot` program to render "
                          f"'{to_file}'. Install Graphviz (Debian/Ubuntu: `apt-get install "
                          "graphviz`; macOS: `brew install graphviz`), or save the DOT text "
                          "with a '.dot' file name.")
    tmp = to_file + ".tmp"
    proc = subprocess.run([dot, f"-T{ext}", "-o", tmp], input=dot_src.encode("utf8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise RuntimeError(f"Graphviz failed to render {to_file}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    os.replace(tmp, to_file)
    return None
