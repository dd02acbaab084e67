"""PyDataset, as keras.utils.PyDataset: index → batch, len → batches per epoch."""


class PyDataset:
    """Subclass and implement ``__getitem__(index)`` (returning ``x``, ``(x, y)``
    or ``(x, y, sample_weight)`` for batch ``index``) and ``__len__``;
    ``on_epoch_end`` runs after every epoch (e.g. to reshuffle)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def on_epoch_end(self):
        pass

    @property
    def num_batches(self):
        return len(self)
