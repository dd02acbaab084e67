"""The kernel/bias arguments that Dense, the convolutions, EinsumDense and
GroupQueryAttention take alike (Keras's names and order): resolved onto the layer in
``__init__``, written back by ``get_config``. One copy, so that they read and write them
the same way."""

from __future__ import annotations

from fastnet import constraints as constraints_mod
from fastnet import initializers as initializers_mod
from fastnet import regularizers as regularizers_mod


def set_kernel_bias_args(layer, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, kernel_constraint, bias_constraint):
    """``layer.kernel_initializer`` ... ``layer.bias_constraint`` from their identifiers."""
    layer.kernel_initializer = initializers_mod.get(kernel_initializer)
    layer.bias_initializer = initializers_mod.get(bias_initializer)
    layer.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
    layer.bias_regularizer = regularizers_mod.get(bias_regularizer)
    layer.kernel_constraint = constraints_mod.get(kernel_constraint)
    layer.bias_constraint = constraints_mod.get(bias_constraint)


def kernel_bias_config(layer):
    """The config entries of those arguments and of ``activity_regularizer``."""
    return {"kernel_initializer": initializers_mod.serialize(layer.kernel_initializer),
            "bias_initializer": initializers_mod.serialize(layer.bias_initializer),
            "kernel_regularizer": regularizers_mod.serialize(layer.kernel_regularizer),
            "bias_regularizer": regularizers_mod.serialize(layer.bias_regularizer),
            "activity_regularizer": regularizers_mod.serialize(layer.activity_regularizer),
            "kernel_constraint": constraints_mod.serialize(layer.kernel_constraint),
            "bias_constraint": constraints_mod.serialize(layer.bias_constraint)}
