"""Data-parallel training over MPI: Open MPI underneath, mpi4py as the binding.

One process per rank (``mpirun -np N python train.py``); every rank runs the
same script on the same global data. `MPIStrategy` splits each global batch
into contiguous per-rank slices, averages the gradients with bucketed
``Allreduce`` calls on numpy buffers, and reduces the metric states, so every
rank applies the same update and sees the same logs.

The gradient rule. fastnet's losses (Keras's default reduction
``"sum_over_batch_size"``) divide by the number of samples in the batch, also
when sample weights are given. Rank r holds b_r of the n samples of a global
batch and computes g_r, the gradient of its own per-sample mean, so the
gradient of the global loss is  sum_r b_r * g_r / sum_r b_r  for any split,
even, uneven (a last batch of 7 on 2 ranks: 3 + 4) or empty (a last batch of 1
on 2 ranks). Each rank packs b_r * g_r and b_r into the buffer, one Allreduce
sums them, and every rank divides by the same total. For losses with reduction
``"mean_with_sample_weight"`` the weight is the rank's sum of sample weights
instead. A rank whose slice is empty runs its step on one sample of the batch
with weight 0 (its metric state is restored afterwards), so every rank takes
part in every collective.

Non-trainable state variables (BatchNormalization's moving statistics) are
averaged the same way every step, as deltas from their value before the step,
so the ranks stay identical (the normalization itself uses each rank's local
batch statistics, as Horovod and tf.distribute without SyncBatchNorm).
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading
import time
import traceback
import weakref
import zlib

import numpy as np

from fastnet.distribute.strategy import Strategy

_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_WORLD_SIZE")
_CHIEF_ONLY = frozenset({"ProgbarLogger", "ModelCheckpoint", "CSVLogger", "TensorBoard"})


def launched_size():
    """The number of ranks an MPI launcher started (1 without a launcher).

    Read from the launcher's environment so that a plain ``python train.py``
    never loads MPI."""
    for key in _SIZE_VARS:
        value = os.environ.get(key, "")
        if value.isdigit():
            return int(value)
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        return mpi.COMM_WORLD.Get_size()
    return 1


def _distribution_name():
    # The package index name (the import name `fastnet` belongs to another project there).
    return "fastnet-cpu"


def _import_mpi(size):
    try:
        from mpi4py import MPI
    except ImportError as e:
        dist = _distribution_name()
        raise ImportError(
            f"fastnet.distribute: this process was started by an MPI launcher with {size} "
            f"ranks, but mpi4py is not installed. Install it with: pip install \"{dist}[mpi]\" "
            "(and Open MPI itself, e.g. apt-get install openmpi-bin libopenmpi-dev)") from e
    return MPI


class _AgreedError(ValueError):
    """Raised identically on every rank (after a collective check): no abort needed."""

    _fastnet_all_ranks = True


class World:
    """The job's communicator (a duplicate of COMM_WORLD) with a watchdog:
    a collective that has not finished after `timeout` seconds aborts the job
    (another rank died, raised outside fastnet, or took a different path)."""

    _instance = None

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        MPI = _import_mpi(launched_size())
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = float(os.environ.get("FASTNET_MPI_TIMEOUT", "600"))
        # Totals, and [calls, bytes, seconds] per kind ("gradient allreduce", ...).
        self.stats = {"allreduce_calls": 0, "allreduce_bytes": 0, "allreduce_seconds": 0.0,
                      "by_kind": {}}
        self._watch = None
        self._watchdog = threading.Thread(target=self._watch_loop, daemon=True,
                                          name="fastnet-mpi-watchdog")
        self._watchdog.start()
        # An exception nobody catches ends this rank; without an abort the interpreter's
        # MPI_Finalize would wait for the other ranks, which wait in a collective for this
        # one (what ``python -m mpi4py`` does, too). The previous hook still prints.
        previous = sys.excepthook

        def excepthook(tp, value, tb):
            previous(tp, value, tb)
            self.abort(f"uncaught {tp.__name__}: {value} -- stopping all {self.size} ranks")

        sys.excepthook = excepthook

    # ---- failure paths --------------------------------------------------------------
    def _watch_loop(self):
        while True:
            time.sleep(max(0.05, min(1.0, self.timeout / 10)))
            watch = self._watch
            if watch is not None and time.monotonic() > watch[1]:
                self.abort(f"no progress for {self.timeout:g} s in {watch[0]}: another rank "
                           "failed or is running different code (FASTNET_MPI_TIMEOUT / "
                           "MPIStrategy(timeout=...) sets the limit)")

    def abort(self, message, exc=None):
        """Prints why on stderr and stops every rank of the job (MPI_Abort)."""
        text = f"fastnet.distribute: rank {self.rank}/{self.size}: {message}\n"
        if exc is not None:
            text += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            sys.stdout.flush()
            sys.stderr.write(text)
            sys.stderr.flush()
        finally:
            try:
                self.MPI.COMM_WORLD.Abort(1)
            finally:
                os._exit(1)

    @contextlib.contextmanager
    def watched(self, what):
        self._watch = (what, time.monotonic() + self.timeout)
        try:
            yield
        finally:
            self._watch = None

    # ---- collectives ----------------------------------------------------------------
    def allreduce_(self, buf, op="sum", what="allreduce"):
        """In-place Allreduce of a contiguous numpy buffer."""
        mpi_op = {"sum": self.MPI.SUM, "max": self.MPI.MAX, "min": self.MPI.MIN}[op]
        t = time.perf_counter()
        with self.watched(what):
            self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=mpi_op)
        dt = time.perf_counter() - t
        stats = self.stats
        stats["allreduce_seconds"] += dt
        stats["allreduce_calls"] += 1
        stats["allreduce_bytes"] += buf.nbytes
        kind = stats["by_kind"].setdefault(what, [0, 0, 0.0])
        kind[0] += 1
        kind[1] += buf.nbytes
        kind[2] += dt

    def bcast_(self, buf, root=0, what="broadcast"):
        with self.watched(what):
            self.comm.Bcast(buf, root=root)

    def bcast_obj(self, obj, root=0, what="broadcast"):
        with self.watched(what):
            return self.comm.bcast(obj, root=root)

    def allgather_obj(self, obj, what="allgather"):
        with self.watched(what):
            return self.comm.allgather(obj)

    def allgatherv(self, local, recv, counts, what="allgather"):
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        with self.watched(what):
            self.comm.Allgatherv(local, [recv, (list(map(int, counts)), list(map(int, displs)))])

    def barrier(self, what="barrier"):
        with self.watched(what):
            self.comm.Barrier()


def world_or_none():
    """The World when started by an MPI launcher with more than one rank."""
    if World._instance is not None:
        return World._instance
    return World.get() if launched_size() > 1 else None


# ---- packing several arrays into few buffers --------------------------------------------

def _buckets(arrays, cap_bytes):
    """Groups array indices by dtype, then in order into buckets of at most
    `cap_bytes` (an array larger than the cap gets a bucket of its own)."""
    by_dtype = {}
    for i, a in enumerate(arrays):
        by_dtype.setdefault(a.dtype.str, []).append(i)
    out = []
    for idx in by_dtype.values():
        cur, size = [], 0
        for i in idx:
            nbytes = arrays[i].nbytes
            if cur and size + nbytes > cap_bytes:
                out.append(cur)
                cur, size = [], 0
            cur.append(i)
            size += nbytes
        out.append(cur)
    return out


class _Reducer:
    """Weighted-mean Allreduce of many arrays in a few reused buffers."""

    def __init__(self, world, cap_bytes):
        self.world = world
        self.cap = cap_bytes
        self._plans = {}

    def _plan(self, arrays):
        key = tuple((a.dtype.str, a.size) for a in arrays)
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            for members in _buckets(arrays, self.cap):
                offsets = np.concatenate([[0], np.cumsum([arrays[i].size for i in members])])
                # One extra element at the end carries the rank's weight.
                buf = np.empty(int(offsets[-1]) + 1, dtype=arrays[members[0]].dtype)
                plan.append((members, offsets, buf))
            if len(self._plans) > 16:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def weighted_mean(self, arrays, weight, what="gradient allreduce"):
        """sum_r weight_r * a_r / sum_r weight_r for every array, as views of
        reused buffers (valid until the next call)."""
        out = [None] * len(arrays)
        if not arrays:
            return out
        for members, offsets, buf in self._plan(arrays):
            for j, i in enumerate(members):
                seg = buf[offsets[j]:offsets[j + 1]]
                np.multiply(arrays[i].reshape(-1), weight, out=seg)
            buf[-1] = weight
            self.world.allreduce_(buf, "sum", what)
            total = buf[-1]
            body = buf[:-1]
            if total != 0:
                body *= body.dtype.type(1.0 / float(total))
            else:
                body[...] = 0
            for j, i in enumerate(members):
                out[i] = body[offsets[j]:offsets[j + 1]].reshape(arrays[i].shape)
        return out


def bcast_arrays(world, arrays, root=0, what="broadcast"):
    """Broadcasts arrays (same shapes and dtypes on every rank) in place, one
    message per dtype."""
    by_dtype = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype.str, []).append(a)
    for group in by_dtype.values():
        sizes = [a.size for a in group]
        buf = np.empty(sum(sizes), dtype=group[0].dtype)
        if world.rank == root:
            np.concatenate([a.reshape(-1) for a in group], out=buf)
        world.bcast_(buf, root, what)
        if world.rank != root:
            o = 0
            for a, n in zip(group, sizes):
                a[...] = buf[o:o + n].reshape(a.shape)
                o += n


# ---- metric state ----------------------------------------------------------------------

def _state_attrs(metric):
    """The additive state of fastnet's metric classes (summed across ranks)."""
    from fastnet.metrics import metrics as M

    if isinstance(metric, M.Mean):
        return ("total", "count")
    if isinstance(metric, M.Sum):
        return ("total",)
    if isinstance(metric, M._ConfusionMetric):
        return ("tp", "fp", "fn", "tn")
    return None


def _metric_table(model):
    """{log name: Metric} of what the trainer tracks (loss, per-output losses, compiled metrics)."""
    table = {}
    tracker = getattr(model, "_loss_tracker", None)
    if tracker is not None:
        table["loss"] = tracker
    table.update(getattr(model, "_output_loss_trackers", None) or {})
    compiled = getattr(model, "compiled_metrics", None)
    if compiled is not None:
        table.update(compiled.named_metrics())
    return table


class _Step:
    __slots__ = ("count", "sw_sum", "dummy", "state", "metrics", "reduce")

    def __init__(self, count, sw_sum, dummy, state, metrics, reduce):
        self.count, self.sw_sum, self.dummy = count, sw_sum, dummy
        self.state, self.metrics, self.reduce = state, metrics, reduce


_BATCH_HOOKS = ("on_train_batch_end", "on_test_batch_end")


def _wants_batch_logs(callbacks, verbose):
    """True when something on this rank reads per-batch logs: a live progress
    bar (a terminal) or a callback overriding a batch-end hook."""
    from fastnet.callbacks import Callback, CallbackList, ProgbarLogger

    isatty = getattr(sys.stdout, "isatty", None)
    if verbose == 1 and isatty is not None and isatty():
        return True
    items = callbacks.callbacks if isinstance(callbacks, CallbackList) else callbacks or []
    for c in items:
        if isinstance(c, ProgbarLogger):
            continue
        for hook in _BATCH_HOOKS:
            fn = getattr(c, hook, None)
            if getattr(fn, "__func__", fn) is not getattr(Callback, hook):
                return True
    return False


def _leaves(struct):
    from fastnet.trainers.data_adapter import _leaves as leaves
    return leaves(struct)


def _map(fn, struct):
    from fastnet.trainers.data_adapter import _map as map_
    return map_(fn, struct)


def _spec(struct):
    return [(tuple(np.shape(a))[1:], str(np.asarray(a).dtype)) for a in _leaves(struct)]


def _to_tensors(struct):
    from fastnet import ops
    return _map(ops.convert_to_tensor, struct)


# ---- the strategy -------------------------------------------------------------------------

class MPIStrategy(Strategy):
    """Data-parallel training over MPI, in the shape of ``tf.distribute`` strategies.

    Under ``mpirun -np N`` each process is one rank; models compiled inside
    ``strategy.scope()`` get their initial weights (and optimizer state) from
    rank 0, split each global batch across the ranks, average gradients with
    bucketed Allreduce, and report metrics reduced over all ranks. Progress
    bar, ModelCheckpoint, CSVLogger and TensorBoard run on rank 0 only.
    Started without a launcher (or with one rank) it is a no-op: rank 0 of 1.

    ``train_on_batch`` takes each rank's own batch (Horovod-style) and averages
    the gradients with equal weights; ``test_on_batch`` logs are the rank's own.
    A custom ``train_step`` passes its gradients through
    ``self.distribute_strategy.reduce_gradients(grads, self)``.

    Arguments:
        num_threads: kernel threads per rank; default ``cores // ranks on
            this host`` (at most the cores the launcher bound the rank to),
            unless ``FASTNET_NUM_THREADS`` is set.
        timeout: seconds a collective may wait before the job is aborted
            (default ``FASTNET_MPI_TIMEOUT`` or 600).
        bucket_bytes: the largest gradient message (default 32 MiB).
    """

    def __init__(self, num_threads=None, timeout=None, bucket_bytes=32 << 20):
        if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) or \
                bucket_bytes <= 0:
            raise ValueError(f"MPIStrategy: bucket_bytes must be a positive int, got "
                             f"{bucket_bytes!r}")
        if timeout is not None and not float(timeout) > 0:
            raise ValueError(f"MPIStrategy: timeout must be > 0 seconds, got {timeout!r}")
        if num_threads is not None and (isinstance(num_threads, bool) or
                                        not isinstance(num_threads, int) or num_threads < 1):
            raise ValueError(f"MPIStrategy: num_threads must be a positive int, got "
                             f"{num_threads!r}")
        self._world = world_or_none()
        if self._world is not None and timeout is not None:
            self._world.timeout = float(timeout)
        self._reducer = _Reducer(self._world, bucket_bytes) if self._world else None
        self._step = None
        self._predict_table = None
        self._batch_logs = True
        self._reduction_cache = {}
        # models whose state came from rank 0. Weak references, not id()s: a model freed and
        # another allocated at the same address on one rank only would otherwise skip its
        # sync there while the other ranks run it (the ranks then wait in different
        # collectives until the watchdog fires).
        self._synced = weakref.WeakSet()
        self.num_threads = self._configure_threads(num_threads)

    @property
    def rank(self):
        return self._world.rank if self._world else 0

    @property
    def num_workers(self):
        return self._world.size if self._world else 1

    @property
    def stats(self):
        """Allreduce calls, bytes and seconds so far on this rank (``by_kind``:
        per kind of message, e.g. ``"gradient allreduce"``)."""
        if self._world is None:
            return {}
        return copy.deepcopy(self._world.stats)

    def _configure_threads(self, num_threads):
        from fastnet import config

        if num_threads is not None:
            config.set_num_threads(num_threads)
        elif self._world is not None and "FASTNET_NUM_THREADS" not in os.environ:
            MPI = self._world.MPI
            local = self._world.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
            ranks_here = local.Get_size()
            local.Free()
            cores = os.cpu_count() or 1
            try:
                bound = len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                bound = cores
            config.set_num_threads(max(1, min(bound, cores // ranks_here)))
        return config.get_num_threads()

    # ---- data -----------------------------------------------------------------------
    def distribute_data(self, adapter, model, mode):
        if self._world is None or adapter is None:
            return adapter
        return _ShardedAdapter(self, adapter, model, mode, self._batch_logs)

    def _check_data(self, adapter, mode):
        sig = {"mode": mode, "kind": type(adapter).__name__, "batches": adapter.num_batches(),
               "shuffle": getattr(adapter, "shuffle", None)}
        if hasattr(adapter, "batch_size") and hasattr(adapter, "n"):
            sig.update(samples=adapter.n, batch_size=adapter.batch_size,
                       x=_spec(adapter.x), y=_spec(adapter.y), sample_weight=_spec(
                           adapter.sample_weight))
        sigs = self._world.allgather_obj(sig, f"{mode} data check")
        for r, other in enumerate(sigs):
            if other != sigs[0]:
                diff = sorted(k for k in set(other) | set(sigs[0])
                              if other.get(k) != sigs[0].get(k))
                raise _AgreedError(
                    f"MPIStrategy: rank {r} was given different {mode} data than rank 0 "
                    f"({', '.join(f'{k}: {sigs[0].get(k)} vs {other.get(k)}' for k in diff)}). "
                    "Every rank must be given the same global dataset; the strategy splits "
                    "each global batch across the ranks.")

    def _sync_model(self, model, x_sample):
        """Rank 0's weights, non-trainable variables and optimizer state to every rank."""
        if x_sample is not None and (not getattr(model, "built", True) or not model.weights):
            model(_to_tensors(x_sample), training=False)
        self._synced.add(model)
        weights = model.weights
        opt = getattr(model, "optimizer", None)
        trainable = model.trainable_weights
        desc = {"weights": [(tuple(w.shape), str(w._value.dtype)) for w in weights]}
        if opt is not None:
            lr = opt._learning_rate
            desc["opt"] = {
                "class": type(opt).__name__, "slots": len(opt._slot_names()),
                "built": bool(trainable) and all(id(v) in opt._slots for v in trainable),
                "extra": opt.get_extra_state() if hasattr(opt, "get_extra_state") else {},
                "lr": float(lr) if isinstance(lr, (int, float, np.floating)) else None}
        descs = self._world.allgather_obj(desc, "weight broadcast check")
        for r, other in enumerate(descs):
            if other["weights"] != descs[0]["weights"]:
                mine, theirs = descs[0]["weights"], other["weights"]
                raise _AgreedError(
                    f"MPIStrategy: rank {r}'s model has {len(theirs)} weights {theirs[:4]}... "
                    f"but rank 0's has {len(mine)} {mine[:4]}...; build the same model on "
                    "every rank.")
            o0, o = descs[0].get("opt"), other.get("opt")
            if (o0 is None) != (o is None) or o0 and (o0["class"], o0["slots"]) != (
                    o["class"], o["slots"]):
                raise _AgreedError(f"MPIStrategy: rank {r} compiled the model with optimizer "
                                   f"{o and o['class']} but rank 0 with {o0 and o0['class']}")
        arrays = [w._value for w in weights]
        root = descs[0].get("opt")
        if root is not None:
            if root["built"]:
                opt.build(trainable)
                arrays += [s for v in trainable for s in opt._slots[id(v)]]
            elif opt._slots:
                opt._slots.clear()
            arrays.append(opt._iterations._value)
            if root["extra"] and hasattr(opt, "set_extra_state"):
                opt.set_extra_state(root["extra"])
            if root["lr"] is not None and isinstance(opt._learning_rate,
                                                     (int, float, np.floating)):
                opt._learning_rate = root["lr"]
        bcast_arrays(self._world, arrays, 0, "weight broadcast")

    def _begin_step(self, model, mode, count, sw, dummy, state_vars, reduce):
        sw_sum = None
        if sw is not None and not isinstance(sw, (list, tuple, dict)):
            sw_sum = 0.0 if dummy else float(np.sum(np.asarray(sw, dtype=np.float64)))
        state = [(v, v._value.copy()) for v in state_vars] if mode == "train" else None
        metrics = None
        if dummy:
            metrics = {id(m): copy.deepcopy(vars(m)) for m in _metric_table(model).values()}
        self._step = _Step(count, sw_sum, dummy, state, metrics, reduce)

    def _check_identical(self, model):
        """End of a training epoch: are the weights and optimizer state still the
        same on every rank? Drift of a few ulps (an MPI whose Allreduce is not
        bitwise identical on all ranks) is healed from rank 0; a real divergence
        (a custom train_step that skips `reduce_gradients`) raises."""
        arrays = [w._value for w in model.weights]
        opt = getattr(model, "optimizer", None)
        if opt is not None:
            arrays += [s for v in model.trainable_weights for s in opt._slots.get(id(v), [])]
        crc = 0
        for a in arrays:
            crc = zlib.crc32(np.ascontiguousarray(a).view(np.uint8).reshape(-1), crc)
        crcs = self._world.allgather_obj(crc, "weight check")
        if len(set(crcs)) == 1:
            return
        root = [a.copy() for a in arrays]
        bcast_arrays(self._world, root, 0, "weight check")
        diff = max((float(np.linalg.norm((a - b).astype(np.float64)) /
                          max(float(np.linalg.norm(b.astype(np.float64))), 1e-30))
                    for a, b in zip(arrays, root) if a.size), default=0.0)
        diffs = self._world.allgather_obj(diff, "weight check")
        worst = max(diffs)
        if worst > 1e-4:
            raise _AgreedError(
                f"MPIStrategy: the ranks' weights diverged during the epoch (relative "
                f"difference {worst:.3g} on rank {diffs.index(worst)} against rank 0). A custom "
                "train_step must pass its gradients through "
                "`grads = self.distribute_strategy.reduce_gradients(grads, self)` before "
                "`self.optimizer.apply`.")
        for a, b in zip(arrays, root):
            a[...] = b

    # ---- gradients --------------------------------------------------------------------
    def _loss_reduction(self, model):
        compiled = getattr(model, "compiled_loss", None)
        key = id(compiled)
        if key not in self._reduction_cache:
            kinds = {getattr(fn, "reduction", "sum_over_batch_size")
                     for fn in getattr(compiled, "losses", None) or [] if fn is not None}
            bad = kinds - {"sum_over_batch_size", "mean_with_sample_weight"}
            if bad:
                raise _AgreedError(
                    f"MPIStrategy: cannot combine per-rank gradients of a loss with reduction "
                    f"{sorted(bad)}; use the default reduction 'sum_over_batch_size' (or "
                    "'mean_with_sample_weight')")
            self._reduction_cache = {key: kinds}
        return self._reduction_cache[key]

    def _gradient_weight(self, model):
        step = self._step
        if step is None:  # train_on_batch or a custom step: every rank's batch counts equally
            return 1.0
        if step.dummy:
            return 0.0
        kinds = self._loss_reduction(model)
        if "mean_with_sample_weight" in kinds and step.sw_sum is not None:
            if len(kinds) > 1:
                raise _AgreedError("MPIStrategy: losses with reductions 'sum_over_batch_size' "
                                   "and 'mean_with_sample_weight' mixed with sample weights "
                                   "cannot be combined across ranks")
            return step.sw_sum
        return float(step.count)

    def reduce_gradients(self, grads, model):
        if self._world is None:
            return grads
        weight = self._gradient_weight(model)
        if self._step is None and model not in self._synced:
            # train_on_batch before any fit: from now on every rank holds rank 0's state
            self._sync_model(model, None)
        grads = list(grads)
        present = [i for i, g in enumerate(grads) if g is not None]
        arrays = [np.asarray(grads[i]) for i in present]
        state = self._step.state if self._step is not None and self._step.state else []
        arrays += [v._value - before for v, before in state]
        reduced = self._reducer.weighted_mean(arrays, weight)
        from fastnet.backend.tensor import Tensor

        for i, r in zip(present, reduced):
            grads[i] = Tensor(r) if isinstance(grads[i], Tensor) else r
        for (v, before), delta in zip(state, reduced[len(present):]):
            np.add(before, delta, out=v._value)
        return grads

    # ---- logs -------------------------------------------------------------------------
    def reduce_logs(self, model, logs):
        if self._world is None or not isinstance(logs, dict):
            return logs
        step = self._step
        table = _metric_table(model)
        if step is not None and step.dummy:
            for m in table.values():
                saved = step.metrics.get(id(m))
                if saved is None:
                    m.reset_state()
                else:
                    vars(m).update(copy.deepcopy(saved))
        if step is not None and not step.reduce:
            return logs  # nobody reads this step's logs: reduced at the epoch's last step
        count = 0.0 if step is not None and step.dummy else float(
            step.count if step is not None else 1)
        parts, layout, local = [], [], {}
        for name in logs:
            m = table.get(name)
            attrs = _state_attrs(m) if m is not None else None
            if attrs:
                values = [np.asarray(getattr(m, a), dtype=np.float64) for a in attrs]
                local[name] = values
                layout.append((name, attrs, [v.shape for v in values]))
                parts.extend(v.reshape(-1) for v in values)
            else:
                try:
                    value = float(logs[name])
                except (TypeError, ValueError):
                    continue
                layout.append((name, None, None))
                parts.append(np.array([value * count]))
        parts.append(np.array([count]))
        vec = np.concatenate(parts)
        self._world.allreduce_(vec, "sum", "metric allreduce")
        total_count = vec[-1]
        out = dict(logs)
        o = 0
        for name, attrs, shapes in layout:
            if attrs is None:
                out[name] = float(vec[o] / total_count) if total_count else 0.0
                o += 1
                continue
            m = table[name]
            for a, shape in zip(attrs, shapes):
                n = int(np.prod(shape)) if shape else 1
                value = vec[o:o + n].reshape(shape)
                setattr(m, a, float(value) if not shape else value.copy())
                o += n
            out[name] = float(m.result())
            for a, value in zip(attrs, local[name]):
                setattr(m, a, float(value) if not value.shape else value)
        return out

    # ---- predict ----------------------------------------------------------------------
    def gather_predictions(self, outs):
        if self._world is None or self._predict_table is None:
            return outs
        table, self._predict_table = self._predict_table, None
        R = self.num_workers
        if len(outs) != len(table) or not outs:
            return outs
        sizes = np.array([[(q + 1) * n // R - q * n // R for q in range(R)] for n, _ in table],
                         dtype=np.int64)  # [batch, rank]
        mine = [o for o, (_, dummy) in zip(outs, table) if not dummy]
        template = _leaves(outs[0])
        leaves_per_batch = [_leaves(o) for o in mine]
        rank_rows = sizes.sum(axis=0)
        rank_start = np.concatenate([[0], np.cumsum(rank_rows)[:-1]])
        within = np.cumsum(sizes, axis=0) - sizes  # offset of batch k inside rank q's block
        perm = np.concatenate([np.arange(rank_start[q] + within[k, q],
                                         rank_start[q] + within[k, q] + sizes[k, q])
                               for k in range(len(table)) for q in range(R)])
        full = []
        for j, t in enumerate(template):
            t = np.asarray(t)
            rest = t.shape[1:]
            local = (np.ascontiguousarray(np.concatenate([lv[j] for lv in leaves_per_batch]))
                     if leaves_per_batch else np.empty((0,) + rest, dtype=t.dtype))
            row = int(np.prod(rest)) if rest else 1
            recv = np.empty((int(rank_rows.sum()),) + rest, dtype=t.dtype)
            self._world.allgatherv(local, recv, rank_rows * row, "predict gather")
            full.append(recv[perm])
        it = iter(full)
        return [_map(lambda _: next(it), outs[0])]

    # ---- callbacks and failures -----------------------------------------------------
    def local_callbacks(self, callbacks, verbose):
        if self._world is None:
            return callbacks, verbose
        # Metric states are reduced after every step only when some rank reads per-batch
        # logs; otherwise once, at each epoch's last step (the logs History etc. see).
        wanted = self._world.allgather_obj(_wants_batch_logs(callbacks, verbose),
                                           "callback check")
        self._batch_logs = any(wanted)
        if self.is_chief:
            return callbacks, verbose
        from fastnet.callbacks import CallbackList

        def keep(c):
            flag = getattr(c, "chief_only", None)
            if flag is not None:
                return not flag
            return not any(k.__name__ in _CHIEF_ONLY for k in type(c).__mro__)

        if isinstance(callbacks, CallbackList):
            kept = CallbackList([c for c in callbacks.callbacks if keep(c)])
            if hasattr(callbacks, "history"):
                kept.history = callbacks.history
            return kept, 0
        return [c for c in (callbacks or []) if keep(c)], 0

    @contextlib.contextmanager
    def guard(self, what):
        if self._world is None:
            yield
            return
        try:
            yield
        except BaseException as e:
            if getattr(e, "_fastnet_all_ranks", False):
                raise
            self._world.abort(f"{what}() raised {type(e).__name__}: {e} -- stopping all "
                              f"{self.num_workers} ranks", e)


class _ShardedAdapter:
    """The rank's slices of an adapter's global batches, in the same order on
    every rank (rank 0's shuffle order is broadcast each epoch)."""

    def __init__(self, strategy, adapter, model, mode, batch_logs):
        self.strategy, self.adapter, self.model, self.mode = strategy, adapter, model, mode
        self.batch_logs = batch_logs
        self._started = False
        self._state_vars = []

    def num_batches(self):
        return self.adapter.num_batches()

    def __iter__(self):
        s, a, world = self.strategy, self.adapter, self.strategy._world
        first = not self._started
        if first:
            s._check_data(a, self.mode)
            self._started = True
        order = a.epoch_order() if hasattr(a, "epoch_order") else None
        if order is not None:
            world.bcast_(order, 0, f"{self.mode} shuffle order")
        batches = a.iter_epoch(order) if hasattr(a, "iter_epoch") else iter(a)
        R, r = s.num_workers, s.rank
        table = []
        if self.mode == "predict":
            s._predict_table = table
        try:
            for (x, y, sw), last in _with_last(batches):
                leaves = _leaves(x)
                n = int(np.shape(leaves[0])[0]) if leaves and np.ndim(leaves[0]) else 1
                lo, hi = r * n // R, (r + 1) * n // R
                dummy = hi == lo
                if dummy:
                    lo, hi = 0, min(1, n)
                take = slice(lo, hi)
                xb, yb, swb = (_map(lambda v, t=take: np.asarray(v)[t], d) for d in (x, y, sw))
                if first:
                    s._sync_model(self.model, xb)
                    self._state_vars = [
                        v for v in self.model.non_trainable_weights
                        if not v.trainable and v._value.dtype.kind == "f"]
                    first = False
                if self.mode == "predict":
                    table.append((n, dummy))
                else:
                    s._begin_step(self.model, self.mode, 0 if dummy else hi - lo, swb, dummy,
                                  self._state_vars, self.batch_logs or last)
                yield xb, yb, swb
            if self.mode == "train":
                s._check_identical(self.model)
        finally:
            s._step = None


def _with_last(iterable):
    """(item, is_last) pairs, reading one item ahead."""
    it = iter(iterable)
    try:
        item = next(it)
    except StopIteration:
        return
    for following in it:
        yield item, False
        item = following
    yield item, True
