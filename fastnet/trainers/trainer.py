"""compile / fit / evaluate / predict, mixed into fastnet.Model.

The training step is: forward under a GradientTape → compiled loss (plus the
model's regularization losses) → tape.gradient → the optimizer's fused
in-place update of each weight. Metrics update from the same outputs.
"""

from __future__ import annotations

import numpy as np

from fastnet import config, ops
from fastnet import optimizers as optimizers_mod
from fastnet.callbacks import CallbackList
from fastnet.distribute import strategy as distribute
from fastnet.trainers import data_adapter
from fastnet.trainers.compile_utils import CompileLoss, CompileMetrics, flatten_outputs
from fastnet.utils.general_utils import pack_x_y_sample_weight, unpack_x_y_sample_weight


def _to_tensors(struct):
    if struct is None:
        return None
    if isinstance(struct, dict):
        return {k: _to_tensors(v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return [_to_tensors(v) for v in struct]
    if isinstance(struct, np.ndarray) and struct.dtype.kind in "USO":
        return struct  # string inputs stay numpy arrays (the lookup layers read them)
    return ops.convert_to_tensor(struct)


def _first_leaf(struct):
    if isinstance(struct, dict):
        return _first_leaf(next(iter(struct.values())))
    if isinstance(struct, (list, tuple)):
        return _first_leaf(struct[0])
    return struct


def _batch_len(x):
    leaf = _first_leaf(x)
    return int(leaf.shape[0]) if getattr(leaf, "shape", None) else 1


def _class_weights_to_sample_weights(y, class_weight):
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = y.reshape(y.shape[0], -1)[:, 0].astype(np.int64) if y.ndim else y
    table = np.ones(max(int(labels.max()) + 1 if labels.size else 1,
                        max(class_weight) + 1), dtype=np.float32)
    for k, v in class_weight.items():
        table[int(k)] = float(v)
    return table[labels.astype(np.int64)]


class Trainer:
    """Keras's training API. Expects the host class to provide ``__call__``,
    ``trainable_weights``, ``losses`` and ``output_names``."""

    compiled = False
    optimizer = None
    stop_training = False
    steps_per_execution = 1
    _jit_compile_setting = "auto"  # compile(jit_compile=...): "auto", True or False
    # Consulted for batch slicing, gradient and metric reduction, callback gating
    # (fastnet/distribute/strategy.py); compile() takes the one of the current scope.
    distribute_strategy = distribute.DEFAULT

    # ---- compile ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        self.optimizer = optimizers_mod.get(optimizer)
        self._compile_config = {
            "optimizer": self.optimizer,  # serialized when asked for, as Keras
            "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
        }
        # As Keras 3: a compile() without `loss` (or without metrics) keeps what an
        # earlier compile() gave; the first compile() starts from none.
        if loss is not None or not hasattr(self, "_loss_spec"):
            self.loss = loss
            self._loss_spec = (loss, loss_weights)
        if metrics is not None or weighted_metrics is not None or not hasattr(
                self, "_metric_spec"):
            self._metric_spec = (metrics, weighted_metrics)
        self.compiled_loss = None
        self.compiled_metrics = None
        self._compiled_objects_built = False
        # as Keras, model.metrics lists the loss tracker and "compile_metrics" from
        # compile() on (both are built on the first batch, when the outputs are known)
        from fastnet.metrics import Mean
        self._loss_tracker = Mean(name="loss")
        self._unbuilt_metrics = None
        if any(self._metric_spec):
            try:
                self._unbuilt_metrics = CompileMetrics(*self._metric_spec, self._output_names())
            except ValueError:  # per-output metrics of a model whose outputs are not known
                pass  # yet (a subclassed model): resolved on the first batch
        self.run_eagerly = run_eagerly
        self.compiled = True
        self.stop_training = False
        self.distribute_strategy = distribute.get_strategy()
        self._compile_plan_settings(steps_per_execution, jit_compile, run_eagerly)

    def _compile_plan_settings(self, steps_per_execution, jit_compile, run_eagerly):
        """steps_per_execution and jit_compile, as Keras 3: "auto" (the default) runs
        the compiled plan (fastnet/plan) when the model allows it, True asks for it
        (with a warning and the eager path when the model cannot be planned, as Keras
        warns and proceeds without XLA), False always runs eagerly."""
        import warnings

        if isinstance(steps_per_execution, bool) or not isinstance(
                steps_per_execution, (int, np.integer)) or steps_per_execution < 1:
            raise ValueError("compile: `steps_per_execution` must be an integer >= 1. "
                             f"Received: steps_per_execution={steps_per_execution!r}")
        if jit_compile not in ("auto", True, False):
            raise ValueError('compile: `jit_compile` must be True, False or "auto". '
                             f"Received: jit_compile={jit_compile!r}")
        self.steps_per_execution = int(steps_per_execution)
        self._plan_runner = None
        if jit_compile is True and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                          "Disabling `jit_compile`.", stacklevel=3)
            jit_compile = False
        if jit_compile is True:
            from fastnet import plan

            reason = plan.status(self, "train")
            if reason is not None and "not built" not in reason:
                warnings.warn(f"Model doesn't support `jit_compile=True` ({reason}). Proceeding "
                              "with `jit_compile=False`.", stacklevel=3)
                jit_compile = False
        self._jit_compile_setting = jit_compile
        self.jit_compile = jit_compile is not False
        self._compile_config.update(steps_per_execution=self.steps_per_execution,
                                    jit_compile=jit_compile)

    def _plan_status(self, mode="train"):
        """None when `mode` ("train", "test", "predict") runs on the compiled plan, else
        the reason it runs eagerly (fastnet/plan)."""
        from fastnet import plan

        return plan.status(self, mode)

    def _run_planned(self, mode, batches):
        """The plan's per-step results for `batches`, or None (run them eagerly)."""
        if self._jit_compile_setting is False or getattr(self, "run_eagerly", False):
            return None
        from fastnet import plan

        return plan.runner_for(self).run(mode, batches)

    def _step_execution(self, mode, step, batches):
        """One execution: `batches` [(x, y, sample_weight)] through `step` (train_step or
        test_step) in order, or through the compiled plan for `mode`; the logs after the
        last (as Keras 3's train/test_function with steps_per_execution)."""
        if self._run_planned(mode, batches) is not None:
            return self._logs()
        logs = {}
        for xb, yb, swb in batches:
            logs = step(pack_x_y_sample_weight(_to_tensors(xb), yb, swb))
        return logs

    def _train_execution(self, batches):
        from fastnet import plan

        return self._step_execution(plan.TRAIN, self.train_step, batches)

    def _test_execution(self, batches):
        from fastnet import plan

        return self._step_execution(plan.EVALUATE, self.test_step, batches)

    def _predict_execution(self, batches):
        """The outputs of each batch of `batches` [(x, None, None)], as numpy."""
        from fastnet import plan

        res = self._run_planned(plan.PREDICT, batches)
        if res is not None:
            runner = plan.runner_for(self)
            return [runner.structure(outs) for _, _, outs in res]
        return [_map_numpy(self.predict_step(pack_x_y_sample_weight(_to_tensors(xb))))
                for xb, _, _ in batches]

    def _output_names(self):
        struct = getattr(self, "_output_struct", None)
        if isinstance(struct, dict) and all(not isinstance(v, (dict, list, tuple))
                                            for v in struct.values()):
            # as Keras 3: a dict of outputs is compiled by its keys (sorted, as flattened),
            # whatever the output layers are called
            return sorted(struct)
        names = getattr(self, "output_names", None)
        if names:
            return list(names)
        return ["output"]

    def _ensure_compiled_objects(self, y_pred):
        if getattr(self, "_compiled_objects_built", False):
            return
        names = self._output_names()
        if isinstance(y_pred, (list, tuple)) and len(y_pred) != len(names):
            names = [f"output_{i + 1}" for i in range(len(y_pred))]
        elif not isinstance(y_pred, (list, tuple, dict)):
            names = names[:1]
        self._resolved_output_names = names
        loss, loss_weights = self._loss_spec
        self.compiled_loss = CompileLoss(loss, loss_weights, names) if loss is not None else None
        pending = getattr(self, "_unbuilt_metrics", None)
        self.compiled_metrics = (pending if pending is not None and pending.output_names == names
                                 else CompileMetrics(*self._metric_spec, names))
        self._unbuilt_metrics = None
        if getattr(self, "_loss_tracker", None) is None:
            from fastnet.metrics import Mean
            self._loss_tracker = Mean(name="loss")
        self._output_loss_trackers = {}
        if isinstance(loss, dict) and len(names) > 1 and self.compiled_loss.n_losses > 1:
            from fastnet.metrics import Mean  # as Keras: the `<output>_loss` entries in the
            for key, fn in loss.items():  # order of the loss dict's keys
                if fn is not None and key in names:
                    self._output_loss_trackers[f"{key}_loss"] = Mean(name=f"{key}_loss")
        self._compiled_objects_built = True

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model in `{what}`.")

    # ---- steps -----------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3's contract: the total loss as a scalar tensor — the compiled loss
        (if `compile` was given one) plus every loss in ``self.losses`` (`add_loss`,
        activity and weight regularizers). Subclasses may override it."""
        if y_pred is not None:
            # A custom train_step may call this before any built-in step has run.
            self._ensure_compiled_objects(y_pred)
        terms = []
        self._last_loss_parts = {}
        if self.compiled_loss is not None:
            total, self._last_loss_parts = self.compiled_loss(y, y_pred, sample_weight)
            terms.append(total)
        terms.extend(ops.sum(r) for r in (getattr(self, "losses", None) or []))
        if not terms:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()` "
                             "(or add losses with `add_loss`).")
        return terms[0] if len(terms) == 1 else ops.sum(ops.stack(terms))

    def _compute_loss(self, x, y, y_pred, sample_weight, training):
        """Calls a possibly overridden compute_loss (without `training` before Keras 3.3)."""
        self._last_loss_parts = {}
        fn = self.compute_loss
        if _takes_training(type(self).compute_loss):
            loss = fn(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        else:
            loss = fn(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        if isinstance(loss, tuple):
            raise TypeError(f"{type(self).__name__}.compute_loss must return the total loss as "
                            f"a scalar tensor (Keras 3), got a tuple of {len(loss)}")
        loss = ops.convert_to_tensor(loss)
        if loss.ndim:
            raise ValueError(f"{type(self).__name__}.compute_loss must return a scalar, got "
                             f"shape {loss.shape}")
        return loss, getattr(self, "_last_loss_parts", {})

    def _track_losses(self, loss, parts, batch_size):
        self._loss_tracker.update_state(float(loss), sample_weight=batch_size)
        # as Keras: one `<output>_loss` entry per output only when several outputs have
        # a loss
        if len(self._resolved_output_names) > 1 and self.compiled_loss.n_losses > 1:
            from fastnet.metrics import Mean
            for k, v in parts.items():
                t = self._output_loss_trackers.setdefault(k, Mean(name=k))
                t.update_state(float(v), sample_weight=batch_size)

    def _logs(self):
        logs = {"loss": float(self._loss_tracker.result())}
        for k, t in self._output_loss_trackers.items():
            logs[k] = float(t.result())
        logs.update(self.compiled_metrics.result())
        return logs

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    @property
    def metrics(self):
        """As Keras 3: the loss tracker, "compile_metrics" (every compiled metric), the
        per-output loss trackers, then the Metric objects the model holds as attributes.
        fit/evaluate reset them all at the start of each epoch / evaluation. A subclass may
        override this property to list its own (the "customizing fit()" guide)."""
        out = []
        if getattr(self, "_compiled_objects_built", False):
            out.append(self._loss_tracker)
            out.append(self.compiled_metrics)
            out.extend(self._output_loss_trackers.values())
        elif getattr(self, "compiled", False):  # compiled, before the first batch
            out.append(self._loss_tracker)
            if self._unbuilt_metrics is not None:
                out.append(self._unbuilt_metrics)
        out.extend(self._attribute_metrics())
        return out

    def _attribute_metrics(self):
        from fastnet.metrics import Metric

        internal = {id(getattr(self, "_loss_tracker", None))}
        internal.update(id(t) for t in getattr(self, "_output_loss_trackers", {}).values())
        found, seen = [], set()
        for value in vars(self).values():  # read every step: the common case first
            if isinstance(value, Metric):
                candidates = (value,)
            elif isinstance(value, (list, tuple)):
                candidates = value
            else:
                continue
            for v in candidates:
                if isinstance(v, Metric) and id(v) not in internal and id(v) not in seen:
                    seen.add(id(v))
                    found.append(v)
        return found

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def train_step(self, data):
        from fastnet import GradientTape

        # `data` is what the data adapter packs, as in Keras 3: x, (x, y) or (x, y, sw)
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            self._ensure_compiled_objects(y_pred)
            loss, parts = self._compute_loss(x, y, y_pred, sample_weight, True)
            scaled_loss = self.optimizer.scale_loss(loss)  # LossScaleOptimizer (Keras 3)
        # Read after the forward pass: a subclassed model creates its weights in its first
        # call, and reading them before would skip the first batch's update.
        weights = self.trainable_weights
        grads = tape.gradient(scaled_loss, weights)
        grads = self.distribute_strategy.reduce_gradients(grads, self)
        self.optimizer.apply(grads, weights)
        self._track_losses(loss, parts, _batch_len(x))
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return self._logs()

    def test_step(self, data):
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self._ensure_compiled_objects(y_pred)
        loss, parts = self._compute_loss(x, y, y_pred, sample_weight, False)
        self._track_losses(loss, parts, _batch_len(x))
        self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return self._logs()

    def predict_step(self, data):
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ---- loops -----------------------------------------------------------------
    def _prepare(self, x, y, sample_weight, class_weight):
        if class_weight is not None:
            if y is None or isinstance(y, (list, tuple, dict)) and len(flatten_outputs(
                    y, self._output_names())) > 1:
                raise ValueError("class_weight is only supported for a single output with "
                                 "array targets")
            cw = _class_weights_to_sample_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else np.asarray(sample_weight) * cw
        return sample_weight

    @distribute.guarded
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        self._require_compiled("fit")
        verbose = 1 if verbose == "auto" else verbose
        epochs = config._limit_epochs(epochs)  # keras.config.set_max_epochs
        steps_per_epoch = config._limit_steps(steps_per_epoch)
        strategy = self.distribute_strategy
        callbacks, verbose = strategy.local_callbacks(callbacks, verbose)
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = data_adapter.split_validation(
                x, y, sample_weight, validation_split)
        sample_weight = self._prepare(x, y, sample_weight, class_weight)
        train = data_adapter.adapter_for(x, y, sample_weight, batch_size, shuffle,
                                         steps_per_epoch)
        val = None
        if validation_data is not None:
            if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
                vx, vy = validation_data[0], validation_data[1]
                vsw = validation_data[2] if len(validation_data) == 3 else None
                val = data_adapter.adapter_for(vx, vy, vsw, validation_batch_size or batch_size,
                                               False, validation_steps)
            else:
                val = data_adapter.adapter_for(validation_data, steps=validation_steps)
        train = strategy.distribute_data(train, self, "train")
        val = strategy.distribute_data(val, self, "test")
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, model=self, add_history=True, add_progbar=verbose != 0,
            epochs=epochs, steps=train.num_batches(), verbose=verbose, in_fit=False)
        self.stop_training = False
        cbs.on_train_begin()
        # a callback may move the start (BackupAndRestore resuming an interrupted fit)
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
        self._initial_epoch = None
        logs = {}
        for epoch in range(initial_epoch, epochs):
            if self._compiled_objects_built:
                self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            step = -1
            for begin, step, batches in _executions(train, self.steps_per_execution):
                cbs.on_train_batch_begin(begin)
                logs = self._train_execution(batches)
                logs = _sorted_logs(strategy.reduce_logs(self, _pythonify_logs(logs)))
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if step < 0 and epoch == initial_epoch:
                # as Keras: no step to run is an error, not an empty history
                raise ValueError("fit: the training data produced no batches (0 samples?)")
            epoch_logs = dict(logs)
            logs = epoch_logs
            if val is not None and (epoch + 1) % validation_freq == 0:
                cbs.set_params({**cbs.params, "in_fit": True})
                val_logs = _sorted_logs(self._evaluate_loop(val, cbs))
                cbs.set_params({**cbs.params, "in_fit": False})
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        if epochs > 0:  # with use_ema the weights end as their moving averages, as in Keras
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(logs)
        return cbs.history

    def _evaluate_loop(self, adapter, cbs):
        if self._compiled_objects_built:
            self._reset_metrics()
        cbs.on_test_begin()
        logs = {}
        for begin, step, batches in _executions(adapter, self.steps_per_execution):
            cbs.on_test_batch_begin(begin)
            logs = self._test_execution(batches)
            logs = self.distribute_strategy.reduce_logs(self, _pythonify_logs(logs))
            cbs.on_test_batch_end(step, _sorted_logs(logs))
        cbs.on_test_end(_sorted_logs(logs))
        return logs  # in the metrics' order: evaluate() lists the values in it

    @distribute.guarded
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        self._require_compiled("evaluate")
        verbose = 1 if verbose == "auto" else verbose
        strategy = self.distribute_strategy
        callbacks, verbose = strategy.local_callbacks(callbacks, verbose)
        adapter = data_adapter.adapter_for(x, y, sample_weight, batch_size, False,
                                           config._limit_steps(steps))
        adapter = strategy.distribute_data(adapter, self, "test")
        cbs = CallbackList(callbacks, model=self, add_progbar=verbose != 0,
                           steps=adapter.num_batches(), verbose=verbose, in_fit=False)
        logs = self._evaluate_loop(adapter, cbs)
        if not logs:
            raise ValueError("evaluate: the input data produced no batches (0 samples?)")
        if return_dict:
            return _sorted_logs(logs)
        names = ["loss"] + [k for k in logs if k != "loss"]
        values = [logs[k] for k in names]
        return values[0] if len(values) == 1 else values

    @distribute.guarded
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        verbose = 1 if verbose == "auto" else verbose
        strategy = self.distribute_strategy
        callbacks, verbose = strategy.local_callbacks(callbacks, verbose)
        adapter = data_adapter.adapter_for(x, None, None, batch_size, False,
                                           config._limit_steps(steps))
        adapter = strategy.distribute_data(adapter, self, "predict")
        cbs = CallbackList(callbacks, model=self, add_progbar=verbose != 0,
                           steps=adapter.num_batches(), verbose=verbose)
        cbs.on_predict_begin()
        outs = []
        for begin, step, batches in _executions(adapter, self.steps_per_execution):
            cbs.on_predict_batch_begin(begin)
            step_outs = self._predict_execution(batches)
            outs.extend(step_outs)
            cbs.on_predict_batch_end(step, {"outputs": step_outs[0] if len(step_outs) == 1
                                            else _concat_outputs(step_outs)})
        cbs.on_predict_end()
        outs = strategy.gather_predictions(outs)
        if not outs:
            raise ValueError("predict: the input data produced no batches")
        return _concat_outputs(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        self._require_compiled("train_on_batch")
        sample_weight = self._prepare(x, y, sample_weight, class_weight)
        if self._compiled_objects_built:
            self._reset_metrics()
        logs = _pythonify_logs(self._train_execution([(x, y, sample_weight)]))
        return _sorted_logs(logs) if return_dict else _flat_logs(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        if self._compiled_objects_built:
            self._reset_metrics()
        logs = _pythonify_logs(self._test_execution([(x, y, sample_weight)]))
        return _sorted_logs(logs) if return_dict else _flat_logs(logs)

    def predict_on_batch(self, x):
        return self._predict_execution([(x, None, None)])[0]

    def get_compile_config(self):
        cfg = dict(getattr(self, "_compile_config", {}) or {})
        opt = cfg.get("optimizer")
        if opt is not None and not isinstance(opt, (dict, str)):
            cfg["optimizer"] = optimizers_mod.serialize(opt)
        return cfg


def _executions(batches, n):
    """(first step, last step, [batches]) per execution of `n` steps, as Keras 3's
    EpochIterator: the last step index is first + n - 1 even when the data ends
    before it."""
    import itertools

    it = iter(batches)
    begin = 0
    while True:
        group = list(itertools.islice(it, n))
        if not group:
            return
        yield begin, begin + n - 1, group
        begin += n


_TAKES_TRAINING = {}


def _takes_training(fn):
    """Whether a compute_loss override has the `training` argument (Keras >= 3.3)."""
    if fn not in _TAKES_TRAINING:
        import inspect

        params = inspect.signature(fn).parameters
        _TAKES_TRAINING[fn] = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    return _TAKES_TRAINING[fn]


def _pythonify_logs(logs):
    """A step's logs as Keras 3 hands them to callbacks: nested dicts (a custom train_step
    returning {m.name: m.result()} with "compile_metrics" among them) flattened, scalar
    tensors as floats; array results (per-class metrics) stay arrays."""
    if not isinstance(logs, dict):
        return logs
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(_pythonify_logs(v))
            continue
        if hasattr(v, "numpy"):
            v = v.numpy()
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = float(v)
        elif isinstance(v, (np.floating, np.integer)):
            v = float(v)
        out[k] = v
    return out


def _sorted_logs(logs):
    """Logs as Keras 3 hands them to callbacks, History and return_dict: by key (its
    pythonify_logs sorts them; validation entries follow the training ones)."""
    return dict(sorted(logs.items())) if isinstance(logs, dict) else logs


def _flat_logs(logs):
    names = ["loss"] + [k for k in logs if k != "loss"]
    values = [logs[k] for k in names if k in logs]
    return values[0] if len(values) == 1 else values


def _map_numpy(out):
    if isinstance(out, dict):
        return {k: _map_numpy(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [_map_numpy(v) for v in out]
    return out.numpy() if hasattr(out, "numpy") else np.asarray(out)


def _concat_outputs(outs):
    first = outs[0]
    if isinstance(first, dict):
        return {k: np.concatenate([o[k] for o in outs]) for k in first}
    if isinstance(first, list):
        return [np.concatenate([o[i] for o in outs]) for i in range(len(first))]
    return np.concatenate(outs)
