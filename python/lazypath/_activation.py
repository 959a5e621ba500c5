"""Activation: the one place that opens a tree and keeps the process's trees.

Every path into a tree goes through open_tree(): lazypath.activate() (then
sys.path), lazypath.pull() and `lazypath activate` (the node cache only), the
Ray plugin (which holds the lease for Ray), `lazypath run` and the lazy boot
of processes we start (lazypath/_boot.py, through activate()). open_tree()
returns the core's ActiveTree as it is, plus what the caller must keep: the
lease's file descriptor and, in lazy mode, the core's LazyTree.

The registry of trees this process activated (_active) lives here too: it
decides what `replace` drops from sys.path, where materialize() looks, and
which profile recorders save at exit.
"""

import os
import sys

# threading.Lock is _thread's lock: taking it from _thread keeps threading
# (and collections, functools) off a warm activation's path (bench/startup.py).
from _thread import allocate_lock

from lazypath.errors import InvalidInputError

MODES = ("eager", "lazy")


def _load_core():
    import lazypath

    return lazypath._load_core()


def _path(value) -> str:
    return os.fspath(value) if value else ""


def check_mode(mode: str, on_demand) -> list[str]:
    """Validates mode and on_demand together; returns on_demand as a list."""
    if mode not in MODES:
        raise InvalidInputError(f"activation mode '{mode}': want 'eager' or 'lazy'")
    if on_demand is None:
        return []
    if isinstance(on_demand, (str, bytes, os.PathLike)):
        raise InvalidInputError("on_demand: want a list of directories, not one string")
    out = [os.fspath(d) for d in on_demand]
    if out and mode != "lazy":
        raise InvalidInputError("on_demand applies to mode='lazy' only")
    return out


class OpenTree:
    """What open_tree() hands back: the tree, its lease, its LazyTree (lazy)."""

    __slots__ = ("tree", "lease_fd", "lazy")

    def __init__(self, tree, lease_fd: int, lazy=None):
        self.tree = tree  # lazypath.ActiveTree
        self.lease_fd = lease_fd  # -1 without a lease
        self.lazy = lazy  # lazypath._core.LazyTree in lazy mode, else None

    def release(self) -> None:
        if self.lease_fd >= 0:
            os.close(self.lease_fd)
            self.lease_fd = -1


def child_env(
    store,
    tree,
    *,
    mode: str = "eager",
    cache_dir=None,
    on_demand=None,
    policy: dict | None = None,
    keep_inherited_policy: bool = False,
) -> dict:
    """The environment (a new dict built from os.environ) under which a
    process this one starts sees `tree`, an ActiveTree opened from `store`
    (by open_tree() or pull()) in `mode`. Eager: the tree's path goes first
    on PYTHONPATH. Lazy: the child activates the tree at start-up, before
    its own code runs (lazypath/_boot.py). With `policy` (lazypath.policy),
    the child enforces it from start-up; an inherited policy is dropped
    unless `keep_inherited_policy`.
    """
    from lazypath import _boot

    return _boot.child_env(
        _path(store),
        tree,
        mode,
        _path(cache_dir) or None,
        list(on_demand) if on_demand else None,
        policy,
        keep_inherited_policy=keep_inherited_policy,
    )


def open_tree(
    store,
    ref: str,
    *,
    mode: str = "eager",
    cache_dir=None,
    threads: int = 8,
    lease: bool = True,
    progress=None,
    on_demand=None,
) -> OpenTree:
    """Materialises tree `ref` in the node cache (lazy: its root) without
    touching this process's sys.path, for a caller that hands the tree to
    another process (`lazypath run` execs one with the lease inherited).

    With `lease`, the returned OpenTree holds a lease on the tree (its
    `lease_fd`; while open, no eviction removes the tree) that the caller
    ends with release(), or passes on to a child. Without `lease`, the
    tree's use is still recorded (for LRU eviction): a lease is taken and
    dropped at once."""
    on_demand = check_mode(mode, on_demand)
    core = _load_core()
    if mode == "lazy":
        lazy = core.LazyTree.open(
            os.fspath(store),
            ref,
            cache_dir=_path(cache_dir),
            threads=threads,
            lease=True,
            on_demand=on_demand,
        )
        opened = OpenTree(lazy.snapshot(), lazy.take_lease_fd(), lazy)
    else:
        tree = core.activate(
            os.fspath(store),
            ref,
            cache_dir=_path(cache_dir),
            threads=threads,
            lease=True,
            progress=progress,
        )
        opened = OpenTree(tree, tree._take_lease_fd())
    if not lease:
        opened.release()
    return opened


# ---------------------------------------------------------------- the registry

_lock = allocate_lock()
_active: dict = {}  # tree path -> Activation, for trees this process activated
_recorders: list = []
_atexit_registered = False


def _forget_tree(path: str) -> None:
    """Removes an earlier tree from sys.path and the modules loaded from it."""
    while path in sys.path:
        sys.path.remove(path)
    prefix = path.rstrip(os.sep) + os.sep
    for name, mod in list(sys.modules.items()):
        origin = getattr(mod, "__file__", None)
        locations = getattr(getattr(mod, "__spec__", None), "submodule_search_locations", None)
        paths = [origin] if origin else []
        paths += list(locations or [])
        if paths and all(p and p.startswith(prefix) for p in paths):
            del sys.modules[name]


def _save_profiles() -> None:
    for recorder in _recorders:
        recorder.save()
    _recorders.clear()


def _record(store: str, tree, lazy):
    """A ProfileRecorder for a lazy activation with profile="record"."""
    global _atexit_registered
    from lazypath._lazy import PROFILE_FILE_ENV_VAR, ProfileRecorder

    if lazy.complete:
        import warnings

        warnings.warn(
            f"lazypath: {tree.digest} is complete in the node cache, so there is"
            " nothing to record; use `lazypath profile` (it records into a fresh cache)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    recorder = ProfileRecorder(store, tree.digest, os.environ.get(PROFILE_FILE_ENV_VAR))
    _recorders.append(recorder)
    if not _atexit_registered:
        import atexit

        atexit.register(_save_profiles)
        _atexit_registered = True
    return recorder


def activate(
    store,
    ref: str,
    *,
    mode: str = "eager",
    cache_dir=None,
    threads: int = 8,
    replace: bool = True,
    progress=None,
    profile: str | None = None,
    on_demand=None,
    policy=None,
):
    """Make the tree `ref` (a tag or "sha256:<hex>") importable in this process.

    The tree is materialised in the node cache (fetching only what the cache
    lacks) and put first on sys.path. With `replace` (the default), trees
    this process activated before are taken off sys.path and modules loaded
    from them are dropped from sys.modules, so the next import loads the new
    code; objects that already hold the old modules keep them.

    While a tree is active this process holds a lease on it, so cache
    eviction (`lazypath cache gc`, LAZYPATH_CACHE_MAX) never removes it; the
    lease ends with the process, or when `replace` drops the tree.

    Lazy mode only, `profile` (default: $LAZYPATH_PROFILE, else "prefetch"):
    "prefetch" fetches the tree's profiled directories on a background thread
    while the program starts; "record" notes every directory this process
    imports from and saves them as the tree's profile at exit (or when the
    tree is replaced); "off" does neither. See doc/lazy.md.

    Lazy mode only, `on_demand`: directories without code (e.g. ["data",
    "models"]) that stay out when their parent is materialised, until
    `lazypath.materialize()` asks for a path in them.

    `policy` (a dict or JSON string, doc/policy.md): checked against this
    interpreter and sys.path once the tree is on it, then kept true whenever
    sys.path changes; a refusal raises lazypath.policy.PolicyViolation (one
    line) and leaves the tree off sys.path. Returns an ActiveTree.
    """
    check_mode(mode, on_demand)
    if policy is not None:
        from lazypath import policy as lppolicy

        policy = lppolicy.parse(policy)
    if mode == "lazy":
        from lazypath._lazy import profile_setting

        if profile is None:
            profile = profile_setting()
        if profile not in ("prefetch", "record", "off"):
            raise InvalidInputError(f"profile '{profile}': want 'prefetch', 'record' or 'off'")
    elif profile not in (None, "prefetch", "record", "off"):
        raise InvalidInputError(f"profile '{profile}': want 'prefetch', 'record' or 'off'")
    opened = open_tree(
        store,
        ref,
        mode=mode,
        cache_dir=cache_dir,
        threads=threads,
        progress=progress,
        on_demand=on_demand,
    )
    tree, lazy = opened.tree, opened.lazy
    finder = prefetch = None
    if lazy is not None and not lazy.complete:
        from lazypath._lazy import LazyFinder, Prefetch

        recorder = _record(os.fspath(store), tree, lazy) if profile == "record" else None
        finder = LazyFinder(lazy, recorder)
        if profile == "prefetch":
            prefetch = Prefetch(lazy, os.fspath(store))
    elif lazy is not None and profile == "record":
        _record(os.fspath(store), tree, lazy)
    with _lock:
        if replace:
            for old in [p for p in _active if p != tree.path]:
                _forget_tree(old)
                _active.pop(old).close()
        while tree.path in sys.path:
            sys.path.remove(tree.path)
        sys.path.insert(0, tree.path)
        from lazypath import _bytecode  # builtin modules only: cheap

        _bytecode.install(tree.path)  # bytecode from the node cache (doc/bytecode.md)
        if tree.path in _active:
            opened.release()  # already held by an earlier activation
        else:
            _active[tree.path] = Activation(tree.path, opened.lease_fd, finder, prefetch)
        _invalidate_caches()
    if policy is not None:
        try:
            lppolicy.enforce(policy, tree.path)
        except lppolicy.PolicyViolation:
            guard = lppolicy.installed()
            if guard is not None:
                sys.meta_path.remove(guard)
            with _lock:
                _forget_tree(tree.path)
                a = _active.pop(tree.path, None)
                if a is not None:
                    a.close()
            raise
    return tree


def _invalidate_caches() -> None:
    # importlib.invalidate_caches() as written in Python 3.10-3.13, without
    # importing importlib (and warnings) on the warm path.
    for finder in sys.meta_path:
        if hasattr(finder, "invalidate_caches"):
            finder.invalidate_caches()


def pull(
    store,
    ref: str,
    *,
    mode: str = "eager",
    cache_dir=None,
    threads: int = 8,
    progress=None,
    on_demand=None,
):
    """Materialise a tree in the node cache without touching sys.path; its
    use is recorded for LRU eviction. Returns an ActiveTree."""
    return open_tree(
        store,
        ref,
        mode=mode,
        cache_dir=cache_dir,
        threads=threads,
        lease=False,
        progress=progress,
        on_demand=on_demand,
    ).tree


def prefetch_of(path: str):
    """The Prefetch of the lazy tree at `path` activated by this process, or None."""
    with _lock:
        a = _active.get(path)
    return a.prefetch if a is not None else None


def materialize(path) -> str:
    """Makes a file or directory of a lazily activated tree usable by path.

    Lazy activation materialises a package's own directory when it is
    imported; a data file elsewhere (a non-package data/ directory, say) is
    only there after this call. For a directory, its whole subtree is
    materialised. Paths inside eagerly activated trees are already complete.
    Returns the absolute path.
    """
    full = os.path.abspath(os.fspath(path))
    with _lock:
        activations = list(_active.values())
    for a in activations:
        if full == a.path or full.startswith(a.path + os.sep):
            if a.finder is not None:
                a.finder.materialize(full)
            return full
    raise InvalidInputError(f"{full}: not inside a tree activated by this process")


class Activation:
    """What activate() holds for one tree: its lease and, if lazy, its finder,
    prefetch and profile recorder."""

    def __init__(self, path: str, lease_fd: int, finder=None, prefetch=None):
        self.path = path
        self.lease_fd = lease_fd
        self.finder = finder
        self.prefetch = prefetch
        if finder is not None:
            sys.meta_path.insert(0, finder)

    def close(self) -> None:
        if self.finder is not None and self.finder.recorder is not None:
            self.finder.recorder.save()
            self.finder.recorder = None
        if self.finder is not None and self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        if self.lease_fd >= 0:
            os.close(self.lease_fd)
            self.lease_fd = -1
