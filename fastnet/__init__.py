"""fastnet: a Keras-compatible neural-network toolkit with its own fast CPU kernels.

``import fastnet as keras`` — the public names mirror Keras 3.
"""

__version__ = "0.1.0"

from fastnet import (
    config,  # noqa: E402
    kernels,  # noqa: E402
)

__all__ = ["config", "kernels", "__version__"]
