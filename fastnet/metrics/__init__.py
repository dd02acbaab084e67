"""Metrics, as keras.metrics: stateful objects (update_state / result /
reset_state) and plain functions. Metric state lives in float64 numpy scalars:
metrics are never differentiated, so they stay off the tape."""

# Keras 3 exports these loss functions from keras.metrics too (the same objects)
from fastnet.losses import binary_focal_crossentropy, categorical_focal_crossentropy
from fastnet.metrics import metrics as _metrics
from fastnet.metrics.confusion_metrics import (
    FalseNegatives,
    FalsePositives,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from fastnet.metrics.f_score_metrics import (
    BinaryIoU,
    F1Score,
    FBetaScore,
    IoU,
    MeanIoU,
    OneHotIoU,
    OneHotMeanIoU,
)
from fastnet.metrics.metrics import (
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    Precision,
    Recall,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    Sum,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    get,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from fastnet.metrics.probabilistic_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    ConcordanceCorrelation,
    PearsonCorrelation,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    concordance_correlation,
    pearson_correlation,
    sparse_categorical_crossentropy,
)
from fastnet.metrics.regression_metrics import (
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Poisson,
    R2Score,
    SquaredHinge,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    poisson,
    squared_hinge,
)


def _keras_snake(name):
    import re

    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# Names compile(metrics=[...]) accepts, as Keras's ALL_OBJECTS_DICT (class names, their
# snake_case forms and the short aliases).
_NEW = (FalseNegatives, FalsePositives, TrueNegatives, TruePositives, PrecisionAtRecall,
        RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, F1Score,
        FBetaScore, IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU, CategoricalHinge,
        CosineSimilarity, Hinge, KLDivergence, LogCoshError, MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError, Poisson, R2Score, SquaredHinge, BinaryCrossentropy,
        CategoricalCrossentropy, SparseCategoricalCrossentropy, PearsonCorrelation,
        ConcordanceCorrelation)
for _cls in _NEW:
    _metrics._BY_NAME.setdefault(_cls.__name__, _cls)
    _metrics._BY_NAME.setdefault(_keras_snake(_cls.__name__), _cls)
for _alias, _cls in {"mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                     "msle": MeanSquaredLogarithmicError,
                     "MSLE": MeanSquaredLogarithmicError, "bce": BinaryCrossentropy,
                     "BCE": BinaryCrossentropy}.items():
    _metrics._BY_NAME.setdefault(_alias, _cls)
del _cls, _alias


def serialize(metric):
    """A metric's config dict (Keras 3's format)."""
    from fastnet.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """A metric from serialize()'s dict (or a metric name)."""
    if isinstance(config, str):
        return get(config)
    from fastnet.saving.serialization_lib import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects)

__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError",
    "MeanMetricWrapper", "MeanSquaredError", "Metric", "Precision", "Recall",
    "RootMeanSquaredError", "SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Sum",
    "TopKCategoricalAccuracy", "accuracy", "binary_accuracy", "categorical_accuracy", "get",
    "mean_absolute_error", "mean_squared_error",
    "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
    "FalseNegatives", "FalsePositives", "TrueNegatives", "TruePositives", "PrecisionAtRecall",
    "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity", "F1Score",
    "FBetaScore", "IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU",
    "CategoricalHinge", "CosineSimilarity", "Hinge", "KLDivergence", "LogCoshError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Poisson", "R2Score",
    "SquaredHinge", "categorical_hinge", "cosine_similarity", "hinge", "kl_divergence",
    "log_cosh", "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "poisson",
    "squared_hinge",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "PearsonCorrelation", "ConcordanceCorrelation", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "pearson_correlation",
    "concordance_correlation", "mean_absolute_error", "mean_squared_error", "serialize",
    "deserialize",
    "huber", "binary_focal_crossentropy", "categorical_focal_crossentropy",
]
