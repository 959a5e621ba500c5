"""lazypath: ship Python code to Ray clusters as content-addressed artifacts.

    import lazypath
    digest = lazypath.push("path/to/dir", "/mnt/store", tag="prod")
    tree = lazypath.activate("/mnt/store", "prod")   # tree.path, tree.digest

The C++ core (lazypath._core) does the hashing, packing, transfers and
caching; this module is the Python front. Importing it loads nothing else:
the core extension is loaded by the first call that needs it, so `import
lazypath`, `lazypath --version` and `lazypath doctor` work (and stay fast)
even where the core can't load.

Results are the core's own record classes (PushReport, ActiveTree,
CacheUsage, ...): read-only attributes, `r["name"]` and `r.to_dict()` by the
same names as `--json` prints.
"""

import os

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

# Record classes of the core, importable from here: lazypath.PushReport, ...
_RECORDS = (
    "ActiveTree",
    "CacheUsage",
    "CachedTree",
    "Change",
    "DiffReport",
    "Entry",
    "EvictReport",
    "GcReport",
    "OpenedFile",
    "Profile",
    "PruneReport",
    "PushReport",
    "RefChange",
    "RefMove",
    "StoreListing",
    "TreeListing",
    "VerifyReport",
)
_ACTIVATION = ("activate", "child_env", "pull", "materialize", "open_tree", "OpenTree")


def __getattr__(name: str):
    if name in _RECORDS:
        return getattr(_load_core(), name)
    if name in _ACTIVATION:
        from lazypath import _activation

        return getattr(_activation, name)
    raise AttributeError(f"module 'lazypath' has no attribute {name!r}")


def _load_core():
    """The core extension, loaded on first use (see the module docstring).

    Where it can't load (a shared library missing or broken), the verb that
    needs it fails with one LazypathError line naming the module and the
    cause; `import lazypath`, --version, --help and the doctor never get here.
    """
    try:
        from lazypath import _core as core
    except ImportError as e:
        raise LazypathError(
            f"cannot load lazypath's core extension (lazypath._core): {' '.join(str(e).split())}"
        ) from e
    return core


def _path(value) -> str:
    return os.fspath(value) if value else ""


def default_cache_dir() -> str:
    """$LAZYPATH_CACHE, else $XDG_CACHE_HOME/lazypath, else ~/.cache/lazypath."""
    return _load_core().default_cache_dir()


def parse_duration(text: str) -> int:
    """Seconds in a duration such as "90", "90s", "15m", "24h", "7d", "2w";
    InvalidInputError otherwise."""
    return _load_core().parse_duration(text)


def parse_size(text: str) -> int:
    """Bytes in a size such as "20G", "512m", "4096" (the grammar of
    LAZYPATH_CACHE_MAX and `cache gc --max`); InvalidInputError otherwise."""
    return _load_core().parse_size(text)


def push_report(
    dir,
    store,
    *,
    tag: str | None = None,
    exclude=(),
    default_excludes: bool = True,
    gitignore: bool = True,
    cache_dir=None,
    level: int = 1,
    threads: int = 0,
    progress=None,
    profile_from: str | None = None,
    use_profile: bool = True,
    strict: bool = False,
    format: int | None = None,
    actor: str | None = None,
):
    """Push `dir` to `store` and return the full PushReport (see push()).

    `format` is the store format to write (doc/format.md): by default 2 (a
    directory object per directory, large files chunked, locations per
    push); 1 writes a flat tree and an index per tree. Everything reads
    both. The tag's move is recorded in its history (log()) as made
    by `actor` (default: $LAZYPATH_ACTOR, else user@host).

    When the tag's current tree (or `profile_from`, a tag or digest) has a
    profile, the blobs of its directories are packed first and contiguous,
    and the profile is carried over to the new tree (doc/lazy.md).
    `use_profile=False` ignores profiles.

    `report.warnings` lists what may break the tree on a node (names that
    differ only in case from a stdlib module or a name on this sys.path, long
    names and paths, files others cannot read; doc/policy.md); with `strict`
    they fail the push with InvalidInputError before anything is uploaded."""
    import sys

    from lazypath._boot import top_level_names

    target = set()
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            target.update(top_level_names(entry))
    return _load_core().push(
        os.fspath(dir),
        os.fspath(store),
        tag=tag or "",
        excludes=list(exclude),
        default_excludes=default_excludes,
        gitignore=gitignore,
        cache_dir=_path(cache_dir),
        level=level,
        threads=threads,
        progress=progress,
        profile_from=profile_from or "",
        use_profile=use_profile,
        portability=True,
        stdlib_names=sorted(getattr(sys, "stdlib_module_names", ())),
        target_names=sorted(target),
        strict=strict,
        actor=actor or "",
        **({} if format is None else {"format": format}),
    )


def push(dir, store, *, tag: str | None = None, **kwargs) -> str:
    """Pack `dir` and upload what `store` lacks; returns the tree digest.

    `store` is a directory path or a file://, s3:// or gs:// URL. With `tag`, the ref of that
    name is pointed at the tree. `exclude` adds gitignore patterns (they win
    over .gitignore files); `default_excludes=False` ships .git, __pycache__
    and .venv too.
    """
    return push_report(dir, store, tag=tag, **kwargs).digest


def scan(dir, *, exclude=(), default_excludes: bool = True, gitignore: bool = True):
    """The tree a push of `dir` would make now (a ScanReport: digest,
    entries, files, bytes...), without a store and without a stat cache."""
    return _load_core().scan(
        os.fspath(dir),
        excludes=list(exclude),
        default_excludes=default_excludes,
        gitignore=gitignore,
    )


def tag(store, ref: str, name: str, *, expect: str | None = None, actor: str | None = None) -> str:
    """Point ref `name` at the tree `ref` names; returns the tree digest.

    With `expect` ("sha256:..." or "none"), only if `name` now names that tree
    (or does not exist). A ref moved by someone else meanwhile raises
    ConflictError and the ref is left as the other writer set it. The move is
    recorded in the ref's history (log()) as made by `actor` (default:
    $LAZYPATH_ACTOR, else user@host).
    """
    return _load_core().tag(os.fspath(store), ref, name, expect, actor or "")


def untag(store, name: str, *, expect: str | None = None, actor: str | None = None):
    """Remove ref `name` (its tree stays in the store); the removal is recorded
    in the ref's history. With `expect` ("sha256:..."), only if `name` names
    that tree (else ConflictError). NotFoundError when there is no such ref.
    Returns a RefChange (from_digest: what it named; to_digest: None)."""
    return _load_core().delete_ref(os.fspath(store), name, expect, actor or "")


def log(store, ref: str) -> list:
    """The recorded moves of ref `ref` (a name), oldest first: RefMove records
    (seq, time, op, from_digest, to_digest, actor, applied). A move whose
    writer died before moving the ref has applied=False. CorruptError for a
    damaged history (doc/format.md, "Ref history")."""
    return _load_core().ref_log(os.fspath(store), ref)


def rollback(
    store,
    ref: str,
    *,
    to: str | None = None,
    steps: int | None = None,
    expect: str | None = None,
    actor: str | None = None,
):
    """Move ref `ref` back: to tree `to` (a digest or unique prefix the ref named
    before, per its history), or to where it was `steps` moves ago (default
    1). The same compare-and-swap as tag(): a ref moved meanwhile, or not at
    `expect`, raises ConflictError. Returns a RefChange (from_digest,
    to_digest, moved)."""
    if to is not None and steps is not None:
        raise InvalidInputError("rollback: give `to` or `steps`, not both")
    if steps is not None and steps < 1:
        raise InvalidInputError(f"rollback: steps must be at least 1, not {steps}")
    return _load_core().rollback(os.fspath(store), ref, to, steps or 0, expect, actor or "")


def _seconds(value, what: str) -> int:
    """A duration as seconds: an int, or text such as "24h" (the core's
    grammar: N, Ns, Nm, Nh, Nd, Nw)."""
    if isinstance(value, bool):
        raise InvalidInputError(f"prune: {what} must be a duration, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidInputError(f"prune: {what} must not be negative, not {value}")
        return value
    if isinstance(value, str):
        return _load_core().parse_duration(value)
    raise InvalidInputError(f"prune: {what} must be a duration such as 7d, not {value!r}")


def prune(
    store,
    *,
    keep_last: int = 10,
    keep_within="7d",
    grace="24h",
    dry_run: bool = False,
    lock_timeout="6h",
    actor: str | None = None,
    progress=None,
):
    """Delete what the retention rules do not keep (doc/lifecycle.md).

    Kept: every tree a ref names now, the trees the last `keep_last` moves of
    each ref went to, and every tree a ref move within `keep_within` named
    (durations: seconds, or "90s", "15m", "24h", "7d", "2w"). What only other
    trees use is condemned first and deleted by a later run once condemned for
    `grace`, if still unused then. With dry_run nothing is written. Returns a
    PruneReport. ConflictError when another prune holds the store's lock;
    UnsupportedError for a read-only (https://) store."""
    if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0:
        raise InvalidInputError(f"prune: keep_last must be a count >= 0, not {keep_last!r}")
    return _load_core().prune(
        os.fspath(store),
        keep_last,
        _seconds(keep_within, "keep_within"),
        _seconds(grace, "grace"),
        bool(dry_run),
        _seconds(lock_timeout, "lock_timeout"),
        actor or "",
        progress,
    )


def ls(store):
    """The store's refs ({name: digest}) and trees, a StoreListing."""
    return _load_core().list_store(os.fspath(store))


def show(store, ref: str):
    """Tree `ref` (a tag or digest), verified: a TreeListing (digest, entries)."""
    return _load_core().show(os.fspath(store), ref)


def cat(store, ref: str, path: str) -> bytes:
    """The bytes of file `path` in tree `ref`, verified (symlinks followed
    inside the tree). For large files, open_file() streams instead."""
    return _load_core().cat(os.fspath(store), ref, path)


def open_file(store, ref: str, path: str, *, cache_dir=None):
    """File `path` of tree `ref` opened for reading, at any size: an
    OpenedFile whose `fd` the caller owns (-1 for an empty file). The blob is
    fetched (streaming, verified) into the node cache when it lacks it."""
    return _load_core().open_file(os.fspath(store), ref, path, _path(cache_dir))


def diff(store, from_ref: str, to_ref: str | None = None, *, dir=None, exclude=(), cache_dir=None):
    """What changed from tree `from_ref` to tree `to_ref` (tags or digests),
    or, with `dir` instead of `to_ref`, to the tree a push of that directory
    would make now (with `exclude` as for push; nothing is uploaded).

    Returns a DiffReport: from_digest and to_digest (JSON "from", "to"),
    changes [Change(path, change "A"/"D"/"M", before, after)] by path,
    added, removed, modified, and blobs_new / bytes_new: the distinct blobs
    of `to_ref` that `from_ref` lacks, what a node holding `from_ref` fetches
    for `to_ref`.
    """
    if (to_ref is None) == (dir is None):
        raise InvalidInputError(
            "diff: give the tree to compare with (to_ref) or a directory (dir), not both"
            if to_ref is not None
            else "diff: give the tree to compare with (to_ref) or a directory (dir)"
        )
    return _load_core().diff(
        os.fspath(store),
        from_ref,
        to_ref or "",
        dir=_path(dir),
        exclude=list(exclude),
        cache_dir=_path(cache_dir),
    )


def read_profile(store, ref: str):
    """The import profile of tree `ref` (a Profile: digest, dirs), or None."""
    return _load_core().read_profile(os.fspath(store), ref)


def write_profile(store, digest: str, dirs) -> str:
    """Stores `dirs` as the import profile of tree `digest`; returns its key."""
    core = _load_core()
    core.write_profile(os.fspath(store), digest, list(dirs))
    return core.profile_key(digest)


def cache_usage(cache_dir=None):
    """The node cache (a CacheUsage): trees, least recently used first, with
    in_use; blobs and their bytes."""
    return _load_core().cache_usage(_path(cache_dir))


def cache_gc(cache_dir=None, max_bytes: int | None = None):
    """Evicts least recently used trees no live process uses until the blob
    cache fits `max_bytes` (default: LAZYPATH_CACHE_MAX; unset: no limit), and
    removes unreferenced blobs and crash debris. Returns a GcReport."""
    core = _load_core()
    if max_bytes is None:
        max_bytes = core.cache_budget_from_env() or (1 << 64) - 1
    report = core.cache_gc(_path(cache_dir), max_bytes)
    _sweep_bytecode(cache_dir)
    return report


def cache_evict(digest: str, cache_dir=None):
    """Removes tree `digest` ("sha256:<hex>", eager and lazy copies) from the
    node cache unless a live process uses it, then the blobs no other tree
    links. Returns an EvictReport (evicted, in_use, blobs_removed, bytes_freed)."""
    report = _load_core().cache_evict(_path(cache_dir), digest)
    _sweep_bytecode(cache_dir)
    return report


def cache_clear(cache_dir=None):
    """Removes every tree and blob that no live process is using, and all
    cached bytecode."""
    report = _load_core().cache_gc(_path(cache_dir), 0)
    _sweep_bytecode(cache_dir, everything=True)
    return report


def _sweep_bytecode(cache_dir, everything: bool = False) -> None:
    """The bytecode of blobs gone from the cache goes too (doc/bytecode.md)."""
    from lazypath import _bytecode

    _bytecode.sweep(_path(cache_dir) or default_cache_dir(), everything)


def cache_verify(cache_dir=None, repair: bool = True):
    """Re-hashes every cached blob; with `repair`, removes bad ones and
    unpublishes the trees that link them so they are fetched again."""
    return _load_core().cache_verify(_path(cache_dir), repair)


def _prefetch_of(path: str):
    """The Prefetch of the lazy tree at `path` this process activated, or None."""
    from lazypath._activation import prefetch_of

    return prefetch_of(path)


__all__ = [
    *_RECORDS,
    "activate",
    "cache_clear",
    "cache_evict",
    "cache_gc",
    "cache_usage",
    "cache_verify",
    "cat",
    "child_env",
    "default_cache_dir",
    "diff",
    "log",
    "ls",
    "materialize",
    "open_file",
    "open_tree",
    "OpenTree",
    "parse_duration",
    "parse_size",
    "prune",
    "pull",
    "push",
    "push_report",
    "read_profile",
    "rollback",
    "scan",
    "show",
    "tag",
    "untag",
    "write_profile",
    "LazypathError",
    "NotFoundError",
    "InvalidInputError",
    "CorruptError",
    "StorageError",
    "UnsupportedError",
    "UnavailableError",
    "ConflictError",
]
