"""Layers, as keras.layers: one module per family."""

from fastnet.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from fastnet.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Permute,
    RepeatVector,
    Reshape,
)
from fastnet.layers.layer import InputSpec, Layer
from fastnet.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)

__all__ = [
    "ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax", "Activation", "Dense", "Dropout",
    "Embedding", "Flatten", "Input", "InputLayer", "Lambda", "Permute", "RepeatVector",
    "Reshape", "InputSpec", "Layer", "Add", "Average", "Concatenate", "Dot", "Maximum",
    "Minimum", "Multiply", "Subtract", "add", "average", "concatenate", "dot", "maximum",
    "minimum", "multiply", "subtract",
]

from fastnet.layers.conv import (  # noqa: E402
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Convolution1D,
    Convolution2D,
    Convolution2DTranspose,
    Convolution3D,
    Convolution3DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from fastnet.layers.normalization import BatchNormalization, LayerNormalization  # noqa: E402
from fastnet.layers.pooling import (  # noqa: E402
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from fastnet.layers.reshaping import (  # noqa: E402
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from fastnet.layers.rnn import (  # noqa: E402
    GRU,
    LSTM,
    Bidirectional,
    ConvLSTM2D,
    SimpleRNN,
    TimeDistributed,
)

__all__ += [
    "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose",
    "Convolution1D", "Convolution2D", "Convolution3D", "Convolution2DTranspose",
    "Convolution3DTranspose", "DepthwiseConv2D", "SeparableConv2D",
    "BatchNormalization", "LayerNormalization", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D",
    "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "GRU", "LSTM",
    "Bidirectional", "SimpleRNN", "TimeDistributed", "ConvLSTM2D",
]

from fastnet.layers.rnn_cell import (  # noqa: E402
    RNN,
    GRUCell,
    LSTMCell,
    Masking,
    SimpleRNNCell,
    StackedRNNCells,
)

__all__ += ["RNN", "GRUCell", "LSTMCell", "Masking", "SimpleRNNCell", "StackedRNNCells"]


def serialize(layer):
    """A layer's config dict (Keras 3's format), as keras.layers.serialize."""
    from fastnet.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A layer from its config dict, as keras.layers.deserialize."""
    from fastnet.saving.serialization_lib import deserialize_keras_object

    obj = deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(obj, Layer):
        raise ValueError(f"layers.deserialize: the config does not describe a layer; got "
                         f"{type(obj).__name__} from config={config!r}")
    return obj


__all__ += ["serialize", "deserialize"]
from fastnet.layers.attention import AdditiveAttention, Attention, MultiHeadAttention  # noqa: E402

__all__ += ["AdditiveAttention", "Attention", "MultiHeadAttention"]

from fastnet.layers.preprocessing import (  # noqa: E402
    CategoryEncoding,
    CenterCrop,
    Discretization,
    IntegerLookup,
    Normalization,
    RandomFlip,
    Rescaling,
    StringLookup,
)

__all__ += ["CategoryEncoding", "CenterCrop", "Discretization", "IntegerLookup",
            "Normalization", "RandomFlip", "Rescaling", "StringLookup"]

from fastnet.layers.image_preprocessing import (  # noqa: E402
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
)

__all__ += ["RandomBrightness", "RandomContrast", "RandomCrop", "RandomRotation",
            "RandomTranslation", "RandomZoom", "Resizing"]

from fastnet.layers.hashing import Hashing  # noqa: E402

__all__ += ["Hashing"]

from fastnet.layers.text_vectorization import TextVectorization  # noqa: E402

__all__ += ["TextVectorization"]

# ---- Keras 3 layer names added in the nlayers session (one block, to ease merging) --------
from fastnet.layers.adaptive_pooling import (  # noqa: E402
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from fastnet.layers.conv import (  # noqa: E402
    Convolution1DTranspose,
    DepthwiseConv1D,
    SeparableConv1D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from fastnet.layers.einsum_dense import EinsumDense, Identity  # noqa: E402
from fastnet.layers.grouped_query_attention import GroupQueryAttention  # noqa: E402
from fastnet.layers.hashed_crossing import HashedCrossing  # noqa: E402
from fastnet.layers.image_augmentation import (  # noqa: E402
    AugMix,
    AutoContrast,
    ContrastLimitedAdaptiveHistogramEqualization,
    CutMix,
    Equalization,
    MixUp,
    RandAugment,
    RandomColorDegeneration,
    RandomColorJitter,
    RandomElasticTransform,
    RandomErasing,
    RandomGaussianBlur,
    RandomGrayscale,
    RandomHue,
    RandomInvert,
    RandomPerspective,
    RandomPosterization,
    RandomSaturation,
    RandomSharpness,
    RandomShear,
    Solarization,
)
from fastnet.layers.normalization import (  # noqa: E402
    GroupNormalization,
    RMSNormalization,
    UnitNormalization,
)
from fastnet.layers.pipeline import Pipeline  # noqa: E402
from fastnet.layers.pooling import GlobalAvgPool3D, GlobalMaxPool3D  # noqa: E402
from fastnet.layers.regularization import (  # noqa: E402
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from fastnet.layers.spectrogram import MelSpectrogram, STFTSpectrogram  # noqa: E402
from fastnet.layers.wrapper import ReversibleEmbedding, SpectralNormalization, Wrapper  # noqa: E402

__all__ += [
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
    "Convolution1DTranspose", "DepthwiseConv1D", "SeparableConv1D", "SeparableConvolution1D",
    "SeparableConvolution2D", "EinsumDense", "Identity", "GroupNormalization",
    "RMSNormalization", "UnitNormalization", "GlobalAvgPool3D", "GlobalMaxPool3D",
    "ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "AutoContrast", "CutMix", "Equalization", "MixUp", "RandomColorDegeneration",
    "RandomColorJitter", "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
    "RandomPosterization", "RandomSaturation", "RandomSharpness", "Solarization", "Pipeline",
    "ReversibleEmbedding", "SpectralNormalization", "Wrapper", "GroupQueryAttention",
    "HashedCrossing", "RandomErasing", "RandomPerspective", "RandomShear", "MelSpectrogram",
    "STFTSpectrogram", "AugMix", "RandAugment", "RandomElasticTransform",
    "ContrastLimitedAdaptiveHistogramEqualization",
]
