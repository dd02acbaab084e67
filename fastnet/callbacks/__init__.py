"""Training callbacks, as keras.callbacks."""

from fastnet.callbacks.callback import Callback, CallbackList, History, ProgbarLogger
from fastnet.callbacks.common import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from fastnet.callbacks.tensorboard import TensorBoard

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "CSVLogger", "EarlyStopping",
    "LambdaCallback", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN", "TensorBoard",
]
