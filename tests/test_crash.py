"""Crash safety: SIGKILL push, eager and lazy activation at random points.

A fork server (tests/crash_worker.py) runs each operation in a child and
kills it after a random delay drawn from the operation's own measured
duration, so kills land everywhere from the store lookup to the final
rename. After every kill the store and the node cache are checked by an
independent implementation (tests/integrity.py): every visible tree is
complete and hashes to its name, no object in the store is torn, refs point
at complete trees, and the cache's own verify finds nothing to repair. Then
the operation runs again, unkilled, and must succeed with the right content.

The RNG seed is printed (run with -s); set LAZYPATH_CRASH_SEED to replay a
run. LAZYPATH_CRASH_KILLS scales the kills per operation (default 70).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lazypath
import pytest
from integrity import Entries, check_cache, check_store, read_dir, sha_hex, tree_hex2

KILLS = int(os.environ.get("LAZYPATH_CRASH_KILLS", "70"))
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def seed() -> int:
    s = int(os.environ.get("LAZYPATH_CRASH_SEED", random.randrange(2**32)))
    print(f"\ncrash suite seed: LAZYPATH_CRASH_SEED={s}")
    return s


def make_src(root: Path, salt: str) -> tuple[Entries, dict, dict]:
    """Writes a small app (packages, a nested package, data, an executable, a
    symlink, an empty file, shared and random content) under root.

    Returns its entries, {module: VALUE} and {data path: text}.
    """
    rnd = random.Random(salt)
    entries: Entries = {}
    modules: dict[str, str] = {}
    for i in range(6):
        entries[f"pkg{i}/__init__.py"] = ("f", f"VALUE = 'init-{i}'\n".encode())
        modules[f"pkg{i}"] = f"init-{i}"
        entries[f"pkg{i}/LICENSE"] = ("f", b"the same license text\n" * 50)
        for j in range(6):
            value = f"{salt}-{i}-{j}" if j < 2 else f"fixed-{i}-{j}"
            body = f"VALUE = {value!r}\n" + f"# filler {i}.{j}\n" * 120
            entries[f"pkg{i}/mod{j}.py"] = ("f", body.encode())
            modules[f"pkg{i}.mod{j}"] = value
    entries["pkg0/sub/__init__.py"] = ("f", b"VALUE = 'sub'\n")
    entries["pkg0/sub/deep.py"] = ("f", f"VALUE = 'deep-{salt}'\n".encode())
    modules["pkg0.sub"] = "sub"
    modules["pkg0.sub.deep"] = f"deep-{salt}"
    entries["pkg1/alias.py"] = ("l", "mod0.py")
    entries["pkg2/empty.txt"] = ("f", b"")
    entries["bin/tool"] = ("x", b"#!/bin/sh\necho tool\n")
    entries["data/config.txt"] = ("f", f"config {salt}\n".encode())
    entries["data/nested/blob.bin"] = ("f", rnd.randbytes(150_000))
    data = {"data/config.txt": f"config {salt}\n"}
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    for rel, (kind, payload) in entries.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if kind == "l":
            os.symlink(payload, p)
        else:
            p.write_bytes(payload)
            if kind == "x":
                p.chmod(0o755)
    return entries, modules, data


class Worker:
    """The fork server: one JSON command in, one JSON reply out."""

    def __init__(self, log: Path):
        self.log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def __call__(self, **cmd) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "crash worker died"
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture
def tmp_path(tmp_path: Path):
    """A directory on /dev/shm (tmpfs) when there is one, else pytest's tmp_path.

    A SIGKILL loses no page cache, so what a kill can break does not depend
    on the file system; but every publish calls syncfs(2), which on a disk
    shared with other work costs up to seconds per call and would turn this
    suite from seconds into minutes.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(prefix="lazypath-crash-", dir=shm))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def worker(tmp_path: Path):
    w = Worker(tmp_path / "worker.log")
    yield w
    w.close()


def log_tail(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text(errors="replace")[-3000:]


def calibrate(worker: Worker, reset, **cmd) -> float:
    """Median wall time of the operation run to completion (from reset state)."""
    times = []
    for _ in range(3):
        reset()
        r = worker(**cmd)
        assert r["rc"] == 0, r
        times.append(r["seconds"])
    return statistics.median(times)


def kill_once(worker: Worker, tmp_path: Path, rng: random.Random, duration: float, **cmd) -> bool:
    """Runs the operation with a SIGKILL after a random share of `duration`
    (up to 1.2x, so some runs finish); it must be killed or succeed. Returns
    whether it was killed."""
    r = worker(**cmd, kill_after=rng.uniform(0, duration * 1.2))
    assert r["killed"] or r["rc"] == 0, (r, log_tail(tmp_path))
    return r["killed"]


def verify_cache_clean(cache: Path) -> None:
    v = lazypath.cache_verify(str(cache), repair=False)
    assert v["bad_blobs"] == [] and v["trees_invalidated"] == [], v


def assert_gc_clears_debris(cache: Path) -> None:
    """Gc removes every kill's debris once it is old enough not to belong to
    a process in another pid namespace (ten minutes): nothing lingers."""
    old = time.time() - 3600
    for p in cache.rglob("*.tmp.*"):
        os.utime(p, (old, old), follow_symlinks=False)
    lazypath.cache_gc(str(cache))
    debris = [str(p.relative_to(cache)) for p in cache.rglob("*.tmp.*")]
    assert debris == [], debris


def test_kill_push(tmp_path: Path, worker: Worker, seed: int) -> None:
    rng = random.Random(seed ^ 0x5055)
    src, store, cache = tmp_path / "src", tmp_path / "store", tmp_path / "cache"
    known: dict[str, Entries] = {}
    state: dict = {}

    def new_content() -> None:
        salt = f"s{rng.randrange(10**9)}"
        entries, modules, data = make_src(src, salt)
        known[tree_hex2(entries)] = entries
        state.update(entries=entries, modules=modules, data=data)

    cmd = {"op": "push", "src": str(src), "store": str(store), "ref": "crash", "cache": str(cache)}
    duration = calibrate(worker, new_content, **cmd)
    kills = runs = 0
    while kills < KILLS and runs < 4 * KILLS:
        runs += 1
        new_content()
        kills += kill_once(worker, tmp_path, rng, duration, **cmd)
        trees = check_store(store)
        assert set(trees) <= set(known), "a tree nobody pushed"
        # The push again, to completion, then an activation of what it tagged.
        r = worker(**cmd)
        assert r["rc"] == 0, (r, log_tail(tmp_path))
        ref = (store / "refs" / "crash").read_text().strip()
        assert ref == "sha256:" + tree_hex2(state["entries"])
        check_store(store)
        r = worker(
            op="eager",
            store=str(store),
            ref="crash",
            cache=str(tmp_path / "check-cache"),
            modules=state["modules"],
            data=state["data"],
        )
        assert r["rc"] == 0, (r, log_tail(tmp_path))
    print(f"push: {kills} kills in {runs} runs (full push {duration * 1000:.0f} ms)")
    assert kills >= KILLS
    assert_gc_clears_debris(cache)  # the push's stat cache and staged packs
    check_cache(tmp_path / "check-cache", known)


def pushed_app(tmp_path: Path, salt: str, op: str) -> tuple[Path, Path, Entries, str, dict]:
    """make_src(salt) pushed to tmp_path/store as ref "crash"; returns the
    store, the node cache to activate into, the entries, the digest and the
    worker command that activates it (`op`: eager or lazy) and checks it."""
    src, store, cache = tmp_path / "src", tmp_path / "store", tmp_path / "cache"
    entries, modules, data = make_src(src, salt)
    digest = lazypath.push(str(src), str(store), tag="crash", cache_dir=str(tmp_path / "pc"))
    assert digest == "sha256:" + tree_hex2(entries)
    cmd = {
        "op": op,
        "store": str(store),
        "ref": "crash",
        "cache": str(cache),
        "modules": modules,
        "data": data,
    }
    return store, cache, entries, digest, cmd


def _activation_kills(tmp_path: Path, worker: Worker, seed: int, op: str) -> None:
    rng = random.Random(seed ^ {"eager": 1, "lazy": 2}[op])
    store, cache, entries, digest, cmd = pushed_app(tmp_path, "activation", op)
    known = {digest[7:]: entries}

    def reset() -> None:
        # Mostly: the tree gone but (some) blobs kept; sometimes a cold cache.
        if rng.random() < 0.3:
            lazypath.cache_clear(str(cache))
        else:
            lazypath.cache_evict(digest, str(cache))

    duration = calibrate(worker, reset, **cmd)
    kills = runs = 0
    while kills < KILLS and runs < 4 * KILLS:
        runs += 1
        if rng.random() < 0.8:  # else: start from the previous kill's debris
            reset()
        # Eager: half through lazypath.pull, the CLI's path (no lease, no hook).
        pull = op == "eager" and rng.random() < 0.5
        kills += kill_once(worker, tmp_path, rng, duration, **cmd, pull=pull)
        check_cache(cache, known)
        verify_cache_clean(cache)
        for t in lazypath.cache_usage(str(cache))["trees"]:
            assert t["digest"] == digest, t
        r = worker(**cmd)  # a new activation, unkilled
        assert r["rc"] == 0, (r, log_tail(tmp_path))
        check_cache(cache, known)
        if op == "eager":
            assert read_dir(cache / "trees" / digest[7:]) == entries
    print(f"{op} activation: {kills} kills in {runs} runs (full run {duration * 1000:.0f} ms)")
    assert kills >= KILLS
    assert_gc_clears_debris(cache)
    # The CLI's verify agrees: nothing to repair.
    res = subprocess.run(
        [sys.executable, "-m", "lazypath", "cache", "verify", "--json", "--cache", str(cache)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res
    assert json.loads(res.stdout)["bad_blobs"] == []
    res = subprocess.run(
        [sys.executable, "-m", "lazypath", "cache", "ls", "--json", "--cache", str(cache)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res
    listed = json.loads(res.stdout)["trees"]
    assert [t["digest"] for t in listed] == [digest], listed
    check_cache(cache, known)


def test_kill_eager_activation(tmp_path: Path, worker: Worker, seed: int) -> None:
    _activation_kills(tmp_path, worker, seed, "eager")


def test_kill_lazy_activation(tmp_path: Path, worker: Worker, seed: int) -> None:
    _activation_kills(tmp_path, worker, seed, "lazy")


@pytest.mark.parametrize("op", ["eager", "lazy"])
def test_sixteen_activations_some_killed(
    tmp_path: Path, worker: Worker, seed: int, op: str
) -> None:
    rng = random.Random(seed ^ 16 ^ len(op))
    store, cache, entries, digest, cmd = pushed_app(tmp_path, "swarm", op)
    known = {digest[7:]: entries}
    duration = calibrate(worker, lambda: lazypath.cache_clear(str(cache)), **cmd)
    total_kills = 0
    for round_ in range(3):
        lazypath.cache_clear(str(cache))
        out = tmp_path / f"out{round_}"
        victims = set(rng.sample(range(16), 5))
        delays = [rng.uniform(0, 2 * duration) if i in victims else None for i in range(16)]
        r = worker(**cmd, swarm=True, out=str(out), kill_after=delays)
        paths = set()
        for i, c in enumerate(r["children"]):
            if delays[i] is None or not c["killed"]:
                assert c["rc"] == 0, (i, c, log_tail(tmp_path))
                result = json.loads(Path(f"{out}.{i}").read_text())
                assert result["digest"] == digest
                paths.add(result["path"])
            total_kills += c["killed"]
        assert len(paths) == 1, paths  # every survivor uses the same tree
        check_cache(cache, known)
        verify_cache_clean(cache)
        r = worker(**cmd)  # a fresh activation afterwards
        assert r["rc"] == 0, (r, log_tail(tmp_path))
        check_cache(cache, known)
    print(f"16 concurrent {op} activations: {total_kills} killed over 3 rounds")
    assert total_kills >= 3


@pytest.mark.parametrize("op", ["gc", "verify"])
def test_kill_cache_maintenance(tmp_path: Path, worker: Worker, seed: int, op: str) -> None:
    """SIGKILL `cache gc` (budget 0: evict and sweep everything unused) and
    `cache verify` (rehash every blob, repair a corrupted one) at random
    points. A killed gc leaves every visible tree complete; a killed verify
    never leaves a tree half-removed, and the next verify finishes the repair.
    Either way the next activation of every version succeeds."""
    rng = random.Random(seed ^ {"gc": 0x6C, "verify": 0x7E}[op])
    store, cache = tmp_path / "store", tmp_path / "cache"
    known: dict[str, Entries] = {}
    versions = []
    for v in range(3):
        entries, modules, data = make_src(tmp_path / f"src{v}", f"maint-{v}")
        src = tmp_path / f"src{v}"
        digest = lazypath.push(str(src), str(store), cache_dir=str(tmp_path / "pc"))
        known[digest[7:]] = entries
        versions.append((digest, entries, modules, data))
    victim_digest, victim_entries = versions[0][0], versions[0][1]
    # A blob only version 0 has (its random data file), to corrupt for verify.
    victim_rel = "data/nested/blob.bin"
    victim_blob = sha_hex(victim_entries[victim_rel][1])

    def reset() -> None:
        # The last version lazily (one child imports a few of its packages,
        # then exits), the others eagerly; no process keeps a lease, so gc
        # may take them all. (After a verify run the last one may be eager.)
        last, _, modules, _ = versions[2]
        some = {k: v for k, v in modules.items() if k.startswith(("pkg0", "pkg3"))}
        r = worker(op="lazy", store=str(store), ref=last, cache=str(cache), modules=some, data={})
        assert r["rc"] == 0, (r, log_tail(tmp_path))
        for digest, *_ in versions[:2]:
            lazypath.pull(str(store), digest, cache_dir=str(cache))
        if op == "verify":
            blob = cache / "blobs" / victim_blob[:2] / victim_blob
            if blob.exists():
                size = blob.stat().st_size
                blob.chmod(0o644)
                blob.write_bytes(b"\0" * size)  # same size, wrong content
                blob.chmod(0o444)

    def check_after_kill() -> None:
        if op == "gc":
            check_cache(cache, known)
            return
        # The corrupted blob may still be there (the kill came before the
        # repair), but no tree is ever left half-removed.
        for p in sorted((cache / "trees").iterdir()):
            assert set(read_dir(p)) == set(known[p.name]), f"{p}: incomplete after a kill"
        lazypath.cache_verify(str(cache), repair=True)  # finishes the repair
        check_cache(cache, known)
        verify_cache_clean(cache)

    if op == "verify":  # the corruption is real: an unkilled verify finds it
        reset()
        v = lazypath.cache_verify(str(cache), repair=True)
        assert v["bad_blobs"] == ["sha256:" + victim_blob], v
        assert v["trees_invalidated"] == [victim_digest], v
    cmd = {"op": op, "cache": str(cache)}
    duration = calibrate(worker, reset, **cmd)
    kills = runs = 0
    target = max(10, KILLS // 2)
    while kills < target and runs < 4 * target:
        runs += 1
        reset()
        kills += kill_once(worker, tmp_path, rng, duration, **cmd)
        check_after_kill()
        # The operation again, unkilled, then every version activates.
        r = worker(**cmd)
        assert r["rc"] == 0, (r, log_tail(tmp_path))
        check_cache(cache, known)
        for digest, entries, modules, data in versions:
            r = worker(
                op="eager",
                pull=True,
                store=str(store),
                ref=digest,
                cache=str(cache),
                modules=modules,
                data=data,
            )
            assert r["rc"] == 0, (r, log_tail(tmp_path))
            assert read_dir(cache / "trees" / digest[7:]) == entries
        if op == "verify":
            assert read_dir(cache / "trees" / victim_digest[7:]) == victim_entries
    print(f"cache {op}: {kills} kills in {runs} runs (full run {duration * 1000:.0f} ms)")
    assert kills >= target
    assert_gc_clears_debris(cache)
    check_cache(cache, known)
