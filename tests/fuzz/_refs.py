"""Small independent numpy references for the fuzz tests (float64, plain loops/slices).

Nothing here calls fastnet: each function restates the documented math of one kernel.
The RNN, batch-norm and softmax references use only analytic numpy operations, so the
complex-step derivative ``imag(f(x + i*h*v)) / h`` gives their exact directional
derivatives: ``vjp_check`` compares a kernel's gradients with that (the numpy vjp of the
forward reference) without finite-difference noise.
"""

import itertools

import numpy as np

# ---- array variants ------------------------------------------------------------------

VARIANTS = ["contig", "f64", "strided", "negative", "readonly"]


def variant(a, how):
    """`a` as the given kind of array: same values, different dtype/layout/flags."""
    if how == "f64":
        return a.astype(np.float64)
    if how == "strided":  # every other element of a twice-as-wide buffer
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],) if a.ndim else (2,), a.dtype)
        if a.ndim == 0:
            return a
        big[..., ::2] = a
        return big[..., ::2]
    if how == "negative":  # a negative-stride view
        if a.ndim == 0:
            return a
        return np.ascontiguousarray(a[::-1])[::-1]
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    return a


def acceptable(a):
    """Whether the kernels' array contract accepts `a` as a float32 input."""
    return a.dtype == np.float32 and a.flags.c_contiguous


# ---- convolutions ----------------------------------------------------------------------

def conv_out(size, k, s, d, same):
    eff = (k - 1) * d + 1
    return -(-size // s) if same else (size - eff) // s + 1


def pad_before(cin, cout, k, s, d, same):
    if not same:
        return 0
    return max((cout - 1) * s + (k - 1) * d + 1 - cin, 0) // 2


def transpose_out(size, k, s, d, same, opad):
    eff = (k - 1) * d + 1
    if opad is None:
        return size * s if same else size * s + max(eff - s, 0)
    pad = eff // 2 if same else 0
    return (size - 1) * s + eff - 2 * pad + opad


def _taps(ks):
    return itertools.product(*[range(k) for k in ks])


def _window(offs, strides, dil, outs):
    return tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, s, n in zip(offs, dil, strides, outs))


def _padded(spatial, outs, ks, strides, dil, pads):
    """Size per axis of a zero-padded buffer holding the input and every window."""
    return [max(pads[i] + spatial[i], (outs[i] - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1)
            for i in range(len(ks))]


def conv_geometry(in_spatial, ks, strides, dil, same):
    outs = [conv_out(n, k, s, d, same) for n, k, s, d in zip(in_spatial, ks, strides, dil)]
    pads = [pad_before(n, o, k, s, d, same)
            for n, o, k, s, d in zip(in_spatial, outs, ks, strides, dil)]
    return outs, pads


def conv_ref(x, w, strides, dil, outs, pads, depthwise=False):
    """y[n, o..., :] = sum over taps of xpad[n, o*s + k*d, :] @ w[k] (depthwise: per channel)."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    r = x.ndim - 2
    ks = w.shape[:r]
    size = _padded(x.shape[1:-1], outs, ks, strides, dil, pads)
    xp = np.zeros((x.shape[0], *size, x.shape[-1]))
    xp[(slice(None),) + tuple(slice(p, p + n) for p, n in zip(pads, x.shape[1:-1]))] = x
    cout = w.shape[-2] * w.shape[-1] if depthwise else w.shape[-1]
    y = np.zeros((x.shape[0], *outs, cout))
    for offs in _taps(ks):
        xs = xp[(slice(None),) + _window(offs, strides, dil, outs)]
        if depthwise:
            y += (xs[..., :, None] * w[offs]).reshape(xs.shape[:-1] + (cout,))
        else:
            y += xs @ w[offs]
    return y


def conv_ref_grads(x, w, dy, strides, dil, outs, pads, depthwise=False):
    """(dx, dw, dbias) of conv_ref, by the adjoint of each tap's slice."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    dy = dy.astype(np.float64)
    r = x.ndim - 2
    ks = w.shape[:r]
    spatial = x.shape[1:-1]
    size = _padded(spatial, outs, ks, strides, dil, pads)
    crop = (slice(None),) + tuple(slice(p, p + n) for p, n in zip(pads, spatial))
    xp = np.zeros((x.shape[0], *size, x.shape[-1]))
    xp[crop] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    c = x.shape[-1]
    for offs in _taps(ks):
        win = (slice(None),) + _window(offs, strides, dil, outs)
        xs = xp[win]
        if depthwise:
            g = dy.reshape(dy.shape[:-1] + (c, w.shape[-1]))
            dxp[win] += (g * w[offs]).sum(-1)
            dw[offs] = (xs.reshape(-1, c)[:, :, None] * g.reshape(-1, c, w.shape[-1])).sum(0)
        else:
            dxp[win] += dy @ w[offs].T
            dw[offs] = np.tensordot(xs, dy, axes=(list(range(r + 1)), list(range(r + 1))))
    return dxp[crop], dw, dy.reshape(-1, dy.shape[-1]).sum(0)


# ---- pooling ---------------------------------------------------------------------------

def pool_ref(x, kind, kh, kw, sh, sw, same, dy):
    """(y, dx) of 2-D pooling: max routes to the first maximum in scan order, padding
    ignored; average divides by the number of real elements."""
    n, h, w, c = x.shape
    oh, pt = conv_out(h, kh, sh, 1, same), 0
    ow, pl = conv_out(w, kw, sw, 1, same), 0
    if same:
        pt = max((oh - 1) * sh + kh - h, 0) // 2
        pl = max((ow - 1) * sw + kw - w, 0) // 2
    y = np.zeros((n, oh, ow, c))
    dx = np.zeros(x.shape)
    for i in range(oh):
        for j in range(ow):
            r0, r1 = max(i * sh - pt, 0), min(i * sh - pt + kh, h)
            c0, c1 = max(j * sw - pl, 0), min(j * sw - pl + kw, w)
            win = x[:, r0:r1, c0:c1].reshape(n, (r1 - r0) * (c1 - c0), c).astype(np.float64)
            if kind == "max":
                a = win.argmax(1)
                y[:, i, j] = win.max(1)
                for b in range(n):
                    for ch in range(c):
                        rr, cc = divmod(a[b, ch], c1 - c0)
                        dx[b, r0 + rr, c0 + cc, ch] += dy[b, i, j, ch]
            else:
                y[:, i, j] = win.mean(1)
                dx[:, r0:r1, c0:c1] += dy[:, i, j][:, None, None] / win.shape[1]
    return y, dx


# ---- recurrent cells (analytic: complex-step friendly) ---------------------------------

def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def lstm_ref(x, k, rk, b, h0, c0, go_backwards):
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    c = np.zeros((n, u)) if c0 is None else c0
    outs = []
    for s in range(t):
        z = x[:, t - 1 - s if go_backwards else s] @ k + h @ rk + (0 if b is None else b)
        c = sigmoid(z[:, u:2 * u]) * c + sigmoid(z[:, :u]) * np.tanh(z[:, 2 * u:3 * u])
        h = sigmoid(z[:, 3 * u:]) * np.tanh(c)
        outs.append(h)
    return np.concatenate([np.stack(outs, 1), h[:, None], c[:, None]], axis=1)


def gru_ref(x, k, rk, b, h0, go_backwards):
    n, t, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u)) if h0 is None else h0
    bi, br = (0, 0) if b is None else (b[0], b[1])
    outs = []
    for s in range(t):
        xp = x[:, t - 1 - s if go_backwards else s] @ k + bi
        rec = h @ rk + br
        z = sigmoid(xp[:, :u] + rec[:, :u])
        r = sigmoid(xp[:, u:2 * u] + rec[:, u:2 * u])
        hh = np.tanh(xp[:, 2 * u:] + r * rec[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.concatenate([np.stack(outs, 1), h[:, None]], axis=1)


def batch_norm_ref(x, gamma, beta, eps):
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axes)
    var = ((x - mean) ** 2).mean(axes)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def softmax_ref(x):
    e = np.exp(x - x.real.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def vjp_check(f, args, which, dout, grads, rng, rtol=2e-3, atol=2e-4):
    """For each index in `which`: <dout, J_i v> (complex step on the float64 reference f)
    equals <grads[i], v> for a random direction v, within tolerance."""
    base = [None if a is None else np.asarray(a, np.float64) for a in args]
    h = 1e-30
    for i, g in zip(which, grads):
        v = rng.standard_normal(base[i].shape)
        pert = [None if a is None else a.astype(np.complex128) for a in base]
        pert[i] = pert[i] + 1j * h * v
        jv = f(*pert).imag / h
        want = float(np.sum(np.asarray(dout, np.float64) * jv))
        got = float(np.sum(np.asarray(g, np.float64) * v))
        scale = float(np.sum(np.abs(np.asarray(dout, np.float64) * jv))) + 1.0
        assert abs(got - want) <= atol * scale + rtol * abs(want), (i, got, want)
