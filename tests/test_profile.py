"""Import profiles: recording, pack layout on the next push, and lazy prefetch.

A program imports `app` (which imports `app.core`) from a tree that also
ships `unused` (never imported) with large incompressible files between
them in pack order. `lazypath profile` records what the program imports; the
next push lays those directories out first and contiguous; lazy activation
then fetches them with one request in the background.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, write_tree

FILES = {
    "app/__init__.py": "from app import core\nNAME = 'app'\n",
    "app/__main__.py": "import app\nprint('app says', app.core.VALUE)\n",
    "app/core/__init__.py": "from app.core import calc\nVALUE = calc.twice(21)\n",
    "app/core/calc.py": "def twice(x):\n    return 2 * x\n",
    "app/data/table.csv": "a,b\n1,2\n",
    "base/__init__.py": "B = 1\n",
    "base/big.bin": os.urandom(300 << 10),  # between app and app/core in pack order
    "unused/__init__.py": "U = 1\n",
    "unused/big.bin": os.urandom(400 << 10),
    "unused/sub/mod.py": "M = 1\n",
}
PROFILED = ["", "app", "app/core"]


def sha(data) -> str:
    return (
        "sha256:" + hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()
    )


def index(store: Path, digest: str) -> dict:
    """{blob digest: (pack, offset, length)} from the tree's index."""
    doc = json.loads((store / "indexes" / digest.split(":", 1)[1]).read_text())
    return {b[0]: (doc["packs"][b[2]], b[3], b[4]) for b in doc["blobs"]}


def profiled_blobs(files: dict) -> list[str]:
    """The blobs lazy activation places for PROFILED (own files, child
    __init__.py, non-code subdirectories), as a set of digests."""
    out = set()
    for rel, content in files.items():
        parent = rel.rpartition("/")[0]
        grand = parent.rpartition("/")[0]
        name = rel.rpartition("/")[2]
        if parent in PROFILED or (grand in PROFILED and name == "__init__.py"):
            out.add(sha(content))
        elif parent == "app/data":
            out.add(sha(content))
    return sorted(out)


@pytest.fixture
def pushed(tmp_path, store, cli):
    src = write_tree(tmp_path / "src", FILES)
    # Format 1: a format 2 push carries a profile but does not reorder packs
    # for it (the C++ lazy tests prefetch profiles on both formats).
    res = cli("push", src, store, "--format", "1", "--tag", "prod", "--json")
    assert res.returncode == 0, res
    return src, res.json()["digest"]


def test_profile_records_then_push_packs_the_set_first(tmp_path, store, cli, pushed):
    src, d1 = pushed
    # Pack order is by directory: app/core sits after base/big.bin, far apart.
    loc = index(store, d1)
    spans = sorted(loc[b][1] for b in profiled_blobs(FILES))
    assert spans[-1] - spans[0] > 256 << 10

    res = cli("profile", store, "prod", "--json", "--", sys.executable, "-m", "app")
    assert res.returncode == 0, res
    out = res.json()
    assert out["digest"] == d1 and out["key"] == "profiles/" + d1.split(":", 1)[1]
    assert out["dirs"] == PROFILED
    assert "app says 42" in res.stderr  # the program's output, kept off --json's stdout
    assert lazypath.read_profile(store, "prod").to_dict() == {"digest": d1, "dirs": PROFILED}

    (src / "app" / "core" / "calc.py").write_text("def twice(x):\n    return x + x\n")
    files = {**FILES, "app/core/calc.py": "def twice(x):\n    return x + x\n"}
    res = cli("push", src, store, "--format", "1", "--tag", "prod", "--json")
    assert res.returncode == 0, res
    rep = res.json()
    d2 = rep["digest"]
    assert rep["profile"]["source"] == d1 and rep["profile"]["carried"]
    assert rep["profile"]["dirs"] == 3
    assert lazypath.read_profile(store, d2)["dirs"] == PROFILED
    # The profiled blobs: one pack, back to back from its first frame.
    loc = index(store, d2)
    want = profiled_blobs(files)
    assert len({loc[b][0] for b in want}) == 1
    frames = sorted((loc[b][1], loc[b][2]) for b in want)
    assert frames[0][0] == 8
    for (off, length), (nxt, _) in zip(frames, frames[1:]):
        assert off + length == nxt
    # ...and nothing else inside that run.
    end = frames[-1][0] + frames[-1][1]
    others = [v for k, v in loc.items() if k not in want and v[0] == loc[want[0]][0]]
    assert all(off >= end for _p, off, _l in others)


def test_lazy_activation_prefetches_the_set_in_one_request(
    tmp_path, store, cli, pushed, restore_imports
):
    src, d1 = pushed
    assert cli("profile", store, "prod", "--", sys.executable, "-m", "app").returncode == 0
    # Lay the set out.
    assert cli("push", src, store, "--format", "1", "--tag", "prod").returncode == 0
    tree = lazypath.activate(str(store), "prod", mode="lazy")
    import app  # races the prefetch: waits for it or builds the directory itself

    assert app.core.VALUE == 42
    prefetch = lazypath._prefetch_of(tree.path)
    assert prefetch.wait(60) and prefetch.error is None, prefetch.error
    r = prefetch.result
    assert r["profile"] and r["profile_dirs"] == 3
    if r["dirs"]:  # the prefetch got there first: one request for the set
        assert r["requests"] == 1
    root = Path(tree.path)
    assert (root / "app" / "core" / "calc.py").read_text().startswith("def twice")
    assert (root / "app" / "data" / "table.csv").exists()
    assert not (root / "unused" / "big.bin").exists()  # never profiled, never imported
    assert not (root / "base" / "big.bin").exists()


def test_prefetch_fetches_the_whole_set_before_any_import(
    tmp_path, store, cli, pushed, restore_imports
):
    src, _ = pushed
    assert cli("profile", store, "prod", "--", sys.executable, "-m", "app").returncode == 0
    assert cli("push", src, store, "--format", "1", "--tag", "prod").returncode == 0
    tree = lazypath.activate(str(store), "prod", mode="lazy")
    prefetch = lazypath._prefetch_of(tree.path)
    assert prefetch.wait(60) and prefetch.error is None
    assert prefetch.result["requests"] == 1 and prefetch.result["dirs"] == 2
    assert prefetch.result["blobs"] == len(profiled_blobs(FILES)) - 3  # the root brought 3
    import app

    assert app.core.VALUE == 42
    assert app.__file__ == str(Path(tree.path) / "app" / "__init__.py")


def test_record_during_a_normal_run_with_the_environment(tmp_path, store, pushed):
    code = (
        "import sys, lazypath\n"
        f"lazypath.activate({str(store)!r}, 'prod', mode='lazy')\n"
        "import app\n"
    )
    env = {**os.environ, "LAZYPATH_PROFILE": "record"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert lazypath.read_profile(store, "prod")["dirs"] == PROFILED


def test_prefetch_failure_warns_once_and_imports_still_work(tmp_path, store, pushed):
    _, d1 = pushed
    (store / "profiles").mkdir()
    (store / "profiles" / d1.split(":", 1)[1]).write_text("not a profile")
    code = (
        "import lazypath\n"
        f"t = lazypath.activate({str(store)!r}, 'prod', mode='lazy')\n"
        "import app\n"
        "assert lazypath._prefetch_of(t.path).wait(60)\n"
        "print(app.core.VALUE)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "42"
    warnings = [line for line in res.stderr.splitlines() if "prefetching the profile" in line]
    assert len(warnings) == 1, res.stderr
    assert d1 in warnings[0] and "not valid JSON" in warnings[0]


def test_profile_off_and_no_profile(tmp_path, store, cli, pushed, restore_imports):
    src, _ = pushed
    assert cli("profile", store, "prod", "--", sys.executable, "-m", "app").returncode == 0
    tree = lazypath.activate(str(store), "prod", mode="lazy", profile="off")
    assert lazypath._prefetch_of(tree.path) is None
    (src / "new.py").write_text("N = 1\n")
    res = cli("push", src, store, "--format", "1", "--tag", "prod", "--no-profile", "--json")
    assert res.returncode == 0, res
    assert res.json()["profile"]["source"] is None
    assert lazypath.read_profile(store, res.json()["digest"]) is None


def test_profile_cli_errors(tmp_path, store, cli, pushed):
    res = cli("profile", store, "prod")
    assert_one_line_error(res, "give the command to run", code=2)
    res = cli("profile", store, "prod", "--", sys.executable, "-c", "raise SystemExit(3)")
    assert_one_line_error(res, "exited with status 3", "no profile stored")
    res = cli("profile", store, "prod", "--", "true")
    assert_one_line_error(res, "never activated")
    res = cli("profile", store, "nosuchtag", "--", sys.executable, "-c", "pass")
    assert_one_line_error(res, "nosuchtag")
    res = cli("push", tmp_path / "src", store, "--format", "1", "--profile-from", "prod")
    assert_one_line_error(res, "no profile for prod")
    assert lazypath.read_profile(store, "prod") is None


def test_exit_during_the_prefetch_is_clean(tmp_path, store, cli, pushed):
    """The process ends right after activation, the prefetch still running:
    the interpreter waits for it rather than killing it inside the core."""
    src, _ = pushed
    assert cli("profile", store, "prod", "--", sys.executable, "-m", "app").returncode == 0
    assert cli("push", src, store, "--format", "1", "--tag", "prod").returncode == 0
    code = f"import lazypath; lazypath.activate({str(store)!r}, 'prod', mode='lazy')"
    for i in range(3):
        env = {**os.environ, "LAZYPATH_CACHE": str(tmp_path / f"exit-cache-{i}")}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert res.returncode == 0 and res.stderr == "", res.stderr
        root = (
            tmp_path
            / f"exit-cache-{i}"
            / "lazy"
            / lazypath.read_profile(store, "prod")["digest"].split(":", 1)[1]
        )
        assert (root / "app" / "core" / "calc.py").exists()  # the prefetch finished
