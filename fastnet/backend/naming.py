"""Unique default names (dense, dense_1, ...) and clear_session to reset them."""

from __future__ import annotations

import collections
import re

_counters = collections.defaultdict(int)


def get_uid(prefix):
    """Returns 1, 2, 3... for successive calls with the same prefix."""
    _counters[prefix] += 1
    return _counters[prefix]


def unique_name(prefix):
    """'dense', then 'dense_1', 'dense_2', ... (Keras's scheme)."""
    n = get_uid(prefix)
    return prefix if n == 1 else f"{prefix}_{n - 1}"


def to_snake_case(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s


def clear_session():
    """Resets the naming counters and this thread's name scopes (as Keras's global
    state); nothing else needs clearing on the CPU."""
    from fastnet.backend.name_scope import scope_stack

    _counters.clear()
    scope_stack().clear()
