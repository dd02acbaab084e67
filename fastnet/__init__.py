"""fastnet: a Keras-compatible neural-network toolkit with its own fast CPU kernels.

``import fastnet as keras`` — the public names mirror Keras 3.
"""

__version__ = "0.1.0"

from fastnet import callbacks, config, datasets, kernels, metrics, utils  # noqa: E402

__all__ = ["callbacks", "config", "kernels", "datasets", "metrics", "utils", "__version__"]
