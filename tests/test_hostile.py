"""Hostile artifacts: crafted trees, indexes and packs in a real file:// store.

Each artifact is written byte by byte (tests/integrity.py, independent of the
core) and activated through the CLI, eagerly and lazily. Each must fail with
one line naming the tree and the cause, and leave nothing behind outside the
cache's temp area: no tree or lazy root published, no unverified blob, and
nothing at all beside the cache (a sentinel directory stays empty).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli
from integrity import Entries, sha_hex, tree_bytes, write_artifact, zstd_frame

MODES = ["eager", "lazy"]


@pytest.fixture
def area(tmp_path: Path) -> Path:
    """A directory holding only the node cache and an empty sentinel."""
    a = tmp_path / "area"
    (a / "outside").mkdir(parents=True)
    return a


def activate(store: Path, ref: str, cache: Path, mode: str):
    return run_cli("activate", store, ref, "--mode", mode, "--cache", cache, "--json")


def assert_nothing_published(area: Path, digest: str, blob_hexes=()) -> None:
    cache = area / "cache"
    assert sorted(os.listdir(area)) == ["cache", "outside"] or sorted(os.listdir(area)) == [
        "outside"
    ], os.listdir(area)
    assert os.listdir(area / "outside") == []
    hexname = digest.split(":", 1)[1]
    assert not (cache / "trees" / hexname).exists()
    assert not (cache / "lazy" / hexname).exists()
    for h in blob_hexes:
        assert not (cache / "blobs" / h[:2] / h).exists(), f"unverified blob {h} adopted"
    # Whatever a failed activation staged was removed, not left half-made.
    tmp = cache / "tmp"
    assert [n for n in os.listdir(tmp) if not n.startswith(".")] == [] if tmp.exists() else True


def ok_file(text: str = "X = 1\n") -> tuple[str, bytes]:
    return ("f", text.encode())


NFC = unicodedata.normalize("NFC", "caf\u00e9")
NFD = unicodedata.normalize("NFD", "caf\u00e9")

# name: (entries, words the one-line error must contain)
BAD_TREES: dict[str, tuple[Entries, list[str]]] = {
    "dotdot": ({"../escape.py": ok_file(), "ok.py": ok_file()}, ["'..' component"]),
    "absolute": ({"/tmp/abs.py": ok_file()}, ["absolute path"]),
    "dotdot-inside": ({"pkg/../../escape.py": ok_file()}, ["'..' component"]),
    "symlink-escapes": (
        {"pkg/__init__.py": ok_file(), "pkg/link": ("l", "../../outside")},
        ["'pkg/link' -> '../../outside' escapes the tree"],
    ),
    "symlink-absolute": (
        {"pkg/__init__.py": ok_file(), "pkg/link": ("l", "/tmp")},
        ["escapes the tree"],
    ),
    "symlink-chain-escapes": (
        {"x/up": ("l", ".."), "esc": ("l", "x/up/x/up/../outside"), "x/f.py": ok_file()},
        ["escapes the tree through other symlinks"],
    ),
    "case-collision": (
        {"pkg/Mod.py": ok_file(), "pkg/mod.py": ok_file("X = 2\n")},
        ["'pkg/Mod.py' and 'pkg/mod.py' collide"],
    ),
    "case-collision-dirs": (
        {"Pkg/a.py": ok_file(), "pkg/b.py": ok_file()},
        ["'Pkg' and 'pkg' collide"],
    ),
    "nfc-nfd-collision": (
        {f"{NFC}.py": ok_file(), f"{NFD}.py": ok_file("X = 2\n")},
        ["case or Unicode normalisation"],
    ),
    "too-deep": ({"d/" * 128 + "f.py": ok_file()}, ["nested deeper than 128"]),
    "long-component": ({"x" * 256 + ".py": ok_file()}, ["component over 255 bytes"]),
    "file-and-dir": ({"a": ok_file(), "a/b.py": ok_file()}, ["collide"]),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(BAD_TREES))
def test_bad_tree_refused(tmp_path: Path, area: Path, case: str, mode: str) -> None:
    entries, needles = BAD_TREES[case]
    store = tmp_path / "store"
    digest = write_artifact(store, entries, ref="bad")
    # By ref through the plain path, by digest through the file:// URL.
    for url, ref in ((store, "bad"), (f"file://{store}", digest)):
        res = activate(url, ref, area / "cache", mode)
        assert_one_line_error(res, digest, *needles)
    assert_nothing_published(area, digest)


def _lie(entries: Entries, path: str, size: int) -> bytes:
    """The tree bytes of `entries` with `path`'s declared size replaced."""
    kind, payload = entries[path]
    honest = f"{kind} {len(payload)} {sha_hex(payload)} {path}\n".encode()
    tb = tree_bytes(entries)
    assert honest in tb
    return tb.replace(honest, f"{kind} {size} {sha_hex(payload)} {path}\n".encode())


@pytest.mark.parametrize("mode", MODES)
def test_index_size_disagreeing_with_tree_refused(tmp_path: Path, area: Path, mode: str) -> None:
    body = b"X = 'ten bytes and more'\n"
    entries = {"mod.py": ("f", body)}
    digest = write_artifact(tmp_path / "store", entries, tree=_lie(entries, "mod.py", 5))
    res = activate(tmp_path / "store", digest, area / "cache", mode)
    assert_one_line_error(res, digest, "size that disagrees with the tree")
    assert_nothing_published(area, digest, [sha_hex(body)])


@pytest.mark.parametrize("mode", MODES)
def test_frame_longer_than_declared_size_refused(tmp_path: Path, area: Path, mode: str) -> None:
    # Tree and index agree on 5 bytes; the frame holds the whole file.
    body = b"X = 'ten bytes and more'\n" * 20
    entries = {"mod.py": ("f", body)}
    h = sha_hex(body)
    digest = write_artifact(
        tmp_path / "store",
        entries,
        tree=_lie(entries, "mod.py", 5),
        blobs={h: (5, zstd_frame(body), "zstd")},
    )
    res = activate(tmp_path / "store", digest, area / "cache", mode)
    line = assert_one_line_error(res, h)
    assert "declared" in line or "larger" in line or "more" in line, line
    assert_nothing_published(area, digest, [h])


@pytest.mark.parametrize("mode", MODES)
def test_decompression_bomb_stops_at_declared_size(tmp_path: Path, area: Path, mode: str) -> None:
    # 200 MiB of zeros in a few KiB of zstd, declared as 64 KiB.
    bomb = zstd_frame(bytes(200 << 20))
    declared = 64 << 10
    fake = bytes(declared)
    entries = {"bomb.py": ("f", fake), "ok.py": ok_file()}
    h = sha_hex(fake)
    digest = write_artifact(tmp_path / "store", entries, blobs={h: (declared, bomb, "zstd")})
    started = time.monotonic()
    res = activate(tmp_path / "store", digest, area / "cache", mode)
    assert_one_line_error(res, h)
    # Stopping at the declared size means never writing the 200 MiB.
    assert time.monotonic() - started < 20
    assert_nothing_published(area, digest, [h])


@pytest.mark.parametrize("mode", MODES)
def test_index_padded_with_blobs_the_tree_lacks_refused(
    tmp_path: Path, area: Path, mode: str
) -> None:
    entries = {"mod.py": ok_file()}
    extra = [["sha256:" + sha_hex(bytes([i])), 1, 0, 8, 1, "none"] for i in range(5)]
    digest = write_artifact(tmp_path / "store", entries, extra_index=extra)
    res = activate(tmp_path / "store", digest, area / "cache", mode)
    assert_one_line_error(res, digest, "lists 6 blobs for a tree of 1 entries")
    assert_nothing_published(area, digest)


@pytest.mark.parametrize("mode", MODES)
def test_deeply_nested_index_json_refused(tmp_path: Path, area: Path, mode: str) -> None:
    entries = {"mod.py": ok_file()}
    hexname = sha_hex(tree_bytes(entries))
    depth = 200_000
    head = f'{{"format":"lazypath-index/1","tree":"sha256:{hexname}","packs":[],"blobs":'
    index = (head + "[" * depth + "]" * depth + "}\n").encode()
    digest = write_artifact(tmp_path / "store", entries, index=index)
    res = activate(tmp_path / "store", digest, area / "cache", mode)
    assert_one_line_error(res, digest, "index")
    assert_nothing_published(area, digest)


@pytest.mark.parametrize("mode", MODES)
def test_symlink_in_one_version_then_a_write_through_it_in_the_next(
    tmp_path: Path, area: Path, mode: str
) -> None:
    store, cache, outside = tmp_path / "store", area / "cache", area / "outside"
    # v1: pkg/link is a symlink (to a sibling, or out of the tree: refused).
    v1 = {"pkg/__init__.py": ok_file(), "pkg/link": ("l", "sub"), "pkg/sub/a.py": ok_file()}
    v1_out = {"pkg/__init__.py": ok_file(), "pkg/link": ("l", "../../outside")}
    # v2: pkg/link is a directory with a file in it; pkg/sub a symlink.
    v2 = {
        "pkg/__init__.py": ok_file(),
        "pkg/link/evil.py": ok_file("EVIL = 1\n"),
        "pkg/link/__init__.py": ok_file(),
        "pkg/sub": ("l", "link"),
    }
    d1 = write_artifact(store, v1)
    d1_out = write_artifact(store, v1_out)
    d2 = write_artifact(store, v2)
    # Each version activated, then materialised in full (lazy: every directory).
    roots = {d: activate_all(store, d, cache, mode) for d in (d1, d2)}
    assert_one_line_error(activate(store, d1_out, cache, mode), "escapes the tree")
    r1, r2 = roots[d1], roots[d2]
    assert (r1 / "pkg/link").is_symlink() and os.readlink(r1 / "pkg/link") == "sub"
    assert sorted(os.listdir(r1 / "pkg/sub")) == ["a.py"]  # nothing written through the link
    assert not (r2 / "pkg/link").is_symlink()
    assert (r2 / "pkg/link/evil.py").read_text() == "EVIL = 1\n"
    assert os.readlink(r2 / "pkg/sub") == "link"
    assert os.listdir(outside) == []
    # Both trees are exactly what they say, side by side in one cache.
    from integrity import read_dir

    assert read_dir(r1) == v1 and read_dir(r2) == v2


def activate_all(store: Path, digest: str, cache: Path, mode: str) -> Path:
    """Activates `digest` in a fresh process and materialises all of it."""
    script = (
        "import sys, lazypath\n"
        "t = lazypath.activate(sys.argv[1], sys.argv[2], mode=sys.argv[3], cache_dir=sys.argv[4])\n"
        "lazypath.materialize(t.path)\n"
        "print(t.path)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script, str(store), digest, mode, str(cache)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res
    return Path(res.stdout.strip())


def test_lazy_never_writes_through_a_planted_symlink(tmp_path: Path, area: Path) -> None:
    """A placeholder swapped for a symlink (by anything with write access to the
    cache) makes the import fail; nothing is written where the link points."""
    store, cache, outside = tmp_path / "store", area / "cache", area / "outside"
    entries = {
        "app.py": ok_file(),
        "pkg/__init__.py": ok_file(),
        "pkg/mod.py": ok_file("X = 2\n"),
    }
    digest = write_artifact(store, entries)
    script = f"""
import os, shutil, sys
import lazypath
t = lazypath.activate({str(store)!r}, {digest!r}, mode="lazy", cache_dir={str(cache)!r})
placeholder = os.path.join(t.path, "pkg")
os.chmod(placeholder, 0o700)
shutil.rmtree(placeholder)
os.symlink({str(outside)!r}, placeholder)
try:
    import pkg.mod
except Exception as e:
    print(type(e).__name__, e)
    sys.exit(7)
sys.exit(0)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == 7, res
    assert "pkg" in res.stdout, res
    assert os.listdir(outside) == [], "wrote through the planted symlink"
