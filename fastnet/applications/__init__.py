"""Application models, as keras.applications: architectures with Keras's layer
names (weights=None), and weights='imagenet' read from Keras's cached .h5
files in ~/.keras/models/ when present (fastnet never downloads). Each family
module has Keras's preprocess_input / decode_predictions (imagenet_utils)."""

from fastnet.applications import (  # noqa: F401
    densenet,
    efficientnet,
    imagenet_utils,
    inception_v3,
    resnet_v2,
    xception,
)
from fastnet.applications.densenet import DenseNet121
from fastnet.applications.efficientnet import EfficientNetB0
from fastnet.applications.inception_v3 import InceptionV3
from fastnet.applications.mobilenet_v2 import MobileNetV2
from fastnet.applications.resnet import ResNet50
from fastnet.applications.resnet_v2 import ResNet50V2
from fastnet.applications.vgg import VGG16, VGG19
from fastnet.applications.xception import Xception

__all__ = ["VGG16", "VGG19", "ResNet50", "MobileNetV2", "ResNet50V2", "DenseNet121",
           "Xception", "InceptionV3", "EfficientNetB0", "densenet", "efficientnet",
           "imagenet_utils", "inception_v3", "resnet_v2", "xception"]
