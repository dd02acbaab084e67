"""Runs the keras-io scripts of tests/keras_io/ under real Keras 3 and writes what each
records (its RESULTS dict, through JSON) to tests/fixtures/keras_io/<script>.json, the
reference tests/test_keras_io_guides.py compares fastnet's run against.

    KERAS_BACKEND=torch python tools/make_keras_io_fixtures.py [script ...]

Needs keras 3 with the torch backend (TensorFlow is not needed).
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "keras_io"
OUT = ROOT / "tests" / "fixtures" / "keras_io"
sys.path.insert(0, str(SCRIPTS))

from _kio import run_script  # noqa: E402


def main(names):
    OUT.mkdir(parents=True, exist_ok=True)
    scripts = sorted(p for p in SCRIPTS.glob("*.py") if not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    for script in scripts:
        results = run_script(script, reference=True)
        (OUT / f"{script.stem}.json").write_text(json.dumps(results, indent=1, sort_keys=True)
                                                 + "\n")
        print("wrote", OUT / f"{script.stem}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
