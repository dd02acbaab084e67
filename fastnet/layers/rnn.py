"""Recurrent layers: SimpleRNN, LSTM, GRU (Keras weight layouts and gate
orders), Bidirectional and TimeDistributed.

SimpleRNN (tanh, relu, sigmoid or linear), LSTM and GRU (reset_after=True) with
their default activations run the C++ sequence kernels (fastnet.ops.simple_rnn_sequence,
lstm_sequence, gru_sequence), masked or not, forwards or backwards. Other
configurations (GRU reset_after=False, other activations, non-float32 inputs) run the
time loop in Python over fastnet.ops (one GEMM for the input projection of all steps,
then per step one GEMM with the recurrent kernel).

Masks follow Keras (backend.rnn): at a masked step the state is carried and the output
repeats the previous output (zeros before the first step); with zero_output_for_mask
(which Bidirectional sets when returning sequences) masked outputs are zeros instead.

Dropout follows Keras 3's cells: masks are drawn once per sequence (fixed over the time
steps) and only when training. `dropout` alone (Keras's implementation 2) is one input
mask; `recurrent_dropout` (Keras switches to implementation 1) is one input and one
recurrent mask per gate. The C++ sequence kernels take the masks (in_mask, rec_mask) and
apply them forward and backward; only the configurations the kernels do not cover run the
Python time loop with the same masks. `stateful=True` keeps the final states (``layer.states``, not weights) as the next
call's initial states until ``reset_states()``. `unroll` is accepted as in Keras, where it
only changes how the loop is compiled: the results are the same either way.
"""

from __future__ import annotations

import copy

import numpy as np

from fastnet import activations as activations_mod
from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import random as random_mod
from fastnet import regularizers as regularizers_mod
from fastnet.backend.tensor import Tensor
from fastnet.layers.argument_validation import check_int, check_padding, standardize_tuple
from fastnet.layers.layer import InputSpec, Layer
from fastnet.ops import nn as ops_nn


class _RNN(Layer):
    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None,
                 zero_output_for_mask=False, use_cudnn="auto", **kwargs):
        self._extra_init(kwargs)
        super().__init__(**kwargs)
        if use_cudnn is True:
            raise ValueError(f"{type(self).__name__}: use_cudnn=True, but cuDNN is not "
                             "available (fastnet runs on the CPU); use use_cudnn='auto'")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{type(self).__name__}: `{arg}` must be in [0, 1]. "
                                 f"Received: {arg}={rate}")
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units}.")
        self.units = units
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self._seed_generator = random_mod.SeedGenerator(seed)
        self._dropout_masks = None  # the last training call's (input, recurrent) masks
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self._states = None
        self.zero_output_for_mask = zero_output_for_mask
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    def _extra_init(self, kwargs):
        pass

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if self.stateful and input_shape[0] is None:
            raise ValueError(f"{type(self).__name__}: when using `stateful=True` in a RNN, the "
                             f"batch size must be static. Found dynamic batch size: "
                             f"sequence.shape={tuple(input_shape)}")
        in_dim = input_shape[-1]
        g = self.gates * self.units
        self.kernel = self.add_weight(shape=(in_dim, g), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, g), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(shape=self._bias_shape(), name="bias",
                                    initializer=self._bias_init(),
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: in_dim})
        self.built = True

    def _initial_states(self, batch):
        return [ops.zeros((batch, self.units))]

    # -- stateful --------------------------------------------------------------------
    @property
    def states(self):
        """The carried states of a stateful layer (None before its first call)."""
        return None if self._states is None else list(self._states)

    def reset_states(self, states=None):
        if not self.stateful:
            raise AttributeError(f"Layer {self.name!r} is not stateful (stateful=False)")
        if self._states is None:
            return
        if states is None:
            self._states = [ops.zeros(tuple(s.shape)) for s in self._states]
        else:
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            self._states = [ops.convert_to_tensor(np.asarray(s, np.float32)) for s in states]

    reset_state = reset_states

    def _stateful_initial(self, batch):
        if self._states is None:
            self._states = self._initial_states(batch)
        if self._states[0].shape[0] != batch:
            raise ValueError(f"{type(self).__name__} {self.name!r}: if an RNN is stateful, the "
                             f"batch size of the input sequences must be the same as the batch "
                             f"size of the initial state. Expected batch size: "
                             f"{self._states[0].shape[0]}, received batch size: {batch}")
        return list(self._states)

    def _keep_states(self, out):
        finals = out[1:] if self.return_state else self._last_states
        self._states = [ops.convert_to_tensor(np.array(ops.convert_to_numpy(s))) for s in finals]

    def call(self, inputs, mask=None, training=None, initial_state=None):
        x = ops.convert_to_tensor(inputs)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.stateful and initial_state is None:
            initial_state = self._stateful_initial(x.shape[0])
        out = self._call(x, mask, training, initial_state)
        if self.stateful:
            self._keep_states(out)
        return out

    # Rate 1.0, as Keras 3: its LSTM/GRU cells mask only for 0 < rate < 1 (1.0: no
    # dropout), its SimpleRNNCell for any rate > 0 (1.0: zeros); the LSTM/GRU layers without
    # recurrent_dropout mask the inputs themselves for any rate > 0. RNN(cell) follows the
    # cells (_cell_rules).
    _rate_one_zeroes = False
    _cell_rules = False

    def _dropout_mask(self, batch, dim, rate, count, rate_one_zeroes=None):
        if not 0.0 < rate:
            return None
        if rate >= 1.0:
            if not (self._rate_one_zeroes if rate_one_zeroes is None else rate_one_zeroes):
                return None
            return [ops.zeros((batch, dim)) for _ in range(count)]
        keep = [(self._seed_generator.rng.random((batch, dim)) >= rate).astype(np.float32)
                / np.float32(1.0 - rate) for _ in range(count)]
        return [ops.convert_to_tensor(k) for k in keep]

    def _call(self, x, mask, training, initial_state):
        self._dropout_masks = None
        if training and (self.dropout > 0 or self.recurrent_dropout > 0) and x.shape[1] > 0:
            batch = x.shape[0]
            count = self.gates if self.recurrent_dropout > 0 else 1
            layer_path = not self._cell_rules and self.recurrent_dropout == 0
            in_masks = self._dropout_mask(batch, x.shape[-1], self.dropout, count,
                                          self._rate_one_zeroes or layer_path)
            rec_masks = self._dropout_mask(batch, self.units, self.recurrent_dropout, count)
            self._dropout_masks = (in_masks, rec_masks)
            if in_masks is None and rec_masks is None:
                self._dropout_masks = None
            elif self._fusable(x):  # the masks go into the C++ kernel, forward and backward
                return self._fused_call(x, mask, initial_state, in_masks, rec_masks)
            if rec_masks is not None or (in_masks is not None and len(in_masks) > 1):
                return self._dropout_loop(x, mask, initial_state, in_masks, rec_masks)
            if in_masks is not None:  # one mask over all time steps, then the loop
                x = x * ops.expand_dims(in_masks[0], 1)
        if self._fusable(x):
            return self._fused_call(x, mask, initial_state)
        batch, steps = x.shape[0], x.shape[1]
        states = list(initial_state) if initial_state is not None else self._initial_states(batch)
        if isinstance(initial_state, Tensor):
            states = [initial_state]
        proj = ops.matmul(x, self.kernel)  # all time steps in one GEMM
        if self.bias is not None:
            proj = proj + self._input_bias()
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs = []
        out = ops.zeros((batch, self.units))
        for t in order:
            new_out, new_states = self._step(proj[:, t, :], states)
            if mask is not None:
                m = ops.expand_dims(ops.cast(ops.convert_to_tensor(mask)[:, t], "float32"), -1)
                new_out = new_out * m + out * (1.0 - m)
                new_states = [ns * m + s * (1.0 - m) for ns, s in zip(new_states, states)]
            out, states = new_out, new_states
            outputs.append(out)
        if not outputs:  # no time steps: the output is the zero initial output
            result = ops.zeros((batch, 0, self.units)) if self.return_sequences else out
            self._last_states = list(states)
            return [result] + list(states) if self.return_state else result
        seq = ops.stack(outputs, axis=1)
        return self._assemble(seq, list(states), mask)

    def _dropout_loop(self, x, mask, initial_state, in_masks, rec_masks):
        """Keras 3's implementation 1 (what recurrent_dropout selects): per gate g, the
        input projection (x * in_mask[g]) @ kernel[:, g] and the recurrent projection
        (h * rec_mask[g]) @ recurrent_kernel[:, g]; masks fixed over the time steps."""
        batch, steps, u = x.shape[0], x.shape[1], self.units
        if initial_state is None:
            states = self._initial_states(batch)
        elif isinstance(initial_state, (list, tuple)):
            states = list(initial_state)
        else:
            states = [initial_state]
        bias_in = self._input_bias() if self.bias is not None else None
        proj = []
        for g in range(self.gates):
            xg = x if in_masks is None else x * ops.expand_dims(in_masks[g], 1)
            pg = ops.matmul(xg, self.kernel[:, g * u:(g + 1) * u])
            if bias_in is not None:
                pg = pg + bias_in[g * u:(g + 1) * u]
            proj.append(pg)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs = []
        out = ops.zeros((batch, u))
        m_all = None if mask is None else ops.cast(ops.convert_to_tensor(mask), "float32")
        for t in order:
            xs = [p[:, t, :] for p in proj]
            hs = [states[0]] * self.gates if rec_masks is None else \
                [states[0] * rm for rm in rec_masks]
            new_out, new_states = self._masked_step(xs, hs, states)
            if m_all is not None:
                m = ops.expand_dims(m_all[:, t], -1)
                new_out = new_out * m + out * (1.0 - m)
                new_states = [ns * m + s * (1.0 - m) for ns, s in zip(new_states, states)]
            out, states = new_out, new_states
            outputs.append(out)
        return self._assemble(ops.stack(outputs, axis=1), list(states), mask)

    def _rec(self, h, g):
        u = self.units
        return ops.matmul(h, self.recurrent_kernel[:, g * u:(g + 1) * u])

    # -- the C++ sequence kernels ------------------------------------------------------
    def _fusable(self, x):
        from fastnet import activations as A

        return (x.dtype == "float32" and x.ndim == 3 and x.shape[1] > 0
                and self.activation is A.tanh and self.recurrent_activation is A.sigmoid)

    def _fused_call(self, x, mask, initial_state, in_masks=None, rec_masks=None):
        if initial_state is None:
            states = []
        elif isinstance(initial_state, (list, tuple)):
            states = list(initial_state)
        else:
            states = [initial_state]
        packed = self._run_kernel(x, states, mask, in_masks, rec_masks)
        steps = x.shape[1]
        finals = [packed[:, steps + i, :] for i in range(len(self._state_names()))]
        return self._assemble(packed[:, :steps, :], finals, mask)

    def _assemble(self, seq, states, mask):
        """The layer's result from the outputs in processing order and the final states."""
        if mask is not None and self.zero_output_for_mask:
            m = ops.cast(ops.convert_to_tensor(mask), "float32")
            if self.go_backwards:
                m = ops.flip(m, axis=1)
            seq = seq * ops.expand_dims(m, -1)
        steps = seq.shape[1]
        self._last_states = list(states)
        result = seq if self.return_sequences else seq[:, steps - 1, :]
        if self.return_state:
            return [result] + list(states)
        return result

    def _input_bias(self):
        return self.bias

    def compute_mask(self, inputs, mask=None):
        if mask is None or not self.return_sequences:
            return None if not self.return_state else [None] * (1 + len(self._state_names()))
        return mask

    def _state_names(self):
        return ["h"]

    def compute_output_shape(self, input_shape):
        out = (input_shape[0], input_shape[1], self.units) if self.return_sequences else \
            (input_shape[0], self.units)
        if self.return_state:
            return [out] + [(input_shape[0], self.units) for _ in self._state_names()]
        return out

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations_mod.serialize(self.activation),
                "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
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
                "seed": self.seed}


class SimpleRNN(_RNN):
    gates = 1
    _rate_one_zeroes = True

    def __init__(self, units, activation="tanh", **kwargs):
        # The shared signature has it, Keras's SimpleRNN has not (older fastnet configs
        # saved the unused default).
        if kwargs.pop("recurrent_activation", "sigmoid") != "sigmoid":
            raise TypeError("SimpleRNN: unrecognized keyword argument `recurrent_activation` "
                            "(a SimpleRNN cell has a single activation)")
        super().__init__(units, activation=activation, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("recurrent_activation")
        return config

    def _kernel_activation(self):
        from fastnet import activations as A

        for name, fn in (("tanh", A.tanh), ("relu", A.relu), ("sigmoid", A.sigmoid),
                         ("linear", A.linear)):
            if self.activation is fn:
                return name
        return None

    def _fusable(self, x):
        return (x.dtype == "float32" and x.ndim == 3 and x.shape[1] > 0
                and self._kernel_activation() is not None)

    def _run_kernel(self, x, states, mask, in_masks=None, rec_masks=None):
        return ops_nn.simple_rnn_sequence(x, self.kernel, self.recurrent_kernel, self.bias,
                                       states[0] if states else None, self.go_backwards,
                                       mask=mask, activation=self._kernel_activation(),
                                       in_mask=in_masks, rec_mask=rec_masks)

    def _step(self, xp, states):
        h = self.activation(xp + ops.matmul(states[0], self.recurrent_kernel))
        return h, [h]

    def _masked_step(self, xs, hs, states):
        h = self.activation(xs[0] + self._rec(hs[0], 0))
        return h, [h]


class LSTM(_RNN):
    """Gate order i, f, c, o; kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,)."""

    gates = 4

    def _extra_init(self, kwargs):
        self.unit_forget_bias = kwargs.pop("unit_forget_bias", True)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def init(shape, dtype=None):
            import numpy as np

            b = np.asarray(base((units,), dtype=dtype))
            return np.concatenate([b, np.ones(units, dtype=b.dtype),
                                   np.asarray(base((2 * units,), dtype=dtype))])

        return init

    def _initial_states(self, batch):
        return [ops.zeros((batch, self.units)), ops.zeros((batch, self.units))]

    def _state_names(self):
        return ["h", "c"]

    def _run_kernel(self, x, states, mask, in_masks=None, rec_masks=None):
        h0, c0 = states if states else (None, None)
        return ops_nn.lstm_sequence(x, self.kernel, self.recurrent_kernel, self.bias, h0, c0,
                                    self.go_backwards, mask=mask, in_mask=in_masks,
                                    rec_mask=rec_masks)

    def _step(self, xp, states):
        h, c = states
        z = xp + ops.matmul(h, self.recurrent_kernel)
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u:2 * u])
        g = self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        c = f * c + i * g
        h = o * self.activation(c)
        return h, [h, c]

    def _masked_step(self, xs, hs, states):
        ra, act = self.recurrent_activation, self.activation
        i, f, o = (ra(xs[g] + self._rec(hs[g], g)) for g in (0, 1, 3))
        c = f * states[1] + i * act(xs[2] + self._rec(hs[2], 2))
        h = o * act(c)
        return h, [h, c]


class GRU(_RNN):
    """Gate order z, r, h; reset_after=True: bias (2, 3u) (input row, recurrent row)."""

    gates = 3

    def _extra_init(self, kwargs):
        self.reset_after = kwargs.pop("reset_after", True)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def _fusable(self, x):
        return self.reset_after and super()._fusable(x)

    def _run_kernel(self, x, states, mask, in_masks=None, rec_masks=None):
        return ops_nn.gru_sequence(x, self.kernel, self.recurrent_kernel, self.bias,
                                   states[0] if states else None, self.go_backwards, mask=mask,
                                   in_mask=in_masks, rec_mask=rec_masks)

    def _step(self, xp, states):
        h = states[0]
        u = self.units
        hr = ops.matmul(h, self.recurrent_kernel)
        if self.reset_after and self.bias is not None:
            hr = hr + self.bias[1]
        z = self.recurrent_activation(xp[:, :u] + hr[:, :u])
        r = self.recurrent_activation(xp[:, u:2 * u] + hr[:, u:2 * u])
        if self.reset_after:
            hh = self.activation(xp[:, 2 * u:] + r * hr[:, 2 * u:])
        else:
            hh = self.activation(xp[:, 2 * u:] + ops.matmul(r * h, self.recurrent_kernel[:, 2 * u:]))
        h = z * h + (1.0 - z) * hh
        return h, [h]

    def _masked_step(self, xs, hs, states):
        u, ra = self.units, self.recurrent_activation
        rb = self.bias[1] if self.reset_after and self.bias is not None else None
        rec = [self._rec(hs[g], g) if g < 2 or self.reset_after else None for g in range(3)]
        if rb is not None:
            rec = [r + rb[g * u:(g + 1) * u] for g, r in enumerate(rec)]
        z = ra(xs[0] + rec[0])
        r = ra(xs[1] + rec[1])
        rh = r * rec[2] if self.reset_after else self._rec(r * hs[2], 2)
        hh = self.activation(xs[2] + rh)
        h = z * states[0] + (1.0 - z) * hh
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


def _fresh_cell(cell):
    """A new cell with cell's config (new weights), for Bidirectional's backward RNN."""
    from fastnet.saving.serialization_lib import deserialize_keras_object, serialize_keras_object

    try:
        return deserialize_keras_object(serialize_keras_object(cell))
    except (ValueError, TypeError):  # a user cell that is not registered
        clone = copy.deepcopy(cell)
        clone.name = "backward_" + cell.name
        return clone


class Bidirectional(Layer):
    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be "
                             "one of {'sum', 'mul', 'ave', 'concat', None}")
        self.forward_layer = layer
        self._initial_weights = weights
        if backward_layer is None:
            backward_layer = copy.copy(layer)
            object.__setattr__(backward_layer, "_tracking_ready", False)
            backward_layer._own_weights = []
            backward_layer._layers = []
            backward_layer._inbound_nodes = []
            backward_layer.built = False
            backward_layer.go_backwards = not layer.go_backwards
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
    """Convolutional LSTM over (batch, time, rows, cols, channels); Keras's layout:
    kernel (kh, kw, in, 4*filters), recurrent_kernel (kh, kw, filters, 4*filters),
    bias (4*filters,), gates i, f, c, o. The recurrent convolution is 'same'."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        from fastnet.layers.core import _data_format

        unsupported = {"stateful": (stateful, False), "dropout": (dropout, 0.0),
                       "recurrent_dropout": (recurrent_dropout, 0.0),
                       "data_format": (_data_format(data_format, self), "channels_last")}
        for arg, (value, default) in unsupported.items():
            if value != default:
                raise NotImplementedError(f"ConvLSTM2D {self.name!r}: `{arg}` is not "
                                          f"implemented in fastnet. Received: {arg}={value!r}")
        self.seed = seed
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

    def build(self, input_shape):
        cin = input_shape[-1]
        f = self.filters
        self.kernel = self.add_weight(shape=self.kernel_size + (cin, 4 * f), name="kernel",
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(shape=self.kernel_size + (f, 4 * f),
                                                name="recurrent_kernel",
                                                initializer=self.recurrent_initializer)
        if self.use_bias:
            base = self.bias_initializer

            def init(shape, dtype=None):
                import numpy as np

                b = np.asarray(base((4 * f,), dtype=dtype))
                if self.unit_forget_bias:
                    b[f:2 * f] = 1.0
                return b

            self.bias = self.add_weight(shape=(4 * f,), name="bias", initializer=init)
        else:
            self.bias = None
        self.built = True

    def _spatial_out(self, size, i):
        from fastnet.ops.spatial import conv_output_length

        return conv_output_length(size, self.kernel_size[i], self.strides[i], self.padding,
                                  self.dilation_rate[i])

    def call(self, inputs, mask=None, training=None):
        x = ops.convert_to_tensor(inputs)
        b, steps = x.shape[0], x.shape[1]
        rows, cols = self._spatial_out(x.shape[2], 0), self._spatial_out(x.shape[3], 1)
        f = self.filters
        h = ops.zeros((b, rows, cols, f))
        c = ops.zeros((b, rows, cols, f))
        outputs = []
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            z = ops.conv(x[:, t], self.kernel, self.strides, self.padding,
                         dilation_rate=self.dilation_rate)
            z = z + ops.conv(h, self.recurrent_kernel, 1, "same")
            if self.bias is not None:
                z = z + self.bias
            i = self.recurrent_activation(z[..., :f])
            fg = self.recurrent_activation(z[..., f:2 * f])
            g = self.activation(z[..., 2 * f:3 * f])
            o = self.recurrent_activation(z[..., 3 * f:])
            c = fg * c + i * g
            h = o * self.activation(c)
            outputs.append(h)
        out = ops.stack(outputs, axis=1) if self.return_sequences else h
        return [out, h, c] if self.return_state else out

    def compute_output_shape(self, input_shape):
        rows = self._spatial_out(input_shape[2], 0)
        cols = self._spatial_out(input_shape[3], 1)
        state = (input_shape[0], rows, cols, self.filters)
        out = (input_shape[0], input_shape[1]) + state[1:] if self.return_sequences else state
        return [out, state, state] if self.return_state else out

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": list(self.dilation_rate),
                "activation": activations_mod.serialize(self.activation),
                "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": False, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": self.seed}
