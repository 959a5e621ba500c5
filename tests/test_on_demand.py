"""Lazy mode's on_demand: directories without code that wait for materialize().

A code-free directory (data, models) normally comes with its parent, so
that code can read it by path. Listed in on_demand, it stays an empty
placeholder until lazypath.materialize() asks for a path in it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import lazypath
import pytest
from conftest import assert_one_line_error, run_cli, write_tree

WEIGHTS = os.urandom(3 << 20)
FILES = {
    "app/__init__.py": "import os\nHERE = os.path.dirname(__file__)\n",
    "app/templates/page.html": "<p>hi</p>\n",  # not listed: comes with app
    "models/weights.bin": WEIGHTS,
    "models/v2/weights.bin": WEIGHTS[:1000],
}


@pytest.fixture
def pushed(tmp_path, store):
    return lazypath.push(write_tree(tmp_path / "src", FILES), store)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_on_demand_directory_waits_for_materialize(store, pushed, restore_imports):
    tree = lazypath.activate(store, pushed, mode="lazy", on_demand=["models"])
    root = Path(tree.path)
    assert tree.bytes_fetched < 10_000  # the 3 MiB of weights stayed in the store
    assert mode(root / "models") == 0o700 and not list((root / "models").iterdir())
    import app

    assert (Path(app.HERE) / "templates" / "page.html").read_text() == "<p>hi</p>\n"
    path = lazypath.materialize(str(root / "models" / "weights.bin"))
    assert Path(path).read_bytes() == WEIGHTS
    assert (root / "models" / "v2" / "weights.bin").read_bytes() == WEIGHTS[:1000]
    assert mode(root / "models") == 0o755


def test_cli_and_errors(tmp_path, store, pushed):
    cache = tmp_path / "cli-cache"
    res = run_cli(
        "activate", store, pushed, "--mode", "lazy", "--on-demand", "models", "--cache", cache
    )
    assert res.returncode == 0, res
    root = Path(res.stdout.strip())
    assert mode(root / "models") == 0o700 and not (root / "models" / "weights.bin").exists()
    # Without it, models/ has no code and comes with the root.
    res = run_cli("activate", store, pushed, "--mode", "lazy", "--cache", tmp_path / "c2")
    assert (Path(res.stdout.strip()) / "models" / "weights.bin").read_bytes() == WEIGHTS
    # A directory with code is refused, and so is on_demand without lazy mode.
    res = run_cli(
        "activate", store, pushed, "--mode", "lazy", "--on-demand", "app", "--cache", cache
    )
    assert_one_line_error(res, "'app'", "holds Python code")
    res = run_cli("activate", store, pushed, "--on-demand", "models", "--cache", cache)
    assert_one_line_error(res, "on_demand", "lazy")
    with pytest.raises(lazypath.InvalidInputError, match="list of directories"):
        lazypath.pull(store, pushed, mode="lazy", on_demand="models")


def test_a_subprocess_gets_on_demand_through_boot(tmp_path, store, pushed):
    """The variables the Ray plugin gives its workers carry on_demand too."""
    from lazypath import _boot

    cache = str(tmp_path / "boot-cache")
    env = {**os.environ, **_boot.env(str(store), pushed, "lazy", cache, on_demand=["models"])}
    env["PYTHONPATH"] = _boot.pythonpath(os.environ.get("PYTHONPATH"))
    code = (
        "import os, lazypath, app\n"
        "root = os.path.dirname(app.HERE)\n"
        "print(os.listdir(os.path.join(root, 'models')))\n"
        "p = lazypath.materialize(os.path.join(root, 'models', 'weights.bin'))\n"
        "print(os.path.getsize(p))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["[]", str(len(WEIGHTS))]
