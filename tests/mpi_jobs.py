"""Programs tests/test_distribute.py runs under ``mpirun -np 2`` (and, for the
references, in one process): ``python tests/mpi_jobs.py <job> <out_dir>``.

Every training function takes the rank and the strategy (None: one process,
no scope) so the reference is the same code on the whole global batch. Ranks
other than 0 seed their initial weights differently on purpose: the
strategy's broadcast from rank 0 must make them equal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

import fastnet
from fastnet import layers

EPOCHS = 2


def _mlp(seed):
    fastnet.utils.set_random_seed(seed)
    return fastnet.Sequential([layers.Input((12,)), layers.Dense(16, activation="relu"),
                               layers.Dense(16, activation="relu"),
                               layers.Dense(5, activation="softmax")])


def _cnn(seed):
    fastnet.utils.set_random_seed(seed)
    return fastnet.Sequential([layers.Input((8, 8, 2)), layers.Conv2D(4, 3, activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])


def _bn(seed):
    fastnet.utils.set_random_seed(seed)
    return fastnet.Sequential([layers.Input((6,)), layers.Dense(8), layers.BatchNormalization(),
                               layers.Activation("relu"), layers.Dense(3, activation="softmax")])


def _data(kind, n):
    rng = np.random.default_rng(42)
    if kind == "cnn":
        x = rng.normal(size=(n, 8, 8, 2)).astype(np.float32)
        return x, rng.integers(0, 3, n)
    d, k = (6, 3) if kind == "bn" else (12, 5)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, rng.integers(0, k, n)


# name: (builder, data kind, samples, global batch, shuffle, sample weights + validation)
CASES = {
    "mlp": (_mlp, "mlp", 203, 32, False, False),            # last batch 11: 5 + 6
    "mlp_shuffle": (_mlp, "mlp", 203, 32, True, False),
    "mlp_tail1_sw": (_mlp, "mlp", 193, 32, True, True),     # last batch 1: rank 0 empty
    "cnn": (_cnn, "cnn", 90, 16, False, False),             # last batch 10: 5 + 5
    "cnn_shuffle": (_cnn, "cnn", 91, 16, True, False),      # last batch 11: 5 + 6
}


def _scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def train_case(name, rank=0, strategy=None, out_dir=None, verbose=0):
    build, kind, n, batch, shuffle, extras = CASES[name]
    x, y = _data(kind, n)
    with _scope(strategy):
        model = build(1 + 1000 * rank)
        model.compile(optimizer=fastnet.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kwargs = {}
    if extras:
        kwargs["sample_weight"] = np.random.default_rng(3).uniform(0.2, 2.0, n).astype(np.float32)
        kwargs["validation_data"] = _data(kind, 37)
    callbacks, batch_logs = [], []
    if name == "cnn":  # a batch-level callback: every step's logs are reduced
        callbacks.append(fastnet.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: batch_logs.append(
                [logs["loss"], logs["accuracy"]])))
    if out_dir is not None and name == "mlp":
        callbacks.append(fastnet.callbacks.CSVLogger(os.path.join(out_dir, f"log_r{rank}.csv")))
    np.random.seed(7)  # the shuffle order (rank 0's is used by every rank)
    hist = model.fit(x, y, batch_size=batch, epochs=EPOCHS, shuffle=shuffle, verbose=verbose,
                     callbacks=callbacks, **kwargs)
    res = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    res.update({f"h_{k}": np.asarray(v) for k, v in hist.history.items()})
    if batch_logs:
        res["h_batches"] = np.asarray(batch_logs)
    if extras:
        ev = model.evaluate(x, y, batch_size=batch, sample_weight=kwargs["sample_weight"],
                            verbose=0, return_dict=True)
        res.update({f"ev_{k}": np.asarray(v) for k, v in ev.items()})
        res["pred"] = model.predict(x, batch_size=batch, verbose=0)
    return res


class _Batches(fastnet.utils.PyDataset):
    """Global batches of 24 from a PyDataset (the last one has 11 samples)."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // 24)

    def __getitem__(self, i):
        return self.x[i * 24:(i + 1) * 24], self.y[i * 24:(i + 1) * 24]


def train_pydataset(rank=0, strategy=None):
    x, y = _data("mlp", 155)
    with _scope(strategy):
        model = _mlp(1 + 1000 * rank)
        model.compile(optimizer=fastnet.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    np.random.seed(7)
    hist = model.fit(_Batches(x, y), epochs=EPOCHS, shuffle=True, verbose=0)
    res = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    res.update({f"h_{k}": np.asarray(v) for k, v in hist.history.items()})
    return res


def train_multi(rank=0, strategy=None):
    """Two inputs, two outputs (dict losses, loss weights, per-output metrics)."""
    fastnet.utils.set_random_seed(1 + 1000 * rank)
    a, b = layers.Input((12,), name="a"), layers.Input((4,), name="b")
    h = layers.Dense(16, activation="relu")(layers.Concatenate()([a, b]))
    cls = layers.Dense(5, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    x, y = _data("mlp", 101)
    xb = np.random.default_rng(5).normal(size=(101, 4)).astype(np.float32)
    target = xb.sum(axis=1, keepdims=True)
    with _scope(strategy):
        model = fastnet.Model({"a": a, "b": b}, [cls, reg])
        model.compile(optimizer=fastnet.optimizers.Adam(0.01),
                      loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    np.random.seed(7)
    hist = model.fit({"a": x, "b": xb}, {"cls": y, "reg": target}, batch_size=16,
                     epochs=EPOCHS, verbose=0)
    res = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    res.update({f"h_{k}": np.asarray(v) for k, v in hist.history.items()})
    p_cls, p_reg = model.predict({"a": x, "b": xb}, batch_size=16, verbose=0)
    res.update(pred_cls=p_cls, pred_reg=p_reg)
    return res


def custom_loop(rank=0, num_workers=1):
    """A GradientTape loop: each rank takes its half of every global batch of 32."""
    model = _mlp(1 + 1000 * rank)
    fastnet.distribute.broadcast(model)
    opt = fastnet.optimizers.Adam(0.01)
    loss_fn = fastnet.losses.SparseCategoricalCrossentropy()
    x, y = _data("mlp", 192)
    for start in range(0, 192, 32):
        per = 32 // num_workers
        lo = start + rank * per
        with fastnet.GradientTape() as tape:
            loss = loss_fn(y[lo:lo + per], model(x[lo:lo + per], training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        grads = fastnet.distribute.allreduce(grads)
        opt.apply(grads, model.trainable_weights)
    return {f"w{i}": w for i, w in enumerate(model.get_weights())}


def batchnorm(rank=0, strategy=None):
    """One step at learning rate 0: the moving statistics (averaged over the
    ranks) equal one process's on the global batch. Then Adam: ranks stay
    identical."""
    x, y = _data("bn", 64)
    res = {}
    with _scope(strategy):
        model = _bn(1 + 1000 * rank)
        model.compile(optimizer=fastnet.optimizers.SGD(0.0),
                      loss="sparse_categorical_crossentropy")
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, shuffle=False, verbose=0)
    res.update({f"lr0_w{i}": w for i, w in enumerate(model.get_weights())})
    with _scope(strategy):
        model.compile(optimizer=fastnet.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=EPOCHS, verbose=0)
    res.update({f"adam_w{i}": w for i, w in enumerate(model.get_weights())})
    return res


def _checked_mlp(seed):
    class RejectNaN(layers.Layer):
        def call(self, x):
            if np.isnan(np.asarray(x)).any():
                raise ValueError("bad data: NaN in the input batch")
            return x

    fastnet.utils.set_random_seed(seed)
    return fastnet.Sequential([layers.Input((12,)), RejectNaN(), layers.Dense(5)])


def on_batch(rank=0, num_workers=1, strategy=None):
    """train_on_batch on each rank's own half of a global batch of 32."""
    x, y = _data("mlp", 96)
    with _scope(strategy):
        model = _mlp(1 + 1000 * rank)
        model.compile(optimizer=fastnet.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy")
    fastnet.distribute.broadcast(model)
    per = 32 // num_workers
    for start in range(0, 96, 32):
        lo = start + rank * per
        model.train_on_batch(x[lo:lo + per], y[lo:lo + per])
    res = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    with _scope(strategy):  # no broadcast: the first train_on_batch syncs from rank 0
        fresh = _mlp(1 + 1000 * rank)
        fresh.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    fresh.train_on_batch(x[:16], y[:16])
    res.update({f"fresh_w{i}": w for i, w in enumerate(fresh.get_weights())})
    return res


def collectives(rank):
    """fastnet.distribute's functions for custom loops, on small known values."""
    D = fastnet.distribute
    v = np.array([rank + 1.0, 10.0 * (rank + 1)], np.float32)
    res = {op: D.allreduce(v, op=op) for op in ("mean", "sum", "max", "min")}
    struct = D.allreduce({"t": fastnet.ops.convert_to_tensor(v), "n": float(rank),
                          "i": np.array([rank + 1], np.int64), "none": None})
    assert isinstance(struct["t"], fastnet.Tensor) and isinstance(struct["n"], float)
    assert struct["none"] is None
    res.update(struct_t=np.asarray(struct["t"]), struct_n=np.asarray(struct["n"]),
               struct_i=struct["i"], sum_int=D.allreduce(np.array([rank + 1]), op="sum"))
    res["bcast_root1"] = D.broadcast(np.arange(4.0) * (rank + 1), root=1)
    res["bcast_list"] = np.concatenate(D.broadcast([np.full(2, rank, np.int32),
                                                    np.full(3, rank + 0.5)]))
    res["bcast_obj"] = np.asarray(D.broadcast({"rank": rank, "name": f"r{rank}"})["rank"])
    var = fastnet.Variable(np.full((2, 2), float(rank)))
    assert D.broadcast(var) is var
    res["bcast_var"] = var.numpy()
    D.barrier()
    return res


def main():
    job, out_dir = sys.argv[1], sys.argv[2]
    strategy = fastnet.distribute.MPIStrategy(timeout=float(os.environ.get("JOB_TIMEOUT", 60)))
    rank = strategy.rank
    if job == "equality":
        res = {"threads": np.asarray(strategy.num_threads),
               "workers": np.asarray(strategy.num_workers)}
        for name in CASES:
            before = strategy.stats["allreduce_calls"]
            res.update({f"{name}/{k}": v for k, v in train_case(
                name, rank, strategy, out_dir, verbose=2 if name == "mlp" else 0).items()})
            res[f"{name}/allreduce_calls"] = np.asarray(strategy.stats["allreduce_calls"] - before)
        res.update({f"loop/{k}": v for k, v in custom_loop(rank, strategy.num_workers).items()})
        res.update({f"pydataset/{k}": v for k, v in train_pydataset(rank, strategy).items()})
        res.update({f"multi/{k}": v for k, v in train_multi(rank, strategy).items()})
        res.update({f"coll/{k}": v for k, v in collectives(rank).items()})
        res.update({f"tob/{k}": v for k, v in on_batch(rank, strategy.num_workers,
                                                        strategy).items()})
        res.update({f"bn/{k}": v for k, v in batchnorm(rank, strategy).items()})
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **res)
    elif job == "fault_mismatch":  # rank 1 passes differently shaped data: every rank raises
        x, y = _data("mlp", 64)
        if rank == 1:
            x = np.concatenate([x, x[:, :1]], axis=1)
        with strategy.scope():
            model = _mlp(1)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        try:
            model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        except ValueError as e:
            print(f"rank {rank} caught: {e}", flush=True)
    elif job == "fault_custom_step":  # a train_step that skips reduce_gradients
        class Unreduced(fastnet.Sequential):
            def train_step(self, data):
                x, y = data
                with fastnet.GradientTape() as tape:
                    loss = fastnet.losses.SparseCategoricalCrossentropy()(
                        y, self(x, training=True))
                grads = tape.gradient(loss, self.trainable_weights)
                self.optimizer.apply(grads, self.trainable_weights)
                return {"loss": float(loss)}

        x, y = _data("mlp", 64)
        with strategy.scope():
            model = Unreduced(_mlp(1).layers)
            model.compile(optimizer=fastnet.optimizers.Adam(0.05),
                          loss="sparse_categorical_crossentropy")
        try:
            model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        except ValueError as e:
            print(f"rank {rank} caught: {e}", flush=True)
    elif job == "fault_raise":  # one sample is NaN: the rank holding it raises mid-epoch
        x, y = _data("mlp", 64)
        x[58] = np.nan  # the 4th batch of 16 is samples 48-63; rank 1 holds 56-63
        with strategy.scope():
            model = _checked_mlp(1)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        print(f"rank {rank} finished (should not happen)", flush=True)
    elif job == "fault_outside":  # rank 1 fails in the user's own code before fit
        if rank == 1:
            raise FileNotFoundError("data.npz")
        fastnet.distribute.barrier()
        print("rank 0 passed the barrier (should not happen)", flush=True)
    elif job == "fault_hang":  # rank 1 never joins the collective: rank 0's watchdog aborts
        if rank == 1:
            time.sleep(120)
        fastnet.distribute.allreduce(np.ones(3))
    elif job == "resume_a":  # 2 epochs; rank 0 checkpoints every epoch
        x, y = _data("mlp", 203)
        with strategy.scope():
            model = _mlp(1 + 1000 * rank)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        ckpt = fastnet.callbacks.ModelCheckpoint(os.path.join(out_dir, f"ckpt_r{rank}_"
                                                              "{epoch}.keras"))
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[ckpt])
        np.savez(os.path.join(out_dir, f"a_rank{rank}.npz"), *model.get_weights())
    elif job == "resume_b":  # rank 0 loads epoch 1's checkpoint; rank 1 starts from scratch
        x, y = _data("mlp", 203)
        with strategy.scope():
            if rank == 0:
                model = fastnet.models.load_model(os.path.join(out_dir, "ckpt_r0_1.keras"))
            else:
                model = _mlp(99)
                model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=2, initial_epoch=1, shuffle=False, verbose=0)
        np.savez(os.path.join(out_dir, f"b_rank{rank}.npz"), *model.get_weights())
    else:
        raise SystemExit(f"unknown job {job!r}")


if __name__ == "__main__":
    main()
