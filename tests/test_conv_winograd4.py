"""Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions (forward, fused bias + ReLU, input
and kernel gradients) on every ISA level, against a float64 numpy reference.

Tolerance: F(4,3) sums products that its transforms scale by up to 8 (A^T), 5 (B^T) and
1/24..1 (G), so its rounding is not bounded by the plain convolution's magnitudes. The
bound used is the classic one for any sum of products evaluated in floating point:
|error| <= gamma * E, with E the same computation done on absolute values (|A^T| (sum_c
(|G| |g| |G^T|) * (|B^T| |d| |B|)) |A| per tile, computed below in float64) and gamma =
n * eps32 for n the roundings along one path (the input transform 4, the channel sum
cin, the output transform 4). That bound is rigorous and far from tight; the test also
checks the error against the plain sum's own scale: F(4,3) may be at most 64x worse than
F(2,3) (measured: 10-20x), so a transform that loses precision by mistake still fails."""

import numpy as np
import pytest
from oracle import assert_close
from test_conv import _ref_input_grad_3x3_s1, ref_conv

import fastnet
from fastnet import _C
from fastnet.kernels import conv as K

BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
              np.float64)
EPS32 = np.finfo(np.float32).eps


def _abs_bound(x, w, padding):
    """E: F(4x4, 3x3) of |x| and |w| with |B^T|, |G|, |A^T| (float64), cut to the output."""
    n, h, wd, cin = x.shape
    pad = 1 if padding == "same" else 0
    oh, ow = h + 2 * pad - 2, wd + 2 * pad - 2
    th, tw = -(-oh // 4), -(-ow // 4)
    xp = np.zeros((n, 4 * th + 2, 4 * tw + 2, cin))
    xp[:, pad:pad + h, pad:pad + wd] = np.abs(x)
    u = np.einsum("ab,bcio,dc->adio", np.abs(G), np.abs(w.astype(np.float64)), np.abs(G))
    out = np.zeros((n, 4 * th, 4 * tw, w.shape[-1]))
    for ty in range(th):
        for tx in range(tw):
            d = xp[:, 4 * ty:4 * ty + 6, 4 * tx:4 * tx + 6]
            v = np.einsum("ab,nbci,dc->nadi", np.abs(BT), d, np.abs(BT))
            m = np.einsum("nabi,abio->nabo", v, u)
            out[:, 4 * ty:4 * ty + 4, 4 * tx:4 * tx + 4] = np.einsum("ab,nbco,dc->nado", np.abs(AT), m,
                                                                      np.abs(AT))
    return out[:, :oh, :ow]


@pytest.fixture
def tile():
    before = _C.conv_get_winograd_tile()
    yield lambda m: _C.conv_set_winograd_tile(m)
    _C.conv_set_winograd_tile(before)


def _data(xs, f, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal((3, 3, xs[-1], f)) * 0.2).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    return x, w, b


CASES = [
    ((2, 12, 12, 32), 32, "same"),   # whole 4x4 tiles
    ((2, 11, 9, 33), 40, "valid"),   # output 9x7: tiles cut at the edges, odd channels
    ((3, 6, 5, 32), 48, "same"),     # one row of tiles, a partial last block
    ((1, 4, 4, 32), 32, "valid"),    # output 2x2 (forced F(4,3) still correct)
]


@pytest.mark.parametrize("xs,f,p", CASES)
def test_f43_forward_and_gradients_match_float64(isa, tile, xs, f, p):
    x, w, b = _data(xs, f)
    ref = ref_conv(x, w, b, 1, p)
    tile(2)
    y2 = K.conv_forward(x, w, b, 1, p)
    tile(4)
    y = K.conv_forward(x, w, b, 1, p)
    gamma = (8 + xs[-1]) * EPS32
    bound = gamma * _abs_bound(x, w, p) + 2 * EPS32 * np.abs(b)
    err = np.abs(y - ref)
    assert (err <= bound).all(), f"max err/bound {(err / bound).max():.3g}"
    err2 = np.abs(y2 - ref).max()
    assert err.max() <= 64 * max(err2, EPS32 * np.abs(ref).max())
    # the fused epilogue: the same bits as ReLU after the plain F(4,3) output
    np.testing.assert_array_equal(K.conv_forward(x, w, b, 1, p, activation="relu"), np.maximum(y, 0))
    np.testing.assert_array_equal(K.conv_forward(x, w, None, 1, p, activation="relu"),
                                  np.maximum(K.conv_forward(x, w, None, 1, p), 0))
    # the input gradient runs the F(4,3) forward on dy with the flipped, transposed kernel
    dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
    dx = K.conv_backward_input(dy, w, x.shape, 1, p)
    ref_dx = _ref_input_grad_3x3_s1(dy, w, x.shape, p)
    scale = np.abs(ref_dx).max()
    assert_close(dx, ref_dx, 64 * (8 + f) * EPS32 * scale)
    tile(2)
    dx2 = K.conv_backward_input(dy, w, x.shape, 1, p)
    assert np.abs(dx - ref_dx).max() <= 64 * max(np.abs(dx2 - ref_dx).max(), EPS32 * scale)
    # the kernel gradient: dU = V^T dM in the 6x6 domain (dM the adjoint output transform),
    # dw = G^T dU G. Its sums run over every tile of the batch; bound as the input gradient's.
    dw2, db2 = K.conv_backward_kernel(x, dy, w.shape, 1, p)
    tile(4)
    dw, db = K.conv_backward_kernel(x, dy, w.shape, 1, p)
    pad = 1 if p == "same" else 0
    xp = np.pad(x.astype(np.float64), [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    oh, ow = y.shape[1:3]
    ref_dw = np.stack([np.stack([np.einsum("nhwi,nhwo->io", xp[:, kh:kh + oh, kw:kw + ow], dy)
                                 for kw in range(3)]) for kh in range(3)])
    scale = np.abs(ref_dw).max()
    assert_close(dw, ref_dw, 64 * (8 + y.size // f) * EPS32 * scale)
    assert np.abs(dw - ref_dw).max() <= 64 * max(np.abs(dw2 - ref_dw).max(), EPS32 * scale)
    np.testing.assert_array_equal(db, db2)


def test_f43_bits_do_not_depend_on_threads(tile):
    x, w, b = _data((4, 16, 16, 32), 32, seed=2)
    tile(4)
    before = fastnet.config.get_num_threads()
    try:
        fastnet.config.set_num_threads(1)
        y = K.conv_forward(x, w, b, 1, "same", activation="relu")
        dx = K.conv_backward_input(y, w, x.shape, 1, "same")
        for t in (2, 3):
            fastnet.config.set_num_threads(t)
            np.testing.assert_array_equal(K.conv_forward(x, w, b, 1, "same", activation="relu"), y)
            np.testing.assert_array_equal(K.conv_backward_input(y, w, x.shape, 1, "same"), dx)
        fastnet.config.enable_determinism()  # the kernel gradient's partials: fixed by the size
        fastnet.config.set_num_threads(1)
        dw = K.conv_backward_kernel(x, y, w.shape, 1, "same")[0]
        for t in (2, 3):
            fastnet.config.set_num_threads(t)
            np.testing.assert_array_equal(K.conv_backward_kernel(x, y, w.shape, 1, "same")[0], dw)
    finally:
        fastnet.config.disable_determinism()
        fastnet.config.set_num_threads(before)


def test_tile_chosen_by_shape(tile):
    # By shape (the default): F(4,3) on a 28x28 image, F(2,3) on a 6x6 output (where
    # 4x4 tiles would do as many multiplies). The choice is visible in the rounding.
    tile(0)
    for xs, p, want in [((2, 28, 28, 32), "same", 4), ((2, 8, 8, 32), "valid", 2)]:
        x, w, b = _data(xs, 32, seed=3)
        auto = K.conv_forward(x, w, b, 1, p)
        tile(want)
        forced = K.conv_forward(x, w, b, 1, p)
        tile(6 - want)
        other = K.conv_forward(x, w, b, 1, p)
        tile(0)
        np.testing.assert_array_equal(auto, forced)
        assert not np.array_equal(auto, other)


def test_tile_setting_accepts_only_2_and_4(tile):
    tile(4)
    assert _C.conv_get_winograd_tile() == 4
    tile(3)
    assert _C.conv_get_winograd_tile() == 0


@pytest.mark.parametrize("m", [2, 4])
def test_small_winograd_call_stays_on_the_caller_and_a_large_one_splits(tile, m):
    # The kernel transforms and the tile blocks are split by work: a 1-image 4x4 call
    # (one block, a 32x32 kernel) must not open a parallel region; a batch of 28x28
    # images must (the same code path, the threads used).
    tile(m)
    small = _data((1, 4, 4, 32), 32, seed=4)
    big = _data((8, 28, 28, 32), 32, seed=5)
    before = fastnet.config.get_num_threads()
    fastnet.config.set_num_threads(2)
    try:
        for (x, w, b), want_parallel in ((small, False), (big, True)):
            y = K.conv_forward(x, w, b, 1, "same", activation="relu")  # warm-up: scratch sized
            fastnet.config.thread_stats(reset=True)
            y = K.conv_forward(x, w, b, 1, "same", activation="relu")
            K.conv_backward_input(y, w, x.shape, 1, "same")
            K.conv_backward_kernel(x, y, w.shape, 1, "same")
            stats = fastnet.config.thread_stats()
            assert (stats["parallel_regions"] > 0) == want_parallel, stats
            if not want_parallel:
                assert stats["wakeups"] == 0, stats
    finally:
        fastnet.config.set_num_threads(before)
