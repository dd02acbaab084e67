"""The runnable examples (examples/, one per seed tutorial) in their fast mode: each
prints what its tutorial shows; here we check the shapes, Keras's parameter counts and
that training lowers the loss. (tests/test_seeds.py checks the tutorials' code itself
in finer detail; this runs the scripts a user runs.)"""

import importlib.util
import pathlib

import numpy as np
import pytest

import fastnet as keras

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def run(name, capsys, **kwargs):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.backend.clear_session()
    results = module.main(fast=True, **kwargs)
    return results, capsys.readouterr().out


def falls(losses):
    return len(losses) >= 2 and losses[-1] < losses[0] and np.all(np.isfinite(losses))


def test_every_seed_has_an_example():
    seeds = {f"seed{i:03d}" for i in range(5)}
    assert seeds <= {p.name[:7] for p in EXAMPLES.glob("seed*.py")}


def test_seed000_three_model_styles(capsys):
    r, out = run("seed000_three_model_styles", capsys)
    assert r["sequential_add"] == {"output_shape": (3, 10), "params": 6922}
    for name in ("sequential_list", "functional"):
        assert r[name]["params"] == 6922 and r[name]["output_shape"] == (5, 10)
        assert falls(r[name]["loss"])
    assert r["subclassed"]["params"] == 1386 and falls(r["subclassed"]["loss"])
    assert 'Model: "my_model"' in out and "Trainable params: 1,386" in out
    assert "Optimizer params: 1,388" in out  # RMSprop: iterations, learning rate, velocities


def test_seed001_subclassed_resnet(capsys):
    r, out = run("seed001_subclassed_resnet", capsys)
    assert (r["params"], r["trainable_params"]) == (175_898, 174_874)
    assert "Total params: 175,898" in out and "dynamic-blocks (Sequential)" in out
    assert r["output_shape"] == (3, 10)
    assert falls(r["loss"])


def test_seed002_keras_overview(capsys):
    r, out = run("seed002_keras_overview", capsys)
    assert all(v["output_shape"] == (8, 64) for k, v in r["layers"].items() if k != "orthogonality_error")
    assert r["layers"]["l1_kernel"]["losses"] == 1 and r["layers"]["l2_bias"]["losses"] == 1
    assert r["layers"]["relu_by_name"]["losses"] == 0
    assert r["layers"]["orthogonality_error"] < 1e-5
    assert r["params"] == 6922 and r["output_shape"] == (4, 10) and falls(r["loss"])


def test_seed003_sequential_and_functional(capsys):
    r, out = run("seed003_sequential_and_functional", capsys)
    assert r["seq_params"] == r["params"] == 3466
    assert out.count("Total params: 3,466") == 2 and "output_tensor.shape: (None, 32)" in out
    assert r["output_shape"] == (4, 10) and falls(r["loss"])


def test_seed004_functional_api_guide(capsys, tmp_path):
    r, out = run("seed004_functional_api_guide", capsys, out_dir=str(tmp_path))
    mnist = r["mnist"]
    assert mnist["params"] == 55_050 and falls(mnist["loss"]) and falls(mnist["val_loss"])
    assert mnist["test_accuracy"] > 0.5
    assert r["reloaded_max_diff"] == 0.0 and (tmp_path / "path_to_my_model.h5").exists()
    assert {p.suffix for p in tmp_path.glob("my_first_model*")} <= {".png", ".dot"}
    assert len(list(tmp_path.glob("my_first_model*"))) == 2
    assert r["encoder"] == {"params": 18_672, "output_shape": (None, 16)}
    assert r["autoencoder"] == {"params": 28_241, "output_shape": (None, 28, 28, 1)}
    assert r["nested_autoencoder"] == {"params": 28_241, "output_shape": (2, 28, 28, 1)}
    assert r["ensemble"]["params"] == 387 and r["ensemble"]["max_diff"] < 1e-6
    ticket = r["ticket"]
    assert ticket["params"] == 1_392_097 and falls(ticket["loss"])
    assert ticket["history_keys"] == ["department_loss", "loss", "priority_loss"]
    resnet = r["toy_resnet"]
    assert resnet["params"] == 223_242 and falls(resnet["loss"])
    assert resnet["history_keys"] == ["acc", "loss", "val_acc", "val_loss"]
    assert r["shared"] == {"shapes": [(None, None, 128)] * 2, "weights": 1}
    vgg = r["vgg19"]
    assert vgg["params"] == 20_024_384  # VGG19's convolutional base, as Keras counts it
    assert vgg["n_features"] == vgg["n_layers"] and vgg["last_shape"] == (1, 1, 1, 512)
    assert r["custom_dense"] == {"params": 50, "new_params": 50, "output_shape": (2, 10)}
    assert r["mlp"] == {"functional_params": 2762, "subclassed_params": 2762}
    mixing = r["mixing"]
    assert mixing["feature_shapes"] == [(1, 10, 32)] and mixing["out1"] == (1, 1)
    assert mixing["model_output"] == (16, 8, 1) and mixing["out2"] == (1, 10, 1)


@pytest.mark.parametrize("name", ["seed000_three_model_styles"])
def test_examples_run_as_scripts(name, tmp_path):
    """A user runs the file itself (here with FASTNET_EXAMPLES_FAST=1)."""
    import os
    import subprocess
    import sys

    import fastnet

    # The fastnet this process imports (installed, or the in-place build): in CI the
    # source tree beside the examples is not built.
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastnet.__file__)))
    env = {**os.environ, "FASTNET_EXAMPLES_FAST": "1",
           "PYTHONPATH": pkg_parent + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Epoch 1/3" in proc.stdout and "Total params" in proc.stdout
