"""ops.dot_product_attention and the attention layers against numpy formulas, finite
differences and (optionally) Keras 3 itself."""

import os

import numpy as np
import pytest
from oracle import assert_close, check_gradients, randn

import fastnet
from fastnet import layers, ops

NEG = -0.7 * 3.38953e38


def ref_sdpa(q, k, v, bias=None, mask=None, scale=None, is_causal=False):
    """Keras's numpy backend formula in float64: (B,T,N,H) x (B,S,N,H) -> (B,T,N,Hv)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + np.asarray(bias, np.float64)
    full = np.ones(logits.shape, bool)
    if mask is not None:
        full &= np.asarray(mask, bool)
    if is_causal:
        full &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(full, logits, NEG)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", p, v), p


def grads_of(fn, inputs, dout):
    vs = [fastnet.Variable(a) for a in inputs]
    with fastnet.GradientTape() as tape:
        loss = ops.sum(ops.multiply(fn(*vs), dout))
    return [g.numpy() for g in tape.gradient(loss, vs)]


QKV = [randn((2, 3, 2, 4), seed=1), randn((2, 5, 2, 4), seed=2), randn((2, 5, 2, 3), seed=3)]


@pytest.mark.parametrize("case", ["plain", "scale", "bias", "mask", "causal", "mask_causal"])
def test_dot_product_attention_forward_and_gradients(case):
    q, k, v = QKV
    kw = {}
    bias = None
    if case == "scale":
        kw["scale"] = 0.3
    if case == "bias":
        bias = randn((1, 2, 3, 5), seed=4)
    if case in ("mask", "mask_causal"):
        mask = np.random.default_rng(5).random((2, 1, 3, 5)) > 0.4
        mask[..., 0] = True
        kw["mask"] = mask
    if case in ("causal", "mask_causal"):
        kw["is_causal"] = True
    want, _ = ref_sdpa(q, k, v, bias=bias, **kw)
    got = ops.dot_product_attention(q, k, v, bias=bias, **kw)
    assert got.shape == (2, 3, 2, 3) and got.dtype == "float32"
    assert_close(got.numpy(), want, atol=2e-6, what="dot_product_attention")
    dout = randn(want.shape, seed=9)
    inputs = [q, k, v] + ([bias] if bias is not None else [])

    def fast(*xs):
        b = xs[3] if len(xs) > 3 else None
        return ops.dot_product_attention(xs[0], xs[1], xs[2], bias=b, **kw)

    check_gradients(lambda *a: grads_of(fast, a[:-1], a[-1]),
                    lambda *a: ref_sdpa(a[0], a[1], a[2], bias=a[3] if len(a) > 3 else None,
                                        **kw)[0],
                    inputs, dout, atol=1e-4, rtol=1e-3)


def test_dot_product_attention_is_stable_for_large_logits():
    q = randn((1, 4, 1, 8), seed=0, scale=300.0)
    k = randn((1, 6, 1, 8), seed=1, scale=300.0)
    v = randn((1, 6, 1, 8), seed=2)
    got = ops.dot_product_attention(q, k, v).numpy()
    assert np.isfinite(got).all()
    assert_close(got, ref_sdpa(q, k, v)[0], atol=1e-5)
    g = grads_of(ops.dot_product_attention, [q, k, v], np.ones(got.shape, np.float32))
    assert all(np.isfinite(x).all() for x in g)


def test_dot_product_attention_fully_masked_row_is_uniform_like_keras():
    q, k, v = QKV
    mask = np.ones((2, 2, 3, 5), bool)
    mask[0, 1, 2] = False
    got = ops.dot_product_attention(q, k, v, mask=mask).numpy()
    assert_close(got[0, 2, 1], v[0, :, 1].mean(0), atol=1e-6)


def test_dot_product_attention_float64_and_nested_tape_second_order():
    q, k, v = QKV
    got = ops.dot_product_attention(*(ops.convert_to_tensor(a, "float64") for a in (q, k, v)))
    assert got.dtype == "float64"
    assert_close(got.numpy(), ref_sdpa(q, k, v)[0], atol=1e-12)
    # First-order gradients taken while an outer tape records use differentiable ops:
    # they must equal the fused kernel's, and be differentiable again.
    qv, kv, vv = (fastnet.Variable(a) for a in (q, k, v))
    with fastnet.GradientTape() as outer:
        with fastnet.GradientTape() as inner:
            y = ops.sum(ops.square(ops.dot_product_attention(qv, kv, vv)))
        gq = inner.gradient(y, qv)
        z = ops.sum(gq)
    ggv = outer.gradient(z, vv)
    flat = grads_of(lambda a, b, c: ops.square(ops.dot_product_attention(a, b, c)), [q, k, v],
                    np.ones((2, 3, 2, 3), np.float32))
    assert_close(gq.numpy(), flat[0], atol=1e-5)

    def dq_sum(vvals):  # d/dv of sum(d y / d q) by finite differences on the reference
        def f(qq):
            return np.sum(ref_sdpa(qq, k, vvals)[0] ** 2)
        eps = 1e-5
        qq = q.astype(np.float64)
        g = np.zeros_like(qq)
        for i in np.ndindex(qq.shape):
            d = np.zeros_like(qq)
            d[i] = eps
            g[i] = (f(qq + d) - f(qq - d)) / (2 * eps)
        return g.sum()

    v64 = v.astype(np.float64)
    idx = (1, 2, 0, 1)
    d = np.zeros_like(v64)
    d[idx] = 1e-3
    numeric = (dq_sum(v64 + d) - dq_sum(v64 - d)) / 2e-3
    assert abs(ggv.numpy()[idx] - numeric) < 2e-3 * max(1.0, abs(numeric))


def test_dot_product_attention_errors_name_shapes():
    q, k, v = QKV
    with pytest.raises(ValueError, match="4-D"):
        ops.dot_product_attention(q[0], k[0], v[0])
    with pytest.raises(ValueError, match=r"key=\(2, 5, 2, 3\)"):
        ops.dot_product_attention(q, v, v)
    with pytest.raises(ValueError, match="mask"):
        ops.dot_product_attention(q, k, v, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="bias"):
        ops.dot_product_attention(q, k, v, bias=np.ones((4,), np.float32))
    with pytest.raises(ValueError, match="flash"):
        ops.dot_product_attention(q, k, v, flash_attention=True)
    assert ops.nn.dot_product_attention is ops.dot_product_attention


# ---- MultiHeadAttention ------------------------------------------------------------------

def ref_mha(weights, query, value, key=None, mask=None, causal=False):
    """Keras's MultiHeadAttention formula in float64 from its 8 weights."""
    wq, bq, wk, bk, wv, bv, wo, bo = (np.asarray(w, np.float64) for w in weights)
    key = value if key is None else key
    q = np.einsum("btd,dnh->btnh", query, wq) + bq
    k = np.einsum("bsd,dnh->bsnh", key, wk) + bk
    v = np.einsum("bsd,dnh->bsnh", value, wv) + bv
    m = None if mask is None else np.asarray(mask, bool)[:, None]
    out, p = ref_sdpa(q, k, v, mask=m, scale=1 / np.sqrt(wq.shape[-1]), is_causal=causal)
    return np.einsum("btnh,nhe->bte", out, wo) + bo, p


def _random_weights(layer, seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()]
    layer.set_weights(ws)
    return ws


X = randn((2, 5, 6), seed=11)
Y = randn((2, 7, 4), seed=12)


def test_mha_weight_layout_and_forward_against_formula():
    layer = layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=5)
    out = layer(X, Y)
    assert out.shape == (2, 5, 6)
    assert [tuple(w.shape) for w in layer.weights] == [
        (6, 3, 2), (3, 2), (4, 3, 2), (3, 2), (4, 3, 5), (3, 5), (3, 5, 6), (6,)]
    assert [w.path for w in layer.weights][::2] == [  # Keras: under the layer's own name
        f"{layer.name}/{n}/kernel" for n in ("query", "key", "value", "attention_output")]
    ws = _random_weights(layer)
    out, scores = layer(X, Y, return_attention_scores=True)
    want, p = ref_mha(ws, X, Y)
    assert_close(out.numpy(), want, atol=1e-5)
    assert scores.shape == (2, 3, 5, 7)
    assert_close(scores.numpy(), p, atol=1e-6)
    assert_close(layer(X, Y).numpy(), want, atol=1e-5)  # the fused path agrees


def test_mha_key_masks_and_causal():
    layer = layers.MultiHeadAttention(2, 3)
    z = randn((2, 7, 5), seed=13)
    layer(X, Y, key=z)
    ws = _random_weights(layer, 1)
    am = np.random.default_rng(2).random((2, 5, 7)) > 0.5
    am[..., 0] = True
    want, _ = ref_mha(ws, X, Y, key=z, mask=am)
    assert_close(layer(X, Y, key=z, attention_mask=am).numpy(), want, atol=1e-5)
    self_attn = layers.MultiHeadAttention(2, 3)
    self_attn(X, X)
    ws = _random_weights(self_attn, 2)
    want, p = ref_mha(ws, X, X, causal=True)
    out, scores = self_attn(X, X, use_causal_mask=True, return_attention_scores=True)
    assert_close(out.numpy(), want, atol=1e-5)
    assert np.all(np.triu(scores.numpy()[0, 0], 1) == 0)
    vm = np.array([[1, 1, 1, 0, 0, 0, 0], [1] * 7], bool)
    layer = layers.MultiHeadAttention(2, 3)
    layer(X, Y)
    want, _ = ref_mha(_random_weights(layer, 3), X, Y, mask=np.broadcast_to(vm[:, None], (2, 5, 7)))
    assert_close(layer(X, Y, value_mask=vm).numpy(), want, atol=1e-5)
    with pytest.raises(ValueError, match=r"'key'.*\(4,\).*\(2, 7, 3\)"):
        layer(X, Y, key=Y[..., :3])


def test_mha_gradients_by_finite_differences():
    layer = layers.MultiHeadAttention(2, 2, value_dim=3)
    x = randn((1, 3, 4), seed=21)
    y = randn((1, 4, 4), seed=22)
    layer(x, y)
    ws = _random_weights(layer, 4)
    dout = randn((1, 3, 4), seed=23)
    am = np.array([[[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]]], bool)

    def fast(xx, yy):
        return layer(xx, yy, attention_mask=am)

    check_gradients(lambda a, b, d: grads_of(fast, [a, b], d),
                    lambda a, b: ref_mha(ws, a, b, mask=am)[0], [x, y], dout,
                    atol=1e-4, rtol=1e-3)
    xv = fastnet.Variable(x)
    with fastnet.GradientTape() as tape:
        loss = ops.sum(ops.multiply(layer(xv, y, attention_mask=am), dout))
    got = tape.gradient(loss, layer.trainable_weights)
    for i, g in enumerate(got):
        def f(w, i=i):
            ww = list(ws)
            ww[i] = w
            return ref_mha(ww, x, y, mask=am)[0]
        from oracle import numeric_grad
        assert_close(g.numpy(), numeric_grad(f, [ws[i]], dout, 0), atol=1e-4, rtol=1e-3,
                     what=f"gradient wrt weight {i}")


def test_mha_dropout_only_in_training_and_seeded():
    layer = layers.MultiHeadAttention(2, 3, dropout=0.5, seed=7)
    a = layer(X, Y).numpy()
    assert_close(layer(X, Y, training=False).numpy(), a, atol=0)
    t1 = layer(X, Y, training=True).numpy()
    assert not np.allclose(t1, a)
    again = layers.MultiHeadAttention(2, 3, dropout=0.5, seed=7)
    again(X, Y)
    again.set_weights(layer.get_weights())
    assert_close(again(X, Y, training=True).numpy(), t1, atol=0)
    # the dropped probabilities still get gradients through the kept ones
    xv = fastnet.Variable(X)
    with fastnet.GradientTape() as tape:
        loss = ops.sum(layer(xv, Y, training=True))
    assert np.isfinite(tape.gradient(loss, xv).numpy()).all()


def test_mha_rank4_output_shape_and_axes():
    img = randn((2, 3, 4, 5), seed=31)
    layer = layers.MultiHeadAttention(2, 3, output_shape=(2, 4))
    out, scores = layer(img, img, return_attention_scores=True)
    assert out.shape == (2, 3, 4, 2, 4)
    assert scores.shape == (2, 2, 3, 4, 3, 4)
    assert layer.weights[-2].shape == (2, 3, 2, 4)
    flat = scores.numpy().reshape(2, 2, 12, 12)
    assert_close(flat.sum(-1), np.ones((2, 2, 12)), atol=1e-6)
    layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))(img, img)
    with pytest.raises(NotImplementedError, match="attention_axes"):
        layers.MultiHeadAttention(2, 3, attention_axes=2)(img, img)


def test_mha_argument_errors():
    with pytest.raises(ValueError, match="num_heads=0"):
        layers.MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="key_dim=-1"):
        layers.MultiHeadAttention(2, -1)
    with pytest.raises(ValueError, match="value_dim"):
        layers.MultiHeadAttention(2, 2, value_dim=0)
    with pytest.raises(ValueError, match="key_shape"):
        layers.MultiHeadAttention(2, 2)(X, Y, key=randn((2, 6, 4)))
    with pytest.raises(ValueError, match="attention_mask"):
        layers.MultiHeadAttention(2, 2)(X, Y, attention_mask=np.ones((2, 5, 3), bool))


def test_mha_functional_model_config_masks_and_training():
    fastnet.backend.clear_session()
    tokens = fastnet.Input((6,), dtype="int32")
    emb = layers.Embedding(20, 8, mask_zero=True)(tokens)
    att = layers.MultiHeadAttention(2, 4, name="mha")(emb, emb)
    out = layers.Dense(1)(layers.GlobalAveragePooling1D()(att))
    model = fastnet.Model(tokens, out)
    assert model.get_layer("mha").output.shape == (None, 6, 8)
    ids = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]], np.int32)
    # padded keys are not attended to: changing their embedding leaves row 0 unchanged
    mha = model.get_layer("mha")
    e = model.layers[1](ids).numpy()
    vm = ids != 0
    ref = mha(e, e, query_mask=vm, value_mask=vm).numpy()
    e2 = e.copy()
    e2[0, 3:] = 5.0
    assert_close(mha(e2, e2, query_mask=vm, value_mask=vm).numpy()[0, :3], ref[0, :3],
                 atol=1e-5)
    # the functional model hands the Embedding's mask to the layer as query/value masks
    inner = fastnet.Model(tokens, att)
    assert_close(inner(ids).numpy(), ref, atol=1e-5)
    assert not np.allclose(mha(e, e).numpy(), ref, atol=1e-3)
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(ids, np.ones((2, 1), np.float32), epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    config = mha.get_config()
    clone = layers.MultiHeadAttention.from_config(config)
    assert clone.get_config() == config
    assert config["num_heads"] == 2 and config["key_dim"] == 4 and config["value_dim"] == 4


def test_mha_config_round_trip_with_regularizer_and_constraint():
    layer = layers.MultiHeadAttention(2, 3, dropout=0.1, use_bias=False, output_shape=5,
                                      kernel_regularizer="l2", kernel_constraint="max_norm",
                                      seed=3)
    clone = layers.MultiHeadAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    out = clone(X, Y)
    assert out.shape == (2, 5, 5)
    assert len(clone.weights) == 4 and len(clone.losses) == 4


def test_mha_model_save_and_load(tmp_path):
    fastnet.backend.clear_session()
    inp = fastnet.Input((5, 6))
    out = layers.MultiHeadAttention(2, 3)(inp, inp, use_causal_mask=True)
    model = fastnet.Model(inp, out)
    want = model.predict(X, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = fastnet.models.load_model(path)
    assert_close(loaded.predict(X, verbose=0), want, atol=1e-6)


# ---- Attention / AdditiveAttention -----------------------------------------------------

def ref_attention(q, v, k=None, scores_fn=None, q_mask=None, v_mask=None, causal=False):
    k = v if k is None else k
    s = scores_fn(q.astype(np.float64), k.astype(np.float64))
    m = np.ones(s.shape, bool)
    if v_mask is not None:
        m &= v_mask[:, None, :]
    if causal:
        m &= np.tril(np.ones(s.shape[-2:], bool))
    s = np.where(m, s, s - 1e9)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    out = p @ v
    if q_mask is not None:
        out = out * q_mask[..., None]
    return out, p


Q3 = randn((2, 3, 4), seed=41)
V3 = randn((2, 5, 4), seed=42)
K3 = randn((2, 5, 4), seed=43)


def test_attention_dot_concat_scale_masks_causal():
    qm = np.array([[1, 1, 0], [1, 1, 1]], bool)
    vm = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    lay = layers.Attention()
    out, p = lay([Q3, V3, K3], mask=[qm, vm], return_attention_scores=True)
    want, wp = ref_attention(Q3, V3, K3, lambda q, k: q @ k.transpose(0, 2, 1), qm, vm)
    assert_close(out.numpy(), want, atol=1e-5)
    assert_close(p.numpy(), wp, atol=1e-6)
    scaled = layers.Attention(use_scale=True)
    scaled([Q3, V3])
    scaled.set_weights([np.array(2.0, np.float32)])
    want, _ = ref_attention(Q3, V3, None, lambda q, k: 2 * q @ k.transpose(0, 2, 1),
                            causal=True)
    assert_close(scaled([Q3, V3], use_causal_mask=True).numpy(), want, atol=1e-5)
    concat = layers.Attention(score_mode="concat", use_scale=True)
    concat([Q3, V3])
    assert [w.name for w in concat.weights] == ["scale", "concat_score_weight"]
    concat.set_weights([np.array(0.5, np.float32), np.array(1.5, np.float32)])
    want, _ = ref_attention(Q3, V3, None, lambda q, k: 1.5 * np.tanh(
        0.5 * (q[:, :, None] + k[:, None])).sum(-1))
    assert_close(concat([Q3, V3]).numpy(), want, atol=1e-5)
    with pytest.raises(ValueError, match="score_mode=bad"):
        layers.Attention(score_mode="bad")
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Attention()(Q3)


def test_additive_attention_and_gradients():
    lay = layers.AdditiveAttention()
    lay([Q3, V3])
    scale = randn((4,), seed=44)
    lay.set_weights([scale])
    assert lay.weights[0].shape == (4,)

    def ref(q, v):
        return ref_attention(q, v, None, lambda a, b: (scale * np.tanh(
            a[:, :, None] + b[:, None])).sum(-1))[0]

    assert_close(lay([Q3, V3]).numpy(), ref(Q3, V3), atol=1e-5)
    check_gradients(lambda q, v, d: grads_of(lambda a, b: lay([a, b]), [q, v], d), ref,
                    [Q3, V3], randn((2, 3, 4), seed=45), atol=1e-4, rtol=1e-3)
    assert "score_mode" not in lay.get_config()
    clone = layers.AdditiveAttention.from_config(lay.get_config())
    assert clone.get_config() == lay.get_config()


def test_attention_dropout_and_symbolic_shapes():
    lay = layers.Attention(dropout=0.5, seed=1)
    a = lay([Q3, V3]).numpy()
    assert_close(lay([Q3, V3], training=False).numpy(), a, atol=0)
    assert not np.allclose(lay([Q3, V3], training=True).numpy(), a)
    q = fastnet.Input((3, 4))
    v = fastnet.Input((5, 4))
    out, scores = layers.Attention()([q, v], return_attention_scores=True)
    assert out.shape == (None, 3, 4) and scores.shape == (None, 3, 5)


# ---- against Keras 3 (optional) ------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    return pytest.importorskip("keras")


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


@pytest.mark.parametrize("kwargs,call", [
    ({"num_heads": 2, "key_dim": 3}, {}),
    ({"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 5}, {"key": True}),
    ({"num_heads": 2, "key_dim": 3}, {"use_causal_mask": True}),
    ({"num_heads": 2, "key_dim": 3, "use_bias": False}, {"attention_mask": True}),
    ({"num_heads": 2, "key_dim": 3}, {"return_attention_scores": True}),
])
def test_mha_matches_keras_with_keras_weights(keras, kwargs, call):
    x = randn((2, 5, 6), seed=51)
    y = x if call.get("use_causal_mask") else randn((2, 5, 4), seed=52)
    z = randn((2, 5, 3), seed=53)
    ck = dict(call)
    if ck.pop("key", False):
        ck["key"] = z
    if ck.get("attention_mask"):
        m = np.random.default_rng(0).random((2, 5, 5)) > 0.5
        m[..., 0] = True
        ck["attention_mask"] = m
    km = keras.layers.MultiHeadAttention(**kwargs)
    kout = km(x, y, **ck)
    fm = layers.MultiHeadAttention(**kwargs)
    fm(x, y, **{k: v for k, v in ck.items() if k != "return_attention_scores"})
    fm.set_weights([_np(w) for w in km.get_weights()])
    fout = fm(x, y, **ck)
    if call.get("return_attention_scores"):
        assert_close(fout[1].numpy(), _np(kout[1]), atol=1e-6)
        kout, fout = kout[0], fout[0]
    assert_close(fout.numpy(), _np(kout), atol=1e-5)
    kconf = {k: v for k, v in km.get_config().items() if not k.endswith("_initializer")}
    fconf = layers.MultiHeadAttention.from_config(kconf).get_config()
    assert {k: fconf[k] for k in ("num_heads", "key_dim", "value_dim", "use_bias")} == {
        k: km.get_config()[k] for k in ("num_heads", "key_dim", "value_dim", "use_bias")}


def test_attention_layers_match_keras(keras):
    vm = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    qm = np.array([[1, 1, 0], [1, 1, 1]], bool)
    for name, kw in (("Attention", {}), ("Attention", {"use_scale": True, "score_mode": "concat"}),
                     ("AdditiveAttention", {})):
        kl = getattr(keras.layers, name)(**kw)
        kout = kl([Q3, V3, K3], mask=[qm, vm], use_causal_mask=True)
        fl = getattr(layers, name)(**kw)
        fl([Q3, V3, K3])
        fl.set_weights([_np(w) for w in kl.get_weights()])
        assert_close(fl([Q3, V3, K3], mask=[qm, vm], use_causal_mask=True).numpy(), _np(kout),
                     atol=1e-5, what=f"{name} {kw}")


def _mha_numpy(weights, query, value, gate, band=None):
    """MultiHeadAttention in numpy from its weights (Keras 3's order: query, key, [gate],
    value, output; kernel then bias each)."""
    w = list(weights)
    wq, bq, wk, bk = w[:4]
    if gate:
        wg, bg = w[4:6]
        w = w[:4] + w[6:]
    wv, bv, wo, bo = w[4:8]
    q = np.einsum("btd,dhk->bthk", query, wq) + bq
    k = np.einsum("bsd,dhk->bshk", value, wk) + bk
    v = np.einsum("bsd,dhk->bshk", value, wv) + bv
    logits = np.einsum("bthk,bshk->bhts", q, k) / np.sqrt(q.shape[-1])
    if band is not None:
        t, s = logits.shape[-2:]
        keep = np.abs(np.arange(t)[:, None] - np.arange(s)[None, :]) < band
        logits = np.where(keep, logits, -1e9)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    heads = np.einsum("bhts,bshk->bthk", p, v)
    if gate:
        g = np.einsum("btd,dhk->bthk", query, wg) + bg
        heads = heads / (1.0 + np.exp(-g))
    return np.einsum("bthk,hkd->btd", heads, wo) + bo


@pytest.mark.parametrize("kwargs", [{"use_gate": True}, {"sliding_window": 2},
                                    {"use_gate": True, "sliding_window": 1}])
def test_multi_head_attention_gate_and_sliding_window_match_numpy(kwargs):
    rng = np.random.default_rng(5)
    query = rng.standard_normal((2, 4, 6)).astype(np.float32)
    value = rng.standard_normal((2, 5, 6)).astype(np.float32)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3, **kwargs)
    out = mha(query, value).numpy()
    names = [w.path.split("/")[-2] for w in mha.weights]
    want_names = ["query", "query", "key", "key"] + (["gate", "gate"] if kwargs.get(
        "use_gate") else []) + ["value", "value", "attention_output", "attention_output"]
    assert names == want_names
    want = _mha_numpy([w.numpy().astype(np.float64) for w in mha.weights], query, value,
                      kwargs.get("use_gate", False), kwargs.get("sliding_window"))
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    config = mha.get_config()
    assert all(config[k] == v for k, v in kwargs.items())
    with pytest.raises(ValueError, match="sliding_window"):
        layers.MultiHeadAttention(num_heads=2, key_dim=3, sliding_window=0)


@pytest.mark.parametrize("make", [
    lambda: layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha"),
    lambda: layers.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=1,
                                       name="gqa"),
])
def test_attention_mask_shapes_shared_by_mha_and_gqa(make):
    """A (T, S) attention_mask broadcasts over the batch like a (1, T, S) one; a mask of
    another shape (even one of T*S elements) is refused with the layer's name."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 4, 5)).astype(np.float32)
    v = rng.standard_normal((2, 3, 5)).astype(np.float32)
    am = rng.random((4, 3)) > 0.3
    am[:, 0] = True
    layer = make()
    out2 = np.asarray(layer(q, v, attention_mask=am))
    out3 = np.asarray(layer(q, v, attention_mask=np.broadcast_to(am, (2, 4, 3))))
    assert_close(out2, out3, atol=1e-6)
    for bad in (am.T, am[:, :2], np.ones((2, 3, 4), bool), np.ones(12, bool)):
        with pytest.raises(ValueError, match=f"{layer.name}.*attention_mask of shape"):
            layer(q, v, attention_mask=bad)
