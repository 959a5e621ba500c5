"""Disk faults: a full file system and a read-only cache, on real small tmpfs mounts.

Each case runs the operation through the CLI (or, for lazy imports, a real
Python process) against a tmpfs too small for it, or remounted read-only,
then checks: exit 1 with one line naming the path and the OS's cause,
nothing half-made visible (tests/integrity.py), and, once space or write
access is restored by remounting, the same operation succeeds.

Mounting needs CAP_SYS_ADMIN. As root the tests mount directly; otherwise
each test re-runs itself under `unshare -Urm` (a private user and mount
namespace). If neither works the tests fail: they never skip silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, write_tree
from integrity import check_cache, check_store, read_dir

IN_NAMESPACE = "LAZYPATH_TEST_IN_MOUNT_NS"
ROOT = Path(__file__).resolve().parent.parent


def _try_mount(where: Path) -> str | None:
    """None if a tmpfs can be mounted here, else why not."""
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        return res.stderr.strip() or f"mount exited {res.returncode}"
    subprocess.run(["umount", str(where)], check=True)
    return None


@pytest.fixture
def fs(tmp_path: Path, request: pytest.FixtureRequest):
    """mount(path, size) / remount(path, opts); unmounts everything afterwards.

    Returns None when the test was run (and passed) in a private mount
    namespace instead: the caller then returns at once.
    """
    why = _try_mount(tmp_path / "probe")
    if why is not None:
        if os.environ.get(IN_NAMESPACE):
            pytest.fail(f"cannot mount a tmpfs even in a private namespace: {why}")
        res = subprocess.run(
            ["unshare", "-Urm", sys.executable, "-m", "pytest", "-q", "-x", request.node.nodeid],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, IN_NAMESPACE: "1"},
        )
        assert res.returncode == 0, (
            f"mount refused ({why}); re-run under unshare -Urm failed:\n"
            + res.stdout[-4000:]
            + res.stderr[-2000:]
        )
        yield None
        return
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
            check=True,
        )
        mounted.append(path)
        return path

    def remount(path: Path, opts: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{opts}", str(path)], check=True)

    yield mount, remount
    for p in reversed(mounted):
        subprocess.run(["umount", "-l", str(p)], check=False)


def make_app(root: Path, big: int) -> dict:
    """A package with `big` bytes of incompressible data in pkg/; returns files."""
    files = {
        "app.py": "VALUE = 'app'\n",
        "pkg/__init__.py": "VALUE = 'pkg'\n",
        "pkg/data.bin": os.urandom(big),
    }
    write_tree(root, files)
    return files


def no_debris(d: Path) -> list[str]:
    return sorted(os.listdir(d)) if d.exists() else []


def test_eager_activation_on_a_full_cache(tmp_path: Path, fs) -> None:
    if fs is None:
        return
    mount, remount = fs
    store, cache = tmp_path / "store", tmp_path / "cache"
    make_app(tmp_path / "src", 3 << 20)
    digest = lazypath.push(str(tmp_path / "src"), str(store), cache_dir=str(tmp_path / "pc"))
    mount(cache, "1m")
    res = run_cli("activate", store, digest, "--cache", cache)
    line = assert_one_line_error(res, "No space left on device", str(cache))
    assert digest in line, line
    assert not (cache / "trees" / digest[7:]).exists()
    check_cache(cache, {})
    assert no_debris(cache / "tmp") == []
    remount(cache, "size=16m")
    res = run_cli("activate", store, digest, "--cache", cache, "--json")
    assert res.returncode == 0, res
    assert read_dir(Path(res.json()["path"]))["pkg/data.bin"][1] == (
        (tmp_path / "src/pkg/data.bin").read_bytes()
    )
    check_cache(cache, {})


LAZY_IMPORT = r"""
import sys
import lazypath
lazypath.activate(sys.argv[1], sys.argv[2], mode="lazy", cache_dir=sys.argv[3])
import app
try:
    import pkg
except Exception as e:
    print(f"{type(e).__name__}: {e}")
    sys.exit(7)
print(pkg.VALUE)
"""


def test_lazy_directory_on_a_full_cache(tmp_path: Path, fs) -> None:
    if fs is None:
        return
    mount, remount = fs
    store, cache = tmp_path / "store", tmp_path / "cache"
    make_app(tmp_path / "src", 3 << 20)
    digest = lazypath.push(str(tmp_path / "src"), str(store), cache_dir=str(tmp_path / "pc"))
    mount(cache, "1m")
    argv = [sys.executable, "-c", LAZY_IMPORT, str(store), digest, str(cache)]
    res = subprocess.run(argv, capture_output=True, text=True)
    # The root (app.py) fits; pkg/ with its 3 MiB does not.
    assert res.returncode == 7, res
    assert "No space left on device" in res.stdout and str(cache) in res.stdout, res
    assert len(res.stdout.strip().splitlines()) == 1, res
    pkg = cache / "lazy" / digest[7:] / "pkg"
    assert sorted(os.listdir(pkg)) == ["__init__.py"]  # still the placeholder
    assert (pkg.stat().st_mode & 0o777) == 0o700
    files = read_dir(tmp_path / "src")
    check_cache(cache, {digest[7:]: files})
    assert no_debris(cache / "tmp") == []
    remount(cache, "size=16m")
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "pkg", res
    check_cache(cache, {digest[7:]: files})


def test_push_to_a_full_store(tmp_path: Path, fs) -> None:
    if fs is None:
        return
    mount, remount = fs
    store = mount(tmp_path / "store", "1m")
    make_app(tmp_path / "src", 3 << 20)
    res = run_cli("push", tmp_path / "src", store, "--tag", "prod")
    assert_one_line_error(res, "No space left on device", str(store), "put packs/")
    # Nothing half-made: no tree, index or ref; whatever pack got through is
    # whole (named by its hash) and no index names it.
    assert check_store(store) == {}
    for kind in ("trees", "indexes", "refs"):
        assert no_debris(store / kind) == [], kind
    assert no_debris(store / ".tmp") == []
    remount(store, "size=16m")
    res = run_cli("push", tmp_path / "src", store, "--tag", "prod")
    assert res.returncode == 0, res
    digest = res.stdout.strip()
    assert list(check_store(store)) == [digest[7:]]
    res = run_cli("activate", store, "prod", "--json")
    assert res.returncode == 0, res
    assert read_dir(Path(res.json()["path"])) == read_dir(tmp_path / "src")


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_read_only_cache(tmp_path: Path, fs, mode: str) -> None:
    if fs is None:
        return
    mount, remount = fs
    store, cache = tmp_path / "store", tmp_path / "cache"
    make_app(tmp_path / "src", 100_000)
    digest = lazypath.push(str(tmp_path / "src"), str(store), cache_dir=str(tmp_path / "pc"))
    mount(cache, "16m")
    # A cache that exists (layout made) but is read-only, as a mount can be.
    assert run_cli("cache", "ls", "--cache", cache).returncode == 0
    remount(cache, "ro")
    res = run_cli("activate", store, digest, "--mode", mode, "--cache", cache)
    assert_one_line_error(res, "Read-only file system", str(cache))
    assert no_debris(cache / "trees") == [] and no_debris(cache / "lazy") == []
    # cat needs no cache: the verified file comes through a temp file.
    res = run_cli("cat", store, digest, "pkg/data.bin", "--cache", cache)
    assert res.returncode == 0, res
    assert res.stdout_bytes == (tmp_path / "src" / "pkg" / "data.bin").read_bytes()
    remount(cache, "rw")
    res = run_cli("activate", store, digest, "--mode", mode, "--cache", cache, "--json")
    assert res.returncode == 0, res
    check_cache(cache, {digest[7:]: read_dir(tmp_path / "src")})


USE_TREE = r"""
import sys
import lazypath
t = lazypath.activate(sys.argv[1], sys.argv[2], mode=sys.argv[3], cache_dir=sys.argv[4])
lazypath.materialize(t.path)
import app, pkg
print(app.VALUE, pkg.VALUE)
"""


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_read_only_cache_serves_the_trees_it_holds(tmp_path: Path, fs, mode: str) -> None:
    """A cache filled beforehand, then mounted read-only (an image's, a
    read-only volume): activation through the API needs no write, since
    nothing can be evicted from it and so no lease is taken."""
    if fs is None:
        return
    mount, remount = fs
    store, cache = tmp_path / "store", tmp_path / "cache"
    make_app(tmp_path / "src", 100_000)
    digest = lazypath.push(str(tmp_path / "src"), str(store), cache_dir=str(tmp_path / "pc"))
    mount(cache, "16m")
    argv = [sys.executable, "-c", USE_TREE, str(store), digest, mode, str(cache)]
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.split() == ["app", "pkg"], res
    remount(cache, "ro")
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.split() == ["app", "pkg"], res
    remount(cache, "rw")
    check_cache(cache, {digest[7:]: read_dir(tmp_path / "src")})
