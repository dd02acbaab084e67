"""Weight regularizers, as keras.regularizers: l1, l2, l1_l2, orthogonal."""

from __future__ import annotations

from fastnet import ops


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        total = 0.0
        if self.l1:
            total = total + self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            total = total + self.l2 * ops.sum(ops.square(x))
        return total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


l1 = L1
l2 = L2

_ALL = {"L1L2": L1L2, "L1": L1, "L2": L2, "l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _ALL:
        return _ALL[identifier]()
    if isinstance(identifier, dict):
        from fastnet.saving import object_registration

        cls = object_registration.lookup([identifier.get("registered_name"),
                                          identifier["class_name"]]) or \
            _ALL.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"Unknown regularizer: {identifier['class_name']!r}; register it "
                             "with @register_keras_serializable or pass it in custom_objects")
        return cls.from_config(identifier.get("config", {})) if hasattr(cls, "from_config") \
            else cls(**identifier.get("config", {}))
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")


def serialize(reg):
    if reg is None:
        return None
    if type(reg).__name__ in _ALL:
        return {"module": "keras.regularizers", "class_name": type(reg).__name__,
                "config": reg.get_config(), "registered_name": None}
    from fastnet.saving import object_registration

    return {"module": type(reg).__module__, "class_name": type(reg).__name__,
            "config": reg.get_config(),
            "registered_name": object_registration.get_registered_name(type(reg))}
