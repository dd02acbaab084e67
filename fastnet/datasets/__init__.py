"""Datasets as `keras.datasets`: local copies only (Keras's cache or system
packages), checksum-verified, never downloaded, never unpickling code."""

from fastnet.datasets import cifar10, fashion_mnist, mnist

__all__ = ["mnist", "fashion_mnist", "cifar10"]
