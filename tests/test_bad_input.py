"""Bad input, hostile stores and damaged bytes.

Each case checks three things: the documented exception class from the API
(or exit status 1 with one 'lazypath: error:' line from the CLI), a message
naming the thing and the cause, and that nothing was written outside the
node cache's tmp area (its trees/ and blobs/ stay as they were).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, dir_snapshot, run_cli, write_tree
from lazypath.errors import (
    CorruptError,
    InvalidInputError,
    LazypathError,
    NotFoundError,
    UnsupportedError,
)

EMPTY = hashlib.sha256(b"").hexdigest()


def cache_state(cache: Path) -> dict:
    """What a failed operation must not change: the published parts of the cache."""
    return {sub: dir_snapshot(cache / sub) for sub in ("trees", "blobs")}


def cache_files(cache: Path) -> list:
    return [p for sub in ("trees", "blobs") for p in dir_snapshot(cache / sub)]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", {"pkg/__init__.py": "X = 1\n", "pkg/b.py": "B = 2\n"})


# ------------------------------------------------------------------ missing things


def test_directory_that_does_not_exist(tmp_path, store, node_cache):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(NotFoundError) as ei:
        lazypath.push(missing, store)
    assert str(missing) in str(ei.value)
    assert "no such directory" in str(ei.value)
    assert not store.exists()  # a failed scan creates no store
    assert cache_files(node_cache) == []

    res = run_cli("push", missing, store)
    assert_one_line_error(res, str(missing), "no such directory")
    assert not store.exists()


def test_push_of_a_file_not_a_directory(tmp_path, store):
    f = tmp_path / "file.py"
    f.write_text("x")
    with pytest.raises(InvalidInputError, match="not a directory"):
        lazypath.push(f, store)
    assert_one_line_error(run_cli("push", f, store), str(f), "not a directory")


def test_ref_missing_from_store(sample, store, node_cache):
    lazypath.push(sample, store, tag="prod")
    before = cache_state(node_cache)
    with pytest.raises(NotFoundError) as ei:
        lazypath.pull(store, "staging")
    msg = str(ei.value)
    assert "'staging'" in msg and str(store) in msg and "not in store" in msg
    assert cache_state(node_cache) == before

    assert_one_line_error(run_cli("activate", store, "staging"), "staging", str(store))
    assert_one_line_error(run_cli("show", store, "staging"), "staging")
    assert_one_line_error(run_cli("cat", store, "staging", "pkg/b.py"), "staging")
    assert_one_line_error(run_cli("tag", store, "staging", "other"), "staging")
    assert not (store / "refs/other").exists()
    assert cache_state(node_cache) == before


def test_digest_missing_from_store(sample, store, node_cache):
    lazypath.push(sample, store)
    digest = "sha256:" + "ab" * 32
    with pytest.raises(NotFoundError) as ei:
        lazypath.pull(store, digest)
    assert digest in str(ei.value) and str(store) in str(ei.value)
    assert cache_files(node_cache) == []

    res = run_cli("activate", store, digest, "--json")
    assert_one_line_error(res, digest, "not in store")
    assert res.stdout == ""
    assert_one_line_error(run_cli("tag", store, digest, "x"), digest)
    assert not (store / "refs/x").exists()
    assert cache_files(node_cache) == []


def test_store_that_does_not_exist(tmp_path, node_cache):
    missing = tmp_path / "no-store"
    with pytest.raises(NotFoundError, match="no-store"):
        lazypath.pull(missing, "prod")
    with pytest.raises(NotFoundError, match="no-store"):
        lazypath.ls(missing)
    assert not missing.exists()  # reads never create a store
    assert cache_files(node_cache) == []


@pytest.mark.parametrize(
    "ref",
    ["sha256:xyz", "sha256:" + "A" * 64, "sha256:" + "0" * 63],
)
def test_malformed_digest(sample, store, ref, node_cache):
    lazypath.push(sample, store)
    with pytest.raises(LazypathError) as ei:
        lazypath.pull(store, ref)
    if len(ref) == 70:
        # 63 hex digits is a digest prefix (as git accepts): no tree has it.
        assert isinstance(ei.value, NotFoundError)
    else:
        assert isinstance(ei.value, (InvalidInputError, CorruptError))
    assert ref in str(ei.value) or "digest" in str(ei.value)
    assert_one_line_error(run_cli("activate", store, ref))
    assert cache_files(node_cache) == []


# ------------------------------------------------------------------ damaged packs


def flip_pack_byte(store: Path, inside: bytes | None = None) -> Path:
    """Flips one byte of the store's only pack: inside the first frame that
    starts with `inside` when given (a file's frame: its raw bytes, or the
    zstd magic of the first compressed frame), else mid-pack."""
    packs = sorted((store / "packs").iterdir())
    assert len(packs) == 1, packs
    pack = packs[0]
    data = bytearray(pack.read_bytes())
    assert data[:8] == b"LZPACK1\n"
    if inside is not None:
        at = data.find(inside, 8)
        assert at >= 8, "frame not found in the pack"
        pos = at + 24
    else:
        pos = 8 + (len(data) - 8) // 2  # well inside the frame region
    data[pos] ^= 0x55
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    return pack


@pytest.mark.parametrize(
    "content",
    [os.urandom(64 << 10), b"import os\nprint('compressible')\n" * 4000],
    ids=["raw-frame", "zstd-frame"],
)
def test_flipped_pack_byte_is_caught(tmp_path, store, content, node_cache):
    src = write_tree(tmp_path / "src", {"pkg/data.py": content})
    digest = lazypath.push(src, store, tag="prod")
    blob = "sha256:" + hashlib.sha256(content).hexdigest()
    # A push writes files before directories: the first zstd frame is the
    # file's (format 2 also keeps directory frames in the pack).
    zstd_magic = b"\x28\xb5\x2f\xfd"
    compressible = content.startswith(b"import")
    pack = flip_pack_byte(store, inside=zstd_magic if compressible else content[:64])

    with pytest.raises(CorruptError) as ei:
        lazypath.pull(store, digest)
    msg = str(ei.value)
    assert blob in msg, msg
    assert pack.name in msg, msg
    assert str(store) in msg
    # Nothing of it was published: no tree, no blob.
    assert cache_files(node_cache) == []

    fresh = tmp_path / "fresh-cache"
    res = run_cli("activate", store, "prod", "--cache", fresh)
    assert_one_line_error(res, blob, pack.name)
    assert cache_files(fresh) == []
    assert_one_line_error(run_cli("cat", store, "prod", "pkg/data.py"), blob)


def test_truncated_pack_is_caught(tmp_path, store, node_cache):
    src = write_tree(tmp_path / "src", {"a.bin": os.urandom(10_000)})
    digest = lazypath.push(src, store)
    (pack,) = (store / "packs").iterdir()
    os.chmod(pack, 0o644)
    pack.write_bytes(pack.read_bytes()[:5000])
    with pytest.raises(LazypathError) as ei:
        lazypath.pull(store, digest)
    assert pack.name in str(ei.value)
    assert cache_files(node_cache) == []


# ------------------------------------------------------------------ hostile trees


def plant_tree(store: Path, tree_bytes: bytes, ref: str = "evil") -> str:
    """Writes tree bytes (and an empty index) into the store under their digest."""
    hexd = hashlib.sha256(tree_bytes).hexdigest()
    digest = "sha256:" + hexd
    for sub in ("trees", "indexes", "refs", "packs"):
        (store / sub).mkdir(parents=True, exist_ok=True)
    (store / "trees" / hexd).write_bytes(tree_bytes)
    index = {"format": "lazypath-index/1", "tree": digest, "packs": [], "blobs": []}
    (store / "indexes" / hexd).write_text(json.dumps(index, separators=(",", ":")) + "\n")
    (store / "refs" / ref).write_text(digest + "\n")
    return digest


HEADER = "lazypath-tree 1\n"
HOSTILE = {
    "absolute-path": (HEADER + f"f 0 {EMPTY} /tmp/lazypath-evil\n", "/tmp/lazypath-evil"),
    "dot-dot": (HEADER + f"f 0 {EMPTY} a/../../lazypath-evil\n", "a/../../lazypath-evil"),
    "collision": (HEADER + f"f 0 {EMPTY} a\nf 0 {EMPTY} a/b\n", "a/b"),
    "duplicate": (HEADER + f"f 0 {EMPTY} a\nf 0 {EMPTY} a\n", "'a'"),
    "escaping-symlink": (
        HEADER + f"l 5 {hashlib.sha256(b'../..').hexdigest()} a/l ../..\n",
        "a/l",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tree_is_refused(tmp_path, store, case, node_cache):
    tree_text, names = HOSTILE[case]
    digest = plant_tree(store, tree_text.encode())
    outside = [tmp_path / "lazypath-evil", Path("/tmp/lazypath-evil")]
    before_outside = [p.exists() for p in outside]

    for ref in (digest, "evil"):
        with pytest.raises(CorruptError) as ei:
            lazypath.pull(store, ref)
        assert names in str(ei.value), str(ei.value)
        assert digest in str(ei.value), str(ei.value)
    assert cache_files(node_cache) == []
    assert [p.exists() for p in outside] == before_outside

    assert_one_line_error(run_cli("activate", store, "evil"), names, digest)
    assert_one_line_error(run_cli("show", store, "evil"), names)
    assert_one_line_error(run_cli("cat", store, "evil", "a"), names)
    assert cache_files(node_cache) == []
    assert [p.exists() for p in outside] == before_outside


def test_tree_bytes_not_matching_their_name(tmp_path, store, node_cache):
    good = (HEADER + f"f 0 {EMPTY} a\n").encode()
    digest = plant_tree(store, good)
    (store / "trees" / digest[7:]).write_bytes(HEADER.encode() + f"f 0 {EMPTY} b\n".encode())
    with pytest.raises(CorruptError, match="does not match its digest") as ei:
        lazypath.pull(store, digest)
    assert digest in str(ei.value)
    assert cache_files(node_cache) == []


def test_damaged_ref_file(sample, store, node_cache):
    lazypath.push(sample, store, tag="prod")
    (store / "refs/prod").write_text("not a digest\n")
    with pytest.raises(CorruptError, match="prod"):
        lazypath.pull(store, "prod")
    assert_one_line_error(run_cli("activate", store, "prod"), "prod")
    assert cache_files(node_cache) == []


# ------------------------------------------------------------------ bad store URLs


@pytest.mark.parametrize("url", ["ftp://x", "ftp://user:s3cret@host/bucket"])
def test_unknown_store_scheme(sample, url, node_cache):
    with pytest.raises(InvalidInputError) as ei:
        lazypath.push(sample, url)
    assert "ftp" in str(ei.value) and "scheme" in str(ei.value)
    assert "s3cret" not in str(ei.value)  # never echo what may be a credential
    with pytest.raises(InvalidInputError):
        lazypath.pull(url, "prod")
    with pytest.raises(InvalidInputError):
        lazypath.ls(url)
    for args in (["push", sample, url], ["activate", url, "prod"], ["ls", url]):
        line = assert_one_line_error(run_cli(*args), "ftp", "scheme")
        assert "s3cret" not in line
    assert cache_files(node_cache) == []


def test_store_that_is_a_file(sample, tmp_path):
    f = tmp_path / "store-file"
    f.write_text("")
    with pytest.raises(InvalidInputError, match="not a directory"):
        lazypath.push(sample, f)
    assert f.read_text() == ""


# ------------------------------------------------------------------ unsupported files


def test_socket_in_pushed_dir(sample, store, node_cache, monkeypatch):
    monkeypatch.chdir(sample / "pkg")  # AF_UNIX paths are short: bind relative
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind("ctl.sock")
        with pytest.raises(UnsupportedError) as ei:
            lazypath.push(sample, store)
        assert "ctl.sock" in str(ei.value) and "socket" in str(ei.value)
        assert_one_line_error(run_cli("push", sample, store), "ctl.sock", "socket")
    finally:
        s.close()
    assert dir_snapshot(store / "trees") == []
    assert cache_files(node_cache) == []


def test_fifo_in_pushed_dir(sample, store):
    os.mkfifo(sample / "pipe")
    with pytest.raises(UnsupportedError, match="pipe"):
        lazypath.push(sample, store)
    assert dir_snapshot(store / "trees") == []


@pytest.mark.parametrize("target", ["../../outside.py", "/etc/passwd", "pkg/../../x"])
def test_escaping_symlink_in_pushed_dir(sample, store, target, node_cache):
    os.symlink(target, sample / "link.py")
    with pytest.raises(UnsupportedError) as ei:
        lazypath.push(sample, store)
    assert "link.py" in str(ei.value) and target in str(ei.value)
    assert_one_line_error(run_cli("push", sample, store), "link.py")
    assert dir_snapshot(store / "trees") == []
    assert dir_snapshot(store / "packs") == []
    assert cache_files(node_cache) == []


# ------------------------------------------------------------------ bad names


@pytest.mark.parametrize("name", ["bad name", "../escape", ".hidden", "a//b", "sha256:abc", "/"])
def test_invalid_tag_name(sample, store, name):
    with pytest.raises(InvalidInputError) as ei:
        lazypath.push(sample, store, tag=name)
    assert "ref name" in str(ei.value) and name in str(ei.value)
    assert not store.exists()  # refused before anything was uploaded
    res = run_cli("push", sample, store, "--tag", name)
    assert_one_line_error(res, "ref name", name)
    assert not store.exists()

    digest = lazypath.push(sample, store)
    with pytest.raises(InvalidInputError, match="ref name"):
        lazypath.tag(store, digest, name)
    assert_one_line_error(run_cli("tag", store, digest, name), "ref name", name)
    assert dir_snapshot(store / "refs") == []
    assert not (store / "escape").exists()


def test_invalid_level(sample, store):
    res = run_cli("push", sample, store, "--level", "0")
    assert res.returncode == 2 and "level" in res.stderr
    assert not store.exists()


def test_exclude_pattern_with_nul_byte(sample, store):
    with pytest.raises(InvalidInputError) as ei:
        lazypath.push(sample, store, exclude=["a\0b"])
    assert "--exclude" in str(ei.value) and "NUL" in str(ei.value), str(ei.value)
    assert not store.exists()


def test_name_that_is_not_utf8(sample, store, node_cache):
    bad = os.path.join(os.fsencode(sample / "pkg"), b"caf\xe9.py")
    with open(bad, "wb") as f:
        f.write(b"x = 1\n")
    with pytest.raises(UnsupportedError) as ei:
        lazypath.push(sample, store)
    assert "caf" in str(ei.value) and "UTF-8" in str(ei.value), str(ei.value)
    line = assert_one_line_error(run_cli("push", sample, store), "caf")
    assert "UTF-8" in line
    assert dir_snapshot(store / "trees") == []
