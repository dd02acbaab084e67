"""Fuzz of every fused optimizer update kernel (fastnet.kernels.optim): SGD (plain,
momentum, Nesterov), RMSprop (plain, centered, momentum, both), Adam (plain, AMSGrad),
Adagrad, Adadelta, Nadam, and AdamW through the optimizer class. Each call either matches
a float64 numpy restatement of the Keras 3 formula, or raises TypeError/ValueError and
leaves every buffer untouched (wrong dtypes, shapes, layouts, read-only or aliased
buffers)."""

import math

import numpy as np
from _refs import variant
from hypothesis import given
from hypothesis import strategies as st

import fastnet
from fastnet import optimizers as O
from fastnet.kernels import optim as K

HW = fastnet.config.cpu_features()["hardware_isa"]
ISAS = ["generic", "avx2", "avx512"][:["generic", "avx2", "avx512"].index(HW) + 1]

# name -> (slot names, optional slots, kernel call, numpy reference)
#   call(var, grad, slots, hp) ; ref(var, grad, slots, hp) -> new (var, slots), float64


def _sgd_call(v, g, s, hp):
    K.sgd_update(v, g, s[0] if s else None, hp["lr"], hp["momentum"], hp["nesterov"])


def _sgd_ref(v, g, s, hp):
    if not s:
        return v - hp["lr"] * g, []
    m = hp["momentum"] * s[0] - hp["lr"] * g
    step = hp["momentum"] * m - hp["lr"] * g if hp["nesterov"] else m
    return v + step, [m]


def _rms_call(v, g, s, hp):
    K.rmsprop_update(v, g, s[0], s[1] if hp["mom_slot"] else None,
                     s[-1] if hp["centered"] else None, hp["lr"], hp["rho"], hp["momentum"],
                     hp["eps"])


def _rms_ref(v, g, s, hp):
    rho = hp["rho"]
    vel = rho * s[0] + (1 - rho) * g * g
    out, denom = [vel], vel
    mom = s[1] if hp["mom_slot"] else None
    if hp["centered"]:
        avg = rho * s[-1] + (1 - rho) * g
        denom = vel - avg * avg
    inc = hp["lr"] * g / np.sqrt(denom + hp["eps"])
    if mom is not None:
        mom = hp["momentum"] * mom + inc
        out.append(mom)
        v = v - mom
    else:
        v = v - inc
    if hp["centered"]:
        out.append(avg)
    return v, out


def _adam_call(v, g, s, hp):
    K.adam_update(v, g, s[0], s[1], s[2] if len(s) > 2 else None, hp["lr"], hp["b1"], hp["b2"],
                  hp["eps"])


def _adam_ref(v, g, s, hp):
    m = s[0] + (g - s[0]) * (1 - hp["b1"])
    vel = s[1] + (g * g - s[1]) * (1 - hp["b2"])
    out, denom = [m, vel], vel
    if len(s) > 2:
        denom = np.maximum(s[2], vel)
        out.append(denom)
    return v - hp["lr"] * m / (np.sqrt(denom) + hp["eps"]), out


def _adagrad_call(v, g, s, hp):
    K.adagrad_update(v, g, s[0], hp["lr"], hp["eps"])


def _adagrad_ref(v, g, s, hp):
    a = s[0] + g * g
    return v - hp["lr"] * g / np.sqrt(a + hp["eps"]), [a]


def _adadelta_call(v, g, s, hp):
    K.adadelta_update(v, g, s[0], s[1], hp["lr"], hp["rho"], hp["eps"])


def _adadelta_ref(v, g, s, hp):
    rho, eps = hp["rho"], hp["eps"]
    ag = rho * s[0] + (1 - rho) * g * g
    d = -np.sqrt(s[1] + eps) / np.sqrt(ag + eps) * g
    ad = rho * s[1] + (1 - rho) * d * d
    return v + hp["lr"] * d, [ag, ad]


def _nadam_call(v, g, s, hp):
    K.nadam_update(v, g, s[0], s[1], hp["lr"], hp["b1"], hp["b2"], hp["eps"], *hp["nadam"])


def _nadam_ref(v, g, s, hp):
    # The bias corrections from float32 powers, as Keras 3 computes them (its beta powers
    # are float32 variables) and the kernel receives them: 1 - 0.999f is 1.3e-5 away from
    # 1e-3, which a float64 restatement would count as the kernel's error.
    one = np.float32(1)
    u_t, u_t1, up_t, up_t1, b2p = (np.float32(p) for p in hp["nadam"])
    c1, c2, c3 = u_t1 / (one - up_t1), (one - u_t) / (one - up_t), one / (one - b2p)
    m = s[0] + (g - s[0]) * (1 - hp["b1"])
    vel = s[1] + (g * g - s[1]) * (1 - hp["b2"])
    mh = float(c1) * m + float(c2) * g
    vh = vel * float(c3)
    return v - hp["lr"] * mh / (np.sqrt(vh) + hp["eps"]), [m, vel]


CASES = {
    "sgd": (0, _sgd_call, _sgd_ref, {}),
    "sgd_momentum": (1, _sgd_call, _sgd_ref, {}),
    "sgd_nesterov": (1, _sgd_call, _sgd_ref, {"nesterov": True}),
    "rmsprop": (1, _rms_call, _rms_ref, {}),
    "rmsprop_centered": (2, _rms_call, _rms_ref, {"centered": True}),
    "rmsprop_momentum": (2, _rms_call, _rms_ref, {"mom_slot": True}),
    "rmsprop_centered_momentum": (3, _rms_call, _rms_ref, {"mom_slot": True, "centered": True}),
    "adam": (2, _adam_call, _adam_ref, {}),
    "adam_amsgrad": (3, _adam_call, _adam_ref, {}),
    "adagrad": (1, _adagrad_call, _adagrad_ref, {}),
    "adadelta": (2, _adadelta_call, _adadelta_ref, {}),
    "nadam": (2, _nadam_call, _nadam_ref, {}),
}

BAD = ["grad_f64", "slot_f64", "var_f64", "slot_shape", "grad_shape", "var_readonly",
       "slot_readonly", "var_strided", "grad_strided", "slot_negative", "alias_var_grad",
       "alias_slot_var", "alias_slot_grad", "alias_slot_slot", "overlap_slot_slot", "slot_list"]


@given(name=st.sampled_from(sorted(CASES)),
       shape=st.one_of(st.lists(st.integers(0, 7), min_size=0, max_size=3).map(tuple),
                       st.sampled_from([(1,), (33,), (40001,)])),
       lr=st.sampled_from([0.0, 0.01, 0.5]), momentum=st.sampled_from([0.0, 0.9]),
       eps=st.sampled_from([1e-7, 1.0]), bad=st.sampled_from(["none"] * 6 + BAD),
       isa=st.sampled_from(ISAS))
def test_optimizer_update_matches_formula_or_raises(name, shape, lr, momentum, eps, bad, isa):
    nslots, call, ref, extra = CASES[name]
    rng = np.random.default_rng(21)
    size = int(np.prod(shape))
    hp = {"lr": lr, "momentum": momentum, "eps": eps, "rho": 0.9, "b1": 0.9, "b2": 0.999,
          "nesterov": False, "centered": False, "mom_slot": False, **extra,
          "nadam": (0.9 * 0.98, 0.9 * 0.97, 0.9 * 0.98, 0.9 * 0.98 * 0.9 * 0.97, 0.999)}
    # One backing buffer for everything, so the aliasing cases can take views of it.
    n_arrays = 2 + nslots
    buf = np.abs(rng.standard_normal(n_arrays * size + 1)).astype(np.float32) + 0.1
    arrs = [buf[j * size:(j + 1) * size].reshape(shape) for j in range(n_arrays)]
    var, grad, slots = arrs[0], arrs[1], arrs[2:]
    grad -= 0.5
    if name.startswith("rmsprop_centered"):
        slots[-1] *= 0.01  # keep vel - avg^2 positive
    var0, grad0, slots0 = var.copy(), grad.copy(), [s.copy() for s in slots]

    expect = None  # the exception type this bad argument must raise, if any
    if bad == "grad_f64":
        grad, expect = grad.astype(np.float64), TypeError
    elif bad == "var_f64":
        var, expect = var.astype(np.float64), TypeError
    elif bad == "slot_f64" and slots:
        slots[0], expect = slots[0].astype(np.float64), TypeError
    elif bad == "slot_list" and slots:
        slots[0], expect = slots[0].tolist(), TypeError
    elif bad == "slot_shape" and slots:
        slots[0], expect = np.zeros(size + 1, np.float32), ValueError
    elif bad == "grad_shape":
        grad, expect = np.zeros(size + 1, np.float32), ValueError
    elif bad == "var_readonly":
        var = variant(var, "readonly")
        expect = ValueError
    elif bad == "slot_readonly" and slots:
        slots[0], expect = variant(slots[0], "readonly"), ValueError
    elif bad == "var_strided" and var.ndim:
        var = variant(var, "strided")
        expect = None if var.flags.c_contiguous else ValueError
    elif bad == "grad_strided" and grad.ndim:
        grad = variant(grad, "strided")
        expect = None if grad.flags.c_contiguous else ValueError
    elif bad == "slot_negative" and slots and slots[0].ndim:
        slots[0] = variant(slots[0], "negative")
        expect = None if slots[0].flags.c_contiguous else ValueError
    elif bad == "alias_var_grad":
        grad, expect = var, ValueError
    elif bad == "alias_slot_var" and slots:
        slots[0], expect = var, ValueError
    elif bad == "alias_slot_grad" and slots:
        slots[0], expect = grad, ValueError
    elif bad == "alias_slot_slot" and len(slots) > 1:
        slots[1], expect = slots[0], ValueError
    elif bad == "overlap_slot_slot" and len(slots) > 1 and size > 1:
        # slots[1] shifted by one element onto slots[0]'s buffer
        slots[1] = buf[size * 2 + 1:size * 3 + 1].reshape(shape)
        expect = ValueError
    if size == 0 and expect is ValueError and bad.startswith(("alias", "overlap")):
        expect = None  # empty arrays overlap nothing
    before = [np.array(a, copy=True) for a in (var, grad, *slots) if isinstance(a, np.ndarray)]

    with _isa(isa):
        try:
            call(var, grad, slots, hp)
        except (TypeError, ValueError) as e:
            assert expect is not None and isinstance(e, expect), (bad, e)
            after = [a for a in (var, grad, *slots) if isinstance(a, np.ndarray)]
            for a, b in zip(after, before):
                np.testing.assert_array_equal(a, b)  # nothing written before the check
            return
    assert expect is None, (bad, "accepted")
    want_var, want_slots = ref(var0.astype(np.float64), grad0.astype(np.float64),
                               [s.astype(np.float64) for s in slots0], hp)
    np.testing.assert_allclose(var, want_var, rtol=2e-5, atol=2e-6)
    for got, want in zip(slots, want_slots):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


class _isa:
    def __init__(self, level):
        self.level = level

    def __enter__(self):
        self.before = fastnet.config.get_isa()
        fastnet.config.set_isa(self.level)

    def __exit__(self, *exc):
        fastnet.config.set_isa(self.before)


@given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=2).map(tuple),
       steps=st.integers(1, 3), wd=st.sampled_from([0.0, 0.004, 0.5]),
       amsgrad=st.booleans(), lr=st.sampled_from([0.001, 0.3]))
def test_adamw_steps_match_formula(shape, steps, wd, amsgrad, lr):
    """AdamW (decoupled weight decay, then the Adam kernel) over a few steps."""
    rng = np.random.default_rng(22)
    v0 = rng.standard_normal(shape).astype(np.float32)
    var = fastnet.Variable(v0.copy())
    opt = O.AdamW(learning_rate=lr, weight_decay=wd, amsgrad=amsgrad)
    w, m, vel, vhat = v0.astype(np.float64), 0.0, 0.0, 0.0
    for t in range(1, steps + 1):
        g = rng.standard_normal(shape).astype(np.float32)
        opt.apply_gradients([(g, var)])
        w = w - w * wd * lr
        m = m + (g - m) * 0.1
        vel = vel + (g.astype(np.float64) ** 2 - vel) * 0.001
        vhat = np.maximum(vhat, vel)
        alpha = lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        w = w - alpha * m / (np.sqrt(vhat if amsgrad else vel) + 1e-7)
    np.testing.assert_allclose(var.numpy(), w, rtol=1e-4, atol=1e-5)


def test_scalar_variable_update():
    var = fastnet.Variable(np.float32(1.0))
    O.AdamW(learning_rate=0.1).apply_gradients([(np.float32(0.5), var)])
    assert var.numpy() < 1
