"""Model: a Layer with training (Trainer), summary and saving.

``Model(inputs, outputs)`` builds a Functional graph model; subclassing
``Model`` with ``__init__`` + ``call`` gives an imperative model whose
layers are tracked through attributes.
"""

from __future__ import annotations

from fastnet import ops
from fastnet.backend.tape import stop_recording_all
from fastnet.layers.layer import Layer
from fastnet.trainers.trainer import Trainer

_FUNCTIONAL_SUBCLASSES = {}


def _functional_init_arguments(args, kwargs):
    """Keras 3's test for ``Model.__init__`` called the functional way."""
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


def _functional_subclass(cls, functional):
    """``cls`` with Functional put under it: (cls, Functional) in that MRO order, so the
    subclass's methods (train_step, call overrides, ...) win over Functional's and
    Functional's graph machinery over Model's. One class per subclass, named as it."""
    sub = _FUNCTIONAL_SUBCLASSES.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls, functional), {"__module__": cls.__module__,
                                                     "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = sub
    return sub


class Model(Trainer, Layer):
    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from fastnet.models.functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        from fastnet.models.functional import Functional

        if _functional_init_arguments(args, kwargs) and not isinstance(self, Functional):
            # `class CustomModel(keras.Model)` whose __init__ reaches here with (inputs,
            # outputs) (the "customizing fit()" guide): as Keras 3, it becomes a functional
            # model that keeps the subclass's methods.
            self.__class__ = _functional_subclass(type(self), Functional)
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"{type(self).__name__}: Model.__init__ takes keyword arguments "
                            f"(name, trainable, dtype) or (inputs, outputs); got {len(args)} "
                            "positional argument(s)")
        super().__init__(**kwargs)

    @property
    def layers(self):
        return list(self._layers)

    @property
    def output_names(self):
        return ["output"]

    def build(self, input_shape=None):
        """Creates the weights of a subclassed model by calling it once on zeros."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument to build().")
        shapes = input_shape if isinstance(input_shape, list) and input_shape and \
            isinstance(input_shape[0], (list, tuple)) else None
        with stop_recording_all():
            if isinstance(input_shape, dict):  # a dict of inputs (Keras builds it too)
                dummy = {k: ops.zeros(tuple(1 if s is None else s for s in sh))
                         for k, sh in input_shape.items()}
            elif shapes is not None:
                dummy = [ops.zeros(tuple(1 if s is None else s for s in sh)) for sh in shapes]
            else:
                dummy = ops.zeros(tuple(1 if s is None else s for s in input_shape))
            self._build_input_shape = input_shape
            self.built = True
            try:
                self._call_with_context((dummy,), {"training": False})
            except Exception:
                self.built = False
                raise

    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)
        if not self.built:
            self.built = True
        return out

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        from fastnet.models.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Exports the model for inference elsewhere. fastnet writes ``format="onnx"``
        (Sequential and functional models of built-in layers; ``opset_version=`` as Keras);
        Keras's other formats need TensorFlow, JAX, OpenVINO or PyTorch."""
        if format != "onnx":
            raise ValueError(f"fastnet exports format='onnx' only (Keras's {format!r} needs "
                             f"another backend). Received: format={format!r}")
        from fastnet.export import export_onnx

        return export_onnx(self, filepath, verbose=verbose, input_signature=input_signature,
                           **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        from fastnet import saving

        saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        from fastnet import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        from fastnet import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (models.model_from_json reads it)."""
        import json

        from fastnet.saving import _json_default
        from fastnet.saving.serialization_lib import serialize_keras_object

        return json.dumps(serialize_keras_object(self), default=_json_default, **kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "input_layers" in config and "output_layers" in config:
            from fastnet.saving.serialization import functional_from_config

            return functional_from_config(config, custom_objects)
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(f"Unable to revive model {cls.__name__} from its config {config}: "
                            f"{e}. Subclassed models need a get_config() returning their "
                            "constructor arguments.") from None

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
