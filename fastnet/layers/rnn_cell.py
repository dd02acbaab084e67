"""Recurrent building blocks, as Keras 3: ``RNN(cell)`` over ``SimpleRNNCell``,
``LSTMCell``, ``GRUCell``, ``StackedRNNCells`` and user cells, and ``Masking``.

A cell holds the weights (Keras's names and layouts: ``kernel`` (in, gU),
``recurrent_kernel`` (U, gU), ``bias``) and computes one step,
``cell(inputs, states, training=...) -> (output, new_states)``. ``RNN`` runs a cell over
the time axis:

* the built-in cells (and stacks of them) run the same C++ sequence kernels as
  ``SimpleRNN``/``LSTM``/``GRU``: the layer's machinery (layers/rnn.py) is driven with the
  cell's weights, so ``RNN(LSTMCell(u))`` and ``LSTM(u)`` give the same outputs with the same
  weights, masks, dropout (masks fixed over the steps, only in training) and go_backwards.
  A stack runs cell after cell over the whole sequence (each cell's outputs are the next
  one's inputs at the same step, so this equals the per-step stack);
* any other cell (``state_size`` and ``call(inputs, states)``, the Keras 3 contract) is
  called step by step in Python, through the tape.

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

# ---- cells ---------------------------------------------------------------------------------

class _BuiltinCell(Layer):
    """The shared part of SimpleRNNCell, LSTMCell and GRUCell."""

    _layer_cls = None  # the sequence layer whose kernels this cell drives

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        kwargs.pop("implementation", None)  # Keras's choice of matmul grouping: same results
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
        self._driver = None

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

    # -- weights -------------------------------------------------------------------------
    def _make_driver(self):
        """The sequence layer (layers/rnn.py) that runs this cell's weights; not tracked."""
        kw = dict(activation=self.activation, use_bias=self.use_bias,
                  dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
                  kernel_initializer=self.kernel_initializer,
                  recurrent_initializer=self.recurrent_initializer,
                  bias_initializer=self.bias_initializer, name=self.name + "_sequence",
                  **self._driver_kwargs())
        drv = self._layer_cls(self.units, **kw)
        drv._seed_generator = self.seed_generator
        drv._cell_rules = True  # Keras's cells' dropout-rate rules
        return drv

    def _driver_kwargs(self):
        return {"recurrent_activation": self.recurrent_activation}

    def build(self, input_shape):
        if self._driver is None:
            self._driver = self._make_driver()
        drv = self._driver
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the last dimension of the "
                             f"inputs must be known to build the cell. Received input_shape="
                             f"{tuple(input_shape)}")
        g = drv.gates * self.units
        self.kernel = self.add_weight(shape=(in_dim, g), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, g), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(shape=drv._bias_shape(), name="bias",
                                    initializer=drv._bias_init(),
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True

    def _sequence_layer(self, go_backwards=False, return_sequences=True,
                        zero_output_for_mask=False):
        """The driver, pointed at this cell's current weights and the caller's flags."""
        if self._driver is None:
            self._driver = self._make_driver()
        drv = self._driver
        for name in ("kernel", "recurrent_kernel", "bias"):
            object.__setattr__(drv, name, getattr(self, name, None))
        drv.built = True
        drv.go_backwards = go_backwards
        drv.return_sequences = return_sequences
        drv.return_state = True
        drv.zero_output_for_mask = zero_output_for_mask
        drv.stateful = False
        drv._seed_generator = self.seed_generator
        return drv

    def _run_sequence(self, x, states, mask=None, training=None, go_backwards=False,
                      return_sequences=True, zero_output_for_mask=False):
        """[output, *final_states] of this cell over the sequence x (N, T, I)."""
        drv = self._sequence_layer(go_backwards, return_sequences, zero_output_for_mask)
        return drv._call(x, mask, training, list(states) if states is not None else None)

    @property
    def _dropout_masks(self):
        """The (input, recurrent) masks of the last training call (None otherwise)."""
        return None if self._driver is None else self._driver._dropout_masks

    # -- one step ------------------------------------------------------------------------
    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        if len(states) != self._n_states():
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected "
                             f"{self._n_states()} state tensor(s), received {len(states)}")
        x = ops.expand_dims(ops.convert_to_tensor(inputs), 1)
        out = self._run_sequence(x, [ops.convert_to_tensor(s) for s in states],
                                 training=training, return_sequences=False)
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


def _layer_cls(name):
    from fastnet.layers import rnn as rnn_mod

    return getattr(rnn_mod, name)


class SimpleRNNCell(_BuiltinCell):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNNCell: unrecognized keyword argument "
                            "`recurrent_activation` (the cell has a single activation)")
        super().__init__(units, activation=activation, **kwargs)

    @property
    def _layer_cls(self):
        return _layer_cls("SimpleRNN")

    def _driver_kwargs(self):
        return {}

    def get_config(self):
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class LSTMCell(_BuiltinCell):
    """Gates i, f, c, o; kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,)."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def _layer_cls(self):
        return _layer_cls("LSTM")

    @property
    def state_size(self):
        return [self.units, self.units]

    def _n_states(self):
        return 2

    def _driver_kwargs(self):
        return {"recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_BuiltinCell):
    """Gates z, r, h; reset_after=True: bias (2, 3u) (input row, recurrent row), else (3u,)."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = bool(reset_after)

    @property
    def _layer_cls(self):
        return _layer_cls("GRU")

    def _driver_kwargs(self):
        return {"recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}

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

class RNN(Layer):
    """Runs a recurrent cell over the time axis of (batch, steps, features) sequences."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, "RNN")
        time_major = kwargs.pop("time_major", False)
        if time_major:
            raise NotImplementedError("RNN: `time_major=True` is not implemented in fastnet "
                                      "(Keras 3 has no such argument); pass (batch, steps, "
                                      "features) sequences")
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

    def reset_states(self):
        """Zeroes the carried states (Keras: a no-op before they exist)."""
        if self._states is not None:
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
        if initial_state is None:
            if self.stateful:
                if self._states is None:
                    self._states = _flatten(self.get_initial_state(batch))
                flat = list(self._states)
            else:
                flat = _flatten(self.get_initial_state(batch))
        else:
            flat = [ops.convert_to_tensor(s) for s in _flatten(initial_state)]
        if len(flat) != n_flat:
            raise ValueError(f"RNN {self.name!r}: the cell has {n_flat} state tensor(s) "
                             f"(state_size={self.cell.state_size!r}), received "
                             f"{len(flat)} initial state tensor(s)")
        for s, d in zip(flat, _flatten(self.state_size)):
            if tuple(s.shape) != (batch, int(d)):
                what = ("the batch size of the input sequences must be the same as the batch "
                        "size of the initial state" if self.stateful and initial_state is None
                        else "each initial state must be (batch, state size)")
                raise ValueError(f"RNN {self.name!r}: {what}. Expected {(batch, int(d))}, "
                                 f"received {tuple(s.shape)} for inputs {tuple(x.shape)}")
        chain = self._builtin_chain()
        if chain is not None and x.shape[1] > 0:
            output, finals = self._run_chain(chain, x, flat, mask, training)
        else:
            output, finals = self._run_loop(x, flat, mask, training)
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
                seq, flat[pos:pos + n], mask=m, training=training,
                go_backwards=self.go_backwards if i == 0 else False,
                return_sequences=True if not last else self.return_sequences,
                zero_output_for_mask=self.zero_output_for_mask if last else False)
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
