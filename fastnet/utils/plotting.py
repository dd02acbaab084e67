"""plot_model / model_to_dot: a model's layer graph in Graphviz, in Keras 3's look.

The DOT text is written here: each layer is a box (name and class on black, then input /
output shape, dtype and a trainable badge on white, as Keras 3 draws them), nested
Functional / Sequential models become dashed clusters with ``expand_nested=True``.
``model_to_dot`` returns a ``pydot.Dot`` when pydot is installed (what Keras returns) and the
DOT text otherwise; ``plot_model`` needs only Graphviz's ``dot`` program to render png, svg,
pdf, ... and nothing at all for a ``.dot`` target. No kernel runs: shapes come from the
graph's symbolic tensors.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import warnings

__all__ = ["model_to_dot", "plot_model"]


def _shape_str(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_str(s) for s in shape) + "]"
    return str(tuple(shape))


def _layer_io(layer):
    nodes = layer._inbound_nodes
    if not nodes:
        return None, None, None
    node = nodes[0]
    ins = [tuple(t.shape) for t in node.input_tensors]
    outs = [tuple(t.shape) for t in node.outputs]
    dtype = node.outputs[0].dtype
    fmt = lambda xs: (_shape_str(xs[0]) if len(xs) == 1  # noqa: E731
                      else _shape_str(list(xs)) if xs else None)
    return fmt(ins), fmt(outs), dtype


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", type(act).__name__)


def _cell(text, colspan=None, bg="white", color=None, size=14):
    span = f' colspan="{colspan}"' if colspan else ""
    font_color = f' color="{color}"' if color else ""
    return (f'<td bgcolor="{bg}"{span}><font point-size="{size}"{font_color}>'
            f"{text}</font></td>")


def _label(layer, opts):
    """The HTML-like table Keras 3 draws for one layer."""
    cls = type(layer).__name__
    colspan = max(1, int(opts["show_dtype"]) + int(opts["show_trainable"])
                  + 2 * int(opts["show_shapes"]))
    title = (f"<b>{html.escape(layer.name)}</b> ({cls})" if opts["show_layer_names"]
             else f"<b>{cls}</b>")
    rows = [f"<tr>{_cell(title, colspan, bg='black', color='white', size=16)}</tr>"]
    act = _activation_name(layer) if opts["show_layer_activations"] else None
    if act is not None:
        rows.append(f"<tr>{_cell(f'Activation: <b>{html.escape(act)}</b>', colspan)}</tr>")
    cols = []
    if opts["show_shapes"] or opts["show_dtype"]:
        ins, outs, dtype = _layer_io(layer)
        if opts["show_shapes"]:
            if cls != "InputLayer":
                cols.append(_cell(f"Input shape: <b>{ins or '?'}</b>"))
            cols.append(_cell(f"Output shape: <b>{outs or '?'}</b>"))
        if opts["show_dtype"]:
            cols.append(_cell(f"Output dtype: <b>{dtype or '?'}</b>"))
    if opts["show_trainable"] and getattr(layer, "weights", None):
        cols.append(_cell("<b>Trainable</b>", bg="forestgreen", color="white") if layer.trainable
                    else _cell("<b>Non-trainable</b>", bg="firebrick", color="white"))
    if cols:
        rows.append(f"<tr>{''.join(cols)}</tr>")
    return ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
            + "".join(rows) + "</table>>")


def _models():
    from fastnet.models.functional import Functional
    from fastnet.models.sequential import Sequential

    return Functional, Sequential


def _graph_of(model):
    """The Functional graph behind a Functional or a built Sequential model."""
    _, Sequential = _models()
    return model._graph if isinstance(model, Sequential) else model


class _DotWriter:
    def __init__(self, opts):
        self.opts = opts
        self.lines = []
        self.ids = {}
        self.edges = []
        self.clusters = 0

    def node_id(self, layer):
        return self.ids.setdefault(id(layer), f"n{len(self.ids)}")

    def add_node(self, layer, indent):
        self.lines.append(f'{indent}{self.node_id(layer)} [label={_label(layer, self.opts)}, '
                          'fontname="Helvetica", border="0", margin="0"];')

    def add_edge(self, src, dst):
        edge = f"  {self.node_id(src)} -> {self.node_id(dst)};"
        if edge not in self.edges:
            self.edges.append(edge)

    def add_model(self, model, indent="  "):
        """Boxes (and clusters) of one model's layers, then the edges between them."""
        Functional, Sequential = _models()
        expand = self.opts["expand_nested"]
        # a Sequential's list has no InputLayer (Keras draws none); a functional graph's
        # operations include ops on KerasTensors (x + y) beside its layers
        drawn = list(model.layers if isinstance(model, Sequential)
                     else getattr(model, "operations", None) or model.layers)
        graph = _graph_of(model)
        for layer in drawn:
            if expand and isinstance(layer, (Functional, Sequential)):
                self.clusters += 1
                self.lines.append(f"{indent}subgraph cluster_{self.clusters} {{")
                self.lines.append(f'{indent}  style="dashed"; label="{html.escape(layer.name)}";'
                                  ' labeljust="l";')
                self.add_model(layer, indent + "  ")
                self.lines.append(f"{indent}}}")
            else:
                self.add_node(layer, indent)
        drawn_ids = {id(layer) for layer in drawn}
        graph_nodes = {id(n) for n in graph._nodes}
        for layer in drawn:
            for node in layer._inbound_nodes:
                if id(node) not in graph_nodes:
                    continue
                for input_index, tensor in enumerate(node.input_tensors):
                    source, _, output_index = tensor._keras_history
                    if id(source) not in drawn_ids:
                        continue  # a Sequential's hidden InputLayer
                    destination = layer
                    if expand:
                        source, destination = self._resolve(source, output_index, destination,
                                                            input_index)
                    self.add_edge(source, destination)

    def _resolve(self, source, output_index, destination, input_index):
        """With nested models drawn as clusters, an edge runs from the inner layer that makes
        the tensor to the inner layer that first takes it (Keras 3's rule)."""
        Functional, Sequential = _models()
        while isinstance(source, (Functional, Sequential)):
            source, _, output_index = _graph_of(source).outputs[output_index]._keras_history
        while isinstance(destination, (Functional, Sequential)):
            if isinstance(destination, Sequential):
                destination = destination.layers[0]
            else:
                destination = destination.inputs[input_index]._keras_history[0]
        return source, destination


def _dot_text(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
              show_layer_activations, show_trainable, splines):
    Functional, Sequential = _models()
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: rankdir must be 'TB' or 'LR', got {rankdir!r}")
    if isinstance(model, Sequential) and model._graph is None:
        raise ValueError("This model has not yet been built. Build the model first by calling "
                         "`build()` or by calling the model on a batch of data.")
    opts = {"show_shapes": show_shapes, "show_dtype": show_dtype,
            "show_layer_names": show_layer_names, "expand_nested": expand_nested,
            "show_layer_activations": show_layer_activations, "show_trainable": show_trainable}
    writer = _DotWriter(opts)
    if isinstance(model, (Functional, Sequential)):
        writer.add_model(model)
    else:
        if not model.built:
            raise ValueError("This model has not yet been built. Build the model first by "
                             "calling `build()` or by calling the model on a batch of data.")
        writer.add_node(model, "  ")  # a subclassed model is one box, as in Keras
    head = [f'digraph "{html.escape(model.name)}" {{',
            f'  graph [rankdir={rankdir}, concentrate=true, dpi={int(dpi)}, splines={splines}];',
            "  node [shape=record];"]
    return "\n".join(head + writer.lines + writer.edges + ["}"]) + "\n"


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, splines="ortho",
                 **kwargs):
    """The model's graph as a ``pydot.Dot`` (DOT source text when pydot is not installed)."""
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("model_to_dot: argument `layer_range` is no longer supported "
                         "(as in Keras 3).")
    if kwargs:
        raise ValueError(f"model_to_dot: unrecognized keyword arguments: {sorted(kwargs)}")
    if subgraph:
        raise NotImplementedError("model_to_dot: subgraph=True (a pydot.Cluster for one nested "
                                  "model) is not implemented; use expand_nested=True on the "
                                  "outer model")
    text = _dot_text(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                     dpi, show_layer_activations, show_trainable, splines)
    try:
        import pydot
    except ImportError:
        return text
    with warnings.catch_warnings():
        # pydot's parser calls pyparsing names pyparsing now deprecates: not the user's concern
        warnings.simplefilter("ignore", DeprecationWarning)
        return pydot.graph_from_dot_data(text)[0]


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Writes the model's graph to `to_file` (format from its extension)."""
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("plot_model: argument `layer_range` is no longer supported "
                         "(as in Keras 3).")
    if kwargs:
        raise ValueError(f"plot_model: unrecognized keyword arguments: {sorted(kwargs)}")
    dot_src = _dot_text(model, show_shapes, show_dtype, show_layer_names, rankdir,
                        expand_nested, dpi, show_layer_activations, show_trainable, "ortho")
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1].lstrip(".").lower() or "png"
    if ext in ("dot", "gv"):
        tmp = to_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(dot_src)
        os.replace(tmp, to_file)
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
