"""Format 2 through the API and the CLI: push --format 2, then eager and
lazy activation, show, cat, diff and tag read it. The stores are real
directories; the trees, real files."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, tree_files, write_tree


def package_tree(n_pkgs: int = 40, n_mods: int = 6) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {"app/__init__.py": "", "README": "hello\n"}
    for p in range(n_pkgs):
        base = f"app/sub{p % 5}/pkg{p}"
        files[f"{base}/__init__.py"] = f"NAME = 'pkg{p}'\n"
        for m in range(n_mods):
            files[f"{base}/m{m}.py"] = f"VALUE = {p * 100 + m}\n"
    rng = random.Random(5)
    files["models/weights.bin"] = bytes(rng.getrandbits(8) for _ in range(5 << 20))
    return files


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "src", package_tree())
    (root / "bin").mkdir()
    tool = root / "bin" / "tool"
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    os.symlink("../README", root / "bin" / "readme")
    return root


def test_push_format2_then_activate_show_cat(src, store, cli):
    res = cli("push", src, store, "--format", "2", "--tag", "prod", "--json")
    assert res.returncode == 0, res
    rep = res.json()
    assert rep["format"] == 2 and not rep["tree_existed"]
    digest = rep["digest"]
    hexname = digest.split(":", 1)[1]
    # A tree record, no index; the record starts with its magic.
    assert (store / "trees" / hexname).read_bytes()[:4] == b"LZT2"
    assert not (store / "indexes" / hexname).exists()
    assert len(os.listdir(store / "locs")) == 1

    tree = lazypath.pull(store, "prod")
    assert tree.digest == digest and tree.mode == "eager"
    root = Path(tree.path)
    assert tree_files(root) == tree_files(src)
    assert os.access(root / "bin" / "tool", os.X_OK)
    assert os.readlink(root / "bin" / "readme") == "../README"

    shown = cli("show", store, "prod", "--json")
    assert shown.returncode == 0, shown
    paths = {e["path"] for e in shown.json()["entries"]}
    assert "models/weights.bin" in paths and "bin/readme" in paths
    cat = cli("cat", store, "prod", "models/weights.bin")
    assert cat.returncode == 0, cat
    assert (
        hashlib.sha256(cat.stdout_bytes).digest()
        == hashlib.sha256((src / "models" / "weights.bin").read_bytes()).digest()
    )
    assert cli("cat", store, "prod", "bin/readme").stdout == "hello\n"


def test_a_one_file_edit_writes_a_few_kilobytes_and_fetches_one_blob(src, store, cli):
    first = cli("push", src, store, "--format", "2", "--tag", "prod", "--json")
    assert first.returncode == 0, first
    lazypath.pull(store, "prod")
    again = cli("push", src, store, "--format", "2", "--tag", "prod", "--json")
    assert again.returncode == 0, again
    assert again.json()["tree_existed"] and again.json()["bytes_uploaded"] == 0

    (src / "app" / "sub2" / "pkg7" / "m3.py").write_text("VALUE = 'edited'\n")
    res = cli("push", src, store, "--format", "2", "--tag", "prod", "--json")
    assert res.returncode == 0, res
    rep = res.json()
    assert rep["blobs_uploaded"] == 1 and rep["packs_uploaded"] == 1
    assert rep["bytes_uploaded"] < 8 << 10, rep
    assert rep["store_indexes"] == 1 and rep["indexes_fetched"] == 1

    tree = lazypath.pull(store, "prod")
    assert tree.digest == rep["digest"]
    assert tree.blobs_fetched == 1
    assert (Path(tree.path) / "app/sub2/pkg7/m3.py").read_text() == "VALUE = 'edited'\n"

    diff = cli("diff", store, first.json()["digest"], "prod", "--json")
    assert diff.returncode == 0, diff
    changes = diff.json()["changes"]
    assert [c["path"] for c in changes] == ["app/sub2/pkg7/m3.py"]
    # diff --dir names the tree a format 2 push would make.
    here = cli("diff", store, "prod", "--dir", src, "--json")
    assert here.returncode == 0, here
    assert here.json()["to"] == rep["digest"] and here.json()["changes"] == []


def test_an_insert_into_a_large_file_uploads_only_the_chunks_it_touches(src, store, cli):
    assert cli("push", src, store, "--format", "2", "--json").returncode == 0
    weights = src / "models" / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[(2 << 20) : (2 << 20) + 4096] = bytes(4096)  # a 4 KiB overwrite
    data[(4 << 20) : (4 << 20)] = b"i" * 100  # and a 100-byte insert
    weights.write_bytes(bytes(data))
    res = cli("push", src, store, "--format", "2", "--json")
    assert res.returncode == 0, res
    rep = res.json()
    assert 1 <= rep["blobs_uploaded"] <= 4, rep
    assert rep["bytes_uploaded"] < 2 << 20, rep
    tree = lazypath.pull(store, rep["digest"])
    assert (Path(tree.path) / "models" / "weights.bin").read_bytes() == bytes(data)


def test_lazy_activation_reads_only_the_directories_an_import_needs(
    src, store, cli, node_cache, restore_imports
):
    res = cli("push", src, store, "--format", "2", "--json")
    digest = res.json()["digest"]
    tree = lazypath.activate(store, digest, mode="lazy")
    assert tree.mode == "lazy" and tree.digest == digest
    # The tree record, and the objects of the directories that come with
    # the root in full (bin/, models/): nothing below app/ is read yet.
    opened = tree.metadata_bytes
    assert 0 < opened < 4 << 10, tree
    root = Path(tree.path)
    assert (root / "app").stat().st_mode & 0o777 == 0o700
    assert (root / "app" / "__init__.py").read_text() == ""
    assert (root / "README").read_text() == "hello\n"
    import app.sub2.pkg7.m3 as m3  # noqa: PLC0415

    assert m3.VALUE == 703
    assert (root / "app" / "sub2" / "pkg7" / "m3.py").is_file()
    # Siblings never imported stay placeholders with their __init__.py.
    pkg2 = root / "app" / "sub2" / "pkg2"
    assert pkg2.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in pkg2.iterdir()) == ["__init__.py"]
    assert (pkg2 / "__init__.py").read_text() == "NAME = 'pkg2'\n"
    # models/ holds no code: it came in full with the root (chunked file
    # assembled from its chunks).
    weights = (root / "models" / "weights.bin").read_bytes()
    assert weights == (src / "models" / "weights.bin").read_bytes()
    assert os.readlink(root / "bin" / "readme") == "../README"
    # The CLI activates it lazily too, from the node cache.
    again = cli("activate", store, digest, "--mode", "lazy", "--json")
    assert again.returncode == 0, again
    assert again.json()["mode"] == "lazy"


def test_tag_and_a_store_holding_both_formats(src, store, cli):
    one = cli("push", src, store, "--format", "1", "--tag", "v1", "--json").json()
    two = cli("push", src, store, "--tag", "v2", "--json").json()  # 2 is the default
    assert one["format"] == 1 and two["format"] == 2
    assert one["digest"] != two["digest"]  # the formats name trees differently
    assert cli("tag", store, two["digest"], "prod").returncode == 0
    listed = cli("ls", store, "--json").json()
    assert {one["digest"], two["digest"]} <= set(listed["trees"])
    a = lazypath.pull(store, "v1")
    b = lazypath.pull(store, "prod")
    assert tree_files(Path(a.path)) == tree_files(Path(b.path)) == tree_files(src)


def test_a_damaged_directory_object_fails_activation_in_one_line(src, store, cli):
    res = cli("push", src, store, "--format", "2", "--json")
    digest = res.json()["digest"]
    (pack,) = os.listdir(store / "packs")
    path = store / "packs" / pack
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40  # the last located frame: a directory object
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    refused = cli("activate", store, digest)
    line = assert_one_line_error(refused, "directory sha256:")
    assert "Traceback" not in line
    assert not (Path(os.environ["LAZYPATH_CACHE"]) / "trees" / digest.split(":")[1]).exists()
