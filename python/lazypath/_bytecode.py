"""Bytecode of activated trees, cached on the node by source content.

A tree's directory is new for every digest and read-only, so Python's own
__pycache__ can neither be reused across versions nor written. Instead, a
sys.path_hooks entry claims the directories of the trees this process
activated and gives them a FileFinder whose source loader keeps bytecode in
the node cache, keyed by what determines it:

    <node cache>/pyc/<hh>/<hex>.<cache tag>.opt<N>.pyc

<hex> is the SHA-256 of the source bytes (the blob digest the tree records
for the file), <cache tag> is sys.implementation.cache_tag and N is
sys.flags.optimize. The file is an unchecked hash-based pyc (PEP 552):
sources in a tree never change and the key names their content, so no
timestamp is consulted. Any tree holding the same blob, on any digest,
reuses it: a new digest compiles only the modules whose content changed.
See doc/bytecode.md.

A cached file is used only when its header has this interpreter's magic
number, the unchecked-hash flag and the source's hash, and its body
unmarshals to a code object; anything else is a miss, and the file is
replaced. Writes go through a temporary file in the same directory and a
rename, so readers see a complete file or none; concurrent writers of one
entry each rename a complete file, and the last one stays.

LAZYPATH_BYTECODE: "on" (default) reads and writes the cache, "read" only
reads it, "off" leaves trees to Python's own loader. PYTHONDONTWRITEBYTECODE
(sys.dont_write_bytecode) governs __pycache__ beside sources, which trees
never get; it does not stop writes to the node cache. Kept cheap to import:
builtin modules only (the frozen importlib, _imp, marshal).
"""

import _frozen_importlib_external as _bx
import _imp
import marshal
import os
import sys

ENV_VAR = "LAZYPATH_BYTECODE"
MODES = ("on", "read", "off")
PYC_DIR = "pyc"
# PEP 552 flags: bit 0 hash-based, bit 1 check_source (off: unchecked).
_FLAGS = (0b01).to_bytes(4, "little")
_HEADER = 16

# Counted per process (tests and bench/bytecode.py read them).
stats = {"hits": 0, "misses": 0, "repaired": 0, "written": 0, "write_errors": 0}

# Tree root -> its node cache's pyc/ directory. Replaced, never changed in
# place, so an import on another thread can iterate it while install() runs.
_roots: dict = {}
_sha256 = None


def mode() -> str:
    """LAZYPATH_BYTECODE, lower-cased; an unknown value counts as "on"."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    return value if value in MODES else "on"


def cache_file(pyc_dir: str, source: bytes) -> str | None:
    """Where the bytecode of `source` lives under `pyc_dir`, for this
    interpreter and optimisation level (None: no cache tag, no caching)."""
    global _sha256
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    if _sha256 is None:
        try:
            from _hashlib import openssl_sha256 as _sha256
        except ImportError:  # a Python built without OpenSSL
            from hashlib import sha256 as _sha256
    hex_ = _sha256(source).hexdigest()
    return os.path.join(pyc_dir, hex_[:2], f"{hex_}.{tag}.opt{sys.flags.optimize}.pyc")


def header(source: bytes) -> bytes:
    """The 16-byte PEP 552 header of an unchecked hash-based pyc of `source`."""
    return _bx.MAGIC_NUMBER + _FLAGS + _imp.source_hash(_bx._RAW_MAGIC_NUMBER, source)


def read(path: str, source: bytes):
    """The code object cached at `path` for `source`; None if there is no
    such file, False if it is unusable (another interpreter's, another
    source's, damaged)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) <= _HEADER or data[:_HEADER] != header(source):
        return False
    try:
        code = marshal.loads(memoryview(data)[_HEADER:])
    except (EOFError, ValueError, TypeError):
        return False
    return code if type(code) is _CodeType else False


def write(path: str, source: bytes, code) -> bool:
    """Stores `code` at `path` atomically (temporary file + rename); False
    if the cache cannot be written (read-only, full, permissions)."""
    data = header(source) + marshal.dumps(code)
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{id(code):x}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        try:
            fd = os.open(tmp, flags, 0o444)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, flags, 0o444)
    except OSError:
        return False  # nothing created (an existing name is not ours to remove)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def _pyc_dir_of(path: str) -> str | None:
    for root, pyc_dir in _roots.items():
        if path == root or path.startswith(root + os.sep):
            return pyc_dir
    return None


class TreeSourceLoader(_bx.SourceFileLoader):
    """SourceFileLoader whose bytecode lives in the node cache, by content.

    The code is compiled with the file's path in the tree, and a cached code
    object compiled for another tree gets this one's path (co_filename) as
    Python's own loader does, so tracebacks and inspect name the tree's
    file. __file__ is the tree's file; __cached__ is the node cache file
    the code came from or went to (left as Python computes it, a
    __pycache__ path that does not exist, when there is none)."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        source = self.get_data(path)
        pyc_dir = _pyc_dir_of(path)
        cached = cache_file(pyc_dir, source) if pyc_dir is not None else None
        if cached is not None:
            code = read(cached, source)
            if code:
                stats["hits"] += 1
                _imp._fix_co_filename(code, path)
                self._note_cached(fullname, cached)
                return code
            if code is False:
                stats["repaired"] += 1
        stats["misses"] += 1
        code = self.source_to_code(source, path)
        if cached is not None and mode() == "on":
            if write(cached, source, code):
                stats["written"] += 1
                self._note_cached(fullname, cached)
            else:
                stats["write_errors"] += 1
        return code

    def _note_cached(self, fullname: str, cached: str) -> None:
        module = sys.modules.get(fullname)
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.cached = cached
            module.__cached__ = cached


_CodeType = type(TreeSourceLoader.get_code.__code__)


def _path_hook(path):
    if not path or _pyc_dir_of(path) is None:
        raise ImportError("not a lazypath tree", path=path)
    if not os.path.isdir(path):
        # As Python's own FileFinder hook: a file in a tree (`python
        # main.py` asks the hooks about the script) is not a path entry.
        raise ImportError("only directories are supported", path=path)
    return _bx.FileFinder(
        path,
        (_bx.ExtensionFileLoader, _bx.EXTENSION_SUFFIXES),
        (TreeSourceLoader, _bx.SOURCE_SUFFIXES),
        (_bx.SourcelessFileLoader, _bx.BYTECODE_SUFFIXES),
    )


def install(root: str) -> bool:
    """Caches the bytecode of tree `root` (trees/<hex> or lazy/<hex> of a
    node cache) in that cache's pyc/ from now on; idempotent. False (and
    nothing changes) with LAZYPATH_BYTECODE=off, without a cache tag, or
    for a directory that is not a node cache's tree."""
    if mode() == "off" or sys.implementation.cache_tag is None:
        return False
    root = os.path.abspath(root)
    kind = os.path.basename(os.path.dirname(root))
    if kind not in ("trees", "lazy") or len(os.path.basename(root)) != 64:
        return False  # not a tree of a node cache
    global _roots
    if root not in _roots:
        pyc_dir = os.path.join(os.path.dirname(os.path.dirname(root)), PYC_DIR)
        _roots = {**_roots, root: pyc_dir}
    if _path_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _path_hook)
    prefix = root + os.sep
    for entry in list(sys.path_importer_cache):  # list(): one step, whatever other threads do
        if isinstance(entry, str) and (entry == root or entry.startswith(prefix)):
            loaders = getattr(sys.path_importer_cache.get(entry), "_loaders", ())
            if not any(loader is TreeSourceLoader for _, loader in loaders):
                sys.path_importer_cache.pop(entry, None)  # found before the hook: ask again
    return True


def sweep(cache_dir: str, everything: bool = False) -> int:
    """Removes from `cache_dir`'s pyc/ the entries whose blob is gone from
    blobs/ (every entry with `everything`) and temporary files of writes
    older than ten minutes. Returns how many files it removed. Called after
    `cache gc`, `cache evict` and `cache clear`."""
    import time

    top = os.path.join(cache_dir, PYC_DIR)
    blobs = os.path.join(cache_dir, "blobs")
    removed = 0
    try:
        shards = os.listdir(top)
    except OSError:
        return 0
    now = time.time()
    for shard in shards:
        folder = os.path.join(top, shard)
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith("."):
                try:
                    drop = now - os.lstat(path).st_mtime > 600
                except OSError:
                    continue
            elif everything:
                drop = True
            else:
                blob = os.path.join(blobs, shard, name.split(".", 1)[0])
                drop = not (os.path.exists(blob) or os.path.exists(blob + ".x"))
            if drop:
                try:
                    os.unlink(path)
                    removed += 1
                except OSError:
                    pass
    return removed
