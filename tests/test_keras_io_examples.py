"""keras.io example programs, written as Keras 3 users write them, run on fastnet; the
`_against_keras` twins run the same function on Keras 3 (torch backend) with the same
weights and compare parameter counts, shapes, predictions and training histories."""

import os

import numpy as np
from keras_peer import keras_or_skip as _keras
from keras_peer import to_numpy as _np

import fastnet


def _fill(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "seed" in w.path or w.dtype not in ("float32", "float64"):
            continue  # seed generators' state, counters
        shape = tuple(w.shape)
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            w.assign(rng.uniform(-0.3, 0.3, shape).astype("float32"))


def _close(a, b, rtol=2e-4, atol=2e-5):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol,
                               atol=atol)


# ---- 1. Text classification with a Transformer (keras.io/examples/nlp) -------------

def transformer_classifier(keras, rate=0.1):
    layers, ops = keras.layers, keras.ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"),
                                         layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.dropout1(self.att(inputs, inputs))
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.dropout2(self.ffn(out1))
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = self.pos_emb(ops.arange(start=0, stop=maxlen, step=1))
            return self.token_emb(x) + positions

    maxlen, vocab_size = 12, 50
    inputs = layers.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab_size, 8)(inputs)
    x = TransformerBlock(8, 2, 16, rate)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(rate)(x)
    x = layers.Dense(6, activation="relu")(x)
    x = layers.Dropout(rate)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def _tokens(n=24, maxlen=12, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (n, maxlen)), rng.integers(0, 2, n)


def test_transformer_text_classifier_trains():
    fastnet.utils.set_random_seed(0)
    model = transformer_classifier(fastnet)
    x, y = _tokens()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y, batch_size=8, epochs=2, validation_data=(x[:8], y[:8]), verbose=0)
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert model.predict(x[:3], verbose=0).shape == (3, 2)


def test_transformer_text_classifier_against_keras():
    k = _keras()
    x, y = _tokens()
    results = []
    for lib in (fastnet, k):
        model = transformer_classifier(lib, rate=0.0)
        model(x[:1])
        _fill(model)
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        before = _np(model.predict(x, verbose=0))
        h = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        results.append((model.count_params(), before, h.history["loss"],
                        _np(model.predict(x, verbose=0))))
    (n0, p0, l0, q0), (n1, p1, l1, q1) = results
    assert n0 == n1
    _close(p0, p1)
    _close(l0, l1, rtol=1e-3)
    _close(q0, q1, rtol=1e-3, atol=1e-4)


# ---- 2. Character-level seq2seq: training model, then inference models from its layers --

def seq2seq(keras, enc_tokens=7, dec_tokens=9, latent_dim=6):
    encoder_inputs = keras.Input(shape=(None, enc_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, dec_tokens))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_dense = keras.layers.Dense(dec_tokens, activation="softmax")
    return keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))


def inference_models(keras, model, latent_dim=6):
    encoder_inputs = model.input[0]
    _, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = keras.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    h_in, c_in = keras.Input(shape=(latent_dim,)), keras.Input(shape=(latent_dim,))
    decoder_outputs, state_h_dec, state_c_dec = model.layers[3](decoder_inputs,
                                                                initial_state=[h_in, c_in])
    decoder_outputs = model.layers[4](decoder_outputs)
    decoder_model = keras.Model([decoder_inputs, h_in, c_in],
                                [decoder_outputs, state_h_dec, state_c_dec])
    return encoder_model, decoder_model


def _seq_data(seed=0):
    rng = np.random.default_rng(seed)
    enc = np.eye(7, dtype="float32")[rng.integers(0, 7, (16, 5))]
    dec = np.eye(9, dtype="float32")[rng.integers(0, 9, (16, 4))]
    target = np.eye(9, dtype="float32")[rng.integers(0, 9, (16, 4))]
    return enc, dec, target


def _decode(encoder_model, decoder_model, enc, steps=3):
    h, c = encoder_model.predict(enc[:1], verbose=0)
    token = np.zeros((1, 1, 9), "float32")
    token[0, 0, 0] = 1.0
    out = []
    for _ in range(steps):
        probs, h, c = decoder_model.predict([token, h, c], verbose=0)
        idx = int(np.argmax(_np(probs)[0, -1]))
        out.append(idx)
        token = np.zeros((1, 1, 9), "float32")
        token[0, 0, idx] = 1.0
    return out, _np(h)


def test_seq2seq_training_and_inference_models(tmp_path):
    enc, dec, target = _seq_data()
    model = seq2seq(fastnet)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit([enc, dec], target, batch_size=8, epochs=1, validation_split=0.25, verbose=0)
    model.save(tmp_path / "s2s.keras")
    model = fastnet.models.load_model(tmp_path / "s2s.keras")
    encoder_model, decoder_model = inference_models(fastnet, model)
    tokens, h = _decode(encoder_model, decoder_model, enc)
    assert len(tokens) == 3 and h.shape == (1, 6)


def test_seq2seq_against_keras():
    k = _keras()
    enc, dec, target = _seq_data()
    results = []
    for lib in (fastnet, k):
        model = seq2seq(lib)
        _fill(model)
        model.compile(optimizer=lib.optimizers.RMSprop(0.01), loss="categorical_crossentropy")
        h = model.fit([enc, dec], target, batch_size=8, epochs=2, shuffle=False, verbose=0)
        encoder_model, decoder_model = inference_models(lib, model)
        results.append((model.count_params(), h.history["loss"],
                        _decode(encoder_model, decoder_model, enc)))
    (n0, l0, (t0, h0)), (n1, l1, (t1, h1)) = results
    assert n0 == n1
    _close(l0, l1, rtol=1e-3)
    assert t0 == t1
    _close(h0, h1, rtol=1e-3, atol=1e-4)


# ---- 3. Timeseries classification from scratch (Conv1D + BN, callbacks) ------------

def fcn(keras, input_shape=(20, 1), num_classes=2):
    input_layer = keras.layers.Input(input_shape)
    x = input_layer
    for _ in range(2):
        x = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    gap = keras.layers.GlobalAveragePooling1D()(x)
    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
    return keras.models.Model(inputs=input_layer, outputs=output_layer)


def _series(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 20, 1)).astype("float32")
    return x, (x.mean(axis=(1, 2)) > 0).astype("int64")


def _fcn_fit(lib, folder, x, y):
    model = fcn(lib)
    _fill(model)
    callbacks = [
        lib.callbacks.ModelCheckpoint(os.path.join(folder, "best_model.keras"),
                                      save_best_only=True, monitor="val_loss"),
        lib.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1,
                                        min_lr=0.0001),
        lib.callbacks.EarlyStopping(monitor="val_loss", patience=3, verbose=0),
    ]
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    h = model.fit(x, y, batch_size=8, epochs=4, callbacks=callbacks, validation_split=0.2,
                  shuffle=False, verbose=0)
    best = lib.models.load_model(os.path.join(folder, "best_model.keras"))
    return model.count_params(), h.history, best.evaluate(x, y, verbose=0)


def test_timeseries_classification_with_callbacks(tmp_path):
    x, y = _series()
    n, history, (loss, acc) = _fcn_fit(fastnet, str(tmp_path), x, y)
    assert "val_sparse_categorical_accuracy" in history and "learning_rate" in history
    assert 0.0 <= acc <= 1.0 and np.isfinite(loss)


def test_timeseries_classification_against_keras(tmp_path):
    k = _keras()
    x, y = _series()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    n0, h0, e0 = _fcn_fit(fastnet, str(tmp_path / "a"), x, y)
    n1, h1, e1 = _fcn_fit(k, str(tmp_path / "b"), x, y)
    assert n0 == n1
    assert sorted(h0) == sorted(h1)
    for key in h0:
        _close(h0[key], h1[key], rtol=2e-3, atol=2e-4)
    _close(e0, e1, rtol=2e-3, atol=2e-4)
