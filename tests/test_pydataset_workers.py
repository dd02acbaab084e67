"""PyDataset's workers / use_multiprocessing / max_queue_size, as Keras's enqueuer:
batches fetched ahead by threads or processes, delivered in order, errors re-raised."""

import os
import threading
import time
import warnings

import numpy as np
import pytest

import fastnet as keras
from fastnet.trainers.enqueuer import ordered_batches


class Batches(keras.utils.PyDataset):
    """8 batches of 4 samples; records which thread / process built each batch."""

    def __init__(self, n=8, delay=None, with_pid=False, **kw):
        super().__init__(**kw)
        self.n = n
        self.with_pid = with_pid
        self.delay = delay
        self.calls = []
        self.lock = threading.Lock()
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(n * 4, 3)).astype("float32")
        self.y = rng.normal(size=(n * 4, 1)).astype("float32")

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.calls.append((i, threading.get_ident()))
        if self.delay is not None:
            time.sleep(self.delay(i))
        sl = slice(4 * i, 4 * i + 4)
        if self.with_pid:
            return self.x[sl], self.y[sl], os.getpid()
        return self.x[sl], self.y[sl]


def _fit(ds, epochs=2, **kw):
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    m.fit(ds, epochs=epochs, shuffle=False, verbose=0, **kw)
    return [w.copy() for w in m.get_weights()]


def _pids(ds):
    return {b[2] for b in ordered_batches(ds, range(len(ds)))}


def test_thread_workers_give_the_same_training_as_sequential_loading():
    seq = Batches()
    par = Batches(workers=3)
    for a, b in zip(_fit(seq), _fit(par)):
        np.testing.assert_array_equal(a, b)
    main = threading.get_ident()
    assert all(t == main for _, t in seq.calls)
    assert all(t != main for _, t in par.calls)  # loaded by the pool, not the trainer
    assert sorted(i for i, _ in par.calls) == sorted(list(range(8)) * 2)


def test_batches_come_in_order_when_workers_finish_out_of_order():
    ds = Batches(workers=4, delay=lambda i: 0.02 * (7 - i))  # the last batch is ready first
    got = [b[0] for b in ordered_batches(ds, [3, 0, 7, 1, 6, 2, 5, 4])]
    for b, i in zip(got, [3, 0, 7, 1, 6, 2, 5, 4]):
        np.testing.assert_array_equal(b, ds.x[4 * i:4 * i + 4])


@pytest.mark.parametrize("max_queue_size,workers", [(2, 2), (3, 1), (1, 3)])
def test_look_ahead_is_bounded_by_max_queue_size(max_queue_size, workers):
    ds = Batches(n=20, workers=workers, max_queue_size=max_queue_size,
                 use_multiprocessing=False)
    if workers == 1:
        ds.workers = 2  # workers == 1 without processes loads on the caller, as Keras
    ahead = max(max_queue_size, ds.workers)
    for consumed, _ in enumerate(ordered_batches(ds, range(20)), start=1):
        time.sleep(0.002)
        assert len(ds.calls) <= consumed - 1 + ahead + 1


def test_workers_one_loads_on_the_calling_thread():
    ds = Batches(workers=1)
    _fit(ds, epochs=1)
    assert {t for _, t in ds.calls} == {threading.get_ident()}


def test_process_workers_build_batches_in_child_processes():
    ds = Batches(workers=2, use_multiprocessing=True, with_pid=True)
    pids = _pids(ds)
    assert os.getpid() not in pids and len(pids) >= 1
    for a, b in zip(_fit(Batches()), _fit(Batches(workers=2, use_multiprocessing=True))):
        np.testing.assert_array_equal(a, b)


class Broken(Batches):
    def __getitem__(self, i):
        if i == 5:
            raise RuntimeError(f"cannot read batch {i}")
        return super().__getitem__(i)


@pytest.mark.parametrize("mp", [False, True])
def test_an_error_in_a_worker_reaches_fit_and_the_workers_stop(mp):
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="cannot read batch 5"):
        _fit(Broken(workers=2, use_multiprocessing=mp), epochs=1)
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_stopping_early_shuts_the_pool_down():
    ds = Batches(n=50, workers=3)
    gen = ordered_batches(ds, range(50))
    next(gen)
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("Batches_worker")]
    assert len(ds.calls) < 50


class Counting(Batches):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.events = []

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


@pytest.mark.parametrize("workers", [1, 2])
def test_epoch_hooks_run_once_per_epoch(workers):
    ds = Counting(workers=workers)
    _fit(ds, epochs=3)
    assert ds.events == ["begin", "end"] * 3


class Endless(keras.utils.PyDataset):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []

    @property
    def num_batches(self):
        return None

    def __getitem__(self, i):
        self.seen.append(i)
        return np.full((2, 3), float(i), "float32"), np.zeros((2, 1), "float32")


@pytest.mark.parametrize("workers", [1, 2])
def test_an_endless_dataset_trains_steps_per_epoch_batches(workers):
    ds = Endless(workers=workers)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    h = m.fit(ds, epochs=2, steps_per_epoch=3, verbose=0)
    assert len(h.history["loss"]) == 2
    assert set(range(3)) <= set(ds.seen)


def test_an_endless_dataset_without_steps_is_refused():
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    with pytest.raises(ValueError, match="Endless is endless.*steps_per_epoch"):
        m.fit(Endless(), epochs=1, verbose=0)


def test_a_dataset_that_skips_super_init_warns_and_still_trains():
    class NoSuper(keras.utils.PyDataset):
        def __init__(self):
            self.x = np.ones((4, 3), "float32")

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return self.x, self.x[:, :1]

    ds = NoSuper()
    with pytest.warns(UserWarning, match=r"super\(\).__init__"):
        assert ds.workers == 1
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(ds, epochs=1, verbose=0)


@pytest.mark.parametrize("kw,arg", [({"workers": -1}, "workers"), ({"workers": 1.5}, "workers"),
                                    ({"max_queue_size": "10"}, "max_queue_size")])
def test_bad_settings_name_the_argument(kw, arg):
    with pytest.raises(ValueError, match=f"Batches: `{arg}`"):
        Batches(**kw)


def test_iterating_by_hand_stays_sequential():
    ds = Batches(workers=4)
    for i in range(len(ds)):
        ds[i]
    assert {t for _, t in ds.calls} == {threading.get_ident()}


def test_unpickled_arrays_reach_the_kernels():
    """An array unpickled from a worker carries its own float32 descriptor: the kernels
    and the compiled plan compare dtypes by equivalence, not identity."""
    import pickle

    x = pickle.loads(pickle.dumps(np.random.default_rng(1).normal(size=(6, 3)).astype("float32")))
    y = pickle.loads(pickle.dumps(np.ones((6, 1), "float32")))
    assert x.dtype is not np.dtype("float32")  # else this test checks nothing
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    assert m._plan_status("train") is None
    m.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_allclose(m.predict(x, verbose=0), m.predict(x.copy(), verbose=0))
    labels = pickle.loads(pickle.dumps(np.array([0, 1, 1, 0, 1, 0], dtype="int32")))
    c = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    c.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    c.fit(x, labels, verbose=0)
