"""keras.callbacks.SwapEMAWeights: evaluate (and optionally checkpoint) with the
optimizer's moving averages of the weights (``use_ema=True``)."""

from __future__ import annotations

from fastnet.callbacks.callback import Callback


class SwapEMAWeights(Callback):
    """Puts the optimizer's exponential moving averages into the model for evaluation and
    prediction (so validation metrics are those of the averaged weights) and the training
    weights back afterwards. With ``swap_on_epoch=True`` the averages are also in the model
    from the end of each epoch to the start of the next, so callbacks after this one (e.g.
    ``ModelCheckpoint``) see them.

    The optimizer must have been created with ``use_ema=True``.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not getattr(optimizer, "use_ema", False):
            raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the "
                             "optimizer. Received: use_ema="
                             f"{getattr(optimizer, 'use_ema', None)}")
        return optimizer

    def _swap(self):
        self._optimizer().swap_moving_averages(self.model.trainable_weights)

    def _finalize(self):
        # the averages were swapped into the model: give them back to the optimizer too, so
        # that fit's finalize_variable_values leaves the model holding the averages
        optimizer = self._optimizer()
        for var, average in optimizer._moving_average_pairs(self.model.trainable_weights):
            average[...] = var._value

    def on_train_begin(self, logs=None):
        self._optimizer()
        self._ema_weights_in_model = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def on_predict_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False
