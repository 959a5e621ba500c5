"""lazypath: ship Python code to Ray clusters as content-addressed artifacts.

    import lazypath
    digest = lazypath.push("path/to/dir", "/mnt/store", tag="prod")
    tree = lazypath.activate("/mnt/store", "prod")   # tree.path, tree.digest

The C++ core (lazypath._core) does the hashing, packing, transfers and
caching; this module is the Python front.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

from lazypath import _core
from lazypath._lazy import (
    PROFILE_FILE_ENV_VAR,
    Activation,
    LazyFinder,
    Prefetch,
    ProfileRecorder,
    profile_setting,
)
from lazypath.errors import (
    ConflictError,
    CorruptError,
    InvalidInputError,
    LazypathError,
    NotFoundError,
    StorageError,
    UnavailableError,
    UnsupportedError,
)

__version__ = "0.1.0"

ProgressFn = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class PushReport:
    """What a push did. `digest` is the tree digest ("sha256:<hex>")."""

    digest: str
    tree_size: int
    files: int
    bytes: int
    files_hashed: int
    bytes_hashed: int
    blobs_total: int
    blobs_uploaded: int
    packs_uploaded: int
    bytes_uploaded: int
    tree_existed: bool
    # Everything read from the store (refs, indexes...) and every request.
    bytes_read: int = 0
    requests: int = 0
    # For a new tree: the store's indexes, and how many this push read (the
    # rest came from this machine's summary of the store, in the node cache).
    store_indexes: int = 0
    indexes_fetched: int = 0
    # The profile that ordered the packs: source (its tree digest, or None),
    # dirs, blobs_first (blobs written first for it), carried (saved as the
    # new tree's profile), warning ("" or why a tag's profile was ignored).
    profile: dict | None = None


@dataclass(frozen=True)
class ActiveTree:
    """An activated tree: its directory in the node cache and its digest."""

    path: str
    digest: str
    cached: bool
    files: int
    blobs_fetched: int
    bytes_fetched: int
    requests: int
    mode: str = "eager"
    bytes_read: int = 0  # everything read from the store: ref, tree, index, blobs


def default_cache_dir() -> str:
    """$LAZYPATH_CACHE, else $XDG_CACHE_HOME/lazypath, else ~/.cache/lazypath."""
    return _core.default_cache_dir()


def push_report(
    dir: str,
    store: str,
    *,
    tag: str | None = None,
    exclude: Iterable[str] = (),
    default_excludes: bool = True,
    gitignore: bool = True,
    cache_dir: str | None = None,
    level: int = 3,
    threads: int = 0,
    progress: ProgressFn | None = None,
    profile_from: str | None = None,
    use_profile: bool = True,
) -> PushReport:
    """Push `dir` to `store` and return the full report (see push()).

    When the tag's current tree (or `profile_from`, a tag or digest) has a
    profile, the blobs of its directories are packed first and contiguous,
    and the profile is carried over to the new tree (doc/lazy.md).
    `use_profile=False` ignores profiles."""
    d = _core.push(
        os.fspath(dir),
        os.fspath(store),
        tag=tag or "",
        excludes=list(exclude),
        default_excludes=default_excludes,
        gitignore=gitignore,
        cache_dir=os.fspath(cache_dir) if cache_dir else "",
        level=level,
        threads=threads,
        progress=progress,
        profile_from=profile_from or "",
        use_profile=use_profile,
    )
    return PushReport(**d)


def push(dir: str, store: str, *, tag: str | None = None, **kwargs) -> str:
    """Pack `dir` and upload what `store` lacks; returns the tree digest.

    `store` is a directory path or a file://, s3:// or gs:// URL. With `tag`, the ref of that
    name is pointed at the tree. `exclude` adds gitignore patterns (they win
    over .gitignore files); `default_excludes=False` ships .git, __pycache__
    and .venv too.
    """
    return push_report(dir, store, tag=tag, **kwargs).digest


def tag(store: str, ref: str, name: str, *, expect: str | None = None) -> str:
    """Point ref `name` at the tree `ref` names; returns the tree digest.

    With `expect` ("sha256:..." or "none"), only if `name` now names that tree
    (or does not exist). A ref moved by someone else meanwhile raises
    ConflictError and the ref is left as the other writer set it.
    """
    return _core.tag(os.fspath(store), ref, name, expect)


def diff(
    store: str,
    from_ref: str,
    to_ref: str | None = None,
    *,
    dir: str | None = None,
    exclude: Iterable[str] = (),
    cache_dir: str | None = None,
) -> dict:
    """What changed from tree `from_ref` to tree `to_ref` (tags or digests),
    or, with `dir` instead of `to_ref`, to the tree a push of that directory
    would make now (with `exclude` as for push; nothing is uploaded).

    Returns {"from", "to" (digests), "changes": [{"path", "change" ("A", "D"
    or "M"), "before", "after" (entries as in `lazypath show --json`, or
    None)}] by path, "added", "removed", "modified", "blobs_new",
    "bytes_new"}: the last two count the distinct blobs of `to_ref` that
    `from_ref` lacks, what a node holding `from_ref` fetches for `to_ref`.
    """
    if (to_ref is None) == (dir is None):
        raise InvalidInputError("diff: give to_ref or dir, not both")
    return _core.diff(
        os.fspath(store),
        from_ref,
        to_ref or "",
        dir=os.fspath(dir) if dir is not None else "",
        exclude=list(exclude),
        cache_dir=_cache(cache_dir),
    )


_lock = threading.Lock()
_active: dict = {}  # tree path -> Activation, for trees this process activated


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


def _on_demand(on_demand) -> list[str]:
    if on_demand is None:
        return []
    if isinstance(on_demand, (str, bytes, os.PathLike)):
        raise InvalidInputError("on_demand: want a list of directories, not one string")
    return [os.fspath(d) for d in on_demand]


def _open_lazy(store, ref: str, cache_dir, threads: int, lease: bool, on_demand=None):
    """Opens a lazy tree (root materialised); returns it and its ActiveTree."""
    lazy = _core.LazyTree.open(
        os.fspath(store),
        ref,
        cache_dir=_cache(cache_dir),
        threads=threads,
        lease=lease,
        on_demand=_on_demand(on_demand),
    )
    stats = lazy.stats()
    return lazy, ActiveTree(
        path=lazy.root,
        digest=lazy.digest,
        cached=lazy.complete or stats["dirs_materialized"] == 0,
        files=0,
        blobs_fetched=stats["blobs_fetched"],
        bytes_fetched=stats["bytes_fetched"],
        requests=stats["requests"],
        mode="lazy",
        bytes_read=stats["bytes_read"],
    )


def activate(
    store: str,
    ref: str,
    *,
    mode: str = "eager",
    cache_dir: str | None = None,
    threads: int = 8,
    replace: bool = True,
    progress: ProgressFn | None = None,
    profile: str | None = None,
    on_demand: Iterable[str] | None = None,
) -> ActiveTree:
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
    """
    if mode not in ("eager", "lazy"):
        raise InvalidInputError(f"activation mode '{mode}': want 'eager' or 'lazy'")
    if on_demand and mode != "lazy":
        raise InvalidInputError("on_demand applies to mode='lazy' only")
    if profile is None:
        profile = profile_setting()
    if profile not in ("prefetch", "record", "off"):
        raise InvalidInputError(f"profile '{profile}': want 'prefetch', 'record' or 'off'")
    finder = None
    prefetch = None
    if mode == "lazy":
        lazy, tree = _open_lazy(store, ref, cache_dir, threads, lease=True, on_demand=on_demand)
        lease_fd = lazy.take_lease_fd()
        recorder = None
        if profile == "record":
            if lazy.complete:
                import warnings

                warnings.warn(
                    f"lazypath: {tree.digest} is complete in the node cache, so there is"
                    " nothing to record; use `lazypath profile` (it records into a fresh cache)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                recorder = ProfileRecorder(
                    os.fspath(store), tree.digest, os.environ.get(PROFILE_FILE_ENV_VAR)
                )
                _recorders.append(recorder)
        if not lazy.complete:
            finder = LazyFinder(lazy, recorder)
            if profile == "prefetch":
                prefetch = Prefetch(lazy, os.fspath(store))
    else:
        d = _core.activate(
            os.fspath(store),
            ref,
            cache_dir=_cache(cache_dir),
            threads=threads,
            lease=True,
            progress=progress,
        )
        lease_fd = d.pop("lease_fd")
        tree = ActiveTree(**d)
    with _lock:
        if replace:
            for old in [p for p in _active if p != tree.path]:
                _forget_tree(old)
                _active.pop(old).close()
        while tree.path in sys.path:
            sys.path.remove(tree.path)
        sys.path.insert(0, tree.path)
        if tree.path in _active:
            os.close(lease_fd)  # already held by an earlier activation
        else:
            _active[tree.path] = Activation(tree.path, lease_fd, finder, prefetch)
        importlib.invalidate_caches()
    return tree


_recorders: list = []


@atexit.register
def _save_profiles() -> None:
    for recorder in _recorders:
        recorder.save()
    _recorders.clear()


def _prefetch_of(path: str):
    """The Prefetch of the lazy tree at `path` activated by this process, or None."""
    with _lock:
        a = _active.get(path)
    return a.prefetch if a is not None else None


def _cache(cache_dir: str | None) -> str:
    return os.fspath(cache_dir) if cache_dir else ""


def materialize(path: str) -> str:
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


def pull(store: str, ref: str, **kwargs) -> ActiveTree:
    """Materialise a tree in the node cache without touching sys.path."""
    mode = kwargs.pop("mode", "eager")
    cache_dir = kwargs.pop("cache_dir", None)
    on_demand = kwargs.pop("on_demand", None)
    if mode == "lazy":
        threads = kwargs.get("threads", 8)
        return _open_lazy(store, ref, cache_dir, threads, lease=False, on_demand=on_demand)[1]
    if on_demand:
        raise InvalidInputError("on_demand applies to mode='lazy' only")
    if mode != "eager":
        raise InvalidInputError(f"activation mode '{mode}': want 'eager' or 'lazy'")
    d = _core.activate(
        os.fspath(store), ref, cache_dir=os.fspath(cache_dir) if cache_dir else "", **kwargs
    )
    d.pop("lease_fd")
    return ActiveTree(**d)


def cache_usage(cache_dir: str | None = None) -> dict:
    """Trees (least recently used first, with in_use), blobs and their bytes."""
    return _core.cache_usage(_cache(cache_dir))


def cache_gc(cache_dir: str | None = None, max_bytes: int | None = None) -> dict:
    """Evicts least recently used trees no live process uses until the blob
    cache fits `max_bytes` (default: LAZYPATH_CACHE_MAX; unset: no limit), and
    removes unreferenced blobs and crash debris."""
    if max_bytes is None:
        max_bytes = _core.cache_budget_from_env() or (1 << 64) - 1
    return _core.cache_gc(_cache(cache_dir), max_bytes)


def cache_evict(digest: str, cache_dir: str | None = None) -> dict:
    """Removes tree `digest` ("sha256:<hex>", eager and lazy copies) from the
    node cache unless a live process uses it, then the blobs no other tree
    links. Returns evicted, in_use, blobs_removed and bytes_freed."""
    return _core.cache_evict(_cache(cache_dir), digest)


def cache_clear(cache_dir: str | None = None) -> dict:
    """Removes every tree and blob that no live process is using."""
    return _core.cache_gc(_cache(cache_dir), 0)


def cache_verify(cache_dir: str | None = None, repair: bool = True) -> dict:
    """Re-hashes every cached blob; with `repair`, removes bad ones and
    unpublishes the trees that link them so they are fetched again."""
    return _core.cache_verify(_cache(cache_dir), repair)


__all__ = [
    "ActiveTree",
    "PushReport",
    "activate",
    "cache_clear",
    "cache_evict",
    "cache_gc",
    "cache_usage",
    "cache_verify",
    "default_cache_dir",
    "diff",
    "materialize",
    "pull",
    "push",
    "push_report",
    "tag",
    "LazypathError",
    "NotFoundError",
    "InvalidInputError",
    "CorruptError",
    "StorageError",
    "UnsupportedError",
    "UnavailableError",
    "ConflictError",
]
