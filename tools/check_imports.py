"""No import goes up the package layers: backend -> ops -> layers -> models -> saving.

    python tools/check_imports.py        # exit status 1 and one line per upward import

Every ``import`` / ``from ... import`` in fastnet/<layer>/**.py is read from the source
(AST, so imports inside functions — the lazy ones that hide a circle — count too) and
mapped to the layer of the module it names. A module of a lower layer importing a module
of a higher one is an upward arrow; with arrows only downward there is no import circle
among these subpackages. ``if TYPE_CHECKING:`` blocks are not imports at run time and are
skipped.
"""

from __future__ import annotations

import ast
import os
import sys

LAYERS = ["backend", "ops", "layers", "models", "saving"]
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fastnet")


def _rank(module):
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "fastnet" or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def _imports(tree, module):
    """(lineno, imported module) for every run-time import in `tree`."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    pkg = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base == "fastnet":  # `from fastnet import layers` names a subpackage
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
            else:
                yield node.lineno, base


def upward_imports(root=ROOT):
    out = []
    for layer in LAYERS:
        for dirpath, _, files in os.walk(os.path.join(root, layer)):
            for f in sorted(files):
                if not f.endswith(".py"):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.dirname(root))
                module = rel[:-3].replace(os.sep, ".")
                if module.endswith(".__init__"):
                    module = module[: -len(".__init__")] + ".__init__"
                with open(path, encoding="utf-8") as fh:
                    tree = ast.parse(fh.read(), path)
                here = LAYERS.index(layer)
                for lineno, target in _imports(tree, module):
                    r = _rank(target)
                    if r is not None and r > here:
                        out.append((rel, lineno, target))
    return sorted(set(out))


def main():
    bad = upward_imports()
    for rel, lineno, target in bad:
        print(f"{rel}:{lineno}: imports {target} (above it)")
    if bad:
        print(f"{len(bad)} upward import(s); allowed direction: " + " -> ".join(LAYERS))
        return 1
    print("no upward imports among " + ", ".join(LAYERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
