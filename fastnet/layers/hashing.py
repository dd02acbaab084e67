"""keras.layers.Hashing, and the two string hashes it uses, bit-exact with TensorFlow's
(which Keras's layer calls):

* ``fingerprint64`` — FarmHash's Fingerprint64 (farmhashna::Hash64), what
  ``tf.strings.to_hash_bucket_fast`` reduces modulo the bin count;
* ``siphash64`` — SipHash-2-4 keyed by two 64-bit words, what
  ``tf.strings.to_hash_bucket_strong`` uses when Hashing has a ``salt``.

Pure Python on the bytes (a vocabulary-sized amount of work: the layer hashes each
distinct value of a batch once).
"""

from __future__ import annotations

import struct

import numpy as np

from fastnet.backend.symbolic import KerasTensor
from fastnet.backend.tensor import Tensor
from fastnet.layers.layer import Layer

_M = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


def _rot(v, s):
    return ((v >> s) | (v << (64 - s))) & _M if s else v


def _f64(b, i):
    return struct.unpack_from("<Q", b, i)[0]


def _f32(b, i):
    return struct.unpack_from("<I", b, i)[0]


def _smix(v):
    return v ^ (v >> 47)


def _h16(u, v, mul):
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _len0to16(b, n):
    if n >= 8:
        mul = (_K2 + n * 2) & _M
        a = (_f64(b, 0) + _K2) & _M
        c = _f64(b, n - 8)
        d = (_rot(c, 37) * mul + a) & _M
        e = ((_rot(a, 25) + c) * mul) & _M
        return _h16(d, e, mul)
    if n >= 4:
        mul = (_K2 + n * 2) & _M
        a = _f32(b, 0)
        return _h16((n + (a << 3)) & _M, _f32(b, n - 4), mul)
    if n > 0:
        y = (b[0] + (b[n >> 1] << 8)) & 0xFFFFFFFF
        z = (n + (b[n - 1] << 2)) & 0xFFFFFFFF
        return (_smix(((y * _K2) ^ (z * _K0)) & _M) * _K2) & _M
    return _K2


def _len17to32(b, n):
    mul = (_K2 + n * 2) & _M
    a = (_f64(b, 0) * _K1) & _M
    c0 = _f64(b, 8)
    c = (_f64(b, n - 8) * mul) & _M
    d = (_f64(b, n - 16) * _K2) & _M
    return _h16((_rot((a + c0) & _M, 43) + _rot(c, 30) + d) & _M,
                (a + _rot((c0 + _K2) & _M, 18) + c) & _M, mul)


def _len33to64(b, n):
    mul = (_K2 + n * 2) & _M
    a = (_f64(b, 0) * _K2) & _M
    c0 = _f64(b, 8)
    c = (_f64(b, n - 8) * mul) & _M
    d = (_f64(b, n - 16) * _K2) & _M
    y = (_rot((a + c0) & _M, 43) + _rot(c, 30) + d) & _M
    z = _h16(y, (a + _rot((c0 + _K2) & _M, 18) + c) & _M, mul)
    e = (_f64(b, 16) * mul) & _M
    f = _f64(b, 24)
    g = ((y + _f64(b, n - 32)) * mul) & _M
    h = ((z + _f64(b, n - 24)) * mul) & _M
    return _h16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M,
                (e + _rot((f + a) & _M, 18) + g) & _M, mul)


def _weak32(b, i, a, c):
    w, x, y, z = _f64(b, i), _f64(b, i + 8), _f64(b, i + 16), _f64(b, i + 24)
    a = (a + w) & _M
    c = _rot((c + a + z) & _M, 21)
    t = a
    a = (a + x + y) & _M
    c = (c + _rot(a, 44)) & _M
    return (a + z) & _M, (c + t) & _M


def fingerprint64(data) -> int:
    """FarmHash Fingerprint64 of bytes (or a str, UTF-8 encoded), as an unsigned int."""
    b = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    n = len(b)
    if n <= 16:
        return _len0to16(b, n)
    if n <= 32:
        return _len17to32(b, n)
    if n <= 64:
        return _len33to64(b, n)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _M
    z = (_smix((y * _K2 + 113) & _M) * _K2) & _M
    v = (0, 0)
    w = (0, 0)
    x = (x * _K2 + _f64(b, 0)) & _M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    s = 0
    while True:
        x = (_rot((x + y + v[0] + _f64(b, s + 8)) & _M, 37) * _K1) & _M
        y = (_rot((y + v[1] + _f64(b, s + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _f64(b, s + 40)) & _M
        z = (_rot((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak32(b, s, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak32(b, s + 32, (z + w[1]) & _M, (y + _f64(b, s + 16)) & _M)
        z, x = x, z
        s += 64
        if s == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M
    s = last64
    w0 = (w[0] + ((n - 1) & 63)) & _M
    v0 = (v[0] + w0) & _M
    w0 = (w0 + v0) & _M
    w = (w0, w[1])
    v = (v0, v[1])
    x = (_rot((x + y + v[0] + _f64(b, s + 8)) & _M, 37) * mul) & _M
    y = (_rot((y + v[1] + _f64(b, s + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _f64(b, s + 40)) & _M
    z = (_rot((z + w[0]) & _M, 33) * mul) & _M
    v = _weak32(b, s, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak32(b, s + 32, (z + w[1]) & _M, (y + _f64(b, s + 16)) & _M)
    z, x = x, z
    return _h16((_h16(v[0], w[0], mul) + _smix(y) * _K0 + z) & _M,
                (_h16(v[1], w[1], mul) + x) & _M, mul)


def _rotl(v, s):
    return ((v << s) | (v >> (64 - s))) & _M


def siphash64(key, data) -> int:
    """SipHash-2-4 of bytes (or a UTF-8 str) under ``key = (k0, k1)`` (64-bit words)."""
    b = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    k0, k1 = int(key[0]) & _M, int(key[1]) & _M
    v0 = 0x736F6D6570736575 ^ k0
    v1 = 0x646F72616E646F6D ^ k1
    v2 = 0x6C7967656E657261 ^ k0
    v3 = 0x7465646279746573 ^ k1

    def rounds(v0, v1, v2, v3, r):
        for _ in range(r):
            v0 = (v0 + v1) & _M
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(b)
    full = n - n % 8
    for i in range(0, full, 8):
        m = _f64(b, i)
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(b[full:], "little")
    v3 ^= last
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= last
    v2 ^= 0xFF
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _as_strings(values):
    """TensorFlow's tf.as_string of the layer's inputs: ints in decimal, floats cast to
    int64 first (as Keras), bytes/str as they are."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64).astype(str).astype(object), arr
    if arr.dtype.kind in "USO":
        return arr.astype(object), arr
    raise TypeError(f"Hashing: unsupported input dtype {arr.dtype}")


class _StringInputLayer(Layer):
    """A layer whose inputs may be numpy arrays of str/bytes/object, which Layer.__call__
    would try to make tensors of: an eager call runs ``call`` directly, a symbolic one (a
    KerasTensor, in a functional graph) goes through Layer.__call__. Hashing, the lookup
    layers and TextVectorization."""

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.get("inputs")
        if isinstance(inputs, KerasTensor):
            return super().__call__(*args, **kwargs)
        return self.call(inputs)


class Hashing(_StringInputLayer):
    """Hashes strings or integers into ``num_bins`` bins as keras.layers.Hashing
    (``bin = Fingerprint64(str(value)) % num_bins``; with ``salt``, SipHash-2-4 keyed by
    it). ``mask_value`` goes to bin 0 and the others to 1..num_bins-1. ``output_mode``
    'int' (default, int64), 'one_hot', 'multi_hot' or 'count'."""
    _convert_input_args = False  # raw data in any dtype, as Keras

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        if isinstance(kwargs["dtype"], dict):
            kwargs["dtype"] = kwargs["dtype"].get("config", {}).get("name")
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise ValueError("The `num_bins` for `Hashing` cannot be `None` or non-positive "
                             f"values. Received: num_bins={num_bins}.")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError("When `output_mode=\"int\"`, `dtype` should be an integer type, "
                             f"'int32' or 'int64'. Received: dtype={self.dtype}")
        if output_mode not in ("int", "one_hot", "multi_hot", "count"):
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             "('int', 'one_hot', 'multi_hot', 'count'). Received: "
                             f"output_mode={output_mode}")
        if sparse:
            raise ValueError("Hashing: sparse=True (sparse outputs) is not supported by fastnet")
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.output_mode = output_mode
        self.sparse = sparse
        if salt is None:
            self.salt = None
        elif isinstance(salt, (tuple, list)) and len(salt) == 2 and \
                all(isinstance(s, (int, np.integer)) for s in salt):
            self.salt = [int(s) for s in salt]
        elif isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
            self.salt = [int(salt), int(salt)]
        else:
            raise ValueError("The `salt` argument for `Hashing` can only be a tuple of size 2 "
                             f"integers, or a single integer. Received: salt={salt}.")
        self.strong_hash = self.salt is not None

    def _bins(self, values):
        strings, raw = _as_strings(values)
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mv = self.mask_value
            mask = (strings == (mv if isinstance(mv, str) else str(mv))) if raw.dtype.kind in "USO" \
                else (raw == mv)
            if raw.dtype.kind in "USO" and isinstance(mv, bytes):
                mask = strings == mv
        cache = {}
        flat = strings.reshape(-1)
        out = np.empty(flat.shape, np.int64)
        for i, s in enumerate(flat):
            h = cache.get(s)
            if h is None:
                h = siphash64(self.salt, s) if self.strong_hash else fingerprint64(s)
                h %= bins
                cache[s] = h
            out[i] = h
        out = out.reshape(strings.shape)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return out

    def call(self, inputs):
        from fastnet.layers.preprocessing import _encode

        x = inputs._value if isinstance(inputs, Tensor) else inputs
        idx = self._bins(x)
        return Tensor(np.asarray(_encode(idx, self.output_mode, self.num_bins, self.dtype)))

    def _output_dtype(self, inputs):
        return "int64" if self.output_mode == "int" else self.dtype  # as the eager call

    def compute_output_shape(self, input_shape):
        from fastnet.layers.preprocessing import _encoded_shape

        return _encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
