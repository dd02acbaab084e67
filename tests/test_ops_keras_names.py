"""The Keras 3 ops names added to fastnet.ops (activations, ops.nn, control flow, the
numpy family, updates, jvp, fastnet.ops.numpy) against numpy formulas and finite
differences (the op-oracle pattern of test_ops_extra), their symbolic output specs, and
optional checks against Keras 3 itself with the same inputs."""

import os
import warnings

import numpy as np
import pytest
from oracle import assert_close, numeric_grad, rand

import fastnet
from fastnet import activations, layers, ops
from fastnet.backend.symbolic import KerasTensor


def grads(fn, arrays, dout_seed=7):
    """Tape gradients of sum(out * dout) for float64 Variables of `arrays`."""
    ts = [fastnet.Variable(np.asarray(a, np.float64)) for a in arrays]
    with fastnet.GradientTape() as tape:
        out = fn(*ts)
        dout = rand(out.shape, seed=dout_seed).astype(np.float64)
        total = ops.sum(out * dout)
    return [None if g is None else g.numpy() for g in tape.gradient(total, ts)], dout


def check_grad(fn, ref, arrays, atol=1e-5, rtol=1e-4):
    got, dout = grads(fn, arrays)
    for i, g in enumerate(got):
        assert g is not None, f"no gradient for input {i}"
        assert_close(g, numeric_grad(ref, arrays, dout, i), atol=atol, rtol=rtol,
                     what=f"grad {i}")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


# ---- activations ----------------------------------------------------------------------------
def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


ACTS = {
    "celu": (lambda v: np.where(v > 0, v, 1.5 * np.expm1(v / 1.5)), {"alpha": 1.5}),
    "hard_shrink": (lambda v: np.where(np.abs(v) > 0.3, v, 0.0), {"threshold": 0.3}),
    "hard_tanh": (lambda v: np.clip(v, -1, 1), {}),
    "log_sigmoid": (lambda v: np.log(_sigmoid(v)), {}),
    "soft_shrink": (lambda v: np.sign(v) * np.maximum(np.abs(v) - 0.5, 0), {}),
    "sparse_plus": (lambda v: np.where(v <= -1, 0, np.where(v >= 1, v, (v + 1) ** 2 / 4)), {}),
    "sparse_sigmoid": (lambda v: np.clip(0.5 * (v + 1), 0, 1), {}),
    "squareplus": (lambda v: (v + np.sqrt(v * v + 2.0)) / 2, {"b": 2.0}),
    "tanh_shrink": (lambda v: v - np.tanh(v), {}),
    "threshold": (lambda v: np.where(v > 0.2, v, -3.0), {"threshold": 0.2,
                                                        "default_value": -3.0}),
}


def _act_input(seed=0):
    # values kept 0.02 away from every kink (0, +-threshold, +-1) of the functions above
    v = np.random.default_rng(seed).uniform(-2.5, 2.5, (4, 7))
    for k in (-1.0, -0.5, -0.3, 0.0, 0.2, 0.3, 0.5, 1.0):
        v = np.where(np.abs(v - k) < 0.02, k + 0.05, v)
    return v


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_forward_gradient_and_registry(name):
    ref, kw = ACTS[name]
    x = _act_input()
    fn = getattr(ops, name)
    assert_close(fn(x.astype(np.float32), **kw).numpy(), ref(x), atol=2e-6, rtol=1e-5)
    assert fn(x, **kw).dtype == "float32"  # float64 numpy -> floatx, as every op
    check_grad(lambda t: fn(t, **kw), lambda a: ref(a), [x])
    # one implementation: keras.activations, keras.ops and keras.ops.nn are the same function
    assert getattr(activations, name) is fn is getattr(ops.nn, name)
    assert activations.get(name) is fn and activations.serialize(fn) == name
    assert activations.deserialize(name) is fn
    assert activations.deserialize({"module": "keras.activations", "class_name": "function",
                                    "config": name, "registered_name": "function"}) is fn
    kt = fn(fastnet.Input((7,)), **kw)
    assert kt.shape == (None, 7) and kt.dtype == "float32"


def test_glu_and_sparsemax():
    x = rand((3, 6), seed=1, low=-2, high=2).astype(np.float64)

    def glu_ref(a, axis=-1):
        p, q = np.split(a, 2, axis=axis)
        return p * _sigmoid(q)

    assert_close(ops.glu(x).numpy(), glu_ref(x), atol=1e-6)
    xe = rand((4, 3), seed=3).astype(np.float64)
    assert_close(ops.glu(xe, axis=0).numpy(), glu_ref(xe, axis=0), atol=1e-6)
    check_grad(ops.glu, glu_ref, [x])
    with pytest.raises(ValueError, match="divisible by 2"):
        ops.glu(x, axis=0)
    assert ops.glu(fastnet.Input((5, 6))).shape == (None, 5, 3)

    def sparsemax_ref(a):
        out = np.zeros_like(a)
        for i, row in enumerate(a):  # Martins & Astudillo, Algorithm 1
            z = np.sort(row)[::-1]
            k = np.arange(1, len(z) + 1)
            support = 1 + k * z > np.cumsum(z)
            kz = k[support][-1]
            tau = (np.cumsum(z)[kz - 1] - 1) / kz
            out[i] = np.maximum(row - tau, 0)
        return out

    x = rand((4, 5), seed=2, low=-1.5, high=1.5).astype(np.float64)
    y = ops.sparsemax(x).numpy()
    assert_close(y, sparsemax_ref(x), atol=1e-6)
    assert_close(y.sum(-1), np.ones(4), atol=1e-6)
    check_grad(ops.sparsemax, sparsemax_ref, [x])
    assert_close(ops.sparsemax(x.T, axis=0).numpy(), sparsemax_ref(x).T, atol=1e-6)


def test_activations_in_a_saved_model(tmp_path):
    # (glu halves its axis, so it cannot be a Dense activation: Dense's output spec is `units`)
    names = ["celu", "squareplus", "sparsemax", "hard_tanh", "log_sigmoid", "tanh_shrink"]
    inp = fastnet.Input((6,))
    h = inp
    for n in names:
        h = layers.Dense(6, activation=n)(h)
    model = fastnet.Model(inp, h)
    x = rand((3, 6), seed=3)
    want = model.predict(x, verbose=0)
    path = str(tmp_path / "acts.keras")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    assert [lay.get_config()["activation"] for lay in loaded.layers[1:]] == names
    assert_close(loaded.predict(x, verbose=0), want, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((3, 6), np.float32), epochs=1, verbose=0)


def test_activations_deserialize_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unknown activation function"):
        activations.deserialize("not_an_activation")


def test_activations_against_keras():
    k = _keras()
    x = _act_input(1).astype(np.float32)
    for name, (_, kw) in ACTS.items():
        assert_close(getattr(activations, name)(x, **kw).numpy(),
                     k.ops.convert_to_numpy(getattr(k.activations, name)(x, **kw)),
                     atol=1e-5, what=name)
    xs = rand((3, 6), seed=4)
    assert_close(ops.glu(xs).numpy(), k.ops.convert_to_numpy(k.ops.glu(xs)), atol=1e-5)
    # Keras 3.15's sparsemax takes tau = (sum of the cumulative sums over the support - 1) / k,
    # which is the paper's threshold only for a support of one element (its outputs do not
    # sum to 1 otherwise): compare there; fastnet's is checked against the paper above
    one = xs.copy()
    one[:, 2] += 3.0
    assert_close(ops.sparsemax(one).numpy(), k.ops.convert_to_numpy(k.ops.sparsemax(one)),
                 atol=1e-6)


# ---- keras.ops.nn -----------------------------------------------------------------------------
def test_nn_names_are_the_fastnet_ops():
    for name in ("conv", "conv_transpose", "depthwise_conv", "separable_conv", "max_pool",
                 "average_pool", "one_hot", "relu", "softmax", "moments"):
        assert getattr(ops.nn, name) is getattr(ops, name), name


def test_normalize_rms_layer_normalization():
    x = rand((3, 4, 5), seed=5).astype(np.float64)
    l2 = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
    assert_close(ops.normalize(x, axis=1).numpy(), x / l2, atol=1e-6)
    l1 = np.sum(np.abs(x), axis=-1, keepdims=True)
    assert_close(ops.normalize(x, order=1).numpy(), x / l1, atol=1e-6)
    assert_close(ops.normalize(np.zeros((2, 3))).numpy(), np.zeros((2, 3)), atol=0)
    with pytest.raises(ValueError, match="order"):
        ops.normalize(x, order=0)
    check_grad(lambda t: ops.normalize(t, axis=-1),
               lambda a: a / np.sqrt(np.sum(a * a, -1, keepdims=True)), [x])

    s = 1 + rand((5,), seed=6, low=-0.2, high=0.2).astype(np.float64)

    def rms_ref(a, sc):
        return a / np.sqrt(np.mean(a * a, -1, keepdims=True) + 1e-7) * sc

    assert_close(ops.rms_normalization(x, s).numpy(), rms_ref(x, s), atol=1e-6)
    check_grad(lambda t, sc: ops.rms_normalization(t, sc), rms_ref, [x, s])

    def ln_ref(a, g, b, axes):
        mu = a.mean(axis=axes, keepdims=True)
        var = a.var(axis=axes, keepdims=True)
        return (a - mu) / np.sqrt(var + 1e-5) * g + b

    g, b = s, rand((5,), seed=7).astype(np.float64)
    assert_close(ops.layer_normalization(x, g, b, epsilon=1e-5).numpy(),
                 ln_ref(x, g, b, (-1,)), atol=1e-5)
    g2 = 1 + rand((4, 5), seed=8, low=-0.2, high=0.2).astype(np.float64)
    assert_close(ops.layer_normalization(x, g2, None, axis=(1, 2), epsilon=1e-5).numpy(),
                 ln_ref(x, g2, 0.0, (1, 2)), atol=1e-6)
    check_grad(lambda t, gg: ops.layer_normalization(t, gg, axis=(1, 2), epsilon=1e-5),
               lambda a, gg: ln_ref(a, gg, 0.0, (1, 2)), [x, g2])
    rms = ops.layer_normalization(x, g, axis=-1, epsilon=1e-5, rms_scaling=True).numpy()
    assert_close(rms, x / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g, atol=1e-5)
    with pytest.raises(ValueError, match="gamma"):
        ops.layer_normalization(x, np.ones(4))


def test_psnr_multi_hot():
    a, b = rand((2, 8, 8, 3), seed=9, low=0, high=1), rand((2, 8, 8, 3), seed=10, low=0, high=1)
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    assert_close(ops.psnr(a, b, 1.0).numpy(), 20 * np.log10(1.0) - 10 * np.log10(mse), atol=1e-4)
    with pytest.raises(ValueError, match="must match"):
        ops.psnr(a, b[:1], 1.0)
    hot = ops.multi_hot(np.array([[0, 4, 4], [1, 2, 3]]), 5).numpy()
    assert hot.tolist() == [[1, 0, 0, 0, 1], [0, 1, 1, 1, 0]] and hot.dtype == np.float32
    assert ops.multi_hot(np.array([0, 4]), num_tokens=6).numpy().tolist() == [1, 0, 0, 0, 1, 0]
    assert ops.multi_hot(fastnet.Input((3,), dtype="int32"), 7).shape == (None, 7)
    with pytest.raises(ValueError, match="num_classes"):
        ops.multi_hot(np.array([1]))


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_depth_to_space_and_back(fmt):
    x = rand((2, 3, 4, 8), seed=11) if fmt == "channels_last" else rand((2, 8, 3, 4), seed=11)
    y = ops.depth_to_space(x, 2, data_format=fmt).numpy()
    if fmt == "channels_last":
        n, h, w, c = x.shape
        ref = x.reshape(n, h, w, 2, 2, c // 4).transpose(0, 1, 3, 2, 4, 5).reshape(
            n, h * 2, w * 2, c // 4)
        # output pixel (2i + a, 2j + b) channel c is input pixel (i, j) channel (2a + b)C' + c
        assert y[0, 3, 2, 1] == x[0, 1, 1, (2 * 1 + 0) * 2 + 1]
    else:
        n, c, h, w = x.shape
        ref = x.reshape(n, c // 4, 2, 2, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(
            n, c // 4, h * 2, w * 2)
    assert_close(y, ref, atol=0)
    back = ops.space_to_depth(y, 2, data_format=fmt).numpy()
    assert_close(back, x, atol=0)
    small = x[:1, :2] if fmt == "channels_last" else x[:1, :, :2]
    if fmt == "channels_last":
        def ref_fn(a):
            n, h, w, c = a.shape
            return a.reshape(n, h, w, 2, 2, c // 4).transpose(0, 1, 3, 2, 4, 5).reshape(
                n, h * 2, w * 2, c // 4)
    else:
        def ref_fn(a):
            n, c, h, w = a.shape
            return a.reshape(n, c // 4, 2, 2, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(
                n, c // 4, h * 2, w * 2)
    check_grad(lambda t: ops.depth_to_space(t, 2, data_format=fmt), ref_fn,
               [small.astype(np.float64)])
    kt = fastnet.Input(x.shape[1:])
    assert ops.depth_to_space(kt, 2, data_format=fmt).shape == (None,) + y.shape[1:]
    assert ops.space_to_depth(ops.depth_to_space(kt, 2, data_format=fmt), 2,
                              data_format=fmt).shape == (None,) + x.shape[1:]
    with pytest.raises(ValueError, match="divisible"):
        ops.depth_to_space(x, 3, data_format=fmt)


def _adaptive_ref(x, out, kind):
    """Loop reference: PyTorch's bins over each spatial axis of channels-last x."""
    nd = x.ndim - 2
    out = (out,) * nd if isinstance(out, int) else out
    res = np.zeros((x.shape[0],) + tuple(out) + (x.shape[-1],))
    for idx in np.ndindex(*out):
        sl = [slice(None)]
        for i, o in enumerate(idx):
            n = x.shape[1 + i]
            sl.append(slice((o * n) // out[i], -(-((o + 1) * n) // out[i])))
        win = x[tuple(sl)]
        red = tuple(range(1, 1 + nd))
        res[(slice(None),) + idx] = win.mean(red) if kind == "average" else win.max(red)
    return res


@pytest.mark.parametrize("kind", ["average", "max"])
@pytest.mark.parametrize("shape,out", [((2, 7, 3), 3), ((2, 5, 7, 2), (2, 3)),
                                       ((1, 4, 5, 3, 2), (3, 2, 2))])
def test_adaptive_pools(kind, shape, out):
    x = rand(shape, seed=12).astype(np.float64)
    fn = ops.adaptive_average_pool if kind == "average" else ops.adaptive_max_pool
    assert_close(fn(x, out, data_format="channels_last").numpy(), _adaptive_ref(x, out, kind),
                 atol=1e-6)
    check_grad(lambda t: fn(t, out, data_format="channels_last"),
               lambda a: _adaptive_ref(a, out, kind), [x])
    xf = np.moveaxis(x, -1, 1)
    got = fn(xf, out, data_format="channels_first").numpy()
    assert_close(np.moveaxis(got, 1, -1), _adaptive_ref(x, out, kind), atol=1e-6)
    kt = fn(fastnet.Input(shape[1:]), out, data_format="channels_last")
    assert kt.shape == (None,) + _adaptive_ref(x, out, kind).shape[1:]


def _unfold_ref(x, k, d, p, s):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
    cols = np.zeros((n, c, k, k, oh, ow))
    for i in range(oh):
        for j in range(ow):
            for a in range(k):
                for b in range(k):
                    cols[:, :, a, b, i, j] = xp[:, :, i * s + a * d, j * s + b * d]
    return cols.reshape(n, c * k * k, oh * ow)


@pytest.mark.parametrize("k,d,p,s", [(2, 1, 0, 1), (3, 1, 1, 2), (2, 2, 1, 1)])
def test_unfold_fold(k, d, p, s):
    x = rand((2, 3, 6, 5), seed=13).astype(np.float64)
    cols = ops.unfold(x, k, dilation=d, padding=p, stride=s)
    assert_close(cols.numpy(), _unfold_ref(x, k, d, p, s), atol=0)
    check_grad(lambda t: ops.unfold(t, k, dilation=d, padding=p, stride=s),
               lambda a: _unfold_ref(a, k, d, p, s), [x[:1, :1]])
    # fold is unfold's adjoint: <unfold(x), y> == <x, fold(y)>
    y = rand(cols.shape, seed=14).astype(np.float64)
    back = ops.fold(y, (6, 5), k, dilation=d, padding=p, stride=s).numpy()
    assert_close(np.sum(cols.numpy() * y), np.sum(x * back), atol=1e-5, rtol=1e-6)
    assert ops.unfold(fastnet.Input((3, 6, 5)), k, d, p, s).shape == (None,) + cols.shape[1:]
    assert ops.fold(fastnet.Input(cols.shape[1:]), (6, 5), k, d, p, s).shape == \
        (None, 3, 6, 5)
    with pytest.raises(ValueError, match="do not match"):
        ops.fold(y[:, :-1], (6, 5), k, dilation=d, padding=p, stride=s)


def test_nn_against_keras():
    k = _keras()
    x = rand((2, 6, 5, 4), seed=15)
    cases = [
        ("normalize", (x,), {"axis": -1}), ("rms_normalization", (x,), {"axis": -1}),
        ("layer_normalization", (x,), {"axis": -1}),
        ("depth_to_space", (x, 2), {}), ("space_to_depth", (rand((1, 4, 6, 2)), 2), {}),
        ("adaptive_average_pool", (x, (4, 3)), {"data_format": "channels_last"}),
        ("adaptive_max_pool", (x, (4, 3)), {"data_format": "channels_last"}),
        ("unfold", (np.moveaxis(x, -1, 1), 2), {"padding": 1, "stride": 2}),
        ("psnr", (x, x * 0.9, 1.0), {}),
    ]
    for name, args, kw in cases:
        ours = getattr(ops.nn, name)(*args, **kw).numpy()
        kargs = [k.ops.convert_to_tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        theirs = k.ops.convert_to_numpy(getattr(k.ops.nn, name)(*kargs, **kw))
        assert_close(ours, theirs, atol=2e-5, rtol=1e-5, what=name)
    cols = rand((2, 4 * 4, 9), seed=16)
    assert_close(ops.fold(cols, (4, 4), 2, stride=1).numpy(),
                 k.ops.convert_to_numpy(k.ops.fold(k.ops.convert_to_tensor(cols), (4, 4), 2,
                                                   stride=1)), atol=1e-5)
    assert_close(ops.multi_hot(np.array([[1, 3], [0, 0]]), 4).numpy(),
                 k.ops.convert_to_numpy(k.ops.multi_hot(np.array([[1, 3], [0, 0]]), 4)),
                 atol=0)


# ---- control flow -----------------------------------------------------------------------------
def test_cond_switch_and_their_gradients():
    x = fastnet.Variable(np.array([1.0, -2.0, 3.0], np.float32))
    with fastnet.GradientTape() as t:
        y = ops.cond(ops.sum(x) > 0, lambda: ops.square(x), lambda: -x)
    assert_close(y.numpy(), [1, 4, 9], atol=0)
    assert_close(t.gradient(y, x).numpy(), [2, -4, 6], atol=0)
    assert_close(ops.cond(False, lambda: x, lambda: -x).numpy(), [-1, 2, -3], atol=0)
    branches = [lambda a: a + 1, lambda a: a * 10, lambda a: -a]
    assert _np(ops.switch(1, branches, x)).tolist() == [10, -20, 30]
    assert _np(ops.switch(7, branches, x)).tolist() == [-1, 2, -3]  # clipped, as Keras
    assert _np(ops.switch(-3, branches, x)).tolist() == [2, -1, 4]
    with pytest.raises(ValueError, match="scalar"):
        ops.cond(np.array([True, False]), lambda: x, lambda: x)


def test_while_and_fori_loops():
    x = fastnet.Variable(np.array([0.5, 1.5], np.float32))
    with fastnet.GradientTape() as t:
        v, n = ops.while_loop(lambda v, n: ops.sum(v) < 20.0, lambda v, n: (v * 2.0, n + 1),
                              (x, 0))
    assert int(n.numpy()) == 4 and _np(v).tolist() == [8, 24]
    assert _np(t.gradient(v, x)).tolist() == [16, 16]
    capped = ops.while_loop(lambda v: True, lambda v: v + 1, 0, maximum_iterations=5)
    assert int(_np(capped)) == 5
    with fastnet.GradientTape() as t:
        z = ops.fori_loop(1, 4, lambda i, v: v * x + i, ops.zeros(2))
    a = x.numpy().astype(np.float64)
    assert_close(z.numpy(), ((1 * a) + 2) * a + 3, atol=1e-6)
    assert_close(t.gradient(z, x).numpy(), 2 * a + 2, atol=1e-5)  # iteration 1 ignores x
    with pytest.raises(ValueError, match="loop variables"):
        ops.while_loop(lambda a, b: True, lambda a, b: a, (1, 2), maximum_iterations=3)


def test_scan_map_vectorized_map_associative_scan():
    xs = rand((5, 3), seed=17).astype(np.float64)

    def body(c, x):
        c = c * 0.5 + x
        return c, ops.sum(c * x)

    def scan_ref(a):
        c, ys = np.zeros(3), []
        for row in a:
            c = c * 0.5 + row
            ys.append(np.sum(c * row))
        return c, np.array(ys)

    c, ys = ops.scan(body, np.zeros(3), xs)
    rc, rys = scan_ref(xs)
    assert_close(c.numpy(), rc, atol=1e-6)  # float64 numpy inputs become float32 tensors
    assert_close(ys.numpy(), rys, atol=1e-6)
    check_grad(lambda t: ops.scan(body, np.zeros(3), t)[1], lambda a: scan_ref(a)[1], [xs])
    cr, ysr = ops.scan(body, np.zeros(3), xs, reverse=True)
    rc2, rys2 = scan_ref(xs[::-1])
    assert_close(cr.numpy(), rc2, atol=1e-6)
    assert_close(ysr.numpy(), rys2[::-1], atol=1e-6)
    count, none = ops.scan(lambda c, _: (c + 1, None), 0, None, length=4)
    assert int(_np(count)) == 4 and none is None
    nested = ops.scan(lambda c, x: (c, {"a": x[0], "b": x[1] * 2}), 0.0, (xs, xs))[1]
    assert_close(nested["b"].numpy(), 2 * xs, atol=0)
    with pytest.raises(ValueError, match="length"):
        ops.scan(body, np.zeros(3))

    assert_close(ops.map(lambda r: ops.sum(r * r), xs).numpy(), np.sum(xs * xs, 1), atol=1e-6)
    check_grad(lambda t: ops.map(lambda r: ops.exp(r) * r[0], t),
               lambda a: np.exp(a) * a[:, :1], [xs])
    vm = ops.vectorized_map(lambda e: e[0] @ e[1], [rand((4, 2, 3), seed=18),
                                                    rand((4, 3), seed=19)])
    assert vm.shape == (4, 2)

    def cum_ref(a, axis, rev):
        a = np.flip(a, axis) if rev else a
        out = np.cumsum(a, axis)
        return np.flip(out, axis) if rev else out

    for axis, rev in ((0, False), (1, True)):
        got = ops.associative_scan(lambda a, b: a + b, xs, reverse=rev, axis=axis).numpy()
        assert_close(got, cum_ref(xs, axis, rev), atol=1e-6)
    prod = ops.associative_scan(lambda a, b: a * b, xs, axis=0).numpy()
    assert_close(prod, np.cumprod(xs, 0), atol=1e-6)
    check_grad(lambda t: ops.associative_scan(lambda a, b: a * b, t),
               lambda a: np.cumprod(a, 0), [xs])
    pair = ops.associative_scan(lambda a, b: (a[0] + b[0], a[1] * b[1]), (xs, xs))
    assert_close(pair[1].numpy(), np.cumprod(xs, 0), atol=1e-6)


def test_control_flow_in_functional_models():
    inp = fastnet.Input((3,))
    out = ops.fori_loop(0, 3, lambda i, v: v * 2.0 + 1.0, inp)
    assert out.shape == (None, 3)
    c, ys = ops.scan(lambda c, x: (c + x, c * x), ops.zeros((3,)), inp)
    assert c.shape == (3,) and ys.shape == (None, 3)
    picked = ops.cond(True, lambda: inp * 2, lambda: inp * 3)
    assert picked.shape == (None, 3)
    model = fastnet.Model(inp, out)
    x = rand((2, 3), seed=20)
    assert_close(model(x).numpy(), ((x * 2 + 1) * 2 + 1) * 2 + 1, atol=1e-5)
    mapped = ops.map(lambda r: ops.sum(r), fastnet.Input((4, 2)))
    assert mapped.shape == (None,)
    with pytest.raises(ValueError, match="different rank"):
        ops.cond(fastnet.Input((), dtype="bool"), lambda: inp, lambda: ops.sum(inp))


def test_custom_gradient():
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log(1 + e), grad

    x = fastnet.Variable(np.array([0.0, 2.0, 100.0], np.float32))
    with fastnet.GradientTape() as t:
        y = log1pexp(x)
    g = t.gradient(y, x).numpy()
    assert_close(g, _sigmoid(np.array([0.0, 2.0, 100.0])), atol=1e-6)  # finite at 100

    @ops.custom_gradient
    def scaled(a, b):
        return a * b, lambda up: (up * 10.0, None)

    a, b = fastnet.Variable(np.ones(2, np.float32)), fastnet.Variable(np.ones(2, np.float32))
    with fastnet.GradientTape() as t:
        s = ops.sum(scaled(a, b))
    ga, gb = t.gradient(s, [a, b])
    assert _np(ga).tolist() == [10, 10] and gb is None

    @ops.custom_gradient
    def wrong(a):
        return a, lambda up: (up, up)

    with fastnet.GradientTape() as t:
        s = ops.sum(wrong(a))
    with pytest.raises(ValueError, match="returned 2 gradients for 1"):
        t.gradient(s, a)


def test_control_flow_against_keras():
    k = _keras()
    xs = rand((5, 3), seed=21)
    assert_close(ops.scan(lambda c, x: (c + x, c * x), np.zeros(3, np.float32), xs)[1].numpy(),
                 k.ops.convert_to_numpy(k.ops.scan(lambda c, x: (c + x, c * x),
                                                   np.zeros(3, np.float32), xs)[1]), atol=1e-6)
    assert_close(ops.associative_scan(lambda a, b: a + b, xs, axis=1, reverse=True).numpy(),
                 k.ops.convert_to_numpy(k.ops.associative_scan(lambda a, b: a + b, xs, axis=1,
                                                               reverse=True)), atol=1e-6)
    assert_close(_np(ops.while_loop(lambda v: ops.sum(v) < 10, lambda v: v * 2, xs + 1)),
                 k.ops.convert_to_numpy(k.ops.while_loop(lambda v: k.ops.sum(v) < 10,
                                                         lambda v: v * 2, xs + 1)), atol=0)
    assert_close(_np(ops.switch(3, [lambda a: a, lambda a: -a], xs)),
                 k.ops.convert_to_numpy(k.ops.switch(3, [lambda a: a, lambda a: -a], xs)),
                 atol=0)


# ---- the numpy family -------------------------------------------------------------------------
NUMPY_CASES = [
    ("append", lambda: (rand((2, 3)), rand((1, 3), 1)), {"axis": 0}, np.append),
    ("append", lambda: (rand((2, 3)), rand((4,), 1)), {}, np.append),
    ("diagflat", lambda: (rand((2, 2)),), {"k": -1}, np.diagflat),
    ("corrcoef", lambda: (rand((3, 6)),), {}, np.corrcoef),
    ("correlate", lambda: (rand((7,)), rand((3,), 1)), {"mode": "valid"}, np.correlate),
    ("correlate", lambda: (rand((6,)), rand((4,), 1)), {"mode": "same"}, np.correlate),
    ("correlate", lambda: (rand((3,)), rand((5,), 1)), {"mode": "same"}, np.correlate),
    ("correlate", lambda: (rand((3,)), rand((5,), 1)), {"mode": "full"}, np.correlate),
    ("correlate", lambda: (rand((3,)), rand((5,), 1)), {"mode": "valid"}, np.correlate),
    ("nancumsum", lambda: (_nan((3, 4)),), {"axis": 1}, np.nancumsum),
    ("nancumprod", lambda: (_nan((3, 4)),), {}, np.nancumprod),
    ("nanquantile", lambda: (_nan((3, 5)), [0.1, 0.5, 0.9]), {"axis": 1}, np.nanquantile),
    ("nanpercentile", lambda: (_nan((3, 5)), 40), {"axis": 0, "keepdims": True},
     np.nanpercentile),
    ("nanmedian", lambda: (_nan((4, 5)),), {}, np.nanmedian),
    ("nanmedian", lambda: (_nan((4, 5)),), {"axis": 1}, np.nanmedian),
    ("i0", lambda: (rand((3, 4), low=-4, high=4),), {}, np.i0),
    ("ldexp", lambda: (rand((3, 4)), np.arange(12).reshape(3, 4) - 5), {}, np.ldexp),
    ("cdist", lambda: (rand((4, 3)), rand((5, 3), 1)), {},
     lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))),
    ("extract_sequences", lambda: (rand((2, 11)), 4, 3), {},
     lambda a, k, s: np.stack([a[..., i:i + k] for i in range(0, a.shape[-1] - k + 1, s)], -2)),
    ("real", lambda: (rand((2, 3)),), {}, np.real),
    ("imag", lambda: (rand((2, 3)),), {}, np.imag),
    ("conj", lambda: (rand((2, 3)),), {}, np.conj),
    ("angle", lambda: (rand((2, 3)),), {}, np.angle),
]


def _nan(shape, seed=22):
    x = rand(shape, seed=seed).astype(np.float64)
    x.reshape(-1)[::3] = np.nan
    x[-1] = np.nan  # an all-NaN slice along axis 1
    return x


@pytest.mark.parametrize("name,build,kw,ref", NUMPY_CASES,
                         ids=[f"{c[0]}{i}" for i, c in enumerate(NUMPY_CASES)])
def test_numpy_family_forward_and_gradient(name, build, kw, ref):
    args = build()
    fn = getattr(ops, name)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's all-NaN slice warning
        want = ref(*[np.asarray(a, np.float64) if isinstance(a, np.ndarray) and
                     a.dtype.kind == "f" else a for a in args], **kw)
    got = fn(*args, **kw)
    assert_close(got.numpy(), np.asarray(want), atol=1e-5, rtol=1e-5)
    assert getattr(ops.numpy, name, fn) is fn
    # symbolic spec == eager result
    sym = [KerasTensor(a.shape, str(a.dtype if a.dtype != np.float64 else "float32"))
           if isinstance(a, np.ndarray) else a for a in args]
    spec = fn(*sym, **kw)
    assert tuple(spec.shape) == tuple(got.shape) and spec.dtype == got.dtype, (spec, got.shape)
    float_args = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and
                  a.dtype.kind == "f"]
    if name in ("angle", "imag") or not float_args:
        return
    x64 = [np.asarray(a, np.float64) if i in float_args else a for i, a in enumerate(args)]
    i = float_args[0]

    def f(t):
        call = list(x64)
        call[i] = t
        return fn(*call, **kw)

    def r(a):
        call = list(x64)
        call[i] = a
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nan_to_num(np.asarray(ref(*call, **kw), np.float64), nan=0.0)

    got_g, dout = grads(lambda t: ops.nan_to_num(f(t), nan=0.0), [x64[i]])
    want_g = numeric_grad(r, [x64[i]], dout, 0)
    if "nan" in name:
        mask = ~np.isnan(x64[i])
        assert_close(got_g[0][mask], want_g[mask], atol=1e-5, rtol=1e-4)
    else:
        assert_close(got_g[0], want_g, atol=1e-5, rtol=1e-4)


def test_mod_is_differentiable():
    a = rand((3, 4), seed=37, low=-3, high=3).astype(np.float64)
    b = rand((4,), seed=38, low=0.7, high=1.3).astype(np.float64)
    assert_close(ops.mod(a, b).numpy(), np.mod(a, b), atol=1e-6)
    check_grad(ops.mod, np.mod, [a, b])
    assert ops.mod(np.array([7, -7]), 3).numpy().tolist() == [1, 2]


def test_integer_and_bitwise_ops():
    a = np.array([12, 7, -5, 0], np.int32)
    b = np.array([8, 3, 2, 5], np.int32)
    for name, ref in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                      ("bitwise_xor", np.bitwise_xor), ("gcd", np.gcd), ("lcm", np.lcm),
                      ("left_shift", np.left_shift), ("right_shift", np.right_shift),
                      ("bitwise_left_shift", np.left_shift),
                      ("bitwise_right_shift", np.right_shift)]:
        got = getattr(ops, name)(a, b)
        assert got.numpy().tolist() == ref(a, b).tolist() and got.dtype == "int32", name
    assert ops.bitwise_invert(a).numpy().tolist() == np.invert(a).tolist()
    assert ops.bitwise_not(np.array([True, False])).numpy().tolist() == [False, True]
    with pytest.raises(TypeError, match="integer"):
        ops.gcd(np.ones(2, np.float32), b[:2])
    with pytest.raises(TypeError, match="integer"):
        ops.ldexp(np.ones(2, np.float32), np.ones(2, np.float32))
    idx = ops.unravel_index(np.array([5, 11, 0]), (3, 4))
    assert [t.numpy().tolist() for t in idx] == [[1, 2, 0], [1, 3, 0]]
    v = ops.view(np.array([1.0, -2.0], np.float32), "int32").numpy()
    assert v.tolist() == np.array([1.0, -2.0], np.float32).view(np.int32).tolist()
    assert ops.dtype(np.ones(2, np.int32)) == "int32" and ops.dtype(ops.ones(2)) == "float32"
    assert ops.dtype(fastnet.Input((2,))) == "float32"
    n = ops.nextafter(np.float32(1.0), np.float32(2.0)).numpy()
    assert n == np.nextafter(np.float32(1.0), np.float32(2.0))


def test_nanargmax_argpartition_histogram_unique():
    x = np.array([[np.nan, 2.0, 5.0], [np.nan, np.nan, np.nan], [1.0, np.nan, -1.0]])
    assert ops.nanargmax(x, axis=1).numpy().tolist() == [2, -1, 0]
    assert ops.nanargmin(x, axis=1).numpy().tolist() == [1, -1, 2]
    assert ops.nanargmax(np.array([3, 1, 9])).numpy() == 2  # integers: plain argmax
    r = rand((4, 9), seed=23)
    part = ops.argpartition(r, 3, axis=1).numpy()
    kth = np.take_along_axis(r, part, 1)
    assert np.all(kth[:, :3] <= kth[:, 3:4]) and np.all(kth[:, 4:] >= kth[:, 3:4])
    counts, edges = ops.histogram(r, bins=5, range=(-1, 1))
    rc, re_ = np.histogram(r, bins=5, range=(-1, 1))
    assert counts.numpy().tolist() == rc.tolist() and counts.dtype == "int32"
    assert_close(edges.numpy(), re_, atol=1e-6)
    with pytest.raises(ValueError, match="bins"):
        ops.histogram(r, bins=0)
    u, idx, inv, cnt = ops.unique(np.array([3, 1, 3, 2, 1, 3]), return_index=True,
                                  return_inverse=True, return_counts=True)
    ru, ri, rinv, rc = np.unique(np.array([3, 1, 3, 2, 1, 3]), return_index=True,
                                 return_inverse=True, return_counts=True)
    assert [u.numpy().tolist(), idx.numpy().tolist(), inv.numpy().tolist(),
            cnt.numpy().tolist()] == [ru.tolist(), ri.tolist(), rinv.tolist(), rc.tolist()]
    assert ops.unique(np.array([2.0, 1.0, 2.0]), size=4).numpy().tolist() == [1, 2, 1, 1]
    assert ops.unique(np.array([5, 1, 5, 3]), size=2).numpy().tolist() == [1, 3]
    rows = ops.unique(np.array([[1, 2], [0, 0], [1, 2]]), axis=0).numpy()
    assert rows.tolist() == [[0, 0], [1, 2]]
    # unique's values are a gather: differentiable
    w = fastnet.Variable(np.array([2.0, 1.0, 2.0], np.float32))
    with fastnet.GradientTape() as t:
        s = ops.sum(ops.unique(w) * np.array([10.0, 1.0], np.float32))
    assert t.gradient(s, w).numpy().tolist() == [1.0, 10.0, 0.0]
    assert ops.unique(fastnet.Input((5,), batch_size=1), size=3).shape == (3,)
    with pytest.raises(NotImplementedError, match="data-dependent"):
        ops.unique(fastnet.Input((5,)))


def test_slogdet_erfinv_saturate_cast_vectorize():
    a = rand((2, 3, 3), seed=24).astype(np.float64)
    sign, logabs = ops.slogdet(a)
    rs, rl = np.linalg.slogdet(a)
    assert_close(sign.numpy(), rs, atol=0)
    assert_close(logabs.numpy(), rl, atol=1e-6)
    check_grad(lambda t: ops.slogdet(t)[1], lambda v: np.linalg.slogdet(v)[1], [a])
    with pytest.raises(ValueError, match="square"):
        ops.slogdet(a[:, :2])

    from math import erf

    v = np.array([-0.999, -0.7, -0.1, 0.0, 0.25, 0.9, 0.99999])
    y = ops.erfinv(v.astype(np.float32)).numpy().astype(np.float64)
    assert_close(np.vectorize(erf)(y), v, atol=3e-7, rtol=1e-6)
    y64 = ops.erfinv(ops.convert_to_tensor(v, "float64")).numpy()
    assert_close(np.vectorize(erf)(y64), v, atol=1e-14)
    e = ops.erfinv(np.array([1.0, -1.0, 1.5], np.float32)).numpy()
    assert e[0] == np.inf and e[1] == -np.inf and np.isnan(e[2])
    check_grad(ops.erfinv, lambda t: _erfinv_bisect(t), [v[1:-1]], atol=1e-5, rtol=1e-4)

    assert ops.saturate_cast(np.array([-300.0, 1.7, 300.0]), "uint8").numpy().tolist() == \
        [0, 1, 255]
    assert ops.saturate_cast(np.array([3e9, -3e9], np.float32), "int32").numpy().tolist() == \
        [2147483520, -2147483648]
    assert ops.saturate_cast(np.array([70000, -70000], np.int32), "int16").numpy().tolist() == \
        [32767, -32768]

    dot = ops.vectorize(lambda p, q: ops.sum(p * q), signature="(n),(n)->()")
    p, q = rand((2, 4, 3), seed=25).astype(np.float64), rand((4, 3), seed=26).astype(np.float64)
    assert_close(dot(p, q).numpy(), np.sum(p * q, -1), atol=1e-6)
    check_grad(lambda t: dot(t, q), lambda t: np.sum(t * q, -1), [p])
    sq = ops.vectorize(lambda s, k: s * s + k, excluded={1})
    assert_close(sq(np.arange(3.0), 1.0).numpy(), np.arange(3.0) ** 2 + 1, atol=0)


def _erfinv_bisect(v):
    from math import erf

    out = np.zeros_like(v)
    for i, t in enumerate(np.asarray(v).reshape(-1)):
        lo, hi = -6.0, 6.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if erf(mid) < t else (lo, mid)
        out.reshape(-1)[i] = 0.5 * (lo + hi)
    return out


def test_numpy_family_against_keras():
    k = _keras()
    x = rand((3, 5), seed=27)
    n = _nan((3, 5)).astype(np.float32)
    cases = [
        ("corrcoef", (x,), {}), ("correlate", (x[0], x[1, :3]), {"mode": "same"}),
        ("diagflat", (x[0],), {"k": 1}), ("nanquantile", (n, 0.3), {"axis": 1}),
        ("nanmedian", (n,), {"axis": 0}), ("nancumsum", (n,), {"axis": 1}),
        ("i0", (x,), {}), ("cdist", (x, x[:2]), {}), ("erfinv", (x * 0.9,), {}),
        ("append", (x, x[:1]), {"axis": 0}), ("extract_sequences", (x, 2, 2), {}),
    ]
    for name, args, kw in cases:
        ours = getattr(ops, name)(*args, **kw).numpy()
        theirs = k.ops.convert_to_numpy(getattr(k.ops, name)(*args, **kw))
        assert_close(ours, theirs, atol=2e-5, rtol=1e-4, what=name)
    s1, l1 = ops.slogdet(x[:, :3])
    s2, l2 = k.ops.slogdet(x[:, :3])
    assert_close(s1.numpy(), k.ops.convert_to_numpy(s2), atol=0)
    assert_close(l1.numpy(), k.ops.convert_to_numpy(l2), atol=1e-5)


# ---- scatter / slice updates ---------------------------------------------------------------------
def test_scatter_and_updates():
    idx = np.array([[0, 1], [2, 0], [0, 1]])
    vals = np.array([1.0, 2.0, 3.0])
    want = np.zeros((3, 2))
    np.add.at(want, tuple(idx.T), vals)
    assert_close(ops.scatter(idx, vals, (3, 2)).numpy(), want, atol=0)
    rows = ops.scatter(np.array([[1]]), np.ones((1, 4)), (3, 4)).numpy()
    assert rows.tolist() == [[0] * 4, [1] * 4, [0] * 4]
    def scatter_ref(v):
        out = np.zeros((3, 2))
        np.add.at(out, tuple(idx.T), v)
        return out

    check_grad(lambda t: ops.scatter(idx, t, (3, 2)), scatter_ref, [vals])

    x = rand((3, 4), seed=28).astype(np.float64)
    upd = np.array([10.0, 20.0, 30.0])
    sidx = np.array([[0, 1], [2, 3], [0, 1]])

    def ref(a, u):
        out = a.copy()
        out[tuple(sidx.T)] = u  # numpy assignment: the last duplicate wins
        return out

    assert_close(ops.scatter_update(x, sidx, upd).numpy(), ref(x, upd), atol=1e-7)
    check_grad(lambda a, u: ops.scatter_update(a, sidx, u), ref, [x, upd])
    added = ops.scatter_update(x, sidx, upd, reduction="add").numpy()
    want = x.copy()
    np.add.at(want, tuple(sidx.T), upd)
    assert_close(added, want, atol=1e-6)
    assert_close(x, rand((3, 4), seed=28).astype(np.float64), atol=0)  # input untouched

    u = rand((2, 2), seed=29).astype(np.float64)

    def sref(a, b):
        out = a.copy()
        out[1:3, 2:4] = b
        return out

    assert_close(ops.slice_update(x, (1, 2), u).numpy(), sref(x, u), atol=1e-7)
    check_grad(lambda a, b: ops.slice_update(a, (1, 2), b), sref, [x, u])
    with pytest.raises(ValueError, match="do not fit"):
        ops.slice_update(x, (2, 2), u)
    kt = fastnet.Input((4,))
    assert ops.slice_update(kt, (0, 1), ops.ones((1, 2))).shape == (None, 4)
    assert ops.scatter(np.array([[0], [2]]), KerasTensor((2, 5)), (3, 5)).shape == \
        (3, 5)


def test_updates_against_keras():
    k = _keras()
    x = rand((3, 4), seed=30)
    idx = np.array([[0, 1], [2, 3]])
    u = np.array([5.0, 6.0], np.float32)
    assert_close(ops.scatter_update(x, idx, u).numpy(),
                 k.ops.convert_to_numpy(k.ops.scatter_update(x, idx, u)), atol=0)
    assert_close(ops.scatter(idx, u, (3, 4)).numpy(),
                 k.ops.convert_to_numpy(k.ops.scatter(idx, u, (3, 4))), atol=0)
    assert_close(ops.slice_update(x, (1, 1), np.ones((2, 2), np.float32)).numpy(),
                 k.ops.convert_to_numpy(k.ops.slice_update(x, (1, 1),
                                                           np.ones((2, 2), np.float32))), atol=0)


# ---- jvp ---------------------------------------------------------------------------------------
def test_jvp_matches_directional_finite_differences():
    x = rand((3,), seed=31).astype(np.float64)
    w = rand((3, 2), seed=32).astype(np.float64)
    tx, tw = rand((3,), seed=33).astype(np.float64), rand((3, 2), seed=34).astype(np.float64)

    def f(a, b):
        return ops.tanh(ops.matmul(a[None, :], b))[0] * ops.sum(a)

    def ref(a, b):
        return np.tanh(a[None, :] @ b)[0] * np.sum(a)

    out, tan = ops.linalg.jvp(f, (x, w), (tx, tw))
    eps = 1e-6
    fd = (ref(x + eps * tx, w + eps * tw) - ref(x - eps * tx, w - eps * tw)) / (2 * eps)
    assert_close(out.numpy(), ref(x, w), atol=1e-6)
    assert_close(tan.numpy(), fd, atol=1e-5)
    out, tan, aux = ops.jvp(lambda a: (ops.square(a), "aux"), (x,), (tx,), has_aux=True)
    assert aux == "aux"
    assert_close(tan.numpy(), 2 * x * tx, atol=1e-6)
    with pytest.raises(ValueError, match="structure and shapes"):
        ops.jvp(f, (x, w), (tx,))


def test_jvp_against_keras():
    k = _keras()
    x, t = rand((4,), seed=35), rand((4,), seed=36)
    ours = ops.jvp(lambda a: ops.sin(a) * a, (x,), (t,))[1].numpy()
    xt, tt = k.ops.convert_to_tensor(x), k.ops.convert_to_tensor(t)
    theirs = k.ops.convert_to_numpy(k.ops.linalg.jvp(lambda a: k.ops.sin(a) * a, (xt,), (tt,))[1])
    assert_close(ours, theirs, atol=1e-6)


# ---- fastnet.ops.numpy ---------------------------------------------------------------------------
def test_ops_numpy_is_the_numpy_named_subset():
    names = set(ops.numpy.__all__)
    assert {"sum", "matmul", "where", "append", "nanquantile", "vectorize"} <= names
    for name in names:
        assert getattr(ops.numpy, name) is getattr(ops, name), name
    assert "relu" not in names and "cond" not in names


def test_ops_numpy_names_match_keras():
    k = _keras()
    theirs = {n for n in dir(k.ops.numpy) if not n.startswith("_")}
    assert set(ops.numpy.__all__) <= theirs


# ---- keras.ops.image ---------------------------------------------------------------------------
def test_rgb_hsv_round_trip_against_colorsys():
    import colorsys

    rgb = rand((2, 5, 4, 3), seed=40, low=0, high=1)
    rgb[0, 0, 0] = [0.3, 0.3, 0.3]  # grey: hue and saturation 0
    rgb[0, 0, 1] = [0.0, 0.0, 0.0]
    hsv = ops.image.rgb_to_hsv(rgb).numpy()
    ref = np.array([colorsys.rgb_to_hsv(*p) for p in rgb.reshape(-1, 3).astype(np.float64)])
    assert_close(hsv, ref.reshape(rgb.shape), atol=2e-6)
    back = ops.image.hsv_to_rgb(hsv).numpy()
    assert_close(back, rgb, atol=2e-6)
    ref_rgb = np.array([colorsys.hsv_to_rgb(*p) for p in hsv.reshape(-1, 3).astype(np.float64)])
    assert_close(back, ref_rgb.reshape(rgb.shape), atol=2e-6)
    cf = ops.image.rgb_to_hsv(np.moveaxis(rgb, -1, 1), data_format="channels_first").numpy()
    assert_close(np.moveaxis(cf, 1, -1), hsv, atol=0)

    def hsv_ref(a):
        return np.array([colorsys.hsv_to_rgb(*p) for p in a.reshape(-1, 3)]).reshape(a.shape)

    x = rand((1, 2, 3, 3), seed=41, low=0.1, high=0.9).astype(np.float64)
    check_grad(ops.image.hsv_to_rgb, hsv_ref, [x], atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="float dtype"):
        ops.image.rgb_to_hsv(np.ones((2, 2, 3), np.int32))
    with pytest.raises(ValueError, match="3 channels"):
        ops.image.hsv_to_rgb(np.ones((2, 2, 4), np.float32))
    assert ops.image.rgb_to_hsv(fastnet.Input((8, 8, 3))).shape == (None, 8, 8, 3)


def _blur_ref(x, ks, sigma):
    def g(n, s):
        t = np.arange(n) - (n - 1) / 2
        k = np.exp(-0.5 * (t / s) ** 2)
        return k / k.sum()

    kern = np.outer(g(ks[1], sigma[1]), g(ks[0], sigma[0]))
    kh, kw = kern.shape
    xp = np.pad(x, ((0, 0), ((kh - 1) // 2, kh - 1 - (kh - 1) // 2),
                    ((kw - 1) // 2, kw - 1 - (kw - 1) // 2), (0, 0)))
    out = np.zeros_like(x, dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            out += kern[a, b] * xp[:, a:a + x.shape[1], b:b + x.shape[2]]
    return out


@pytest.mark.parametrize("ks,sigma", [((3, 3), (1.0, 1.0)), ((5, 3), (2.0, 0.8)),
                                      ((4, 2), (0.7, 1.3))])
def test_gaussian_blur(ks, sigma):
    x = rand((2, 7, 6, 3), seed=42)
    got = ops.image.gaussian_blur(x, ks, sigma, data_format="channels_last").numpy()
    assert_close(got, _blur_ref(x.astype(np.float64), ks, sigma), atol=1e-6)
    check_grad(lambda t: ops.image.gaussian_blur(t, ks, sigma, data_format="channels_last"),
               lambda a: _blur_ref(a, ks, sigma), [x[:1, :4, :4, :1].astype(np.float64)])
    cf = ops.image.gaussian_blur(np.moveaxis(x, -1, 1), ks, sigma,
                                 data_format="channels_first").numpy()
    assert_close(np.moveaxis(cf, 1, -1), got, atol=1e-6)
    with pytest.raises(ValueError, match="sigma"):
        ops.image.gaussian_blur(x, (3, 3), (0.0, 1.0))


def _sobel_ref(x):
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="symmetric")
    h, w = x.shape[1:3]

    def s(a, b):
        return p[:, a:a + h, b:b + w]

    gy = s(2, 0) + 2 * s(2, 1) + s(2, 2) - s(0, 0) - 2 * s(0, 1) - s(0, 2)
    gx = s(0, 2) + 2 * s(1, 2) + s(2, 2) - s(0, 0) - 2 * s(1, 0) - s(2, 0)
    return np.stack([gy, gx], -1)


def test_sobel_edges():
    x = rand((2, 6, 5, 2), seed=43)
    got = ops.image.sobel_edges(x, data_format="channels_last").numpy()
    assert got.shape == (2, 6, 5, 2, 2)
    assert_close(got, _sobel_ref(x.astype(np.float64)), atol=1e-5)
    check_grad(lambda t: ops.image.sobel_edges(t, data_format="channels_last"), _sobel_ref,
               [x[:1, :4, :3, :1].astype(np.float64)])
    ndimage = pytest.importorskip("scipy.ndimage")
    for ax in (0, 1):
        assert_close(got[1, :, :, 0, ax], ndimage.sobel(x[1, :, :, 0].astype(np.float64),
                                                        axis=ax), atol=1e-5)
    assert ops.image.sobel_edges(fastnet.Input((6, 5, 2)), data_format="channels_last").shape \
        == (None, 6, 5, 2, 2)


def _ssim_ref(a, b, f=11, sigma=1.5, max_val=1.0):
    t = np.arange(f) - (f - 1) / 2
    g = np.exp(-t ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    w = np.outer(g, g)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    out = []
    for n in range(a.shape[0]):
        vals = []
        for c in range(a.shape[-1]):
            x, y = a[n, :, :, c], b[n, :, :, c]
            win = np.lib.stride_tricks.sliding_window_view
            wx, wy = win(x, (f, f)), win(y, (f, f))
            mx, my = (wx * w).sum((-1, -2)), (wy * w).sum((-1, -2))
            vx = (wx * wx * w).sum((-1, -2)) - mx ** 2
            vy = (wy * wy * w).sum((-1, -2)) - my ** 2
            cxy = (wx * wy * w).sum((-1, -2)) - mx * my
            m = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) *
                                                          (vx + vy + c2))
            vals.append(m.mean())
        out.append(np.mean(vals))
    return np.array(out)


def test_ssim():
    a = rand((2, 14, 13, 3), seed=44, low=0, high=1)
    b = np.clip(a + rand(a.shape, seed=45, low=-0.2, high=0.2), 0, 1)
    got = ops.image.ssim(a, b, data_format="channels_last").numpy()
    assert got.shape == (2,)
    assert_close(got, _ssim_ref(a.astype(np.float64), b.astype(np.float64)), atol=1e-5)
    assert_close(ops.image.ssim(a, a, data_format="channels_last").numpy(), np.ones(2),
                 atol=1e-5)
    one = ops.image.ssim(a[0], b[0], filter_size=5, filter_sigma=1.0, max_val=2.0,
                         data_format="channels_last")
    assert one.shape == () and abs(float(one.numpy()) - _ssim_ref(
        a[:1].astype(np.float64), b[:1].astype(np.float64), 5, 1.0, 2.0)[0]) < 1e-5
    check_grad(lambda t: ops.image.ssim(t, b[:1, :6, :6, :1], filter_size=3,
                                        data_format="channels_last"),
               lambda v: _ssim_ref(v, b[:1, :6, :6, :1].astype(np.float64), 3),
               [a[:1, :6, :6, :1].astype(np.float64)], atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="same shape"):
        ops.image.ssim(a, b[:1])
    kt = ops.image.ssim(fastnet.Input((14, 13, 3)), fastnet.Input((14, 13, 3)),
                        data_format="channels_last")
    assert kt.shape == (None,)


def test_perspective_transform():
    x = rand((2, 8, 9, 2), seed=46)
    quad = np.array([[0, 0], [8, 0], [8, 7], [0, 7]], np.float32)
    same = ops.image.perspective_transform(x, quad, quad, data_format="channels_last").numpy()
    assert_close(same, x, atol=1e-5)
    # end = start + (2, 1): output pixel (x, y) reads input (x - 2, y - 1)
    moved = ops.image.perspective_transform(x, quad, quad + np.array([2, 1], np.float32),
                                            interpolation="nearest",
                                            data_format="channels_last").numpy()
    want = np.zeros_like(x)
    want[:, 1:, 2:] = x[:, :-1, :-2]
    assert_close(moved, want, atol=1e-6)
    warp = np.array([[1, 0], [7, 1], [8, 6], [0, 7]], np.float32)
    check_grad(lambda t: ops.image.perspective_transform(t, quad, warp,
                                                         data_format="channels_last"),
               lambda a: ops.image.perspective_transform(
                   ops.convert_to_tensor(a, "float64"), quad, warp,
                   data_format="channels_last").numpy().astype(np.float64) * 0 +
               _perspective_ref(a, quad, warp),
               [x[:1, :4, :4, :1].astype(np.float64)], atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="start_points shape"):
        ops.image.perspective_transform(x, quad[:3], quad[:3])


def _perspective_ref(img, start, end):
    """Bilinear warp with the homography from an independent 8x8 solve (constant fill)."""
    a, rhs = [], []
    for (sx, sy), (ex, ey) in zip(start.astype(np.float64), end.astype(np.float64)):
        a.append([ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey])
        rhs.append(sx)
        a.append([0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey])
        rhs.append(sy)
    t = np.linalg.solve(np.array(a), np.array(rhs))
    n, h, w, c = img.shape
    out = np.zeros_like(img, dtype=np.float64)
    for yy in range(h):
        for xx in range(w):
            k = t[6] * xx + t[7] * yy + 1
            xi, yi = (t[0] * xx + t[1] * yy + t[2]) / k, (t[3] * xx + t[4] * yy + t[5]) / k
            x0, y0 = int(np.floor(xi)), int(np.floor(yi))
            for dy in (0, 1):
                for dx in (0, 1):
                    wgt = (1 - abs(xi - (x0 + dx))) * (1 - abs(yi - (y0 + dy)))
                    if 0 <= y0 + dy < h and 0 <= x0 + dx < w:
                        out[:, yy, xx] += wgt * img[:, y0 + dy, x0 + dx]
    return out


def test_extract_patches_3d():
    v = rand((2, 5, 4, 6, 2), seed=47)
    got = ops.image.extract_patches_3d(v, (2, 2, 3), strides=(1, 2, 3),
                                       data_format="channels_last").numpy()
    d, h, w = (5 - 2) // 1 + 1, (4 - 2) // 2 + 1, (6 - 3) // 3 + 1
    want = np.zeros((2, d, h, w, 2 * 2 * 3 * 2))
    for i in range(d):
        for j in range(h):
            for k in range(w):
                want[:, i, j, k] = v[:, i:i + 2, 2 * j:2 * j + 2, 3 * k:3 * k + 3].reshape(2, -1)
    assert_close(got, want, atol=0)
    kt = ops.image.extract_patches_3d(fastnet.Input((5, 4, 6, 2)), (2, 2, 3), strides=(1, 2, 3),
                                      data_format="channels_last")
    assert kt.shape == (None,) + got.shape[1:]
    assert ops.image.extract_patches_3d(v, 2, data_format="channels_last").shape == \
        (2, 2, 2, 3, 16)


def test_image_ops_against_keras():
    k = _keras()
    rng = np.random.default_rng(48)
    img = rng.uniform(0, 1, (2, 16, 13, 3)).astype(np.float32)
    img2 = np.clip(img + rng.normal(0, 0.1, img.shape), 0, 1).astype(np.float32)
    kimg = k.ops.image
    for name, args, kw in [
            ("rgb_to_hsv", (img,), {}), ("hsv_to_rgb", (img,), {}),
            # square odd kernels: Keras's torch backend pads kernel_size[0] // 2 on both axes
            ("gaussian_blur", (img, (5, 5), (1.0, 2.0)), {}),
            ("ssim", (img, img2), {}),
            ("perspective_transform", (img, np.array([[0, 0], [12, 0], [12, 15], [0, 15]],
                                                     np.float32),
                                       np.array([[1, 2], [11, 0], [12, 14], [0, 13]],
                                                np.float32)), {}),
            ("extract_patches_3d", (img[..., None][:, :6, :6, :3], 2), {})]:
        ours = getattr(ops.image, name)(*args, data_format="channels_last", **kw).numpy()
        theirs = k.ops.convert_to_numpy(getattr(kimg, name)(*args, data_format="channels_last",
                                                            **kw))
        assert_close(ours, theirs, atol=1e-5, what=name)


# ---- CTC -----------------------------------------------------------------------------------------
def _collapse(path, blank):
    out = []
    for i, c in enumerate(path):
        if c != blank and (i == 0 or path[i - 1] != c):
            out.append(int(c))
    return tuple(out)


def _brute_ctc(logits, blank=0):
    """log p(labels) for every label sequence, summing all K^T alignments explicitly."""
    import itertools

    t, k = logits.shape
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    probs = {}
    for path in itertools.product(range(k), repeat=t):
        lab = _collapse(path, blank)
        probs[lab] = np.logaddexp(probs.get(lab, -np.inf), sum(lp[i, c] for i, c in
                                                                enumerate(path)))
    return probs


def test_ctc_loss_matches_all_alignments_and_finite_differences():
    rng = np.random.default_rng(50)
    out = rng.normal(size=(3, 5, 3))
    tgt = np.array([[1, 1, 0], [2, 1, 0], [1, 0, 0]])
    tl, ol = np.array([2, 2, 1]), np.array([5, 4, 3])
    got = ops.ctc_loss(tgt, out.astype(np.float32), tl, ol).numpy()
    for i in range(3):
        probs = _brute_ctc(out[i, :ol[i]])
        assert abs(got[i] + probs[tuple(tgt[i, :tl[i]])]) < 1e-4, i
    # mask_index: the blank can be any class
    alt = ops.ctc_loss(np.where(tgt == 2, 0, tgt), out.astype(np.float32), tl, ol,
                       mask_index=2).numpy()
    probs = _brute_ctc(out[1, :4], blank=2)
    assert abs(alt[1] + probs[(0, 1)]) < 1e-4
    check_grad(lambda o: ops.ctc_loss(tgt, o, tl, ol),
               lambda o: np.array([-_brute_ctc(o[i, :ol[i]])[tuple(tgt[i, :tl[i]])]
                                   for i in range(3)]), [out], atol=1e-4, rtol=1e-3)
    assert ops.ctc_loss(KerasTensor((None, 4), "int32"), fastnet.Input((7, 3)),
                        KerasTensor((None,), "int32"), KerasTensor((None,), "int32")).shape \
        == (None,)
    with pytest.raises(ValueError, match="mask_index"):
        ops.ctc_loss(tgt, out, tl, ol, mask_index=3)


def _alpha_nll(logits, labels, blank):
    """-log p(labels | logits) by the textbook scalar alpha recursion (float64)."""
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ext = [blank]
    for c in labels:
        ext += [int(c), blank]
    a = np.full(len(ext), -np.inf)
    a[:2] = lp[0, ext[:2]]
    for t in range(1, len(lp)):
        prev = a.copy()
        for s in range(len(ext)):
            terms = [prev[s]] + ([prev[s - 1]] if s else []) + (
                [prev[s - 2]] if s > 1 and ext[s] != blank and ext[s] != ext[s - 2] else [])
            a[s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
    return -np.logaddexp.reduce(a[-2:]) if len(ext) > 1 else -a[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ctc_loss_random_lengths_and_blank_against_alpha_recursion(seed):
    """Random targets, lengths and blank class; losses.ctc is the same op on its padded
    labels (every frame used, blank 0)."""
    rng = np.random.default_rng(seed)
    b, t, k, n = 3, 7, 5, 3
    blank = int(rng.integers(0, k))
    out = rng.normal(size=(b, t, k)) * 1.5
    tgt = rng.choice([c for c in range(k) if c != blank], size=(b, n))
    tl, ol = rng.integers(0, n + 1, size=b), rng.integers(n * 2 + 1, t + 1, size=b)
    want = [_alpha_nll(out[i, :ol[i]], tgt[i, :tl[i]], blank) for i in range(b)]
    assert_close(ops.ctc_loss(tgt, out.astype(np.float32), tl, ol, mask_index=blank).numpy(),
                 np.array(want), atol=1e-5)
    check_grad(lambda o: ops.ctc_loss(tgt, o, tl, ol, mask_index=blank),
               lambda o: np.array([_alpha_nll(o[i, :ol[i]], tgt[i, :tl[i]], blank)
                                   for i in range(b)]), [out], atol=1e-6)
    from fastnet import losses

    padded = np.where(np.arange(n)[None, :] < tl[:, None], tgt + (tgt < blank), 0)
    full = np.full(b, t)
    shifted = np.concatenate([out[..., blank:blank + 1], np.delete(out, blank, -1)], -1)
    assert_close(losses.ctc(padded, shifted).numpy(),
                 ops.ctc_loss(tgt, out, tl, full, mask_index=blank).numpy(), atol=1e-9)


def test_ctc_loss_impossible_empty_and_second_order():
    x = np.random.default_rng(3).normal(size=(3, 2, 3)).astype(np.float32)
    got = ops.ctc_loss(np.array([[1, 1], [1, 0], [1, 2]]), x, np.array([2, 0, 1]),
                       np.array([2, 0, 0])).numpy()
    assert np.isinf(got[0]) and got[1] == 0.0 and np.isinf(got[2])  # "1 1" needs 3 frames
    t = ops.convert_to_tensor(x)
    with fastnet.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.ctc_loss(np.array([[1, 1], [1, 0], [2, 0]]), t,
                                    np.array([2, 1, 1]), np.array([2, 2, 0])))
    g = tape.gradient(loss, t).numpy()
    assert np.all(g[0] == 0) and np.all(g[2] == 0) and np.any(g[1] != 0)
    with fastnet.GradientTape() as outer:
        outer.watch(t)
        with fastnet.GradientTape() as inner:
            inner.watch(t)
            loss = ops.sum(ops.ctc_loss(np.array([[1, 2]]), t[:1], np.array([2]),
                                        np.array([2])))
        with pytest.raises(NotImplementedError, match="second-order gradient of ctc_loss"):
            inner.gradient(loss, t)


def test_ctc_decode_greedy_and_beam_search():
    rng = np.random.default_rng(51)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    lengths = np.array([5, 3])
    paths, scores = ops.ctc_decode(x, lengths)
    assert paths.shape == (1, 2, 5) and paths.dtype == "int32" and scores.shape == (2, 1)
    for i in range(2):
        best = np.argmax(x[i, :lengths[i]], -1)
        lab = _collapse(best, 0)
        assert tuple(v for v in paths.numpy()[0, i] if v >= 0) == lab
        assert abs(scores.numpy()[i, 0] + x[i, :lengths[i]].max(-1).sum()) < 1e-5
    no_merge = ops.ctc_decode(np.eye(3, dtype=np.float32)[[1, 1, 0, 2]][None], [4],
                              merge_repeated=False)[0].numpy()
    assert no_merge[0, 0].tolist() == [1, 1, 2, -1]
    bp, bs = ops.ctc_decode(x, lengths, strategy="beam_search", beam_width=50, top_paths=3)
    assert bp.shape == (3, 2, 5) and bs.shape == (2, 3)
    for i in range(2):
        probs = _brute_ctc(x[i, :lengths[i]].astype(np.float64))
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
        for j, (lab, lp) in enumerate(ranked):
            assert tuple(v for v in bp.numpy()[j, i] if v >= 0) == lab
            assert abs(bs.numpy()[i, j] - lp) < 1e-5
    spec = ops.ctc_decode(fastnet.Input((5, 3)), KerasTensor((None,), "int32"),
                          strategy="beam_search", top_paths=2)
    assert spec[0].shape == (2, None, 5) and spec[1].shape == (None, 2)
    with pytest.raises(ValueError, match="strategy"):
        ops.ctc_decode(x, lengths, strategy="best")


def test_ctc_against_keras():
    k = _keras()
    rng = np.random.default_rng(52)
    out = rng.normal(size=(2, 7, 4)).astype(np.float32)
    tgt = rng.integers(1, 4, size=(2, 3)).astype(np.int32)
    tgt[0, 1] = tgt[0, 0]
    tl, ol = np.array([3, 2]), np.array([7, 5])
    assert_close(ops.ctc_loss(tgt, out, tl, ol).numpy(),
                 k.ops.convert_to_numpy(k.ops.ctc_loss(tgt, out, tl, ol)), atol=1e-4)
    for kw in ({}, {"strategy": "beam_search", "beam_width": 3, "top_paths": 2}):
        ours = ops.ctc_decode(out, ol, **kw)
        theirs = k.ops.ctc_decode(out, ol, **kw)
        assert ours[0].numpy().tolist() == k.ops.convert_to_numpy(theirs[0]).tolist()
        assert_close(ours[1].numpy(), k.ops.convert_to_numpy(theirs[1]), atol=1e-4)


# ---- segment_prod, rearrange, lu_factor, istft --------------------------------------------------
def test_segment_prod():
    data = rand((7, 2), seed=60).astype(np.float64)
    data[3, 0] = 0.0  # a zero in a segment: the gradient of the others is still exact
    ids = np.array([0, 2, 2, 0, 3, 2, 9])
    want = np.ones((5, 2))
    for i, s in enumerate(ids):
        if s < 5:
            want[s] *= data[i]
    assert_close(ops.segment_prod(data, ids, num_segments=5).numpy(), want, atol=1e-6)

    def ref(d):
        out = np.ones((5, 2))
        for i, s in enumerate(ids):
            if s < 5:
                out[s] = out[s] * d[i]
        return out

    check_grad(lambda t: ops.segment_prod(t, ids, 5), ref, [data])
    assert ops.segment_prod(data[:6], ids[:6] % 3).shape == (3, 2)
    assert ops.segment_prod(fastnet.Input((2,)), KerasTensor((None,), "int32"),
                            num_segments=4).shape == (4, 2)


def test_rearrange():
    x = rand((2, 6, 4), seed=61).astype(np.float64)
    assert_close(ops.rearrange(x, "b h w -> b (h w)").numpy(), x.reshape(2, 24), atol=0)
    assert_close(ops.rearrange(x, "b h w -> w b h").numpy(), x.transpose(2, 0, 1), atol=0)
    split = ops.rearrange(x, "b (h1 h) w -> b h1 (w h)", h1=2).numpy()
    assert_close(split, x.reshape(2, 2, 3, 4).transpose(0, 1, 3, 2).reshape(2, 2, 12), atol=0)
    check_grad(lambda t: ops.rearrange(t, "b (h1 h) w -> (b w) h1 h", h=3),
               lambda a: a.reshape(2, 2, 3, 4).transpose(0, 3, 1, 2).reshape(8, 2, 3), [x])
    assert ops.rearrange(fastnet.Input((6, 4)), "b (h c) w -> b c h w", c=2).shape == \
        (None, 2, 3, 4)
    with pytest.raises(ValueError, match="cannot be split"):
        ops.rearrange(x, "b (h c) w -> b h c w", c=4)
    with pytest.raises(ValueError, match="same names"):
        ops.rearrange(x, "b h w -> b h")


def _lu_ref(a):
    """Doolittle elimination with partial pivoting, in float64 loops."""
    a = np.array(a, np.float64)
    r, c = a.shape
    piv = np.zeros(min(r, c), np.int64)
    for k in range(min(r, c)):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        piv[k] = p
        a[[k, p]] = a[[p, k]]
        for i in range(k + 1, r):
            a[i, k] /= a[k, k]
            a[i, k + 1:] -= a[i, k] * a[k, k + 1:]
    return a, piv


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 3)])
def test_lu_factor(shape):
    a = rand(shape, seed=62).astype(np.float64)
    lu, piv = ops.lu_factor(a)
    flat = a.reshape((-1,) + shape[-2:])
    for i, m in enumerate(flat):
        rl, rp = _lu_ref(m)
        assert_close(lu.numpy().reshape(flat.shape)[i], rl, atol=1e-5)
        assert piv.numpy().reshape(len(flat), -1)[i].tolist() == rp.tolist()
    assert piv.dtype == "int32"
    check_grad(lambda t: ops.lu_factor(t)[0], lambda v: np.stack(
        [_lu_ref(mm)[0] for mm in v.reshape((-1,) + shape[-2:])]).reshape(shape), [a],
        atol=1e-4, rtol=1e-3)
    spec = ops.lu_factor(KerasTensor(shape))
    assert spec[0].shape == shape and spec[1].shape == shape[:-2] + (min(shape[-2:]),)


@pytest.mark.parametrize("kw", [
    dict(sequence_length=8, sequence_stride=4, fft_length=16, window="hann"),
    dict(sequence_length=10, sequence_stride=3, fft_length=10, window="hamming", center=False),
    dict(sequence_length=8, sequence_stride=2, fft_length=8, window=None)])
def test_istft_inverts_stft(kw):
    x = rand((2, 41), seed=63)
    center = kw.get("center", True)
    z = ops.stft(x, **kw)
    y = ops.istft(z, kw["sequence_length"], kw["sequence_stride"], kw["fft_length"],
                  window=kw["window"], center=center, length=41 if center else None)
    n = y.shape[-1]
    if kw["window"] is not None:  # perfect reconstruction where the windows overlap
        lo = 0 if center else 1
        assert_close(y.numpy()[:, lo:n - 1], x[:, lo:n - 1], atol=2e-6)
    spec = ops.istft((KerasTensor(z[0].shape), KerasTensor(z[1].shape)), kw["sequence_length"],
                     kw["sequence_stride"], kw["fft_length"], window=kw["window"],
                     center=center, length=41 if center else None)
    assert spec.shape == tuple(y.shape)


def test_istft_gradient():
    re, im = rand((3, 5), seed=64).astype(np.float64), rand((3, 5), seed=65).astype(np.float64)

    def ref(r, i):
        seg = np.fft.irfft(r + 1j * i, n=8, axis=-1)
        win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8)
        out, norm = np.zeros(8 + 2 * 2), np.zeros(8 + 2 * 2)
        for f in range(3):
            out[2 * f:2 * f + 8] += seg[f] * win
            norm[2 * f:2 * f + 8] += win * win
        return (out / np.where(norm > 1e-10, norm, 1.0))[4:-4]

    check_grad(lambda r, i: ops.istft((r, i), 8, 2, 8), ref, [re, im])


def test_segment_prod_rearrange_lu_istft_against_keras():
    k = _keras()
    d = rand((6, 3), seed=66)
    ids = np.array([0, 1, 1, 3, 0, 1])
    assert_close(ops.segment_prod(d, ids, 4).numpy(),
                 k.ops.convert_to_numpy(k.ops.segment_prod(d, ids, 4)), atol=1e-6)
    x = rand((2, 6, 4), seed=67)
    assert_close(ops.rearrange(x, "b (h1 h) w -> b h1 (w h)", h1=2).numpy(),
                 k.ops.convert_to_numpy(k.ops.rearrange(x, "b (h1 h) w -> b h1 (w h)", h1=2)),
                 atol=0)
    a = rand((4, 4), seed=68)
    lu, piv = ops.lu_factor(a)
    klu, kpiv = k.ops.lu_factor(k.ops.convert_to_tensor(a))
    assert_close(lu.numpy(), k.ops.convert_to_numpy(klu), atol=1e-5)
    assert piv.numpy().tolist() == k.ops.convert_to_numpy(kpiv).tolist()
    s = rand((2, 40), seed=69)
    z = ops.stft(s, 8, 4, 16)
    zk = tuple(k.ops.convert_to_tensor(v.numpy()) for v in z)
    assert_close(ops.istft(z, 8, 4, 16).numpy(),
                 k.ops.convert_to_numpy(k.ops.istft(zk, 8, 4, 16)), atol=1e-5)


def test_take_along_axis_gradient_with_broadcast_indices():
    # numpy broadcasts the non-axis dims of the indices; the gradient must too
    x = rand((3, 4), seed=70).astype(np.float64)
    idx = np.array([[2], [0], [3]])
    check_grad(lambda t: ops.take_along_axis(t, idx, axis=1) * ops.ones((3, 4)),
               lambda a: np.take_along_axis(a, idx, axis=1) * np.ones((3, 4)), [x])
    row = np.array([[1, 0, 1, 2]])  # (1, 4) against (3, 4) along axis 0
    check_grad(lambda t: ops.take_along_axis(t, row, axis=0),
               lambda a: np.take_along_axis(a, row, axis=0), [x])


def _bilinear_1d_ref(x, n_out, scale, shift):
    """Linear (triangle-kernel) resampling of the rows of x, half-pixel centres, no
    antialias: output j reads input position (j + 0.5 - shift) / scale - 0.5."""
    n = x.shape[0]
    out = np.zeros((n_out,) + x.shape[1:])
    for j in range(n_out):
        pos = (j + 0.5 - shift) / scale - 0.5
        if not -0.5 <= pos <= n - 0.5:
            continue
        w = np.maximum(0, 1 - np.abs(pos - np.arange(n)))
        out[j] = np.tensordot(w / w.sum(), x, axes=(0, 0))
    return out


def test_scale_and_translate():
    x = rand((2, 9, 7, 3), seed=71).astype(np.float64)
    same = ops.image.scale_and_translate(x, x.shape, [1.0, 1.0], [0.0, 0.0], (1, 2), "cubic")
    assert_close(same.numpy(), x, atol=1e-6)
    got = ops.image.scale_and_translate(x, (2, 13, 7, 3), [13 / 9], [0.7], (1,), "linear",
                                        antialias=False).numpy()
    want = np.stack([_bilinear_1d_ref(x[b], 13, 13 / 9, 0.7) for b in range(2)])
    assert_close(got, want, atol=1e-6)
    # Keras's resize is scale_and_translate with scale = out / in: fastnet's (C++) resize agrees
    up = ops.image.scale_and_translate(x, (2, 18, 14, 3), [2.0, 2.0], [0.0, 0.0], (1, 2),
                                       "bilinear", antialias=False).numpy()
    assert_close(up, ops.image.resize(x, (18, 14), data_format="channels_last").numpy(),
                 atol=1e-5)
    for method in ("linear", "cubic", "lanczos3", "lanczos5"):
        check_grad(lambda t, m=method: ops.image.scale_and_translate(
            t, (1, 3, 5, 1), [0.6, 1.4], [0.2, -0.3], (1, 2), m),
            lambda a, m=method: ops.image.scale_and_translate(
                ops.convert_to_tensor(a, "float64"), (1, 3, 5, 1), [0.6, 1.4], [0.2, -0.3],
                (1, 2), m).numpy(), [x[:1, :5, :4, :1]], atol=1e-4, rtol=1e-3)
    ints = ops.image.scale_and_translate(np.arange(12, dtype=np.int32).reshape(1, 12, 1),
                                         (1, 6, 1), [0.5], [0.0], (1,), "linear")
    assert ints.dtype == "int32"
    assert ops.image.scale_and_translate(fastnet.Input((9, 7, 3), batch_size=2),
                                         (2, 5, 4, 3), [0.5, 0.5], [0, 0], (1, 2),
                                         "linear").shape == (2, 5, 4, 3)
    with pytest.raises(ValueError, match="method"):
        ops.image.scale_and_translate(x, x.shape, [1, 1], [0, 0], (1, 2), "area")


def test_elastic_transform():
    x = rand((2, 12, 10, 3), seed=72, low=0, high=1)
    a = ops.image.elastic_transform(x, seed=3, data_format="channels_last").numpy()
    assert_close(a, ops.image.elastic_transform(x, seed=3, data_format="channels_last").numpy(),
                 atol=0)
    assert np.abs(a - x).mean() > 1e-2
    assert np.abs(a - ops.image.elastic_transform(x, seed=4,
                                                   data_format="channels_last").numpy()).max() > 0
    assert_close(ops.image.elastic_transform(x, alpha=0.0, seed=1,
                                             data_format="channels_last").numpy(), x, atol=1e-6)
    flat = np.full((1, 8, 8, 2), 0.25, np.float32)  # reflect fill: a constant stays constant
    assert_close(ops.image.elastic_transform(flat, seed=5, data_format="channels_last").numpy(),
                 flat, atol=1e-6)
    # a resampling: linear in the images for a fixed field
    y = rand(x.shape, seed=73)
    lhs = ops.image.elastic_transform(2 * x - y, seed=6, data_format="channels_last").numpy()
    rhs = 2 * ops.image.elastic_transform(x, seed=6,
                                                       data_format="channels_last").numpy() \
        - ops.image.elastic_transform(y, seed=6, data_format="channels_last").numpy()
    assert_close(lhs, rhs, atol=1e-5)
    v = fastnet.Variable(x)
    with fastnet.GradientTape() as t:
        s = ops.sum(ops.image.elastic_transform(v, seed=6, data_format="channels_last"))
    g = t.gradient(s, v).numpy()
    assert g.shape == x.shape and abs(g.sum() - x.size) < 1e-2 * x.size  # weights sum to ~1
    assert ops.image.elastic_transform(fastnet.Input((12, 10, 3))).shape == (None, 12, 10, 3)


def test_scale_and_translate_against_keras():
    k = _keras()
    x = rand((2, 9, 7, 3), seed=74)
    for method in ("linear", "cubic", "lanczos3", "lanczos5"):
        for aa in (True, False):
            ours = ops.image.scale_and_translate(x, (2, 5, 11, 3), [5 / 9, 11 / 7], [0.3, -1.0],
                                                 (1, 2), method, antialias=aa).numpy()
            theirs = k.ops.image.scale_and_translate(
                x, (2, 5, 11, 3), np.array([5 / 9, 11 / 7], np.float32),
                np.array([0.3, -1.0], np.float32), (1, 2), method, antialias=aa)
            assert_close(ours, k.ops.convert_to_numpy(theirs), atol=1e-5, what=method)
