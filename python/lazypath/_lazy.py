"""The import hook of lazy activation.

A lazily activated tree starts with only its root directory on disk; every
other directory is a placeholder (see include/lazypath/lazy.h). _LazyFinder
sits first on sys.meta_path and, before Python's own PathFinder searches a
directory of the tree for a name, asks the core to materialise the directory
that name would be imported from. It never loads anything itself: it returns
None, and the normal machinery then finds real files on disk, so __file__,
importlib.resources, pkgutil, C extensions and namespace packages behave as
they do from a plain directory.
"""

from __future__ import annotations

import importlib.abc
import os
import sys


class LazyFinder(importlib.abc.MetaPathFinder):
    def __init__(self, tree):
        self.tree = tree  # a lazypath._core.LazyTree
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
            if self.tree.is_directory(rel) and self.tree.materialize_dir(rel):
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


class Activation:
    """What activate() holds for one tree: its lease and, if lazy, its finder."""

    def __init__(self, path: str, lease_fd: int, finder: LazyFinder | None = None):
        self.path = path
        self.lease_fd = lease_fd
        self.finder = finder
        if finder is not None:
            sys.meta_path.insert(0, finder)

    def close(self) -> None:
        if self.finder is not None and self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        if self.lease_fd >= 0:
            os.close(self.lease_fd)
            self.lease_fd = -1
