"""lazypath/_site: activating a tree in a new process before its own code runs.

The Ray plugin (lazy mode) and `lazypath profile` start processes this way.
Each test runs a real interpreter with the variables lazypath._boot.env()
gives and lazypath/_site first on PYTHONPATH, as a Ray worker gets them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lazypath
import pytest
from conftest import write_tree
from lazypath import _boot

FILES = {
    "app/__init__.py": "VALUE = 'from the tree'\n",
    "app/core/__init__.py": "X = 1\n",
    "tool.py": "T = 1\n",
    "data/table.csv": "a,b\n",
    "not-a-name/readme.txt": "x\n",
    "README.md": "# hi\n",
}


@pytest.fixture
def pushed(tmp_path, store):
    src = write_tree(tmp_path / "src", FILES)
    return lazypath.push(src, store)


def run(env: dict, code: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LAZYPATH_BOOT_")}
    full.update(env)
    full["PYTHONPATH"] = _boot.pythonpath(os.environ.get("PYTHONPATH"))
    return subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120
    )


def test_top_level_names_of_a_lazy_root(tmp_path, store, pushed):
    root = lazypath.pull(store, pushed, mode="lazy", cache_dir=str(tmp_path / "c")).path
    # app is still a placeholder, data/ came with the root; both are names.
    assert _boot.top_level_names(root) == ["app", "data", "tool"]
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (ext / "plain.py").write_text("")
    (ext / "1bad.py").write_text("")
    (ext / "notes.txt").write_text("")
    assert _boot.top_level_names(str(ext)) == ["fast", "plain"]
    assert _boot.top_level_names(str(tmp_path / "missing")) == []


def test_activates_before_user_code(tmp_path, store, pushed):
    cache = str(tmp_path / "cache")
    root = lazypath.pull(store, pushed, mode="lazy", cache_dir=cache).path
    res = run(
        _boot.env(str(store), pushed, "lazy", cache, root),
        "import os, sys, app\n"
        "print(app.VALUE)\n"
        "print(sys.path.index(os.path.dirname(app.__path__[0])))\n",
    )
    assert res.returncode == 0, res.stderr
    value, at = res.stdout.splitlines()
    assert value == "from the tree"
    # The root took _site's place: first of PYTHONPATH, after the script dir.
    assert int(at) == 1


def test_failed_activation_names_the_cause_on_import(tmp_path, store, pushed):
    cache = str(tmp_path / "cache")
    root = lazypath.pull(store, pushed, mode="lazy", cache_dir=cache).path
    gone = tmp_path / "gone"
    env = _boot.env(str(gone), pushed, "lazy", str(tmp_path / "empty-cache"), root)
    assert env[_boot.NAMES_VAR] == "app,data,tool"

    res = run(env, "import app")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    # One line from the boot, then the traceback whose last line names the
    # module, the tree, the store and the cause.
    assert lines[0].startswith(f"lazypath: cannot activate {pushed} from '{gone}': ")
    assert lines[-1].startswith("ModuleNotFoundError: No module named 'app' (lazypath: cannot")
    assert pushed in lines[-1] and str(gone) in lines[-1]

    # Names outside the tree, probes and the standard library are untouched.
    res = run(
        env,
        "import json, importlib.util\n"
        "assert importlib.util.find_spec('not_in_tree') is None\n"
        "try:\n    import not_in_tree\nexcept ModuleNotFoundError as e:\n    print(e)\n",
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "No module named 'not_in_tree'"

    # A name the tree has but something else on sys.path provides is found there.
    elsewhere = write_tree(tmp_path / "elsewhere", {"tool.py": "T = 'elsewhere'\n"})
    res = run(
        {**env, "PYTHONSAFEPATH": "1"},
        f"import sys; sys.path.append({str(elsewhere)!r})\nimport tool; print(tool.T)",
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "elsewhere"


def test_without_names_a_failure_is_only_the_line(tmp_path, store, pushed):
    env = _boot.env(str(tmp_path / "gone"), pushed, "lazy", str(tmp_path / "c"))
    assert _boot.NAMES_VAR not in env
    res = run(env, "import app")
    assert res.returncode == 1
    assert res.stderr.startswith("lazypath: cannot activate ")
    assert res.stderr.strip().splitlines()[-1] == "ModuleNotFoundError: No module named 'app'"


def test_boot_env_from_the_profile_cli_names_the_tree(tmp_path, store, pushed, cli):
    # `lazypath profile` passes the names too: the child sees them.
    src = write_tree(
        tmp_path / "probe",
        {"probe.py": "import os\nprint(os.environ.get('LAZYPATH_BOOT_NAMES'))\n"},
    )
    res = cli(
        "profile", store, pushed, "--dry-run", "--", sys.executable, str(Path(src) / "probe.py")
    )
    assert res.returncode == 0, res
    assert "app,data,tool" in res.stdout
