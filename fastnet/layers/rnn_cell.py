"""Recurrent building blocks, as Keras 3: ``RNN(cell)`` over ``SimpleRNNCell``,
``LSTMCell``, ``GRUCell``, ``StackedRNNCells`` and user cells, and ``Masking``.

A cell holds the weights (Keras's names and layouts: ``kernel`` (in, gU),
``recurrent_kernel`` (U, gU), ``bias``) and computes one step,
``cell(inputs, states, training=...) -> (output, new_states)``. ``RNN`` runs a cell over
the time axis:

* the built-in cells (and stacks of them) run the whole sequence themselves
  (``_run_sequence``: the C++ sequence kernels when the configuration has one, else a Python
  loop); ``SimpleRNN``/``LSTM``/``GRU`` (layers/rnn.py) are this ``RNN`` over their cell, so
  ``RNN(LSTMCell(u))`` and ``LSTM(u)`` give the same outputs with the same weights, masks,
  dropout (masks fixed over the steps, only in training) and go_backwards. A stack runs cell
  after cell over the whole sequence (each cell's outputs are the next one's inputs at the
  same step, so this equals the per-step stack);
* any other cell (``state_size`` and ``call(inputs, states)``, the Keras 3 contract) is
  called step by step in Python, through the tape.

Dropout masks are Keras 3's DropoutRNNCell's: ``get_dropout_mask`` /
``get_recurrent_dropout_mask`` draw a mask at the first call and return it until
``reset_dropout_mask`` / ``reset_recurrent_dropout_mask``, so a cell called step by step
keeps one mask; ``RNN`` uses the cell's masks over a sequence and resets them after the call.

Masks follow Keras's backend.rnn: at a masked step the states are carried and the output
repeats the previous output (zeros before the first step); ``zero_output_for_mask`` zeroes
the masked outputs instead.
"""

from __future__ import annotations

import inspect

import numpy as np

from fastnet import activations as activations_mod
from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import ops
from fastnet import random as random_mod
from fastnet import regularizers as regularizers_mod
from fastnet.backend.tensor import Tensor
from fastnet.layers.layer import Layer
from fastnet.ops import nn as ops_nn

# ---- cells ---------------------------------------------------------------------------------

class _BuiltinCell(Layer):
    """The shared part of SimpleRNNCell, LSTMCell and GRUCell: the weights, one step, the
    dropout masks (Keras 3's DropoutRNNCell) and the whole-sequence run that the layers
    (SimpleRNN/LSTM/GRU, RNN(cell)) call: the C++ sequence kernels when the configuration
    has one, else a Python time loop over fastnet.ops with the same masks."""

    gates = 1
    # Keras 3's rate-1.0 rule: its LSTM/GRU cells mask only for 0 < rate < 1 (1.0: no
    # dropout), its SimpleRNNCell for any rate > 0 (1.0: zeros).
    _rate_one_zeroes = False

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        implementation = kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__}: received an invalid value for argument "
                             f"`units`, expected a positive integer, got {units!r}.")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            try:
                float(rate)
            except (TypeError, ValueError):
                raise TypeError(f"{type(self).__name__}: `{arg}` must be a float in [0, 1]. "
                                f"Received: {arg}={rate!r}") from None
        self.units = int(units)
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        # As Keras's cells: the rates are clipped to [0, 1].
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        self.seed_generator = random_mod.SeedGenerator(seed)
        self._set_implementation(implementation)
        self._dropout_mask = None
        self._recurrent_dropout_mask = None
        self._dropout_masks = None  # the (input, recurrent) mask lists of the last training run

    # -- Keras's cell surface --------------------------------------------------------------
    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        from fastnet.layers.layer import check_array_size

        # called before build (the state comes first), so refuse absurd sizes here too
        check_array_size(self, (batch_size or 1, self.units), "float32", what="initial state")
        return [ops.zeros((batch_size, self.units)) for _ in range(self._n_states())]

    def _n_states(self):
        return 1

    # -- dropout masks, as Keras 3's DropoutRNNCell ----------------------------------------
    def _set_implementation(self, implementation):
        """Keras's LSTMCell/GRUCell `implementation`: 2 (default) one input mask, 1 (what
        recurrent_dropout selects) one mask per gate; the numbers are otherwise the same."""
        if implementation not in (None, 1, 2):
            raise ValueError(f"{type(self).__name__}: `implementation` must be 1 or 2. "
                             f"Received: implementation={implementation!r}")
        self.implementation = 1 if self.recurrent_dropout > 0 else (implementation or 2)

    @property
    def dropout_mask_count(self):
        """Keras's implementation 1: one mask per gate; otherwise one mask (None)."""
        return self.gates if self.gates > 1 and self.implementation == 1 else None

    def _create_dropout_mask(self, step_input, rate):
        shape = tuple(int(d) for d in step_input.shape)
        count = self.dropout_mask_count
        masks = []
        for _ in range(1 if count is None else count):
            if rate >= 1.0:
                masks.append(ops.zeros(shape))
            else:
                keep = self.seed_generator.rng.random(shape) >= rate
                masks.append(ops.convert_to_tensor(keep.astype(np.float32)
                                                   / np.float32(1.0 - rate)))
        return masks[0] if count is None else masks

    def get_dropout_mask(self, step_input):
        """The input mask (one tensor, or one per gate with recurrent_dropout), drawn at
        the first call and the same at every call until reset_dropout_mask()."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input):
        """The recurrent mask, kept until reset_recurrent_dropout_mask()."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._create_dropout_mask(step_input,
                                                                     self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None

    def _sequence_masks(self, batch, in_dim, layer_rules):
        """(input masks, recurrent masks) of one training run, lists or None. The layers
        (layer_rules: LSTM/GRU without recurrent_dropout mask the inputs themselves, for any
        rate > 0) and the cells (Keras's rate-1.0 rule) decide which rates apply."""
        zero_in = self._rate_one_zeroes or (layer_rules and self.recurrent_dropout == 0)
        in_masks = rec_masks = None
        if self.dropout > 0 and (self.dropout < 1 or zero_in):
            in_masks = _as_list(self.get_dropout_mask(np.empty((batch, in_dim), np.float32)))
        if self.recurrent_dropout > 0 and (self.recurrent_dropout < 1 or self._rate_one_zeroes):
            rec_masks = _as_list(self.get_recurrent_dropout_mask(
                np.empty((batch, self.units), np.float32)))
        return in_masks, rec_masks

    # -- weights -------------------------------------------------------------------------
    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def _input_bias(self):
        return self.bias

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the last dimension of the "
                             f"inputs must be known to build the cell. Received input_shape="
                             f"{tuple(input_shape)}")
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
        self.built = True

    # -- the whole sequence ------------------------------------------------------------------
    def _fusable(self, x):
        from fastnet import activations as A

        return (x.dtype == "float32" and x.ndim == 3 and x.shape[1] > 0
                and self.activation is A.tanh and self.recurrent_activation is A.sigmoid)

    def _run_sequence(self, x, states, mask=None, training=None, go_backwards=False,
                      return_sequences=True, zero_output_for_mask=False, layer_rules=False,
                      keep_masks=False):
        """[output, *final_states] of this cell over the sequence x (N, T, I): the whole
        sequence on the C++ kernel when the configuration has one. Dropout masks (training
        only) are the cell's (get_dropout_mask), fixed over the steps, and reset after the
        run unless keep_masks (a cell called step by step keeps them, as Keras's)."""
        x = ops.convert_to_tensor(x)
        batch = x.shape[0]
        states = None if states is None else list(states)  # None: zeros
        run = _Run(go_backwards, return_sequences, zero_output_for_mask, mask)
        self._dropout_masks = None
        try:
            if training and (self.dropout > 0 or self.recurrent_dropout > 0) and x.shape[1] > 0:
                in_masks, rec_masks = self._sequence_masks(batch, x.shape[-1], layer_rules)
                if in_masks is not None or rec_masks is not None:
                    self._dropout_masks = (in_masks, rec_masks)
                    if self._fusable(x):  # the masks go into the C++ kernel, both passes
                        return self._fused(x, states, run, in_masks, rec_masks)
                    if rec_masks is not None or len(in_masks) > 1:
                        return self._dropout_loop(x, states, run, in_masks, rec_masks)
                    x = x * ops.expand_dims(in_masks[0], 1)  # one mask over all steps
            if self._fusable(x):
                return self._fused(x, states, run)
            return self._loop(x, states, run)
        finally:
            if not keep_masks:
                self.reset_dropout_mask()
                self.reset_recurrent_dropout_mask()

    def _fused(self, x, states, run, in_masks=None, rec_masks=None):
        packed = self._run_kernel(x, states or [], run.mask, run.go_backwards, in_masks,
                                  rec_masks)
        steps = x.shape[1]
        finals = [packed[:, steps + i, :] for i in range(self._n_states())]
        return self._assemble(packed[:, :steps, :], finals, run)

    def _loop(self, x, states, run):
        """The Python time loop: one GEMM for the input projection of all steps, then one
        GEMM with the recurrent kernel per step."""
        batch, steps = x.shape[0], x.shape[1]
        if states is None:
            states = self.get_initial_state(batch)
        if steps == 0:  # no time steps: the output is the zero initial output
            out = ops.zeros((batch, self.units))
            result = ops.zeros((batch, 0, self.units)) if run.return_sequences else out
            return [result] + list(states)
        proj = ops.matmul(x, self.kernel)  # all time steps in one GEMM
        if self.bias is not None:
            proj = proj + self._input_bias()
        return self._steps(lambda t, s: self._step(proj[:, t, :], s), batch, steps, states, run)

    def _dropout_loop(self, x, states, run, in_masks, rec_masks):
        """Keras 3's implementation 1 (what recurrent_dropout selects): per gate g, the
        input projection (x * in_mask[g]) @ kernel[:, g] and the recurrent projection
        (h * rec_mask[g]) @ recurrent_kernel[:, g]; masks fixed over the time steps."""
        batch, steps, u = x.shape[0], x.shape[1], self.units
        if states is None:
            states = self.get_initial_state(batch)
        bias_in = self._input_bias() if self.bias is not None else None
        proj = []
        for g in range(self.gates):
            xg = x if in_masks is None else x * ops.expand_dims(in_masks[g], 1)
            pg = ops.matmul(xg, self.kernel[:, g * u:(g + 1) * u])
            if bias_in is not None:
                pg = pg + bias_in[g * u:(g + 1) * u]
            proj.append(pg)

        def step(t, st):
            xs = [p[:, t, :] for p in proj]
            hs = [st[0]] * self.gates if rec_masks is None else [st[0] * rm for rm in rec_masks]
            return self._masked_step(xs, hs, st)

        return self._steps(step, batch, steps, states, run)

    def _steps(self, step, batch, steps, states, run):
        order = range(steps - 1, -1, -1) if run.go_backwards else range(steps)
        outputs = []
        out = ops.zeros((batch, self.units))
        m_all = None if run.mask is None else ops.cast(ops.convert_to_tensor(run.mask),
                                                       "float32")
        for t in order:
            new_out, new_states = step(t, states)
            if m_all is not None:
                m = ops.expand_dims(m_all[:, t], -1)
                new_out = new_out * m + out * (1.0 - m)
                new_states = [ns * m + s * (1.0 - m) for ns, s in zip(new_states, states)]
            out, states = new_out, new_states
            outputs.append(out)
        return self._assemble(ops.stack(outputs, axis=1), list(states), run)

    def _assemble(self, seq, states, run):
        """[result, *states] from the outputs in processing order and the final states."""
        if run.mask is not None and run.zero_output_for_mask:
            m = ops.cast(ops.convert_to_tensor(run.mask), "float32")
            if run.go_backwards:
                m = ops.flip(m, axis=1)
            seq = seq * ops.expand_dims(m, -1)
        result = seq if run.return_sequences else seq[:, seq.shape[1] - 1, :]
        return [result] + list(states)

    def _rec(self, h, g):
        u = self.units
        return ops.matmul(h, self.recurrent_kernel[:, g * u:(g + 1) * u])

    # -- one step ------------------------------------------------------------------------
    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        if len(states) != self._n_states():
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected "
                             f"{self._n_states()} state tensor(s), received {len(states)}")
        x = ops.expand_dims(ops.convert_to_tensor(inputs), 1)
        out = self._run_sequence(x, [ops.convert_to_tensor(s) for s in states],
                                 training=training, return_sequences=False, keep_masks=True)
        new_states = list(out[1:])
        if not nested and len(new_states) == 1:
            return out[0], new_states[0]
        return out[0], new_states

    def get_config(self):
        config = {**super().get_config(), "units": self.units,
                  "activation": activations_mod.serialize(self.activation),
                  "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                  "use_bias": self.use_bias,
                  "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                  "recurrent_initializer": initializers_mod.serialize(
                      self.recurrent_initializer),
                  "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                  "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
                  "recurrent_regularizer": regularizers_mod.serialize(
                      self.recurrent_regularizer),
                  "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
                  "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
                  "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
                  "bias_constraint": constraints_mod.serialize(self.bias_constraint),
                  "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                  "seed": self.seed}
        return config


def _given(local_vars):
    """A constructor's arguments (its locals at entry) as keywords, its **kwargs merged."""
    args = {k: v for k, v in local_vars.items() if k not in ("self", "__class__", "kwargs")}
    return {**args, **local_vars.get("kwargs", {})}


class _Run:
    """The flags of one sequence run (set by the calling layer)."""

    __slots__ = ("go_backwards", "return_sequences", "zero_output_for_mask", "mask")

    def __init__(self, go_backwards, return_sequences, zero_output_for_mask, mask):
        self.go_backwards = bool(go_backwards)
        self.return_sequences = bool(return_sequences)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.mask = mask


def _as_list(mask):
    if mask is None:
        return None
    return list(mask) if isinstance(mask, (list, tuple)) else [mask]


class SimpleRNNCell(_BuiltinCell):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    gates = 1
    _rate_one_zeroes = True

    # Keras 3's signature, in its order (positional arguments bind as in Keras)
    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        if "recurrent_activation" in kwargs:
            raise ValueError("SimpleRNNCell: unrecognized keyword argument "
                            "`recurrent_activation` (the cell has a single activation)")
        super().__init__(**_given(locals()))

    def _set_implementation(self, implementation):
        if implementation is not None:  # Keras's SimpleRNN(Cell) refuses it too
            raise ValueError(f"SimpleRNNCell: unrecognized keyword argument `implementation` "
                            f"(only LSTM and GRU have one). Received: "
                            f"implementation={implementation!r}")
        self.implementation = 2

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

    def _run_kernel(self, x, states, mask, go_backwards, in_masks=None, rec_masks=None):
        return ops_nn.simple_rnn_sequence(x, self.kernel, self.recurrent_kernel, self.bias,
                                          states[0] if states else None, go_backwards,
                                          mask=mask, activation=self._kernel_activation(),
                                          in_mask=in_masks, rec_mask=rec_masks)

    def _step(self, xp, states):
        h = self.activation(xp + ops.matmul(states[0], self.recurrent_kernel))
        return h, [h]

    def _masked_step(self, xs, hs, states):
        h = self.activation(xs[0] + self._rec(hs[0], 0))
        return h, [h]


class LSTMCell(_BuiltinCell):
    """Gates i, f, c, o; kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,)."""

    gates = 4

    # Keras 3's signature, in its order (positional arguments bind as in Keras)
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        args = _given(locals())
        del args["unit_forget_bias"]
        super().__init__(**args)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _n_states(self):
        return 2

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def init(shape, dtype=None):
            b = np.asarray(base((units,), dtype=dtype))
            return np.concatenate([b, np.ones(units, dtype=b.dtype),
                                   np.asarray(base((2 * units,), dtype=dtype))])

        return init

    def _run_kernel(self, x, states, mask, go_backwards, in_masks=None, rec_masks=None):
        h0, c0 = states if states else (None, None)
        return ops_nn.lstm_sequence(x, self.kernel, self.recurrent_kernel, self.bias, h0, c0,
                                    go_backwards, mask=mask, in_mask=in_masks,
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

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_BuiltinCell):
    """Gates z, r, h; reset_after=True: bias (2, 3u) (input row, recurrent row), else (3u,)."""

    gates = 3

    # Keras 3's signature, in its order (positional arguments bind as in Keras)
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, **kwargs):
        args = _given(locals())
        del args["reset_after"]
        super().__init__(**args)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def _fusable(self, x):
        return self.reset_after and super()._fusable(x)

    def _run_kernel(self, x, states, mask, go_backwards, in_masks=None, rec_masks=None):
        return ops_nn.gru_sequence(x, self.kernel, self.recurrent_kernel, self.bias,
                                   states[0] if states else None, go_backwards, mask=mask,
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
            hh = self.activation(xp[:, 2 * u:]
                                 + ops.matmul(r * h, self.recurrent_kernel[:, 2 * u:]))
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


def _check_cell(cell, where):
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{where}: argument `cell` should have a `call` method. "
                         f"Received: cell={cell!r}")
    if not hasattr(cell, "state_size"):
        raise ValueError(f"{where}: the RNN cell should have a `state_size` attribute (single "
                         f"integer or list of integers, one integer per RNN state). "
                         f"Received: cell={cell!r}")


def _cell_output_size(cell):
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    ss = cell.state_size
    return ss[0] if isinstance(ss, (list, tuple)) else ss


class StackedRNNCells(Layer):
    """A stack of cells behaving as one cell: the output of each is the input of the next;
    ``state_size`` is the list of the cells' state sizes."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells: `cells` must be a non-empty list of RNN cells")
        for cell in cells:
            _check_cell(cell, "StackedRNNCells")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _cell_output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        return [_initial_state_of(cell, batch_size) for cell in self.cells]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell._maybe_build(shape)
                cell.built = True
            shape = (shape[0], _cell_output_size(cell))
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, st in zip(self.cells, states):
            is_list = isinstance(st, (list, tuple))
            st = list(st) if is_list else [st]
            inputs, st = _call_cell(cell, inputs, st, training)
            st = list(st) if isinstance(st, (list, tuple)) else [st]
            new_states.append(st[0] if len(st) == 1 and not is_list else st)
        if len(new_states) == 1:
            new_states = new_states[0]
        return inputs, new_states

    def get_config(self):
        from fastnet.saving.serialization_lib import serialize_keras_object

        return {**super().get_config(),
                "cells": [serialize_keras_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.saving.serialization_lib import deserialize_keras_object

        config = dict(config)
        cells = [deserialize_keras_object(c, custom_objects=custom_objects)
                 for c in config.pop("cells")]
        return cls(cells, **config)


def _initial_state_of(cell, batch_size):
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        st = fn(batch_size=batch_size)
        if isinstance(cell.state_size, (list, tuple)):
            return list(st) if isinstance(st, (list, tuple)) else [st]
        return st[0] if isinstance(st, (list, tuple)) else st
    ss = cell.state_size
    if isinstance(ss, (list, tuple)):
        return [ops.zeros((batch_size, int(d))) for d in ss]
    return ops.zeros((batch_size, int(ss)))


def _accepts_training(cell):
    fn = cell.call
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _call_cell(cell, inputs, states, training):
    kwargs = {"training": bool(training)} if _accepts_training(cell) else {}
    fn = cell if isinstance(cell, Layer) else cell.call
    out = fn(inputs, states, **kwargs)
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        raise ValueError(f"RNN cell {getattr(cell, 'name', cell)!r}: `call(inputs, states)` "
                         f"must return (output, new_states); got {type(out).__name__}")
    return out[0], out[1]


# ---- state structures ----------------------------------------------------------------------

def _flatten(x):
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            out.extend(_flatten(v))
        return out
    return [x]


def _pack(structure, flat):
    """flat tensors in the nested structure of state sizes (int: one tensor; list: list)."""
    it = iter(flat)

    def build(s):
        if isinstance(s, (list, tuple)):
            return [build(v) for v in s]
        return next(it)

    return [build(s) for s in structure]


# ---- the layer -----------------------------------------------------------------------------

def _refuse_time_major(layer_name, kwargs):
    """Keras 3 dropped `time_major` from every RNN layer (it refuses the keyword), so does
    fastnet, with the way to get the same result."""
    if "time_major" in kwargs:
        raise ValueError(f"{layer_name}: unrecognized keyword argument `time_major` (Keras 3 "
                        f"has no such argument: RNN layers take (batch, steps, features) "
                        f"sequences). Received: time_major={kwargs['time_major']!r}; for "
                        f"time-major data use ops.transpose(x, (1, 0, 2)) before the layer "
                        f"(and after it with return_sequences=True)")


def _reset_dropout_masks(cell):
    if isinstance(cell, StackedRNNCells):
        for c in cell.cells:
            _reset_dropout_masks(c)
    elif callable(getattr(cell, "reset_dropout_mask", None)):
        cell.reset_dropout_mask()
        if callable(getattr(cell, "reset_recurrent_dropout_mask", None)):
            cell.reset_recurrent_dropout_mask()


class RNN(Layer):
    """Runs a recurrent cell over the time axis of (batch, steps, features) sequences."""

    # SimpleRNN/LSTM/GRU (True) apply their layer's dropout-rate rule, RNN(cell) its cell's
    _layer_rules = False

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, "RNN")
        _refuse_time_major(type(self).__name__, kwargs)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # how Keras compiles the loop: the same results
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        ss = cell.state_size
        if ss is None or not isinstance(ss, (list, tuple, int, np.integer)):
            raise ValueError(f"RNN: state_size must be an integer, or a list/tuple of integers "
                             f"(one for each state tensor). Received: {ss!r}")
        self.single_state = isinstance(ss, (int, np.integer))
        self._states = None  # stateful: the carried states (flat list of Tensors)

    @property
    def state_size(self):
        ss = self.cell.state_size
        return [ss] if isinstance(ss, (int, np.integer)) else list(ss)

    # -- stateful --------------------------------------------------------------------
    @property
    def states(self):
        """The carried states of a stateful layer, in the structure of the cell's state
        sizes (None before the layer is built with a batch size)."""
        if self._states is None:
            return None
        return _pack(self.state_size, list(self._states))

    @states.setter
    def states(self, value):
        self._states = None if value is None else [
            ops.convert_to_tensor(np.asarray(ops.convert_to_numpy(v), np.float32))
            for v in _flatten(value)]

    def reset_states(self, states=None):
        """Zeroes the carried states (Keras: a no-op before they exist); or sets them to
        ``states`` (in the structure of the cell's state sizes, or flat)."""
        if states is not None:
            flat = _flatten(list(states) if isinstance(states, (list, tuple)) else [states])
            sizes = _flatten(self.state_size)
            if len(flat) != len(sizes):
                raise ValueError(f"{type(self).__name__} {self.name!r}: reset_states() "
                                 f"expects {len(sizes)} state array(s) (state_size="
                                 f"{self.cell.state_size!r}), received {len(flat)}")
            self.states = flat
        elif self._states is not None:
            self._states = [ops.zeros(tuple(s.shape)) for s in self._states]

    reset_state = reset_states

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is None:
            return _pack(self.state_size, [ops.zeros((batch_size, int(d)))
                                           for d in _flatten(self.state_size)])
        st = fn(batch_size=batch_size)
        return list(st) if isinstance(st, (list, tuple)) else [st]

    # -- build / shapes --------------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) < 3:
            raise ValueError(f"RNN {self.name!r}: expected (batch, steps, features) "
                             f"sequences, received input_shape={shape}")
        if self.stateful and shape[0] is None:
            raise ValueError(f"RNN {self.name!r}: when using `stateful=True` in a RNN, the "
                             f"batch size must be static. Found dynamic batch size: "
                             f"sequence.shape={shape}")
        if self.unroll and shape[1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: cannot unroll a RNN if the "
                             f"time dimension is undefined (input_shape={shape}); give the "
                             f"`Input` a `shape` with the number of steps")
        step_shape = (shape[0],) + shape[2:]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._maybe_build(step_shape)
            self.cell.built = True
        if self.stateful and self._states is None:
            self._states = _flatten(self.get_initial_state(shape[0]))
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, length = sequences_shape[0], sequences_shape[1]
        states = []
        for s in self.state_size:
            if isinstance(s, (list, tuple)):
                states.append([(batch, int(d)) for d in s])
            else:
                states.append((batch, int(s)))
        out_size = _cell_output_size(self.cell)
        if not isinstance(out_size, (int, np.integer)):
            raise ValueError(f"RNN {self.name!r}: output_size must be an integer, got "
                             f"{out_size!r}")
        out = (batch, length, int(out_size)) if self.return_sequences else (batch, int(out_size))
        if self.return_state:
            return [out] + states
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None for _ in self.state_size]
        return out_mask

    # -- running ---------------------------------------------------------------------
    def _builtin_chain(self):
        """The cells when every one runs on the sequence kernels (None otherwise)."""
        if isinstance(self.cell, StackedRNNCells) and \
                type(self.cell).call is not StackedRNNCells.call:
            return None
        cells = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        # a subclass that overrides the step runs it, step by step
        if all(isinstance(c, _BuiltinCell) and type(c).call is _BuiltinCell.call
               for c in cells):
            return cells
        return None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        x = ops.convert_to_tensor(sequences)
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is not None:
            mask = np.asarray(ops.convert_to_numpy(mask)).astype(bool)
            if mask.shape != tuple(x.shape[:2]):
                raise ValueError(f"RNN {self.name!r}: the mask must be (batch, steps) = "
                                 f"{tuple(x.shape[:2])}, received mask of shape {mask.shape}")
        batch = x.shape[0]
        n_flat = len(_flatten(self.state_size))
        chain = self._builtin_chain()
        if initial_state is None and not self.stateful and chain is not None and \
                x.shape[1] > 0:
            flat = None  # zero initial states: the sequence kernels' own default
        elif initial_state is None:
            if self.stateful:
                if self._states is None:
                    self._states = _flatten(self.get_initial_state(batch))
                flat = list(self._states)
            else:
                flat = _flatten(self.get_initial_state(batch))
        else:
            flat = [ops.convert_to_tensor(s) for s in _flatten(initial_state)]
        if flat is not None and len(flat) != n_flat:
            raise ValueError(f"RNN {self.name!r}: the cell has {n_flat} state tensor(s) "
                             f"(state_size={self.cell.state_size!r}), received "
                             f"{len(flat)} initial state tensor(s)")
        for s, d in zip(flat or (), _flatten(self.state_size)):
            if tuple(s.shape) != (batch, int(d)):
                what = ("the batch size of the input sequences must be the same as the batch "
                        "size of the initial state" if self.stateful and initial_state is None
                        else "each initial state must be (batch, state size)")
                raise ValueError(f"RNN {self.name!r}: {what}. Expected {(batch, int(d))}, "
                                 f"received {tuple(s.shape)} for inputs {tuple(x.shape)}")
        try:
            if chain is not None and x.shape[1] > 0:
                output, finals = self._run_chain(chain, x, flat, mask, training)
            else:
                output, finals = self._run_loop(x, flat, mask, training)
        finally:  # as Keras's RNN: the cells' masks last one call (the steps of a sequence)
            _reset_dropout_masks(self.cell)
        if self.stateful:
            self._states = [ops.convert_to_tensor(np.array(ops.convert_to_numpy(s)))
                            for s in finals]
        if self.return_state:
            return [output] + _pack(self.state_size, finals)
        return output

    def _run_chain(self, cells, x, flat, mask, training):
        """Built-in cells, each over the whole sequence on its C++ kernel."""
        finals, pos = [], 0
        seq, m = x, mask
        for i, cell in enumerate(cells):
            n = cell._n_states()
            last = i == len(cells) - 1
            out = cell._run_sequence(
                seq, None if flat is None else flat[pos:pos + n], mask=m, training=training,
                go_backwards=self.go_backwards if i == 0 else False,
                return_sequences=True if not last else self.return_sequences,
                zero_output_for_mask=self.zero_output_for_mask if last else False,
                layer_rules=self._layer_rules)
            pos += n
            finals.extend(out[1:])
            seq = out[0]
            if i == 0 and self.go_backwards and m is not None:
                m = m[:, ::-1].copy()  # the next cells read the outputs in processing order
        return seq, finals

    def _run_loop(self, x, flat, mask, training):
        """Any cell: one call per step, in Python (through the tape)."""
        batch, steps = x.shape[0], x.shape[1]
        out_size = int(_cell_output_size(self.cell))
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        prev = ops.zeros((batch, out_size))
        outputs, step_masks = [], []
        for t in order:
            states = _pack(self.state_size, flat)
            if self.single_state:
                states = [states[0]]
            out, new = _call_cell(self.cell, x[:, t], states, training)
            out = ops.convert_to_tensor(out)
            new_flat = _flatten(new)
            if len(new_flat) != len(flat):
                raise ValueError(f"RNN {self.name!r}: the cell returned {len(new_flat)} state "
                                 f"tensor(s), its state_size has {len(flat)}")
            if mask is not None:
                mt = ops.convert_to_tensor(mask[:, t:t + 1].astype(np.float32))
                out = out * mt + prev * (1.0 - mt)
                new_flat = [ops.convert_to_tensor(n) * mt + s * (1.0 - mt)
                            for n, s in zip(new_flat, flat)]
                step_masks.append(mt)
            prev, flat = out, [ops.convert_to_tensor(n) for n in new_flat]
            outputs.append(out)
        if not outputs:
            output = ops.zeros((batch, 0, out_size)) if self.return_sequences else prev
            return output, flat
        if mask is not None and self.zero_output_for_mask:
            outputs = [o * mt for o, mt in zip(outputs, step_masks)]
        output = ops.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        return output, flat

    # -- config ----------------------------------------------------------------------
    def get_config(self):
        from fastnet.saving.serialization_lib import serialize_keras_object

        config = {"return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful,
                  "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                  "cell": serialize_keras_object(self.cell)}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnet.saving.serialization_lib import deserialize_keras_object

        config = dict(config)
        cell = deserialize_keras_object(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``: the mask (batch,
    steps) goes to the next layers (RNNs skip those steps), and the masked steps' inputs
    become zeros, as Keras."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        try:
            self.mask_value = float(mask_value)
        except (TypeError, ValueError):
            raise TypeError(f"Masking: `mask_value` must be a number, received "
                            f"mask_value={mask_value!r}") from None
        self.supports_masking = True

    def _keep(self, inputs):
        v = np.asarray(ops.convert_to_numpy(inputs))
        if v.ndim < 2:
            raise ValueError(f"Masking {self.name!r}: expected inputs of rank >= 2 "
                             f"(batch, ..., features), received shape {v.shape}")
        return np.any(v != self.mask_value, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return ops.convert_to_tensor(self._keep(inputs))

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        keep = self._keep(x)[..., None].astype(x._value.dtype if isinstance(x, Tensor)
                                               else np.float32)
        return x * ops.convert_to_tensor(keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
