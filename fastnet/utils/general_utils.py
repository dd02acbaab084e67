"""Small keras.utils helpers: pack/unpack_x_y_sample_weight, is_keras_tensor, get_source_inputs."""

from __future__ import annotations


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


__all__ = ["pack_x_y_sample_weight", "unpack_x_y_sample_weight", "is_keras_tensor",
           "get_source_inputs"]
