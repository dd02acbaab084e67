"""What `compile` keeps: losses and metrics matched to the model's outputs.

Losses and metrics may be given once (every output), as a list (one per
output, in order) or as a dict keyed by output name, as Keras. Log names
follow Keras: ``loss``, ``<output>_loss``, ``accuracy`` or
``<output>_accuracy`` when there are several outputs.
"""

from __future__ import annotations

import numpy as np

from fastnet import losses as losses_mod
from fastnet import metrics as metrics_mod


def flatten_outputs(y, output_names):
    """Model outputs / targets as a list ordered like `output_names`."""
    if isinstance(y, dict):
        missing = [n for n in output_names if n not in y]
        if missing:
            raise ValueError(f"Missing data for output(s) {missing}; the model's outputs are "
                             f"{output_names}, received keys {sorted(y)}")
        return [y[n] for n in output_names]
    if isinstance(y, (list, tuple)):
        return list(y)
    return [y]


def _per_output(spec, output_names, what):
    n = len(output_names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in output_names]
        if unknown:
            raise ValueError(f"compile: {what} given for unknown output(s) {unknown}; the "
                             f"model's outputs are {output_names}")
        if what == "loss" and set(spec) != set(output_names):
            # Keras 3: a loss dict names every output (None for an output without loss)
            raise ValueError(f"Expected keys {output_names} in loss dict, but found "
                             f"loss.keys()={list(spec)}")
        return [spec.get(name) for name in output_names]
    if what == "loss":
        if isinstance(spec, (list, tuple)):
            if len(spec) != n:
                raise ValueError(f"compile: got {len(spec)} losses for a model with {n} "
                                 f"output(s) {output_names}")
            return list(spec)
        return [spec] * n
    # Metrics: a list of lists is one list per output; anything else applies to every output.
    if (isinstance(spec, (list, tuple)) and n > 1 and len(spec) == n
            and all(s is None or isinstance(s, (list, tuple)) for s in spec)):
        return list(spec)
    return [spec] * n


class CompileLoss:
    def __init__(self, loss, loss_weights, output_names):
        self.output_names = list(output_names)
        fns = _per_output(loss, self.output_names, "loss")
        # 'crossentropy' / 'ce' is resolved on the first batch, from the shapes
        self.losses = [f if _is_auto_crossentropy(f) else _as_loss(losses_mod.get(f), f)
                       for f in fns]
        if loss_weights is None:
            self.weights = [1.0] * len(self.losses)
        elif isinstance(loss_weights, dict):
            self.weights = [float(loss_weights.get(n, 1.0)) for n in self.output_names]
        else:
            if len(loss_weights) != len(self.losses):
                raise ValueError(f"compile: loss_weights has {len(loss_weights)} entries for "
                                 f"{len(self.losses)} output(s)")
            self.weights = [float(w) for w in loss_weights]
        self.multi = len(self.output_names) > 1
        self.n_losses = sum(f is not None for f in self.losses)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Returns (total loss tensor, {per-output name: loss tensor})."""
        trues = flatten_outputs(y_true, self.output_names)
        preds = flatten_outputs(y_pred, self.output_names)
        if len(trues) != len(preds):
            raise ValueError(f"The model has {len(preds)} output(s) but {len(trues)} target(s) "
                             "were given")
        sws = (flatten_outputs(sample_weight, self.output_names)
               if isinstance(sample_weight, (list, tuple, dict)) else [sample_weight] * len(preds))
        total = None
        parts = {}
        for name, fn, w, yt, yp, sw in zip(self.output_names, self.losses, self.weights, trues,
                                           preds, sws):
            if fn is None or yt is None:
                continue
            if _is_auto_crossentropy(fn):
                fn = self._resolve_crossentropy(name, fn, yt, yp)
            value = fn(yt, yp, sample_weight=sw)
            parts[f"{name}_loss"] = value
            term = value * w if w != 1.0 else value
            total = term if total is None else total + term
        if total is None:
            raise ValueError("No loss to compute: compile() was given no loss for any output "
                             "that has a target")
        return total, parts


    def _resolve_crossentropy(self, name, identifier, y_true, y_pred):
        kind = _binary_or_sparse(y_true, y_pred)
        fn = {"binary": losses_mod.binary_crossentropy,
              "sparse": losses_mod.sparse_categorical_crossentropy,
              "categorical": losses_mod.categorical_crossentropy}[kind]
        loss = losses_mod.LossFunctionWrapper(fn, name=identifier)
        self.losses[self.output_names.index(name)] = loss
        return loss


def _is_auto_crossentropy(identifier):
    return isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce")


def _as_loss(fn, identifier):
    """As Keras's get_loss: a plain function (built-in or custom) is wrapped in a
    LossFunctionWrapper, so targets and outputs get their ranks reconciled first."""
    if fn is None or isinstance(fn, losses_mod.Loss):
        return fn
    name = identifier if isinstance(identifier, str) else getattr(fn, "__name__", None)
    return losses_mod.LossFunctionWrapper(fn, name=name)


def _binary_or_sparse(y_true, y_pred):
    """Keras's is_binary_or_sparse_categorical: 'binary', 'sparse' or 'categorical'."""
    t_shape, p_shape = tuple(np.shape(y_true)), tuple(np.shape(y_pred))
    t_last = t_shape[-1] if t_shape else None
    p_last = p_shape[-1] if p_shape else None
    if p_last == 1:
        return "binary"
    if len(t_shape) < len(p_shape) or (t_last == 1 and p_last is not None and p_last > 1):
        return "sparse"
    return "categorical"


def _resolve_metric(identifier, y_true, y_pred):
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        cls = {"binary": metrics_mod.BinaryAccuracy,
               "sparse": metrics_mod.SparseCategoricalAccuracy,
               "categorical": metrics_mod.CategoricalAccuracy}[_binary_or_sparse(y_true, y_pred)]
        return cls(name=identifier)
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        raise ValueError("metric 'crossentropy' is ambiguous here; name the exact loss")
    metric = metrics_mod.get(identifier)
    if isinstance(identifier, str):  # as Keras: logged under the name it was given ('mae')
        metric.name = identifier
    return metric


class CompileMetrics:
    """Metrics per output, built on the first batch (so 'accuracy' can look at shapes).
    In ``model.metrics`` it is the one entry named "compile_metrics", as in Keras 3: its
    ``result()`` is a dict of every compiled metric's value."""

    name = "compile_metrics"

    def __init__(self, metrics, weighted_metrics, output_names):
        self.output_names = list(output_names)
        self.spec = _per_output(metrics, self.output_names, "metrics") if metrics else \
            [None] * len(self.output_names)
        self.weighted_spec = (_per_output(weighted_metrics, self.output_names, "metrics")
                              if weighted_metrics else [None] * len(self.output_names))
        self.built = False
        self.metrics = []  # (output index, Metric, weighted)

    def build(self, trues, preds):
        # unweighted metrics first, then weighted ones, as Keras orders its logs
        for weighted, specs in ((False, self.spec), (True, self.weighted_spec)):
            for i, spec in enumerate(specs):
                for ident in _as_list(spec):
                    self.metrics.append((i, _resolve_metric(ident, trues[i], preds[i]),
                                         weighted))
        self.built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not any(_as_list(s) for s in self.spec + self.weighted_spec):
            return
        trues = [None if t is None else _numpy(t) for t in flatten_outputs(y_true, self.output_names)]
        outputs = flatten_outputs(y_pred, self.output_names)
        preds = [_numpy(p) for p in outputs]
        if not self.built:
            self.build(trues, preds)
        for i, m, weighted in self.metrics:
            if trues[i] is None:
                continue
            # the cross-entropy metrics read a softmax/sigmoid output's logits off the tensor
            m.update_state(trues[i], outputs[i] if getattr(m, "_reads_keras_logits", False)
                           else preds[i],
                           sample_weight=_numpy(sample_weight) if weighted and
                           sample_weight is not None else None)

    def reset_state(self):
        for _, m, _ in self.metrics:
            m.reset_state()

    def result(self):
        # scalar results as floats; per-class/per-threshold results (F1Score(average=None),
        # TruePositives(thresholds=[...])) stay arrays, as Keras logs them
        # Names as Keras's CompileMetrics.result: `<output>_<metric>` when the model has
        # several outputs (the metric object keeps its own name, so a metric compiled
        # twice is not prefixed twice), a repeated name gets `_1`, `_2`..., and a
        # weighted metric whose name is taken becomes `weighted_<metric>`.
        out = {}
        for name, m in self.named_metrics():
            r = np.asarray(m.result())
            out[name] = float(r) if r.ndim == 0 else r
        return out

    def named_metrics(self):
        """[(log name, Metric)] in log order (the names result() uses)."""
        multi = len(self.output_names) > 1
        named, seen = [], {}
        for i, m, weighted in self.metrics:
            prefix = f"{self.output_names[i]}_" if multi else ""
            name = prefix + m.name
            if name in seen:
                if weighted:
                    name = f"{prefix}weighted_{m.name}"
                if name in seen:
                    seen[name] += 1
                    name = f"{name}_{seen[name] - 1}"
            seen.setdefault(name, 1)
            named.append((name, m))
        return named


def _as_list(spec):
    if spec is None:
        return []
    if isinstance(spec, (list, tuple)):
        return list(spec)
    return [spec]


def _numpy(x):
    if x is None:
        return None
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)
