"""The compiled training plan: fit / evaluate / predict of a static graph without
Python per op.

``compile(jit_compile="auto")`` (the default) or ``jit_compile=True`` lets the
trainer run a Sequential or functional model through a ``fastnet._C.Plan``
built once per input signature (batch size, input and target shapes, sample
weights or not, mode): forward, the fused loss and its gradient, backward and
the optimizer update of every weight in one C++ call (several steps per call
with ``steps_per_execution``). The weights are the Variables' own numpy
buffers, updated in place, and the optimizer slots its own arrays, so eager
code sees every step. Metrics, the loss trackers and callbacks stay in Python,
fed with the plan's outputs.

Whatever the plan cannot do exactly (see ``compiler.Unsupported``) runs on the
eager path; ``model._plan_status(mode)`` says why (None when the plan runs).
"""

from __future__ import annotations

import threading

import numpy as np

from fastnet.backend.tensor import Tensor
from fastnet.layers.layer import attr_version
from fastnet.plan import compiler
from fastnet.plan.compiler import EVALUATE, PREDICT, TRAIN, Unsupported

__all__ = ["Unsupported", "status", "runner_for", "set_profiling", "profile", "PREDICT",
           "EVALUATE", "TRAIN"]

_MODES = {"train": TRAIN, "test": EVALUATE, "predict": PREDICT}
_MAX_PLANS = 8


def _settings_reason(model):
    from fastnet.distribute import strategy as distribute

    if getattr(model, "_jit_compile_setting", "auto") is False:
        return "jit_compile=False"
    if getattr(model, "run_eagerly", False):
        return "run_eagerly=True"
    strategy = model.distribute_strategy
    if strategy is not distribute.DEFAULT and (
            strategy.num_workers != 1 or getattr(strategy, "_world", None) is not None):
        # one process without a communicator: every hook is the identity, as the default's
        return f"distribution strategy {type(strategy).__name__} with communication"
    return None


_SUBCLASSED = {}  # class -> whether its models are traced (neither Sequential nor functional)
_CLASS_REASONS = {}  # (class, mode) -> what its methods keep off the plan, or None


def _subclassed(model):
    cls = type(model)
    r = _SUBCLASSED.get(cls)
    if r is None:
        from fastnet.models.functional import Functional
        from fastnet.models.sequential import Sequential

        r = _SUBCLASSED[cls] = not issubclass(cls, (Sequential, Functional))
    return r


def _static_reason(model, mode, selected=False):
    """Why `model` cannot use the plan in `mode` for any data, or None. The settings
    are read every call; the graph/loss/optimizer check is cached per compile (and, for
    a subclassed model, per traced graph: the one of the batch at hand when `selected`,
    else the last one traced for `mode`, or the one of the shapes it was built with)."""
    reason = _settings_reason(model)
    if reason is not None:
        return reason
    runner = runner_for(model)
    if _subclassed(model):
        if not selected:  # (else run() checked the model and selected the batch's graph)
            reason = _subclass_reason(model, mode)
            if reason is not None:
                return reason
            try:
                runner.select(mode, None)
            except Unsupported as e:
                return str(e)
        graph = model.__dict__.get("_plan_traced")  # the key keeps it (and its id) alive
    else:
        graph = id(getattr(model, "_graph", None))
    key = (mode, graph, getattr(model, "optimizer", None))
    if key in runner.reasons:
        return runner.reasons[key]
    reason = _model_reason(model, mode)
    if reason is None or "not resolved" not in reason:  # 'crossentropy' resolves on a batch
        runner.reasons[key] = reason
    return reason


def _check_metrics(model):
    """The metrics update from copies of the plan's outputs, which carry no logits: a
    cross-entropy metric (eagerly computed from a softmax/sigmoid output's logits) trains
    eagerly instead."""
    from fastnet.metrics import probabilistic_metrics as pm

    ce = (pm.CategoricalCrossentropy, pm.SparseCategoricalCrossentropy, pm.BinaryCrossentropy)
    cm = model.compiled_metrics
    given = [m for _, m, _ in getattr(cm, "metrics", ())]
    for spec in (getattr(cm, "spec", None), getattr(cm, "weighted_spec", None)):
        for per_output in spec or ():
            given.extend(per_output or ())
    for metric in given:
        name = metric if isinstance(metric, str) else getattr(
            metric, "name", getattr(metric, "__name__", ""))
        if isinstance(metric, ce) or "crossentropy" in str(name):
            raise Unsupported(f"metric {name!r}: a cross-entropy metric is computed from the "
                              "output's logits, which the plan does not keep")


def _model_reason(model, mode):
    from fastnet.models.functional import Functional
    from fastnet.models.model import Model
    from fastnet.models.sequential import Sequential
    from fastnet.trainers.trainer import Trainer

    cls = type(model)
    step = {TRAIN: "train_step", EVALUATE: "test_step", PREDICT: "predict_step"}[mode]
    if getattr(cls, step) is not getattr(Trainer, step):
        return f"{cls.__name__} overrides {step}"
    if mode != PREDICT and cls.compute_loss is not Trainer.compute_loss:
        return f"{cls.__name__} overrides compute_loss"
    if cls.__call__ is not Model.__call__:
        return f"{cls.__name__} overrides __call__"
    if isinstance(model, Sequential):
        if cls.call is not Sequential.call:
            return f"{cls.__name__} overrides call"
    elif isinstance(model, Functional):
        if cls.call is not Functional.call:
            return f"{cls.__name__} overrides call"
    try:
        compiler.check_layers(model)
        if mode != PREDICT:
            if not getattr(model, "compiled", False):
                return "the model is not compiled"
            if getattr(model, "_loss_spec", (None,))[0] is None:
                return "compile() was given no loss"
            if mode == TRAIN:
                compiler.optimizer_kind(model.optimizer)
            runner = runner_for(model)
            runner._ensure_compiled_objects()
            runner._loss_specs()
            _check_metrics(model)
    except Unsupported as e:
        return str(e)
    return None


def _subclass_reason(model, mode):
    """What keeps a subclassed model off the plan before its call is traced, or None."""
    from fastnet.layers.layer import Layer
    from fastnet.models.model import Model
    from fastnet.trainers.trainer import Trainer

    cls = type(model)
    key = (cls, mode)
    if key not in _CLASS_REASONS:
        step = {TRAIN: "train_step", EVALUATE: "test_step", PREDICT: "predict_step"}[mode]
        reason = None
        if getattr(cls, step) is not getattr(Trainer, step):
            reason = f"{cls.__name__} overrides {step}"
        elif mode != PREDICT and cls.compute_loss is not Trainer.compute_loss:
            reason = f"{cls.__name__} overrides compute_loss"
        elif cls.__call__ is not Model.__call__:
            reason = f"{cls.__name__} overrides __call__"
        elif cls.call is Layer.call:
            reason = f"subclassed model {cls.__name__} has no call"
        elif cls._call_with_context is not Layer._call_with_context:
            reason = f"{cls.__name__} overrides _call_with_context"
        _CLASS_REASONS[key] = reason
    if _CLASS_REASONS[key] is not None:
        return _CLASS_REASONS[key]
    if not (model._own_weights or model.activity_regularizer is not None or (
            model.dtype != "float32" and model.autocast)):
        return None
    name = f"subclassed model {cls.__name__} {model.name!r}"
    if model._own_weights:
        names = [w.name for w in model._own_weights]
        return f"{name} has weights of its own ({names}), not of a layer the plan lowers"
    if model.activity_regularizer is not None:
        return f"{name} has an activity_regularizer"
    if model.dtype != "float32" and model.autocast:
        return f"{name} computes in {model.dtype}"
    return None


def status(model, mode="train"):
    """None when `model` runs `mode` ("train", "test", "predict") on the plan, else
    the reason it runs eagerly. Data-dependent reasons (a target shape the plan does
    not take, labels out of range) are in ``model._plan_last[mode]`` after a call."""
    return _static_reason(model, _MODES[mode])


def set_profiling(model, on=True):
    """Times every instruction of `model`'s plans (those built and those built later) from
    now on, or stops; either clears the totals. Off by default (no cost when off)."""
    r = runner_for(model)
    r.profiling = bool(on)
    for pb in r.plans.values():
        pb.plan.set_profiling(r.profiling)


def profile(model):
    """[(mode, list, layer, op, seconds, calls)] per plan instruction since
    ``set_profiling(model)``: list is forward, loss, backward or update; layer the layer
    (or weight, for updates) the instruction belongs to; seconds the total over `calls`."""
    names = {TRAIN: "train", EVALUATE: "test", PREDICT: "predict"}
    out = []
    for key, pb in runner_for(model).plans.items():
        if pb.plan.profiling:
            out += [(names[key[0]],) + row for row in pb.profile()]
    return out


class _Refused:
    """A signature whose trace was refused: the reason, and what it depended on."""

    __slots__ = ("reason", "layers", "version")

    def __init__(self, reason, layers):
        self.reason = reason
        self.layers = layers
        self.version = None


class Runner:
    """The plans of one model (one per signature) and the Python side of a step."""

    def __init__(self, model):
        self.model = model
        self.plans = {}
        self.reasons = {}  # (mode, graph, optimizer) -> the cached model check
        self._specs = None  # (compiled loss, its losses, their plan specs)
        self._graph = None  # (graph key, graph_of(model))
        self.last = {}  # mode name -> "plan" or the reason for the eager path
        # A plan's arena and output buffers serve one call at a time: a call from another
        # thread while one runs takes the eager path instead of waiting (or racing).
        self._busy = threading.Lock()
        self.profiling = False
        self.traces = {}  # (training, input signature) -> TracedGraph or _Refused
        self.active = {}  # training -> the TracedGraph selected last

    # ---- a subclassed model's graph ------------------------------------------------------
    def select(self, mode, x):
        """Makes the traced graph of `mode` for inputs like `x` the one graph_of returns
        (x None: the last one selected for `mode`, else the shapes the model was built
        with); traces call on the first use of a signature. Raises Unsupported."""
        from fastnet.plan import trace

        model = self.model
        training = mode == TRAIN
        if not model.built:
            if x is None:
                raise Unsupported(f"the subclassed model {type(model).__name__} "
                                  f"{model.name!r} is not built yet (its call is traced on "
                                  "the first batch)")
            # what the eager path's first call does before its call (Layer._call_entry)
            try:
                model._maybe_build(model._build_shape_arg(x))
            except Exception as e:  # noqa: BLE001 - the eager path raises it again
                raise Unsupported(f"building {model.name!r} failed ({type(e).__name__})") \
                    from None
        if x is None:
            g = self.active.get(training)
            if g is None:
                sig = self._built_signature()
            else:
                sig = g.signature
        else:
            sig = trace.signature(x)
        key = (training, sig)
        g = self.traces.get(key)  # a TracedGraph, or a _Refused
        version = attr_version[0]
        if g is not None and g.version != version:
            # some layer's attributes were set since: the trace holds if what it read holds
            if g.layers == trace.fingerprint(model, model._flatten_layers()):
                g.version = version
            else:
                g = None
        if g is None:
            try:
                g = trace.trace(model, training, sig)
            except Unsupported as e:
                g = _Refused(str(e), trace.fingerprint(model, model._flatten_layers()))
            g.version = attr_version[0]
            if len(self.traces) >= 4 * _MAX_PLANS:
                self.traces.pop(next(iter(self.traces)))
            self.traces[key] = g
        if isinstance(g, _Refused):
            raise Unsupported(g.reason)
        self.active[training] = g
        object.__setattr__(model, "_plan_traced", g)
        return g

    def _built_signature(self):
        """The signature of the inputs the model was first called (or built) with."""
        model = self.model
        shapes = model._build_shapes
        if shapes is None:
            shapes = getattr(model, "_build_input_shape", None)
        if shapes is None:
            raise Unsupported(f"subclassed model {type(model).__name__} {model.name!r}: no "
                              "batch seen yet (its call is traced on the first planned batch)")

        def sig(s):
            if isinstance(s, dict):
                return ("dict", tuple((k, sig(v)) for k, v in s.items()))
            if isinstance(s, list) and s and all(isinstance(v, (list, tuple)) for v in s):
                return ("list", tuple(sig(v) for v in s))
            s = tuple(s)
            if not s or any(d is None for d in s[1:]):
                raise Unsupported(f"built shape {s}")
            return ("leaf", tuple(int(d) for d in s[1:]), "float32")

        return sig(shapes)

    # ---- data ------------------------------------------------------------------------
    def _inputs(self, x, in_kts):
        if _subclassed(self.model):
            from fastnet.plan.trace import flatten_inputs

            xs = flatten_inputs(x)
        else:
            xs = x if isinstance(x, (list, tuple)) else [x]
        if (isinstance(x, dict) and not _subclassed(self.model)) or len(xs) != len(in_kts):
            raise Unsupported("the inputs' structure (a dict, or not one array per Input)")
        out = []
        for v, kt in zip(xs, in_kts):
            a = v._value if isinstance(v, Tensor) else v
            # the Input's dtype (float32, or int32 indices), cast as the eager model does
            dt = np.int32 if kt.dtype == "int32" else np.float32
            if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
                a = np.asarray(a)
                if a.dtype.kind not in "fiub":
                    raise Unsupported(f"input of dtype {a.dtype}")
                a = np.ascontiguousarray(a, dtype=dt)
            shp = kt.shape
            if a.ndim != len(shp) or any(w is not None and w != g
                                         for w, g in zip(shp[1:], a.shape[1:])):
                raise Unsupported(f"input shape {a.shape} (the Input is {shp})")
            out.append(a)
        return out

    def _loss_specs(self):
        cl = self.model.compiled_loss
        cached = self._specs
        if cached is not None and cached[0] is cl and cached[1] == len(cl.losses) and all(
                a is b for a, b in zip(cached[2], cl.losses)):
            return cached[3]
        specs = self._compute_loss_specs(cl)
        self._specs = (cl, len(cl.losses), list(cl.losses), specs)
        return specs

    def _compute_loss_specs(self, cl):
        specs = []
        for name, fn, w in zip(cl.output_names, cl.losses, cl.weights):
            if fn is None:
                specs.append(None)
                continue
            if isinstance(fn, str):
                raise Unsupported("loss 'crossentropy' not resolved yet")
            family, from_logits, reduction = compiler.loss_family(fn, f"output {name!r}")
            specs.append((family, from_logits, reduction, float(w)))
        return specs

    def _targets(self, y, specs, out_shapes):
        from fastnet.trainers.compile_utils import flatten_outputs

        names = self.model.compiled_loss.output_names
        if y is None:
            raise Unsupported("no targets")
        ys = flatten_outputs(y, names)
        if len(ys) != len(specs):
            raise Unsupported("targets do not match the outputs")
        out = []
        for v, spec, shp in zip(ys, specs, out_shapes):
            if spec is None:
                continue
            if v is None:
                raise Unsupported("an output without a target")
            a = v._value if isinstance(v, Tensor) else np.asarray(v)
            family = spec[0]
            batch = shp[0]
            if family == "sparse":
                if a.shape not in (shp[:-1], shp[:-1] + (1,)) or a.dtype.kind not in "iuf":
                    raise Unsupported(f"sparse targets of shape {a.shape} for an output "
                                      f"{shp}")
                lab = np.ascontiguousarray(a, dtype=np.int32).reshape(-1)
                if lab.size and (lab.min() < 0 or lab.max() >= shp[-1]):
                    raise Unsupported("labels out of range")
                out.append(lab)
            else:
                if a.shape != shp and not (len(shp) == 2 and shp[1] == 1 and a.shape == (batch,)):
                    raise Unsupported(f"targets of shape {a.shape} for an output {shp}")
                if a.dtype.kind not in "iufb":
                    raise Unsupported(f"targets of dtype {a.dtype}")
                out.append(np.ascontiguousarray(a, dtype=np.float32).reshape(shp))
        return out

    @staticmethod
    def _sample_weight(sw, batch, n):
        if sw is None:
            return None
        if isinstance(sw, (list, tuple, dict)):
            raise Unsupported("per-output sample weights")
        a = sw._value if isinstance(sw, Tensor) else np.asarray(sw)
        if a.shape not in ((batch,), (batch, 1)) or a.dtype.kind not in "iufb":
            raise Unsupported(f"sample_weight of shape {a.shape}")
        a = np.ascontiguousarray(a, dtype=np.float32).reshape(batch)
        return [a] * n

    # ---- plans -------------------------------------------------------------------------
    def _get(self, mode, key, steps, make):
        pb = self.plans.get(key)
        if pb is not None and pb.max_steps >= steps and self._fresh(pb):
            return pb
        if len(self.plans) >= _MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        pb = make(max(steps, pb.max_steps if pb is not None else 1))
        pb.trainable = tuple(id(w) for w in self.model.trainable_weights)
        if self.profiling:
            pb.plan.set_profiling(True)
        self.plans[key] = pb
        return pb

    def _fresh(self, pb):
        """The bound weights/slots are still the model's arrays and the trainable set
        is the one the plan was built for."""
        opt = self.model.optimizer
        for var in pb.__dict__.get("_vars", ()):
            if var._value is not pb._wrefs_arrays.get(id(var)):
                return False
        if pb.weights:
            for var in pb.weights:
                if opt._slots.get(id(var)) is not pb.slot_lists.get(id(var)):
                    return False
        return tuple(id(w) for w in self.model.trainable_weights) == pb.trainable

    def _build(self, mode, batch, steps, specs=None, with_sw=False, input_shapes=None):
        pb = compiler.build(self.model, mode, batch, steps, specs, with_sw, input_shapes)
        pb._wrefs_arrays = {id(v): v._value for v in pb.__dict__.get("_vars", ())}
        opt = self.model.optimizer
        pb.slot_lists = {id(v): opt._slots.get(id(v)) for v in pb.weights}
        return pb

    @staticmethod
    def _fill_masks(pb, steps):
        from fastnet import random as random_mod

        # the draw and its comparison go into buffers kept with the plan (no per-step arrays)
        bufs = pb.__dict__.setdefault("_mask_bufs", {})
        for s in range(steps):
            for layer, mask, shape in pb.masks:
                rate = layer.rate
                if rate >= 1.0:  # Dropout returns zeros without a draw
                    mask[s] = 0.0
                    continue
                b = bufs.get(id(mask))
                if b is None:
                    b = bufs[id(mask)] = (np.empty(shape, np.float64), np.empty(shape, np.bool_))
                # exactly fastnet.random.dropout's draw (same stream, same order) and its
                # float32 keep / (1 - rate)
                random_mod._rng(layer._seed_generator).random(out=b[0])
                np.greater_equal(b[0], rate, out=b[1])
                np.divide(b[1], np.float32(1.0 - rate), out=mask[s].reshape(shape),
                          dtype=np.float32)

    # ---- steps -------------------------------------------------------------------------
    def _group(self, batches, mode):
        """[(arrays per step, batch size, key, x, y, sw)] for runs of same-signature
        batches; raises Unsupported for a batch the plan cannot take."""
        in_kts, out_kts = self._io()
        prepared = []
        for xb, yb, swb in batches:
            xs = self._inputs(xb, in_kts)
            batch = xs[0].shape[0]
            if any(a.shape[0] != batch for a in xs):
                raise Unsupported("inputs with different batch sizes")
            out_shapes = [(batch,) + tuple(kt.shape[1:]) for kt in out_kts]
            token = self.model.__dict__.get("_plan_traced")  # a subclassed model's trace
            if mode == PREDICT:
                arrays = tuple(xs)
                key = (mode, tuple(a.shape for a in xs), token)
            else:
                specs = self._loss_specs()
                ys = self._targets(yb, specs, out_shapes)
                sws = self._sample_weight(swb, batch, len(ys))
                arrays = list(xs)
                yi = iter(ys)
                swi = iter(sws or ())
                for spec in specs:
                    if spec is None:
                        continue
                    arrays.append(next(yi))
                    if sws is not None:
                        arrays.append(next(swi))
                arrays = tuple(arrays)
                key = (mode, tuple(a.shape for a in xs), token, tuple(
                    None if s is None else s[:2] for s in specs), sws is not None)
            prepared.append((arrays, batch, key, xb, yb, swb, out_shapes))
        groups = []
        for p in prepared:
            if groups and groups[-1][0][2] == p[2]:
                groups[-1].append(p)
            else:
                groups.append([p])
        return groups

    def _io(self):
        key = self.model.__dict__.get("_plan_traced") or getattr(self.model, "_graph", None) \
            or self.model
        if self._graph is None or self._graph[0] is not key:
            ins, outs, _ = compiler.graph_of(self.model)
            self._graph = (key, (ins, outs))
        return self._graph[1]

    def _plan_for(self, mode, group):
        first = group[0]
        batch, key, out_shapes = first[1], first[2], first[6]

        def make(steps):
            specs = self._loss_specs() if mode != PREDICT else None
            # key[1]: the inputs' shapes, which give the `None` (time) axes their lengths
            return self._build(mode, batch, steps, specs, key[-1] if mode != PREDICT else False,
                               key[1])

        return self._get(mode, key, len(group), make), out_shapes

    def run(self, mode, batches):
        """Runs `batches` [(x, y, sw)] on the plan; returns per-step results, or None
        (nothing ran) with the reason in ``self.last``."""
        name = {TRAIN: "train", EVALUATE: "test", PREDICT: "predict"}[mode]
        reason = _settings_reason(self.model)
        if reason is None and not self._busy.acquire(blocking=False):
            reason = "the model's plan is running in another thread"
        if reason is not None:
            self.last[name] = reason
            return None
        try:
            if _subclassed(self.model):
                reason = _subclass_reason(self.model, mode)
                if reason is None:
                    reason = self._select_for(mode, batches)
            if reason is None:
                reason = _static_reason(self.model, mode, selected=True)
            if reason is not None:
                self.last[name] = reason
                return None
            try:
                if mode != PREDICT:
                    self._ensure_compiled_objects()
                groups = self._group(batches, mode)
                # every plan built before anything runs: a batch the plan cannot take
                # sends the whole execution down the eager path, none of it twice
                plans = [self._plan_for(mode, g) for g in groups]
            except Unsupported as e:
                self.last[name] = str(e)
                return None
            self.last[name] = "plan"
            return self._run_groups(mode, groups, plans)
        finally:
            self._busy.release()

    def _select_for(self, mode, batches):
        """Selects the traced graph of `batches` (one input signature), or the reason not."""
        from fastnet.plan.trace import signature

        try:
            g = self.select(mode, batches[0][0])
            for xb, _, _ in batches[1:]:
                if signature(xb) != g.signature:
                    return "batches of different input signatures in one execution"
        except Unsupported as e:
            return str(e)
        return None

    def _ensure_compiled_objects(self):
        m = self.model
        if not getattr(m, "_compiled_objects_built", False):
            _, out_kts, _ = compiler.graph_of(m)
            m._ensure_compiled_objects(self._structure(
                [np.zeros((1,) + tuple(kt.shape[1:]), np.float32) for kt in out_kts]))

    def _run_groups(self, mode, groups, plans):
        m = self.model
        results = []
        for group, (pb, _) in zip(groups, plans):
            for c0 in range(0, len(group), pb.max_steps):
                chunk = group[c0:c0 + pb.max_steps]
                steps = len(chunk)
                if mode == TRAIN:
                    hyper = compiler.hyper_rows(m.optimizer, steps)
                    if pb.masks:
                        self._fill_masks(pb, steps)
                else:
                    hyper = _NO_HYPER
                losses = pb.plan.run([c[0] for c in chunk], hyper, mode)
                if mode == TRAIN:
                    it = m.optimizer._iterations
                    it.assign(np.asarray(int(it._value) + steps, np.int64))
                for s, c in enumerate(chunk):
                    outs = [arr[s] for arr in pb.out_arrays]
                    results.append((c, losses[s], outs))
                    if mode != PREDICT:
                        self._after_step(c, losses[s], outs)
                    else:
                        results[-1] = (c, None, [o.copy() for o in outs])
        return results

    def _after_step(self, c, losses, outs):
        """The loss trackers and metrics of one step, as train_step/test_step."""
        m = self.model
        _, batch, _, _, yb, swb, _ = c
        parts = {}
        j = 1
        for name, fn in zip(m.compiled_loss.output_names, m.compiled_loss.losses):
            if fn is None:
                continue
            parts[f"{name}_loss"] = float(losses[j])
            j += 1
        m._track_losses(float(losses[0]), parts, batch)
        cm = m.compiled_metrics
        if any(cm.spec) or any(cm.weighted_spec):
            # the metrics get arrays of their own (the plan's output buffers are reused)
            y_pred = self._structure([o.copy() for o in outs])
            cm.update_state(yb, y_pred, swb)

    def _structure(self, outs):
        traced = self.model.__dict__.get("_plan_traced")
        if traced is not None:
            return list(outs) if traced.struct == "list" else outs[0]
        struct = getattr(self.model, "_output_struct", None)
        from fastnet.models.sequential import Sequential

        if isinstance(self.model, Sequential) or not isinstance(struct, (list, tuple, dict)):
            return outs[0]
        if isinstance(struct, dict):  # outs follow model.outputs: the keys' sorted order
            return dict(zip(sorted(struct), outs))
        return list(outs)

    def structure(self, outs):
        return self._structure(outs)


_NO_HYPER = np.zeros((1, compiler.HYPER_WIDTH), np.float64)


def runner_for(model):
    r = model.__dict__.get("_plan_runner")
    if r is None:
        r = Runner(model)
        object.__setattr__(model, "_plan_runner", r)
    return r
