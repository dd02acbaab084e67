"""Datasets as `keras.datasets`: local copies only (Keras's cache or system
packages), checksum-verified, never downloaded, never unpickling code."""

from fastnet.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
           "boston_housing", "california_housing"]
