"""GradientTape: reverse-mode differentiation as in TensorFlow 2.

Every op that runs while a tape is recording and touches a watched tensor
appends a record (inputs, output, backward closure) to that tape. The order
of records is the order of execution, hence already topological:
``gradient`` walks them in reverse, calling each backward closure with the
output's gradient and accumulating the inputs' gradients. Backward closures
are written with fastnet.ops themselves, so a tape that records while an
inner tape computes gradients can differentiate them again (nested tapes).
"""

from __future__ import annotations

import numpy as np

from fastnet._core import RECORDING, TapeCore, accumulate, record  # noqa: F401
from fastnet.backend.tensor import Tensor, Variable


def _is_differentiable(t):
    return t._value.dtype.kind == "f"


class GradientTape(TapeCore):
    """Records operations for automatic differentiation (``tf.GradientTape``)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        super().__init__(watch_accessed_variables)
        self.persistent = persistent
        self._recording = False
        self._used = False

    # ---- context ----------------------------------------------------------------
    def __enter__(self):
        self._push()
        return self

    def __exit__(self, *exc):
        self._pop()
        return False

    def _push(self):
        if self._recording:
            raise RuntimeError("This GradientTape is already recording")
        self._recording = True
        RECORDING.append(self)

    def _pop(self):
        if self in RECORDING:
            RECORDING.remove(self)
        self._recording = False

    def stop_recording(self):
        """Context manager: ops inside it are not recorded on this tape."""
        tape = self

        class _Pause:
            def __enter__(self_inner):
                tape._pop()

            def __exit__(self_inner, *exc):
                tape._push()
                return False

        return _Pause()

    def reset(self):
        self._records = []
        self._tracked = {}

    # ---- recording ---------------------------------------------------------------
    def watch(self, tensor):
        """Tracks a tensor (or a nested structure of tensors) as a source."""
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch: expected a Tensor or Variable, got "
                                f"{type(t).__name__}; convert with fastnet.ops.convert_to_tensor")
            if _is_differentiable(t):
                self._tracked[id(t)] = t

    def watched_variables(self):
        return [t for t in self._tracked.values() if isinstance(t, Variable)]

    # ---- differentiation ------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(target)/d(sources), with the structure of `sources` (None where unconnected).

        A non-scalar target is summed (TensorFlow's implicit ones), unless
        `output_gradients` gives its upstream gradient.
        """
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians); use persistent=True")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got "
                             f"{unconnected_gradients!r}")
        from fastnet import ops

        targets = _flatten(target)
        out_grads = _flatten(output_gradients) if output_gradients is not None else [None] * len(targets)
        if len(out_grads) != len(targets):
            raise ValueError(f"gradient: {len(targets)} targets but {len(out_grads)} "
                             "output_gradients")
        was_recording = self._recording
        if was_recording:  # do not record the backward pass on this very tape
            self._pop()
        try:
            grads = {}
            for t, og in zip(targets, out_grads):
                if not isinstance(t, Tensor):
                    raise TypeError(f"gradient: target must be a Tensor, got {type(t).__name__}")
                if og is None:
                    g = ops.ones_like(t)
                else:
                    g = ops.convert_to_tensor(og, dtype=t.dtype)
                    if tuple(g.shape) != tuple(t.shape):
                        raise ValueError(f"gradient: output_gradients has shape {g.shape} but "
                                         f"the target has shape {t.shape}")
                _accumulate(grads, t, g)
            keep = {id(s) for s in _flatten(sources)}
            self.backprop(grads, keep, not self.persistent)
            result = []
            for s in _flatten(sources):
                if not isinstance(s, Tensor):
                    raise TypeError(f"gradient: sources must be Tensors or Variables, got "
                                    f"{type(s).__name__}")
                g = grads.get(id(s))
                if g is None and unconnected_gradients == "zero":
                    g = ops.zeros_like(s)
                result.append(g)
        finally:
            if was_recording:
                self._push()
        self._used = True
        if not self.persistent:
            self._records = []
            self._tracked = {}
        return _pack_like(sources, result)

    def jacobian(self, target, sources):
        """Full Jacobian d(target)/d(source) of shape target.shape + source.shape."""
        from fastnet import ops

        if not self.persistent:
            raise RuntimeError("jacobian needs a persistent GradientTape (several backward passes)")
        srcs = _flatten(sources)
        n = int(np.prod(target.shape)) if target.shape else 1
        rows = [[] for _ in srcs]
        for i in range(n):
            og = np.zeros(n, dtype=target.dtype)
            og[i] = 1
            gs = self.gradient(target, srcs, output_gradients=og.reshape(target.shape),
                               unconnected_gradients="zero")
            for r, g in zip(rows, gs):
                r.append(g.numpy())
        out = [ops.convert_to_tensor(np.stack(r).reshape(tuple(target.shape) + tuple(s.shape)))
               for r, s in zip(rows, srcs)]
        return _pack_like(sources, out)


def _accumulate(grads, x, g):
    prev = grads.get(id(x))
    grads[id(x)] = g if prev is None else accumulate(prev, g)


def _flatten(struct):
    if struct is None:
        return []
    if isinstance(struct, dict):
        return [v for k in struct for v in _flatten(struct[k])]
    if isinstance(struct, (list, tuple)):
        return [v for s in struct for v in _flatten(s)]
    return [struct]


def _pack_like(struct, flat):
    # A module-level recursion: a nested self-referencing closure would be a reference
    # cycle holding the gradients until the cyclic GC runs (each training step then got
    # fresh, page-faulting memory for its large gradient buffers).
    return _build_like(struct, iter(flat))


def _build_like(s, it):
    if isinstance(s, dict):
        return {k: _build_like(s[k], it) for k in s}
    if isinstance(s, (list, tuple)):
        return type(s)(_build_like(v, it) for v in s)
    return next(it)


# ---- what ops and layers may ask of the tape ---------------------------------------------
# Layers never read the tape's state (the RECORDING list) themselves: they ask one of these.


def is_recording():
    """Whether any GradientTape is recording (an op run now may be differentiated)."""
    return bool(RECORDING)


# ---- higher-order gradients -------------------------------------------------------------
# A tape's reverse sweep runs with that tape paused, so a tape still in RECORDING while a
# backward closure runs is an outer tape, which records the gradient computation itself
# (nested tapes: gradient penalties, Hessian-vector products). Backward closures ask
# ``create_graph`` whether that outer tape would record an op on their tensors (the
# upstream gradient, the saved inputs): then the gradient must be built from taped ops.
# Closures that only have a raw-kernel backward raise through ``first_order_only``
# instead of returning an untracked gradient (which the outer tape would see as None).

def create_graph(*tensors):
    """Whether an outer tape records while a backward runs and would record an op on
    any of ``tensors`` (a tracked tensor, or a trainable Variable it watches on access):
    the backward must then return gradients made of differentiable ops."""
    if not RECORDING:
        return False
    for tape in RECORDING:
        tracked = tape._tracked
        auto = tape.watch_accessed_variables
        for t in tensors:
            if t is None:
                continue
            if id(t) in tracked:
                return True
            if auto and type(t) is Variable and t.trainable and _is_differentiable(t):
                return True
    return False


def higher_order_error(op_name, detail=""):
    return NotImplementedError(
        f"second-order gradient of {op_name} is not implemented: an outer GradientTape "
        f"records the gradient computation of an inner one, and {op_name}'s backward is a "
        f"first-order kernel{detail}. Compute this gradient outside the outer tape (e.g. "
        f"inside `outer_tape.stop_recording()`) if the outer tape does not need it.")


def first_order_only(op_name, backward, saved=()):
    """``backward`` (g -> input gradients) guarded for nested tapes: it raises
    NotImplementedError naming ``op_name`` when an outer tape would record the gradient
    computation (``create_graph`` of g or ``saved``), instead of silently cutting the
    outer tape's graph."""
    def guarded(g):
        if RECORDING and create_graph(g, *saved):
            raise higher_order_error(op_name)
        return backward(g)

    guarded.first_order_only = op_name
    return guarded
def may_overwrite(x):
    """Whether the buffer of `x`, a fresh op result, may be overwritten in place (e.g. a
    bias added into a matmul's output): only when no tape records (no backward closure
    can hold `x`) and `x` is a plain Tensor (never a Variable)."""
    return type(x) is Tensor and not RECORDING


def backward_is_recorded():
    """Whether a backward computed now would itself be recorded: more than one tape is
    recording (an outer tape around the inner one, i.e. second-order gradients). A fused
    kernel whose backward is not differentiable takes its composed path then."""
    return len(RECORDING) > 1


class stop_recording_all:
    """Context manager pausing every active tape (used by ops.stop_gradient-like code)."""

    def __enter__(self):
        self._saved = list(RECORDING)
        RECORDING.clear()

    def __exit__(self, *exc):
        RECORDING.extend(self._saved)
        return False
