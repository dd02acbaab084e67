"""Name scopes: where a Variable's ``path`` comes from (``keras.name_scope``).

As Keras 3, a variable's path is fixed when it is created: the names of the scopes open
at that moment, then the variable's name (``sequential/enc/kernel``). Layers open a scope
named after themselves around their build and call (and ``add_weight``), optimizers and
metrics around the creation of their variables. A scope opened for an object (``caller``)
that already has a ``_parent_path`` (a layer, once it has opened its first scope) hangs
from that path instead of the scopes around it, so a layer's variables keep the path of
the place it was first built or called in, wherever it is reused later.

The stack is per thread (Keras keeps it in its per-thread global state).
"""

from __future__ import annotations

import threading

__all__ = ["name_scope", "current_path"]

_state = threading.local()


def scope_stack():
    """This thread's list of open scopes (innermost last)."""
    try:
        return _state.stack
    except AttributeError:
        _state.stack = []
        return _state.stack


class name_scope:  # noqa: N801 - Keras's public spelling
    """Creates a sub-namespace for variable paths.

    ``name``: the scope's name (a string without ``/``). ``caller``: the object opening
    it; with ``deduplicate`` (the default), reopening the innermost scope for the same
    caller and name adds no level, and a caller with a ``_parent_path`` hangs the scope
    from that path. ``override_parent``: an absolute path the scope hangs from, in place
    of the scopes open around it.
    """

    __slots__ = ("name", "caller", "deduplicate", "override_parent", "_pop_on_exit")

    def __init__(self, name, caller=None, deduplicate=True, override_parent=None):
        if not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name}")
        self.name = name
        self.caller = caller
        self.deduplicate = deduplicate
        if override_parent is None and deduplicate:
            override_parent = getattr(caller, "_parent_path", None)
        self.override_parent = override_parent
        self._pop_on_exit = False

    def __enter__(self):
        stack = scope_stack()
        if self.deduplicate and stack and self.caller is not None:
            top = stack[-1]
            if top.caller is self.caller and top.name == self.name:
                return self
        stack.append(self)
        self._pop_on_exit = True
        return self

    def __exit__(self, *exc):
        if self._pop_on_exit:
            self._pop_on_exit = False
            stack = scope_stack()
            if stack:
                stack.pop()
        return False

    def __repr__(self):
        return f"<name_scope {self.name!r}>"


def current_path():
    """The path the open scopes make ("" when none is open)."""
    stack = getattr(_state, "stack", None)
    if not stack:
        return ""
    parts = []
    for entry in stack:
        if entry.override_parent is not None:
            parts = [p for p in entry.override_parent.split("/") if p]
        parts.append(entry.name)
    return "/".join(parts)


def enter_layer_scope(layer):
    """A layer's own scope, opened cheaply on the hot call path: returns True when it
    pushed an entry (the caller pops it with ``exit_layer_scope``). The first scope a
    layer opens fixes its ``_parent_path`` (Keras's ``Layer._open_name_scope``)."""
    stack = scope_stack()
    entry = layer.__dict__.get("_scope_entry")
    if entry is None or entry.caller is not layer or entry.name != layer.name:
        if layer.__dict__.get("_parent_path") is None:
            layer._parent_path = current_path()
        entry = name_scope(layer.name, caller=layer)
        layer._scope_entry = entry
    if stack:
        top = stack[-1]
        if top.caller is layer and top.name == entry.name:
            return False
    stack.append(entry)
    return True


def exit_layer_scope():
    stack = scope_stack()
    if stack:
        stack.pop()


class layer_scope:
    """``with layer_scope(layer):`` -- the layer's own scope as a context manager."""

    __slots__ = ("layer", "_pushed")

    def __init__(self, layer):
        self.layer = layer
        self._pushed = False

    def __enter__(self):
        self._pushed = enter_layer_scope(self.layer)
        return self

    def __exit__(self, *exc):
        if self._pushed:
            self._pushed = False
            exit_layer_scope()
        return False
