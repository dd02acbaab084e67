"""fastnet.utils, as keras.utils. Each line below is owned by the module it imports."""

from fastnet.utils.numerical_utils import normalize, to_categorical
from fastnet.utils.py_dataset import PyDataset

__all__ = ["to_categorical", "normalize", "PyDataset"]
