"""`import lazypath; lazypath.activate(warm)` stays cheap at interpreter start:
the modules it deferred stay out of a fresh interpreter (bench/startup.py
measures the time; this only checks what is imported, never a time)."""

import ast
import subprocess
import sys

import lazypath
from conftest import write_tree

# Not needed by `import lazypath` or a warm eager activation; each costs
# start-up time (itself or through what it imports).
DEFERRED = (
    "argparse",
    "collections",
    "dataclasses",
    "functools",
    "importlib",
    "importlib.abc",
    "importlib.resources",
    "inspect",
    "json",
    "lazypath._lazy",
    "lazypath._progress",
    "lazypath.cli",
    "lazypath.policy",
    "threading",
    "typing",
    "warnings",
)

REPORT = "print(sorted(m for m in {deferred!r} if m in sys.modules))\n"


def _loaded(code: str) -> list[str]:
    res = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code + REPORT.format(deferred=DEFERRED)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return ast.literal_eval(res.stdout.splitlines()[-1])


def test_import_and_warm_activation_import_no_deferred_module(tmp_path, store):
    src = write_tree(tmp_path / "src", {"startup_app/__init__.py": "VALUE = 7\n"})
    digest = lazypath.push(src, store)
    lazypath.pull(store, digest)  # the node cache now holds the tree: warm
    # What the interpreter itself (site, sitecustomize) loads is not ours.
    baseline = set(_loaded(""))
    assert set(_loaded("import lazypath\n")) <= baseline
    activated = _loaded(
        "import lazypath\n"
        f"tree = lazypath.activate({str(store)!r}, {digest!r})\n"
        "assert sys.path[0] == tree.path, sys.path\n"
        "import startup_app\n"
        "assert startup_app.VALUE == 7\n"
    )
    assert set(activated) <= baseline, set(activated) - baseline
