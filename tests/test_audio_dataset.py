"""keras.utils.audio_dataset_from_directory on `.wav` files the tests write."""

import wave

import numpy as np
import pytest

import fastnet as keras
from fastnet.utils.dataset_utils import read_wav


def _write(path, samples, width=2, rate=8000):
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            raw = samples.astype(np.uint8).tobytes()
        elif width == 3:
            v = samples.astype(np.int64) & 0xFFFFFF
            raw = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], -1).astype(
                np.uint8).tobytes()
        else:
            raw = samples.astype("<i2" if width == 2 else "<i4").tobytes()
        w.writeframes(raw)


@pytest.fixture
def clips(tmp_path):
    rng = np.random.default_rng(0)
    lengths = {"no": [30, 50, 40], "yes": [20, 60, 45]}
    for cls, lens in lengths.items():
        (tmp_path / cls).mkdir()
        for i, n in enumerate(lens):
            _write(tmp_path / cls / f"{i}.wav", rng.integers(-32768, 32767, n))
    return tmp_path


def test_decoding_matches_the_pcm_formula(tmp_path):
    s16 = np.array([-32768, -1, 0, 1, 16384, 32767])
    _write(tmp_path / "a.wav", s16)
    data, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000 and data.shape == (6, 1) and data.dtype == np.float32
    np.testing.assert_array_equal(data[:, 0], s16 / 32768.0)
    _write(tmp_path / "b.wav", np.array([0, 128, 255]), width=1)
    np.testing.assert_allclose(read_wav(tmp_path / "b.wav")[0][:, 0], [-1.0, 0.0, 127 / 128])
    s24 = np.array([-(1 << 23), -5, 0, 7, (1 << 23) - 1])
    _write(tmp_path / "c.wav", s24, width=3)
    np.testing.assert_allclose(read_wav(tmp_path / "c.wav")[0][:, 0], s24 / float(1 << 23))
    stereo = np.array([[100, -100], [200, -200], [300, -300]])
    _write(tmp_path / "d.wav", stereo)
    got, _ = read_wav(tmp_path / "d.wav", desired_samples=5)
    np.testing.assert_array_equal(got, np.concatenate([stereo / 32768.0, np.zeros((2, 2))]))
    np.testing.assert_array_equal(read_wav(tmp_path / "d.wav", 2)[0], stereo[:2] / 32768.0)
    (tmp_path / "e.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="not a PCM WAV"):
        read_wav(tmp_path / "e.wav")


def test_batches_are_padded_to_the_longest_clip(clips):
    ds = keras.utils.audio_dataset_from_directory(str(clips), batch_size=4, shuffle=False,
                                                  verbose=False)
    assert ds.class_names == ["no", "yes"] and len(ds) == 2
    x, y = ds[0]
    assert x.shape == (4, 50, 1) and x.dtype == np.float32
    assert y.tolist() == [0, 0, 0, 1]
    first, _ = read_wav(clips / "no" / "0.wav")
    np.testing.assert_array_equal(x[0, :30], first)
    assert not x[0, 30:].any()
    x2, y2 = ds[1]
    assert x2.shape == (2, 60, 1) and y2.tolist() == [1, 1]


def test_output_sequence_length_labels_and_splits(clips):
    train, val = keras.utils.audio_dataset_from_directory(
        str(clips), batch_size=2, output_sequence_length=32, label_mode="categorical",
        validation_split=0.34, subset="both", seed=3, verbose=False)
    assert len(train.file_paths) + len(val.file_paths) == 6 and len(val.file_paths) == 2
    for x, y in train:
        assert x.shape[1:] == (32, 1) and y.shape[1] == 2
    unlabeled = keras.utils.audio_dataset_from_directory(str(clips), labels=None,
                                                         batch_size=None, verbose=False)
    assert unlabeled[0].ndim == 2


def test_training_on_audio(clips):
    ds = keras.utils.audio_dataset_from_directory(str(clips), batch_size=3,
                                                  output_sequence_length=48, seed=1,
                                                  verbose=False)
    model = keras.Sequential([keras.Input((48, 1)), keras.layers.Conv1D(4, 5, activation="relu"),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = model.fit(ds, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2


@pytest.mark.parametrize("kw,match,exc", [
    ({"ragged": True}, "ragged", NotImplementedError),
    ({"ragged": True, "output_sequence_length": 10}, "Cannot set both", ValueError),
    ({"sampling_rate": 16000}, "sampling_rate", NotImplementedError),
    ({"sampling_rate": 1.5}, "integer value", ValueError),
    ({"label_mode": "sparse"}, "label_mode", ValueError),
    ({"labels": "folders"}, "labels", ValueError),
    ({"output_sequence_length": 0}, "output_sequence_length", ValueError),
])
def test_bad_arguments(clips, kw, match, exc):
    with pytest.raises(exc, match=match):
        keras.utils.audio_dataset_from_directory(str(clips), verbose=False, **kw)
