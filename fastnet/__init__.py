"""fastnet: a Keras-compatible neural-network toolkit with its own fast CPU kernels.

``import fastnet as keras`` — the public names mirror Keras 3.
"""

__version__ = "0.1.0"


def _check_extensions():
    """A source checkout whose C++/Cython extensions were never compiled would otherwise
    fail below with a confusing circular-import message."""
    import importlib.util

    missing = [name for name in ("fastnet._C", "fastnet._core")
               if importlib.util.find_spec(name) is None]
    if missing:
        import os

        raise ImportError(
            "fastnet's compiled extension is not built: run `pip install .` or "
            "`python setup.py build_ext --inplace` (missing: " + ", ".join(missing)
            + f"; package directory: {os.path.dirname(os.path.abspath(__file__))})")


_check_extensions()

# ruff: noqa: E402, I001  (order matters: the tensor core first, then what builds on it)
from fastnet import config, kernels
from fastnet import backend, ops, random
from fastnet.backend import GradientTape, Tensor, Variable
from fastnet.backend.name_scope import name_scope
from fastnet import activations, constraints, initializers, regularizers
from fastnet import callbacks, datasets, distribute, losses, metrics, optimizers, utils
from fastnet import layers, models
from fastnet.layers import Input, InputSpec, Layer
from fastnet.models import Model, Sequential
from fastnet import applications
from fastnet import dtype_policies, export, mixed_precision, preprocessing, saving, tree
from fastnet.backend.symbolic import KerasTensor
from fastnet.dtype_policies import DTypePolicy, FloatDTypePolicy
from fastnet.initializers import Initializer
from fastnet.losses import Loss
from fastnet.metrics import Metric
from fastnet.ops.operation import Operation
from fastnet.optimizers import Optimizer
from fastnet.regularizers import Regularizer


def version():
    """fastnet's version string (keras.version())."""
    return __version__

__all__ = ["GradientTape", "Tensor", "Variable", "backend", "callbacks", "config", "datasets", "distribute",
           "kernels", "metrics", "ops", "random", "utils", "activations", "constraints",
           "initializers", "layers", "losses", "models", "optimizers", "regularizers", "Input",
           "InputSpec", "Layer", "Model", "Sequential", "applications", "__version__",
           "dtype_policies", "export", "mixed_precision", "preprocessing", "saving", "tree",
           "KerasTensor", "DTypePolicy", "FloatDTypePolicy", "Initializer", "Loss", "Metric",
           "Operation", "Optimizer", "Regularizer", "name_scope", "version"]
