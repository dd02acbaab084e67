"""keras.preprocessing.sequence."""

from fastnet.utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
