"""The Python API end to end: push, activate, pull, and the store inspectors.

Real directories, a real file store and a real node cache (per test, see
conftest.py); no mocks.
"""

from __future__ import annotations

import importlib
import os
import stat
import sys
import time
import uuid
from pathlib import Path

import lazypath
import pytest
from conftest import is_digest, tree_files, write_tree


def entries_by_path(store: Path, ref: str) -> dict:
    tree = lazypath.show(store, ref)
    digest, entries = tree.digest, tree.entries
    assert is_digest(digest)
    return {e["path"]: e for e in entries}


def pushed_paths(src: Path, store: Path, **kwargs) -> set:
    digest = lazypath.push(src, store, **kwargs)
    return set(entries_by_path(store, digest))


def age_files(root: Path, seconds: float = 3600) -> None:
    """Sets every file's mtime `seconds` into the past (out of the racy window)."""
    past = time.time() - seconds
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), (past, past), follow_symlinks=False)


SAMPLE = {
    "app/__init__.py": "",
    "app/main.py": "def run():\n    return 'main'\n",
    "app/util/helpers.py": "X = 1\n",
    "README.txt": "hello\n",
}


# ------------------------------------------------------------------ digests


def test_push_returns_a_full_sha256_digest(tmp_path, store):
    src = write_tree(tmp_path / "src", SAMPLE)
    digest = lazypath.push(src, store)
    assert is_digest(digest), digest
    report = lazypath.push_report(src, store)
    assert report.digest == digest
    assert report.files == len(SAMPLE)
    assert report.bytes == sum(len(v.encode()) for v in SAMPLE.values())
    # The store now holds that tree under its hex name.
    assert (store / "trees" / digest[len("sha256:") :]).is_file()


def test_same_content_same_digest_whatever_mtime_order_and_umask(tmp_path, store):
    files = {f"pkg/m{i}.py": f"V = {i}\n" * (i + 1) for i in range(12)}
    files["pkg/sub/deep/data.bin"] = bytes(range(256)) * 10

    a = write_tree(tmp_path / "a", files)
    old = os.umask(0o077)  # files 0600 and directories 0700 in b
    try:
        b = tmp_path / "b"
        for rel in reversed(list(files)):  # the reverse creation order
            write_tree(b, {rel: files[rel]})
    finally:
        os.umask(old)
    assert stat.S_IMODE((b / "pkg/m0.py").stat().st_mode) == 0o600
    age_files(a, 7200)
    now = time.time()
    for rel in files:
        os.utime(b / rel, (now - 5, now - 5))

    da = lazypath.push(a, store)
    db = lazypath.push(b, tmp_path / "other-store")
    assert da == db
    # Pushing the same content again from the second directory into the same
    # store is recognised as the existing tree.
    rb = lazypath.push_report(b, store)
    assert rb.digest == da and rb.tree_existed


def test_exec_bit_is_kept_and_changes_the_digest(tmp_path, store):
    src = write_tree(tmp_path / "src", {"bin/run.sh": "#!/bin/sh\necho run\n", "a.py": "A=1\n"})
    plain = lazypath.push(src, store)
    os.chmod(src / "bin/run.sh", 0o755)
    executable = lazypath.push(src, store)
    assert executable != plain

    assert entries_by_path(store, plain)["bin/run.sh"]["kind"] == "file"
    assert entries_by_path(store, executable)["bin/run.sh"]["kind"] == "executable"

    t_exec = lazypath.pull(store, executable)
    t_plain = lazypath.pull(store, plain)
    assert os.stat(os.path.join(t_exec.path, "bin/run.sh")).st_mode & 0o111
    assert not os.stat(os.path.join(t_plain.path, "bin/run.sh")).st_mode & 0o111
    assert os.access(os.path.join(t_exec.path, "bin/run.sh"), os.X_OK)


# ------------------------------------------------------------------ activation


def test_symlink_inside_tree_stays_a_symlink(tmp_path, store):
    src = write_tree(tmp_path / "src", {"pkg/real.py": "R = 'real'\n", "pkg/cfg/x.txt": "x"})
    os.symlink("real.py", src / "pkg/alias.py")
    os.symlink("cfg", src / "pkg/cfgdir")
    digest = lazypath.push(src, store)

    entries = entries_by_path(store, digest)
    assert entries["pkg/alias.py"]["kind"] == "symlink"
    assert entries["pkg/alias.py"]["target"] == "real.py"

    tree = lazypath.pull(store, digest)
    alias = Path(tree.path) / "pkg/alias.py"
    assert alias.is_symlink()
    assert os.readlink(alias) == "real.py"
    assert alias.read_text() == "R = 'real'\n"
    assert (Path(tree.path) / "pkg/cfgdir").is_symlink()
    assert (Path(tree.path) / "pkg/cfgdir/x.txt").read_text() == "x"


def test_activate_puts_tree_first_on_sys_path_and_import_works(tmp_path, store, restore_imports):
    mod = f"lp_api_{uuid.uuid4().hex[:12]}"
    src = write_tree(
        tmp_path / "src",
        {f"{mod}/__init__.py": "from .core import answer\n", f"{mod}/core.py": "answer = 42\n"},
    )
    digest = lazypath.push(src, store, tag="prod")
    tree = lazypath.activate(store, "prod")

    assert tree.digest == digest
    assert sys.path[0] == tree.path
    assert Path(tree.path).is_dir()
    assert tree_files(Path(tree.path)) == tree_files(src)
    m = importlib.import_module(mod)
    assert m.answer == 42
    assert m.__file__.startswith(tree.path + os.sep)


def test_reactivating_another_tree_replaces_its_modules(tmp_path, store, restore_imports):
    mod = f"lp_swap_{uuid.uuid4().hex[:12]}"
    a = write_tree(tmp_path / "a", {f"{mod}.py": "VERSION = 'A'\n"})
    b = write_tree(tmp_path / "b", {f"{mod}.py": "VERSION = 'B'\n"})
    da, db = lazypath.push(a, store), lazypath.push(b, store)
    assert da != db

    ta = lazypath.activate(store, da)
    assert importlib.import_module(mod).VERSION == "A"
    tb = lazypath.activate(store, db)
    assert sys.path[0] == tb.path
    assert ta.path not in sys.path
    m = importlib.import_module(mod)
    assert m.VERSION == "B"
    assert m.__file__.startswith(tb.path + os.sep)
    # And back again.
    lazypath.activate(store, da)
    assert importlib.import_module(mod).VERSION == "A"


def test_activating_a_cached_tree_by_digest_makes_no_store_request(tmp_path, store):
    src = write_tree(tmp_path / "src", SAMPLE)
    digest = lazypath.push(src, store)
    first = lazypath.pull(store, digest)
    assert first.cached is False
    assert first.blobs_fetched == 3  # SAMPLE has 3 distinct non-empty contents
    assert first.requests > 0

    again = lazypath.pull(store, digest)
    assert again.cached is True
    assert again.requests == 0
    assert again.blobs_fetched == 0 and again.bytes_fetched == 0
    assert again.path == first.path
    assert tree_files(Path(again.path)) == tree_files(src)


def test_open_tree_holds_a_lease_and_leaves_sys_path_alone(tmp_path, store):
    src = write_tree(tmp_path / "src", SAMPLE)
    digest = lazypath.push(src, store)
    before = list(sys.path)
    opened = lazypath.open_tree(store, digest)
    assert isinstance(opened, lazypath.OpenTree)
    assert sys.path == before
    assert opened.tree.digest == digest
    assert tree_files(Path(opened.tree.path)) == tree_files(src)
    assert opened.lease_fd >= 0
    in_use = {t.digest: t.in_use for t in lazypath.cache_usage().trees}
    assert in_use[digest] is True
    opened.release()
    assert opened.lease_fd == -1
    in_use = {t.digest: t.in_use for t in lazypath.cache_usage().trees}
    assert in_use[digest] is False


def test_child_env_lets_a_child_import_the_tree_in_either_mode(tmp_path, store):
    import subprocess

    src = write_tree(
        tmp_path / "src",
        {"kid/__init__.py": "WHO = 'tree'\n", "main.py": "import kid\nprint('main', kid.WHO)\n"},
    )
    digest = lazypath.push(src, store)
    code = (
        "import kid, sys\n"
        "hooked = 'lazypath._bytecode' in sys.modules\n"
        "site = [p for p in sys.path if p.rstrip('/').endswith('lazypath/_site')]\n"
        "print(kid.WHO, kid.__file__, hooked, len(site))"
    )
    for mode in ("eager", "lazy"):
        opened = lazypath.open_tree(store, digest, mode=mode)
        try:
            env = lazypath.child_env(store, opened.tree, mode=mode)
            assert "kid" not in os.environ.get("PYTHONPATH", "")
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
            )
        finally:
            opened.release()
        assert out.returncode == 0, (mode, out.stderr)
        who, file, hooked, site = out.stdout.split()
        assert who == "tree"
        assert file.startswith(opened.tree.path + os.sep), (mode, file)
        # Either way the child's boot hooked the tree for the bytecode cache
        # and left no lazypath/_site on sys.path.
        assert (hooked, site) == ("True", "0"), (mode, out.stdout)
        # A script in the tree runs as a script (the bytecode path hook
        # claims directories only), as `ray job submit` entrypoints do.
        script = subprocess.run(
            [sys.executable, "main.py"],
            env=env,
            cwd=opened.tree.path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert script.returncode == 0 and script.stdout == "main tree\n", (mode, script.stderr)


def test_cache_dir_argument_overrides_env(tmp_path, store, node_cache):
    src = write_tree(tmp_path / "src", SAMPLE)
    digest = lazypath.push(src, store)
    elsewhere = tmp_path / "elsewhere"
    tree = lazypath.pull(store, digest, cache_dir=elsewhere)
    assert Path(tree.path).is_relative_to(elsewhere)
    assert not (node_cache / "trees" / digest[7:]).exists()


def test_unknown_mode_is_refused(tmp_path, store):
    src = write_tree(tmp_path / "src", SAMPLE)
    digest = lazypath.push(src, store)
    with pytest.raises(lazypath.InvalidInputError, match="sideways"):
        lazypath.pull(store, digest, mode="sideways")
    with pytest.raises(lazypath.InvalidInputError, match="sideways"):
        lazypath.activate(store, digest, mode="sideways")


# ------------------------------------------------------------------ incremental push


def test_repush_unchanged_uploads_nothing(tmp_path, store):
    src = write_tree(tmp_path / "src", SAMPLE)
    first = lazypath.push_report(src, store)
    assert first.tree_existed is False
    assert first.blobs_uploaded == first.blobs_total == 3
    assert first.bytes_uploaded > 0

    again = lazypath.push_report(src, store)
    assert again.digest == first.digest
    assert again.tree_existed is True
    assert again.bytes_uploaded == 0
    assert again.blobs_uploaded == 0
    assert again.packs_uploaded == 0


def test_repush_after_one_edit_uploads_one_blob(tmp_path, store):
    files = {f"pkg/mod{i:02d}.py": os.urandom(40_000) for i in range(20)}
    src = write_tree(tmp_path / "src", files)
    first = lazypath.push_report(src, store)
    assert first.blobs_uploaded == 20
    assert first.bytes_uploaded >= 20 * 40_000  # random bytes don't compress

    (src / "pkg/mod07.py").write_bytes(os.urandom(40_000))
    second = lazypath.push_report(src, store)
    assert second.digest != first.digest
    assert second.tree_existed is False
    assert second.blobs_total == 20
    assert second.blobs_uploaded == 1
    assert second.packs_uploaded == 1
    assert second.bytes_uploaded < first.bytes_uploaded / 5

    # The new tree is complete: activating it gives the edited content.
    tree = lazypath.pull(store, second.digest)
    assert tree_files(Path(tree.path)) == tree_files(src)


def test_stat_cache_skips_rehashing_old_unchanged_files(tmp_path, store):
    src = write_tree(tmp_path / "src", {f"m{i}.py": f"N = {i}\n" for i in range(10)})
    age_files(src, 60)
    first = lazypath.push_report(src, store)
    assert first.files_hashed == 10
    second = lazypath.push_report(src, store)
    assert second.digest == first.digest
    assert second.files_hashed == 0
    assert second.bytes_hashed == 0

    # A change is still seen: same size, new content, mtime in the past too.
    (src / "m3.py").write_text("N = 9\n")
    age_files(src, 30)
    third = lazypath.push_report(src, store)
    assert third.digest != first.digest
    assert third.files_hashed >= 1
    assert lazypath.pull(store, third.digest).path
    assert lazypath.cat(store, third.digest, "m3.py") == b"N = 9\n"


def test_shared_content_is_uploaded_once(tmp_path, store):
    shared = os.urandom(100_000)
    src = write_tree(
        tmp_path / "src",
        {"a/one.bin": shared, "b/two.bin": shared, "c/three.bin": shared, "d.txt": "distinct"},
    )
    report = lazypath.push_report(src, store)
    assert report.files == 4
    assert report.blobs_total == 2
    assert report.blobs_uploaded == 2
    assert report.bytes_uploaded < 2 * len(shared)
    packs = list((store / "packs").iterdir())
    assert sum(p.stat().st_size for p in packs) < 2 * len(shared)

    tree = lazypath.pull(store, report.digest)
    assert tree.blobs_fetched == 2
    for rel in ("a/one.bin", "b/two.bin", "c/three.bin"):
        assert (Path(tree.path) / rel).read_bytes() == shared


# ------------------------------------------------------------------ excludes


def test_nested_gitignore_and_exclude_patterns(tmp_path, store):
    src = write_tree(
        tmp_path / "src",
        {
            ".gitignore": "*.log\nbuild/\n",
            "app.py": "",
            "debug.log": "x",
            "keep.log": "keep",
            "build/out.o": "o",
            "sub/.gitignore": "*.tmp\n!precious.tmp\n",
            "sub/a.tmp": "t",
            "sub/precious.tmp": "p",
            "sub/deep/b.log": "l",
            "sub/deep/c.tmp": "t",
            "sub/mod.py": "",
            "data/big.csv": "1,2\n",
        },
    )
    assert pushed_paths(src, store) == {
        ".gitignore",
        "app.py",
        "sub/.gitignore",
        "sub/precious.tmp",
        "sub/mod.py",
        "data/big.csv",
    }
    # --exclude patterns win over .gitignore ('!keep.log') and add their own.
    assert pushed_paths(src, store, exclude=["!keep.log", "data/"]) == {
        ".gitignore",
        "app.py",
        "keep.log",
        "sub/.gitignore",
        "sub/precious.tmp",
        "sub/mod.py",
    }
    # Without .gitignore processing everything is shipped.
    assert len(pushed_paths(src, store, gitignore=False)) == 12


def test_default_excludes(tmp_path, store):
    src = write_tree(
        tmp_path / "src",
        {
            "pkg/__init__.py": "",
            "pkg/__pycache__/x.cpython-311.pyc": b"\x00pyc",
            ".git/HEAD": "ref: refs/heads/main\n",
            ".venv/bin/python": "#!",
            "sub/.git": "gitdir: ../.git/modules/sub\n",
        },
    )
    assert pushed_paths(src, store) == {"pkg/__init__.py"}
    assert pushed_paths(src, store, default_excludes=False) == {
        "pkg/__init__.py",
        "pkg/__pycache__/x.cpython-311.pyc",
        ".git/HEAD",
        ".venv/bin/python",
        "sub/.git",
    }


# ------------------------------------------------------------------ store inspectors


def test_tag_points_a_ref(tmp_path, store):
    a = write_tree(tmp_path / "a", {"v.py": "V = 'a'\n"})
    b = write_tree(tmp_path / "b", {"v.py": "V = 'b'\n"})
    da = lazypath.push(a, store, tag="prod")
    db = lazypath.push(b, store)

    listing = lazypath.ls(store)
    assert listing.refs == {"prod": da}
    assert sorted(listing.trees) == sorted([da, db])

    assert lazypath.tag(store, db, "prod") == db
    assert lazypath.tag(store, "prod", "release/v1") == db
    assert lazypath.ls(store).refs == {"prod": db, "release/v1": db}
    assert (store / "refs/release/v1").read_text() == db + "\n"
    assert lazypath.pull(store, "prod").digest == db
    assert lazypath.cat(store, "release/v1", "v.py") == b"V = 'b'\n"


def test_cat_returns_exact_bytes(tmp_path, store):
    binary = bytes(range(256)) * 50 + b"\x00\r\n\xff"
    src = write_tree(tmp_path / "src", {"data/blob.bin": binary, "empty": b"", "t.txt": "text"})
    os.symlink("data/blob.bin", src / "link")
    digest = lazypath.push(src, store, tag="t")
    assert lazypath.cat(store, digest, "data/blob.bin") == binary
    assert lazypath.cat(store, "t", "empty") == b""
    assert lazypath.cat(store, "t", "link") == binary  # followed inside the tree
    with pytest.raises(lazypath.NotFoundError, match="missing.py"):
        lazypath.cat(store, "t", "missing.py")


def test_show_lists_entries_and_sizes(tmp_path, store):
    src = write_tree(tmp_path / "src", {"a.py": "12345", "pkg/b.py": "", "bin/x": "#!/bin/sh\n"})
    os.chmod(src / "bin/x", 0o755)
    os.symlink("../a.py", src / "pkg/link.py")
    digest = lazypath.push(src, store)
    tree = lazypath.show(store, digest)
    got, entries = tree.digest, tree.entries
    assert got == digest
    assert [e["path"] for e in entries] == ["a.py", "bin/x", "pkg/b.py", "pkg/link.py"]
    by = {e["path"]: e for e in entries}
    assert (by["a.py"]["kind"], by["a.py"]["size"]) == ("file", 5)
    assert (by["bin/x"]["kind"], by["bin/x"]["size"]) == ("executable", 10)
    assert (by["pkg/b.py"]["kind"], by["pkg/b.py"]["size"]) == ("file", 0)
    assert by["pkg/link.py"]["kind"] == "symlink"
    assert by["pkg/link.py"]["target"] == "../a.py"
    assert all(is_digest(e["digest"]) for e in entries)


def test_default_cache_dir_follows_env(node_cache):
    assert lazypath.default_cache_dir() == str(node_cache)
