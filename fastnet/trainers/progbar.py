"""The progress bar moved to fastnet.utils.progbar (public as fastnet.utils.Progbar)."""

from fastnet.utils.progbar import Progbar, format_per_unit, format_value  # noqa: F401
