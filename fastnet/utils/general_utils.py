"""Small keras.utils helpers: Progbar (Keras's averaging semantics),
pack/unpack_x_y_sample_weight, is_keras_tensor, get_source_inputs."""

from __future__ import annotations

from fastnet.trainers.progbar import Progbar as _Bar


class Progbar(_Bar):
    """keras.utils.Progbar: ``update(current, values=[(name, value), ...])``; values
    of metrics not in `stateful_metrics` are shown as their average over the steps
    seen (weighted by step), stateful ones as given."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        super().__init__(target, verbose=verbose, interval=interval, unit_name=unit_name)
        self.width = width
        self.stateful_metrics = set(stateful_metrics or ())
        self._sums = {}
        self._seen_so_far = 0

    def update(self, current, values=None, finalize=None):
        step = max(current - self._seen_so_far, 1)
        shown = {}
        for name, value in (values.items() if isinstance(values, dict) else values or []):
            if name in self.stateful_metrics:
                shown[name] = value
            else:
                total, count = self._sums.get(name, (0.0, 0))
                total, count = total + float(value) * step, count + step
                self._sums[name] = (total, count)
                shown[name] = total / count
        self._seen_so_far = current
        super().update(current, shown, finalize)

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    if y is None:
        return x if not isinstance(x, (tuple, list)) else (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data}")


def is_keras_tensor(x):
    from fastnet.backend.symbolic import KerasTensor

    return isinstance(x, KerasTensor)


def get_source_inputs(tensor):
    """The Input tensors a symbolic tensor was computed from."""
    from fastnet.layers.core import InputLayer

    if not is_keras_tensor(tensor):
        raise ValueError(f"get_source_inputs expects a symbolic tensor; received {tensor!r}")
    history = tensor._keras_history
    if history is None:
        return [tensor]
    layer, node_index, _ = history
    if isinstance(layer, InputLayer):
        return [tensor]
    node = layer._inbound_nodes[node_index]
    out = []
    for t in node.input_tensors:
        for s in get_source_inputs(t):
            if not any(s is o for o in out):
                out.append(s)
    return out


__all__ = ["Progbar", "pack_x_y_sample_weight", "unpack_x_y_sample_weight", "is_keras_tensor",
           "get_source_inputs"]
