"""Prune: retention rules, two-phase deletion and its safety (doc/lifecycle.md),
through the API and the CLI on file://, s3:// (moto) and gs://
(gcp-storage-emulator), with stores holding format 1 and format 2 trees.

Every kept tree is checked by activating it eagerly in a fresh node cache and
comparing the materialised files with what was pushed (tests/integrity.py's
read_dir, and its store and cache checks where the store is format 1 only).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import integrity
import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, write_tree
from lazypath.errors import ConflictError, LazypathError, UnsupportedError
from store_servers import (  # noqa: F401
    GOOGLE_VARS,
    gcs_emulator_fixture,
    moto_s3_fixture,
)

STRICT = {"keep_last": 0, "keep_within": 0, "grace": 0}
STRICT_FLAGS = ["--keep-last", "0", "--keep-within", "0", "--grace", "0"]


@dataclass
class Store:
    kind: str
    url: str
    env: dict
    keys: Callable[[], list[str]]  # every object key, listed behind lazypath's back


@pytest.fixture(params=["file", "s3", "gs"])
def any_store(request, tmp_path, monkeypatch) -> Store:
    kind = request.param
    if kind == "file":
        root = tmp_path / "store"

        def keys():
            if not root.exists():
                return []
            return sorted(
                p.relative_to(root).as_posix()
                for p in root.rglob("*")
                if p.is_file() and not p.relative_to(root).as_posix().startswith(".")
            )

        return Store(kind, root.as_uri(), {}, keys)
    if kind == "s3":
        s3 = request.getfixturevalue("moto_s3")
        env = s3.env()
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        bucket = s3.make_bucket()
        client = s3.client()

        def keys():
            out = []
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix="app/"
            ):
                out += [o["Key"][len("app/") :] for o in page.get("Contents", [])]
            return sorted(out)

        return Store(kind, f"s3://{bucket}/app", env, keys)
    gcs = request.getfixturevalue("gcs_emulator")
    for k in GOOGLE_VARS:
        monkeypatch.delenv(k, raising=False)
    env = gcs.env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bucket = gcs.make_bucket()
    url = f"gs://{bucket}/app"

    def gs_keys():
        # The emulator's own JSON listing (objects list API).
        import urllib.parse
        import urllib.request

        out, token = [], ""
        while True:
            q = urllib.parse.urlencode(
                {"prefix": "app/", **({"pageToken": token} if token else {})}
            )
            with urllib.request.urlopen(f"{gcs.endpoint}/storage/v1/b/{bucket}/o?{q}") as r:
                doc = json.loads(r.read())
            out += [i["name"][len("app/") :] for i in doc.get("items", [])]
            token = doc.get("nextPageToken", "")
            if not token:
                return sorted(out)

    return Store(kind, url, env, gs_keys)


def version(tmp_path: Path, name: str, n: int, *, shared: bool = True) -> Path:
    """A small app: pkg<k>/mod<i>.py. With `shared`, only pkg0 differs between
    versions (the rest is reused); else every file is unique to `n`."""
    files = {}
    for k in range(3):
        for i in range(4):
            v = n if (k == 0 or not shared) else 0
            files[f"pkg{k}/mod{i}.py"] = f"VALUE = {v * 1000 + k * 10 + i}\n"
        files[f"pkg{k}/__init__.py"] = ""
    files["app.txt"] = f"{name} {n}\n"
    return write_tree(tmp_path / f"src-{name}-{n}", files)


def assert_activates(url: str, digest: str, src: Path, cache: Path) -> None:
    """Eager activation into the fresh node cache `cache` materialises exactly `src`."""
    tree = lazypath.pull(url, digest, cache_dir=cache)
    assert integrity.read_dir(Path(tree.path)) == integrity.read_dir(src)


def tree_set(url: str) -> set[str]:
    return set(lazypath.ls(url).trees)


# ------------------------------------------------------------------ rules


def test_strict_rules_keep_exactly_the_current_refs(any_store, tmp_path):
    url = any_store.url
    pushed = {}
    for n, fmt in [(1, 1), (2, 2), (3, 1), (4, 2)]:
        src = version(tmp_path, "prod", n)
        pushed[n] = (lazypath.push(src, url, tag="prod", format=fmt), src)
    other_src = version(tmp_path, "other", 9, shared=False)
    other = lazypath.push(other_src, url, tag="other", format=2)
    legacy_src = version(tmp_path, "legacy", 7, shared=False)
    legacy = lazypath.push(legacy_src, url, tag="legacy", format=1)
    loose = lazypath.push(version(tmp_path, "loose", 5, shared=False), url, format=1)
    assert len(tree_set(url)) == 7

    report = lazypath.prune(url, **STRICT)
    assert report.trees == 7
    assert report.trees_deleted == 4
    assert report.packs_deleted > 0
    assert report.bytes_after < report.bytes_before
    assert report.requests > 0
    assert tree_set(url) == {pushed[4][0], other, legacy}
    assert loose not in tree_set(url)
    assert not any(k.startswith("prune/") for k in any_store.keys())
    for i, (digest, src) in enumerate([pushed[4], (other, other_src), (legacy, legacy_src)]):
        assert_activates(url, digest, src, tmp_path / f"fresh-{i}")
    if any_store.kind == "file":
        # The format 1 tree, checked independently in its own cache.
        integrity.check_cache(tmp_path / "fresh-2", {})
    # Nothing left to do.
    again = lazypath.prune(url, **STRICT)
    assert again.deleted == [] and again.condemned == []


def test_keep_last_and_keep_within(tmp_path):
    url = (tmp_path / "store").as_uri()
    digests = []
    for n in range(1, 5):
        digests.append(lazypath.push(version(tmp_path, "prod", n), url, tag="prod"))
    lazypath.prune(url, keep_last=2, keep_within=0, grace=0)
    assert tree_set(url) == set(digests[2:])
    # The moves happened just now: a window of an hour keeps them all.
    d5 = lazypath.push(version(tmp_path, "prod", 5), url, tag="prod", format=2)
    assert lazypath.prune(url, keep_last=0, keep_within="1h", grace=0).deleted == []
    assert tree_set(url) == {*digests[2:], d5}


def test_dry_run_changes_nothing(any_store, tmp_path):
    url = any_store.url
    lazypath.push(version(tmp_path, "prod", 1), url, tag="prod")
    lazypath.push(version(tmp_path, "prod", 2), url, tag="prod", format=2)
    lazypath.push(version(tmp_path, "prod", 3, shared=False), url, tag="prod")
    before = any_store.keys()
    trees_before = tree_set(url)
    report = lazypath.prune(url, dry_run=True, **STRICT)
    assert report.dry_run
    assert report.trees_deleted == 2
    assert report.bytes_after < report.bytes_before
    assert any(k.startswith("packs/") for k in report.deleted)
    assert any_store.keys() == before
    assert tree_set(url) == trees_before

    res = run_cli("prune", url, "--dry-run", *STRICT_FLAGS, env=any_store.env)
    assert res.returncode == 0, res
    assert "would delete trees/" in res.stdout
    assert "reclaimed" in res.stdout
    assert any_store.keys() == before


def test_cli_json_and_usage(tmp_path):
    url = (tmp_path / "store").as_uri()
    # A format 1 tree, whose pack, index and tree go, beside the format 2
    # tree that is kept.
    lazypath.push(version(tmp_path, "prod", 1), url, tag="prod", format=1)
    keep = lazypath.push(version(tmp_path, "prod", 2), url, tag="prod", format=2)
    res = run_cli("prune", url, *STRICT_FLAGS, "--json")
    assert res.returncode == 0, res
    doc = res.json()
    assert doc["trees_deleted"] == 1 and doc["trees_kept"] == 1
    assert doc["bytes_reclaimed"] == doc["bytes_before"] - doc["bytes_after"] > 0
    assert doc["packs_repacked"] == 0
    assert res.stderr == ""
    assert tree_set(url) == {keep}
    text = run_cli("prune", url)
    assert text.returncode == 0, text
    assert "trees: 1 kept, 0 deleted" in text.stdout
    bad = run_cli("prune", url, "--grace", "soon")
    assert bad.returncode == 2 and "duration" in bad.stderr


def test_withdrawn_locations_are_reported_and_gone(tmp_path):
    url = (tmp_path / "store").as_uri()
    lazypath.push(version(tmp_path, "prod", 1), url, tag="prod", format=2)
    src = version(tmp_path, "prod", 2)
    keep = lazypath.push(src, url, tag="prod", format=2)
    locs_before = {k for k in (tmp_path / "store" / "locs").iterdir()}
    dry = run_cli("prune", url, *STRICT_FLAGS, "--dry-run")
    assert dry.returncode == 0, dry
    assert "locations: would withdraw" in dry.stdout
    assert {k for k in (tmp_path / "store" / "locs").iterdir()} == locs_before
    res = run_cli("prune", url, *STRICT_FLAGS, "--json")
    assert res.returncode == 0, res
    doc = res.json()
    # v1's pack stays (v2 reuses pkg1 and pkg2 from it); v1's pkg0 and
    # root directories in it are withdrawn.
    assert doc["objects_withdrawn"] >= 1 and doc["locations_rewritten"] >= 1, doc
    assert doc["rewritten"], doc
    store = tmp_path / "store"
    assert not any((store / key).exists() for key in doc["rewritten"])
    again = lazypath.prune(url, **STRICT)
    assert again.rewritten == [] and again.deleted == [] and again.objects_withdrawn == 0
    assert tree_set(url) == {keep}
    assert_activates(url, keep, src, tmp_path / "cache")


def test_https_store_is_read_only():
    res = run_cli("prune", "https://127.0.0.1:9/app")
    assert_one_line_error(res, "https://127.0.0.1:9/app", "read-only")
    with pytest.raises(UnsupportedError, match="read-only"):
        lazypath.prune("https://127.0.0.1:9/app")


# ------------------------------------------------------------------ the grace protocol


def test_grace_condemns_first_and_deletes_later(tmp_path):
    url = (tmp_path / "store").as_uri()
    old_src = version(tmp_path, "prod", 1, shared=False)
    old = lazypath.push(old_src, url, tag="prod", format=2)
    new = lazypath.push(version(tmp_path, "prod", 2, shared=False), url, tag="prod")
    first = lazypath.prune(url, keep_last=0, keep_within=0, grace=2)
    assert first.deleted == [] and first.trees_condemned == 1
    assert tree_set(url) == {old, new}
    assert_activates(url, old, old_src, tmp_path / "fresh")
    time.sleep(2.2)
    second = lazypath.prune(url, keep_last=0, keep_within=0, grace=2)
    assert second.trees_deleted == 1
    assert tree_set(url) == {new}
    assert not list((tmp_path / "store" / "prune").glob("*"))


@pytest.mark.parametrize("fmt", [1, 2])
def test_concurrent_pushes_reusing_old_blobs_end_complete(tmp_path, fmt):
    """Pushes reuse the blobs of a tree that prunes condemn and delete while
    they run; every pushed tree must end whole."""
    url = (tmp_path / "store").as_uri()
    base = version(tmp_path, "old", 1, shared=False)
    lazypath.push(base, url, tag="prod", format=fmt)
    lazypath.push(version(tmp_path, "new", 2, shared=False), url, tag="prod", format=fmt)
    grace = 1
    pushed: list[tuple[str, Path]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def pusher():
        i = 0
        try:
            while not stop.is_set():
                # The old tree's files plus one: reuses every old blob.
                src = tmp_path / f"again-{i}"
                if not src.exists():
                    import shutil

                    shutil.copytree(base, src)
                    (src / "extra.py").write_text(f"N = {i}\n")
                pushed.append((lazypath.push(src, url, tag=f"again-{i}", format=fmt), src))
                if i % 2:  # every other tree loses its ref: prunes may take it
                    lazypath.untag(url, f"again-{i}")
                i += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=pusher)
    t.start()
    deadline = time.monotonic() + 6
    runs = 0
    packs_deleted = 0
    try:
        while time.monotonic() < deadline:
            packs_deleted += lazypath.prune(
                url, keep_last=0, keep_within=0, grace=grace
            ).packs_deleted
            runs += 1
            time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert runs > 3 and len(pushed) > 3
    assert packs_deleted > 0  # the old tree's packs went while pushes ran
    refs = lazypath.ls(url).refs
    for i, (digest, src) in enumerate(pushed):
        if f"again-{i}" in refs:
            assert_activates(url, digest, src, tmp_path / f"fresh-{i}")
    # And once nothing runs any more, the last rounds finish the cleaning.
    time.sleep(grace + 0.2)
    lazypath.prune(url, keep_last=0, keep_within=0, grace=grace)
    time.sleep(grace + 0.2)
    lazypath.prune(url, keep_last=0, keep_within=0, grace=grace)
    assert tree_set(url) == {refs[r] for r in refs}


def test_two_prunes_at_once(tmp_path):
    url = (tmp_path / "store").as_uri()
    for n in range(1, 4):
        lazypath.push(version(tmp_path, "prod", n), url, tag="prod")
    lock = tmp_path / "store" / "prune" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(
        f"lazypath-prune-lock 1\ntime {int(time.time())}\nactor ci@build-7\n"
        "host build-7\npid 4242\nid 0123456789abcdef\n"
    )
    res = run_cli("prune", url, *STRICT_FLAGS)
    assert_one_line_error(res, url, "another prune holds prune/lock", "ci@build-7", code=3)
    assert len(tree_set(url)) == 3
    lock.unlink()

    # Two real ones racing: each finishes or stops at the lock, and the
    # store ends pruned.
    outcomes: list[str] = []

    def one():
        try:
            lazypath.prune(url, **STRICT)
            outcomes.append("ok")
        except ConflictError as e:
            assert "another prune" in str(e)
            outcomes.append("conflict")

    threads = [threading.Thread(target=one) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) in (["conflict", "ok"], ["ok", "ok"])
    assert len(tree_set(url)) == 1
    assert not lock.exists()


# Prunes, and SIGKILLs itself after argv[2] seconds (from a thread: the core
# runs without the GIL). Prints how long the prune took if it finished.
_KILLABLE = """
import os, signal, sys, threading, time
import lazypath
lazypath.parse_duration("0")  # the core is loaded before the clock starts

def die():
    time.sleep(float(sys.argv[2]))
    os.kill(os.getpid(), signal.SIGKILL)

threading.Thread(target=die, daemon=True).start()
start = time.monotonic()
lazypath.prune(sys.argv[1], keep_last=0, keep_within=0, grace=0)
print(time.monotonic() - start)
"""


def _killable(url: str, delay: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _KILLABLE, url, str(delay)], capture_output=True, text=True
    )


def test_killed_prune_then_rerun_leaves_a_clean_usable_store(tmp_path):
    import shutil

    url = (tmp_path / "store").as_uri()
    kept = {}
    for n in range(1, 25):
        fmt = 2 if n % 2 else 1
        src = version(tmp_path, "prod", n, shared=n % 3 != 0)
        kept["prod"] = (lazypath.push(src, url, tag="prod", format=fmt), src)
    other_src = version(tmp_path, "other", 99, shared=False)
    kept["other"] = (lazypath.push(other_src, url, tag="other", format=1), other_src)
    plan = lazypath.prune(url, dry_run=True, **STRICT)
    assert len(plan.deleted) > 40
    # How long a whole run takes, on a copy.
    store = tmp_path / "store"
    shutil.copytree(store, tmp_path / "pristine")
    shutil.copytree(store, tmp_path / "copy")
    timed = _killable((tmp_path / "copy").as_uri(), 1000)
    assert timed.returncode == 0, timed.stderr
    duration = float(timed.stdout)
    rng = random.Random(int(os.environ.get("LAZYPATH_TEST_SEED", "12")))
    lock = store / "prune" / "lock"
    killed_mid_run = 0
    for i in range(10):
        res = _killable(url, rng.uniform(0, duration))
        if res.returncode == -signal.SIGKILL and lock.exists():
            killed_mid_run += 1
        # Usable after every kill: the kept trees activate whole.
        for name, (digest, src) in kept.items():
            assert_activates(url, digest, src, tmp_path / f"cache-{i}-{name}")
        if lazypath.prune(url, dry_run=True, **STRICT).deleted == []:
            if killed_mid_run:
                break
            # Every run so far finished before its kill (this one ran faster
            # than the timed one): start again from the unpruned store, on a
            # shorter clock.
            shutil.rmtree(store)
            shutil.copytree(tmp_path / "pristine", store)
            duration /= 2
    assert killed_mid_run > 0
    # The rerun breaks the dead run's lock (this host, its pid gone) and
    # finishes the cleaning.
    lazypath.prune(url, **STRICT)
    assert tree_set(url) == {d for d, _ in kept.values()}
    assert lazypath.prune(url, dry_run=True, **STRICT).deleted == []
    assert not lock.exists()
    assert not list((tmp_path / "store" / "prune").glob("condemned-*"))
    for name, (digest, src) in kept.items():
        assert_activates(url, digest, src, tmp_path / f"final-{name}")


def test_activation_during_prune_is_whole_or_a_one_line_error(tmp_path):
    """A tree deleted while an activation reads it: the activation either
    completes with the tree's verified bytes or fails naming a digest, and
    never leaves a partial tree in the node cache."""
    url = (tmp_path / "store").as_uri()
    victims = []
    for n in range(1, 6):
        src = version(tmp_path, "old", n, shared=False)
        victims.append((lazypath.push(src, url, tag=f"old{n}", format=1 + n % 2), src))
    lazypath.push(version(tmp_path, "new", 9, shared=False), url, tag="new")
    for n in range(1, 6):
        lazypath.untag(url, f"old{n}")
    results: list[object] = []

    def activate(i, digest, src):
        cache = tmp_path / f"act-{i}"
        try:
            assert_activates(url, digest, src, cache)
            results.append("ok")
        except LazypathError as e:
            msg = str(e)
            assert "\n" not in msg
            assert (
                digest.split(":", 1)[1][:12] in msg
                or "sha256:" in msg
                or any(len(w) >= 64 for w in msg.replace("/", " ").split())
            ), msg
            results.append("error")
        # Whatever happened, the cache holds no half-made tree.
        trees = cache / "trees"
        for p in trees.iterdir() if trees.exists() else []:
            assert integrity.read_dir(p) == integrity.read_dir(src)

    threads = [
        threading.Thread(target=activate, args=(i, d, s)) for i, (d, s) in enumerate(victims)
    ]
    for th in threads:
        th.start()
    lazypath.prune(url, **STRICT)
    for th in threads:
        th.join()
    assert len(results) == len(victims)


def test_mostly_unused_format1_pack_is_repacked(tmp_path):
    store = tmp_path / "store"
    url = store.as_uri()
    # v2 keeps one of v1's three packages: v1's pack is two thirds unused.
    big = {
        f"p{k}/m{i}.py": "".join(f"x{k}{i}_{j} = {j}\n" for j in range(50))
        for k in range(3)
        for i in range(4)
    }
    v1 = write_tree(tmp_path / "v1", big)
    lazypath.push(v1, url, tag="prod", format=1)
    changed = {p: (c + "changed = 1\n" if not p.startswith("p2/") else c) for p, c in big.items()}
    v2_src = write_tree(tmp_path / "v2", changed)
    v2 = lazypath.push(v2_src, url, tag="prod", format=1)
    plan = lazypath.prune(url, dry_run=True, **STRICT)
    assert plan.packs_repacked == 1
    report = lazypath.prune(url, **STRICT)
    assert report.packs_repacked == 1 and report.packs_deleted == 0
    integrity.check_store(store)
    assert_activates(url, v2, v2_src, tmp_path / "fresh-1")
    later = lazypath.prune(url, **STRICT)
    assert later.packs_deleted == 1 and later.packs_repacked == 0
    integrity.check_store(store)
    assert len(list((store / "packs").iterdir())) == 2
    assert_activates(url, v2, v2_src, tmp_path / "fresh-2")
    integrity.check_cache(tmp_path / "fresh-2", {})


def test_mostly_unused_format2_pack_is_repacked(any_store, tmp_path):
    url = any_store.url
    # v2 keeps one of v1's three packages: v1's pack is two thirds unused.
    big = {
        f"p{k}/m{i}.py": "".join(f"x{k}{i}_{j} = {j}\n" for j in range(50))
        for k in range(3)
        for i in range(4)
    } | {f"p{k}/__init__.py": f"P = {k}\n" for k in range(3)}
    v1 = write_tree(tmp_path / "v1", big)
    lazypath.push(v1, url, tag="prod", format=2)
    packs_v1 = {k for k in any_store.keys() if k.startswith("packs/")}
    changed = {p: (c + "changed = 1\n" if not p.startswith("p2/") else c) for p, c in big.items()}
    v2_src = write_tree(tmp_path / "v2", changed)
    v2 = lazypath.push(v2_src, url, tag="prod", format=2)
    keys = any_store.keys()
    plan = lazypath.prune(url, dry_run=True, **STRICT)
    assert plan.packs_repacked == 1
    assert any_store.keys() == keys
    report = lazypath.prune(url, **STRICT)
    # v1's tree goes at once; its pack is repacked first and goes next run.
    assert report.packs_repacked == 1 and report.packs_deleted == 0, report
    assert packs_v1 <= set(any_store.keys())
    assert_activates(url, v2, v2_src, tmp_path / "fresh-1")
    later = lazypath.prune(url, **STRICT)
    assert later.packs_repacked == 0, later
    assert set(later.deleted) == packs_v1, later.deleted
    assert_activates(url, v2, v2_src, tmp_path / "fresh-2")
    packs = {k for k in any_store.keys() if k.startswith("packs/")}
    assert len(packs) == 2 and not packs & packs_v1  # v2's own and the copy
    assert lazypath.prune(url, **STRICT).deleted == []
    if any_store.kind == "file":
        integrity.check_store(tmp_path / "store")
    # A push of v1 again reuses p2/ from the copy and writes p0/, p1/ anew.
    again = lazypath.push(v1, url, tag="again", format=2)
    assert_activates(url, again, v1, tmp_path / "fresh-3")


def test_pushes_skip_condemned_packs_and_say_so(tmp_path):
    url = (tmp_path / "store").as_uri()
    base = version(tmp_path, "old", 1, shared=False)
    lazypath.push(base, url, tag="prod", format=1)
    lazypath.push(version(tmp_path, "new", 2, shared=False), url, tag="prod", format=1)
    lazypath.prune(url, keep_last=0, keep_within=0, grace=3600)
    marks = list((tmp_path / "store" / "prune").glob("condemned-*"))
    assert len(marks) == 1
    condemned = [line for line in marks[0].read_text().splitlines() if line.startswith("packs/")]
    assert condemned
    (base / "extra.py").write_text("N = 1\n")
    report = lazypath.push_report(base, url, tag="again", format=1)
    # Every old blob is uploaded again rather than reused from a condemned pack.
    assert report.blobs_uploaded == report.blobs_total
    index = json.loads((tmp_path / "store" / "indexes" / report.digest.split(":")[1]).read_text())
    assert not {f"packs/{p.split(':')[1]}" for p in index["packs"]} & set(condemned)
