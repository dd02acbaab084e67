"""keras.initializers / regularizers / constraints names added for Keras 3 parity: the
lowercase class aliases, STFT, OrthogonalRegularizer, deserialize — each against a numpy
formula and, when installed, Keras 3 itself."""

import os

import numpy as np
import pytest
from oracle import check_gradients, rand

import fastnet
from fastnet import constraints, initializers, layers, regularizers


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pytest.importorskip("torch")
    return keras


ALIASES = {"zeros": "Zeros", "ones": "Ones", "constant": "Constant", "identity": "Identity",
           "IdentityInitializer": "Identity", "random_normal": "RandomNormal",
           "random_uniform": "RandomUniform", "truncated_normal": "TruncatedNormal",
           "variance_scaling": "VarianceScaling", "glorot_uniform": "GlorotUniform",
           "glorot_normal": "GlorotNormal", "he_uniform": "HeUniform", "he_normal": "HeNormal",
           "lecun_uniform": "LecunUniform", "lecun_normal": "LecunNormal",
           "orthogonal": "Orthogonal", "OrthogonalInitializer": "Orthogonal", "stft": "STFT",
           "STFTInitializer": "STFT"}


def test_initializer_aliases_are_the_classes():
    for alias, cls in ALIASES.items():
        assert getattr(initializers, alias) is getattr(initializers, cls), alias
        assert type(initializers.get(alias)) is getattr(initializers, cls)
    init = initializers.glorot_uniform(seed=3)
    np.testing.assert_array_equal(init((4, 5)), initializers.GlorotUniform(seed=3)((4, 5)))
    assert initializers.serialize(initializers.he_normal())["class_name"] == "HeNormal"
    for alias, cls in {"non_neg": "NonNeg", "max_norm": "MaxNorm", "unit_norm": "UnitNorm",
                       "min_max_norm": "MinMaxNorm"}.items():
        assert getattr(constraints, alias) is getattr(constraints, cls)
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer


def test_aliases_match_keras():
    keras = _keras()
    for module in ("initializers", "constraints", "regularizers"):
        k, f = getattr(keras, module), getattr(fastnet, module)
        for name in dir(k):
            obj = getattr(k, name)
            if name.startswith("_") or not isinstance(obj, type):
                continue
            assert getattr(f, name).__name__ == obj.__name__, (module, name)


def _window_ref(name, n, periodic):
    signal = pytest.importorskip("scipy.signal")
    return signal.get_window(name, n, fftbins=periodic)


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "bartlett", "triang",
                                    "boxcar"])
@pytest.mark.parametrize("periodic", [False, True])
def test_stft_windows_match_scipy(window, periodic):
    from fastnet.initializers import _window

    for n in (1, 2, 7, 16):
        np.testing.assert_allclose(_window(window, n, periodic), _window_ref(window, n, periodic),
                                   atol=1e-12)


@pytest.mark.parametrize("side", ["real", "imag"])
@pytest.mark.parametrize("scaling", ["density", "spectrum", None])
def test_stft_kernel_is_the_dft_basis(side, scaling):
    frame, bins = 16, 9  # fft_length 16
    kernel = initializers.STFT(side, "hann", scaling)((frame, 1, bins))
    assert kernel.shape == (frame, 1, bins) and kernel.dtype == np.float32
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / (frame - 1))
    scale = {"density": np.sqrt(np.sum(win ** 2)), "spectrum": np.sum(win), None: 1.0}[scaling]
    # applying the kernel to a frame is the real/imaginary part of the windowed rfft
    x = rand((frame,), seed=2).astype(np.float64)
    spectrum = np.fft.rfft(x * win) / scale
    want = spectrum.real if side == "real" else spectrum.imag
    np.testing.assert_allclose(x @ kernel[:, 0, :], want, atol=1e-5)
    cfg = initializers.serialize(initializers.STFT(side, "hann", scaling, periodic=True))
    again = initializers.deserialize(cfg)
    assert type(again) is initializers.STFT and again.get_config() == cfg["config"]
    with pytest.raises(ValueError, match="side"):
        initializers.STFT("both")
    with pytest.raises(ValueError, match="window"):
        initializers.STFT("real", "kaiser_bessel_derived")
    with pytest.raises(ValueError, match="window"):
        initializers.STFT("real", np.ones(3))((4, 1, 3))


def test_stft_matches_keras():
    pytest.importorskip("scipy")  # Keras's STFT windows come from scipy
    keras = _keras()
    for args in [("real", "hann", "density", False), ("imag", "hamming", "spectrum", True),
                 ("real", None, None, False)]:
        want = keras.ops.convert_to_numpy(keras.initializers.STFT(*args)((32, 1, 17)))
        np.testing.assert_allclose(initializers.STFT(*args)((32, 1, 17)), want, atol=2e-5)
        assert keras.initializers.STFT(*args).get_config() == initializers.STFT(*args).get_config()


def _orth_ref(w, factor, mode):
    w = np.asarray(w, np.float64)
    if mode == "columns":
        w = w.T
    n = w / np.linalg.norm(w, axis=1, keepdims=True)
    p = n @ n.T
    size = p.shape[0]
    off = np.abs(p - np.diag(np.diag(p))).sum()
    return factor * 0.5 * off / (size * (size - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_value_and_gradient(mode):
    w = rand((4, 6), seed=1)
    reg = regularizers.OrthogonalRegularizer(factor=0.3, mode=mode)
    np.testing.assert_allclose(float(reg(w)), _orth_ref(w, 0.3, mode), rtol=1e-5)

    def grads(w, dout):
        v = fastnet.Variable(w)
        with fastnet.GradientTape() as tape:
            loss = reg(v) * float(dout)
        return [tape.gradient(loss, v).numpy()]

    check_gradients(grads, lambda w: _orth_ref(w, 0.3, mode), [w], np.float64(1.0),
                    atol=1e-4, rtol=1e-3)
    # on an orthogonal matrix the penalty is zero
    q, _ = np.linalg.qr(rand((5, 5), seed=3).astype(np.float64))
    assert abs(float(regularizers.OrthogonalRegularizer(1.0)(q.astype(np.float32)))) < 1e-6


def test_orthogonal_regularizer_in_a_layer_config_and_errors(tmp_path):
    with pytest.raises(ValueError, match="factor"):
        regularizers.OrthogonalRegularizer(factor=-1)
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2), np.float32))
    model = fastnet.Sequential([fastnet.Input((3,)), layers.Dense(
        4, kernel_regularizer=regularizers.orthogonal_regularizer(0.1, mode="columns"))])
    model(np.ones((2, 3), np.float32))
    kernel = model.layers[0].kernel.numpy()
    np.testing.assert_allclose(float(model.losses[0]), _orth_ref(kernel, 0.1, "columns"),
                               rtol=1e-5)
    path = str(tmp_path / "orth.keras")
    model.save(path)
    back = fastnet.models.load_model(path)
    reg = back.layers[0].kernel_regularizer
    assert isinstance(reg, regularizers.OrthogonalRegularizer)
    assert reg.get_config() == {"factor": 0.1, "mode": "columns"}
    assert type(regularizers.get("orthogonal_regularizer")) is regularizers.OrthogonalRegularizer


def test_orthogonal_regularizer_matches_keras():
    keras = _keras()
    w = rand((5, 3), seed=4)
    for mode in ("rows", "columns"):
        k = keras.regularizers.OrthogonalRegularizer(0.2, mode)
        f = regularizers.OrthogonalRegularizer(0.2, mode)
        kw = keras.ops.convert_to_tensor(w)  # (Keras's numpy branch mis-broadcasts columns)
        np.testing.assert_allclose(float(f(w)), float(keras.ops.convert_to_numpy(k(kw))),
                                   rtol=1e-5)
        assert k.get_config() == pytest.approx(f.get_config())


def test_deserialize_constraints_and_regularizers():
    for c in (constraints.MaxNorm(3, axis=1), constraints.NonNeg(),
              constraints.MinMaxNorm(0.5, 2.0, 0.5, 0), constraints.unit_norm(axis=[0, 1])):
        again = constraints.deserialize(constraints.serialize(c))
        assert type(again) is type(c) and again.get_config() == c.get_config()
        w = rand((3, 4), seed=5)
        np.testing.assert_array_equal(again(w), c(w))
    assert type(constraints.deserialize("NonNeg")) is constraints.NonNeg
    for r in (regularizers.L1(0.2), regularizers.L1L2(0.1, 0.3),
              regularizers.OrthogonalRegularizer(0.5)):
        again = regularizers.deserialize(regularizers.serialize(r))
        assert type(again) is type(r) and again.get_config() == r.get_config()
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.deserialize({"class_name": "Nope", "config": {}})


def test_deserialize_reads_keras_configs():
    keras = _keras()
    for k in (keras.constraints.MaxNorm(2.5, axis=1), keras.constraints.NonNeg()):
        f = constraints.deserialize(keras.constraints.serialize(k))
        assert type(f).__name__ == type(k).__name__ and f.get_config() == k.get_config()
    k = keras.regularizers.OrthogonalRegularizer(0.4, "columns")
    f = regularizers.deserialize(keras.regularizers.serialize(k))
    assert f.get_config() == pytest.approx(k.get_config())


@pytest.mark.parametrize("mod,base,kind", [(constraints, constraints.Constraint, "constraint"),
                                           (regularizers, regularizers.Regularizer,
                                            "regularizer")])
def test_registered_custom_constraint_and_regularizer_round_trip(mod, base, kind):
    """constraints and regularizers write and read a registered class the same way (its
    module and registered name, as Keras), and refuse a dict without a class name."""
    registry = fastnet.saving.object_registration

    @fastnet.saving.register_keras_serializable(package="rt_test")
    class Halve(base):
        def __init__(self, k=0.5):
            self.k = k

        def __call__(self, w):
            return w * self.k

        def get_config(self):
            return {"k": self.k}

    try:
        d = mod.serialize(Halve(0.25))
        assert d["registered_name"] == "rt_test>Halve" and d["config"] == {"k": 0.25}
        for again in (mod.deserialize(d), mod.get(d)):
            assert type(again) is Halve and again.k == 0.25
        with pytest.raises(ValueError, match=f"Could not interpret {kind}"):
            mod.get({"config": {}})
    finally:
        registry.GLOBAL_CUSTOM_OBJECTS.pop("rt_test>Halve", None)
        registry.GLOBAL_CUSTOM_NAMES.pop(Halve, None)
