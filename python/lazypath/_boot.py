"""Activating a tree in a new Python process before its own code runs.

Lazy activation needs an import hook in the process, and the process may be
one we do not start ourselves (a Ray worker, the program under `lazypath
profile`). So the starter puts lazypath/_site on PYTHONPATH and describes the
tree in the environment:

    LAZYPATH_BOOT_STORE  store URL            LAZYPATH_BOOT_REF  sha256:<hex>
    LAZYPATH_BOOT_MODE   lazy (or eager)      LAZYPATH_BOOT_CACHE  node cache

Python's site module imports the first `sitecustomize` on sys.path, which is
ours (PYTHONPATH comes before site-packages). boot() activates the tree and
puts its root where lazypath/_site was on sys.path (the place PYTHONPATH gave
it), then runs the next sitecustomize on sys.path (a distribution's or the
virtualenv's), so shadowing one changes nothing else. It never raises: a
failure is one line on stderr, and the process goes on without the tree.
Limits: `python -S` / `-I` skip site and so the activation too.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

STORE_VAR = "LAZYPATH_BOOT_STORE"
REF_VAR = "LAZYPATH_BOOT_REF"
MODE_VAR = "LAZYPATH_BOOT_MODE"
CACHE_VAR = "LAZYPATH_BOOT_CACHE"

SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_site")


def env(store: str, ref: str, mode: str = "lazy", cache_dir: str | None = None) -> dict:
    """The environment variables that make a new process activate `ref`."""
    out = {STORE_VAR: store, REF_VAR: ref, MODE_VAR: mode}
    if cache_dir:
        out[CACHE_VAR] = cache_dir
    return out


def pythonpath(existing: str | None) -> str:
    """PYTHONPATH with lazypath/_site first (once)."""
    parts = [p for p in (existing or "").split(os.pathsep) if p and p != SITE_DIR]
    return os.pathsep.join([SITE_DIR, *parts])


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _activate() -> None:
    store = os.environ.get(STORE_VAR)
    ref = os.environ.get(REF_VAR)
    if not store or not ref:
        return
    mode = os.environ.get(MODE_VAR) or "lazy"
    try:
        import lazypath

        tree = lazypath.activate(
            store, ref, mode=mode, cache_dir=os.environ.get(CACHE_VAR) or None, replace=False
        )
        # activate() put the root first; it takes our place instead, i.e. the
        # place PYTHONPATH gave lazypath/_site (as eager mode's tree would).
        sys.path.remove(tree.path)
        at = next((i for i, p in enumerate(sys.path) if p and _same(p, SITE_DIR)), None)
        if at is None:
            sys.path.insert(0, tree.path)
        else:
            sys.path[at] = tree.path
    except Exception as e:
        msg = f"{type(e).__name__}: {e}".replace("\n", " ")
        print(f"lazypath: cannot activate {ref} from '{store}': {msg}", file=sys.stderr)


def _chain(this_file: str) -> None:
    """Runs the next sitecustomize on sys.path, as if ours were not there."""
    here = os.path.dirname(os.path.abspath(this_file))
    rest = [p for p in sys.path if not (p and _same(p, here))]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # as site.py itself treats a failing sitecustomize
        print(f"Error in sitecustomize; set PYTHONVERBOSE for traceback: {e!r}", file=sys.stderr)


def boot(this_file: str) -> None:
    _activate()
    _chain(this_file)
