"""keras.preprocessing: the data loaders and image/sequence helpers under their
pre-Keras-3 names (the implementations are fastnet.utils')."""

from fastnet.preprocessing import image, sequence
from fastnet.utils.dataset_utils import image_dataset_from_directory, text_dataset_from_directory
from fastnet.utils.sequence_utils import timeseries_dataset_from_array

__all__ = ["image", "sequence", "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
