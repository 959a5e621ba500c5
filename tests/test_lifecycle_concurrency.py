"""Prune under fire: pushes, activations and prunes in parallel processes,
SIGKILLed at random points, round after round, on a file store and on S3
(moto as a real server); and prune against an S3 listing that lags.

Each round starts pushes (which reuse old blobs and whole old directories on
purpose: every file is one of a few versions, and only a nonce file makes
each tree new), eager and lazy activations of the refs, and prunes with small
keep rules, in forked children of one warm interpreter
(tests/lifecycle_worker.py), and kills about half of them after a delay drawn
from 0 to 1.2 times the operation's measured duration. After every round,
tests/integrity.py (which does not trust the core) checks that every tree
record in the store is whole and every blob it reaches verifies, that every
ref names a tree that was pushed with exactly that content, and that every
tree the node cache shows as complete (trees/<hex>, and lazy/<hex>'s
finished directories) verifies. At the end, clean prunes must leave exactly
what the refs reach.

Two kinds of rounds, because `--grace 0` protects nothing against a push in
progress (doc/lifecycle.md, "Why concurrent pushes are safe": a push that
runs longer than the grace can lose a pack):

- strict rounds: the pushes run (and are killed) first, then activations and
  `--grace 0` prunes run together; every keep rule and every mark is judged
  the moment it is read, so these prunes delete at once;
- graced rounds: pushes, activations and prunes all at once, with a grace
  (GRACE) far above any push's duration here; the prunes delete what earlier
  rounds condemned. Every push that finished must have taken less than the
  grace, or the round would be outside the protocol; that is asserted.

Excluded interleaving: no push here ever pushes the exact content of a tree
the store already holds, and no ref is moved by `tag` or `rollback`. Such a
push finds the tree record and moves the ref without uploading, and a prune
deleting that tree in the same milliseconds can leave the ref naming a
deleted record (doc/lifecycle.md, "A ref moved to a condemned tree").

Rounds: FILE_ROUNDS and S3_ROUNDS. The RNG seed is printed (-s);
LAZYPATH_LIFECYCLE_SEED replays a run (doc/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import integrity
import lazypath
import pytest
from integrity import Entries, check_cache, check_store, tree_hex, tree_hex2
from store_servers import FaultProxy, moto_s3_fixture  # noqa: F401

HERE = Path(__file__).resolve().parent
FILE_ROUNDS = 240
S3_ROUNDS = 24
GRACE = {"file": 3, "s3": 6}  # seconds; graced rounds only
KILL_SHARE = 0.5
PKGS, MODS, VERSIONS = 3, 3, 3
TAGS = ("t0", "t1", "t2")
MODULES = [f"pkg{k}" for k in range(PKGS)] + [
    f"pkg{k}.mod{i}" for k in range(PKGS) for i in range(MODS)
]


@pytest.fixture(scope="module")
def seed() -> int:
    s = int(os.environ.get("LAZYPATH_LIFECYCLE_SEED", random.randrange(2**32)))
    print(f"\nlifecycle suite seed: LAZYPATH_LIFECYCLE_SEED={s}")
    return s


@pytest.fixture
def scratch():
    """A directory on /dev/shm when there is one (see tests/test_crash.py: a
    SIGKILL loses no page cache, and syncfs on a busy disk costs seconds)."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    d = Path(tempfile.mkdtemp(prefix="lazypath-lifecycle-", dir=base))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def entries_for(rng: random.Random, nonce: str) -> Entries:
    """A tiny app: each module one of VERSIONS versions (so its blob, and
    often its whole package directory, is an old one), and a nonce."""
    out: Entries = {}
    for k in range(PKGS):
        out[f"pkg{k}/__init__.py"] = ("f", f"PKG = {k}\n".encode())
        for i in range(MODS):
            v = rng.randrange(VERSIONS)
            out[f"pkg{k}/mod{i}.py"] = ("f", f"VALUE = '{k}.{i}.{v}'\n{'#' * 200 * v}\n".encode())
    out["nonce.txt"] = ("f", nonce.encode())
    return out


def write_entries(root: Path, entries: Entries) -> Path:
    for rel, (_, payload) in entries.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(payload)
    return root


class Worker:
    """The fork server (tests/lifecycle_worker.py)."""

    def __init__(self, log: Path, env: dict):
        self.log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "lifecycle_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **env},
        )

    def __call__(self, ops: list[dict], errdir: Path) -> list[dict]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"ops": ops, "errdir": str(errdir)}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "lifecycle worker died"
        return json.loads(line)["children"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


@dataclass
class Backend:
    kind: str
    url: str
    env: dict
    local: Path  # the file store, or where the S3 bucket is mirrored to check it
    client: object = None
    bucket: str = ""

    def snapshot(self) -> Path:
        """The store as files, for tests/integrity.py (S3: a fresh mirror,
        read with boto3 straight from moto, not through lazypath)."""
        if self.kind == "file":
            return self.local
        shutil.rmtree(self.local, ignore_errors=True)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix="app/"
        )
        for page in pages:
            for o in page.get("Contents", []):
                dest = self.local / o["Key"][len("app/") :]
                dest.parent.mkdir(parents=True, exist_ok=True)
                body = self.client.get_object(Bucket=self.bucket, Key=o["Key"])["Body"]
                dest.write_bytes(body.read())
        self.local.mkdir(parents=True, exist_ok=True)
        return self.local


@dataclass
class Tally:
    rounds: int = 0
    kills: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    conflicts: int = 0
    activation_errors: list = field(default_factory=list)
    tree_checks: int = 0
    cache_checks: int = 0
    trees_gone: int = 0
    packs_gone: int = 0
    longest_push: float = 0.0


def backend_for(kind: str, scratch: Path, request, monkeypatch) -> Backend:
    if kind == "file":
        store = scratch / "store"
        return Backend(kind, store.as_uri(), {}, store)
    s3 = request.getfixturevalue("moto_s3")
    env = s3.env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bucket = s3.make_bucket()
    return Backend(kind, f"s3://{bucket}/app", env, scratch / "mirror", s3.client(), bucket)


def check_round(b: Backend, cache: Path, known: dict[str, Entries], tally: Tally) -> set[str]:
    """The independent checks after a round; returns the store's object keys."""
    local = b.snapshot()
    trees = check_store(local)  # every tree record whole, every pack hashing to its name
    tally.tree_checks += len(trees)
    for name, hexname in integrity.ref_targets(local).items():
        assert hexname in known, f"ref {name} names {hexname}, which was never pushed"
        if trees[hexname].startswith(b"LZT2"):
            got = integrity.read_tree2(local, hexname, trees[hexname])
            assert got == known[hexname], f"ref {name}: tree {hexname} is not what was pushed"
    tally.cache_checks += check_cache(cache, known)
    return integrity.object_keys(local)


def measure(worker: Worker, errdir: Path, ops: list[dict]) -> dict[str, float]:
    """Each kind of op's duration, unkilled, one at a time."""
    out: dict[str, float] = {}
    for op in ops:
        (r,) = worker([op], errdir)
        assert r["rc"] == 0, r
        out[op["op"]] = max(out.get(op["op"], 0.0), r["seconds"])
    return out


def run_rounds(b: Backend, rounds: int, scratch: Path, seed: int) -> Tally:
    rng = random.Random(seed)
    cache = scratch / "cache"
    errdir = scratch / "err"
    errdir.mkdir()
    known: dict[str, Entries] = {}
    worker = Worker(scratch / "worker.log", b.env)
    tally = Tally()
    srcs: list[Path] = []

    def new_src(tag: str) -> Path:
        n = len(srcs)
        entries = entries_for(rng, f"{tag} {n} {rng.random()}\n")
        known[tree_hex(entries)] = known[tree_hex2(entries)] = entries
        src = write_entries(scratch / f"src-{n}", entries)
        srcs.append(src)
        return src

    def push(tag: str | None) -> dict:
        fmt = 1 if rng.random() < 0.25 else 2
        src = new_src(tag or "untagged")
        return {"op": "push", "src": str(src), "store": b.url, "tag": tag, "format": fmt}

    def activation(kind: str, ref: str) -> dict:
        return {"op": kind, "store": b.url, "ref": ref, "modules": MODULES}

    def prune(keep_last: int, grace: int) -> dict:
        return {"op": "prune", "store": b.url, "keep_last": keep_last, "grace": grace}

    def with_cache(ops: list[dict]) -> list[dict]:
        return [{**op, "cache": str(cache)} for op in ops]

    try:
        # The refs, then one unkilled run of each op to time it.
        for tag in TAGS:
            measure(worker, errdir, with_cache([push(tag)]))
        took = measure(
            worker,
            errdir,
            with_cache(
                [push("t0"), activation("eager", "t1"), activation("lazy", "t2"), prune(1, 0)]
            ),
        )
        print(f"{b.kind}: one of each, unkilled: {took}")
        before = check_round(b, cache, known, tally)
        for rnd in range(rounds):
            if rnd % 25 == 24:  # keep the node cache small: the checks read all of it
                shutil.rmtree(cache)
            strict = rnd % 2 == 0
            grace = 0 if strict else GRACE[b.kind]
            refs = sorted(integrity.ref_targets(b.local))  # as the last check left it
            assert refs, "every ref is gone"
            # Two tags, never the same one: two pushes racing for one ref is
            # a compare-and-swap conflict (exit 3), not what is tested here.
            pushes = [push(tag) for tag in rng.sample([*TAGS, None, None], 2)]
            others = [
                activation("eager", rng.choice(refs)),
                activation("lazy", rng.choice(refs)),
                prune(rng.choice([0, 1]), grace),
                prune(rng.choice([0, 1, 2]), grace),
            ]
            phases = [pushes, others] if strict else [pushes + others]
            for ops in phases:
                ops = with_cache(ops)
                for op in ops:
                    if rng.random() < KILL_SHARE:
                        op["kill_after"] = rng.uniform(0, 1.2 * took[op["op"]])
                for op, r in zip(ops, worker(ops, errdir)):
                    kind = op["op"]
                    tally.runs[kind] = tally.runs.get(kind, 0) + 1
                    if r["killed"]:
                        tally.kills[kind] = tally.kills.get(kind, 0) + 1
                        continue
                    if kind == "prune" and r["rc"] == 4:
                        tally.conflicts += 1  # the other prune held the lock
                        continue
                    if kind in ("eager", "lazy") and r["rc"] == 1 and not strict:
                        # A ref moved by a push of this round: the tree it
                        # named may be deleted while being read. One line,
                        # naming what is missing; the cache check below
                        # shows nothing partial was published.
                        assert "\n" not in r["error"] and "NotFound" in r["error"], r
                        tally.activation_errors.append(r["error"])
                        continue
                    mode = "strict" if strict else "graced"
                    assert r["rc"] == 0, f"round {rnd} ({mode}): {op} -> {r}"
                    if kind == "push":
                        tally.longest_push = max(tally.longest_push, r["seconds"])
                    if kind == "push" and not strict:  # only graced rounds race prunes
                        assert r["seconds"] < GRACE[b.kind], (
                            f"a push took {r['seconds']:.1f} s, longer than the grace: "
                            "outside the protocol (doc/lifecycle.md)"
                        )
            after = check_round(b, cache, known, tally)
            tally.trees_gone += sum(1 for k in before - after if k.startswith("trees/"))
            tally.packs_gone += sum(1 for k in before - after if k.startswith("packs/"))
            before = after
            tally.rounds += 1
            for src in srcs[:-4]:
                shutil.rmtree(src, ignore_errors=True)

        # A killed prune leaves what the next one finishes: after a clean
        # prune only what the refs name and reach remains.
        (r,) = worker(with_cache([prune(0, 0)]), errdir)
        assert r["rc"] == 0, r
        # A repack in that run (either format) leaves the packs it copied from,
        # which nothing names any more, to the next run (doc/lifecycle.md): that is
        # all a second run may delete, and it repacks nothing.
        second = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=0)
        assert second.packs_repacked == 0, second
        assert all(k.startswith("packs/") for k in second.deleted), second.deleted
        local = b.snapshot()
        targets = integrity.ref_targets(local)
        keys = integrity.object_keys(local)
        assert {k for k in keys if k.startswith("trees/")} == {
            f"trees/{h}" for h in targets.values()
        }
        reached = integrity.reached_keys(local, sorted(set(targets.values())))
        assert reached <= keys
        left = list((local / "prune").glob("*"))
        assert not left, f"marks or a lock left: {left}"
        plan = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=0, dry_run=True)
        assert plan.deleted == [], plan.deleted
        # Then with one fresh tree alone in view (nothing it could reuse),
        # exactly its own objects remain.
        fresh = {f"fresh/m{i}.py": ("f", f"N = {i} # {seed}\n".encode()) for i in range(4)}
        known[tree_hex2(fresh)] = fresh
        src = write_entries(scratch / "fresh", fresh)
        final = {"op": "push", "src": str(src), "store": b.url, "tag": "final", "format": 2}
        (r,) = worker(with_cache([final]), errdir)
        assert r["rc"] == 0, r
        for name in targets:
            lazypath.untag(b.url, name)
        (r,) = worker(with_cache([prune(0, 0)]), errdir)
        assert r["rc"] == 0, r
        # A repack in that run (either format) leaves the packs it copied from,
        # which nothing names any more, to the next run (doc/lifecycle.md): that is
        # all a second run may delete, and it repacks nothing.
        second = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=0)
        assert second.packs_repacked == 0, second
        assert all(k.startswith("packs/") for k in second.deleted), second.deleted
        local = b.snapshot()
        targets = integrity.ref_targets(local)
        assert list(targets) == ["final"]
        keys = integrity.object_keys(local)
        reached = integrity.reached_keys(local, list(targets.values()))
        locs = {k for k in keys if k.startswith("locs/")}
        assert keys - locs == reached, f"left: {sorted(keys - locs - reached)}"
        assert len(locs) <= 1, f"locations objects left: {sorted(locs)}"
    finally:
        worker.close()
    return tally


def report(kind: str, tally: Tally) -> None:
    print(
        f"{kind}: {tally.rounds} rounds, runs {tally.runs}, kills {tally.kills} "
        f"(total {sum(tally.kills.values())}), lock conflicts {tally.conflicts}, "
        f"activation errors {len(tally.activation_errors)}, tree checks {tally.tree_checks}, "
        f"cache tree checks {tally.cache_checks}, trees deleted {tally.trees_gone}, "
        f"packs deleted {tally.packs_gone}, longest push {tally.longest_push:.2f} s"
    )


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_pushes_activations_and_prunes_killed_at_random(kind, scratch, seed, request, monkeypatch):
    b = backend_for(kind, scratch, request, monkeypatch)
    rounds = FILE_ROUNDS if kind == "file" else S3_ROUNDS
    tally = run_rounds(b, rounds, scratch, seed)
    report(kind, tally)
    assert tally.rounds == rounds
    # Not vacuous: every kind of op was killed, prunes really deleted trees
    # and packs, and the checks saw trees in the store and in the cache.
    assert all(tally.kills.get(k, 0) > 0 for k in ("push", "eager", "lazy", "prune")), tally
    assert tally.trees_gone > 0 and tally.packs_gone > 0, tally
    assert tally.tree_checks > rounds and tally.cache_checks > 0, tally


# ------------------------------------------------------------------ listing lag
#
# S3 lists strongly since 2020, but S3-compatible stores may not: a new key
# can be missing from LIST for a while after its PUT succeeded, while GET and
# HEAD see it. Prune only deletes keys it lists, and reads refs and trees by
# GET, so a key it cannot list yet is never deleted. What it cannot see is
# who uses an old key: a new tag and a new tree record are new keys. A push
# that found a location before a prune withdrew it and condemned its pack,
# and that publishes after that prune, loses the pack to a run that lists
# the mark but not yet the push's tree. So the grace must exceed the longest
# push plus the lag (doc/lifecycle.md, "Listings that lag"). The first test
# below runs a push that reuses a pack, its tree still unlisted when a prune
# condemns the pack, with a grace above the lag; the second shows that a
# push after the
# prune, the mark not listed yet, reuses nothing the mark condemns: the
# withdrawal deleted the locations, and a deletion is not hidden.


def _lagging_store(moto_s3, monkeypatch, scratch: Path) -> tuple[FaultProxy, Backend]:
    proxy = FaultProxy(moto_s3.endpoint)
    env = {**moto_s3.env(), "AWS_ENDPOINT_URL_S3": proxy.endpoint}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LAZYPATH_CACHE", str(scratch / "cache"))
    bucket = moto_s3.make_bucket()
    b = Backend("s3", f"s3://{bucket}/app", env, scratch / "mirror", moto_s3.client(), bucket)
    return proxy, b


def _two_versions(b: Backend, scratch: Path) -> tuple[Entries, Entries]:
    """v1 and v2 share no file; returns both, v1 pushed and tagged a."""
    rng = random.Random(7)
    v1 = entries_for(rng, "v1")
    v2 = {rel: ("f", payload + b"# v2\n") for rel, (_, payload) in v1.items()}
    lazypath.push(write_entries(scratch / "v1", v1), b.url, tag="a")
    return v1, v2


def _reuse_while_the_push_is_unlisted(
    proxy: FaultProxy, b: Backend, scratch: Path, lag: float, grace: int
) -> tuple[str, Entries, object]:
    """v1 tagged a; with listings lagging by `lag`, a push of v1's files
    (plus a nonce) under a new tag b reuses v1's packs, then a moves to v2
    and a prune, listing neither b nor its tree, condemns v1. A second prune
    runs once that mark is `grace` old. Returns b's tree, its entries and
    the second prune's report."""
    v1, v2 = _two_versions(b, scratch)
    proxy.hide_new_seconds = lag
    v3 = {**v1, "nonce.txt": ("f", b"v3\n")}
    r = lazypath.push_report(write_entries(scratch / "v3", v3), b.url, tag="b")
    assert r.blobs_uploaded <= 2, f"the push reused nothing of v1: {r}"
    lazypath.push(write_entries(scratch / "v2", v2), b.url, tag="a")  # a overwrite: listed
    hidden = proxy.hidden
    first = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=grace)
    t1 = time.monotonic()
    assert proxy.hidden > hidden, "the prune listed everything: no lag was simulated"
    assert f"trees/{tree_hex2(v1)}" in first.condemned
    time.sleep(max(0.0, t1 + grace + 0.3 - time.monotonic()))
    second = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=grace)
    proxy.hide_new_seconds = 0
    return r.digest[7:], v3, second


def test_listing_lag_within_grace_deletes_nothing_live(moto_s3, monkeypatch, scratch):
    """The same sequence with lag 1 s and grace 4 s (above a push plus
    twice the lag): by the time the mark is grace old, tag b and its tree
    are listed, v1's packs are live again and stay; v1's own tree goes."""
    proxy, b = _lagging_store(moto_s3, monkeypatch, scratch)
    try:
        tree, v3, second = _reuse_while_the_push_is_unlisted(proxy, b, scratch, lag=1, grace=4)
    finally:
        proxy.close()
    local = b.snapshot()
    trees = check_store(local)
    assert integrity.ref_targets(local)["b"] == tree
    assert integrity.read_tree2(local, tree, trees[tree]) == v3
    assert any(k.startswith("trees/") for k in second.deleted), "v1's tree was not deleted"


def test_a_push_while_the_mark_is_unlisted_reuses_nothing_it_condemns(
    moto_s3, monkeypatch, scratch
):
    """a moves from v1 to v2 and a prune condemns v1, the mark hidden from
    listings for 4 s; a push of v1's files under a new tag b at once cannot
    find v1's objects: the prune withdrew their locations by deleting the
    locations object, a deletion listings show at once. So a second run
    that lists the mark (grace 1 s) but not b deletes v1's packs, and b's
    tree stays whole. Before withdrawals this sequence lost v1's packs
    under b's tree."""
    proxy, b = _lagging_store(moto_s3, monkeypatch, scratch)
    try:
        v1, v2 = _two_versions(b, scratch)
        lazypath.push(write_entries(scratch / "v2", v2), b.url, tag="a")
        proxy.hide_new_seconds = 4
        first = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=1)
        t1 = time.monotonic()
        assert f"trees/{tree_hex2(v1)}" in first.condemned
        assert first.objects_withdrawn > 0 and first.rewritten, first
        time.sleep(1)  # the mark exists, and is not listed yet
        hidden = proxy.hidden
        v3 = {**v1, "nonce.txt": ("f", b"v3\n")}
        r = lazypath.push_report(write_entries(scratch / "v3", v3), b.url, tag="b")
        assert proxy.hidden > hidden, "the push listed everything: no lag was simulated"
        assert r.blobs_uploaded == r.blobs_total, f"the push reused a condemned object: {r}"
        # The mark is listed from t1 + 4 s, b's tree from 4 s after its push.
        time.sleep(max(0.0, t1 + 4.3 - time.monotonic()))
        second = lazypath.prune(b.url, keep_last=0, keep_within=0, grace=1)
        proxy.hide_new_seconds = 0
    finally:
        proxy.close()
    assert second.packs_deleted > 0, second
    local = b.snapshot()
    trees = check_store(local)
    tree = r.digest[7:]
    assert integrity.ref_targets(local)["b"] == tree
    assert integrity.read_tree2(local, tree, trees[tree]) == v3
