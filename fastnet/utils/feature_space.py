"""FeatureSpace, as keras.utils.FeatureSpace: one object that preprocesses and encodes a
dict of structured-data columns (numbers, integer and string categories) with the
preprocessing layers fastnet already has.

Each feature is a ``Feature`` (its input dtype, its preprocessing layer, its encoding):

- ``float`` passes values through; ``float_rescaled`` is a Rescaling layer,
  ``float_normalized`` a Normalization (mean/variance learned by ``adapt``);
- ``float_discretized`` is a Discretization (quantile bins learned by ``adapt``);
- ``integer_categorical`` / ``string_categorical`` are IntegerLookup / StringLookup
  (vocabularies learned by ``adapt``);
- ``integer_hashed`` / ``string_hashed`` are Hashing layers.

Discrete features are one-hot encoded by default (a CategoryEncoding of the preprocessor's
cardinality, Keras's "multi_hot" over the one value of each row); ``crosses`` hash tuples of
preprocessed features into ``crossing_dim`` bins (HashedCrossing), one-hot as well.
``output_mode="concat"`` returns one float32 vector per row, the features in sorted name
order followed by the crosses in sorted name order; ``"dict"`` returns each encoded
feature under its name.

Every step is Keras 3's (keras/src/layers/preprocessing/feature_space.py): the same
layers, names, ordering, configs, error conditions and the same `.keras` file layout,
so a FeatureSpace saved by Keras loads here and gives the same vectors.
"""

from __future__ import annotations

import numpy as np

from fastnet import ops
from fastnet.backend.naming import unique_name
from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tensor import Tensor
from fastnet.layers.layer import Layer

_OUTPUT_MODES = ("int", "one_hot", "float")
_SHORTHANDS = ("float", "float_normalized", "float_rescaled", "float_discretized",
               "integer_categorical", "string_categorical", "integer_hashed", "string_hashed")


def _layers():
    from fastnet import layers

    return layers


def _deserialize(config):
    from fastnet.saving import serialization_lib

    return serialization_lib.deserialize_keras_object(config)


def _serialize(obj):
    from fastnet.saving import serialization_lib

    return serialization_lib.serialize_keras_object(obj)


class Cross:
    """A feature cross: ``feature_names`` hashed together into ``crossing_dim`` bins,
    one-hot encoded (``output_mode="one_hot"``) or left as the bin index (``"int"``)."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        if output_mode not in {"int", "one_hot"}:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{{'int', 'one_hot'}}. Received: output_mode={output_mode}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {"feature_names": self.feature_names, "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<Cross {self.name} crossing_dim={self.crossing_dim} {self.output_mode}>"


class Feature:
    """One feature: the ``dtype`` of its input, the ``preprocessor`` layer applied to it
    and its ``output_mode`` ("int", "one_hot" or "float")."""

    def __init__(self, dtype, preprocessor, output_mode):
        if output_mode not in _OUTPUT_MODES:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{{'int', 'one_hot', 'float'}}. Received: output_mode={output_mode}")
        self.dtype = dtype
        if isinstance(preprocessor, dict):
            preprocessor = _deserialize(preprocessor)
        if not callable(preprocessor):
            raise TypeError("FeatureSpace.feature: `preprocessor` must be a layer (or a "
                            f"callable). Received: preprocessor={preprocessor!r}")
        self.preprocessor = preprocessor
        self.output_mode = output_mode

    def get_config(self):
        return {"dtype": self.dtype, "preprocessor": _serialize(self.preprocessor),
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (f"<Feature dtype={self.dtype} preprocessor={type(self.preprocessor).__name__} "
                f"{self.output_mode}>")


class TFDIdentity(Layer):
    """The ``float`` feature's preprocessor: the values as they are, in its dtype
    (float32: integer columns too, as Keras)."""

    def call(self, inputs):
        return ops.cast(inputs, self.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


class TFDConcat(Layer):
    """The encoded features side by side along ``axis``."""

    def __init__(self, axis, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        axis = self.axis % len(shapes[0])
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _to_numpy(x, name):
    """A column of the caller's data as a numpy array (strings stay str/bytes/object)."""
    if isinstance(x, Tensor):
        return x.numpy()
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # a tf tensor
        x = x.numpy()
    arr = np.asarray(x)
    if arr.dtype == object and arr.size and all(isinstance(v, bytes) for v in arr.flat):
        return arr.astype(bytes)
    if arr.dtype.kind not in "biufUSO":
        raise TypeError(f"FeatureSpace: feature {name!r} has values of dtype {arr.dtype}, "
                        "expected numbers or strings")
    return arr


def _as_output(x):
    return x if isinstance(x, Tensor) else ops.convert_to_tensor(np.asarray(x))


class FeatureSpace(Layer):
    """One-stop preprocessing and encoding of structured data (keras.utils.FeatureSpace).

    ``features`` maps each feature name to a type name (``"float"``,
    ``"float_normalized"``, ``"float_rescaled"``, ``"float_discretized"``,
    ``"integer_categorical"``, ``"string_categorical"``, ``"integer_hashed"``,
    ``"string_hashed"``: the defaults) or a ``FeatureSpace.<type>(...)`` /
    ``FeatureSpace.feature(...)`` object. ``crosses`` lists tuples of feature names (or
    ``FeatureSpace.cross(...)``); ``crossing_dim``, ``hashing_dim`` and
    ``num_discretization_bins`` are the defaults of crosses, hashed and discretized
    features. Call ``adapt(dataset)`` (a dict of columns, or a dataset of dict batches),
    then call the FeatureSpace on a dict of columns (a batch) or of single values (one
    row), or build a model from ``get_inputs()`` and ``get_encoded_features()``.
    """

    _children_by_attribute = True  # files: sublayers under preprocessors/, crossers/ ...

    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        name = name or unique_name("float")
        return Feature("float32", TFDIdentity(dtype="float32", name=f"{name}_preprocessor"),
                       "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        name = name or unique_name("float_rescaled")
        layer = _layers().Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor")
        return Feature("float32", layer, "float")

    @classmethod
    def float_normalized(cls, name=None):
        name = name or unique_name("float_normalized")
        layer = _layers().Normalization(axis=-1, name=f"{name}_preprocessor")
        return Feature("float32", layer, "float")

    @classmethod
    def float_discretized(cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None):
        name = name or unique_name("float_discretized")
        layer = _layers().Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries,
                                         name=f"{name}_preprocessor")
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot",
                            name=None):
        name = name or unique_name("integer_categorical")
        layer = _layers().IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                        num_oov_indices=num_oov_indices)
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot",
                           name=None):
        name = name or unique_name("string_categorical")
        layer = _layers().StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens,
                                       num_oov_indices=num_oov_indices)
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or unique_name("string_hashed")
        layer = _layers().Hashing(name=f"{name}_preprocessor", num_bins=num_bins)
        return Feature("string", layer, output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        name = name or unique_name("integer_hashed")
        layer = _layers().Hashing(name=f"{name}_preprocessor", num_bins=num_bins)
        return Feature("int32", layer, output_mode)

    def __init__(self, features, output_mode="concat", crosses=None, crossing_dim=32,
                 hashing_dim=32, num_discretization_bins=32, name=None):
        super().__init__(name=name)
        if not features:
            raise ValueError("The `features` argument cannot be None or empty.")
        if not isinstance(features, dict):
            raise TypeError("FeatureSpace: `features` must be a dict mapping feature names "
                            f"to feature types. Received: features={features!r}")
        self.crossing_dim = crossing_dim
        self.hashing_dim = hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {key: self._standardize_feature(key, value)
                         for key, value in features.items()}
        self.crosses = []
        for cross in crosses or ():
            if isinstance(cross, dict):
                cross = _deserialize(cross)
            if not isinstance(cross, Cross):
                if not crossing_dim:
                    raise ValueError("When specifying `crosses`, the argument `crossing_dim` "
                                     "(dimensionality of the crossing space) should be "
                                     "specified as well.")
                if isinstance(cross, str) or not all(k in features for k in cross):
                    raise ValueError("All features referenced in the `crosses` argument "
                                     "should be present in the `features` dict. Received "
                                     f"unknown features: {cross}")
                cross = Cross(cross, crossing_dim=crossing_dim)
            self.crosses.append(cross)
        self.crosses_by_name = {cross.name: cross for cross in self.crosses}
        if output_mode not in {"dict", "concat"}:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{{'dict', 'concat'}}. Received: output_mode={output_mode}")
        self.output_mode = output_mode
        self.inputs = {key: self._feature_to_input(key, value)
                       for key, value in self.features.items()}
        self.preprocessors = {key: value.preprocessor for key, value in self.features.items()}
        self.encoded_features = None
        self.crossers = {cross.name: _layers().HashedCrossing(cross.crossing_dim,
                                                              name=cross.name)
                         for cross in self.crosses}
        self.one_hot_encoders = {}
        self._is_adapted = False
        self.concat = None
        self._preprocessed_features_names = None
        self._crossed_features_names = None
        self._sublayers_built = False

    # ---- features ----------------------------------------------------------------------
    def _feature_to_input(self, name, feature):
        from fastnet.layers.core import Input

        return Input(shape=(1,), dtype=feature.dtype, name=name)

    def _standardize_feature(self, name, feature):
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            return _deserialize(feature)
        if feature == "float":
            return self.float(name=name)
        if feature == "float_normalized":
            return self.float_normalized(name=name)
        if feature == "float_rescaled":
            return self.float_rescaled(name=name)
        if feature == "float_discretized":
            return self.float_discretized(name=name, num_bins=self.num_discretization_bins)
        if feature == "integer_categorical":
            return self.integer_categorical(name=name)
        if feature == "string_categorical":
            return self.string_categorical(name=name)
        if feature == "integer_hashed":
            return self.integer_hashed(self.hashing_dim, name=name)
        if feature == "string_hashed":
            return self.string_hashed(self.hashing_dim, name=name)
        raise ValueError(f"Invalid feature type: {feature} (feature {name!r}). Expected a "
                         f"FeatureSpace.feature(...) or one of {list(_SHORTHANDS)}")

    def _list_adaptable_preprocessors(self):
        layers = _layers()
        names = []
        for name in self.features:
            preprocessor = self.preprocessors[name]
            # a Normalization with a given mean/variance, a TextVectorization with a given
            # vocabulary: nothing to learn
            if isinstance(preprocessor, layers.Normalization):
                if preprocessor.input_mean is not None:
                    continue
            elif isinstance(preprocessor, layers.TextVectorization):
                if getattr(preprocessor, "_has_input_vocabulary", False):
                    continue
            if hasattr(preprocessor, "adapt"):
                names.append(name)
        return names

    # ---- adapt -------------------------------------------------------------------------
    def adapt(self, dataset):
        """Learns every adaptable preprocessor's state (vocabularies, mean/variance, bin
        boundaries) from ``dataset``: a dict of columns, or a dataset whose elements are
        dicts of features (a fastnet dataset of dict batches, e.g.
        ``Dataset.from_tensor_slices(dict(df)).batch(32)`` or ``ds.map(lambda x, y: x)``).
        The data is read once."""
        from fastnet.utils.py_dataset import PyDataset

        if isinstance(dataset, dict):
            elements = _row_elements(dataset)
        elif isinstance(dataset, PyDataset) or (hasattr(dataset, "__iter__") and
                                                not isinstance(dataset, (str, bytes,
                                                                         np.ndarray))):
            elements = dataset
        else:
            raise ValueError("`adapt()` can only be called on a dataset or a dict of "
                             f"arrays/lists. Received instead: {dataset!r} (of type "
                             f"{type(dataset)})")
        names = self._list_adaptable_preprocessors()
        if names:
            columns = {name: [] for name in names}
            for element in elements:
                if isinstance(element, tuple) and element and isinstance(element[0], dict):
                    raise ValueError("FeatureSpace.adapt() expects a dataset of feature dicts "
                                     "without labels; received (features, labels) elements. "
                                     "Drop the labels first: dataset.map(lambda x, y: x)")
                if not isinstance(element, dict):
                    raise ValueError("FeatureSpace.adapt() expects a dataset whose elements "
                                     "are dicts of features; received an element of type "
                                     f"{type(element).__name__}")
                for name in names:
                    if name not in element:
                        raise ValueError(f"FeatureSpace.adapt(): feature {name!r} is missing "
                                         f"from the data (its keys: {sorted(element)})")
                    columns[name].append(_to_numpy(element[name], name))
            for name in names:
                batches = columns[name]
                if not batches:
                    raise ValueError("FeatureSpace.adapt() received an empty dataset")
                self.preprocessors[name].adapt(iter(_feature_batches(batches)))
        self._is_adapted = True
        self.get_encoded_features()  # finishes building
        self.built = True
        self._sublayers_built = True

    # ---- the functional graph ---------------------------------------------------------
    def get_inputs(self):
        self._check_if_built()
        return self.inputs

    def get_encoded_features(self):
        self._check_if_adapted()
        if self.encoded_features is None:
            preprocessed = self._preprocess_features(self.inputs)
            crossed = self._cross_features(preprocessed)
            self.encoded_features = self._merge_features(preprocessed, crossed)
        return self.encoded_features

    def _preprocess_features(self, features):
        return {name: self.preprocessors[name](features[name]) for name in features}

    def _cross_features(self, features):
        return {cross.name: self.crossers[cross.name]([features[n] for n in cross.feature_names])
                for cross in self.crosses}

    def _merge_features(self, preprocessed, crossed):
        if not self._preprocessed_features_names:
            self._preprocessed_features_names = sorted(preprocessed)
            self._crossed_features_names = sorted(crossed)
        names = self._preprocessed_features_names + self._crossed_features_names
        values = [preprocessed[n] for n in self._preprocessed_features_names] + \
            [crossed[n] for n in self._crossed_features_names]
        if self._sublayers_built:  # the encoders exist: apply them
            out = {}
            for name, value in zip(names, values):
                encoder = self.one_hot_encoders.get(name)
                out[name] = encoder(value) if encoder is not None else value
            if self.output_mode == "dict":
                return out
            return self.concat(list(out.values()))
        specs = [self.features[n] for n in self._preprocessed_features_names] + \
            [self.crosses_by_name[n] for n in self._crossed_features_names]
        layers = _layers()
        out = {}
        for name, value, spec in zip(names, values, specs):
            dtype = _dtype_of(value)
            if spec.output_mode == "one_hot":
                preprocessor = self.preprocessors.get(name) or self.crossers.get(name)
                if not dtype.startswith("int"):
                    raise ValueError(f"Feature '{name}' has `output_mode='one_hot'`. Thus its "
                                     "preprocessor should return an integer dtype. Instead "
                                     f"it returns a {dtype} dtype.")
                if isinstance(preprocessor, (layers.IntegerLookup, layers.StringLookup)):
                    cardinality = preprocessor.vocabulary_size()
                elif isinstance(preprocessor, layers.CategoryEncoding):
                    cardinality = preprocessor.num_tokens
                elif isinstance(preprocessor, (layers.Discretization, layers.HashedCrossing,
                                               layers.Hashing)):
                    cardinality = preprocessor.num_bins
                else:
                    raise ValueError(f"Feature '{name}' has `output_mode='one_hot'`. However "
                                     "it isn't a standard feature and the dimensionality of "
                                     "its output space is not known, thus it cannot be "
                                     "one-hot encoded. Try using `output_mode='int'`.")
                if cardinality is not None:
                    encoder = layers.CategoryEncoding(num_tokens=cardinality,
                                                      output_mode="multi_hot")
                    self.one_hot_encoders[name] = encoder
                    value = encoder(value)
            if self.output_mode == "concat":
                dtype = _dtype_of(value)
                if dtype.startswith("int") or dtype == "string":
                    raise ValueError(f"Cannot concatenate features because feature '{name}' "
                                     f"has not been encoded (it has dtype {dtype}). Consider "
                                     "using `output_mode='dict'`.")
            out[name] = value
        if self.output_mode == "concat":
            self.concat = TFDConcat(axis=-1)
            return self.concat(list(out.values()))
        return out

    def _check_if_adapted(self):
        if not self._is_adapted:
            if not self._list_adaptable_preprocessors():
                self._is_adapted = True
            else:
                raise ValueError("You need to call `.adapt(dataset)` on the FeatureSpace "
                                 "before you can start using it.")

    def _check_if_built(self):
        if not self._sublayers_built:
            self._check_if_adapted()
            self.get_encoded_features()  # finishes building
            self._sublayers_built = True

    # ---- calling ------------------------------------------------------------------------
    def __call__(self, data):
        self._check_if_built()
        if not isinstance(data, dict):
            raise ValueError("A FeatureSpace can only be called with a dict. Received: "
                             f"data={data!r} (of type {type(data)})")
        if any(isinstance(v, KerasTensor) for v in data.values()):
            raise ValueError("FeatureSpace: call it on data (a dict of arrays); for a model, "
                             "use get_inputs() and get_encoded_features()")
        missing = [n for n in self.features if n not in data]
        unknown = [n for n in data if n not in self.features]
        if missing or unknown:
            raise ValueError(f"FeatureSpace: the data does not match the features: missing "
                             f"{missing}, unknown {unknown} (expected the keys "
                             f"{list(self.features)})")
        columns = {}
        rebatched = False
        for name in self.features:  # the features' order, whatever the dict's
            x = _to_numpy(data[name], name)
            if x.ndim == 0:
                x = x.reshape(1, 1)
                rebatched = True
            elif x.ndim == 1:
                x = x[:, None]
            columns[name] = x
        rows = {name: x.shape[0] for name, x in columns.items()}
        if len(set(rows.values())) > 1:
            raise ValueError(f"FeatureSpace: every feature needs the same number of rows; "
                             f"received {rows}")
        preprocessed = self._preprocess_features(columns)
        crossed = self._cross_features(preprocessed)
        merged = self._merge_features(preprocessed, crossed)
        if self.output_mode == "concat":
            merged = _as_output(merged)
            if rebatched:
                if merged.shape[0] != 1:
                    raise ValueError("Expected rebatched data to have batch size 1. "
                                     f"Received: shape={merged.shape}")
                merged = ops.squeeze(merged, axis=0)
            return merged
        out = {}
        for name, x in merged.items():
            x = _as_output(x)
            if rebatched and len(x.shape) == 2 and x.shape[0] == 1:
                x = ops.squeeze(x, axis=0)
            out[name] = x
        return out

    # ---- config and saving --------------------------------------------------------------
    def get_config(self):
        return {"features": _serialize(self.features), "output_mode": self.output_mode,
                "crosses": _serialize(self.crosses), "crossing_dim": self.crossing_dim,
                "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("name", None)
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)

    def get_build_config(self):
        return {name: feature.preprocessor.get_build_config()
                for name, feature in self.features.items()}

    def build_from_config(self, config):
        for name in config:
            if name not in self.features:
                raise ValueError(f"FeatureSpace: the build config names feature {name!r}, "
                                 f"which is not among the features {list(self.features)}")
            preprocessor = self.features[name].preprocessor
            if not preprocessor.built and config[name]:
                preprocessor.build_from_config(config[name])
        self._is_adapted = True
        self.built = True

    def save(self, filepath):
        """Saves the FeatureSpace to a `.keras` file (reload it with
        ``fastnet.models.load_model``)."""
        from fastnet.saving import save_model

        if not str(filepath).endswith(".keras"):
            raise ValueError("FeatureSpace.save: the file name must end in `.keras`. "
                             f"Received: filepath={filepath}")
        save_model(self, filepath)

    def save_own_variables(self, store):
        return

    def load_own_variables(self, store):
        return


def _dtype_of(value):
    if isinstance(value, KerasTensor):
        return str(value.dtype)
    if isinstance(value, Tensor):
        return str(value.dtype)
    arr = np.asarray(value)
    return "string" if arr.dtype.kind in "USO" else str(arr.dtype)


def _row_elements(columns):
    """The elements tf.data.Dataset.from_tensor_slices(columns) yields: one dict per row."""
    arrays = {k: _to_numpy(v, k) for k, v in columns.items()}
    lengths = {k: (a.shape[0] if a.ndim else None) for k, a in arrays.items()}
    if any(n is None for n in lengths.values()):
        raise ValueError("FeatureSpace.adapt(): every column of a dict must be an array or "
                         f"a list (one value per row); received scalars for "
                         f"{[k for k, n in lengths.items() if n is None]}")
    if len(set(lengths.values())) > 1:
        raise ValueError(f"FeatureSpace.adapt(): the columns have different lengths {lengths}")
    n = next(iter(lengths.values()))
    return [{k: a[i] for k, a in arrays.items()} for i in range(n)]


def _feature_batches(elements, batch_size=32):
    """Keras's adapt() reshaping of one feature's elements: scalars are batched 32 at a
    time, then a batch of scalars (rank 1) becomes a column (rank 2)."""
    first = np.asarray(elements[0])
    if first.ndim == 0:
        elements = [np.stack(elements[i:i + batch_size])
                    for i in range(0, len(elements), batch_size)]
        first = elements[0]
    if first.ndim in (0, 1):
        elements = [np.asarray(e)[..., None] for e in elements]
    return elements


__all__ = ["FeatureSpace"]
