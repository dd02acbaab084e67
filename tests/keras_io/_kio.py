"""Shared by the keras-io scripts in this folder: the one changed import, and the data
sets that Keras downloads, replaced by small synthetic arrays of the same shapes and dtypes
(nothing is downloaded here).

A script runs against fastnet by default; with KERAS_IO_REFERENCE=keras (and
KERAS_BACKEND=torch) the same script runs against Keras 3, which is how
tests/test_keras_io_guides.py compares the two. Each script stores what its guide prints
or returns (shapes, parameter counts, history keys, metric names) in a dict RESULTS.
"""

import os

import numpy as np


def keras_modules():
    """(keras, layers, ops) -- fastnet's, or Keras 3's under KERAS_IO_REFERENCE=keras."""
    if os.environ.get("KERAS_IO_REFERENCE") == "keras":
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
        from keras import layers, ops
    else:
        import fastnet as keras
        from fastnet import layers, ops
    return keras, layers, ops


def is_reference():
    return os.environ.get("KERAS_IO_REFERENCE") == "keras"


def mnist_load_data(n_train=1200, n_test=200, seed=0):
    """keras.datasets.mnist.load_data()'s shapes and dtypes: uint8 (N, 28, 28) images and
    uint8 labels 0..9, with a class-dependent pattern so that training can learn."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, size=n).astype("uint8")
        x = rng.integers(0, 128, size=(n, 28, 28))
        for c in range(10):
            x[y == c, 2 * c: 2 * c + 3, :] += 120
        return x.astype("uint8"), y

    return make(n_train), make(n_test)


def summary_rows(model):
    """model.summary()'s table as rows of cells (box drawing and padding removed), so a
    fastnet summary compares cell by cell with a Keras one."""
    import contextlib
    import io
    import re

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.summary()
    rows = []
    for line in buf.getvalue().splitlines():
        line = re.sub("\x1b\\[[0-9;]*m", "", line)
        cells = [c.strip() for c in re.split("[│┃|]", line)]
        cells = [c for c in cells if c and not set(c) <= set("━─┏┓┗┛┡┩└┘┌┐├┤┼┬┴┯┷┳┻╇╈═+-=_ ")]
        if cells:
            rows.append(cells)
    return rows


def gradient_tape():
    """The guides' `tf.GradientTape`: fastnet.GradientTape; under the Keras reference run
    (torch backend, no TensorFlow) a small stand-in over torch.autograd with the same
    `with ... as tape:` / `tape.gradient(loss, variables)` use."""
    if not is_reference():
        import fastnet

        return fastnet.GradientTape

    class TorchTape:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def gradient(self, target, sources):
            import torch

            return list(torch.autograd.grad(target, [s.value for s in sources],
                                            allow_unused=True))

    return TorchTape


_DRIVER = """
import json, runpy, sys
g = runpy.run_path(sys.argv[1], run_name="__main__")
sys.stdout.write("\\nKERAS_IO_RESULTS " + json.dumps(g["RESULTS"], sort_keys=True) + "\\n")
"""


def run_script(script, reference=False, timeout=900):
    """Runs one script in a fresh interpreter (the scripts change folder and keep global
    state) and returns its RESULTS through JSON: fastnet's, or Keras 3's with
    `reference=True`."""
    import json
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(script)
    root = script.resolve().parent.parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("KERAS_IO_REFERENCE", None)
    if reference:
        env.update(KERAS_IO_REFERENCE="keras", KERAS_BACKEND="torch")
    proc = subprocess.run([sys.executable, "-c", _DRIVER, str(script)], env=env,
                          capture_output=True, text=True, cwd=str(script.parent),
                          timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"{script.name} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("KERAS_IO_RESULTS ")][-1]
    return json.loads(line[len("KERAS_IO_RESULTS "):])
