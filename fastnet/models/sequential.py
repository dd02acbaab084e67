"""Sequential: a plain stack of layers, each with one input and one output.

When the input shape is known (an Input first, or ``input_shape=`` on the
first layer, or ``build(input_shape)``), the stack is also traced
symbolically into a Functional graph, which gives ``summary()`` its shapes
and lets ``model.inputs`` / ``layer.output`` work as in Keras.
"""

from __future__ import annotations

from fastnet.backend.name_scope import current_path, layer_scope
from fastnet.backend.symbolic import KerasTensor
from fastnet.layers.core import Input, InputLayer
from fastnet.layers.layer import Layer
from fastnet.models.model import Model


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._input_layer = None
        self._graph = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_trace()

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `fastnet.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("An InputLayer can only be the first layer of a Sequential "
                                 "model")
            self._input_layer = layer
        else:
            if any(layer is lay for lay in self._layers):
                raise ValueError(f"Layer {layer.name!r} is already in this model")
            names = {lay.name for lay in self._layers}
            if layer.name in names:
                raise ValueError(f"All layers added to a Sequential model should have unique "
                                 f"names. Name {layer.name!r} is already the name of a layer in "
                                 "this model. Update the `name` argument to pass a unique name.")
            self._layers.append(layer)
        self._graph = None
        self.built = False
        if rebuild:
            self._maybe_trace()

    def pop(self, rebuild=True):
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._graph = None
        self.built = False
        if rebuild:
            self._maybe_trace()
        return layer

    def _input_shape_hint(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._layers and self._layers[0]._batch_input_shape is not None:
            return self._layers[0]._batch_input_shape
        return None

    def _maybe_trace(self, batch_shape=None):
        batch_shape = batch_shape or self._input_shape_hint()
        if batch_shape is None or not self._layers:
            return
        # Keras builds the stack in the model's name scope: the layers it builds get
        # paths under it (``sequential/enc/kernel``)
        with layer_scope(self):
            self._path = current_path()
            self._trace(batch_shape)

    def _trace(self, batch_shape):
        if self._input_layer is not None and tuple(batch_shape) == self._input_layer.batch_shape:
            x = self._input_layer.output_tensor
        else:
            x = Input(batch_shape=tuple(batch_shape),
                      dtype=self._layers[0].dtype if self._layers else None)
            self._input_layer = x._keras_history[0]
        inputs = x
        for layer in self._layers:
            x = layer(x)
        from fastnet.models.functional import Functional

        graph = Functional.__new__(Functional)
        Model.__init__(graph, name=self.name + "_graph")
        graph._init_graph(inputs, x)
        self._graph = graph
        self.built = True

    def build(self, input_shape=None):
        if self._graph is not None:
            return
        if input_shape is None:
            input_shape = self._input_shape_hint()
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument.")
        self._maybe_trace(tuple(input_shape))

    def _maybe_build(self, shapes):
        if self._graph is None and isinstance(shapes, tuple):
            # as Keras: built on concrete data, the graph keeps that batch size (summary
            # shows it; other batch sizes still run, the batch axis is not checked)
            self._maybe_trace(tuple(shapes))
        self.built = True

    def call(self, inputs, training=None, mask=None):
        x = inputs
        if (self._graph is not None and isinstance(inputs, (list, tuple))
                and len(self._graph._inputs) == 1):
            if len(inputs) != 1:
                raise ValueError(f"Sequential model {self.name!r} takes one input, but it "
                                 f"received a list of {len(inputs)} input arrays")
            x = inputs = inputs[0]
        if self._graph is not None and not isinstance(inputs, (list, tuple, dict)):
            # Keras runs a built Sequential through its functional graph: the same input
            # standardisation (rank of the Input, its dtype)
            x = self._graph._standardize_input(inputs, self._graph._inputs[0])
        for layer in self._layers:
            kwargs = {}
            if training is not None:
                kwargs["training"] = training
            if mask is not None and layer._call_has_mask:
                kwargs["mask"] = mask
            out = layer(x, **kwargs)
            # the mask a layer that supports masking attached to its output (Layer.__call__)
            mask = getattr(out, "_keras_mask", None) if layer.supports_masking else None
            x = out
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def layers(self):
        return list(self._layers)

    @property
    def inputs(self):
        if self._graph is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined input yet: "
                                 "build it or call it on data first.")
        return self._graph.inputs

    @property
    def outputs(self):
        if self._graph is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined output yet.")
        return self._graph.outputs

    @property
    def input_shape(self):
        if self._graph is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined input shape "
                                 "yet: build it or call it on data first.")
        return self._graph.input_shape

    @property
    def output_shape(self):
        if self._graph is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined output shape "
                                 "yet: build it or call it on data first.")
        return self._graph.output_shape

    @property
    def input(self):
        return self.inputs[0]

    @property
    def output(self):
        if self._inbound_nodes:
            return super().output
        return self.outputs[0]

    @property
    def output_names(self):
        return [self._layers[-1].name] if self._layers else ["output"]

    def get_config(self):
        from fastnet.saving.serialization import sequential_config

        return sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.saving.serialization import sequential_from_config

        return sequential_from_config(config, custom_objects)
