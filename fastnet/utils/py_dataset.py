"""PyDataset, as keras.utils.PyDataset: index → batch, len → batches per epoch.

``workers``, ``use_multiprocessing`` and ``max_queue_size`` configure how ``fit`` /
``evaluate`` / ``predict`` fetch the batches (fastnet.trainers.enqueuer): with
``workers > 1`` (or ``workers > 0`` and ``use_multiprocessing``) batches are loaded
ahead of the training step by a pool of threads (or processes), at most
``max_queue_size`` ahead, and handed over in order. Iterating a PyDataset by hand is
sequential, as in Keras.
"""

import warnings


class PyDataset:
    """Subclass and implement ``__getitem__(index)`` (returning ``x``, ``(x, y)``
    or ``(x, y, sample_weight)`` for batch ``index``) and ``__len__`` (or a
    ``num_batches`` property, None for an endless dataset); ``on_epoch_begin`` /
    ``on_epoch_end`` run before / after every epoch (e.g. to reshuffle)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        missing = [name for name in ("_workers", "_use_multiprocessing", "_max_queue_size")
                   if name not in self.__dict__]
        if missing:
            self.__dict__.setdefault("_workers", 1)
            self.__dict__.setdefault("_use_multiprocessing", False)
            self.__dict__.setdefault("_max_queue_size", 10)
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in "
                          "its constructor. `**kwargs` can include `workers`, "
                          "`use_multiprocessing`, `max_queue_size`. Do not pass these "
                          "arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{type(self).__name__}: `workers` must be an integer >= 0, "
                             f"received workers={value!r}")
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{type(self).__name__}: `max_queue_size` must be an integer "
                             f"(<= 0: no bound), received max_queue_size={value!r}")
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    @property
    def num_batches(self):
        """Batches per epoch (``len(self)``), or None for an endless dataset."""
        if hasattr(type(self), "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ or the "
                                  "`num_batches` property (None when endless)")

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass
