"""Runs the keras-io scripts of tests/keras_io/ under real Keras 3 and writes what each
records (its RESULTS dict, through JSON) to tests/fixtures/keras_io/<script>.json, the
reference tests/test_keras_io_guides.py compares fastnet's run against.

    KERAS_BACKEND=torch python tools/make_keras_io_fixtures.py [script ...]

Needs keras 3 with the torch backend (TensorFlow is not needed).
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "keras_io"
OUT = ROOT / "tests" / "fixtures" / "keras_io"

DRIVER = """
import json, runpy, sys
g = runpy.run_path(sys.argv[1], run_name="__main__")
sys.stdout.write("\\nKERAS_IO_RESULTS " + json.dumps(g["RESULTS"], sort_keys=True) + "\\n")
"""


def run(script, reference):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if reference:
        env.update(KERAS_IO_REFERENCE="keras", KERAS_BACKEND="torch")
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(script)], env=env,
                          capture_output=True, text=True, cwd=str(SCRIPTS))
    if proc.returncode:
        raise RuntimeError(f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("KERAS_IO_RESULTS ")][-1]
    return json.loads(line[len("KERAS_IO_RESULTS "):])


def main(names):
    OUT.mkdir(parents=True, exist_ok=True)
    scripts = sorted(p for p in SCRIPTS.glob("*.py") if not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    for script in scripts:
        results = run(script, reference=True)
        (OUT / f"{script.stem}.json").write_text(json.dumps(results, indent=1, sort_keys=True)
                                                 + "\n")
        print("wrote", OUT / f"{script.stem}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
