"""The `lazypath` command, run as a real process for every verb.

Human and --json output, exit codes 0/1/2, the one-line error contract, the
progress display on a pseudo-terminal.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, is_digest, run_cli, tree_files, write_tree
from lazypath import cli

SAMPLE = {
    "app/__init__.py": "",
    "app/main.py": "def run():\n    return 'main'\n",
    "app/data.bin": bytes(range(256)) * 4,
    "notes.txt": "hello\n",
}
VERBS = ["push", "activate", "pull", "ls", "show", "diff", "tag", "log", "rollback", "cat"]
PUSH_FIELDS = set(lazypath.PushReport._fields)
ACTIVATE_FIELDS = set(lazypath.ActiveTree._fields)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", SAMPLE)


@pytest.fixture
def pushed(src: Path, store: Path) -> str:
    """SAMPLE pushed to the store with tag 'prod'; its digest."""
    res = run_cli("push", src, store, "--tag", "prod")
    assert res.returncode == 0, res
    return res.stdout.strip()


# ------------------------------------------------------------------ help and usage


def test_help_lists_verbs_and_exit_codes():
    res = run_cli("--help")
    assert res.returncode == 0, res
    for verb in VERBS:
        assert verb in res.stdout
    assert "exit status" in res.stdout
    for code in ("0", "1", "2", "130"):
        assert f"  {code} " in res.stdout
    assert "LAZYPATH_CACHE" in res.stdout


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_has_help(verb):
    res = run_cli(verb, "--help")
    assert res.returncode == 0, res
    assert res.stdout.startswith("usage: lazypath ")
    assert "STORE" in res.stdout


def test_version():
    res = run_cli("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"lazypath {lazypath.__version__}"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["push"],
        ["push", "only-dir"],
        ["push", "d", "s", "--level", "99"],
        ["push", "d", "s", "--level", "abc"],
        ["push", "d", "s", "--bogus"],
        ["activate", "s"],
        ["activate", "s", "r", "--mode", "sideways"],
        ["show", "s"],
        ["tag", "s", "r"],
        ["cat", "s", "r"],
    ],
)
def test_usage_errors_exit_2(args, tmp_path):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2, res
    assert "usage:" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    assert not (tmp_path / "s").exists()


def test_mode_lazy_materialises_only_the_root(pushed, store, node_cache):
    res = run_cli("activate", store, "prod", "--mode", "lazy", "--json")
    assert res.returncode == 0, res
    out = res.json()
    assert out["mode"] == "lazy"
    root = Path(out["path"])
    assert root == node_cache / "lazy" / out["digest"][7:]
    assert root.is_dir()
    # Nothing was materialised eagerly.
    assert not (node_cache / "trees").exists() or not any((node_cache / "trees").iterdir())


def test_main_in_process_returns_exit_codes(src, store, capsys):
    assert cli.main(["push", str(src), str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert is_digest(out["digest"])
    assert cli.main(["--help"]) == 0
    assert cli.main(["no-such-verb"]) == 2
    assert cli.main(["show", str(store), "missing-ref"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("lazypath: error: ")


def test_console_script_is_installed(src, store):
    exe = Path(sys.executable).parent / "lazypath"
    assert exe.is_file(), exe
    proc = subprocess.run([str(exe), "push", str(src), str(store)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert is_digest(proc.stdout.decode().strip())


# ------------------------------------------------------------------ push


def test_push_human(src, store):
    res = run_cli("push", src, store)
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and is_digest(lines[0])
    summary = res.stderr
    assert "4 files" in summary
    assert "uploaded 3/3 blobs" in summary
    assert "tree new" in summary

    again = run_cli("push", src, store)
    assert again.stdout == res.stdout
    assert "uploaded 0/3 blobs, 0 B" in again.stderr
    assert "already in store" in again.stderr


def test_push_json_has_every_report_field(src, store):
    res = run_cli("push", src, store, "--json", "--tag", "v1")
    assert res.returncode == 0, res
    obj = res.json()
    assert PUSH_FIELDS <= set(obj)
    assert is_digest(obj["digest"])
    assert obj["files"] == 4
    assert obj["bytes"] == sum(
        len(v if isinstance(v, bytes) else v.encode()) for v in SAMPLE.values()
    )
    assert obj["blobs_total"] == 3 and obj["blobs_uploaded"] == 3
    assert obj["tree_existed"] is False
    assert obj["tag"] == "v1"
    assert (store / "refs/v1").read_text() == obj["digest"] + "\n"
    assert res.stderr == ""  # no progress, no summary with --json


def test_push_exclude_flags(tmp_path, store):
    d = write_tree(
        tmp_path / "d",
        {
            ".gitignore": "*.log\n",
            "a.py": "",
            "x.log": "x",
            "keep.log": "k",
            "docs/readme.md": "r",
            "__pycache__/a.pyc": "c",
        },
    )

    def paths(*flags):
        res = run_cli("push", d, store, "--json", *flags)
        assert res.returncode == 0, res
        show = run_cli("show", store, res.json()["digest"], "--json")
        return {e["path"] for e in show.json()["entries"]}

    assert paths() == {".gitignore", "a.py", "docs/readme.md"}
    assert paths("--exclude", "!keep.log", "--exclude", "docs/") == {
        ".gitignore",
        "a.py",
        "keep.log",
    }
    assert paths("--no-gitignore") == {".gitignore", "a.py", "x.log", "keep.log", "docs/readme.md"}
    assert "__pycache__/a.pyc" in paths("--no-default-excludes")


def test_push_cache_and_level_flags(src, store, tmp_path, node_cache):
    other = tmp_path / "other-cache"
    # Files written within the last second are not cached (their mtime can't
    # yet tell a later edit apart): age them so the stat cache has entries.
    for f in Path(src).rglob("*"):
        os.utime(f, (1_000_000, 1_000_000), follow_symlinks=False)
    res = run_cli("push", src, store, "--cache", other, "--level", "19", "--json")
    assert res.returncode == 0, res
    assert (other / "statcache").is_dir()  # the stat cache lives in the chosen cache
    assert not (node_cache / "statcache").exists()
    # The level changes how packs compress, never the digest.
    res1 = run_cli("push", src, tmp_path / "store1", "--level", "1", "--json")
    assert res1.json()["digest"] == res.json()["digest"]


# ------------------------------------------------------------------ activate / pull


def test_activate_human_and_pull_alias(pushed, store, src, node_cache):
    res = run_cli("activate", store, "prod")
    assert res.returncode == 0, res
    path = Path(res.stdout.strip())
    assert res.stdout.count("\n") == 1
    assert path == node_cache / "trees" / pushed[len("sha256:") :]
    assert tree_files(path) == tree_files(src)
    assert "fetched 3 blobs" in res.stderr

    again = run_cli("pull", store, pushed)
    assert again.returncode == 0, again
    assert again.stdout == res.stdout
    assert "already in the node cache (0 store requests)" in again.stderr


def test_activate_json(pushed, store, node_cache):
    res = run_cli("activate", store, "prod", "--json")
    assert res.returncode == 0, res
    obj = res.json()
    assert ACTIVATE_FIELDS <= set(obj)
    assert obj["digest"] == pushed
    assert obj["cached"] is False
    assert obj["blobs_fetched"] == 3
    assert obj["bytes_fetched"] > 0 and obj["requests"] > 0
    assert Path(obj["path"]).is_dir()
    assert res.stderr == ""

    again = run_cli("pull", store, pushed, "--json").json()
    assert again["cached"] is True and again["requests"] == 0 and again["path"] == obj["path"]


def test_activate_cache_flag_overrides_env(pushed, store, tmp_path, node_cache):
    other = tmp_path / "cache2"
    res = run_cli("activate", store, pushed, "--cache", other, "--json")
    assert res.returncode == 0, res
    assert Path(res.json()["path"]).parent == other / "trees"
    assert not (node_cache / "trees").exists() or not any((node_cache / "trees").iterdir())


def test_activate_uses_lazypath_cache_env(pushed, store, tmp_path):
    env_cache = tmp_path / "from-env"
    res = run_cli("activate", store, "prod", env={"LAZYPATH_CACHE": str(env_cache)})
    assert res.returncode == 0, res
    assert Path(res.stdout.strip()).parent == env_cache / "trees"


# ------------------------------------------------------------------ ls / show / tag / cat


def test_ls_human_and_json(pushed, store, tmp_path):
    other = write_tree(tmp_path / "other", {"z.py": "Z = 1\n"})
    d2 = run_cli("push", other, store).stdout.strip()

    res = run_cli("ls", store)
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["REF", "TREE"]
    assert lines[1].split() == ["prod", pushed]
    tree_lines = lines[lines.index("") + 1 :]
    assert tree_lines[0].split() == ["TREE", "REFS"]
    listed = {ln.split()[0]: ln.split()[1:] for ln in tree_lines[1:]}
    assert listed == {pushed: ["prod"], d2: []}

    obj = run_cli("ls", store, "--json").json()
    assert obj["refs"] == {"prod": pushed}
    assert sorted(obj["trees"]) == sorted([pushed, d2])


def test_ls_empty_store(tmp_path):
    (tmp_path / "empty").mkdir()
    res = run_cli("ls", tmp_path / "empty")
    assert res.returncode == 0, res
    assert "no refs" in res.stdout and "no trees" in res.stdout
    assert run_cli("ls", tmp_path / "empty", "--json").json() == {
        "store": str(tmp_path / "empty"),
        "refs": {},
        "trees": [],
    }


def test_show_human_and_json(tmp_path, store):
    d = write_tree(tmp_path / "d", {"a.py": "12345", "bin/tool": "#!/bin/sh\n", "empty.txt": ""})
    os.chmod(d / "bin/tool", 0o755)
    os.symlink("a.py", d / "alias.py")
    digest = run_cli("push", d, store).stdout.strip()

    res = run_cli("show", store, digest)
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    assert lines[0] == f"tree {digest}"
    header = lines[2]
    assert header.split() == ["KIND", "SIZE", "PATH"]
    rows = [ln.split() for ln in lines[3:7]]
    assert rows == [
        ["file", "5", "a.py"],
        ["symlink", "4", "alias.py", "->", "a.py"],
        ["executable", "10", "bin/tool"],
        ["file", "0", "empty.txt"],
    ]
    # Columns are aligned: every PATH starts in the same column.
    col = header.index("PATH")
    assert all(ln[col - 1] == " " and ln[col] != " " for ln in lines[3:7])
    assert "4 entries: 3 files (1 executable), 1 symlinks, 15 bytes" in res.stdout

    obj = run_cli("show", store, digest, "--json").json()
    assert obj["digest"] == digest
    assert len(obj["entries"]) == 4
    assert (obj["files"], obj["executables"], obj["symlinks"], obj["bytes"]) == (3, 1, 1, 15)
    by = {e["path"]: e for e in obj["entries"]}
    assert by["alias.py"]["target"] == "a.py"
    assert by["bin/tool"]["kind"] == "executable"
    assert all(is_digest(e["digest"]) for e in obj["entries"])


def test_diff_human_and_json(pushed, src, store):
    (src / "app" / "main.py").write_text("def run():\n    return 'v2'\n")
    (src / "notes.txt").unlink()
    (src / "app" / "new.py").write_bytes(b"N" * 2048)
    (src / "app" / "copy.bin").write_bytes(SAMPLE["app/data.bin"])  # a blob A has
    os.symlink("main.py", src / "app" / "link")
    v2 = run_cli("push", src, store, "--tag", "next").stdout.strip()

    obj = run_cli("diff", store, "prod", "next", "--json").json()
    assert (obj["store"], obj["from"], obj["to"]) == (str(store), pushed, v2)
    got = {c["path"]: c["change"] for c in obj["changes"]}
    assert got == {
        "app/copy.bin": "A",
        "app/link": "A",
        "app/main.py": "M",
        "app/new.py": "A",
        "notes.txt": "D",
    }
    assert [c["path"] for c in obj["changes"]] == sorted(got)
    main = next(c for c in obj["changes"] if c["path"] == "app/main.py")
    assert (
        main["before"]["digest"]
        == "sha256:" + hashlib.sha256(SAMPLE["app/main.py"].encode()).hexdigest()
    )
    assert main["after"]["size"] == len("def run():\n    return 'v2'\n")
    assert next(c for c in obj["changes"] if c["path"] == "notes.txt")["after"] is None
    assert (obj["added"], obj["removed"], obj["modified"]) == (3, 1, 1)
    # New to a node holding prod: main.py's and new.py's content, not copy.bin's
    # (prod has that blob) nor the symlink's.
    assert obj["blobs_new"] == 2
    assert obj["bytes_new"] == 2048 + main["after"]["size"]
    assert lazypath.diff(store, "prod", v2) == {k: v for k, v in obj.items() if k != "store"}

    res = run_cli("diff", store, "prod", "next")
    assert res.returncode == 0, res
    lines = res.stdout.splitlines()
    assert lines[0] == f"{pushed} -> {v2}"
    assert any(ln.split()[:1] == ["D"] and ln.endswith("notes.txt") for ln in lines)
    assert any("symlink -> main.py" in ln and ln.endswith("app/link") for ln in lines)
    assert lines[-1].startswith("3 added, 1 removed, 1 modified; ")
    assert "2 new blobs" in lines[-1]

    same = run_cli("diff", store, "prod", pushed, "--json").json()
    assert same["changes"] == [] and same["bytes_new"] == 0
    assert_one_line_error(run_cli("diff", store, "prod", "nope"), "nope")


def test_diff_against_a_directory_before_pushing(pushed, src, store, tmp_path):
    (src / "app" / "main.py").write_text("def run():\n    return 'local'\n")
    (src / "scratch.log").write_text("noise\n")
    res = run_cli("diff", store, "prod", "--dir", src, "--exclude", "*.log", "--json")
    assert res.returncode == 0, res
    obj = res.json()
    assert {c["path"]: c["change"] for c in obj["changes"]} == {"app/main.py": "M"}
    assert obj["blobs_new"] == 1
    # TO is exactly the tree the push makes; the diff itself uploaded nothing.
    assert not any(p.name == obj["to"][7:] for p in (store / "trees").iterdir())
    pushed_now = run_cli("push", src, store, "--exclude", "*.log").stdout.strip()
    assert pushed_now == obj["to"]
    human = run_cli("diff", store, "prod", "--dir", src, "--exclude", "*.log")
    assert human.stdout.splitlines()[0] == f"{pushed} -> {pushed_now} ({src}, not pushed)"
    assert human.stdout.splitlines()[-1].endswith("to activate DIR")
    # Exactly one of TO and --dir; --exclude only with --dir.
    assert run_cli("diff", store, "prod").returncode == 2
    assert run_cli("diff", store, "prod", "prod", "--dir", src).returncode == 2
    assert run_cli("diff", store, "prod", "prod", "--exclude", "x").returncode == 2
    assert_one_line_error(run_cli("diff", store, "prod", "--dir", tmp_path / "nope"), "nope")


def test_tag_human_and_json(pushed, store):
    res = run_cli("tag", store, pushed, "staging")
    assert res.returncode == 0, res
    assert res.stdout.strip() == f"staging -> {pushed}"
    obj = run_cli("tag", store, "staging", "release/1.0", "--json").json()
    assert obj == {"store": str(store), "name": "release/1.0", "digest": pushed}
    refs = run_cli("ls", store, "--json").json()["refs"]
    assert refs == {"prod": pushed, "staging": pushed, "release/1.0": pushed}


def test_cat_is_binary_safe(pushed, store):
    res = run_cli("cat", store, "prod", "app/data.bin")
    assert res.returncode == 0, res
    assert res.stdout_bytes == SAMPLE["app/data.bin"]
    assert run_cli("cat", store, pushed, "notes.txt").stdout_bytes == b"hello\n"
    assert run_cli("cat", store, pushed, "app/__init__.py").stdout_bytes == b""


def test_cat_streams_a_large_file_through_the_node_cache(tmp_path, store, node_cache):
    # 96 MiB of incompressible bytes: cat must not hold them in memory.
    size = 96 << 20
    d = tmp_path / "d"
    d.mkdir()
    want = hashlib.sha256()
    with open(d / "weights.bin", "wb") as f:
        for _ in range(size >> 20):
            chunk = os.urandom(1 << 20)
            want.update(chunk)
            f.write(chunk)
    try:
        digest = run_cli("push", d, store, "--cache", tmp_path / "push-cache").stdout.strip()
        (d / "weights.bin").unlink()  # disk: the store has it now
        # The peak RSS of the cat process, measured by a parent that runs only
        # it and hashes what it writes (no copy on disk).
        probe = (
            "import hashlib, resource, subprocess, sys\n"
            "p = subprocess.Popen([sys.executable, '-m', 'lazypath', 'cat', *sys.argv[1:]],"
            " stdout=subprocess.PIPE)\n"
            "h, n = hashlib.sha256(), 0\n"
            "while chunk := p.stdout.read(1 << 20):\n"
            "    h.update(chunk)\n"
            "    n += len(chunk)\n"
            "rc = p.wait()\n"
            "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, n, h.hexdigest())\n"
        )
        res = subprocess.run(
            [sys.executable, "-c", probe, store, digest, "weights.bin"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        rc, maxrss_kib, n, got = res.stdout.split()
        assert rc == "0", res.stderr
        assert (int(n), got) == (size, want.hexdigest())
        assert int(maxrss_kib) * 1024 < size / 2, maxrss_kib
        # The verified blob now sits in the node cache: a second cat reads no pack.
        blob = want.hexdigest()
        assert (node_cache / "blobs" / blob[:2] / blob).stat().st_size == size
        for p in (store / "packs").iterdir():
            p.unlink()
        again = run_cli("cat", store, digest, "weights.bin")
        assert again.returncode == 0 and len(again.stdout_bytes) == size
    finally:  # 200 MiB that later tests don't need
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(node_cache, ignore_errors=True)


def test_cat_into_closed_pipe_is_quiet(tmp_path, store):
    big = os.urandom(4 << 20)
    d = write_tree(tmp_path / "d", {"big.bin": big})
    digest = run_cli("push", d, store).stdout.strip()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazypath", "cat", str(store), digest, "big.bin"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.read(10) == big[:10]
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err
    assert err == ""


# ------------------------------------------------------------------ failures


def test_failures_exit_1_with_one_line(tmp_path, store, pushed):
    cases = [
        (["push", tmp_path / "nope", store], ["nope", "no such directory"]),
        (["activate", store, "missing"], ["missing", "not in store"]),
        (["show", store, "sha256:" + "0" * 64], ["sha256:" + "0" * 64]),
        (["cat", store, "prod", "no/such.py"], ["no/such.py"]),
        (["tag", store, "prod", "bad name!"], ["bad name!"]),
        (["ls", tmp_path / "no-store"], ["no-store"]),
        (["push", tmp_path / "src", "ftp://host/x"], ["ftp"]),
    ]
    for args, needles in cases:
        for extra in ([], ["--json"]) if args[0] != "cat" else ([],):
            res = run_cli(*args, *extra)
            assert_one_line_error(res, *needles)
            assert res.stdout == ""


# ------------------------------------------------------------------ progress on a terminal


def run_on_pty(*args) -> tuple:
    """Runs the CLI with stdout and stderr on a pseudo-terminal; (rc, output)."""
    main_fd, sub_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazypath", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=sub_fd,
        stderr=sub_fd,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
        # A suite started in the background inherits SIGINT ignored, and
        # Python then leaves it so: give the child the default a terminal has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(sub_fd)
    chunks = []
    while True:
        ready, _, _ = select.select([main_fd], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("no output from the CLI on the pty")
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal(tmp_path, store):
    d = write_tree(tmp_path / "d", {f"pkg/m{i}.bin": os.urandom(200_000) for i in range(30)})
    rc, out = run_on_pty("push", d, store)
    assert rc == 0, out
    assert "\x1b[" in out  # rich drew (and, being transient, erased) its bars
    for phase in ("scanning", "hashing", "packing", "uploading"):
        assert phase in out
    digests = re.findall(r"sha256:[0-9a-f]{64}", out)
    assert len(digests) == 1, out
    digest = digests[0]
    assert "30 files" in out
    assert "Traceback" not in out

    rc, out = run_on_pty("activate", store, digest, "--cache", tmp_path / "c2")
    assert rc == 0, out
    assert "fetching" in out
    assert str(tmp_path / "c2" / "trees" / digest[7:]) in out
    # On a terminal ls/show draw tables: the same rows, full digests.
    rc, out = run_on_pty("show", store, digest)
    assert rc == 0, out
    assert re.search(r"file\s+200000\s+pkg/m0\.bin", out), out
    assert "30 entries: 30 files" in out
    rc, out = run_on_pty("ls", store)
    assert rc == 0, out
    assert digest in out and "TREE" in out

    # --json never draws progress, even on a terminal.
    rc, out = run_on_pty("push", d, tmp_path / "store2", "--json")
    assert rc == 0, out
    assert "\x1b[" not in out
    assert json.loads(out)["digest"] == digest


def test_ctrl_c_exits_130_and_publishes_nothing(tmp_path, store):
    # Enough slow work (zstd level 19) that the push is still packing when
    # interrupted; the test waits for the packing bar, not for a time.
    d = write_tree(tmp_path / "d", {f"f{i}.txt": os.urandom(2 << 20).hex() for i in range(4)})
    main_fd, sub_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazypath", "push", str(d), str(store), "--level", "19"]
        + ["--tag", "prod"],
        stdin=subprocess.DEVNULL,
        stdout=sub_fd,
        stderr=sub_fd,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
        # A suite started in the background inherits SIGINT ignored, and
        # Python then leaves it so: give the child the default a terminal has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(sub_fd)
    seen = b""
    sent = False
    while True:
        ready, _, _ = select.select([main_fd], [], [], 120)
        assert ready, seen
        try:
            data = os.read(main_fd, 65536)
        except OSError:
            break
        if not data:
            break
        seen += data
        if not sent and b"packing" in seen:
            proc.send_signal(signal.SIGINT)
            sent = True
    os.close(main_fd)
    rc = proc.wait(timeout=60)
    out = seen.decode("utf-8", "replace")
    assert sent, out
    assert rc == 130, out
    assert "lazypath: interrupted" in out
    assert "Traceback" not in out
    assert not re.search(r"sha256:[0-9a-f]{64}", out)
    # Nothing was published: no tree, no index, no ref.
    for sub in ("trees", "indexes", "refs"):
        assert not (store / sub).exists() or not any((store / sub).iterdir()), sub


def test_progress_stops_cleanly_on_error(tmp_path):
    d = write_tree(tmp_path / "d", {f"m{i}.bin": os.urandom(50_000) for i in range(10)})
    os.symlink("/etc/passwd", d / "escape")
    rc, out = run_on_pty("push", d, tmp_path / "store")
    assert rc == 1, out
    assert "Traceback" not in out
    err_lines = [ln for ln in out.splitlines() if "lazypath: error:" in ln]
    assert len(err_lines) == 1 and "escape" in err_lines[0]


def test_progress_display_without_terminal_draws_nothing_and_stops_on_error():
    from lazypath._progress import ProgressDisplay
    from rich.console import Console

    buf = io.StringIO()
    with ProgressDisplay(True, console=Console(file=buf, width=100)) as p:
        cb = p.callback
        cb("scan", 10, 0, "entries")
        cb("hash", 5, 10, "bytes")
        cb("hash", 10, 10, "bytes")
        cb("pack", 3, 0, "bytes")
    cb("fetch", 1, 2, "bytes")  # after stop: ignored
    assert "hashing" not in buf.getvalue()  # not a terminal: no bars drawn

    term = io.StringIO()
    with pytest.raises(RuntimeError, match="boom"):
        with ProgressDisplay(True, console=Console(file=term, width=100, force_terminal=True)) as p:
            p.callback("fetch", 1 << 20, 4 << 20, "bytes")
            raise RuntimeError("boom")
    out = term.getvalue()
    assert "fetching" in out and "1.0 MiB / 4.0 MiB" in out
    assert out.endswith("\x1b[2K")  # transient: the bar was erased on the way out
    assert "\x1b[?25h" in out  # and the cursor shown again
    assert ProgressDisplay(False).callback is None


# The command exits without tearing the interpreter down (cli.console_main):
# what it must still do is run atexit handlers, flush its output, keep the
# exit status, and let running threads finish.
QUICK_EXIT = """
import atexit, sys, threading, time
atexit.register(lambda: print("atexit ran", flush=False))
sys.stdout.write("buffered, unflushed ")
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread done"))).start()
sys.argv = ["lazypath", *sys.argv[2:]]
from lazypath.cli import console_main
console_main()
"""


@pytest.mark.parametrize("threads", ["none", "thread"])
def test_the_command_runs_atexit_flushes_and_keeps_its_status(threads):
    ok = subprocess.run([sys.executable, "-c", QUICK_EXIT, threads, "--version"],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("buffered, unflushed lazypath ")
    assert ok.stdout.rstrip().endswith("atexit ran")
    if threads == "thread":
        assert "thread done" in ok.stdout
    usage = subprocess.run([sys.executable, "-c", QUICK_EXIT, threads, "no-such-verb"],
                           capture_output=True, text=True)  # fmt: skip
    assert usage.returncode == 2
    assert "atexit ran" in usage.stdout
