"""Elementwise kernels (csrc/elementwise) on float32, every ISA level, against float64
numpy formulas and finite differences."""

import math

import numpy as np
import pytest
from oracle import (
    assert_close,
    check_elementwise_gradient,
    check_gradients,
    elementwise_numeric_grad,
    numeric_grad,
    rand,
)

import fastnet
from fastnet import ops
from fastnet.kernels import elementwise as K
from fastnet.ops import nn as ops_nn

REFS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
}
OPS = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh}


def tape_grad(fn):
    def grads(x, dout):
        v = fastnet.Variable(x.astype(np.float32))
        with fastnet.GradientTape() as tape:
            y = fn(v)
        return tape.gradient(y, v, output_gradients=dout.astype(np.float32)).numpy()

    return grads


@pytest.mark.parametrize("name", sorted(REFS))
# (3, 33) and smaller run numpy (cheaper below 4096 elements); the others the kernels.
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 33), (4100,), (2, 5, 417)])
def test_activation_forward_and_gradient(isa, name, shape):
    x = rand(shape, seed=1, low=-6, high=6)
    y = OPS[name](x)
    assert y.dtype == "float32"
    assert_close(y.numpy(), REFS[name](x.astype(np.float64)), atol=1e-6, rtol=1e-6)
    if x.size:
        x = x + np.sign(x) * 0.01  # keep relu's kink away from finite-difference steps
        check_gradients(tape_grad(OPS[name]), REFS[name], [x], rand(shape, seed=2),
                        atol=1e-5, rtol=1e-4)


def test_extreme_inputs(isa):
    x = np.array([-1e4, -100, -88.8, -1e-6, 0, 1e-6, 88.8, 100, 1e4], np.float32)
    x = np.tile(x, 500)  # large enough for the kernel path
    sig = ops.sigmoid(x).numpy()
    assert np.all(np.isfinite(sig)) and sig[0] == 0 and sig[-1] == 1
    th = ops.tanh(x).numpy()
    assert th[0] == -1 and th[-1] == 1 and abs(th[3] + 1e-6) < 1e-12
    big = rand((4, 10), seed=3) * 1e4
    sm = ops.softmax(big).numpy()
    assert np.all(np.isfinite(sm))
    assert_close(sm.sum(-1), np.ones(4), atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (4, 10), (17, 257), (2, 300, 10)])
def test_softmax_log_softmax(isa, shape):
    x = rand(shape, seed=4, low=-5, high=5)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    assert_close(ops.softmax(x).numpy(), e / e.sum(-1, keepdims=True), atol=1e-6)
    assert_close(ops.log_softmax(x).numpy(),
                 x64 - np.log(np.exp(x64).sum(-1, keepdims=True)), atol=1e-5)
    ref = lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True)  # noqa: E731
    check_gradients(tape_grad(ops.softmax), ref, [x], rand(shape, seed=5), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("n,c", [(1, 2), (5, 10), (64, 1000)])
def test_fused_sparse_cross_entropy(isa, n, c):
    logits = rand((n, c), seed=6, low=-10, high=10)
    labels = np.random.default_rng(7).integers(0, c, n)
    x64 = logits.astype(np.float64)
    lse = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) + x64.max(1)
    want = lse - x64[np.arange(n), labels]
    v = fastnet.Variable(logits)
    with fastnet.GradientTape() as tape:
        loss = ops.sparse_categorical_crossentropy(labels, v, from_logits=True)
        total = ops.sum(loss)
    assert_close(loss.numpy(), want, atol=1e-5, rtol=1e-5)
    sm = np.exp(x64 - lse[:, None])
    sm[np.arange(n), labels] -= 1
    assert_close(tape.gradient(total, v).numpy(), sm, atol=1e-6)


def test_kernel_argument_checks():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="unknown activation"):
        K.activation_forward("nope", x, x.copy())
    with pytest.raises(TypeError, match="float32"):
        K.softmax(x.astype(np.float64), x)
    with pytest.raises(ValueError, match="overlaps"):
        K.softmax(x, x)
    with pytest.raises(ValueError, match="out of range"):
        K.sparse_softmax_cross_entropy(x, np.array([0, 3], np.int32), np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="int32"):
        K.sparse_softmax_cross_entropy(x, np.array([0, 1]), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="must have shape"):
        K.activation_forward("relu", x, np.zeros((3, 2), np.float32))


# ---- the other activations ------------------------------------------------------------
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _hard_sigmoid(x):
    return np.clip(x + 3, 0, 6) / 6


# name -> (fastnet op, float64 reference); each has its own kernel
MORE = {
    "leaky_relu": (lambda x: ops.leaky_relu(x), lambda x: np.where(x >= 0, x, 0.2 * x)),
    "leaky_relu_0.05": (lambda x: ops.leaky_relu(x, negative_slope=0.05),
                        lambda x: np.where(x >= 0, x, 0.05 * x)),
    "elu": (lambda x: ops.elu(x), lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "elu_0.5": (lambda x: ops.elu(x, alpha=0.5),
                lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0)))),
    "selu": (ops.selu, lambda x: _SELU_S * np.where(x > 0, x, _SELU_A * np.expm1(np.minimum(x, 0)))),
    "gelu_tanh": (lambda x: ops.gelu(x, approximate=True), _gelu_tanh),
    "gelu_erf": (lambda x: ops.gelu(x, approximate=False),
                 lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "hard_sigmoid": (ops.hard_sigmoid, _hard_sigmoid),
    "hard_silu": (ops.hard_silu, lambda x: x * _hard_sigmoid(x)),
    "softplus": (ops.softplus, _softplus),
    "silu": (ops.silu, lambda x: x / (1 + np.exp(-x))),
    "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (ops.tanh, np.tanh),
}


def _off_kinks(x):
    """Moves points off the kinks (0 for relu/leaky_relu/elu, +-3 for hard_sigmoid) by
    more than the finite-difference step."""
    x = x + np.where(np.abs(x) < 0.01, np.where(x < 0, -0.02, 0.02), 0)
    return (x + np.where(np.abs(np.abs(x) - 3) < 0.01, 0.02, 0)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(MORE))
# (0,), (1,), (3, 33) run numpy (below 4096 elements), the others the kernels (odd sizes
# leave a tail shorter than a vector on every ISA).
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 33), (4099,), (3, 7, 201)])
def test_more_activations_forward_and_gradient(isa, name, shape):
    fn, ref = MORE[name]
    x = _off_kinks(rand(shape, seed=11, low=-7, high=7))
    y = fn(x)
    assert y.dtype == "float32" and tuple(y.shape) == shape
    assert_close(y.numpy(), ref(x.astype(np.float64)), atol=1e-6, rtol=5e-6, what=name)
    check_elementwise_gradient(tape_grad(fn), ref, x, rand(shape, seed=12), atol=2e-5, rtol=2e-4)


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_activations_extreme_inputs(isa, name):
    fn, ref = MORE[name]
    base = np.array([-1e4, -100, -88.8, -30, -9, -1e-6, -1e-30, 0, 1e-30, 1e-6, 9, 30, 88.8,
                     100, 1e4], np.float32)
    x = np.tile(base, 300)  # on the kernel path
    y = fn(x).numpy()
    assert np.all(np.isfinite(y))
    with np.errstate(over="ignore"):
        want = ref(x.astype(np.float64))
    assert_close(y, want, atol=1e-6, rtol=2e-6, what=name)
    g = tape_grad(fn)(x, np.ones_like(x))
    assert np.all(np.isfinite(g)), name
    big = np.abs(x) >= 30  # far from every kink: the derivative is the asymptote's
    with np.errstate(over="ignore"):
        num = elementwise_numeric_grad(ref, x[big], np.ones(int(big.sum())), 1e-3)
    assert_close(g[big], num, atol=1e-5, rtol=1e-5, what=name)


def test_gelu_erf_kernel_error_bounds(isa):
    # The kernel's Phi is a logistic of a fitted odd polynomial (csrc/elementwise); against
    # math.erf in float64 on a dense grid: gelu within 1.5e-7 absolute for x <= 0 (where
    # |gelu| < 0.17) and 3e-7 relative for x > 0; the derivative within 5e-7 absolute.
    x = np.concatenate([np.linspace(-12, 12, 240_001, dtype=np.float32),
                        rand((50_000,), seed=40, low=-6, high=6)])
    x64 = x.astype(np.float64)
    cdf = 0.5 * (1 + _erf(x64 / np.sqrt(2)))
    y = np.empty_like(x)
    K.activation_forward("gelu_erf", x, y)
    err = np.abs(y - x64 * cdf)
    neg, pos = x <= 0, x > 0
    assert err[neg].max() <= 1.5e-7, err[neg].max()
    assert (err[pos] / (x64[pos] * cdf[pos])).max() <= 3e-7
    assert np.all(y[x < -5.6] == 0) and np.all(y[x > 5.6] == x[x > 5.6])
    dx = np.empty_like(x)
    K.activation_backward("gelu_erf", x, np.ones_like(x), dx)
    want = cdf + x64 * np.exp(-0.5 * x64 * x64) / np.sqrt(2 * np.pi)
    assert np.abs(dx - want).max() <= 5e-7, np.abs(dx - want).max()


def _second_derivative(fn, x):
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            y = ops.sum(fn(v))
        g = inner.gradient(y, v)
        gg = ops.sum(g)
    h = outer.gradient(gg, v)
    return np.zeros_like(x) if h is None else h.numpy()  # None: f' is piecewise constant


@pytest.mark.parametrize("name", ["elu", "selu", "gelu_tanh", "gelu_erf", "softplus", "silu",
                                  "hard_silu", "sigmoid", "tanh", "leaky_relu"])
def test_kernel_activations_twice_differentiable(name):
    fn, ref = MORE[name]
    x = _off_kinks(rand((4100,), seed=13, low=-4, high=4))
    got = _second_derivative(fn, x)
    h = 1e-4
    x64 = x.astype(np.float64)
    want = (ref(x64 + h) - 2 * ref(x64) + ref(x64 - h)) / h ** 2
    assert_close(got, want, atol=1e-3, rtol=1e-3, what=name)


def test_kernel_activation_names_and_params():
    x = rand((5, 7), seed=14, low=-3, high=3)
    for name in ["gelu", "gelu_erf", "swish", "silu", "hard_silu", "selu"]:
        out = np.empty_like(x)
        K.activation_forward(name, x, out)
        dx = np.empty_like(x)
        K.activation_backward(name, x, np.ones_like(x), dx)
    out = np.empty_like(x)
    K.activation_forward("leaky_relu", x, out, 0.3)
    assert_close(out, np.where(x >= 0, x, 0.3 * x), atol=1e-7)
    K.activation_forward("leaky_relu", x, out)  # default 0.2 (Keras's)
    assert_close(out, np.where(x >= 0, x, 0.2 * x), atol=1e-7)
    y = x.copy()
    K.activation_forward("elu", y, y, 2.0)  # in place
    assert_close(y, np.where(x > 0, x, 2 * np.expm1(x.astype(np.float64))), atol=1e-6)
    with pytest.raises(ValueError, match="unknown activation 'gelu_tanh'.*leaky_relu"):
        K.activation_forward("gelu_tanh", x, out)
    with pytest.raises(ValueError, match="'relu' takes no `param`"):
        K.activation_forward("relu", x, out, 0.5)
    with pytest.raises(TypeError, match="`param` of 'elu' must be a number, got <class 'str'>"):
        K.activation_forward("elu", x, out, "1.0")
    flat = x.reshape(-1)
    with pytest.raises(ValueError, match="output `out` \\(34,\\) partially overlaps input `saved`"):
        K.activation_backward("elu", flat[1:], flat[:-1].copy(), flat[:-1])
    with pytest.raises(TypeError, match="`dy` must be float32"):
        K.activation_backward("elu", x, x.astype(np.float64), out)
    with pytest.raises(ValueError, match=r"`dy` \(5, 6\) and `saved` \(5, 7\) differ"):
        K.activation_backward("elu", x, x[:, :6].copy(), out)
    with pytest.raises(ValueError, match="`x` with shape \\(5, 4\\) must be C-contiguous"):
        K.activation_forward("gelu", x[:, ::2], np.empty((5, 4), np.float32))


# ---- fused cross-entropies -------------------------------------------------------------
EPS = 1e-7
# Keras clips float32 probabilities to [eps, 1 - eps] computed in float32
LO, HI = float(np.float32(EPS)), float(np.float32(1) - np.float32(EPS))


def _lse(x):
    mx = x.max(-1, keepdims=True)
    return mx + np.log(np.exp(x - mx).sum(-1, keepdims=True))


def _cce_ref(from_logits):
    def f(t, o):
        if from_logits:
            return -(t * (o - _lse(o))).sum(-1)
        q = np.clip(o / o.sum(-1, keepdims=True), LO, HI)
        return -(t * np.log(q)).sum(-1)
    return f


def _bce_ref(from_logits):
    def f(t, o):
        if from_logits:
            return np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))
        c = np.clip(o, LO, HI)
        return -(t * np.log(c) + (1 - t) * np.log(1 - c))
    return f


def _xent_data(shape, from_logits, seed, binary=False):
    rng = np.random.default_rng(seed)
    if from_logits:
        out = rng.uniform(-8, 8, shape).astype(np.float32)
    else:  # probabilities, some pushed to the clip bounds
        out = rng.uniform(0.02, 1, shape).astype(np.float32)
        if not binary:
            out /= out.sum(-1, keepdims=True)
        flat = out.reshape(-1)
        flat[::13] = 1e-9
        if binary:
            flat[5::17] = 1.0
    if binary:
        tgt = rng.uniform(0, 1, shape).astype(np.float32)
    else:
        tgt = rng.uniform(0, 1, shape).astype(np.float32)
        tgt /= tgt.sum(-1, keepdims=True)
    return tgt, out


def _kernel_loss(kind, from_logits, mean=False):
    def run(t, o, want_grad):
        t, o = t.astype(np.float32), o.astype(np.float32)
        if kind == "cce":
            loss = np.empty(o.shape[:-1], np.float32)
        else:
            loss = np.empty(o.shape[:-1] if mean else o.shape, np.float32)
        grad = np.empty_like(o) if want_grad else None
        fn = K.categorical_cross_entropy if kind == "cce" else K.binary_cross_entropy
        fn(t, o, loss, grad, from_logits, EPS)
        return loss, grad
    return run


@pytest.mark.parametrize("kind", ["cce", "bce", "bce_mean"])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 17), (2, 3, 33)])
def test_xent_kernels_against_reference(isa, kind, from_logits, shape):
    binary = kind != "cce"
    mean = kind == "bce_mean"
    base = _cce_ref(from_logits) if kind == "cce" else _bce_ref(from_logits)
    ref = (lambda t, o: base(t, o).mean(-1)) if mean else base
    t, o = _xent_data(shape, from_logits, seed=sum(shape), binary=binary)
    if kind == "cce" and not from_logits and shape[-1] == 1:
        o[...] = 0.7  # a 1-class probability row normalises to 1 (clipped to 1 - eps)
    run = _kernel_loss("cce" if kind == "cce" else "bce", from_logits, mean)
    loss, grad = run(t, o, True)
    want = ref(t.astype(np.float64), o.astype(np.float64))
    assert_close(loss, want, atol=2e-6, rtol=2e-6, what="loss")
    loss2, _ = run(t, o, False)
    assert_close(loss2, loss, atol=0, what="loss without grad")
    dout = np.ones(loss.shape)
    # finite differences away from the clip bounds (the clip's kink)
    o64 = o.astype(np.float64)
    ok = np.ones(o.shape, bool) if from_logits else (o64 > 1e-3) & (o64 < 1 - 1e-3)
    if kind == "cce" and not from_logits:
        q = o64 / o64.sum(-1, keepdims=True)
        ok = np.broadcast_to(((q > 1e-3) & (q < 1 - 1e-3)).all(-1, keepdims=True), o.shape)
    num = numeric_grad(ref, [t, o], dout, wrt=1)
    assert_close(np.where(ok, grad, 0), np.where(ok, num, 0), atol=2e-5, rtol=2e-4, what="grad")
    if not from_logits:  # where the clip is active the gradient is zero (as Keras's clip)
        clipped = (o64 < EPS) if kind != "cce" else (o64 / o64.sum(-1, keepdims=True) < EPS)
        if kind != "cce":
            assert np.all(grad[clipped] == 0)


def test_xent_extreme_logits(isa):
    o = np.tile(np.array([[-1e4, 0, 1e4, 100], [-100, -100, -100, -100], [88, -88, 50, 1e-30]],
                         np.float32), (1, 2))
    t = np.abs(np.sin(np.arange(o.size))).reshape(o.shape).astype(np.float32)
    for kind, ref in [("cce", _cce_ref(True)), ("bce", _bce_ref(True))]:
        loss, grad = _kernel_loss(kind, True)(t, o, True)
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
        want = ref(t.astype(np.float64), o.astype(np.float64))
        assert_close(loss, want, atol=1e-5, rtol=1e-6, what=kind)
    _, grad = _kernel_loss("cce", True)(t, o, True)
    o64 = o.astype(np.float64)
    sm = np.exp(o64 - _lse(o64))
    assert_close(grad, t.sum(-1, keepdims=True) * sm - t, atol=1e-6, what="cce grad")
    p = np.array([[0, 0, 1], [1e-30, 1, 1], [1, 1, 1]], np.float32)
    tt = np.ones_like(p)
    loss, grad = _kernel_loss("bce", False)(tt, p, True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert_close(loss, _bce_ref(False)(tt.astype(np.float64), p.astype(np.float64)),
                 atol=1e-5, rtol=1e-5)
    loss, grad = _kernel_loss("cce", False)(tt, p, True)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("n,c", [(1, 1), (3, 5), (6, 37)])
def test_sparse_probs_kernel(isa, n, c):
    rng = np.random.default_rng(n * c)
    p = rng.uniform(0.01, 1, (n, c)).astype(np.float32)
    labels = rng.integers(0, c, n).astype(np.int32)
    if c > 1:
        p[0, labels[0]] = 1e-9  # clipped
    loss = np.empty(n, np.float32)
    grad = np.empty_like(p)
    K.sparse_categorical_cross_entropy_probs(p, labels, loss, grad, EPS)

    def ref(pp):
        q = np.clip(pp / pp.sum(-1, keepdims=True), LO, HI)
        return -np.log(q[np.arange(n), labels])

    assert_close(loss, ref(p.astype(np.float64)), atol=1e-6, rtol=2e-6)
    num = numeric_grad(ref, [p], np.ones(n), wrt=0)
    rows = np.array([not (c > 1 and i == 0) and c > 1 for i in range(n)])
    assert_close(grad[rows], num[rows], atol=2e-5, rtol=2e-4)
    if c > 1:  # row 0's label probability is clipped: only the normalisation remains
        assert grad[0, labels[0]] == 0 or abs(grad[0, labels[0]]) < 1e-6


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_crossentropy_op_kernel_path(isa, from_logits):
    n, c = 64, 70
    rng = np.random.default_rng(15)
    out = rng.uniform(-5, 5, (n, c)).astype(np.float32)
    if not from_logits:  # probabilities not too small, for the finite differences
        out = rng.uniform(0.2, 1, (n, c)).astype(np.float32)
        out /= out.sum(-1, keepdims=True)
    labels = rng.integers(0, c, n)
    o64 = out.astype(np.float64)
    if from_logits:
        ref = lambda o: (_lse(o)[:, 0] - o[np.arange(n), labels])  # noqa: E731
    else:
        ref = lambda o: -np.log(np.clip(o / o.sum(-1, keepdims=True), LO, HI)[np.arange(n), labels])  # noqa: E731,E501
    v = fastnet.Variable(out)
    dout = rand((n,), seed=16)
    with fastnet.GradientTape() as tape:
        loss = ops.sparse_categorical_crossentropy(labels, v, from_logits=from_logits)
    assert_close(loss.numpy(), ref(o64), atol=2e-6, rtol=2e-6)
    got = tape.gradient(loss, v, output_gradients=dout).numpy()
    assert_close(got, numeric_grad(ref, [out], dout, wrt=0), atol=2e-5, rtol=2e-4)


@pytest.mark.parametrize("op_name", ["categorical", "binary"])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (64, 70), (2, 40, 60)])
def test_crossentropy_ops_kernel_and_numpy_paths(op_name, from_logits, shape):
    binary = op_name == "binary"
    t, o = _xent_data(shape, from_logits, seed=17, binary=binary)
    if not from_logits:
        o = np.clip(o, 1e-3, 1 - 1e-3).astype(np.float32)  # finite differences off the clip
        if not binary:
            o /= o.sum(-1, keepdims=True)
    fn = ops.categorical_crossentropy if not binary else ops.binary_crossentropy
    ref = _cce_ref(from_logits) if not binary else _bce_ref(from_logits)
    vt, vo = fastnet.Variable(t), fastnet.Variable(o)
    with fastnet.GradientTape(persistent=True) as tape:
        loss = fn(vt, vo, from_logits=from_logits)
    want = ref(t.astype(np.float64), o.astype(np.float64))
    assert_close(loss.numpy(), want, atol=2e-6, rtol=2e-6)
    dout = rand(want.shape, seed=18)
    go, gt = tape.gradient(loss, [vo, vt], output_gradients=dout)
    if shape != (2, 40, 60):  # finite differences per element: the smaller shapes only
        assert_close(go.numpy(), numeric_grad(ref, [t, o], dout, wrt=1), atol=2e-5, rtol=2e-4)
        assert_close(gt.numpy(), numeric_grad(ref, [t, o], dout, wrt=0), atol=2e-5, rtol=2e-4)
    # the eager (no tape) kernel call gives the same loss
    assert_close(fn(t, o, from_logits=from_logits).numpy(), loss.numpy(), atol=0)


@pytest.mark.parametrize("from_logits", [True, False])
def test_binary_crossentropy_loss_fuses_row_mean(from_logits):
    from fastnet import losses

    t, o = _xent_data((64, 70), from_logits, seed=19, binary=True)
    if not from_logits:
        o = np.clip(o, 1e-3, 1 - 1e-3).astype(np.float32)
    ref = lambda tt, oo: _bce_ref(from_logits)(tt, oo).mean(-1)  # noqa: E731
    v = fastnet.Variable(o)
    with fastnet.GradientTape() as tape:
        loss = losses.binary_crossentropy(t, v, from_logits=from_logits)
    assert_close(loss.numpy(), ref(t.astype(np.float64), o.astype(np.float64)), atol=2e-6,
                 rtol=2e-6)
    dout = rand((64,), seed=20)
    got = tape.gradient(loss, v, output_gradients=dout).numpy()
    assert_close(got, numeric_grad(ref, [t, o], dout, wrt=1), atol=2e-5, rtol=2e-4)
    bce = losses.BinaryCrossentropy(from_logits=from_logits)
    assert_close(bce(t, o).numpy(), ref(t.astype(np.float64), o.astype(np.float64)).mean(),
                 atol=1e-5)


def test_crossentropy_nested_tapes_use_the_composed_path():
    x = rand((64, 70), seed=21, low=-3, high=3)
    t = np.full_like(x, 1 / 70)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            loss = ops.sum(ops.categorical_crossentropy(t, v, from_logits=True))
        g = inner.gradient(loss, v)
        gg = ops.sum(g * g)
    h = outer.gradient(gg, v).numpy()
    # loss = sum_r (lse(x_r) - mean(x_r)); g = softmax - 1/C; d/dx sum(g^2) = 2 J^T g
    x64 = x.astype(np.float64)
    s = np.exp(x64 - _lse(x64))
    gv = s - 1 / 70
    want = 2 * s * (gv - (gv * s).sum(-1, keepdims=True))
    assert_close(h, want, atol=1e-6, rtol=1e-4)


# ---- bias ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (0, 5), (3, 5), (7, 1000), (50000, 3), (2, 3, 2049)])
def test_bias_add_and_grad_kernels(isa, shape):
    x = rand(shape, seed=22)
    b = rand(shape[-1:], seed=23)
    out = np.empty_like(x)
    K.bias_add(x, b, out)
    assert_close(out, x.astype(np.float64) + b, atol=1e-7)
    y = x.copy()
    K.bias_add(y, b, y)  # in place
    assert_close(y, out, atol=0)
    db = np.full(shape[-1], np.nan, np.float32)
    K.bias_grad(x, db)
    want = x.astype(np.float64).reshape(-1, shape[-1]).sum(0)
    assert_close(db, want, atol=1e-6 * max(1, x.size // max(shape[-1], 1)) ** 0.5, rtol=1e-6)


def test_bias_grad_threads_agree():
    x = rand((30000, 7), seed=24)
    want = x.astype(np.float64).sum(0)
    before = fastnet.config.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastnet.config.set_num_threads(n)
            db = np.empty(7, np.float32)
            K.bias_grad(x, db)
            assert_close(db, want, atol=1e-4, rtol=1e-6)
    finally:
        fastnet.config.set_num_threads(before)


def test_bias_add_op_and_dense(isa):
    x = rand((128, 64), seed=25)
    b = fastnet.Variable(rand((64,), seed=26))
    xv = fastnet.Variable(x)
    dout = rand((128, 64), seed=27)
    with fastnet.GradientTape() as tape:
        y = ops_nn.bias_add(xv, b)
    assert_close(y.numpy(), x.astype(np.float64) + b.numpy(), atol=1e-7)
    gx, gb = tape.gradient(y, [xv, b], output_gradients=dout)
    assert_close(gx.numpy(), dout, atol=0)
    assert_close(gb.numpy(), dout.astype(np.float64).sum(0), atol=1e-5)
    frozen = ops.convert_to_tensor(b.numpy())  # not tracked: its reduction is skipped
    with fastnet.GradientTape() as tape:
        y = ops_nn.bias_add(xv, frozen)
    gx, gf = tape.gradient(y, [xv, frozen], output_gradients=dout)
    assert gf is None
    assert_close(gx.numpy(), dout, atol=0)
    # Dense: bias on the kernel path (128 x 64 outputs); inference adds it in place
    layer = fastnet.layers.Dense(64, activation="gelu")
    inp = rand((128, 32), seed=28)
    y = layer(inp).numpy()
    k, bb = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    z = inp.astype(np.float64) @ k + bb
    assert_close(y, 0.5 * z * (1 + _erf(z / np.sqrt(2))), atol=1e-5)
    with fastnet.GradientTape() as tape:
        out = layer(inp)
    gk, gbias = tape.gradient(out, [layer.kernel, layer.bias], output_gradients=dout)
    dz = dout * (0.5 * (1 + _erf(z / np.sqrt(2))) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi))
    assert_close(gbias.numpy(), dz.sum(0), atol=1e-4, rtol=1e-5)
    assert_close(gk.numpy(), inp.astype(np.float64).T @ dz, atol=1e-4, rtol=1e-5)


# ---- argument checks ---------------------------------------------------------------------
def test_new_kernel_argument_checks():
    o = np.zeros((2, 3), np.float32)
    t = np.zeros((2, 3), np.float32)
    loss = np.zeros(2, np.float32)
    with pytest.raises(ValueError, match=r"`target` \(2, 4\) and `output` \(2, 3\) must have the same shape"):
        K.categorical_cross_entropy(np.zeros((2, 4), np.float32), o, loss)
    with pytest.raises(TypeError, match="`target` must be float32, got dtype float64"):
        K.binary_cross_entropy(t.astype(np.float64), o, loss)
    with pytest.raises(TypeError, match="`output` must be float32"):
        K.categorical_cross_entropy(t, o.astype(np.int32), loss)
    with pytest.raises(ValueError, match=r"`loss` must have shape \(2,\), got \(3,\)"):
        K.categorical_cross_entropy(t, o, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"`loss` must have shape \(2,\), got \(2, 2\)"):
        K.binary_cross_entropy(t, o, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"`grad` must have shape \(2, 3\)"):
        K.categorical_cross_entropy(t, o, loss, np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="`grad` .* overlaps input `output`"):
        K.categorical_cross_entropy(t, o, loss, o)
    both = np.zeros(12, np.float32)
    with pytest.raises(ValueError, match="`grad` \\(2, 3\\) overlaps input `loss` \\(2,\\)"):
        K.binary_cross_entropy(t, o, both[:2], both[:6].reshape(2, 3))
    with pytest.raises(ValueError, match="`output` with shape \\(2, 2\\) must be C-contiguous"):
        K.binary_cross_entropy(np.zeros((2, 2), np.float32), np.zeros((2, 4), np.float32)[:, ::2],
                               loss)
    with pytest.raises(ValueError, match="`epsilon` must be in"):
        K.binary_cross_entropy(t, o, loss, None, False, 0.7)
    with pytest.raises(TypeError, match="`grad` must be a numpy array, got list"):
        K.binary_cross_entropy(t, o, loss, [1.0])
    with pytest.raises(ValueError, match="out of range"):
        K.sparse_categorical_cross_entropy_probs(o, np.array([0, 3], np.int32), loss)
    with pytest.raises(TypeError, match="`labels` must be int32"):
        K.sparse_categorical_cross_entropy_probs(o, np.array([0, 1]), loss)
    with pytest.raises(ValueError, match=r"`bias` \(2,\) must have shape \(3,\) for x \(2, 3\)"):
        K.bias_add(o, np.zeros(2, np.float32), o.copy())
    with pytest.raises(ValueError, match="`out` must have shape"):
        K.bias_add(o, np.zeros(3, np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="`dy` must be float32"):
        K.bias_grad(o.astype(np.float64), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"`out` must have shape \(3,\), got \(2,\)"):
        K.bias_grad(o, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="Arguments `target` and `output` must have the same shape"):
        ops.binary_crossentropy(np.zeros((64, 70), np.float32), np.zeros((64, 71), np.float32))


@pytest.mark.parametrize("name", ["gelu_erf", "softplus", "elu", "sigmoid"])
def test_kernel_backward_with_broadcast_upstream_gradient(name):
    # ops.sum's backward hands a broadcast (strided) gradient to the activation's backward
    fn, ref = MORE[name]
    x = _off_kinks(rand((64, 70), seed=29, low=-5, high=5))
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as tape:
        total = ops.sum(fn(v))
    got = tape.gradient(total, v).numpy()
    assert_close(got, elementwise_numeric_grad(ref, x, np.ones_like(x)), atol=2e-5, rtol=2e-4)


def _strided_grads(shape, rng):
    """Non-contiguous upstream gradients, (rows, cols) = shape or 3-D: broadcasts of a
    scalar, a row, a column, a (rows, 1, cols) block and one with runs of 8 floats, a
    transposed copy and reversed rows."""
    r, c = shape
    g = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {
        "scalar": np.broadcast_to(np.float32(-1.5), shape),
        "row": np.broadcast_to(g(1, c), shape),
        "column": np.broadcast_to(g(r, 1), shape),
        "block": np.broadcast_to(g(r, 1, c), (r, 2, c)),
        "short_runs": np.broadcast_to(g(r, 1, 8), (r, 3, 8)),
        "transposed": np.ascontiguousarray(g(c, r)).T,
        "reversed": g(r, c)[::-1],
    }


KERNEL_ACTS = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "gelu", "gelu_erf",
               "hard_sigmoid", "hard_silu", "softplus", "silu"]


@pytest.mark.parametrize("shape", [(64, 4096), (6, 1000), (3, 40)])
def test_activation_backward_reads_strided_upstream_gradients(isa, shape):
    # dy may be any strided view (ops.sum's backward hands a broadcast): the same bits as
    # with a contiguous copy of it, for every activation
    rng = np.random.default_rng(41)
    for kind, dy in _strided_grads(shape, rng).items():
        assert not dy.flags.c_contiguous
        x = rng.standard_normal(dy.shape).astype(np.float32) * 3
        for name in KERNEL_ACTS:
            saved = x
            if name in ("sigmoid", "tanh"):
                saved = np.empty_like(x)
                K.activation_forward(name, x, saved)
            got, want = np.empty_like(x), np.empty_like(x)
            K.activation_backward(name, saved, dy, got)
            K.activation_backward(name, saved, np.ascontiguousarray(dy), want)
            assert np.array_equal(got.view(np.int32), want.view(np.int32)), (name, kind)
    out = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match="overlaps input `dy`"):
        K.activation_backward("elu", rand(shape, seed=3), np.broadcast_to(out[0], shape), out)


@pytest.mark.parametrize("shape", [(64, 4096), (6, 1000), (3, 40), (0, 5)])
def test_bias_grad_reads_strided_upstream_gradients(isa, shape):
    rng = np.random.default_rng(42)
    grads = _strided_grads(shape, rng) if shape[0] else {"empty": np.broadcast_to(
        np.float32(2), shape)}
    for kind, dy in grads.items():
        out = np.empty(dy.shape[-1], np.float32)
        K.bias_grad(dy, out)
        want = dy.astype(np.float64).reshape(-1, dy.shape[-1]).sum(0)
        assert_close(out, want, atol=1e-5, rtol=1e-6, what=kind)


def test_strided_upstream_gradient_through_the_ops():
    # sum / mean / a broadcast product upstream of each kernel activation and of bias_add
    x = _off_kinks(rand((64, 80), seed=43, low=-5, high=5))
    w = rand((1, 80), seed=44)
    b = fastnet.Variable(rand((80,), seed=45))
    for name in ["gelu_erf", "silu", "relu", "tanh", "sigmoid", "elu"]:
        fn, ref = MORE[name]
        v = fastnet.Variable(x)
        with fastnet.GradientTape() as tape:
            total = ops.sum(ops.mean(fn(v), axis=0) * w[0])
        got = tape.gradient(total, v).numpy()
        want = elementwise_numeric_grad(ref, x, np.broadcast_to(w / 64, x.shape))
        assert_close(got, want, atol=2e-5, rtol=2e-4, what=name)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as tape:
        total = ops.sum(ops_nn.bias_add(v, b))
    gx, gb = tape.gradient(total, [v, b])
    assert_close(gx.numpy(), np.ones_like(x), atol=0)
    assert_close(gb.numpy(), np.full(80, 64.0), atol=0)


@pytest.mark.parametrize("name", ["gelu_tanh", "gelu_erf", "softplus", "selu", "hard_silu"])
def test_strided_and_float64_inputs_take_the_numpy_path(name):
    fn, ref = MORE[name]
    x = rand((64, 140), seed=30, low=-5, high=5)
    strided = x[:, ::2]  # 4480 elements, not contiguous
    want = ref(strided.astype(np.float64))
    assert_close(fn(strided).numpy(), want, atol=1e-6, rtol=5e-6)
    y64 = fn(ops.convert_to_tensor(strided, dtype="float64"))
    assert y64.dtype == "float64"
    assert_close(y64.numpy(), want, atol=1e-12, rtol=1e-12)


LIMITS = {  # f(-inf), f(+inf)
    "relu": (0, np.inf), "sigmoid": (0, 1), "tanh": (-1, 1), "leaky_relu": (-np.inf, np.inf),
    "leaky_relu_0.05": (-np.inf, np.inf), "elu": (-1, np.inf), "elu_0.5": (-0.5, np.inf),
    "selu": (-_SELU_S * _SELU_A, np.inf), "gelu_tanh": (0, np.inf), "gelu_erf": (0, np.inf),
    "hard_sigmoid": (0, 1), "hard_silu": (0, np.inf), "softplus": (0, np.inf),
    "silu": (0, np.inf),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_non_finite_inputs(isa, name):
    fn, _ = MORE[name]
    x = np.tile(np.array([np.nan, -np.inf, np.inf, 0.5], np.float32), 1100)  # kernel path
    y = fn(x).numpy()
    assert np.isnan(y[0]), "nan must propagate"
    for got, want in zip(y[1:3], LIMITS[name]):
        if np.isinf(want):
            assert got == want, (name, got, want)
        else:
            assert abs(got - want) <= 1e-6 * max(1, abs(want)), (name, got, want)
    g = tape_grad(fn)(x, np.ones_like(x))
    assert np.all(np.isfinite(g[1::4])) and np.all(np.isfinite(g[2::4])), "gradient at +-inf"


def test_cross_entropy_grad_that_is_not_an_array_raises_type_error():
    # Regression (fuzz, issue 6): a non-array `grad` was reinterpreted as an array.
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="`grad` must be a numpy array"):
        K.sparse_softmax_cross_entropy(logits, np.zeros(2, np.int32), np.empty(2, np.float32),
                                       "abc")


def test_backward_output_partially_overlapping_an_input_raises():
    # Regression (fuzz, issue 6): softmax_backward/activation_backward/activation_forward
    # accepted an `out` that partially overlaps an input and silently returned wrong values
    # (rows already overwritten were read back). Exactly the input (in place) stays allowed.
    buf = np.linspace(-1, 1, 9, dtype=np.float32)
    y, dy, out = buf[:4].reshape(2, 2), buf[4:8].reshape(2, 2), buf[5:9].reshape(2, 2)
    K.softmax(np.array([[0.1, 0.2], [0.3, -1.0]], np.float32), y)
    with pytest.raises(ValueError, match="partially overlaps"):
        K.softmax_backward(y, dy, out)
    with pytest.raises(ValueError, match="partially overlaps"):
        K.activation_backward("tanh", y, dy, out)
    with pytest.raises(ValueError, match="partially overlaps"):
        K.activation_forward("relu", dy, out)
    want = y * (dy - (y * dy).sum(-1, keepdims=True))
    K.softmax_backward(y, dy, dy)  # exactly in place
    assert_close(dy, want, atol=1e-6)


def test_activations_same_bits_on_avx2_and_avx512():
    # ARCHITECTURE.md: the activations compute each element the same way on both levels
    if "avx512" not in fastnet.config.ISA_LEVELS[
            :fastnet.config.ISA_LEVELS.index(fastnet.config.cpu_features()["hardware_isa"]) + 1]:
        pytest.skip("needs an AVX-512 CPU")
    x = np.concatenate([np.linspace(-100, 100, 20_001, dtype=np.float32),
                        rand((10_000,), seed=46, low=-8, high=8)])
    g = rand(x.shape, seed=47)
    got = {}
    before = fastnet.config.get_isa()
    try:
        for level in ("avx2", "avx512"):
            fastnet.config.set_isa(level)
            outs = []
            for name in KERNEL_ACTS:
                y, d = np.empty_like(x), np.empty_like(x)
                K.activation_forward(name, x, y)
                K.activation_backward(name, y if name in ("sigmoid", "tanh") else x, g, d)
                outs += [y.view(np.int32), d.view(np.int32)]
            got[level] = outs
    finally:
        fastnet.config.set_isa(before)
    for i, (a, b) in enumerate(zip(got["avx2"], got["avx512"])):
        assert np.array_equal(a, b), (KERNEL_ACTS[i // 2], "forward" if i % 2 == 0 else "backward")
