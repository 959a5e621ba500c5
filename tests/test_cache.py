"""The node cache's lifecycle: leases, gc, clear, verify, LAZYPATH_CACHE_MAX."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lazypath
import pytest
from conftest import run_cli, write_tree

# A process that activates a tree (taking its lease) and waits for a line on
# stdin before exiting, so a test can act while the tree is in use.
HOLDER = textwrap.dedent(
    """
    import sys, lazypath
    tree = lazypath.activate(sys.argv[1], sys.argv[2], mode=sys.argv[3])
    import pkg_{tag}
    print(tree.digest, flush=True)
    sys.stdin.readline()
    """
)


def make_tree(root: Path, tag: str, size: int = 200_000) -> Path:
    payload = (f"# {tag}\n" + "x = 1\n" * (size // 6)).encode()
    return write_tree(
        root / tag, {f"pkg_{tag}/__init__.py": payload, f"pkg_{tag}/d.bin": payload[::-1]}
    )


def hold(store: Path, ref: str, tag: str, mode: str = "eager") -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(tag=tag), str(store), ref, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline().strip()
    assert line.startswith("sha256:"), line
    return p


def release(p: subprocess.Popen) -> None:
    p.stdin.write("\n")
    p.stdin.flush()
    assert p.wait(timeout=60) == 0


def test_tree_in_use_survives_clear_and_goes_after_its_process(tmp_path, store, node_cache):
    a = lazypath.push(make_tree(tmp_path, "a"), store)
    b = lazypath.push(make_tree(tmp_path, "b"), store)
    holder = hold(store, a, "a")
    try:
        lazypath.pull(store, b)
        usage = lazypath.cache_usage()
        in_use = {t["digest"]: t["in_use"] for t in usage["trees"]}
        assert in_use == {a: True, b: False}
        report = lazypath.cache_clear()
        assert report["trees_evicted"] == [b]
        assert report["trees_in_use"] == [a]
        assert (node_cache / "trees" / a.split(":")[1]).is_dir()
        assert not (node_cache / "trees" / b.split(":")[1]).exists()
    finally:
        release(holder)
    report = lazypath.cache_clear()
    assert report["trees_evicted"] == [a]
    usage = lazypath.cache_usage()
    assert usage["trees"] == [] and usage["blobs"] == 0


def test_budget_evicts_least_recently_used_first(tmp_path, store):
    digests = [lazypath.push(make_tree(tmp_path, t), store) for t in ("a", "b", "c")]
    for d in digests:  # a is the least recently used, c the most
        lazypath.pull(store, d)
    per_tree = lazypath.cache_usage()["blob_bytes"] // 3
    report = lazypath.cache_gc(max_bytes=2 * per_tree + per_tree // 2)
    assert report["trees_evicted"] == [digests[0]]
    left = [t["digest"] for t in lazypath.cache_usage()["trees"]]
    assert left == digests[1:]


def test_cache_max_env_is_enforced_after_activation(tmp_path, store, monkeypatch):
    digests = [lazypath.push(make_tree(tmp_path, t), store) for t in ("a", "b", "c")]
    lazypath.pull(store, digests[0])
    one_tree = lazypath.cache_usage()["blob_bytes"]
    monkeypatch.setenv("LAZYPATH_CACHE_MAX", str(one_tree + one_tree // 2))
    lazypath.pull(store, digests[1])
    lazypath.pull(store, digests[2])
    left = [t["digest"] for t in lazypath.cache_usage()["trees"]]
    assert left == [digests[2]]
    # An evicted tree activates again, fetching from the store.
    again = lazypath.pull(store, digests[0])
    assert not again.cached and again.blobs_fetched == 2


def test_verify_finds_and_repairs_a_corrupt_blob(tmp_path, store, node_cache, cli):
    d = lazypath.push(make_tree(tmp_path, "a"), store)
    tree = lazypath.pull(store, d)
    victim = Path(tree.path) / "pkg_a" / "d.bin"
    os.chmod(victim, 0o644)
    with open(victim, "r+b") as f:  # a disk fault: the shared inode changes
        f.seek(100)
        f.write(b"!")
    check = cli("cache", "verify", "--check-only", "--json")
    assert check.returncode == 1, check
    assert len(check.json()["bad_blobs"]) == 1
    assert Path(tree.path).is_dir()  # --check-only changes nothing
    fix = cli("cache", "verify", "--json")
    assert fix.returncode == 1, fix
    assert fix.json()["trees_invalidated"] == [d]
    assert not Path(tree.path).exists()
    assert cli("cache", "verify").returncode == 0
    again = lazypath.pull(store, d)
    assert (Path(again.path) / "pkg_a" / "d.bin").read_bytes() == (
        tmp_path / "a" / "pkg_a" / "d.bin"
    ).read_bytes()


def test_cache_cli_ls_gc_clear_json(tmp_path, store, cli):
    d = lazypath.push(make_tree(tmp_path, "a"), store)
    lazypath.pull(store, d)
    ls = cli("cache", "ls", "--json")
    assert ls.returncode == 0, ls
    assert [t["digest"] for t in ls.json()["trees"]] == [d]
    human = cli("cache", "ls")
    assert d in human.stdout and "blobs: 2" in human.stdout
    gc = cli("cache", "gc", "--json")
    assert gc.returncode == 0 and gc.json()["trees_evicted"] == []
    clear = cli("cache", "clear", "--json")
    assert clear.json()["trees_evicted"] == [d]
    bad = cli("cache", "gc", "--max", "lots")
    assert bad.returncode == 2 and "lots" in bad.stderr


def test_bad_cache_max_is_a_clear_error(tmp_path, store, monkeypatch):
    d = lazypath.push(make_tree(tmp_path, "a"), store)
    monkeypatch.setenv("LAZYPATH_CACHE_MAX", "lots")
    with pytest.raises(lazypath.InvalidInputError, match="LAZYPATH_CACHE_MAX='lots'"):
        lazypath.pull(store, d)


def test_lazy_trees_are_leased_listed_and_evicted(tmp_path, store, node_cache):
    a = lazypath.push(make_tree(tmp_path, "a"), store)
    holder = hold(store, a, "a", mode="lazy")
    lazy_dir = node_cache / "lazy" / a.split(":")[1]
    try:
        trees = lazypath.cache_usage()["trees"]
        assert [(t["digest"], t["lazy"], t["in_use"]) for t in trees] == [(a, True, True)]
        assert lazypath.cache_clear()["trees_in_use"] == [a]
        assert (lazy_dir / "pkg_a" / "d.bin").is_file()
    finally:
        release(holder)
    assert lazypath.cache_clear()["trees_evicted"] == [a]
    assert not lazy_dir.exists()
    usage = lazypath.cache_usage()
    assert usage["trees"] == [] and usage["blobs"] == 0
    # The tree activates lazily again from the store.
    again = lazypath.pull(store, a, mode="lazy")
    assert Path(again.path).is_dir()


def test_cache_evict_cli(tmp_path, store, cli):
    a = lazypath.push(make_tree(tmp_path, "a"), store)
    b = lazypath.push(make_tree(tmp_path, "b"), store)
    lazypath.pull(store, a)
    lazypath.pull(store, b)
    holder = hold(store, b, "b")
    try:
        kept = cli("cache", "evict", b, "--json")
        assert kept.returncode == 0, kept
        assert kept.json()["evicted"] is False and kept.json()["in_use"] is True
    finally:
        release(holder)
    res = cli("cache", "evict", a, "--json")
    assert res.returncode == 0, res
    out = res.json()
    assert out["evicted"] is True and out["blobs_removed"] == 2
    assert [t["digest"] for t in lazypath.cache_usage()["trees"]] == [b]
    assert "not in the node cache" in cli("cache", "evict", a).stdout
    bad = cli("cache", "evict", "prod")
    assert bad.returncode == 1 and "not a digest" in bad.stderr


def test_debris_of_a_dead_process_is_shown_and_cleared_at_once(node_cache, tmp_path, store):
    """What an interrupted activation leaves in tmp/ shows in `cache ls` and
    goes with the next `cache clear` (or activation), not ten minutes later."""
    src = write_tree(tmp_path / "src", {"m.py": "M = 1\n"})
    digest = lazypath.push(src, store)
    lazypath.pull(store, digest)  # creates the cache
    ns = os.stat("/proc/self/ns/pid").st_ino
    debris = node_cache / "tmp" / f"tree-0123456789abcdef.tmp.999999999.0.7.{ns}"
    (debris / "pkg").mkdir(parents=True)
    (debris / "pkg" / "big.bin").write_bytes(b"x" * 4096)
    listed = run_cli("cache", "ls")
    assert listed.returncode == 0 and "debris: 1 entries in tmp/" in listed.stdout, listed
    cleared = run_cli("cache", "clear", "--json")
    assert cleared.returncode == 0, cleared
    assert cleared.json()["tmp_removed"] == 1
    assert not debris.exists()
    # An activation cleans up before it builds, too.
    (debris / "x").mkdir(parents=True)
    other = lazypath.push(write_tree(tmp_path / "b", {"b.py": "B = 1\n"}), store)
    lazypath.pull(store, other)
    assert not debris.exists()


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _as_if_an_earlier_boot_wrote(cache: Path, digest: str, files: list[Path]) -> None:
    """Makes tree `digest` and `files` look written by an earlier boot: the
    tree's stamp names another boot and each file's mtime precedes this
    boot's mark (meta/boot), as after a reboot."""
    stamp = cache / "meta" / f"{digest.split(':')[1]}.boot"
    stamp.chmod(0o644)
    stamp.write_text("an-earlier-boot\n")
    mark = int((cache / "meta" / "boot").read_text().split()[-1])
    for f in files:
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, mark - 3_600 * 10**9))


@pytest.mark.skipif(not BOOT_ID.exists(), reason="the kernel names no boot")
def test_trees_are_stamped_with_the_boot_and_rechecked_after_a_reboot(tmp_path, store, node_cache):
    digest = lazypath.push(make_tree(tmp_path, "a"), store)
    first = lazypath.pull(store, digest)
    stamp = node_cache / "meta" / f"{digest.split(':')[1]}.boot"
    assert stamp.read_text() == BOOT_ID.read_text().strip() + "\n"
    assert (first.blobs_rechecked, first.blobs_damaged) == (0, 0)
    warm = lazypath.pull(store, digest)
    assert warm.cached and warm.blobs_rechecked == 0

    # A reboot without a crash: the tree is checked once, in place, and kept.
    files = sorted(p for p in Path(first.path).rglob("*") if p.is_file())
    _as_if_an_earlier_boot_wrote(node_cache, digest, files)
    checked = lazypath.pull(store, digest)
    assert checked.cached
    assert (checked.blobs_rechecked, checked.blobs_damaged) == (len(files), 0)
    assert stamp.read_text() == BOOT_ID.read_text().strip() + "\n"
    assert lazypath.pull(store, digest).blobs_rechecked == 0

    # A power cut that zeroed one file under its name: it is fetched again.
    victim = Path(first.path) / "pkg_a" / "d.bin"
    want = (tmp_path / "a" / "pkg_a" / "d.bin").read_bytes()
    victim.chmod(0o644)
    victim.write_bytes(b"\0" * len(want))
    victim.chmod(0o444)
    _as_if_an_earlier_boot_wrote(node_cache, digest, [victim])
    repaired = lazypath.pull(store, digest)
    assert not repaired.cached
    assert repaired.blobs_damaged == 1 and repaired.blobs_fetched == 1
    assert (Path(repaired.path) / "pkg_a" / "d.bin").read_bytes() == want
    assert lazypath.cache_verify()["bad_blobs"] == []


def test_lazypath_sync_publishes_with_syncfs_and_no_stamp(tmp_path, store, node_cache, monkeypatch):
    monkeypatch.setenv("LAZYPATH_SYNC", "1")
    digest = lazypath.push(make_tree(tmp_path, "a"), store)
    tree = lazypath.pull(store, digest)
    assert (Path(tree.path) / "pkg_a" / "__init__.py").read_bytes().startswith(b"# a\n")
    assert not (node_cache / "meta" / f"{digest.split(':')[1]}.boot").exists()
