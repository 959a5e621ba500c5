"""Many processes on one node: activation fetches each blob once; pushes don't clash.

Workers are real processes (and, in one test, threads) released together by
a start file, so they really overlap; no timing is asserted.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import lazypath
from conftest import run_cli, tree_files, write_tree

WORKER = r"""
import json, os, sys, time
import lazypath

go, store, ref, cache = sys.argv[1:5]
while not os.path.exists(go):  # start line: every worker is up and imported
    time.sleep(0.002)
if sys.argv[5] == "activate":
    t = lazypath.pull(store, ref, cache_dir=cache)
    out = {"path": t.path, "digest": t.digest, "cached": t.cached,
           "blobs_fetched": t.blobs_fetched, "bytes_fetched": t.bytes_fetched}
else:
    r = lazypath.push_report(ref, store, tag=sys.argv[6], cache_dir=cache)
    out = {"digest": r.digest, "blobs_uploaded": r.blobs_uploaded}
print(json.dumps(out))
"""


def big_tree(root: Path, salt: str = "") -> Path:
    """~220 files in nested packages: unique, shared-content, empty, one symlink."""
    files = {}
    for d in range(10):
        files[f"pkg{d}/__init__.py"] = ""
        for i in range(20):
            body = f"# {salt} module {d}.{i}\n" + f"VALUE_{i} = {d * 100 + i}\n" * (50 + i)
            files[f"pkg{d}/mod{i}.py"] = body
        files[f"pkg{d}/LICENSE"] = "shared license text\n" * 40  # the same in every dir
    files["data/random.bin"] = os.urandom(300_000)
    write_tree(root, files)
    os.symlink("pkg0/mod1.py", root / "alias.py")
    return root


def distinct_nonempty_blobs(root: Path) -> int:
    contents = {hashlib.sha256(b).hexdigest() for b in tree_files(root).values() if b}
    return len(contents)


def start_workers(tmp_path: Path, argvs: list) -> list:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(go), *map(str, argv)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for argv in argvs
    ]
    go.write_text("go")
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        results.append(json.loads(out))
    return results


def assert_same_tree(path: Path, src: Path) -> None:
    assert tree_files(path) == tree_files(src)
    assert os.readlink(path / "alias.py") == "pkg0/mod1.py"


def test_many_processes_activate_one_tree_fetching_each_blob_once(tmp_path, store):
    src = big_tree(tmp_path / "src")
    digest = lazypath.push(src, store, tag="prod")
    cache = tmp_path / "shared-cache"
    n = 12
    results = start_workers(tmp_path, [[store, "prod", cache, "activate"]] * n)

    assert len(results) == n
    assert {r["path"] for r in results} == {str(cache / "trees" / digest[7:])}
    assert {r["digest"] for r in results} == {digest}
    expected = distinct_nonempty_blobs(src)
    assert sum(r["blobs_fetched"] for r in results) == expected
    # Exactly one process built the tree; the others found it published.
    assert sum(1 for r in results if not r["cached"]) == 1
    assert_same_tree(Path(results[0]["path"]), src)
    # Blobs were adopted once each; nothing half-built stayed behind.
    blob_files = [p for p in (cache / "blobs").rglob("*") if p.is_file()]
    assert len({p.name.split(".")[0] for p in blob_files}) == expected
    assert os.listdir(cache / "trees") == [digest[7:]]


def test_many_cli_processes_activate_at_once(tmp_path, store):
    src = big_tree(tmp_path / "src")
    digest = lazypath.push(src, store)
    cache = tmp_path / "cli-cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lazypath", "activate", str(store), digest, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "LAZYPATH_CACHE": str(cache)},
        )
        for _ in range(8)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert len({r["path"] for r in results}) == 1
    assert sum(r["blobs_fetched"] for r in results) == distinct_nonempty_blobs(src)
    assert_same_tree(Path(results[0]["path"]), src)


def test_threads_in_one_process_activate_one_tree(tmp_path, store):
    src = big_tree(tmp_path / "src")
    digest = lazypath.push(src, store)
    cache = tmp_path / "thread-cache"
    start = threading.Barrier(8)
    results, errors = [], []

    def work():
        try:
            start.wait()
            results.append(lazypath.pull(store, digest, cache_dir=cache))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.path for r in results}) == 1
    assert sum(r.blobs_fetched for r in results) == distinct_nonempty_blobs(src)
    assert_same_tree(Path(results[0].path), src)


def test_concurrent_pushes_of_different_dirs_to_one_store(tmp_path, store):
    n = 8
    srcs = [big_tree(tmp_path / f"src{i}", salt=f"tree {i}") for i in range(n)]
    argvs = [[store, srcs[i], tmp_path / f"push-cache{i}", "push", f"team/t{i}"] for i in range(n)]
    results = start_workers(tmp_path, argvs)

    digests = [r["digest"] for r in results]
    assert len(set(digests)) == n
    listing = run_cli("ls", store, "--json").json()
    assert listing["refs"] == {f"team/t{i}": digests[i] for i in range(n)}
    assert set(digests) <= set(listing["trees"])

    fresh = tmp_path / "verify-cache"
    for i in range(n):
        tree = lazypath.pull(store, f"team/t{i}", cache_dir=fresh)
        assert tree.digest == digests[i]
        assert_same_tree(Path(tree.path), srcs[i])


def test_concurrent_pushes_of_the_same_dir(tmp_path, store):
    src = big_tree(tmp_path / "src")
    argvs = [[store, src, tmp_path / f"c{i}", "push", "same"] for i in range(6)]
    results = start_workers(tmp_path, argvs)
    assert len({r["digest"] for r in results}) == 1
    tree = lazypath.pull(store, "same", cache_dir=tmp_path / "verify")
    assert tree.digest == results[0]["digest"]
    assert_same_tree(Path(tree.path), src)
