"""fastnet: a Keras-compatible neural-network toolkit with its own fast CPU kernels.

``import fastnet as keras`` — the public names mirror Keras 3.
"""

__version__ = "0.1.0"

from fastnet import backend, callbacks, config, datasets, kernels, metrics, ops, random, utils  # noqa: E402  # noqa: E402
from fastnet.backend import GradientTape, Tensor, Variable  # noqa: E402

__all__ = ["GradientTape", "Tensor", "Variable", "backend", "callbacks", "config", "datasets",
           "kernels", "metrics", "ops", "random", "utils", "__version__"]
