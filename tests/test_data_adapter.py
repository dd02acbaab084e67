import numpy as np
import pytest

from fastnet.trainers.data_adapter import adapter_for, split_validation
from fastnet.utils import PyDataset


def test_array_batches_cover_every_sample_once():
    x = np.arange(10).reshape(10, 1)
    y = np.arange(10)
    batches = list(adapter_for(x, y, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)


def test_shuffle_is_a_permutation_and_dicts_stay_aligned():
    np.random.seed(0)
    x = {"a": np.arange(9), "b": np.arange(9) * 10}
    batches = list(adapter_for(x, np.arange(9), batch_size=3, shuffle=True))
    a = np.concatenate([b[0]["a"] for b in batches])
    assert sorted(a) == list(range(9)) and not np.array_equal(a, np.arange(9))
    for xb, yb, _ in batches:
        np.testing.assert_array_equal(xb["b"], xb["a"] * 10)
        np.testing.assert_array_equal(yb, xb["a"])


def test_mismatched_sample_counts_raise():
    with pytest.raises(ValueError, match="different numbers of samples"):
        adapter_for(np.zeros((5, 2)), np.zeros(4), batch_size=2)


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        adapter_for(np.zeros((5, 2)), batch_size=0)


def test_generator_with_steps_continues_across_epochs():
    def gen():
        i = 0
        while True:
            yield np.full((2, 1), i), np.full(2, i)
            i += 1

    ad = adapter_for(gen(), steps=2)
    first = [int(b[1][0]) for b in ad]
    second = [int(b[1][0]) for b in ad]
    assert first == [0, 1] and second == [2, 3]


def test_pydataset_and_on_epoch_end():
    class DS(PyDataset):
        def __init__(self):
            super().__init__()
            self.epochs = 0

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full((2, 1), i), np.full(2, i)

        def on_epoch_end(self):
            self.epochs += 1

    ds = DS()
    ad = adapter_for(ds)
    assert ad.num_batches() == 3
    assert [int(b[1][0]) for b in ad] == [0, 1, 2] and ds.epochs == 1
    with pytest.raises(ValueError, match="must not be given"):
        adapter_for(ds, y=np.zeros(3))


def test_validation_split_takes_the_tail():
    x = np.arange(10)
    (xt, yt, _), (xv, yv, _) = split_validation(x, x * 2, None, 0.2)
    np.testing.assert_array_equal(xv, [8, 9])
    np.testing.assert_array_equal(yt, np.arange(8) * 2)
    with pytest.raises(ValueError):
        split_validation(x, x, None, 1.5)
