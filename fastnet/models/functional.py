"""Functional models: a DAG of layer calls recorded on KerasTensors.

Construction walks back from the outputs through each KerasTensor's
``_keras_history`` (layer, node index, tensor index) to the inputs, checks
the graph is connected and names are unique, and keeps a topological order
of nodes. Calling the model runs each node's layer on the values of its
input tensors, in that order.
"""

from __future__ import annotations

import warnings

import numpy as np

from fastnet import ops
from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tensor import Tensor
from fastnet.layers.core import InputLayer
from fastnet.layers.layer import Layer, _flatten, _map
from fastnet.models.model import Model

_NP_DTYPES = {}


def _np_dtype(name):
    if name not in _NP_DTYPES:
        try:
            _NP_DTYPES[name] = np.dtype(name)
        except TypeError:  # e.g. bfloat16: no fast path
            _NP_DTYPES[name] = None
    return _NP_DTYPES[name]


class Functional(Model):
    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        if isinstance(inputs, dict):
            self._input_struct = dict(inputs)
        elif isinstance(inputs, (list, tuple)):
            self._input_struct = list(inputs)
        else:
            self._input_struct = inputs
        self._output_struct = list(outputs) if isinstance(outputs, tuple) else outputs
        self._inputs = _flatten_sorted(self._input_struct)
        self._outputs = _flatten_sorted(self._output_struct)
        for t in self._inputs + self._outputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"All `inputs` and `outputs` of a functional Model must be "
                                 f"symbolic tensors (from fastnet.Input or layer calls); got "
                                 f"{type(t).__name__}")
        input_ids = {id(t) for t in self._inputs}
        order, seen = [], set()

        first_seen = []  # layers in depth-first (post-)order, inputs where reached

        def visit(tensor, path):
            if id(tensor) in input_ids:
                lay = tensor._keras_history[0]
                if lay not in first_seen:
                    first_seen.append(lay)
                return
            layer, node_index, _ = tensor._keras_history
            node = layer._inbound_nodes[node_index]
            key = id(node)
            if key in seen:
                return
            if key in path:
                raise ValueError("The functional graph has a cycle")
            if isinstance(layer, InputLayer):
                raise ValueError(
                    f"Graph disconnected: cannot obtain value for tensor {tensor} at layer "
                    f'"{layer.name}". The following previous layers were accessed without '
                    f"issue: {[n.operation.name for n in order]}. Pass this Input to the "
                    "Model's `inputs`.")
            path = path | {key}
            for t in node.input_tensors:
                visit(t, path)
            seen.add(key)
            order.append(node)
            if layer not in first_seen:
                first_seen.append(layer)

        for t in self._outputs:
            visit(t, frozenset())
        self._nodes = order
        # Keras's order (by depth, then traversal; it fixes the weight order too) over every
        # operation; as Keras 3, `layers` are the Layer operations, and ops on KerasTensors
        # (x + y) are operations of the graph without state
        operations = self._layers_by_depth(order, first_seen)
        layers = [op for op in operations if isinstance(op, Layer)]
        object.__setattr__(self, "_operations", operations)
        names = [lay.name for lay in operations]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"The name {dup[0]!r} is used {names.count(dup[0])} times in the "
                             "model. All operation names should be unique.")
        object.__setattr__(self, "_layers", layers)
        self.built = True
        self._build_shapes = [t.shape for t in self._inputs]

    def _layers_by_depth(self, order, first_seen):
        """Keras's `model.layers` order (and so its weight order): by decreasing depth
        (distance from the outputs), ties in depth-first traversal order."""
        input_ids = {id(t) for t in self._inputs}
        node_depth, layer_depth = {}, {}
        for node in reversed(order):
            depth = max(node_depth.get(id(node), 0), layer_depth.get(node.operation, 0))
            layer_depth[node.operation] = depth
            node_depth[id(node)] = depth
            for t in node.input_tensors:
                if id(t) in input_ids:
                    lay = t._keras_history[0]
                    layer_depth[lay] = max(layer_depth.get(lay, 0), depth + 1)
                    continue
                hist = t._keras_history
                parent = hist[0]._inbound_nodes[hist[1]]
                node_depth[id(parent)] = max(node_depth.get(id(parent), 0), depth + 1)
        for t in self._outputs:  # an Input that is also an output
            if id(t) in input_ids:
                layer_depth.setdefault(t._keras_history[0], 0)
        index = {id(lay): i for i, lay in enumerate(first_seen)}
        layers = sorted(layer_depth, key=lambda lay: (-layer_depth[lay], index[id(lay)]))
        for t in self._inputs:  # Inputs no output depends on
            if t._keras_history[0] not in layers:
                layers.append(t._keras_history[0])
        return layers

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input(self):
        s = self._input_struct
        return s

    @property
    def output(self):
        return self._output_struct

    @property
    def input_shape(self):
        """The inputs' shapes, batch axis included (one tuple for a single input)."""
        shapes = [tuple(t.shape) for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [tuple(t.shape) for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self._inputs]

    @property
    def output_names(self):
        return [t._keras_history[0].name for t in self._outputs]

    @property
    def layers(self):
        return list(self._layers)

    @property
    def operations(self):
        """Every operation of the graph, layers and ops, in the order of first use."""
        return list(self._operations)

    def _standardize_inputs(self, inputs):
        """Keras 3's functional input rules: a dict is matched by the model's input
        keys (a dict-structured model) or by the Inputs' names, extra keys are
        ignored with a warning; each value is cast to its Input's dtype; a value one
        rank short of an Input whose last dim is 1 gets that axis, and a trailing
        axis of 1 beyond the Input's rank is squeezed."""
        struct = self._input_struct
        if isinstance(inputs, dict):
            if isinstance(struct, dict):
                keys = sorted(struct)  # the order of self._inputs
                wanted = {k: k for k in keys}
            else:
                keys = self.input_names
                wanted = {n: n for n in keys}
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}" of model '
                                 f"{self.name!r}. You passed a data dictionary with keys "
                                 f"{sorted(map(str, inputs))}. Expected the following keys: "
                                 f"{keys}")
            extra = [k for k in inputs if k not in wanted]
            if extra:
                warnings.warn(f"Model {self.name!r}: the structure of `inputs` doesn't match "
                              f"the expected structure; input keys {extra} are not inputs of "
                              f"the model (expected {keys}) and are ignored.", stacklevel=3)
            flat = [inputs[k] for k in keys]
        else:
            # as Keras, a flat list for a dict of Inputs is taken in the keys' sorted order
            flat = _flatten(inputs)
        if len(flat) != len(self._inputs):
            raise ValueError(f"Model {self.name!r} expects {len(self._inputs)} input(s), but it "
                             f"received {len(flat)} input tensors.")
        return [self._standardize_input(value, kt) for value, kt in zip(flat, self._inputs)]

    def _standardize_input(self, value, kt):
        if kt.dtype == "string":  # a string input: a numpy array for the lookup layers
            t = np.asarray(value)
            if t.dtype.kind not in "USO":
                raise ValueError(f"Model {self.name!r}: input "
                                 f"{kt._keras_history[0].name!r} is a string input; "
                                 f"received {t.dtype} values")
            if t.ndim == len(kt.shape) - 1 and kt.shape[-1] == 1:
                t = t[..., None]
            return t
        t = value if isinstance(value, Tensor) else ops.convert_to_tensor(value)
        shape, want_shape = t.shape, kt.shape
        # the common case, fast (Tensor.dtype builds numpy's dtype name: ~2 us)
        if len(shape) == len(want_shape) and t._value.dtype == _np_dtype(kt.dtype):
            for i in range(1, len(shape)):
                w = want_shape[i]
                if w is not None and w != shape[i]:
                    break
            else:
                return t
        if t.dtype != kt.dtype:
            t = ops.cast(t, kt.dtype)
        rank, want = t.ndim, len(kt.shape)
        if rank == want + 1 and t.shape[-1] == 1:
            t = ops.squeeze(t, axis=-1)
        elif rank == want - 1 and kt.shape[-1] == 1:
            t = ops.expand_dims(t, axis=-1)
        if len(t.shape) != len(kt.shape) or any(  # the batch axis is not checked (Keras)
                w is not None and w != g for w, g in zip(kt.shape[1:], t.shape[1:])):
            name = kt._keras_history[0].name
            raise ValueError(f"Invalid input shape for input {name!r} of model {self.name!r}: "
                             f"expected shape={kt.shape}, but input has incompatible shape "
                             f"{tuple(np.shape(value))}")
        return t

    def build(self, input_shape=None):
        self.built = True

    def _maybe_build(self, shapes):
        self.built = True

    def _check_input_spec(self, inputs):
        return

    def call(self, inputs, training=None, mask=None):
        values = {id(kt): v for kt, v in zip(self._inputs, self._standardize_inputs(inputs))}
        masks = {}
        if mask is not None:  # the inputs' masks (given, or attached to the input tensors)
            given = mask if isinstance(mask, (list, tuple)) else [mask]
            for kt, m in zip(self._inputs, given):
                if m is not None:
                    masks[id(kt)] = m
                    if isinstance(values[id(kt)], Tensor):
                        values[id(kt)]._keras_mask = m
        for node in self._nodes:
            layer = node.operation

            def resolve(x):
                if isinstance(x, KerasTensor):
                    return values[id(x)]
                return x

            args = _map(resolve, list(node.call_args))
            kwargs = _map(resolve, dict(node.call_kwargs))
            if training is not None and isinstance(layer, Layer):
                kwargs["training"] = training
            in_masks = [masks.get(id(t)) for t in node.input_tensors]
            if layer._call_has_mask and "mask" not in kwargs and any(m is not None for m in in_masks):
                kwargs["mask"] = in_masks[0] if len(in_masks) == 1 else in_masks
            out = layer(*args, **kwargs)
            flat = _flatten(out)
            for kt, v in zip(node.outputs, flat):
                values[id(kt)] = v
                # a layer that supports masking attached its output masks (Layer.__call__)
                m = getattr(v, "_keras_mask", None)
                if m is not None:
                    masks[id(kt)] = m
        return _map(lambda kt: values[id(kt)], self._output_struct)

    def compute_output_shape(self, input_shape):
        return _map(lambda kt: kt.shape, self._output_struct)

    def get_config(self):
        from fastnet.saving.serialization import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.saving.serialization import functional_from_config

        return functional_from_config(config, custom_objects)


def _flatten_sorted(struct):
    """A structure of KerasTensors flattened as Keras's tree.flatten does: dicts in their
    keys' sorted order (so `model.outputs`, `output_names`, `summary()` and a list of
    losses follow the sorted keys of a dict of outputs, as in Keras 3)."""
    if isinstance(struct, dict):
        return [v for k in sorted(struct) for v in _flatten_sorted(struct[k])]
    if isinstance(struct, (list, tuple)):
        return [v for item in struct for v in _flatten_sorted(item)]
    return [struct]
