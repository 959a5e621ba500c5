"""`lazypath run`: a program runs with the tree on its path and the tree leased.

Also: activations from the CLI record the tree's use, so LRU eviction picks
the tree used longest ago (not the one activated by the CLI most recently).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, write_tree

PROGRAM = (
    "import sys, time, pathlib\n"
    "import app\n"
    "pathlib.Path(sys.argv[1]).write_text(app.__file__)\n"
    "while not pathlib.Path(sys.argv[2]).exists():\n"
    "    time.sleep(0.05)\n"
    "import app.late\n"
    "print(app.VALUE, app.late.LATE)\n"
    "sys.exit(7)\n"
)


@pytest.fixture
def app_store(tmp_path, store):
    src = write_tree(
        tmp_path / "src",
        {"app/__init__.py": "VALUE = 'from-tree'\n", "app/late.py": "LATE = 'late'\n"},
    )
    return lazypath.push(src, store, tag="prod")


def _start(store, tmp_path, *flags):
    started, go = tmp_path / "started", tmp_path / "go"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lazypath",
            "run",
            str(store),
            "prod",
            *flags,
            "--",
            sys.executable,
            "-c",
            PROGRAM,
            str(started),
            str(go),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the program never started"
        time.sleep(0.05)
    return proc, started, go


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_run_holds_the_lease_while_the_program_runs(tmp_path, store, app_store, mode):
    proc, started, go = _start(store, tmp_path, "--mode", mode)
    origin = started.read_text()
    assert (
        os.path.join(lazypath.default_cache_dir(), "trees" if mode == "eager" else "lazy") in origin
    )
    # While it runs, its tree is in use: clearing the cache keeps it.
    cleared = lazypath.cache_clear()
    assert app_store in cleared.trees_in_use and app_store not in cleared.trees_evicted
    usage = {t.digest: t for t in lazypath.cache_usage().trees}
    assert usage[app_store].in_use
    go.write_text("")
    out, errs = proc.communicate(timeout=120)
    assert proc.returncode == 7, errs  # the program's own exit status
    assert out.decode().split() == ["from-tree", "late"], errs
    # Once it exited, nothing holds the tree.
    assert lazypath.cache_clear().trees_evicted == [app_store]


def test_run_reports_a_command_it_cannot_start(store, app_store):
    res = run_cli("run", store, "prod", "--", "no-such-program-xyz")
    assert_one_line_error(res, "no-such-program-xyz", code=127)


def test_run_needs_a_command(store, app_store):
    res = run_cli("run", store, "prod")
    assert_one_line_error(res, "give the command", code=2)


def test_run_fails_cleanly_for_an_unknown_ref(store, app_store):
    res = run_cli("run", store, "nope", "--", sys.executable, "-c", "pass")
    assert_one_line_error(res, "nope")


def test_cli_activation_records_use_for_lru(tmp_path, store):
    older = lazypath.push(write_tree(tmp_path / "a", {"a.py": "A = 1\n"}), store)
    newer = lazypath.push(write_tree(tmp_path / "b", {"b.py": "B = 1\n"}), store)
    for digest in (older, newer):
        assert run_cli("activate", store, digest).returncode == 0
        time.sleep(0.05)
    order = [t.digest for t in lazypath.cache_usage().trees]
    assert order == [older, newer]  # least recently used first
    # Using `older` again from the CLI (already cached) makes `newer` the LRU one.
    assert run_cli("activate", store, older).returncode == 0
    assert [t.digest for t in lazypath.cache_usage().trees] == [newer, older]
    budget = lazypath.cache_usage().blob_bytes - 1
    assert lazypath.cache_gc(max_bytes=budget).trees_evicted == [newer]
