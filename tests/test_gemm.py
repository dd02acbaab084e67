"""GEMM (csrc/gemm) against a float64 numpy reference, every ISA level."""

import numpy as np
import pytest
from oracle import assert_close, k_tolerance, rand

import fastnet
from fastnet.kernels import gemm as G

SHAPES = [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (1, 7, 1), (7, 1, 5), (13, 17, 19),
          (31, 64, 3), (2, 5, 300), (300, 5, 2), (97, 101, 103), (64, 784, 64), (129, 450, 67)]


def ref(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    out = alpha * ((a.T if ta else a) @ (b.T if tb else b))
    if c is not None and beta != 0.0:
        out = out + beta * c.astype(np.float64)
    return out


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_gemm_shapes_and_transposes(isa, m, k, n, ta, tb):
    a = rand((k, m) if ta else (m, k), seed=1)
    b = rand((n, k) if tb else (k, n), seed=2)
    c = G.gemm(a, b, trans_a=ta, trans_b=tb)
    assert c.shape == (m, n) and c.dtype == np.float32
    assert_close(c, ref(a, b, ta, tb), atol=k_tolerance(k))


def test_gemm_alpha_beta_and_nan_in_c_with_beta_zero(isa):
    a, b = rand((20, 30), seed=3), rand((30, 40), seed=4)
    c0 = rand((20, 40), seed=5)
    c = c0.copy()
    G.gemm(a, b, c, alpha=0.5, beta=2.0)
    assert_close(c, ref(a, b, False, False, 0.5, 2.0, c0), atol=k_tolerance(30))
    c = np.full((20, 40), np.nan, np.float32)
    G.gemm(a, b, c, beta=0.0)
    assert np.isfinite(c).all()
    c = c0.copy()
    G.gemm(a, b, c, alpha=0.0, beta=1.0)
    np.testing.assert_array_equal(c, c0)


def test_large_shapes_cross_every_block_edge(isa):
    # Larger than KC and MC in one dimension each, with odd remainders.
    a, b = rand((1031, 419), seed=6), rand((419, 517), seed=7)
    assert_close(G.matmul(a, b), ref(a, b, False, False), atol=k_tolerance(419))
    a2 = rand((40, 1100), seed=8)
    b2 = rand((1100, 33), seed=9)
    assert_close(G.matmul(a2, b2), ref(a2, b2, False, False), atol=k_tolerance(1100))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_give_the_same_answer(threads):
    a, b = rand((300, 200), seed=10), rand((200, 500), seed=11)
    want = ref(a, b, False, False)
    try:
        fastnet.config.set_num_threads(threads)
        assert_close(G.matmul(a, b), want, atol=k_tolerance(200))
        assert_close(G.matmul(b.T.copy(), a.T.copy()), want.T, atol=k_tolerance(200))
    finally:
        fastnet.config.set_num_threads(0)


@pytest.mark.parametrize("m,k,n", [(203, 800, 301), (150, 40, 4133)])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False)])
def test_threaded_products_with_alpha_beta_on_1_2_3_threads(isa, m, k, n, ta, tb):
    # K over several KC blocks (cut into equal blocks), then N over more than one NC
    # block; M not a multiple of the register tile; alpha and beta != 0.
    a = rand((k, m) if ta else (m, k), seed=20)
    b = rand((n, k) if tb else (k, n), seed=21)
    c0 = rand((m, n), seed=22)
    want = ref(a, b, ta, tb, 0.5, -1.5, c0)
    try:
        for threads in (1, 2, 3):
            fastnet.config.set_num_threads(threads)
            c = c0.copy()
            G.gemm(a, b, c, alpha=0.5, beta=-1.5, trans_a=ta, trans_b=tb)
            assert_close(c, want, atol=k_tolerance(k))
    finally:
        fastnet.config.set_num_threads(0)


def test_strided_and_offset_views_without_copies():
    big = rand((50, 60), seed=12)
    a = big[3:23, 5:45]          # offset view, row stride 60
    b = big[10:50, 1:30:1]       # another offset view
    assert_close(G.gemm(a, b), ref(a, b, False, False), atol=k_tolerance(40))
    at = big[5:45, 3:23].T       # a transposed view: handled by the trans flag
    assert_close(G.gemm(at, b), ref(at, b, False, False), atol=k_tolerance(40))
    neg = big[::-1, ::2][:20, :30]  # negative / non-unit strides: copied
    b2 = rand((30, 7), seed=13)
    assert_close(G.gemm(neg, b2), ref(neg, b2, False, False), atol=k_tolerance(30))


def test_batched_matmul_and_broadcast(isa):
    a = rand((4, 5, 6), seed=14)
    b = rand((4, 6, 3), seed=15)
    assert_close(G.matmul(a, b), np.matmul(a.astype(np.float64), b), atol=1e-5)
    b1 = rand((1, 6, 3), seed=16)
    assert_close(G.matmul(a, b1), np.matmul(a.astype(np.float64), b1), atol=1e-5)
    b2 = rand((6, 3), seed=17)
    assert_close(G.matmul(a, b2), np.matmul(a.astype(np.float64), b2), atol=1e-5)
    many = rand((64, 8, 8), seed=18)
    assert_close(G.matmul(many, many), np.matmul(many.astype(np.float64), many), atol=1e-5)


def test_bad_input_raises_clear_errors():
    a = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match="float32"):
        G.gemm(a.astype(np.float64), a.T.copy())
    with pytest.raises(TypeError, match="numpy array"):
        G.gemm([[1.0]], a)
    with pytest.raises(ValueError, match=r"inner dimensions differ.*\(3, 4\)"):
        G.gemm(a, a)
    with pytest.raises(ValueError, match="2-D"):
        G.gemm(np.zeros(3, np.float32), a)
    c = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match=r"must have shape \(3, 3\)"):
        G.gemm(a, a.T.copy(), np.zeros((2, 3), np.float32))
    ro = c.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="not writable"):
        G.gemm(a, a.T.copy(), ro)
    sq = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        G.gemm(sq, sq, sq)
    with pytest.raises(ValueError, match="batch sizes"):
        G.matmul(np.zeros((2, 3, 4), np.float32), np.zeros((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="inner dimensions"):
        G.matmul(np.zeros((2, 3, 4), np.float32), np.zeros((2, 5, 5), np.float32))


def test_batched_matmul_broadcast_batch_against_empty_batch():
    # Regression (fuzz, issue 6): a batch of 1 against a batch of 0 made the output batch 1
    # and the kernel read the empty operand's nonexistent matrix (out of bounds, garbage
    # values). numpy broadcasting gives an empty batch.
    from fastnet import _C, ops

    a = np.ones((1, 3, 4), np.float32)
    b = np.ones((0, 4, 5), np.float32)
    with pytest.raises(ValueError, match="must have shape"):
        _C.batched_matmul(a, b, np.zeros((1, 3, 5), np.float32))
    assert G.matmul(a, b).shape == (0, 3, 5)
    assert G.matmul(b.reshape(0, 5, 4), a.reshape(1, 4, 3)).shape == (0, 5, 3)
    assert ops.matmul(a, b).shape == (0, 3, 5)
