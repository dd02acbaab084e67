"""Interactive logging, as keras.utils/keras.config: with it on (the default) the progress
bar and fit's epoch lines go to standard output; with it off they go to Python's
``logging`` (logger ``"fastnet"``, level INFO), as Keras sends them to absl logging."""

import logging
import sys

_INTERACTIVE = True
_LOGGER = logging.getLogger("fastnet")


def enable_interactive_logging():
    """Progress messages to stdout (the default)."""
    global _INTERACTIVE
    _INTERACTIVE = True


def disable_interactive_logging():
    """Progress messages to ``logging.getLogger("fastnet")`` at INFO instead of stdout."""
    global _INTERACTIVE
    _INTERACTIVE = False


def is_interactive_logging_enabled():
    return _INTERACTIVE


class _LogStream:
    """A write()-able stream that logs each complete line (carriage returns of a live
    progress bar start a new message)."""

    def __init__(self):
        self._buffer = ""

    def write(self, text):
        self._buffer += text.replace("\r", "\n")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                _LOGGER.info(line)

    def flush(self):
        if self._buffer.strip():
            _LOGGER.info(self._buffer)
        self._buffer = ""

    def isatty(self):
        return False


def message_stream():
    """Where progress output goes now: sys.stdout, or the logging stream."""
    return sys.stdout if _INTERACTIVE else _LogStream()


def print_msg(message, line_break=True):
    if _INTERACTIVE:
        sys.stdout.write(message + ("\n" if line_break else ""))
        sys.stdout.flush()
    else:
        _LOGGER.info(message)
