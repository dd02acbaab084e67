"""Application models, as keras.applications: architectures with Keras's layer
names (weights=None), and weights='imagenet' read from Keras's cached .h5
files in ~/.keras/models/ when present (fastnet never downloads)."""

from fastnet.applications.mobilenet_v2 import MobileNetV2
from fastnet.applications.resnet import ResNet50
from fastnet.applications.vgg import VGG16, VGG19

__all__ = ["VGG16", "VGG19", "ResNet50", "MobileNetV2"]
