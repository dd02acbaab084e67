"""Higher-order gradients through nested GradientTapes.

Every op with a backward is either differentiable-backward (an outer tape records its
gradient computation: checked here against finite differences of first-order gradients)
or raises NotImplementedError naming the op under an outer tape (never a silent None).

The check (``check_hvp``): for ops f(x1, ..., xk) and a weight u on the output, L =
sum(f(x) * u); the first-order gradients J(p) = dL/dp over p = (x1..xk, u) come from one
tape, and the Hessian-vector product H d = d/dp <J(p), d> from an outer tape around it.
Its reference is the central difference (J(p + eps d) - J(p - eps d)) / (2 eps). Including
u checks the backward's dependence on the upstream gradient (what a gradient penalty
differentiates), the xi its dependence on the saved inputs.

Tolerances: float32 kernels (conv, pooling, GEMM, the fused norms only run in float32)
with eps = 1e-2 on O(1) inputs: the central difference's truncation error is
O(eps^2 |f'''|) ~ 1e-4 relative and its rounding error ~ 1e-7 |J| / eps ~ 1e-5, so a 1e-2
relative error on the whole vector (norm-wise) leaves a margin while a missing term (a
None gradient, a dropped cross term) is an O(1) error. float64 paths use eps = 1e-5 and
1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnet
from fastnet import layers
from fastnet import ops as _public_ops
from fastnet.backend.tape import GradientTape
from fastnet.ops import nn as _ops_nn
from fastnet.ops import spatial as _ops_spatial
from fastnet.ops._embedding import embedding_lookup

F32 = dict(eps=1e-2, tol=1e-2)
F64 = dict(eps=1e-5, tol=1e-6)


def _tensors(vals):
    return [ops.convert_to_tensor(v, dtype=v.dtype.name) for v in vals]


def _loss(f, ts):
    out = f(*ts[:-1])
    return ops.sum(out * ts[-1])


def _first(f, vals):
    ts = _tensors(vals)
    with GradientTape() as t:
        t.watch(ts)
        loss = _loss(f, ts)
    gs = t.gradient(loss, ts)
    return [np.zeros_like(v) if g is None else g.numpy().astype(np.float64)
            for g, v in zip(gs, vals)]


def _hvp(f, vals, ds):
    ts = _tensors(vals)
    with GradientTape() as outer:
        outer.watch(ts)
        with GradientTape() as inner:
            inner.watch(ts)
            loss = _loss(f, ts)
        gs = inner.gradient(loss, ts)
        s = None
        for g, d in zip(gs, ds):
            if g is None:
                continue
            term = ops.sum(g * ops.convert_to_tensor(d, dtype=g.dtype))
            s = term if s is None else s + term
    hs = outer.gradient(s, ts)
    return [np.zeros_like(v, dtype=np.float64) if h is None else h.numpy().astype(np.float64)
            for h, v in zip(hs, vals)]


def check_hvp(f, inputs, eps, tol, seed=0, out_dtype=None):
    """f's Hessian-vector product by nested tapes vs finite differences of its gradient."""
    rng = np.random.default_rng(seed)
    ts = _tensors(inputs)
    out = f(*ts)
    u = rng.uniform(-1, 1, out.shape).astype(out_dtype or out.dtype)
    vals = list(inputs) + [u]
    ds = [rng.uniform(-1, 1, v.shape).astype(v.dtype) for v in vals]
    auto = _hvp(f, vals, ds)
    plus = _first(f, [v + eps * d for v, d in zip(vals, ds)])
    minus = _first(f, [v - eps * d for v, d in zip(vals, ds)])
    fd = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
    a = np.concatenate([x.ravel() for x in auto])
    r = np.concatenate([x.ravel() for x in fd])
    assert np.linalg.norm(r) > 0, "degenerate check: zero Hessian-vector product"
    err = np.linalg.norm(a - r) / np.linalg.norm(r)
    assert err <= tol, f"HVP relative error {err:.3g} > {tol} (auto {a[:6]}, fd {r[:6]})"


def _rand(shape, seed, scale=1.0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _distinct(shape, seed, dtype=np.float32):
    """Values 0.05 apart (shuffled): no tie or kink within a finite-difference step."""
    n = int(np.prod(shape))
    v = (np.random.default_rng(seed).permutation(n) - n / 2) * 0.05
    v = np.where(np.abs(v) < 0.02, 0.03, v)
    return v.reshape(shape).astype(dtype)


def _off_zero(shape, seed, dtype=np.float32):
    """O(1) values at least 0.05 from 0 (relu-like kinks), larger than any step eps * d."""
    r = np.random.default_rng(seed).standard_normal(shape)
    return (np.sign(r) * (0.05 + 0.6 * np.abs(r))).astype(dtype)


# ---- the ops whose backward is differentiable ----------------------------------------------
# name -> (f, inputs builder, tolerance settings)
class _OpsAndHelpers:
    """fastnet.ops plus the fused helpers the layers call (they are not public names)."""

    def __getattr__(self, name):
        for module in (_public_ops, _ops_nn, _ops_spatial):
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)


ops = _OpsAndHelpers()


x4 = (2, 7, 7, 3)
DIFFERENTIABLE = {
    "matmul": (ops.matmul, lambda: [_rand((5, 4), 0), _rand((4, 3), 1)], F32),
    "matmul_3d_2d": (ops.matmul, lambda: [_rand((2, 5, 4), 0), _rand((4, 3), 1)], F32),
    "matmul_float64": (ops.matmul, lambda: [_rand((5, 4), 0, dtype=np.float64),
                                            _rand((4, 3), 1, dtype=np.float64)], F64),
    "dense_bias_tanh": (lambda x, w, b: ops.tanh(ops.bias_add(ops.matmul(x, w), b)),
                        lambda: [_rand((6, 5), 0, 0.5), _rand((5, 4), 1, 0.5),
                                 _rand((4,), 2, 0.1)], F32),
    "dense_bias_kernel_sized": (  # 64x64 = 4096: bias_add and tanh run their kernels
        lambda x, w, b: ops.tanh(ops.bias_add(ops.matmul(x, w), b)),
        lambda: [_rand((64, 8), 0, 0.3), _rand((8, 64), 1, 0.3), _rand((64,), 2, 0.1)], F32),
    "conv1d_same": (lambda x, w: ops.conv(x, w, padding="same"),
                    lambda: [_rand((2, 9, 3), 0), _rand((3, 3, 4), 1)], F32),
    "conv2d_valid_strided": (lambda x, w: ops.conv(x, w, strides=2),
                             lambda: [_rand(x4, 0), _rand((3, 3, 3, 4), 1)], F32),
    "conv2d_dilated_tanh": (lambda x, w: ops.tanh(ops.conv(x, w, padding="same",
                                                           dilation_rate=2)),
                            lambda: [_rand(x4, 0, 0.5), _rand((3, 3, 3, 2), 1, 0.3)], F32),
    "conv3d": (lambda x, w: ops.conv(x, w, padding="same"),
               lambda: [_rand((1, 4, 5, 5, 2), 0), _rand((2, 3, 3, 2, 3), 1)], F32),
    "conv_bias": (lambda x, w, b: ops.sigmoid(ops.conv_bias(x, w, b, padding="same")),
                  lambda: [_rand(x4, 0, 0.5), _rand((3, 3, 3, 4), 1, 0.3),
                           _rand((4,), 2, 0.1)], F32),
    "conv_transpose2d": (lambda x, w: ops.conv_transpose(x, w, strides=2, padding="same"),
                         lambda: [_rand((2, 4, 4, 3), 0), _rand((3, 3, 2, 3), 1)], F32),
    "depthwise_conv2d": (lambda x, w: ops.depthwise_conv(x, w, padding="same"),
                         lambda: [_rand(x4, 0), _rand((3, 3, 3, 2), 1)], F32),
    "separable_conv2d": (lambda x, dw, pw: ops.tanh(ops.separable_conv(x, dw, pw)),
                         lambda: [_rand(x4, 0, 0.5), _rand((3, 3, 3, 2), 1, 0.5),
                                  _rand((1, 1, 6, 4), 2, 0.5)], F32),
    "max_pool2d": (lambda x: ops.max_pool(x, 2), lambda: [_distinct((2, 6, 6, 3), 0)], F32),
    "max_pool2d_overlapping_same": (lambda x: ops.max_pool(x, 3, 2, padding="same"),
                                    lambda: [_distinct((2, 7, 7, 3), 0)], F32),
    "max_pool1d": (lambda x: ops.max_pool(x, 2), lambda: [_distinct((2, 8, 3), 0)], F32),
    "max_pool3d": (lambda x: ops.max_pool(x, 2), lambda: [_distinct((1, 4, 4, 4, 2), 0)], F32),
    "max_pool2d_float64": (lambda x: ops.max_pool(x, 2, padding="same"),
                           lambda: [_distinct((2, 5, 5, 3), 0, np.float64)], F64),
    "max_pool_then_square": (lambda x: ops.square(ops.max_pool(x, 2)),
                             lambda: [_distinct((2, 6, 6, 3), 0)], F32),
    "average_pool2d": (lambda x: ops.square(ops.average_pool(x, 2, padding="same")),
                       lambda: [_rand(x4, 0)], F32),
    "average_pool2d_float64": (lambda x: ops.square(ops.average_pool(x, 3, 2, padding="same")),
                               lambda: [_rand(x4, 0, dtype=np.float64)], F64),
    "upsampling": (lambda x: ops.square(ops.upsampling(x, 2)), lambda: [_rand(x4, 0)], F32),
    "upsampling_float64": (lambda x: ops.square(ops.upsampling(x, 2)),
                           lambda: [_rand(x4, 0, dtype=np.float64)], F64),
    "global_max_pool": (lambda x: ops.square(ops.global_max_pool(x)),
                        lambda: [_distinct(x4, 0)], F32),
    "global_average_pool": (lambda x: ops.square(ops.global_average_pool(x)),
                            lambda: [_rand(x4, 0)], F32),
    "batch_norm_train": (lambda x, g, b: ops.batch_norm_train(x, g, b)[0],
                         lambda: [_rand((8, 5), 0), 1 + _rand((5,), 1, 0.1),
                                  _rand((5,), 2, 0.1)], F32),
    "layer_norm": (lambda x, g, b: ops.layer_norm(x, g, b),
                   lambda: [_rand((6, 5), 0), 1 + _rand((5,), 1, 0.1), _rand((5,), 2, 0.1)],
                   F32),
    "take": (lambda x: ops.square(ops.take(x, np.array([2, 0, 2]), axis=1)),
             lambda: [_rand((3, 4), 0, dtype=np.float64)], F64),
    "embedding_lookup": (lambda t: ops.square(embedding_lookup(
        t, ops.convert_to_tensor(np.array([[2, 0], [2, 4]], np.int32)), "Embedding 'e'")),
        lambda: [_rand((5, 3), 0)], F32),
    "take_along_axis": (lambda x: ops.square(ops.take_along_axis(
        x, np.array([[1, 1], [0, 2], [3, 0]]), axis=1)),
        lambda: [_rand((3, 4), 0, dtype=np.float64)], F64),
    "categorical_crossentropy_logits": (
        lambda t, o: ops.categorical_crossentropy(t, o, from_logits=True),
        lambda: [np.eye(4, dtype=np.float32)[[0, 2, 1, 3, 3]], _rand((5, 4), 1)], F32),
    "categorical_crossentropy_probs": (
        lambda o: ops.categorical_crossentropy(np.eye(4, dtype=np.float32)[[0, 2, 1]],
                                               ops.softmax(o)),
        lambda: [_rand((3, 4), 1)], F32),
    "sparse_categorical_crossentropy_logits": (
        lambda o: ops.sparse_categorical_crossentropy(np.array([0, 2, 1]), o, from_logits=True),
        lambda: [_rand((3, 4), 1)], F32),
    "binary_crossentropy_logits": (
        lambda t, o: ops.binary_crossentropy(t, o, from_logits=True),
        lambda: [np.random.default_rng(0).uniform(0, 1, (4, 3)).astype(np.float32),
                 _rand((4, 3), 1)], F32),
}
for _name in ("relu", "tanh", "sigmoid", "softplus", "silu", "gelu", "elu", "selu",
              "leaky_relu", "softmax", "log_softmax", "hard_silu", "mish"):
    _fn = getattr(ops, _name)
    DIFFERENTIABLE[f"{_name}_small"] = (lambda x, _fn=_fn: ops.square(_fn(x)),
                                        lambda: [_off_zero((4, 6), 0, np.float64)], F64)
    DIFFERENTIABLE[f"{_name}_kernel_sized"] = (  # >= 4096 float32 elements: the kernel path
        lambda x, _fn=_fn: ops.square(_fn(x)), lambda: [_off_zero((64, 64), 3)], F32)
# the image ops (fastnet.ops.image): linear in the image, their adjoints taped
_SHIFT = np.array([[1.0, 0.0, 0.3, 0.0, 1.0, -0.2, 0.0, 0.0]], np.float32)
DIFFERENTIABLE["resize_bilinear"] = (
    lambda x: ops.square(ops.image.resize(x, (5, 9))), lambda: [_rand((1, 4, 6, 2), 0)], F32)
DIFFERENTIABLE["resize_bicubic"] = (
    lambda x: ops.square(ops.image.resize(x, (5, 9), interpolation="bicubic")),
    lambda: [_rand((1, 4, 6, 2), 0)], F32)
DIFFERENTIABLE["affine_transform"] = (
    lambda x: ops.square(ops.image.affine_transform(x, _SHIFT)),
    lambda: [_rand((1, 5, 6, 2), 0)], F32)
DIFFERENTIABLE["gelu_exact_small"] = (lambda x: ops.square(ops.gelu(x, approximate=False)),
                                      lambda: [_rand((4, 6), 0, dtype=np.float64)], F64)
DIFFERENTIABLE["gelu_exact_kernel"] = (lambda x: ops.square(ops.gelu(x, approximate=False)),
                                       lambda: [_rand((4, 6), 0)], F32)


# the newer Keras 3 activations (numpy forward, derivative from ops: no kernel path)
for _name in ("celu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus",
              "sparse_sigmoid", "squareplus", "tanh_shrink"):
    _fn = getattr(ops, _name)
    DIFFERENTIABLE[f"{_name}_small"] = (lambda x, _fn=_fn: ops.square(_fn(x)) * x,
                                        lambda: [_off_zero((4, 6), 0, np.float64)], F64)
DIFFERENTIABLE["threshold_small"] = (lambda x: ops.square(ops.threshold(x, 0.1, -2.0)) * x,
                                     lambda: [_off_zero((4, 6), 0, np.float64)], F64)
DIFFERENTIABLE["glu"] = (lambda x: ops.square(ops.glu(x)), lambda: [_rand((3, 6), 0, 1.0,
                                                                          np.float64)], F64)
DIFFERENTIABLE["sparsemax"] = (lambda x: ops.square(ops.sparsemax(x)) * _rand((3, 5), 9, 1.0,
                                                                               np.float64),
                               lambda: [_distinct((3, 5), 0, np.float64) * 8], F64)
DIFFERENTIABLE["erfinv"] = (lambda x: ops.square(ops.erfinv(x)),
                            lambda: [np.random.default_rng(0).uniform(-0.8, 0.8, (3, 4))], F64)
DIFFERENTIABLE["normalize_l2"] = (lambda x: ops.normalize(x, axis=0),
                                  lambda: [_rand((3, 4), 0, 1.0, np.float64)], F64)
DIFFERENTIABLE["layer_normalization_axes"] = (
    lambda x, g: ops.layer_normalization(x, g, axis=(1, 2)),
    lambda: [_rand((2, 3, 4), 0, 1.0, np.float64), 1 + _rand((3, 4), 1, 0.1, np.float64)], F64)
DIFFERENTIABLE["unfold_fold"] = (
    lambda x: ops.square(ops.fold(ops.unfold(x, 2, stride=1, padding=1), (3, 4), 2, padding=1)),
    lambda: [_rand((1, 2, 3, 4), 0, 1.0, np.float64)], F64)
DIFFERENTIABLE["slice_and_scatter_update"] = (
    lambda x, u: ops.square(ops.scatter_update(ops.slice_update(x, (1, 0), u), [[0, 1]], [5.0])),
    lambda: [_rand((3, 4), 0, 1.0, np.float64), _rand((2, 3), 1, 1.0, np.float64)], F64)
DIFFERENTIABLE["jvp"] = (  # jvp is itself two nested tapes: third order through an outer one
    lambda x: ops.jvp(lambda a: ops.sin(a) * a, (x,), (ops.ones_like(x),))[1],
    lambda: [_rand((3,), 0, 1.0, np.float64)], F64)


def _pos(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(dtype)


# elementwise, reduction and shape ops (float64: numpy forward and backward)
for _name in ("negative", "abs", "square", "sqrt", "exp", "log", "log1p", "expm1", "sin",
              "cos", "sinh", "tan", "arctan", "erf", "log2", "cbrt", "reciprocal",
              "nan_to_num", "relu6"):
    DIFFERENTIABLE[_name] = (lambda x, _fn=getattr(ops, _name): ops.square(_fn(x)),
                             lambda: [_pos((3, 4), 0)], F64)
for _name in ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power",
              "arctan2", "hypot", "logaddexp", "mod"):
    DIFFERENTIABLE[_name] = (lambda a, b, _fn=getattr(ops, _name): ops.square(_fn(a, b)),
                             lambda: [_pos((3, 4), 0), _pos((4,), 1)], F64)
# cross-entropy on a softmax output takes its logits; with ignore_class, the logit-free view
DIFFERENTIABLE["crossentropy_on_softmax_logits"] = (
    lambda z: ops.categorical_crossentropy(np.eye(4, dtype=np.float32)[:3], ops.softmax(z)),
    lambda: [_rand((3, 4), 0)], F32)
DIFFERENTIABLE["sparse_crossentropy_ignore_class"] = (
    lambda z: fastnet.losses.sparse_categorical_crossentropy(
        np.array([0, 3, 1]), ops.softmax(z), ignore_class=3),
    lambda: [_rand((3, 4), 0)], F32)
_mask34 = np.array([[True, False, True, True], [False, True, False, True],
                    [True, True, False, False]])
DIFFERENTIABLE.update({
    "clip": (lambda x: ops.square(ops.clip(x, 0.7, 1.2)), lambda: [_pos((3, 4), 0)], F64),
    "where": (lambda a, b: ops.square(ops.where(_mask34, a, b)),
              lambda: [_pos((3, 4), 0), _pos((3, 4), 1)], F64),
    "cast": (lambda x: ops.square(ops.cast(x, "float32")), lambda: [_pos((3, 4), 0)], F32),
    "sum": (lambda x: ops.square(ops.sum(x, axis=1)), lambda: [_pos((3, 4), 0)], F64),
    "mean": (lambda x: ops.square(ops.mean(x, axis=0, keepdims=True)),
             lambda: [_pos((3, 4), 0)], F64),
    "max": (lambda x: ops.square(ops.max(x, axis=1)), lambda: [_distinct((3, 4), 0, np.float64)],
            F64),
    "prod": (lambda x: ops.prod(x, axis=1), lambda: [_pos((3, 4), 0)], F64),
    "cumsum": (lambda x: ops.square(ops.cumsum(x, axis=1)), lambda: [_pos((3, 4), 0)], F64),
    "flip": (lambda x: ops.square(ops.flip(x, axis=1)) * _pos((3, 4), 5),
             lambda: [_pos((3, 4), 0)], F64),
    "reshape": (lambda x: ops.square(ops.reshape(x, (2, 6))), lambda: [_pos((3, 4), 0)], F64),
    "transpose": (lambda x: ops.square(ops.transpose(x)), lambda: [_pos((3, 4), 0)], F64),
    "expand_dims": (lambda x: ops.square(ops.expand_dims(x, 1)), lambda: [_pos((3, 4), 0)],
                    F64),
    "squeeze": (lambda x: ops.square(ops.squeeze(x, 1)), lambda: [_pos((3, 1, 4), 0)], F64),
    "broadcast_to": (lambda x: ops.square(ops.broadcast_to(x, (2, 3, 4))),
                     lambda: [_pos((3, 1), 0)], F64),
    "concatenate": (lambda a, b: ops.square(ops.concatenate([a, b], axis=1)),
                    lambda: [_pos((3, 4), 0), _pos((3, 2), 1)], F64),
    "stack": (lambda a, b: ops.square(ops.stack([a, b], axis=1)),
              lambda: [_pos((3, 4), 0), _pos((3, 4), 1)], F64),
    "split": (lambda x: ops.square(ops.split(x, 2, axis=1)[1]), lambda: [_pos((3, 4), 0)], F64),
    "tile": (lambda x: ops.square(ops.tile(x, (2, 1))), lambda: [_pos((3, 4), 0)], F64),
    "repeat": (lambda x: ops.square(ops.repeat(x, 2, axis=1)), lambda: [_pos((3, 4), 0)], F64),
    "repeat_counts": (lambda x: ops.square(ops.repeat(x, [1, 0, 3, 2], axis=1)),
                      lambda: [_pos((3, 4), 0)], F64),
    "pad": (lambda x: ops.square(ops.pad(x, [(1, 0), (0, 2)])), lambda: [_pos((3, 4), 0)], F64),
    "get_item_basic": (lambda x: ops.square(x[1:, ::2]), lambda: [_pos((3, 4), 0)], F64),
    "get_item_advanced": (lambda x: ops.square(x[np.array([0, 2, 0])]),
                          lambda: [_pos((3, 4), 0)], F64),
    "einsum": (lambda a, b: ops.square(ops.einsum("ij,jk->ik", a, b)),
               lambda: [_pos((3, 4), 0), _pos((4, 2), 1)], F64),
    "roll": (lambda x: ops.square(ops.roll(x, 1, axis=1)) * _pos((3, 4), 5),
             lambda: [_pos((3, 4), 0)], F64),
    "inv": (lambda a: ops.inv(a + 3.0 * np.eye(3)), lambda: [_pos((3, 3), 0)], F64),
    "solve": (lambda a, b: ops.solve(a + 3.0 * np.eye(3), b),
              lambda: [_pos((3, 3), 0), _pos((3, 2), 1)], F64),
    "det": (lambda a: ops.det(a + 3.0 * np.eye(3)), lambda: [_pos((3, 3), 0)], F64),
    "logdet": (lambda a: ops.logdet(a + 3.0 * np.eye(3)), lambda: [_pos((3, 3), 0)], F64),
    # the numpy conv paths (a strided input, channels_first) take the
    # taped kernels under an outer tape
    "conv_im2col_strided_input": (lambda x, w: ops.conv(x[:, ::2], w, padding="same"),
                                  lambda: [_rand((1, 8, 5, 2), 0), _rand((2, 2, 2, 3), 1)], F32),
    "conv_channels_first": (lambda x, w: ops.tanh(ops.conv(x, w, data_format="channels_first")),
                            lambda: [_rand((2, 3, 6, 6), 0, 0.5), _rand((3, 3, 3, 2), 1, 0.5)],
                            F32),
    "depthwise_conv_numpy_path": (lambda x, w: ops.depthwise_conv(x[:, ::2], w),
                                  lambda: [_rand((1, 8, 5, 2), 0), _rand((2, 2, 2, 2), 1)], F32),
    "conv_transpose_numpy_path": (lambda x, w: ops.conv_transpose(x[:, ::2], w, strides=2),
                                  lambda: [_rand((1, 8, 5, 2), 0), _rand((2, 2, 3, 2), 1)], F32),
    "sort": (lambda x: ops.square(ops.sort(x, axis=0)) * _pos((3, 4), 5),
             lambda: [_distinct((3, 4), 0, np.float64)], F64),
    "top_k": (lambda x: ops.square(ops.top_k(x, 2)[0]),
              lambda: [_distinct((3, 4), 0, np.float64)], F64),
    "segment_sum": (lambda x: ops.square(ops.segment_sum(x, np.array([0, 1, 0, 5]), 2)),
                    lambda: [_pos((4, 3), 0)], F64),
    "segment_max": (lambda x: ops.square(ops.segment_max(x, np.array([0, 1, 0, 1]))),
                    lambda: [_distinct((4, 3), 0, np.float64)], F64),
    "diagonal": (lambda x: ops.square(ops.diagonal(x, 1)), lambda: [_pos((3, 4), 0)], F64),
    "diag": (lambda x: ops.square(ops.diag(x, -1)), lambda: [_pos((3,), 0)], F64),
    "dot_product_attention": (
        lambda q, k, v: ops.dot_product_attention(q, k, v),
        lambda: [_rand((1, 3, 2, 4), 0, 0.5), _rand((1, 5, 2, 4), 1, 0.5),
                 _rand((1, 5, 2, 4), 2, 0.5)], F32),
})


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_second_order_matches_finite_differences(name):
    f, build, tol = DIFFERENTIABLE[name]
    check_hvp(f, build(), **tol)


# ---- the ops whose backward is a first-order kernel: they raise under an outer tape --------
def _rnn(fn, **kw):
    def run(x, k, r):
        return fn(x, k, r, **kw)
    return run


@_public_ops.custom_gradient
def _clipped_identity(x):
    def grad(upstream):
        return ops.clip(upstream, -0.5, 0.5)

    return x * 1.0, grad


RAISING = {
    "map_coordinates": (lambda x: ops.image.map_coordinates(
        x, np.array([[0.5, 1.2, 2.7], [0.3, 2.2, 1.1]], np.float32), order=1),
        lambda: [_rand((4, 4), 0)]),
    "lstm_sequence": (_rnn(ops.lstm_sequence), lambda: [_rand((2, 3, 4), 0),
                                                        _rand((4, 8), 1), _rand((2, 8), 2)]),
    "gru_sequence": (_rnn(ops.gru_sequence), lambda: [_rand((2, 3, 4), 0), _rand((4, 6), 1),
                                                      _rand((2, 6), 2)]),
    "simple_rnn_sequence": (_rnn(ops.simple_rnn_sequence),
                            lambda: [_rand((2, 3, 4), 0), _rand((4, 2), 1), _rand((2, 2), 2)]),
    "cumprod": (lambda x: ops.cumprod(x, axis=1), lambda: [_rand((3, 4), 0)]),
    "cholesky": (lambda a: ops.cholesky(ops.matmul(a, ops.transpose(a)) + 3.0 * np.eye(3)),
                 lambda: [_rand((3, 3), 0)]),
    "qr": (lambda a: ops.qr(a)[1], lambda: [_rand((4, 3), 0)]),
    "svd": (lambda a: ops.svd(a, compute_uv=False), lambda: [_rand((3, 3), 0)]),
    "eigh": (lambda a: ops.eigh(a + ops.transpose(a))[0], lambda: [_rand((3, 3), 0)]),
    "fft": (lambda re, im: ops.fft((re, im))[0], lambda: [_rand((2, 4), 0), _rand((2, 4), 1)]),
    "irfft": (lambda re, im: ops.irfft((re, im)), lambda: [_rand((2, 3), 0), _rand((2, 3), 1)]),
    "i0": (lambda x: ops.i0(x), lambda: [_rand((3, 4), 0)]),
    "custom_gradient": (lambda x: _clipped_identity(x), lambda: [_rand((3, 4), 0)]),
    "ctc_loss": (lambda x: ops.ctc_loss(np.array([[1, 2]]), x, np.array([2]), np.array([4])),
                 lambda: [_rand((1, 4, 3), 0)]),
}


@pytest.mark.parametrize("name", sorted(RAISING))
def test_first_order_only_ops_raise_under_an_outer_tape(name):
    f, build = RAISING[name]
    ts = _tensors(build())
    with GradientTape() as outer:
        outer.watch(ts)
        with GradientTape() as inner:
            inner.watch(ts)
            loss = ops.sum(ops.square(f(*ts)))
        with pytest.raises(NotImplementedError, match="second-order gradient of"):
            inner.gradient(loss, ts)
    # first order on its own still works: a gradient for the first input
    ts = _tensors(build())
    with GradientTape() as t:
        t.watch(ts)
        loss = ops.sum(ops.square(f(*ts)))
    assert t.gradient(loss, ts)[0] is not None


def test_error_names_the_op():
    ts = _tensors([_rand((2, 3, 4), 0), _rand((4, 8), 1), _rand((2, 8), 2)])
    with GradientTape() as outer:
        outer.watch(ts)
        with GradientTape() as inner:
            inner.watch(ts)
            loss = ops.sum(ops.lstm_sequence(*ts))
        with pytest.raises(NotImplementedError,
                           match="second-order gradient of lstm_sequence is not implemented"):
            inner.gradient(loss, ts)


def test_outer_tape_that_tracks_nothing_relevant_does_not_raise():
    """A first-order-only op raises only when the outer tape would record its gradient:
    an outer tape watching an unrelated tensor gets the plain first-order result."""
    x = ops.convert_to_tensor(_rand((2, 3, 4), 0))
    k, r = ops.convert_to_tensor(_rand((4, 8), 1)), ops.convert_to_tensor(_rand((2, 8), 2))
    other = ops.convert_to_tensor(np.ones(3, np.float32))
    with GradientTape() as outer:
        outer.watch(other)
        with GradientTape() as inner:
            inner.watch([x, k, r])
            loss = ops.sum(ops.lstm_sequence(x, k, r))
        gx = inner.gradient(loss, x)
        y = ops.sum(other * 2.0)
    assert gx is not None and gx.shape == x.shape
    np.testing.assert_allclose(outer.gradient(y, other).numpy(), 2.0)


FUSED_LOSSES = {
    "categorical_crossentropy": lambda o: ops.categorical_crossentropy(
        np.eye(64, dtype=np.float32), o, from_logits=True),
    "binary_crossentropy": lambda o: ops.binary_crossentropy(
        np.eye(64, dtype=np.float32), o, from_logits=True),
    "sparse_categorical_crossentropy": lambda o: ops.sparse_categorical_crossentropy(
        np.arange(64) % 7, o, from_logits=True),
}


@pytest.mark.parametrize("name", sorted(FUSED_LOSSES))
def test_fused_loss_kernel_raises_when_only_the_backward_is_recorded(name):
    """The fused cross-entropy kernels' gradient is a constant: when the forward ran under
    one tape and an outer tape records only the backward, they raise (nested tapes around
    the forward take the composed, differentiable path: tested above)."""
    o = ops.convert_to_tensor(_rand((64, 64), 0))
    with GradientTape() as inner:
        inner.watch(o)
        loss = ops.sum(FUSED_LOSSES[name](o))
    with GradientTape() as outer:
        outer.watch(o)
        with pytest.raises(NotImplementedError, match="second-order gradient of"):
            inner.gradient(loss, o)


def test_tape_rejects_an_untracked_gradient_from_any_backward():
    """The sweep's own guard (csrc/cython/_core.pyx, _check_recorded): a backward that
    returns a raw result while an outer tape tracks its upstream gradient raises, naming
    the op, even for an op nobody classified (here a user op built on ``make``)."""
    from fastnet.ops.core import make

    def my_raw_op(x):
        return make(x._value * 3.0, (x,), lambda g: (fastnet.Tensor(g._value * 3.0),))

    x = ops.convert_to_tensor(_rand((3,), 0))
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.square(my_raw_op(x)))
        with pytest.raises(NotImplementedError, match="second-order gradient of my_raw_op"):
            inner.gradient(y, x)
    with GradientTape() as t:  # first order is untouched
        t.watch(x)
        y = ops.sum(my_raw_op(x))
    np.testing.assert_allclose(t.gradient(y, x).numpy(), 3.0)


def test_conv_backward_under_an_outer_tape_uses_kernel_results():
    """The taped conv VJPs give the same first-order values as the kernel fast path."""
    x = ops.convert_to_tensor(_rand(x4, 0))
    w = ops.convert_to_tensor(_rand((3, 3, 3, 4), 1))
    for nested in (False, True):
        outer = GradientTape()
        if nested:
            outer.__enter__()
            outer.watch([x, w])
        with GradientTape() as t:
            t.watch([x, w])
            loss = ops.sum(ops.square(ops.conv(x, w, strides=2, padding="same")))
        gx, gw = t.gradient(loss, [x, w])
        if nested:
            outer.__exit__(None, None, None)
            ref = (gx.numpy(), gw.numpy())
        else:
            first = (gx.numpy(), gw.numpy())
    np.testing.assert_allclose(ref[0], first[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ref[1], first[1], rtol=1e-5, atol=1e-5)


# ---- models: Hessian-vector products and a gradient penalty --------------------------------
def _model_hvp_check(model, x, y, seed=0, eps=1e-2, tol=1e-2):
    model(x)
    ws = model.trainable_variables
    w0 = [w.numpy().copy() for w in ws]
    rng = np.random.default_rng(seed)
    ds = [rng.uniform(-1, 1, w.shape).astype(np.float32) for w in w0]
    yt = ops.convert_to_tensor(y)

    def grads():
        with GradientTape() as t:
            loss = ops.mean(ops.square(model(x) - yt))
        return [g.numpy().astype(np.float64) for g in t.gradient(loss, ws)]

    with GradientTape() as outer:
        with GradientTape() as inner:
            loss = ops.mean(ops.square(model(x) - yt))
        gs = inner.gradient(loss, ws)
        s = ops.sum(ops.stack([ops.sum(g * d) for g, d in zip(gs, ds)]))
    hv = outer.gradient(s, ws)
    assert all(h is not None for h in hv)
    auto = np.concatenate([h.numpy().ravel() for h in hv])
    out = []
    for sign in (1, -1):
        for w, v, d in zip(ws, w0, ds):
            w.assign(v + sign * eps * d)
        out.append(np.concatenate([g.ravel() for g in grads()]))
    for w, v in zip(ws, w0):
        w.assign(v)
    fd = (out[0] - out[1]) / (2 * eps)
    err = np.linalg.norm(auto - fd) / np.linalg.norm(fd)
    assert err <= tol, f"HVP relative error {err:.3g}"


def test_hessian_vector_product_mlp():
    fastnet.utils.set_random_seed(0)
    model = fastnet.Sequential([layers.Input((6,)), layers.Dense(8, activation="tanh"),
                                layers.Dense(8, activation="sigmoid"), layers.Dense(2)])
    _model_hvp_check(model, _rand((10, 6), 1), _rand((10, 2), 2))


def test_hessian_vector_product_cnn():
    fastnet.utils.set_random_seed(0)
    model = fastnet.Sequential([
        layers.Input((8, 8, 2)), layers.Conv2D(4, 3, padding="same", activation="tanh"),
        layers.MaxPooling2D(2), layers.Conv2D(3, 3, activation="softplus"),
        layers.AveragePooling2D(2, padding="same"), layers.Flatten(), layers.Dense(2)])
    x = _distinct((3, 8, 8, 2), 1) * 0.2
    _model_hvp_check(model, x, _rand((3, 2), 2))


def test_batch_normalization_layer_hvp():
    fastnet.utils.set_random_seed(0)
    bn = layers.BatchNormalization()
    x = ops.convert_to_tensor(_rand((8, 4), 0))
    bn(x, training=True)
    check_hvp(lambda xv: bn(xv, training=True), [_rand((8, 4), 0)], **F32)


def _critic():
    return fastnet.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(4, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(8, 3, padding="same", activation="tanh"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(1)])


def _gradient_penalty(critic, x_hat):
    with GradientTape() as t:
        t.watch(x_hat)
        score = ops.sum(critic(x_hat))
    g = t.gradient(score, x_hat)
    norm = ops.sqrt(ops.sum(ops.square(g), axis=(1, 2, 3)) + 1e-12)
    return ops.mean(ops.square(norm - 1.0))


def test_wgan_gp_gradient_penalty_matches_finite_differences():
    fastnet.utils.set_random_seed(0)
    critic = _critic()
    x_hat = ops.convert_to_tensor(_rand((4, 8, 8, 1), 0))
    critic(x_hat)
    ws = critic.trainable_variables
    with GradientTape() as outer:
        gp = _gradient_penalty(critic, x_hat)
    grads = outer.gradient(gp, ws)
    # d critic / d x does not depend on the output layer's bias: only that one is None
    missing = [i for i, g in enumerate(grads) if g is None]
    assert missing == [len(ws) - 1], [ws[i].name for i in missing]
    grads[-1] = ops.zeros_like(ws[-1])
    rng = np.random.default_rng(1)
    ds = [rng.uniform(-1, 1, w.shape).astype(np.float32) for w in ws]
    w0 = [w.numpy().copy() for w in ws]
    # LeakyReLU and max-pooling are piecewise linear: a step of 1e-2 crosses kinks (the
    # difference is then off by ~2x), 1e-3 does not here; float32 rounding of the penalty
    # over 2e-3 is ~1e-4 relative, hence the 2e-3 tolerance.
    eps = 1e-3
    vals = []
    for sign in (1, -1):
        for w, v, d in zip(ws, w0, ds):
            w.assign(v + sign * eps * d)
        vals.append(float(_gradient_penalty(critic, x_hat).numpy()))
    for w, v in zip(ws, w0):
        w.assign(v)
    fd = (vals[0] - vals[1]) / (2 * eps)
    auto = sum(float(np.sum(g.numpy() * d)) for g, d in zip(grads, ds))
    assert abs(auto - fd) <= 2e-3 * abs(fd), (auto, fd)


def test_wgan_gp_critic_trains_under_nested_tapes():
    """A few WGAN-GP critic steps: Wasserstein loss + 10 * gradient penalty on
    interpolates, the penalty's weight gradients through the critic's conv, pooling and
    dense backwards. The loss goes down and every weight gets a gradient."""
    fastnet.utils.set_random_seed(0)
    critic = _critic()
    opt = fastnet.optimizers.Adam(1e-2)
    rng = np.random.default_rng(0)
    real = ops.convert_to_tensor(rng.normal(0.5, 0.2, (8, 8, 8, 1)).astype(np.float32))
    fake = ops.convert_to_tensor(rng.normal(-0.5, 0.2, (8, 8, 8, 1)).astype(np.float32))
    alpha = ops.convert_to_tensor(rng.uniform(0, 1, (8, 1, 1, 1)).astype(np.float32))
    x_hat = alpha * real + (1.0 - alpha) * fake
    losses = []
    for _ in range(8):
        with GradientTape() as tape:
            w_loss = ops.mean(critic(fake)) - ops.mean(critic(real))
            loss = w_loss + 10.0 * _gradient_penalty(critic, x_hat)
        grads = tape.gradient(loss, critic.trainable_variables)
        assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
        opt.apply(grads, critic.trainable_variables)
        losses.append(float(loss.numpy()))
    assert losses[-1] < losses[0], losses


# ---- the sweep: every op with a backward is classified --------------------------------------
# Every function in fastnet/ops that records a backward (calls ``make``) -> the cases above
# that run it under nested tapes: DIFFERENTIABLE (second order checked against finite
# differences), RAISING / FUSED_LOSSES (NotImplementedError naming the op), or a test here.
CLASSIFIED = {
    "attention:_fused": ["dot_product_attention"],
    "linalg:inv": ["inv"], "linalg:solve": ["solve"], "linalg:det": ["det"],
    "linalg:logdet": ["logdet"], "linalg:cholesky": ["cholesky"], "linalg:qr": ["qr"],
    "linalg:svd": ["svd"], "linalg:eigh": ["eigh"],
    **{f"math:{n}": [n] for n in (
        "add", "subtract", "multiply", "divide", "power", "mod", "negative", "abs", "square",
        "sqrt",
        "exp", "log", "log1p", "expm1", "sin", "cos", "maximum", "minimum", "clip", "where",
        "cast", "sum", "mean", "prod", "cumsum", "flip", "reshape", "transpose", "expand_dims",
        "squeeze", "broadcast_to", "concatenate", "stack", "tile", "repeat", "pad", "take",
        "take_along_axis", "matmul", "einsum")},
    "_embedding:embedding_lookup": ["embedding_lookup"],
    "math:_extreme": ["max"], "math:_slice_out": ["split"],
    "math:segment_sum_axis": ["repeat_counts"], "math:get_item": ["get_item_basic"],
    "math:scatter_into": ["get_item_basic", "get_item_advanced"],
    **{f"nn:{n}": [f"{n}_small", f"{n}_kernel_sized"] for n in (
        "relu", "softmax", "log_softmax")},
    "nn:relu6": ["relu6"], "nn:_normal_cdf": ["gelu_exact_small", "gelu_exact_kernel"],
    "nn:bias_add": ["dense_bias_tanh", "dense_bias_kernel_sized"],
    "nn:_fused_loss": ["categorical_crossentropy", "binary_crossentropy"],
    "nn:without_logits": ["sparse_crossentropy_ignore_class"],
    "nn:sparse_categorical_crossentropy": ["sparse_categorical_crossentropy"],
    "nn:lstm_sequence": ["lstm_sequence"], "nn:gru_sequence": ["gru_sequence"],
    "nn:simple_rnn_sequence": ["simple_rnn_sequence"],
    "nn:ctc_loss": ["ctc_loss"], "nn:batch_norm_train": ["batch_norm_train"], "nn:layer_norm": ["layer_norm"],
    "numpy_extra:_unary": ["sinh", "tan", "arctan", "erf", "log2", "cbrt", "reciprocal"],
    "numpy_extra:arctan2": ["arctan2"], "numpy_extra:hypot": ["hypot"],
    "numpy_extra:logaddexp": ["logaddexp"], "numpy_extra:roll": ["roll"],
    "numpy_extra:nan_to_num": ["nan_to_num"], "numpy_extra:diagonal": ["diagonal"],
    "numpy_extra:diag": ["diag"],
    "sorting:top_k": ["top_k"], "sorting:_scatter_last": ["top_k"], "sorting:sort": ["sort"],
    "sorting:cumprod": ["cumprod"],
    "sorting:segment_sum": ["segment_sum"], "sorting:_segment_extreme": ["segment_max"],
    "spatial:_Bilinear": ["conv2d_valid_strided", "conv_transpose2d", "depthwise_conv2d"],
    "spatial:_linear": ["max_pool2d", "average_pool2d", "upsampling"],
    "spatial:_linear_np": ["max_pool2d_float64", "average_pool2d_float64",
                           "upsampling_float64"],
    "spatial:_kernel_conv": ["conv1d_same", "conv2d_valid_strided", "conv3d", "conv_bias"],
    "spatial:conv": ["conv2d_valid_strided", "conv_im2col_strided_input", "conv_channels_first"],
    "spatial:conv_transpose": ["conv_transpose2d", "conv_transpose_numpy_path"],
    "spatial:depthwise_conv": ["depthwise_conv2d", "depthwise_conv_numpy_path"],
    "spatial:_pool": ["max_pool2d_float64", "average_pool2d_float64"],
    "spatial:_kernel_pool": ["max_pool1d", "max_pool2d", "max_pool3d", "average_pool2d"],
    "spatial:upsampling": ["upsampling", "upsampling_float64"],
    "spatial:_global_pool": ["global_max_pool", "global_average_pool"],
    "spectral:_complex_outputs": ["fft"], "spectral:irfft": ["irfft"],
    "image:_resize_nhwc": ["resize_bilinear", "resize_bicubic"],
    "image:_resize_adjoint": ["resize_bilinear", "resize_bicubic"],
    "image:_transform_nhwc": ["affine_transform"],
    "image:_transform_adjoint": ["affine_transform"],
    "image:map_coordinates": ["map_coordinates"],
    "numpy_extra:i0": ["i0"], "numpy_extra:erfinv": ["erfinv"],
    "control_flow:custom_gradient": ["custom_gradient"],
    "nn:_activation": [f"{n}_small" for n in ("relu", "sigmoid", "tanh", "softplus", "silu",
                                              "elu", "selu", "hard_silu", "gelu",
                                              "leaky_relu", "celu", "hard_shrink",
                                              "hard_tanh", "log_sigmoid", "soft_shrink",
                                              "sparse_plus", "sparse_sigmoid", "squareplus",
                                              "tanh_shrink", "threshold")],
}


def _ops_with_a_backward():
    import ast
    import pathlib

    import fastnet.ops

    found = set()
    for path in sorted(pathlib.Path(fastnet.ops.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "make":
                    found.add(f"{path.stem}:{node.name}")
                    break
    return found


def test_every_op_with_a_backward_is_classified():
    found = _ops_with_a_backward()
    assert found, "no op found: the scan is broken"
    missing = sorted(found - set(CLASSIFIED))
    assert not missing, (f"ops recording a backward but not classified for nested tapes "
                         f"(add them to DIFFERENTIABLE or RAISING and CLASSIFIED): {missing}")
    stale = sorted(set(CLASSIFIED) - found)
    assert not stale, f"CLASSIFIED names functions that no longer record a backward: {stale}"
    cases = set(DIFFERENTIABLE) | set(RAISING) | set(FUSED_LOSSES)
    unknown = sorted({c for cs in CLASSIFIED.values() for c in cs} - cases)
    assert not unknown, f"CLASSIFIED refers to cases that do not exist: {unknown}"


def test_gradient_penalty_matches_torch_double_backward():
    """Optional peer: d/dw ||d/dx sum(tanh(maxpool(conv(x, w) + b)))||^2 against PyTorch's
    create_graph=True in float64 (fastnet's conv kernels are float32: 1e-4 relative)."""
    torch = pytest.importorskip("torch")
    x = _rand((2, 9, 9, 3), 0)
    w = _rand((3, 3, 3, 4), 1, 0.3)
    b = _rand((4,), 2, 0.1)
    xt, wt, bt = (ops.convert_to_tensor(v) for v in (x, w, b))
    with GradientTape() as outer:
        outer.watch([wt, bt])
        with GradientTape() as inner:
            inner.watch(xt)
            y = ops.conv_bias(xt, wt, bt, strides=2)
            score = ops.sum(ops.tanh(ops.max_pool(y, 2)))
        gx = inner.gradient(score, xt)
        pen = ops.sum(ops.square(gx))
    gw, gb = outer.gradient(pen, [wt, bt])

    tx = torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2).requires_grad_()
    tw = torch.tensor(w, dtype=torch.float64).permute(3, 2, 0, 1).requires_grad_()
    tb = torch.tensor(b, dtype=torch.float64).requires_grad_()
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=2)
    tscore = torch.tanh(torch.nn.functional.max_pool2d(ty, 2)).sum()
    (tgx,) = torch.autograd.grad(tscore, tx, create_graph=True)
    tpen = (tgx ** 2).sum()
    tgw, tgb = torch.autograd.grad(tpen, [tw, tb])
    np.testing.assert_allclose(float(pen.numpy()), float(tpen.detach()), rtol=1e-4)
    np.testing.assert_allclose(gw.numpy(), tgw.permute(2, 3, 1, 0).numpy(), rtol=1e-4,
                               atol=1e-4 * float(np.abs(tgw.numpy()).max()))
    np.testing.assert_allclose(gb.numpy(), tgb.numpy(), rtol=1e-4,
                               atol=1e-4 * float(np.abs(tgb.numpy()).max()))
