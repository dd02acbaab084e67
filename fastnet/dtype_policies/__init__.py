"""keras.dtype_policies: the dtype a layer computes in and keeps its weights in.

fastnet computes in float32 (its kernels are float32) and, per layer, float64 (the
numpy paths; ``Layer(dtype="float64")``). A policy naming another dtype — float16,
bfloat16, the mixed ``"mixed_float16"`` / ``"mixed_bfloat16"`` (float16 compute over
float32 weights), or a quantized policy — raises NotImplementedError naming it: fastnet
never computes in float32 while a policy claims otherwise. The global policy (what
layers get when no dtype is given) can only be float32.
"""

_SUPPORTED = ("float32", "float64")
_KNOWN = ("float16", "bfloat16", "mixed_float16", "mixed_bfloat16")


class DTypePolicy:
    """``DTypePolicy(name)``: ``name`` a dtype (``"float32"``); None is the global policy's
    name. ``compute_dtype`` and ``variable_dtype`` are that dtype."""

    def __init__(self, name=None):
        if name is None:
            from fastnet.backend import floatx

            name = _global_name() or floatx()
        if not isinstance(name, str):
            raise TypeError("'name' must be a string, such as 'mixed_float16'. Received: "
                            f"name={name!r} (of type {type(name)})")
        name = _standard(name)
        if name not in _SUPPORTED:
            what = ("mixed precision" if name in ("mixed_float16", "mixed_bfloat16") else
                    "a float16/bfloat16 compute dtype" if name in _KNOWN else
                    "a quantized policy" if ":" in name or name.startswith(("int", "float8"))
                    else None)
            if what is None:
                raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. "
                                 "Valid policies include 'mixed_float16', 'mixed_bfloat16', "
                                 "and the name of any float dtype such as 'float32'.")
            raise NotImplementedError(f"dtype policy {name!r} ({what}) is not implemented in "
                                      "fastnet: its kernels compute in float32 (per layer also "
                                      "float64). Use 'float32'.")
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._name

    @property
    def variable_dtype(self):
        return self._name

    @property
    def quantization_mode(self):
        return None

    def convert_input(self, x, autocast, dtype):
        """x cast to `dtype` when `autocast` and x is a float tensor of another dtype."""
        from fastnet import ops

        x = ops.convert_to_tensor(x)
        if autocast and str(x.dtype).startswith("float") and str(x.dtype) != dtype:
            return ops.cast(x, dtype)
        return x

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(("DTypePolicy", self._name))

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


class FloatDTypePolicy(DTypePolicy):
    """Keras 3's name for a policy over one float dtype."""


def _standard(name):
    import numpy as np

    if name.startswith("mixed_") or name in _KNOWN or ":" in name:
        return name
    try:
        return str(np.dtype(name))
    except TypeError:
        return name


_GLOBAL = None


def _global_name():
    return None if _GLOBAL is None else _GLOBAL.name


def global_policy():
    """The policy layers get when no dtype is given (float32 unless set)."""
    return _GLOBAL if _GLOBAL is not None else DTypePolicy()


def set_global_policy(policy):
    """Sets the global policy: a DTypePolicy or its name. Only float32 is implemented
    (it is the default); float64 is a per-layer dtype in fastnet (``Layer(dtype=
    "float64")``), and the mixed / half-precision policies raise naming the policy."""
    global _GLOBAL
    if policy is None:
        _GLOBAL = None
        return
    if not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError("Invalid `policy` argument. Expected the string name of a policy "
                             "(such as 'mixed_float16') or a `DTypePolicy` instance. "
                             f"Received: policy={policy!r}")
        policy = DTypePolicy(policy)
    if policy.name != "float32":
        raise NotImplementedError(f"a global dtype policy {policy.name!r} is not implemented "
                                  "in fastnet: layers compute in float32 by default; give "
                                  "`dtype=` to a layer to compute it in float64")
    _GLOBAL = policy


def get(identifier):
    """A DTypePolicy from a policy, its name, or its serialized form."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    raise ValueError(f"Cannot interpret `dtype` argument. Expected a string or an instance of "
                     f"DTypePolicy. Received: dtype={identifier!r}")


def serialize(dtype_policy):
    """Keras 3's form: ``{"module": "keras", "class_name": "DTypePolicy", ...}``."""
    if not isinstance(dtype_policy, DTypePolicy):
        raise ValueError(f"Cannot serialize {dtype_policy!r}: not a DTypePolicy")
    return {"module": "keras", "class_name": "DTypePolicy", "config": dtype_policy.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return DTypePolicy(config)
    name = config.get("class_name")
    inner = config.get("config") or {}
    if name in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
        return (FloatDTypePolicy if name == "FloatDTypePolicy" else DTypePolicy)(**inner)
    if custom_objects and name in custom_objects:
        return custom_objects[name].from_config(inner)
    if name and ("Quantized" in name or name in ("DTypePolicyMap", "GPTQDTypePolicy",
                                                 "AWQDTypePolicy", "Int4DTypePolicy")):
        raise NotImplementedError(f"dtype policy class {name!r} (quantization) is not "
                                  "implemented in fastnet")
    raise ValueError(f"Unknown dtype policy: {name!r}")


__all__ = ["DTypePolicy", "FloatDTypePolicy", "get", "serialize", "deserialize"]
