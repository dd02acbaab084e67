"""Loading a PyDataset's batches ahead of the training step, as Keras's OrderedEnqueuer.

``ordered_batches(dataset, order)`` yields ``dataset[i]`` for ``i`` in ``order``, in that
order. With ``dataset.workers > 1`` (or ``workers > 0`` and ``use_multiprocessing``) a
pool of threads (or forked processes: batches are computed in the children and
pickled back) fetches up to ``max(max_queue_size, workers)`` batches ahead of the
consumer; otherwise batches are fetched on the caller's thread when asked for. An
exception raised by ``__getitem__`` in a worker is re-raised in the caller, and the
pool is shut down when the epoch ends or the consumer stops early.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

_WORKER_DATASET = None  # the dataset a process-pool worker reads (set by its initializer)


def _init_process_worker(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _process_getitem(index):
    return _WORKER_DATASET[index]


def uses_workers(dataset):
    """Whether Keras would fetch this PyDataset's batches with an enqueuer (or the
    dataset asks for a background loader: ``ds.prefetch(n)``)."""
    workers = getattr(dataset, "workers", 1) or 0
    return workers > 1 or (workers > 0 and (bool(getattr(dataset, "use_multiprocessing", False))
                                            or getattr(dataset, "_background", False)))


class _ThreadPool:
    def __init__(self, dataset, workers):
        self._dataset = dataset
        self._pool = ThreadPoolExecutor(max_workers=workers,
                                        thread_name_prefix=f"{type(dataset).__name__}_worker")

    def submit(self, index):
        return self._pool.submit(self._dataset.__getitem__, index).result

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


class _ProcessPool:
    def __init__(self, dataset, workers):
        try:
            self._pool = multiprocessing.get_context().Pool(
                workers, initializer=_init_process_worker, initargs=(dataset,))
        except Exception as e:  # e.g. a dataset a spawn/forkserver context cannot pickle
            raise ValueError(f"{type(dataset).__name__}: use_multiprocessing=True could not "
                             f"start {workers} worker processes ({type(e).__name__}: {e}); "
                             "the dataset must be picklable, or use threads "
                             "(use_multiprocessing=False)") from e

    def submit(self, index):
        return self._pool.apply_async(_process_getitem, (index,)).get

    def close(self):
        self._pool.terminate()
        self._pool.join()


def ordered_batches(dataset, order):
    """``dataset[i]`` for every ``i`` of the iterable ``order``, in order."""
    if not uses_workers(dataset):
        for i in order:
            yield dataset[int(i)]
        return
    workers = dataset.workers
    ahead = max(int(dataset.max_queue_size), workers)
    pool = (_ProcessPool if dataset.use_multiprocessing else _ThreadPool)(dataset, workers)
    pending = collections.deque()
    indices = iter(order)
    try:
        for i in (itertools.islice(indices, ahead) if dataset.max_queue_size > 0 else indices):
            pending.append(pool.submit(int(i)))
        while pending:
            batch = pending.popleft()()
            nxt = next(indices, None)
            if nxt is not None:
                pending.append(pool.submit(int(nxt)))
            yield batch
    finally:
        pool.close()
