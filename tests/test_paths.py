"""Paths that are not UTF-8, file:// URLs, FIFOs in a store, short digests,
and a store inside the pushed directory: each works or fails in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, write_tree


def _cli_bytes(*args: bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"lazypath", *args],
        capture_output=True,
        env={**os.environb, **(env or {})},
        timeout=300,
    )


def test_non_utf8_directory_cache_and_store_paths(tmp_path):
    base = os.fsencode(tmp_path)
    src = base + b"/caf\xe9dir"
    os.makedirs(src + b"/app")
    with open(src + b"/app/__init__.py", "wb") as f:
        f.write(b"X = 1\n")
    store = base + b"/st\xe9re"
    cache = base + b"/cach\xe9"
    env = {b"LAZYPATH_CACHE": cache}
    pushed = _cli_bytes(b"push", src, store, b"--tag", b"prod", env=env)
    assert pushed.returncode == 0, pushed
    assert b"Traceback" not in pushed.stderr
    digest = pushed.stdout.decode().strip()
    activated = _cli_bytes(b"activate", store, b"prod", env=env)
    assert activated.returncode == 0, activated
    path = activated.stdout.strip()
    assert path.startswith(cache + b"/trees/")  # printed as the OS has it
    assert open(path + b"/app/__init__.py", "rb").read() == b"X = 1\n"
    listed = _cli_bytes(b"cache", b"ls", env=env)
    assert listed.returncode == 0 and digest.encode() in listed.stdout, listed
    as_json = _cli_bytes(b"cache", b"ls", b"--json", env=env)
    assert as_json.returncode == 0, as_json
    # A missing directory with such a name: one line, no traceback.
    missing = _cli_bytes(b"push", base + b"/n\xe9ant", store, env=env)
    assert missing.returncode == 1 and missing.stderr.count(b"\n") == 1, missing
    assert b"Traceback" not in missing.stderr and b"n\\xe9ant" in missing.stderr


def test_file_urls_are_percent_decoded(tmp_path):
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    store = tmp_path / "a store"
    digest = lazypath.push(src, "file://" + str(store).replace(" ", "%20"))
    assert (store / "trees").is_dir()
    assert (
        lazypath.show("file://localhost" + str(store).replace(" ", "%20"), digest).digest == digest
    )
    for bad, why in (
        ("file://" + str(store) + "%2", "two hex digits"),
        ("file://" + str(store) + "%00x", "NUL"),
        ("file://host" + str(store), "no absolute path"),
        ("file://" + str(store) + "?x=1", "query"),
    ):
        with pytest.raises(lazypath.InvalidInputError, match=why):
            lazypath.ls(bad)


def test_a_fifo_in_a_file_store_is_refused_without_blocking(tmp_path, store):
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    digest = lazypath.push(src, store)
    ref = store / "refs" / "fifo"
    ref.parent.mkdir(exist_ok=True)
    os.mkfifo(ref)
    res = run_cli("show", store, "fifo", timeout=60)
    assert_one_line_error(res, "FIFO", str(ref))
    tree = store / "trees" / digest.split(":", 1)[1]
    tree.unlink()
    os.mkfifo(tree)
    res = run_cli("activate", store, digest, timeout=60)
    assert_one_line_error(res, "FIFO")


def test_short_digests_resolve_when_unique(tmp_path, store):
    digests = set()
    for i in range(3):
        src = write_tree(tmp_path / f"s{i}", {"m.py": f"M = {i}\n"})
        digests.add(lazypath.push(src, store))
    one = sorted(digests)[0]
    hexd = one.split(":", 1)[1]
    for ref in (hexd[:12], "sha256:" + hexd[:12], hexd):
        assert lazypath.show(store, ref).digest == one
        assert run_cli("show", store, ref, "--json").json()["digest"] == one
    assert lazypath.pull(store, hexd[:8]).digest == one
    # A second tree key sharing the first 8 digits makes that prefix ambiguous.
    twin = hexd[:8] + ("f" if hexd[8] != "f" else "e") * 56
    (store / "trees" / twin).write_bytes((store / "trees" / hexd).read_bytes())
    line = assert_one_line_error(run_cli("show", store, hexd[:8]), "ambiguous", hexd[:8], code=1)
    assert one in line and "sha256:" + twin in line
    assert lazypath.show(store, hexd[:9]).digest == one  # one digit more is unique again
    assert_one_line_error(run_cli("show", store, "0000000000"), "0000000000")


def test_a_ref_named_like_hex_wins_over_a_prefix(tmp_path, store):
    a = lazypath.push(write_tree(tmp_path / "a", {"a.py": "A = 1\n"}), store)
    b = lazypath.push(write_tree(tmp_path / "b", {"b.py": "B = 1\n"}), store)
    name = b.split(":", 1)[1][:8]
    lazypath.tag(store, a, name)
    assert lazypath.show(store, name).digest == a


def test_a_store_or_cache_inside_the_directory_is_not_shipped(tmp_path, node_cache, monkeypatch):
    src = write_tree(tmp_path / "app", {"app/__init__.py": "X = 1\n"})
    inner_cache = src / ".lpcache"
    monkeypatch.setenv("LAZYPATH_CACHE", str(inner_cache))
    store = src / "store"
    digest = lazypath.push(src, store)
    again = lazypath.push(src, store)  # the store grew; the tree did not
    assert again == digest
    paths = [e.path for e in lazypath.show(store, digest).entries]
    assert paths == ["app/__init__.py"]
    url = lazypath.push(src, "file://" + str(store))
    assert url == digest
    d = lazypath.diff(store, digest, dir=src)
    assert d.to_digest == digest and d.changes == []
