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
