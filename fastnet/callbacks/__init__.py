"""Training callbacks, as keras.callbacks."""

from fastnet.callbacks.backup_and_restore import BackupAndRestore
from fastnet.callbacks.callback import Callback, CallbackList, History, ProgbarLogger
from fastnet.callbacks.common import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from fastnet.callbacks.learning_rate_scheduler import LearningRateScheduler
from fastnet.callbacks.swap_ema_weights import SwapEMAWeights
from fastnet.callbacks.tensorboard import TensorBoard

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "CSVLogger", "EarlyStopping",
    "LambdaCallback", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN", "TensorBoard",
    "BackupAndRestore", "LearningRateScheduler", "SwapEMAWeights",
]
