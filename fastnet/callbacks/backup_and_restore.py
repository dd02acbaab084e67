"""keras.callbacks.BackupAndRestore: resume a ``fit`` that was interrupted."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from fastnet.callbacks.callback import Callback

_EPOCH_ATTR = "fastnet_backup_epoch"


def _atomic_write_text(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".fastnet-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _atomic_copy(src, dst):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dst), prefix=".fastnet-", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class BackupAndRestore(Callback):
    """Backs up the training state (weights, optimizer state, epoch) in ``backup_dir`` at
    the end of each epoch (or every ``save_freq`` batches); a later ``fit`` with the same
    callback restores it and continues from the epoch after the last backup. The backup is
    deleted when ``fit`` completes (unless ``delete_checkpoint=False``).

    Files, as Keras names them: ``latest.weights.h5`` (weights and optimizer state) and
    ``training_metadata.json`` (``{"epoch": ..., "batch": ...}``). Each is written to a
    temporary file and renamed over the old one, so an interruption while writing never
    leaves a half-written backup. The weights file also carries its epoch (an HDF5
    attribute), which restoring prefers: weights and epoch always come from the same backup
    even if the process dies between the two renames.

    Args:
        backup_dir: directory for the backup (used by nothing else: it is deleted at the end).
        save_freq: ``"epoch"`` or an integer number of batches between backups.
        double_checkpoint: also keep the previous backup (``*.bkp``), restored if the latest
            cannot be read.
        delete_checkpoint: delete ``backup_dir`` when training completes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or isinstance(save_freq, bool)
                                     or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. "
                             f"Received: save_freq={save_freq}. "
                             "Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # ---- restore --------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        try:
            self._load_model(self._weights_path, self._training_metadata_path)
        except (OSError, ValueError, KeyError):
            if not os.path.exists(self._prev_weights_path):
                raise
            self._load_model(self._prev_weights_path, self._prev_training_metadata_path)

    def _load_model(self, weights_path, metadata_path):
        from fastnet.saving import weights_io

        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built "
                             f"before you call `fit()`. Model {self.model} is unbuilt. You can "
                             "build it beforehand by calling it on a batch of data.")
        epoch = None
        if os.path.exists(weights_path):
            weights_io.read_weights_file(weights_path, self.model,
                                         getattr(self.model, "optimizer", None))
            with weights_io._h5py().File(weights_path, "r") as f:
                if _EPOCH_ATTR in f.attrs:
                    epoch = int(f.attrs[_EPOCH_ATTR])
        if epoch is None and os.path.exists(metadata_path):
            with open(metadata_path) as f:
                epoch = int(json.load(f)["epoch"])
        if epoch is not None:
            self._current_epoch = epoch
            self.model._initial_epoch = epoch

    # ---- back up --------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model()

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self):
        from fastnet.saving import weights_io

        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            if os.path.exists(self._weights_path):
                _atomic_copy(self._weights_path, self._prev_weights_path)
            if os.path.exists(self._training_metadata_path):
                _atomic_copy(self._training_metadata_path, self._prev_training_metadata_path)
        fd, tmp = tempfile.mkstemp(dir=self.backup_dir, prefix=".fastnet-", suffix=".tmp")
        os.close(fd)
        try:
            weights_io.write_weights_file(tmp, self.model, getattr(self.model, "optimizer", None))
            with weights_io._h5py().File(tmp, "a") as f:
                f.attrs[_EPOCH_ATTR] = self._current_epoch
            os.replace(tmp, self._weights_path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        _atomic_write_text(self._training_metadata_path, json.dumps(
            {"epoch": self._current_epoch, "batch": self._last_batch_seen}))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
