"""Pipeline, as keras.layers.Pipeline: a sequence of (preprocessing) layers applied in
order, as one layer."""

from __future__ import annotations

from fastnet.layers.layer import Layer


class Pipeline(Layer):
    """Applies ``layers`` in turn; each receives ``training`` (when it takes it) and the
    mask the previous layer computed. Unlike Sequential it is a plain layer: no inputs,
    no compile; its config is ``{"layers": [...], "name": ...}`` as Keras's."""

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(layers, (list, tuple)) or not all(isinstance(lay, Layer)
                                                            for lay in layers):
            raise ValueError("Pipeline: `layers` must be a list of layers. Received: "
                             f"layers={layers!r}")
        self._pipeline_layers = list(layers)
        self._track(self._pipeline_layers)  # their weights and seed states are the pipeline's

    @property
    def layers(self):
        return list(self._pipeline_layers)

    def call(self, inputs, training=True, mask=None):
        x = inputs
        for layer in self._pipeline_layers:
            kwargs = {}
            if layer._call_has_mask and mask is not None:
                kwargs["mask"] = mask
            if layer._call_has_training and training is not None:
                kwargs["training"] = training
            out = layer(x, **kwargs)
            mask = layer.compute_mask(x, mask)
            x = out
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._pipeline_layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def compute_output_spec(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self._pipeline_layers:
            x = layer.compute_output_spec(x)
        return x

    def get_config(self):
        from fastnet.saving import serialization_lib

        return {"layers": [serialization_lib.serialize_keras_object(lay)
                           for lay in self._pipeline_layers], "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.layers.wrapper import _inner_layer

        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError("`Pipeline` config must contain a `layers` key mapping to a list "
                             f"of serialized layers. Received config with layers={layers}.")
        config = dict(config)
        config["layers"] = [_inner_layer({"layer": c}, custom_objects, "Pipeline") for c in layers]
        return cls(**config)


__all__ = ["Pipeline"]
