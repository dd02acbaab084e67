"""fastnet.utils, as keras.utils. Each line below is owned by the module it imports."""

from fastnet.backend import clear_session, standardize_dtype
from fastnet.utils.config import Config
from fastnet.utils.dataset_utils import (
    audio_dataset_from_directory,
    image_dataset_from_directory,
    text_dataset_from_directory,
)
from fastnet.utils.feature_space import FeatureSpace
from fastnet.utils.file_utils import get_file
from fastnet.utils.general_utils import (
    get_source_inputs,
    is_keras_tensor,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from fastnet.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from fastnet.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from fastnet.utils.numerical_utils import normalize, to_categorical
from fastnet.utils.plotting import model_to_dot, plot_model
from fastnet.utils.progbar import Progbar
from fastnet.utils.py_dataset import PyDataset
from fastnet.utils.sequence_utils import pad_sequences, split_dataset, timeseries_dataset_from_array

__all__ = ["to_categorical", "normalize", "PyDataset", "plot_model", "model_to_dot", "get_file",
           "pad_sequences", "split_dataset", "timeseries_dataset_from_array", "Progbar",
           "Sequence", "get_source_inputs", "is_keras_tensor", "pack_x_y_sample_weight",
           "unpack_x_y_sample_weight", "clear_session", "standardize_dtype", "Config",
           "image_dataset_from_directory", "text_dataset_from_directory",
           "audio_dataset_from_directory", "array_to_img",
           "img_to_array", "load_img", "save_img", "disable_interactive_logging",
           "enable_interactive_logging", "is_interactive_logging_enabled", "FeatureSpace"]

Sequence = PyDataset  # keras.utils.Sequence is PyDataset's old name


def set_random_seed(seed):
    """Seeds fastnet.random's global generator and numpy's (shuffling, dropout)."""
    import random as _pyrandom

    import numpy as _np

    from fastnet import random as _frandom

    _pyrandom.seed(seed)
    _np.random.seed(seed)
    _frandom.set_global_seed(seed)


__all__ += ["set_random_seed"]

from fastnet.saving.object_registration import (  # noqa: E402
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from fastnet.saving.serialization_lib import (  # noqa: E402
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ += ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
            "get_registered_name", "get_registered_object", "register_keras_serializable",
            "serialize_keras_object", "deserialize_keras_object"]
