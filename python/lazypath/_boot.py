"""Activating a tree in a new Python process before its own code runs.

Lazy activation needs an import hook in the process, and the process may be
one we do not start ourselves (a Ray worker, the program under `lazypath
profile`). So the starter puts lazypath/_site on PYTHONPATH and describes the
tree in the environment:

    LAZYPATH_BOOT_STORE  store URL            LAZYPATH_BOOT_REF  sha256:<hex>
    LAZYPATH_BOOT_MODE   lazy (or eager)      LAZYPATH_BOOT_CACHE  node cache
    LAZYPATH_BOOT_NAMES  the tree's top-level module names, comma-separated
                         (optional; see below)
    LAZYPATH_BOOT_ON_DEMAND  lazy mode's on_demand directories, one per line
    LAZYPATH_POLICY      a sys.path policy to enforce from here on (eager or
                         lazy; lazypath/policy.py, doc/policy.md)

Python's site module imports the first `sitecustomize` on sys.path, which is
ours (PYTHONPATH comes before site-packages). boot() activates the tree and
puts its root where lazypath/_site was on sys.path (the place PYTHONPATH gave
it), then runs the next sitecustomize on sys.path (a distribution's or the
virtualenv's), so shadowing one changes nothing else. It never raises: a
failure is one line on stderr, and the process goes on without the tree.
Importing one of LAZYPATH_BOOT_NAMES then fails with that cause in the
ModuleNotFoundError (when nothing else on sys.path provides the name), so a
Ray task names the real problem instead of a bare "No module named".
Limits: `python -S` / `-I` skip site and so the activation too.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

STORE_VAR = "LAZYPATH_BOOT_STORE"
REF_VAR = "LAZYPATH_BOOT_REF"
MODE_VAR = "LAZYPATH_BOOT_MODE"
CACHE_VAR = "LAZYPATH_BOOT_CACHE"
NAMES_VAR = "LAZYPATH_BOOT_NAMES"
ON_DEMAND_VAR = "LAZYPATH_BOOT_ON_DEMAND"
# An eager tree on PYTHONPATH whose bytecode the boot hooks (doc/bytecode.md).
BYTECODE_TREE_VAR = "LAZYPATH_BYTECODE_TREE"
MAX_NAMES = 1000

SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_site")


def env(
    store: str,
    ref: str,
    mode: str = "lazy",
    cache_dir: str | None = None,
    root: str | None = None,
    on_demand: list | None = None,
) -> dict:
    """The environment variables that make a new process activate `ref`.

    `root`: the tree's (possibly lazy) root, whose top-level module names
    the process then names in errors if its activation fails."""
    out = {STORE_VAR: store, REF_VAR: ref, MODE_VAR: mode}
    if cache_dir:
        out[CACHE_VAR] = cache_dir
    if root:
        names = top_level_names(root)
        if names:
            out[NAMES_VAR] = ",".join(names)
    if on_demand:
        out[ON_DEMAND_VAR] = "\n".join(on_demand)
    return out


def top_level_names(root: str) -> list[str]:
    """The names `import NAME` finds in directory `root` (at most MAX_NAMES):
    packages (a lazy root holds placeholders for them), namespace packages
    and modules."""
    suffixes = sorted(importlib.machinery.all_suffixes(), key=len, reverse=True)
    names = set()
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for e in entries:
        name = e.name
        try:
            if e.is_dir():
                if name.isidentifier():
                    names.add(name)
                continue
        except OSError:
            continue
        for suffix in suffixes:
            stem = name[: -len(suffix)]
            if name.endswith(suffix) and stem.isidentifier():
                names.add(stem)
                break
    return sorted(names)[:MAX_NAMES]


def pythonpath(existing: str | None) -> str:
    """PYTHONPATH with lazypath/_site first (once)."""
    parts = [p for p in (existing or "").split(os.pathsep) if p and p != SITE_DIR]
    return os.pathsep.join([SITE_DIR, *parts])


def child_env(
    store: str,
    tree,
    mode: str,
    cache_dir: str | None = None,
    on_demand: list | None = None,
    policy: dict | None = None,
    *,
    keep_inherited_policy: bool = False,
) -> dict:
    """The environment a child process we start needs to see `tree` (an
    ActiveTree this process opened from `store`), built from os.environ.

    lazy: the tree is described by env() and lazypath/_site goes first on
    PYTHONPATH, so the child activates it before its own code runs. eager:
    the tree's path goes first on PYTHONPATH (once), an inherited boot
    description is dropped, and lazypath/_site follows the tree, so that the
    child's boot hooks it for the bytecode cache and, with `policy`,
    enforces that. With `policy` its variables are set
    (lazypath/policy.py env()); an inherited LAZYPATH_POLICY and
    LAZYPATH_POLICY_TREE are dropped first unless `keep_inherited_policy`.
    With `cache_dir`, LAZYPATH_CACHE is its absolute path.
    """
    out = dict(os.environ)
    if not keep_inherited_policy:
        for var in ("LAZYPATH_POLICY", "LAZYPATH_POLICY_TREE"):
            out.pop(var, None)
    if mode == "lazy":
        out.pop(BYTECODE_TREE_VAR, None)
        out.update(env(store, tree.digest, "lazy", cache_dir, tree.path, on_demand=on_demand))
        out["PYTHONPATH"] = pythonpath(out.get("PYTHONPATH"))
    else:
        for var in (STORE_VAR, REF_VAR):
            out.pop(var, None)
        skip = {tree.path, SITE_DIR}
        rest = [p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p and p not in skip]
        # lazypath/_site after the tree: the child's boot hooks the tree for
        # the bytecode cache (and enforces `policy`), then leaves sys.path.
        out["PYTHONPATH"] = os.pathsep.join([tree.path, SITE_DIR, *rest])
        out[BYTECODE_TREE_VAR] = tree.path
    if policy is not None:
        from lazypath import policy as lppolicy

        out.update(lppolicy.env(policy, tree.path))
    if cache_dir:
        out["LAZYPATH_CACHE"] = os.path.abspath(cache_dir)
    return out


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

        on_demand = [d for d in (os.environ.get(ON_DEMAND_VAR) or "").split("\n") if d]
        tree = lazypath.activate(
            store,
            ref,
            mode=mode,
            cache_dir=os.environ.get(CACHE_VAR) or None,
            replace=False,
            on_demand=on_demand or None,
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
        line = f"lazypath: cannot activate {ref} from '{store}': {msg}"
        print(line, file=sys.stderr)
        names = {n for n in (os.environ.get(NAMES_VAR) or "").split(",") if n}
        if names:
            sys.meta_path.append(_Unavailable(names, line))


class _Unavailable:
    """Last on sys.meta_path after a failed activation: an import of one of
    the tree's top-level names that nothing else found fails with the cause.
    Other names, and names found elsewhere, are left alone."""

    def __init__(self, names: set[str], line: str) -> None:
        self.names = names
        self.line = line

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in self.names:
            raise ModuleNotFoundError(f"No module named '{fullname}' ({self.line})", name=fullname)
        return None

    def invalidate_caches(self) -> None:
        pass


def _chain(this_file: str) -> None:
    """Runs the next sitecustomize on sys.path, as if ours were not there."""
    here = os.path.dirname(os.path.abspath(this_file))
    rest = [p for p in sys.path if not (p and _same(p, here))]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    # Only now: importlib.util's own imports cost every boot milliseconds.
    from importlib.util import module_from_spec

    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # as site.py itself treats a failing sitecustomize
        print(f"Error in sitecustomize; set PYTHONVERBOSE for traceback: {e!r}", file=sys.stderr)


def _policy() -> None:
    """$LAZYPATH_POLICY (lazypath/policy.py): enforced from here on. In eager
    mode lazypath/_site is on PYTHONPATH only for this, so it leaves sys.path."""
    if not os.environ.get("LAZYPATH_POLICY"):
        return
    if not os.environ.get(STORE_VAR):
        sys.path[:] = [p for p in sys.path if not (p and _same(p, SITE_DIR))]
    from lazypath import policy

    policy.boot()


def _bytecode() -> None:
    """An eager tree on PYTHONPATH is not activated here; its bytecode comes
    from the node cache all the same (doc/bytecode.md). The tree is
    $LAZYPATH_BYTECODE_TREE (the Ray plugin sets it), else the policy's.
    lazypath/_site, on PYTHONPATH only for this boot, leaves sys.path."""
    if os.environ.get(STORE_VAR):
        return  # lazy: _activate() did it
    tree = os.environ.get(BYTECODE_TREE_VAR) or os.environ.get("LAZYPATH_POLICY_TREE")
    if not tree:
        return
    if os.environ.get(BYTECODE_TREE_VAR):
        sys.path[:] = [p for p in sys.path if not (p and _same(p, SITE_DIR))]
    if tree in sys.path:
        from lazypath import _bytecode

        _bytecode.install(tree)


def boot(this_file: str) -> None:
    _activate()
    _policy()
    _bytecode()
    _chain(this_file)
