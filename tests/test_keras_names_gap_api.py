"""The Keras 3 names outside layers and ops that fastnet still lacks, pinned.

tests/fixtures/keras3_api_names_napi.json holds ``dir()`` of each Keras 3 module below (as
written by Keras 3.15.1), so this runs without Keras. ``STILL_MISSING`` is the exact gap:
adding a name to fastnet fails the test until the name is deleted here (the list only
shrinks), and a regression that loses a name fails it too. With Keras installed at the
recorded version the fixture is checked against Keras itself.
"""

import importlib
import json
import os

import pytest

import fastnet

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "keras3_api_names_napi.json")

STILL_MISSING = {
    "optimizers": ["legacy"],  # tf.keras 2's optimizers
    "utils": ["bounding_boxes", "legacy"],
    "export": ["ExportArchive"],  # TF SavedModel export (fastnet exports ONNX)
    "dtype_policies": ["AWQDTypePolicy", "DTypePolicyMap", "GPTQDTypePolicy",
                       "Int4DTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy"],
    "visualization": ["draw_bounding_boxes", "draw_segmentation_masks",
                      "plot_bounding_box_gallery", "plot_image_gallery",
                      "plot_segmentation_mask_gallery"],
}


def _fixture():
    with open(FIXTURE) as f:
        return json.load(f)


def _fastnet_module(name):
    module = fastnet
    for part in name.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def _missing(name, keras_names):
    module = _fastnet_module(name)
    if module is None:
        return sorted(keras_names)
    have = set(dir(module))
    return sorted(n for n in keras_names if n not in have)


def test_the_gap_is_exactly_the_pinned_list():
    modules = _fixture()["modules"]
    got = {m: _missing(m, names) for m, names in modules.items()}
    got = {m: names for m, names in got.items() if names}
    assert got == STILL_MISSING, (
        "the Keras names fastnet lacks changed: update STILL_MISSING "
        f"(now missing: {got})")


def test_every_present_name_is_usable():
    # a name in dir() that is a broken stub would pass the gap test: each present name
    # must be a real object (a class, function, module or value), not None
    modules = _fixture()["modules"]
    for m, names in modules.items():
        module = _fastnet_module(m)
        if module is None:
            continue
        for n in names:
            if n in STILL_MISSING.get(m, ()):
                continue
            assert getattr(module, n) is not None, f"fastnet.{m}.{n} is None"


def test_fixture_is_keras_own_list():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    data = _fixture()
    if keras.__version__ != data["keras_version"]:
        pytest.skip(f"the fixture records Keras {data['keras_version']}, installed: "
                    f"{keras.__version__}")
    for m, names in data["modules"].items():
        live = sorted(n for n in dir(importlib.import_module("keras." + m))
                      if not n.startswith("_"))
        assert live == names, m
