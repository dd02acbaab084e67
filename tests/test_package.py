"""The package as a user meets it before any model: importing it."""

import pathlib
import shutil
import subprocess
import sys

import fastnet

PACKAGE = pathlib.Path(fastnet.__file__).resolve().parent


def test_import_from_an_unbuilt_source_tree_says_how_to_build(tmp_path):
    # a checkout without the compiled extensions: the same sources, no .so files
    shutil.copytree(PACKAGE, tmp_path / "fastnet",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    proc = subprocess.run([sys.executable, "-c", "import fastnet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastnet's compiled extension is not built: run "
                           "`pip install .` or `python setup.py build_ext --inplace`")
    assert "circular import" not in proc.stderr


def test_import_with_the_extensions_works(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import fastnet; print(fastnet.__version__)"],
                          cwd=PACKAGE.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == fastnet.__version__
