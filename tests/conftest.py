"""Shared fixtures: a private node cache per test, stores, tree builders, CLI runner.

Every test gets LAZYPATH_CACHE (and XDG_CACHE_HOME) pointing into its own
tmp_path, so nothing touches ~/.cache; subprocesses inherit it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Union

import pytest

Content = Union[str, bytes]


@pytest.fixture(autouse=True)
def node_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The node cache of this test (LAZYPATH_CACHE); created by the core on use."""
    cache = tmp_path / "node-cache"
    monkeypatch.setenv("LAZYPATH_CACHE", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return cache


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A file store path (not created: pushes create it)."""
    return tmp_path / "store"


@pytest.fixture
def restore_imports():
    """Undoes what lazypath.activate() does to sys.path / sys.modules in this process."""
    path = list(sys.path)
    modules = set(sys.modules)
    from lazypath import _activation

    active = dict(_activation._active)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        # lazypath's own modules stay: a second copy of _activation would
        # hold a second, empty registry of active trees.
        if name != "lazypath" and not name.startswith("lazypath."):
            del sys.modules[name]
    for tree_path, activation in list(_activation._active.items()):
        if active.get(tree_path) is not activation:
            activation.close()  # end the leases and hooks this test took
    _activation._active.clear()
    _activation._active.update(active)
    importlib.invalidate_caches()


def write_tree(root: Path, files: dict[str, Content]) -> Path:
    """Creates `root` with `files` ({relative path: content}); returns root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        p.write_bytes(content)
    return root


def tree_files(root: Path) -> dict[str, bytes]:
    """{relative path: bytes} of the regular files under root (following nothing)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            if p.is_symlink():
                continue
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def dir_snapshot(path: Path) -> list[str]:
    """Sorted relative paths of everything under `path` ([] if absent)."""
    if not path.exists():
        return []
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode = proc.returncode
        self.stdout_bytes: bytes = proc.stdout
        self.stdout: str = proc.stdout.decode("utf-8", "replace")
        self.stderr: str = proc.stderr.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (
            f"CliResult(rc={self.returncode}, stdout={self.stdout[:500]!r}, "
            f"stderr={self.stderr[:2000]!r})"
        )


def run_cli(
    *args: str | os.PathLike,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float = 300,
) -> CliResult:
    """Runs `python -m lazypath ARGS...` as a real process."""
    proc = subprocess.run(
        [sys.executable, "-m", "lazypath", *map(os.fspath, args)],
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )
    return CliResult(proc)


@pytest.fixture
def cli():
    return run_cli


def assert_one_line_error(res: CliResult, *needles: str, code: int = 1) -> str:
    """The command failed with `code` and exactly one 'lazypath: error:' line naming needles."""
    assert res.returncode == code, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res
    assert lines[0].startswith("lazypath: error: "), res
    assert "Traceback" not in res.stderr
    for n in needles:
        assert n in lines[0], (n, res)
    return lines[0]


def is_digest(s: str) -> bool:
    if not s.startswith("sha256:") or len(s) != 71:
        return False
    hexpart = s[len("sha256:") :]
    return all(c in "0123456789abcdef" for c in hexpart)
