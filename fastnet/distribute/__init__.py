"""Past one machine: data-parallel training over MPI (Open MPI + mpi4py).

    strategy = fastnet.distribute.MPIStrategy()   # under mpirun: one rank per process
    with strategy.scope():
        model = build_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=5)

Run with ``mpirun -np 4 python train.py`` (``-H host1,host2`` across hosts).
Without a launcher everything here is a no-op on rank 0 of 1, and mpi4py is
never imported. For custom training loops with `GradientTape`: `allreduce`,
`broadcast` and `barrier`.
"""

from __future__ import annotations

import numpy as np

from fastnet.distribute.mpi import MPIStrategy, bcast_arrays, launched_size, world_or_none
from fastnet.distribute.strategy import Strategy, get_strategy

__all__ = ["MPIStrategy", "Strategy", "get_strategy", "allreduce", "broadcast", "barrier",
           "launched_size"]

_OPS = ("mean", "sum", "max", "min")
_reducer = None  # the buffers of allreduce(op="mean"), reused across calls


def _flatten(value):
    if isinstance(value, dict):
        keys = list(value)
        return [leaf for k in keys for leaf in _flatten(value[k])]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _flatten(v)]
    return [value]


def _rebuild(template, leaves):
    if isinstance(template, dict):
        return {k: _rebuild(v, leaves) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return type(template)(_rebuild(v, leaves) for v in template)
    return next(leaves)


def _restore_type(original, array):
    from fastnet.backend.tensor import Tensor

    if isinstance(original, Tensor):
        return Tensor(array)
    if isinstance(original, (int, float, np.number)) and not isinstance(original, bool):
        return array.item()
    return array


def allreduce(value, op="mean"):
    """Reduces `value` over all ranks: an array, a Tensor, a number or a
    list/tuple/dict of them (e.g. the gradients from ``tape.gradient``), in a
    few large messages. ``op``: ``"mean"`` (default: the plain average over the
    ranks; integers come back as floats), ``"sum"``, ``"max"``, ``"min"``.
    Returns the same structure of new values; a no-op on one process."""
    if op not in _OPS:
        raise ValueError(f"allreduce: op must be one of {list(_OPS)}, got {op!r}")
    world = world_or_none()
    if world is None:
        return value
    leaves = _flatten(value)
    present = [i for i, v in enumerate(leaves) if v is not None]
    arrays = [np.ascontiguousarray(np.asarray(leaves[i])) for i in present]
    for i, a in zip(present, arrays):
        if a.dtype.kind not in "fiu":
            raise TypeError(f"allreduce: leaf {i} has dtype {a.dtype}; only numeric arrays "
                            "can be reduced")
    if op == "mean":
        global _reducer
        if _reducer is None or _reducer.world is not world:
            from fastnet.distribute.mpi import _Reducer

            _reducer = _Reducer(world, 32 << 20)
        floats = [a if a.dtype.kind == "f" else a.astype(np.float64) for a in arrays]
        reduced = [r.copy() for r in _reducer.weighted_mean(floats, 1.0, "allreduce")]
    else:
        reduced = [a.copy() for a in arrays]
        by_dtype = {}
        for i, a in enumerate(reduced):
            by_dtype.setdefault(a.dtype.str, []).append(i)
        for idx in by_dtype.values():
            buf = np.concatenate([reduced[i].reshape(-1) for i in idx])
            world.allreduce_(buf, op, "allreduce")
            o = 0
            for i in idx:
                n = reduced[i].size
                reduced[i] = buf[o:o + n].reshape(reduced[i].shape)
                o += n
    out = list(leaves)
    for i, r in zip(present, reduced):
        out[i] = _restore_type(leaves[i], r)
    return _rebuild(value, iter(out))


def broadcast(value, root=0):
    """Rank `root`'s `value` on every rank.

    A Model or Layer, a Variable, or a list of Variables is updated in place
    (and returned); arrays, Tensors and numbers come back as new values of
    the same kind; any other picklable object is sent as is. A no-op on one
    process."""
    world = world_or_none()
    if world is None:
        return value
    if not isinstance(root, int) or not 0 <= root < world.size:
        raise ValueError(f"broadcast: root must be a rank in [0, {world.size}), got {root!r}")
    from fastnet.backend.tensor import Tensor, Variable
    from fastnet.layers import Layer

    if isinstance(value, Layer):
        targets = [w._value for w in value.weights]
    else:
        leaves = _flatten(value)
        if leaves and all(isinstance(v, Variable) for v in leaves):
            targets = [v._value for v in leaves]
        elif leaves and all(isinstance(v, (np.ndarray, Tensor, int, float, np.number))
                            and not isinstance(v, (bool, Variable)) for v in leaves):
            arrays = [np.ascontiguousarray(np.asarray(v)) for v in leaves]
            spec = world.bcast_obj([(a.shape, a.dtype.str) for a in arrays], root)
            if len(spec) != len(arrays):
                raise ValueError(f"broadcast: rank {root} sent {len(spec)} arrays, rank "
                                 f"{world.rank} passed {len(arrays)}")
            if world.rank != root:
                arrays = [np.empty(shape, np.dtype(dt)) for shape, dt in spec]
            bcast_arrays(world, arrays, root)
            return _rebuild(value, iter(_restore_type(v, a) for v, a in zip(leaves, arrays)))
        else:
            return world.bcast_obj(value, root)
    specs = world.allgather_obj([(t.shape, t.dtype.str) for t in targets], "broadcast check")
    for r, spec in enumerate(specs):
        if spec != specs[root]:
            raise ValueError(f"broadcast: rank {r}'s variables {spec[:4]}... do not match rank "
                             f"{root}'s {specs[root][:4]}...")
    bcast_arrays(world, targets, root)
    return value


def barrier():
    """Waits until every rank has reached this call (no-op on one process)."""
    world = world_or_none()
    if world is not None:
        world.barrier()
