"""The import hook of lazy activation.

A lazily activated tree starts with only its root directory on disk; every
other directory is a placeholder (see include/lazypath/lazy.h). LazyFinder
sits first on sys.meta_path and, before Python's own PathFinder searches a
directory of the tree for a name, asks the core to materialise the directory
that name would be imported from. It never loads anything itself: it returns
None, and the normal machinery then finds real files on disk, so __file__,
importlib.resources, pkgutil, C extensions and namespace packages behave as
they do from a plain directory.

Profiles (doc/lazy.md): a ProfileRecorder notes every directory of the tree
the finder is asked for, in order, and saves the list as the tree's profile;
Prefetch runs LazyTree.prefetch() on a background thread, so the profiled
set arrives while the program starts. lazypath/_activation.py installs them.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
import threading
import warnings

from lazypath import _core

# LAZYPATH_PROFILE: "record" saves this run's directories as the tree's
# profile at exit; "off" skips the prefetch; unset (or "prefetch"): prefetch.
PROFILE_ENV_VAR = "LAZYPATH_PROFILE"
# Set by `lazypath profile`: append each directory (a JSON string per line) to
# this file instead of writing the store at exit.
PROFILE_FILE_ENV_VAR = "LAZYPATH_PROFILE_FILE"


def profile_setting() -> str:
    """ "record", "off" or "prefetch", from the environment."""
    if os.environ.get(PROFILE_FILE_ENV_VAR):
        return "record"
    value = os.environ.get(PROFILE_ENV_VAR, "").strip().lower()
    if value in ("record", "off"):
        return value
    if value not in ("", "prefetch"):
        warnings.warn(
            f"lazypath: {PROFILE_ENV_VAR}={value!r} is not one of record, off, prefetch;"
            " prefetching",
            RuntimeWarning,
            stacklevel=2,
        )
    return "prefetch"


class ProfileRecorder:
    """The directories of one tree a program needed, in the order it did."""

    def __init__(self, store: str, digest: str, out_path: str | None = None):
        self.store = store
        self.digest = digest
        self.dirs: list = [""]  # the root, materialised by activation
        self._seen = {""}
        self._lock = threading.Lock()
        self._out = None
        self._saved = False
        if out_path:
            self._out = open(out_path, "a", encoding="utf-8")
            self._write("")

    def _write(self, rel: str) -> None:
        self._out.write(json.dumps(rel) + "\n")
        self._out.flush()

    def add(self, rel: str) -> None:
        with self._lock:
            if rel in self._seen:
                return
            self._seen.add(rel)
            self.dirs.append(rel)
            if self._out is not None:
                self._write(rel)

    def save(self) -> None:
        """Writes the profile to the store (or closes the file); warns on failure."""
        with self._lock:
            if self._saved:
                return
            self._saved = True
            if self._out is not None:
                self._out.close()
                self._out = None
                return
            dirs = list(self.dirs)
        try:
            _core.write_profile(self.store, self.digest, dirs)
        except Exception as e:
            warnings.warn(
                f"lazypath: could not save the profile of {self.digest} to {self.store}: {e}",
                RuntimeWarning,
                stacklevel=1,
            )


class LazyFinder(importlib.abc.MetaPathFinder):
    def __init__(self, tree, recorder: ProfileRecorder | None = None):
        self.tree = tree  # a lazypath._core.LazyTree
        self.recorder = recorder
        self.root = tree.root
        self._prefix = tree.root + os.sep
        self._seen: set = set()  # tree paths already looked at (the tree never changes)

    def _rel(self, entry, name: str) -> str | None:
        if not isinstance(entry, str):
            return None
        if entry == self.root:
            return name
        if entry.startswith(self._prefix):
            return entry[len(self._prefix) :].replace(os.sep, "/") + "/" + name
        return None

    def find_spec(self, fullname, path=None, target=None):
        name = fullname.rpartition(".")[2]
        for entry in sys.path if path is None else path:
            rel = self._rel(entry, name)
            if rel is None or rel in self._seen:
                continue
            if self.tree.is_directory(rel):
                if self.recorder is not None:
                    self.recorder.add(rel)
                if self.tree.materialize_dir(rel):
                    # A finder cached for the placeholder must not be reused.
                    sys.path_importer_cache.pop(os.path.join(self.root, rel), None)
            self._seen.add(rel)
        return None

    def materialize(self, path: str) -> None:
        """Makes `path` (under this tree's root) usable by path."""
        full = os.path.abspath(path)
        if full == self.root:
            rel = ""
        elif full.startswith(self._prefix):
            rel = full[len(self._prefix) :].replace(os.sep, "/")
        else:
            raise ValueError(path)
        self.tree.materialize_path(rel)
        sys.path_importer_cache.pop(full, None)


_warned_prefetch = False


class Prefetch:
    """LazyTree.prefetch() on a background thread. Its failure never reaches
    an import (they fall back to on-demand); it is reported once per process
    as a RuntimeWarning.

    The thread is not a daemon: the interpreter waits for it at exit (a
    prefetch is bounded by the store's timeouts), because a daemon thread
    still inside the core when the interpreter finalises would be killed
    mid-call and abort the process."""

    def __init__(self, tree, store: str):
        self.tree = tree
        self.store = store
        self.result: dict | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lazypath-prefetch", daemon=False)
        self._thread.start()

    def _run(self) -> None:
        global _warned_prefetch
        try:
            self.result = self.tree.prefetch()
        except Exception as e:
            self.error = e
            if not _warned_prefetch:
                _warned_prefetch = True
                warnings.warn(
                    f"lazypath: prefetching the profile of {self.tree.digest} from {self.store}"
                    f" failed, importing on demand instead: {e}",
                    RuntimeWarning,
                    stacklevel=1,
                )

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()
