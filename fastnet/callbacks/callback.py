"""Callback base class, the list that fans events out, History and the progress logger."""

from __future__ import annotations

from fastnet.utils.progbar import Progbar


class Callback:
    """Base class: override any of the ``on_*`` hooks. ``self.model`` and
    ``self.params`` (epochs, steps, verbose) are set before training starts."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    # As Keras: the training-batch hooks call the older names, so a callback written with
    # on_batch_begin / on_batch_end still runs at every training batch.
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList(Callback):
    """Forwards every hook to each callback, in order."""

    def __init__(self, callbacks=None, model=None, add_history=False, add_progbar=False,
                 **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if add_history:
            self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
            if self.history is None:
                self.history = History()
                self.callbacks.append(self.history)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for c in self.callbacks:
            c.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for c in self.callbacks:
            c.set_params(params)

    def _call(self, hook, *args):
        for c in self.callbacks:
            getattr(c, hook)(*args)


def _pythonify_logs(logs):
    """As Keras's CallbackList: every hook gets a dict (never None), values as floats."""
    out = {}
    for k, v in (logs or {}).items():
        if hasattr(v, "shape") and getattr(v, "ndim", 1) == 0:
            v = float(v)
        out[k] = v
    return out


def _make_forwarder(hook):
    indexed = "batch" in hook or "epoch" in hook

    def forward(self, *args, **kwargs):
        logs = kwargs.pop("logs", None)
        if kwargs:
            raise TypeError(f"{hook}() got unexpected keyword argument(s) {sorted(kwargs)}")
        args = list(args)
        n = 1 if indexed else 0
        if len(args) > n:
            logs = args.pop(n) if logs is None else logs
        self._call(hook, *args, _pythonify_logs(logs))

    forward.__name__ = hook
    return forward


for _hook in _HOOKS:
    setattr(CallbackList, _hook, _make_forwarder(_hook))


class History(Callback):
    """Records each epoch's logs; ``fit`` returns it."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


def _items(logs):
    return sorted((k, v) for k, v in (logs or {}).items() if k != "outputs")


class ProgbarLogger(Callback):
    """Prints Keras's progress bar (verbose 1) or one line per epoch (verbose 2)."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.epochs = 1
        self.verbose = 1

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)

    def _start(self, target):
        # the logs already hold running means: shown as they are (Keras: stateless_metrics=())
        self.progbar = Progbar(target, verbose=self.verbose, stateless_metrics=())

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            from fastnet.utils.io_utils import print_msg

            print_msg(f"Epoch {epoch + 1}/{self.epochs}")
        self._start(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        if self.progbar is not None:
            self.progbar.update(batch + 1, _items(logs), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.progbar is not None:
            self.progbar.update(self.progbar.seen, _items(logs), finalize=True)

    def on_test_begin(self, logs=None):
        if self.params.get("in_fit"):
            return
        self._start(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if not self.params.get("in_fit") and self.progbar is not None:
            self.progbar.update(batch + 1, _items(logs), finalize=False)

    def on_test_end(self, logs=None):
        if not self.params.get("in_fit") and self.progbar is not None:
            self.progbar.update(self.progbar.seen, _items(logs), finalize=True)

    def on_predict_begin(self, logs=None):
        self._start(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        if self.progbar is not None:
            self.progbar.update(batch + 1, finalize=False)

    def on_predict_end(self, logs=None):
        if self.progbar is not None:
            self.progbar.update(self.progbar.seen, finalize=True)
