"""Ref history: log, rollback and tag --delete, on file://, s3:// (moto) and
gs:// (gcp-storage-emulator).

Every ref move (push --tag, tag, rollback, tag --delete) is recorded as
history/<ref>/~<seq> (doc/format.md, "Ref history"); these tests drive the
API and the CLI, race writers against each other, and damage the history
objects as a hostile or broken store would.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Callable

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, write_tree
from lazypath.errors import ConflictError, CorruptError, InvalidInputError, NotFoundError
from store_servers import (  # noqa: F401
    GOOGLE_VARS,
    gcs_emulator_fixture,
    https_server_fixture,
    moto_s3_fixture,
)


@dataclass
class Store:
    kind: str
    url: str
    env: dict
    put: Callable[[str, bytes], None]  # writes an object behind lazypath's back
    get: Callable[[str], bytes]


@pytest.fixture(params=["file", "s3", "gs"])
def store(request, tmp_path, monkeypatch) -> Store:
    kind = request.param
    if kind == "file":
        root = tmp_path / "store"

        def put(key, data):
            p = root / key
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)

        return Store(kind, root.as_uri(), {}, put, lambda key: (root / key).read_bytes())
    if kind == "s3":
        s3 = request.getfixturevalue("moto_s3")
        env = s3.env()
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        bucket = s3.make_bucket()
        client = s3.client()

        def put(key, data):
            client.put_object(Bucket=bucket, Key=f"app/{key}", Body=data)

        def get(key):
            return client.get_object(Bucket=bucket, Key=f"app/{key}")["Body"].read()

        return Store(kind, f"s3://{bucket}/app", env, put, get)
    gcs = request.getfixturevalue("gcs_emulator")
    for k in GOOGLE_VARS:
        monkeypatch.delenv(k, raising=False)
    env = gcs.env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bucket = gcs.make_bucket()
    return Store(
        kind,
        f"gs://{bucket}/app",
        env,
        lambda key, data: gcs.put(bucket, f"app/{key}", data),
        lambda key: gcs.get(bucket, f"app/{key}"),
    )


def entry_key(ref: str, seq: int) -> str:
    return f"history/{ref}/~{seq:016d}"


@pytest.fixture
def trees(tmp_path, store) -> list[str]:
    """Three trees in the store, no ref yet."""
    out = []
    for i in range(3):
        src = write_tree(tmp_path / f"src{i}", {"app/__init__.py": f"V = {i}\n"})
        out.append(lazypath.push(src, store.url))
    return out


def test_every_move_is_recorded_and_rolls_back(tmp_path, store, monkeypatch):
    monkeypatch.setenv("LAZYPATH_ACTOR", "ana@build-1")
    src = write_tree(tmp_path / "src", {"app/__init__.py": "V = 1\n"})
    d1 = lazypath.push(src, store.url, tag="prod")
    (src / "app/__init__.py").write_text("V = 2\n")
    d2 = lazypath.push(src, store.url, tag="prod", actor="ci")
    (src / "app/__init__.py").write_text("V = 3\n")
    d3 = lazypath.push(src, store.url)
    assert lazypath.tag(store.url, d3, "prod") == d3
    assert lazypath.tag(store.url, d3, "prod") == d3  # no move: not recorded

    moves = lazypath.log(store.url, "prod")
    assert [(m.seq, m.op, m.from_digest, m.to_digest) for m in moves] == [
        (1, "push", None, d1),
        (2, "push", d1, d2),
        (3, "tag", d2, d3),
    ]
    assert [m.actor for m in moves] == ["ana@build-1", "ci", "ana@build-1"]
    assert all(m.applied for m in moves)
    assert moves[0].time > 1_700_000_000
    assert moves[2].to_dict() == {
        "seq": 3,
        "time": moves[2].time,
        "op": "tag",
        "from": d2,
        "to": d3,
        "actor": "ana@build-1",
        "applied": True,
    }

    change = lazypath.rollback(store.url, "prod")
    assert (change.from_digest, change.to_digest, change.moved) == (d3, d2, True)
    assert lazypath.pull(store.url, "prod").digest == d2
    change = lazypath.rollback(store.url, "prod", to=d1[:16])
    assert change.to_digest == d1
    # steps count recorded moves, rollbacks included: two back is d3 again.
    assert lazypath.rollback(store.url, "prod", steps=2).to_digest == d3

    deleted = lazypath.untag(store.url, "prod", expect=d3)
    assert (deleted.from_digest, deleted.to_digest) == (d3, None)
    with pytest.raises(NotFoundError):
        lazypath.pull(store.url, "prod")
    with pytest.raises(NotFoundError):
        lazypath.untag(store.url, "prod")
    moves = lazypath.log(store.url, "prod")
    assert [m.op for m in moves] == ["push", "push", "tag", "rollback", "rollback"] + [
        "rollback",
        "delete",
    ]
    assert all(m.applied for m in moves)
    assert moves[-1].from_digest == d3 and moves[-1].to_digest is None
    # A deleted ref comes back by rollback.
    assert lazypath.rollback(store.url, "prod").to_digest == d3
    assert lazypath.log(store.url, "never") == []


def test_rollback_refuses_what_the_history_does_not_hold(store, trees):
    a, b, c = trees
    lazypath.tag(store.url, a, "prod")
    lazypath.tag(store.url, b, "prod")
    with pytest.raises(InvalidInputError, match="never named"):
        lazypath.rollback(store.url, "prod", to=c)
    with pytest.raises(InvalidInputError, match="did not exist 2 moves ago"):
        lazypath.rollback(store.url, "prod", steps=2)
    with pytest.raises(InvalidInputError, match="history records 2"):
        lazypath.rollback(store.url, "prod", steps=3)
    with pytest.raises(InvalidInputError):
        lazypath.rollback(store.url, "prod", to=a, steps=1)
    with pytest.raises(ConflictError, match="'prod'"):
        lazypath.rollback(store.url, "prod", expect=a)
    assert lazypath.pull(store.url, "prod").digest == b
    assert len(lazypath.log(store.url, "prod")) == 2


def test_racing_writers_leave_one_consistent_history(store, trees):
    """Writers racing on one ref: each move either lands (and is recorded as
    applied) or fails with ConflictError; the newest applied move is where
    the ref is."""
    lazypath.tag(store.url, trees[0], "prod")
    results: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        for k in range(4):
            target = trees[(i + k) % 3]
            try:
                lazypath.tag(store.url, target, "prod", actor=f"w{i}")
                outcome = "ok"
            except ConflictError as e:
                assert "'prod'" in str(e) and "\n" not in str(e)
                outcome = "conflict"
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12
    moves = lazypath.log(store.url, "prod")
    assert [m.seq for m in moves] == list(range(1, len(moves) + 1))
    applied = [m for m in moves if m.applied]
    assert applied[-1].to_digest == lazypath.pull(store.url, "prod").digest
    for before, after in zip(applied, applied[1:]):
        assert after.from_digest == before.to_digest


def test_cli_log_rollback_delete(store, trees):
    a, b, _ = trees
    env = {**store.env, "LAZYPATH_ACTOR": "ops@desk"}
    for d in (a, b):
        res = run_cli("tag", store.url, d, "prod", env=env)
        assert res.returncode == 0, res
    res = run_cli("log", store.url, "prod", "--json", env=env)
    assert res.returncode == 0, res
    doc = json.loads(res.stdout)
    assert doc["ref"] == "prod"
    assert [(m["seq"], m["from"], m["to"], m["actor"]) for m in doc["moves"]] == [
        (2, a, b, "ops@desk"),
        (1, None, a, "ops@desk"),
    ]
    res = run_cli("log", store.url, "prod", env=env)
    assert res.returncode == 0, res
    assert "ops@desk" in res.stdout and b in res.stdout and "tag" in res.stdout

    res = run_cli("rollback", store.url, "prod", "--json", "--actor", "release bot", env=env)
    assert res.returncode == 0, res
    doc = json.loads(res.stdout)
    assert (doc["from"], doc["to"], doc["moved"]) == (b, a, True)
    res = run_cli("rollback", store.url, "prod", "--to", b, env=env)
    assert res.returncode == 0, res
    assert f"prod -> {b}" in res.stdout
    # A stale --expect: exit 3, one line, nothing moved.
    res = run_cli("rollback", store.url, "prod", "--steps", "1", "--expect", a, env=env)
    assert_one_line_error(res, "'prod'", a, code=3)

    res = run_cli("tag", "--delete", store.url, "prod", "--json", env=env)
    assert res.returncode == 0, res
    assert json.loads(res.stdout) == {
        "store": store.url,
        "name": "prod",
        "deleted": True,
        "digest": b,
    }
    assert_one_line_error(run_cli("tag", "--delete", store.url, "prod", env=env), "'prod'")
    moves = lazypath.log(store.url, "prod")
    assert [m.op for m in moves][-1] == "delete"
    assert moves[2].actor == "release bot"


def test_cli_usage_errors(store):
    for args in (
        ("tag", "--delete", store.url, "prod", "extra"),
        ("tag", store.url, "prod"),
        ("rollback", store.url, "prod", "--to", "sha256:00", "--steps", "1"),
        ("rollback", store.url, "prod", "--steps", "0"),
    ):
        res = run_cli(*args, env=store.env)
        assert res.returncode == 2, (args, res)
        assert "Traceback" not in res.stderr


def test_bad_actor_is_one_line(store, trees):
    res = run_cli("tag", store.url, trees[0], "prod", env={**store.env, "LAZYPATH_ACTOR": "a\tb"})
    assert_one_line_error(res, "LAZYPATH_ACTOR")
    res = run_cli("tag", store.url, trees[0], "prod", "--actor", "x" * 201, env=store.env)
    assert_one_line_error(res, "actor")


def test_damaged_history_is_a_one_line_error(store, trees):
    a, b, c = trees
    for d in (a, b, c):
        lazypath.tag(store.url, d, "prod")
    second = store.get(entry_key("prod", 2))

    store.put(entry_key("prod", 2), second + b"junk")
    with pytest.raises(CorruptError, match="trailing bytes"):
        lazypath.log(store.url, "prod")
    res = run_cli("log", store.url, "prod", env=store.env)
    assert_one_line_error(res, entry_key("prod", 2), "trailing bytes")
    res = run_cli("rollback", store.url, "prod", env=store.env)
    assert_one_line_error(res, entry_key("prod", 2))
    assert lazypath.pull(store.url, "prod").digest == c

    store.put(entry_key("prod", 2), b"\x00" * 5000)
    assert_one_line_error(run_cli("log", store.url, "prod", env=store.env), "4096")

    # Entry 2 naming entry 3 as its predecessor: a loop.
    third = store.get(entry_key("prod", 3))
    looped = second.replace(
        second.split(b"\n")[2],
        b"prev sha256:" + hashlib.sha256(third).hexdigest().encode(),
    )
    store.put(entry_key("prod", 2), looped)
    res = run_cli("log", store.url, "prod", env=store.env)
    assert_one_line_error(res, entry_key("prod", 2), "loops")

    # An entry rewritten in place: the next one no longer follows it.
    store.put(entry_key("prod", 2), second.replace(b"actor ", b"actor x"))
    res = run_cli("log", store.url, "prod", "--json", env=store.env)
    assert_one_line_error(res, entry_key("prod", 3), "does not follow entry 2")

    store.put(entry_key("prod", 2), second)
    assert len(lazypath.log(store.url, "prod")) == 3


def test_a_move_whose_writer_died_is_marked(store, trees):
    """The entry is written before the ref: a writer killed between the two
    leaves an entry that log shows as not applied, and later moves go on."""
    a, b, c = trees
    lazypath.tag(store.url, a, "prod")
    first = store.get(entry_key("prod", 1))
    store.put(
        entry_key("prod", 2),
        b"lazypath-refmove 1\nseq 2\nprev sha256:"
        + hashlib.sha256(first).hexdigest().encode()
        + f"\nop tag\nfrom {a}\nto {b}\ntime 1\nactor died\n".encode(),
    )
    moves = lazypath.log(store.url, "prod")
    assert [m.applied for m in moves] == [True, False]
    res = run_cli("log", store.url, "prod", env=store.env)
    assert "not applied" in res.stdout
    lazypath.tag(store.url, c, "prod")
    moves = lazypath.log(store.url, "prod")
    assert [m.applied for m in moves] == [True, False, True]
    assert moves[2].from_digest == a
    # rollback --steps counts applied moves only.
    assert lazypath.rollback(store.url, "prod").to_digest == a


def test_https_store_reads_the_log_and_refuses_moves(tmp_path, https_server):
    """A static https:// copy of a file store cannot be listed: its history is
    read entry by entry; moving or deleting a ref there is refused as
    read-only."""
    path, url = https_server.new_store()
    env = {"SSL_CERT_FILE": str(https_server.ca_file)}
    src = write_tree(tmp_path / "src", {"app/__init__.py": "V = 1\n"})
    d1 = lazypath.push(src, path.as_uri(), tag="prod", actor="ana")
    (src / "app/__init__.py").write_text("V = 2\n")
    d2 = lazypath.push(src, path.as_uri(), tag="prod", actor="ana")
    res = run_cli("log", url, "prod", "--json", env=env)
    assert res.returncode == 0, res
    moves = json.loads(res.stdout)["moves"]
    assert [(m["from"], m["to"]) for m in moves] == [(d1, d2), (None, d1)]
    for args in (("tag", "--delete", url, "prod"), ("rollback", url, "prod")):
        assert_one_line_error(run_cli(*args, env=env), "read-only", url)
    assert lazypath.pull(path.as_uri(), "prod").digest == d2
