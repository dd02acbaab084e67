"""fastnet.utils, as keras.utils. Each line below is owned by the module it imports."""

from fastnet.utils.numerical_utils import normalize, to_categorical
from fastnet.utils.plotting import model_to_dot, plot_model
from fastnet.utils.progbar import Progbar
from fastnet.utils.py_dataset import PyDataset

__all__ = ["to_categorical", "normalize", "PyDataset", "plot_model", "model_to_dot", "Progbar"]


def set_random_seed(seed):
    """Seeds fastnet.random's global generator and numpy's (shuffling, dropout)."""
    import random as _pyrandom

    import numpy as _np

    from fastnet import random as _frandom

    _pyrandom.seed(seed)
    _np.random.seed(seed)
    _frandom.set_global_seed(seed)


__all__ += ["set_random_seed"]
