"""Core layers: Input, Dense, Activation, Dropout, Flatten, Reshape, Permute,
RepeatVector, Lambda, Embedding."""

from __future__ import annotations

import warnings

import numpy as np

from fastnet import activations as activations_mod
from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import random as random_mod
from fastnet import regularizers as regularizers_mod
from fastnet.backend import tape
from fastnet.backend.symbolic import KerasTensor
from fastnet.layers.argument_validation import check_int, check_number
from fastnet.layers.layer import InputSpec, Layer
from fastnet.layers.lora import LoRAMixin
from fastnet.layers.weight_args import kernel_bias_config, set_kernel_bias_args
from fastnet.ops import nn as ops_nn
from fastnet.ops._embedding import embedding_lookup


def _data_format(data_format, layer):
    """Keras's data_format argument: None means backend.image_data_format()."""
    if data_format is None:
        from fastnet.backend import image_data_format

        data_format = image_data_format()
    data_format = str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: the `data_format` argument "
                         f"must be one of 'channels_first', 'channels_last'. Received: "
                         f"data_format={data_format}")
    return data_format


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        kwargs.pop("trainable", None)
        if kwargs:  # Keras 3's InputLayer accepts and drops them (it passes only `name` on)
            warnings.warn(f"InputLayer: ignoring unrecognized keyword argument(s) "
                          f"{', '.join(sorted(kwargs))} (Keras 3's InputLayer ignores them "
                          "too)", stacklevel=2)
        super().__init__(name=name, dtype=dtype)
        if sparse:
            raise NotImplementedError(f"InputLayer {self.name!r}: `sparse=True` (sparse input "
                                      "tensors) is not implemented in fastnet")
        if input_tensor is not None:
            raise NotImplementedError(f"InputLayer {self.name!r}: `input_tensor` (wrapping an "
                                      "existing tensor) is not implemented in fastnet")
        if ragged:
            raise NotImplementedError(f"InputLayer {self.name!r}: `ragged=True` (ragged input "
                                      "tensors) is not implemented in fastnet")
        if optional:
            raise NotImplementedError(f"InputLayer {self.name!r}: `optional=True` (an input "
                                      "that may be None) is not implemented in fastnet")
        if shape is None and input_shape is not None:
            shape = input_shape
        if batch_shape is None and batch_input_shape is not None:
            batch_shape = batch_input_shape
        if batch_shape is not None and shape is not None:  # Keras's own messages
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if batch_shape is not None and batch_size is not None:
            raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the same "
                             "time.")
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument to Input (or `batch_shape`).")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        batch_shape = tuple(None if d is None else d for d in batch_shape)
        if any(d is not None and (not isinstance(d, (int, np.integer)) or d < 0)
               for d in batch_shape):
            raise ValueError(f"Cannot convert '{tuple(shape) if shape is not None else batch_shape}"
                             "' to a shape: every dimension must be None or an integer >= 0 "
                             f"(InputLayer {self.name!r})")
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.sparse = bool(sparse)
        self.built = True
        tensor = KerasTensor(self.batch_shape, dtype=self.dtype, name=self.name)
        from fastnet.layers.layer import Node

        node = Node(self, (), {}, [tensor])
        self._inbound_nodes.append(node)
        tensor._keras_history = (self, 0, 0)
        self.output_tensor = tensor

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype,
                "sparse": self.sparse, "ragged": False, "name": self.name, "optional": False}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """A symbolic input of a functional model: its shape excludes the batch axis."""
    if tensor is not None:
        raise NotImplementedError("Input: `tensor` (InputLayer's `input_tensor`: wrapping an "
                                  "existing tensor) is not implemented in fastnet")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name, optional=optional)
    return layer.output_tensor


def _refuse_quantization(layer, quantization_config):
    # Keras 3's quantization settings (Dense, Embedding): not implemented.
    where = f"{type(layer).__name__} {layer.name!r}"
    if quantization_config is not None:
        raise NotImplementedError(f"{where}: `quantization_config` (quantized weights) is not "
                                  f"implemented in fastnet. Received: "
                                  f"quantization_config={quantization_config!r}")


class Dense(LoRAMixin, Layer):
    """``activation(inputs @ kernel + bias)`` on the last axis; kernel (in, units); with
    LoRA (``lora_rank`` / ``enable_lora``) the kernel is ``W + alpha/rank * A @ B``."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        _refuse_quantization(self, quantization_config)
        self._init_lora(lora_rank, lora_alpha)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        self.units = int(units)
        self.activation = activations_mod.get(activation)
        self.use_bias = use_bias
        set_kernel_bias_args(self, kernel_initializer, bias_initializer, kernel_regularizer,
                             bias_regularizer, kernel_constraint, bias_constraint)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer {self.name!r}: the last dimension of the input must "
                             f"be defined, got input shape {input_shape}")
        self._kernel = self.add_weight(shape=(input_dim, self.units), name="kernel",
                                       initializer=self.kernel_initializer,
                                       regularizer=self.kernel_regularizer,
                                       constraint=self.kernel_constraint)
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    @property
    def kernel(self):
        return self._lora_merged()

    def call(self, inputs):
        x = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            # x is the fresh matmul result: without a tape the bias goes into its buffer
            x = ops_nn.bias_add(x, self.bias, _inplace=tape.may_overwrite(x))
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations_mod.serialize(self.activation),
                "use_bias": self.use_bias,
                **kernel_bias_config(self), **self._lora_config()}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations_mod.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations_mod.serialize(self.activation)}


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_number(rate, "rate", self)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        # As Keras: a seeded layer draws a reproducible sequence of masks
        self._seed_generator = None if seed is None else random_mod.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            if self.rate >= 1.0:
                return ops.zeros_like(inputs)
            return ops_nn.dropout(inputs, self.rate, noise_shape=self.noise_shape,
                               seed=self._seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            # as Keras: to channels-last order before flattening
            inputs = ops.transpose(inputs, (0,) + tuple(range(2, inputs.ndim)) + (1,))
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(s is None for s in rest) else int(np.prod(rest)) if rest else 1
        return (input_shape[0], n)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(target_shape)
        except TypeError:
            self.target_shape = None
        if (self.target_shape is None or self.target_shape.count(-1) > 1
                or any(isinstance(d, bool) or not isinstance(d, (int, np.integer))
                       or (d < 0 and d != -1) for d in self.target_shape)):
            raise ValueError(f"Reshape {self.name!r}: `target_shape` must be a tuple of "
                             f"non-negative integers (one may be -1). Received: "
                             f"target_shape={target_shape!r}")
        self.target_shape = tuple(int(d) for d in self.target_shape)

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        if -1 in self.target_shape:
            known = int(np.prod([s for s in self.target_shape if s != -1]))
            rest = input_shape[1:]
            total = None if any(s is None for s in rest) else int(np.prod(rest))
            fill = None if total is None else total // known
            return (input_shape[0],) + tuple(fill if s == -1 else s for s in self.target_shape)
        rest = input_shape[1:]
        if all(s is not None for s in rest) and int(np.prod(rest)) != int(np.prod(self.target_shape)):
            raise ValueError(f"Layer {self.name!r}: cannot reshape input of shape {input_shape} "
                             f"to target shape {self.target_shape}: total sizes differ")
        return (input_shape[0],) + self.target_shape

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            self.dims = tuple(dims)
        except TypeError:
            raise ValueError(f"Permute {self.name!r}: `dims` must be a tuple of axis indices "
                             f"(starting from 1). Received: dims={dims!r}") from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set "
                             f"of indices in `dims` must be consecutive and start from 1. "
                             f"Received dims={dims}")

    def call(self, inputs):
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = check_int(n, "n", self, minimum=0)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Lambda(Layer):
    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = function
        self._output_shape = output_shape
        self.mask = mask
        if mask is not None:
            self.supports_masking = True
        self.arguments = arguments or {}
        import inspect

        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_expects_mask = "mask" in params
        self._fn_expects_training = "training" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs["mask"] = mask
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            raise NotImplementedError
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        # As Keras: output_shape excludes the batch axis (a shape, or a list of shapes for
        # several outputs); the batch size is that of the first input.
        batch = input_shape
        while isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], (list, tuple)):
            batch = batch[0]
        batch = batch[0] if isinstance(batch, (list, tuple)) and batch else None

        def add_batch(shape):
            if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
                return [add_batch(s) for s in shape]
            return (batch,) + tuple(shape)

        return add_batch(self._output_shape)

    # Keras 3's config: a Python lambda as {"class_name": "__lambda__", "config": {"code":
    # base64 marshal, "defaults", "closure"}} (loads only with safe_mode=False), a named
    # function as a function reference.
    @staticmethod
    def _fn_config(fn):
        from fastnet.saving import serialization_lib

        if getattr(fn, "__name__", None) == "<lambda>" and hasattr(fn, "__code__"):
            return {"class_name": "__lambda__", "config": serialization_lib.func_dump(fn)}
        return serialization_lib.serialize_keras_object(fn)

    def get_config(self):
        from fastnet.saving import serialization_lib

        config = {**super().get_config(), "function": self._fn_config(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = self._fn_config(self._output_shape) \
                if callable(self._output_shape) else self._output_shape
        if self.mask is not None:
            config["mask"] = self._fn_config(self.mask) if callable(self.mask) else \
                serialization_lib.serialize_keras_object(self.mask)
        config["arguments"] = serialization_lib.serialize_keras_object(self.arguments)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.saving import serialization_lib

        config = dict(config)
        # tf.keras 2's form: function (and output_shape) as [code, defaults, closure] with
        # *_type "lambda", or a function name with *_type "function" (looked up among
        # fastnet's and registered functions, never imported from the named module)
        config.pop("module", None)
        config.pop("output_shape_module", None)
        for key, kind in (("function", config.pop("function_type", None)),
                          ("output_shape", config.pop("output_shape_type", None))):
            value = config.get(key)
            if kind == "lambda" and isinstance(value, list) and len(value) == 3:
                config[key] = {"class_name": "__lambda__", "config": {
                    "code": value[0], "defaults": value[1], "closure": value[2]}}
            elif kind == "function" and isinstance(value, str):
                config[key] = {"class_name": "function", "config": value,
                               "module": None, "registered_name": "function"}
        for key in ("function", "output_shape", "mask"):
            if isinstance(config.get(key), dict):
                config[key] = serialization_lib.deserialize_keras_object(
                    config[key], custom_objects)
        shape = config.get("output_shape")
        if isinstance(shape, list) and all(isinstance(e, (int, type(None))) for e in shape):
            config["output_shape"] = tuple(shape)
        if "arguments" in config:
            config["arguments"] = serialization_lib.deserialize_keras_object(
                config["arguments"], custom_objects)
        return cls(**config)


class Embedding(LoRAMixin, Layer):
    """Integer indices (batch, ...) → vectors (batch, ..., output_dim); with LoRA the
    table is ``E + alpha/rank * A @ B``."""

    _lora_weight_name = "embeddings"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        kwargs.pop("input_length", None)  # Keras 3 accepts and ignores it (deprecated)
        super().__init__(**kwargs)
        _refuse_quantization(self, quantization_config)
        self._init_lora(lora_rank, lora_alpha)
        input_dim = check_int(input_dim, "input_dim", self)
        output_dim = check_int(output_dim, "output_dim", self)
        if input_dim <= 0 or output_dim <= 0:
            raise ValueError(f"Both `input_dim` and `output_dim` should be positive, Received "
                             f"input_dim = {input_dim} and output_dim = {output_dim}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        init = "random_uniform" if embeddings_initializer == "uniform" else embeddings_initializer
        self.embeddings_initializer = initializers_mod.get(init)
        self.embeddings_regularizer = regularizers_mod.get(embeddings_regularizer)
        self.embeddings_constraint = constraints_mod.get(embeddings_constraint)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self._initial_weights = weights

    def build(self, input_shape=None):
        self._embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                           initializer=self.embeddings_initializer,
                                           name="embeddings",
                                           regularizer=self.embeddings_regularizer,
                                           constraint=self.embeddings_constraint)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, self.lora_alpha)

    @property
    def embeddings(self):
        return self._lora_merged()

    def call(self, inputs):
        idx = ops.convert_to_tensor(inputs)
        if idx.dtype not in ("int32", "int64"):
            idx = ops.cast(idx, "int32")
        return embedding_lookup(self.embeddings, idx,
                                f"Embedding {self.name!r} (input_dim={self.input_dim})")

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _output_dtype(self, inputs):
        return "float32"

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "mask_zero": self.mask_zero,
                "embeddings_initializer": initializers_mod.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers_mod.serialize(self.embeddings_regularizer),
                "embeddings_constraint": constraints_mod.serialize(self.embeddings_constraint),
                **self._lora_config()}
