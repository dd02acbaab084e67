"""keras.callbacks.TensorBoard: Keras 3's arguments and log layout.

Layout (as Keras writes it):

    <log_dir>/train/events.out.tfevents...       epoch_loss, epoch_<metric>,
                                                 epoch_learning_rate, batch_<name>
                                                 (update_freq), <weight>/histogram,
                                                 <weight>/image, the model as "keras"
    <log_dir>/validation/events.out.tfevents...  epoch_loss, epoch_<metric>,
                                                 evaluation_<name>_vs_iterations

The event files are written with TensorBoard's own writer
(``tensorboard.summary.writer.EventFileWriter``) and its summary protos and
helpers (``scalar_pb``, ``text``/graph metadata), in TensorBoard 2's tensor
format — what ``tf.summary`` writes — so TensorBoard and its
``EventAccumulator`` read them. TensorBoard is an optional dependency:
``pip install "fastnet-cpu[tensorboard]"``.
"""

from __future__ import annotations

import json
import os
import struct
import time
import warnings
import zlib

import numpy as np

from fastnet.callbacks.callback import Callback

_EXTRA_HINT = ("fastnet.callbacks.TensorBoard writes event files with the `tensorboard` "
               "package, which is not installed. Install it with "
               "`pip install \"fastnet-cpu[tensorboard]\"` (or `pip install tensorboard`).")


def _tensorboard():
    """The pieces of the tensorboard package the writer uses (ImportError naming the extra)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.histogram import metadata as histogram_metadata
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError as e:
        raise ImportError(_EXTRA_HINT) from e
    return dict(event_pb2=event_pb2, summary_pb2=summary_pb2, scalar_pb=scalar_pb,
                histogram_metadata=histogram_metadata, image_metadata=image_metadata,
                EventFileWriter=EventFileWriter, tensor_util=tensor_util)


def _histogram_buckets(data, bucket_count=30):
    """TensorBoard's histogram buckets: a (bucket_count, 3) array of [left, right, count],
    equal-width over [min, max] (the layout ``tf.summary.histogram`` writes)."""
    data = np.asarray(data, dtype=np.float64).ravel()
    if data.size == 0:
        return np.zeros((bucket_count, 3))
    lo, hi = float(data.min()), float(data.max())
    if hi == lo:
        counts = np.zeros(bucket_count)
        counts[-1] = data.size
        return np.stack([np.full(bucket_count, lo), np.full(bucket_count, lo), counts], axis=1)
    width = (hi - lo) / bucket_count
    idx = np.minimum(np.floor((data - lo) / width).astype(np.int64), bucket_count - 1)
    counts = np.bincount(idx, minlength=bucket_count).astype(np.float64)
    edges = np.linspace(lo, hi, bucket_count + 1)
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def _png(image):
    """Encodes a (h, w, c) uint8 array (c in 1, 3, 4) as PNG bytes (zlib, no filtering)."""
    h, w, c = image.shape
    color_type = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + image[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class _SummaryWriter:
    """One run directory; the event file is created on first write."""

    def __init__(self, tb, logdir):
        self._tb = tb
        self.logdir = logdir
        self._writer = None

    def _event(self, summary, step):
        if self._writer is None:
            os.makedirs(self.logdir, exist_ok=True)
            self._writer = self._tb["EventFileWriter"](self.logdir)
        event = self._tb["event_pb2"].Event(wall_time=time.time(), step=int(step),
                                             summary=summary)
        self._writer.add_event(event)

    def scalar(self, tag, value, step):
        self._event(self._tb["scalar_pb"](tag, np.float32(float(value))), step)

    def histogram(self, tag, values, step):
        tb = self._tb
        summary = tb["summary_pb2"].Summary()
        summary.value.add(tag=tag, metadata=tb["histogram_metadata"].create_summary_metadata(
            display_name=None, description=None),
            tensor=tb["tensor_util"].make_tensor_proto(_histogram_buckets(values),
                                                       dtype=np.float64))
        self._event(summary, step)

    def image(self, tag, images, step, max_outputs=3):
        """`images`: (k, h, w, c) floats in [0, 1] (clipped, as tf.summary.image does)."""
        tb = self._tb
        images = np.asarray(images)[:max_outputs]
        u8 = np.clip(images.astype(np.float64) * 255.5, 0, 255).astype(np.uint8)
        h, w = images.shape[1], images.shape[2]
        content = [str(w).encode(), str(h).encode()] + [_png(im) for im in u8]
        summary = tb["summary_pb2"].Summary()
        summary.value.add(tag=tag, metadata=tb["image_metadata"].create_summary_metadata(
            display_name=None, description=None, converted_to_tensor=True),
            tensor=tb["tensor_util"].make_tensor_proto(np.array(content, dtype=object)))
        self._event(summary, step)

    def keras_model(self, tag, json_string, step):
        """The model config as the `graph_keras_model` plugin's summary (what TensorBoard's
        graph dashboard draws as the conceptual graph)."""
        pb = self._tb["summary_pb2"]
        metadata = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        summary = pb.Summary()
        summary.value.add(tag=tag, metadata=metadata,
                          tensor=self._tb["tensor_util"].make_tensor_proto(
                              np.array(json_string.encode(), dtype=object)))
        self._event(summary, step)

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _parse_profile_batch(profile_batch):
    message = ("profile_batch must be a non-negative integer or 2-tuple of positive integers. "
               "A pair of positive integers signifies a range of batches to profile. "
               f"Found: {profile_batch}")
    if isinstance(profile_batch, str):
        try:
            profile_batch = [int(p) for p in profile_batch.split(",")]
        except ValueError:
            raise ValueError(message) from None
        profile_batch = profile_batch[0] if len(profile_batch) == 1 else tuple(profile_batch)
    if isinstance(profile_batch, (int, np.integer)) and not isinstance(profile_batch, bool):
        start = stop = int(profile_batch)
    elif isinstance(profile_batch, (tuple, list)) and len(profile_batch) == 2:
        start, stop = profile_batch
    else:
        raise ValueError(message)
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


class TensorBoard(Callback):
    """Writes TensorBoard logs: epoch (and batch) scalars, weight histograms and images,
    the model graph. Same arguments as ``keras.callbacks.TensorBoard``.

    Args:
        log_dir: where to write; runs go to ``<log_dir>/train`` and ``<log_dir>/validation``.
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: write the model's config (Sequential/functional models) so that
            TensorBoard's graph dashboard draws it.
        write_images: with ``histogram_freq``, also write the weights as images.
        write_steps_per_second: log the training steps per second.
        update_freq: ``"epoch"``, ``"batch"`` or an integer N: also write ``batch_<name>``
            scalars every N training batches.
        profile_batch: accepted for compatibility; fastnet has no TensorBoard profiler
            (Keras likewise refuses profiling on its non-TensorFlow/JAX backends), so a
            non-zero value raises.
        embeddings_freq, embeddings_metadata: every how many epochs to save the weights for
            the projector, and the metadata file(s) of the Embedding layers.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        self._tb = _tensorboard()
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, (int, np.integer))
                                       or isinstance(update_freq, bool) or update_freq < 1):
            raise ValueError("TensorBoard: `update_freq` must be 'epoch', 'batch' or a positive "
                             f"integer. Received: update_freq={update_freq!r}")
        for name, value in (("histogram_freq", histogram_freq),
                            ("embeddings_freq", embeddings_freq)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"TensorBoard: `{name}` must be a non-negative integer. "
                                 f"Received: {name}={value!r}")
        start, stop = _parse_profile_batch(profile_batch)
        if start or stop:
            raise ValueError("Profiling is not available in fastnet (it has no TensorBoard "
                             f"profiler). Received: profile_batch={profile_batch} (must be 0)")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        self.profile_batch = profile_batch
        self.embeddings_freq = int(embeddings_freq)
        self.embeddings_metadata = embeddings_metadata
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._writers = {}

    # ---- writers --------------------------------------------------------------------
    def _writer(self, run):
        if run not in self._writers:
            sub = "train" if run == "train" else "validation"
            self._writers[run] = _SummaryWriter(self._tb, os.path.join(self.log_dir, sub))
        return self._writers[run]

    @property
    def _train_writer(self):
        return self._writer("train")

    @property
    def _val_writer(self):
        return self._writer("val")

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def _flush_writers(self):
        for w in self._writers.values():
            w.flush()

    # ---- model --------------------------------------------------------------------------
    def set_model(self, model):
        super().set_model(model)
        self._close_writers()
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        if self.write_graph:
            self._write_keras_model_summary()
        if self.embeddings_freq:
            self._configure_embeddings()

    def _write_keras_model_summary(self):
        from fastnet.models.functional import Functional
        from fastnet.models.sequential import Sequential

        if not isinstance(self.model, (Functional, Sequential)):
            return  # as Keras: subclassed models have no config graph to draw
        try:
            json_string = self.model.to_json()
        except Exception as exc:  # a model that cannot serialize must not stop training
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {exc}", stacklevel=2)
            return
        self._train_writer.keras_model("keras", json_string, step=0)
        self._train_writer.flush()

    def _configure_embeddings(self):
        from fastnet.layers import Embedding

        lines = []
        metadata = self.embeddings_metadata
        if isinstance(metadata, dict):
            metadata = dict(metadata)
        for layer in self.model.layers:
            if not isinstance(layer, Embedding):
                continue
            lines.append("embeddings {")
            lines.append('  tensor_name: "layer_with_weights-0/embeddings/.ATTRIBUTES/'
                         'VARIABLE_VALUE"')
            path = metadata if isinstance(metadata, str) else (
                metadata.pop(layer.name, None) if metadata else None)
            if path is not None:
                lines.append(f"  metadata_path: {json.dumps(os.fspath(path))}")
            lines.append("}")
        if metadata and not isinstance(metadata, str):
            raise ValueError("Unrecognized `Embedding` layer names passed to "
                             "`fastnet.callbacks.TensorBoard` `embeddings_metadata` argument: "
                             f"{list(metadata)}")
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "projector_config.pbtxt"), "w") as f:
            f.write("\n".join(lines) + ("\n" if lines else ""))

    # ---- training -------------------------------------------------------------------
    def _batch_scalars_due(self):
        return self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_iterations = self._iterations()
            self._epoch_start_time = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not self._batch_scalars_due():
            return
        writer = self._train_writer
        if self.write_steps_per_second:
            elapsed = max(time.perf_counter() - self._batch_start_time, 1e-9)
            writer.scalar("batch_steps_per_second", 1.0 / elapsed, self._global_train_batch)
        if isinstance(logs, dict):
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    writer.scalar(f"batch_{name}", value, self._global_train_batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        if getattr(self.model, "optimizer", None) is not None and logs:
            step = self._iterations()
            for name, value in logs.items():
                if np.ndim(value) == 0:
                    self._val_writer.scalar(f"evaluation_{name}_vs_iterations", value, step)
        self._flush_writers()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            path = os.path.join(self.log_dir, "train",
                                f"keras_embedding.ckpt-{epoch}.weights.h5")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.model.save_weights(path)
        self._flush_writers()

    def _iterations(self):
        opt = getattr(self.model, "optimizer", None)
        return int(np.asarray(opt.iterations.numpy())) if opt is not None else 0

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and hasattr(opt, "learning_rate"):
            train_logs["learning_rate"] = float(opt.learning_rate)
        if self.write_steps_per_second:
            elapsed = max(time.perf_counter() - self._epoch_start_time, 1e-9)
            train_logs["steps_per_second"] = \
                (self._iterations() - self._epoch_start_iterations) / elapsed
        for run, values in (("train", train_logs), ("val", val_logs)):
            for name, value in values.items():
                if np.ndim(value) == 0:
                    self._writer(run).scalar(f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch):
        writer = self._train_writer
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                value = np.asarray(weight.numpy())
                writer.histogram(f"{name}/histogram", value, epoch)
                if self.write_images:
                    image = _weight_as_image(value)
                    if image is not None:
                        writer.image(f"{name}/image", image, epoch)
        writer.flush()


def _weight_as_image(w):
    """Keras's layout of a weight as images: a bias is one 1-pixel-high row, a Dense kernel
    one image (wider than tall), a 1-D conv kernel one image per output channel."""
    w = np.squeeze(w)
    if w.ndim == 1:
        w = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
        w = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:
        w = np.transpose(w, (2, 0, 1))[..., None]
    else:
        return None
    return w
