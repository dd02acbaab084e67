"""Recurrent layers: SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, ConvLSTM2D.

As Keras 3, SimpleRNN/LSTM/GRU are RNN layers over their cell (``layer.cell``, a
SimpleRNNCell/LSTMCell/GRUCell named simple_rnn_cell/lstm_cell/gru_cell holding the weights
in Keras's layouts and gate orders); their constructors take Keras 3's arguments in its
order, their configs carry the cell's arguments at the top level. The cell runs the whole
sequence (layers/rnn_cell.py ``_run_sequence``): SimpleRNN (tanh, relu, sigmoid or linear),
LSTM and GRU (reset_after=True) with their default activations on the C++ sequence kernels
(fastnet.ops.simple_rnn_sequence, lstm_sequence, gru_sequence), masked or not, forwards or
backwards; other configurations (GRU reset_after=False, other activations, non-float32
inputs) in a Python time loop over fastnet.ops (one GEMM for the input projection of all
steps, then per step one GEMM with the recurrent kernel).

Masks follow Keras (backend.rnn): at a masked step the state is carried and the output
repeats the previous output (zeros before the first step); with zero_output_for_mask
(which Bidirectional sets when returning sequences) masked outputs are zeros instead.

Dropout follows Keras 3: masks are the cell's (``get_dropout_mask``), drawn once per
sequence (fixed over the time steps) and only when training. `dropout` alone (Keras's
implementation 2) is one input mask; `recurrent_dropout` (Keras switches to implementation
1) is one input and one recurrent mask per gate. The C++ sequence kernels take the masks
(in_mask, rec_mask) and apply them forward and backward; only the configurations the kernels
do not cover run the Python time loop with the same masks. `stateful=True` keeps the final
states (``layer.states``, not weights) as the next call's initial states until
``reset_states()``. `unroll` is accepted as in Keras, where it only changes how the loop is
compiled: the results are the same either way. `time_major` is refused, as Keras 3 refuses
it.
"""

from __future__ import annotations

import copy

import numpy as np

from fastnet import activations as activations_mod
from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import regularizers as regularizers_mod
from fastnet.layers.argument_validation import check_int, check_padding, standardize_tuple
from fastnet.layers.layer import InputSpec, Layer
from fastnet.layers.rnn_cell import (
    RNN,
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    _given,
    _refuse_time_major,
)


def _cell_property(name, doc=None):
    return property(lambda self: getattr(self.cell, name),
                    doc=doc or f"The cell's `{name}` (Keras 3: the layer reads it from its cell).")


class _RNN(RNN):
    """SimpleRNN / LSTM / GRU: an RNN layer over its built-in cell (``layer.cell``, Keras's
    names and weights), the constructor taking the cell's arguments as Keras 3's does."""

    _cell_class = None
    _cell_name = None
    _layer_rules = True  # the layer's dropout rule: without recurrent_dropout it masks inputs
    _extra_cell_args = ()  # (name, default) of the arguments only this cell type has

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None,
                 zero_output_for_mask=False, use_cudnn="auto", **kwargs):
        name = type(self).__name__
        _refuse_time_major(name, kwargs)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"{name}: invalid value received for argument `use_cudnn`. "
                             f"Expected one of {{'auto', True, False}}. Received: "
                             f"use_cudnn={use_cudnn!r}")
        if use_cudnn is True:
            raise ValueError(f"{name}: use_cudnn=True, but cuDNN is not available (fastnet "
                             "runs on the CPU); use use_cudnn='auto'")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{name}: `{arg}` must be in [0, 1]. Received: {arg}={rate}")
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units}.")
        extra = {arg: kwargs.pop(arg, default) for arg, default in self._extra_cell_args}
        cell_kwargs = dict(
            activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
            name=self._cell_name, implementation=kwargs.pop("implementation", None), **extra)
        if self._cell_class is not SimpleRNNCell:
            cell_kwargs["recurrent_activation"] = recurrent_activation
        cell = self._cell_class(int(units), **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.use_cudnn = use_cudnn
        self.input_spec = InputSpec(ndim=3)

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    def call(self, sequences, initial_state=None, mask=None, training=None):
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    # -- the cell's arguments, read from the cell (as Keras 3) ---------------------------
    units = _cell_property("units")
    activation = _cell_property("activation")
    recurrent_activation = _cell_property("recurrent_activation")
    use_bias = _cell_property("use_bias")
    kernel_initializer = _cell_property("kernel_initializer")
    recurrent_initializer = _cell_property("recurrent_initializer")
    bias_initializer = _cell_property("bias_initializer")
    kernel_regularizer = _cell_property("kernel_regularizer")
    recurrent_regularizer = _cell_property("recurrent_regularizer")
    bias_regularizer = _cell_property("bias_regularizer")
    kernel_constraint = _cell_property("kernel_constraint")
    recurrent_constraint = _cell_property("recurrent_constraint")
    bias_constraint = _cell_property("bias_constraint")
    dropout = _cell_property("dropout")
    recurrent_dropout = _cell_property("recurrent_dropout")
    seed = _cell_property("seed")
    gates = _cell_property("gates")
    # fastnet's shortcuts to the cell's weights (Keras 3 has them on the cell only)
    kernel = _cell_property("kernel", "The cell's kernel (``layer.cell.kernel``).")
    recurrent_kernel = _cell_property("recurrent_kernel",
                                      "The cell's recurrent kernel (``layer.cell.recurrent_kernel``).")
    bias = _cell_property("bias", "The cell's bias (``layer.cell.bias``), None without one.")

    @property
    def _seed_generator(self):
        return self.cell.seed_generator

    @_seed_generator.setter
    def _seed_generator(self, value):
        self.cell.seed_generator = value

    @property
    def _dropout_masks(self):
        """The (input, recurrent) mask lists of the last training call (None otherwise)."""
        return self.cell._dropout_masks

    # -- config (Keras 3's: the cell's arguments at the top level) ------------------------
    def get_config(self):
        config = super().get_config()
        del config["cell"]
        config.update({
            "units": self.units,
            "activation": activations_mod.serialize(self.activation),
            "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
            "bias_initializer": initializers_mod.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers_mod.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers_mod.serialize(self.activity_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed})
        for arg, _ in self._extra_cell_args:
            config[arg] = getattr(self.cell, arg)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class SimpleRNN(_RNN):
    _cell_class = SimpleRNNCell
    _cell_name = "simple_rnn_cell"

    # Keras 3's signature, in its order (positional arguments bind as in Keras)
    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        # Keras's SimpleRNN has no recurrent_activation (older fastnet configs saved the
        # unused default, which is accepted) and no use_cudnn.
        if kwargs.pop("recurrent_activation", "sigmoid") != "sigmoid":
            raise ValueError("SimpleRNN: unrecognized keyword argument `recurrent_activation` "
                            "(a SimpleRNN cell has a single activation)")
        if "use_cudnn" in kwargs:
            raise ValueError("SimpleRNN: unrecognized keyword argument `use_cudnn` (Keras 3's "
                            "SimpleRNN has no such argument; LSTM and GRU have)")
        super().__init__(**_given(locals()))

    def get_config(self):
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class LSTM(_RNN):
    """Gate order i, f, c, o; kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,)."""

    _cell_class = LSTMCell
    _cell_name = "lstm_cell"
    _extra_cell_args = (("unit_forget_bias", True),)
    unit_forget_bias = _cell_property("unit_forget_bias")

    # Keras 3's signature, in its order (positional arguments bind as in Keras)
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):
        super().__init__(**_given(locals()))


class GRU(_RNN):
    """Gate order z, r, h; reset_after=True: bias (2, 3u) (input row, recurrent row)."""

    _cell_class = GRUCell
    _cell_name = "gru_cell"
    _extra_cell_args = (("reset_after", True),)
    reset_after = _cell_property("reset_after")

    # Keras 3's signature, in its order (positional arguments bind as in Keras)
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", **kwargs):
        super().__init__(**_given(locals()))


def _fresh_cell(cell):
    """A new cell with cell's config (new weights), for Bidirectional's backward RNN."""
    from fastnet.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

    try:
        return deserialize_keras_object(serialize_keras_object(cell))
    except (ValueError, TypeError):  # a user cell that is not registered
        clone = copy.deepcopy(cell)
        clone.name = "backward_" + cell.name
        clone._parent_path = None  # a new layer: its path is fixed where it is built
        return clone


class Bidirectional(Layer):
    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be "
                             "one of {'sum', 'mul', 'ave', 'concat', None}")
        self.forward_layer = layer
        self._initial_weights = weights
        # As Keras 3: the backward layer it makes reads the sequence backwards
        # (go_backwards=True), and the two directions must differ.
        fwd_back = bool(getattr(layer, "go_backwards", False))
        bwd_back = True if backward_layer is None else bool(
            getattr(backward_layer, "go_backwards", False))
        if fwd_back == bwd_back:
            hint = ("; to run this layer backwards give a backward_layer with "
                    "go_backwards=False" if backward_layer is None else "")
            raise ValueError(f"Bidirectional: forward layer and backward layer should have "
                             f"different `go_backwards` value. Received: forward_layer."
                             f"go_backwards {fwd_back}, backward_layer.go_backwards="
                             f"{bwd_back}{hint}")
        if backward_layer is None:
            backward_layer = copy.copy(layer)
            object.__setattr__(backward_layer, "_tracking_ready", False)
            backward_layer._own_weights = []
            backward_layer._layers = []
            backward_layer._inbound_nodes = []
            backward_layer._parent_path = None  # its own name scope, not the forward's
            backward_layer.__dict__.pop("_scope_entry", None)
            backward_layer.built = False
            backward_layer.go_backwards = True
            backward_layer.name = "backward_" + layer.name
            object.__setattr__(backward_layer, "_tracking_ready", True)
            if isinstance(getattr(layer, "cell", None), Layer):  # RNN(cell): its own weights
                backward_layer.cell = _fresh_cell(layer.cell)
        self.backward_layer = backward_layer
        self.forward_layer.name = "forward_" + layer.name if not layer.name.startswith(
            "forward_") else layer.name
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = getattr(layer, "return_state", False)
        self.supports_masking = True
        # As Keras: with sequences returned, masked steps output zeros in both directions.
        for lyr in (self.forward_layer, self.backward_layer):
            if hasattr(lyr, "zero_output_for_mask"):
                lyr.zero_output_for_mask = self.return_sequences

    def build(self, input_shape):
        self.forward_layer._maybe_build(tuple(input_shape))
        self.backward_layer._maybe_build(tuple(input_shape))
        self.built = True
        if self._initial_weights is not None:  # Keras's `weights=`: forward's, then backward's
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, mask=None, training=None, initial_state=None):
        kwargs = {"mask": mask} if mask is not None else {}
        if training is not None:
            kwargs["training"] = training
        fwd_kw, bwd_kw = dict(kwargs), dict(kwargs)
        if initial_state is not None:  # as Keras: first half forward, second half backward
            states = list(initial_state)
            half = len(states) // 2
            fwd_kw["initial_state"], bwd_kw["initial_state"] = states[:half], states[half:]
        y = self.forward_layer(inputs, **fwd_kw)
        yb = self.backward_layer(inputs, **bwd_kw)
        states = []
        if self.return_state:  # Keras: [output, forward states..., backward states...]
            states = list(y[1:]) + list(yb[1:])
            y, yb = y[0], yb[0]
        # as Keras: the wrapped layers compute in their own dtype, the outputs (not the
        # states) come out in the wrapper's
        y, yb = ops.cast(y, self.compute_dtype), ops.cast(yb, self.compute_dtype)
        if self.return_sequences:
            yb = ops.flip(yb, axis=1)
        if self.merge_mode == "concat":
            out = [ops.concatenate([y, yb], axis=-1)]
        elif self.merge_mode == "sum":
            out = [y + yb]
        elif self.merge_mode == "mul":
            out = [y * yb]
        elif self.merge_mode == "ave":
            out = [(y + yb) / 2.0]
        else:
            out = [y, yb]
        if self.return_state:
            return out + states
        return out[0] if len(out) == 1 else out

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, states = out[0], list(out[1:])
        if self.merge_mode == "concat":
            out = [tuple(out[:-1]) + (out[-1] * 2,)]
        elif self.merge_mode is None:
            out = [out, out]
        else:
            out = [out]
        if self.return_state:
            return out + states + states
        return out[0] if len(out) == 1 else out

    def compute_mask(self, inputs, mask=None):
        if not self.return_sequences or mask is None:
            return None
        if self.return_state or self.merge_mode is None:
            return None
        return mask

    @property
    def stateful(self):
        return bool(getattr(self.forward_layer, "stateful", False))

    @property
    def states(self):
        fwd, bwd = self.forward_layer.states, self.backward_layer.states
        return tuple(fwd + bwd) if fwd and bwd else None

    def reset_states(self):
        if not self.stateful:
            raise AttributeError(f"Layer {self.name!r} must be stateful to reset its states")
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states

    def get_config(self):  # Keras 3's: both directions' full layer configs
        from fastnet.saving import serialization_lib

        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": serialization_lib.serialize_keras_object(self.forward_layer),
                  "backward_layer": serialization_lib.serialize_keras_object(
                      self.backward_layer)}
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):

        config = dict(config)
        config["layer"] = _wrapped_layer(config, custom_objects, "Bidirectional")
        if isinstance(config.get("backward_layer"), dict):
            config["backward_layer"] = _wrapped_layer(
                {"layer": config["backward_layer"]}, custom_objects, "Bidirectional")
        return cls(**config)


def _wrapped_layer(config, custom_objects, wrapper):
    from fastnet.saving import serialization

    layer = config.get("layer")
    if not isinstance(layer, dict):
        raise ValueError(f"{wrapper}: the config has no `layer` to wrap (got {layer!r})")
    inner = serialization.deserialize_layer(layer, custom_objects)
    build = layer.get("build_config")  # Keras 3 writes the wrapped layer's build shape
    if build and build.get("input_shape") is not None and not inner.built:
        if hasattr(inner, "build_from_config"):
            inner.build_from_config(build)
        else:
            inner.build(tuple(build["input_shape"]))
    return inner


class TimeDistributed(Layer):
    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer._maybe_build((None,) + tuple(input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        b, t = inputs.shape[0], inputs.shape[1]
        flat = ops.reshape(inputs, (b * t,) + tuple(inputs.shape[2:]))
        y = self.layer(flat, training=training)
        return ops.reshape(y, (b, t) + tuple(y.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def get_config(self):
        from fastnet.saving import serialization_lib

        return {**super().get_config(),
                "layer": serialization_lib.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = _wrapped_layer(config, custom_objects, "TimeDistributed")
        return cls(**config)


class ConvLSTM2D(Layer):
    """Convolutional LSTM over (batch, time, rows, cols, channels) (or, channels_first,
    (batch, time, channels, rows, cols)); Keras's layout: kernel (kh, kw, in, 4*filters),
    recurrent_kernel (kh, kw, filters, 4*filters), bias (4*filters,), gates i, f, c, o.
    The recurrent convolution is 'same'. As Keras's ConvLSTMCell, training with `dropout`
    (`recurrent_dropout`) multiplies the step input (the previous h) by one mask per gate,
    drawn once per call and kept over its time steps; `stateful=True` carries h and c from
    one call to the next (reset_states() zeroes them)."""

    # Keras 3's signature, in its order
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        _refuse_time_major("ConvLSTM2D", kwargs)
        # Keras's RNN base takes these through **kwargs (and its configs carry them)
        unroll = bool(kwargs.pop("unroll", False))  # how Keras compiles the loop: no effect
        zero_output_for_mask = bool(kwargs.pop("zero_output_for_mask", False))
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.supports_masking = True
        from fastnet import random as random_mod
        from fastnet.layers.core import _data_format

        self.data_format = _data_format(data_format, self)
        # as Keras's ConvLSTMCell: rates clipped to [0, 1]; applied when 0 < rate < 1
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.stateful = bool(stateful)
        self._states = None  # stateful: [h, c], in the layer's data_format
        self.seed = seed
        self.seed_generator = random_mod.SeedGenerator(seed)
        self.filters = check_int(filters, "filters", self)
        self.kernel_size = standardize_tuple(kernel_size, 2, "kernel_size", self)
        self.strides = standardize_tuple(strides, 2, "strides", self)
        self.padding = check_padding(padding, self)
        self.dilation_rate = standardize_tuple(dilation_rate, 2, "dilation_rate", self)
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.input_spec = InputSpec(ndim=5)

    def build(self, input_shape, initial_state_shape=None):
        if self.stateful and input_shape[0] is None:  # Keras's RNN: the same check
            raise ValueError(f"ConvLSTM2D {self.name!r}: when using `stateful=True` in a RNN, "
                             "the batch size must be static. Found dynamic batch size: "
                             f"sequence.shape={tuple(input_shape)}. Give the input a batch "
                             "size (keras.Input(batch_shape=...) or batch_size=...)")
        cin = input_shape[2] if self.data_format == "channels_first" else input_shape[-1]
        f = self.filters
        self.kernel = self.add_weight(shape=self.kernel_size + (cin, 4 * f), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=self.kernel_size + (f, 4 * f),
                                                name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            base = self.bias_initializer

            def init(shape, dtype=None):
                import numpy as np

                b = np.asarray(base((4 * f,), dtype=dtype))
                if self.unit_forget_bias:
                    b[f:2 * f] = 1.0
                return b

            self.bias = self.add_weight(shape=(4 * f,), name="bias", initializer=init,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        else:
            self.bias = None
        # Keras's weights belong to the layer's cell (named conv_lstm_cell): their paths
        # are <layer path>/conv_lstm_cell/<name>; fastnet's layer holds them itself
        for v in self._own_weights:
            v.path = f"{self._path or self.name}/conv_lstm_cell/{v.name}"
        self.built = True

    def _spatial_out(self, size, i):
        from fastnet.ops.spatial import conv_output_length

        return conv_output_length(size, self.kernel_size[i], self.strides[i], self.padding,
                                  self.dilation_rate[i])

    # -- stateful (as Keras's RNN) ----------------------------------------------------------
    @property
    def states(self):
        """[h, c] carried by a stateful layer (None before its first call)."""
        return None if self._states is None else list(self._states)

    @states.setter
    def states(self, value):
        self._states = None if value is None else [
            ops.convert_to_tensor(np.asarray(ops.convert_to_numpy(v), np.float32)) for v in value]

    def reset_states(self, states=None):
        """Zeroes the carried states (a no-op before they exist), or sets them to [h, c]."""
        if states is not None:
            if len(states) != 2:
                raise ValueError(f"ConvLSTM2D {self.name!r}: reset_states() expects 2 states "
                                 f"(h and c), received {len(states)}")
            self.states = states
        elif self._states is not None:
            self._states = [ops.zeros(tuple(s.shape)) for s in self._states]

    reset_state = reset_states

    def _channels_last(self, t, rank):
        """A channels_first tensor of `rank` (4: a state, 5: a sequence) as channels_last."""
        if self.data_format != "channels_first":
            return t
        return ops.transpose(t, (0, 2, 3, 1) if rank == 4 else (0, 1, 3, 4, 2))

    def _from_channels_last(self, t, rank):
        if self.data_format != "channels_first":
            return t
        return ops.transpose(t, (0, 3, 1, 2) if rank == 4 else (0, 1, 4, 2, 3))

    def _gate_masks(self, shape, rate, training):
        """Keras's DropoutRNNCell masks (dropout_mask_count 4): one per gate, or None."""
        if not training or not 0.0 < rate < 1.0:
            return None
        keep = [self.seed_generator.rng.random(shape) >= rate for _ in range(4)]
        return [ops.convert_to_tensor(k.astype(np.float32) / np.float32(1.0 - rate))
                for k in keep]

    def _gates_conv(self, x, kernel, masks, strides, padding, dilation):
        """conv(x, kernel) for the four gates at once, or gate by gate on masked x."""
        if masks is None:
            return ops.conv(x, kernel, strides, padding, dilation_rate=dilation)
        f = self.filters
        return ops.concatenate([ops.conv(x * m, kernel[..., g * f:(g + 1) * f], strides,
                                         padding, dilation_rate=dilation)
                                for g, m in enumerate(masks)], axis=-1)

    def call(self, inputs, initial_state=None, mask=None, training=None):
        x = self._channels_last(ops.convert_to_tensor(inputs), 5)
        b, steps = x.shape[0], x.shape[1]
        rows, cols = self._spatial_out(x.shape[2], 0), self._spatial_out(x.shape[3], 1)
        f = self.filters
        state_shape = (b, rows, cols, f)
        if initial_state is not None:
            states = [self._channels_last(ops.convert_to_tensor(s), 4) for s in initial_state]
        elif self.stateful and self._states is not None:
            states = [self._channels_last(s, 4) for s in self._states]
        else:
            states = [ops.zeros(state_shape), ops.zeros(state_shape)]
        if len(states) != 2 or any(tuple(s.shape) != state_shape for s in states):
            what = "the carried states" if initial_state is None else "initial_state"
            raise ValueError(f"ConvLSTM2D {self.name!r}: {what} must be [h, c] of shape "
                             f"{tuple(self._from_channels_last(ops.zeros(state_shape), 4).shape)}"
                             f" each; received {[tuple(s.shape) for s in states]}")
        h, c = states
        in_masks = self._gate_masks(tuple(x.shape[:1]) + tuple(x.shape[2:]), self.dropout,
                                    training)
        rec_masks = self._gate_masks(state_shape, self.recurrent_dropout, training)
        outputs, step_masks = [], []
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is not None:  # Keras's backend.rnn: masked steps carry h and c
            mask = np.asarray(ops.convert_to_numpy(mask)).astype(bool)
            if mask.shape != (b, steps):
                raise ValueError(f"ConvLSTM2D {self.name!r}: the mask must be (batch, steps) "
                                 f"= {(b, steps)}, received mask of shape {mask.shape}")
        # The input convolution does not depend on h: one call over all (batch, time) images,
        # not one per step (the per-sample dropout masks repeat over the time steps).
        flat_masks = None if in_masks is None else [ops.repeat(m, steps, axis=0) for m in in_masks]
        zx = self._gates_conv(ops.reshape(x, (-1,) + tuple(x.shape[2:])), self.kernel, flat_masks,
                              self.strides, self.padding, self.dilation_rate)
        zx = ops.reshape(zx, (-1, steps) + tuple(zx.shape[1:]))
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            h_prev, c_prev = h, c
            z = zx[:, t] + self._gates_conv(h, self.recurrent_kernel, rec_masks, 1, "same", 1)
            if self.bias is not None:
                z = z + self.bias
            i = self.recurrent_activation(z[..., :f])
            fg = self.recurrent_activation(z[..., f:2 * f])
            g = self.activation(z[..., 2 * f:3 * f])
            o = self.recurrent_activation(z[..., 3 * f:])
            c = fg * c + i * g
            h = o * self.activation(c)
            if mask is not None:
                m = ops.convert_to_tensor(mask[:, t].astype(np.float32).reshape(b, 1, 1, 1))
                h = h * m + h_prev * (1.0 - m)
                c = c * m + c_prev * (1.0 - m)
                step_masks.append(m)
            outputs.append(h)
        if mask is not None and self.zero_output_for_mask:
            outputs = [o * m for o, m in zip(outputs, step_masks)]
        last = outputs[-1] if outputs else h
        out = ops.stack(outputs, axis=1) if self.return_sequences else last
        out = self._from_channels_last(out, 5 if self.return_sequences else 4)
        h, c = self._from_channels_last(h, 4), self._from_channels_last(c, 4)
        if self.stateful:
            self._states = [ops.stop_gradient(h), ops.stop_gradient(c)]
        return [out, h, c] if self.return_state else out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out_mask = mask if self.return_sequences else None
        return [out_mask, None, None] if self.return_state else out_mask

    def compute_output_shape(self, input_shape, initial_state_shape=None):
        first = self.data_format == "channels_first"
        rows = self._spatial_out(input_shape[3 if first else 2], 0)
        cols = self._spatial_out(input_shape[4 if first else 3], 1)
        state = (input_shape[0],) + ((self.filters, rows, cols) if first else
                                     (rows, cols, self.filters))
        out = (input_shape[0], input_shape[1]) + state[1:] if self.return_sequences else state
        return [out, state, state] if self.return_state else out

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate),
                "activation": activations_mod.serialize(self.activation),
                "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers_mod.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers_mod.serialize(self.activity_regularizer),
                "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
                "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
                "bias_constraint": constraints_mod.serialize(self.bias_constraint),
                "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}
