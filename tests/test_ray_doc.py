"""doc/ray.md's recipes, run verbatim against a local cluster.

A recipe is a fenced sh or python block right after a `<!-- recipe: NAME -->`
line. Each runs, as written, in an app directory (main.py and a package
app/) with only the variables the doc names set: STORE (a file store here)
and RAY_ADDRESS (the dashboard for job CLIs, the cluster for ray.init(), as
the doc says). The cluster is started with the environment the `register`
recipe exports. Every recipe must exit 0 and show the code ran from the
shipped tree in the node cache.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath.ray as lpray  # noqa: E402
from ray_head import head, ray_env  # noqa: E402

pytestmark = pytest.mark.timeout(600)

DOC = Path(__file__).resolve().parent.parent / "doc" / "ray.md"
BIN = os.path.dirname(sys.executable)
RECIPE = re.compile(r"^<!-- recipe: ([\w-]+) -->\n```(sh|python)\n(.*?)^```$", re.M | re.S)
# Which address each recipe talks to (doc/ray.md, section 3).
DASHBOARD, CLUSTER = "dashboard", "cluster"
ADDRESS = {"submit": DASHBOARD, "job-submit": DASHBOARD, "helper": CLUSTER, "hook": CLUSTER}


def recipes() -> dict[str, tuple[str, str]]:
    found = {name: (lang, body) for name, lang, body in RECIPE.findall(DOC.read_text())}
    assert DOC.read_text().count("<!-- recipe:") == len(found), "a marker without its block"
    return found


def test_the_doc_marks_its_recipes():
    assert set(recipes()) == {"register", *ADDRESS}


def run(lang: str, body: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    argv = (
        ["bash", "-euo", "pipefail", "-c", body] if lang == "sh" else [sys.executable, "-c", body]
    )
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("doc")
    lang, body = recipes()["register"]
    path = BIN + os.pathsep + os.environ.get("PATH", "")
    echo = "\npython -c 'import os; print(os.environ[\"RAY_RUNTIME_ENV_PLUGINS\"])'"
    printed = run(lang, body + echo, base, ray_env(PATH=path))
    assert printed.returncode == 0, printed.stderr
    value, exported = printed.stdout.split("\n")[:2]
    assert value == exported == lpray.plugin_env_value()  # the recipe's two lines agree
    cache = base / "node-cache"
    env = {"LAZYPATH_CACHE": str(cache), "PATH": path, lpray.PLUGIN_ENV_VAR: exported}
    with head(base, plugin=False, env=env, cwd=base) as h:  # registered by the recipe's value
        yield h, cache


@pytest.mark.parametrize("name", sorted(ADDRESS))
def test_recipe_runs_verbatim(cluster, tmp_path, name):
    h, cache = cluster
    app = tmp_path / "myapp"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("VALUE = 'doc'\n")
    (app / "app" / "__main__.py").write_text("import app, os\nprint('APP', app.__file__)\n")
    (app / "main.py").write_text("import app, os\nprint('APP', app.__file__, os.environ['A'])\n")
    lang, body = recipes()[name]
    address = h.address if ADDRESS[name] == DASHBOARD else h.gcs
    env = ray_env(
        STORE=str(tmp_path / "store"),
        RAY_ADDRESS=address,
        PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
    )
    res = run(lang, body, app, env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    trees = os.path.join(os.path.realpath(cache), "trees") + os.sep
    shown = [w for w in res.stdout.split() if w.endswith(os.path.join("app", "__init__.py"))]
    assert shown, res.stdout
    assert all(os.path.realpath(w).startswith(trees) for w in shown), shown
    if name == "submit":
        assert json.loads(
            subprocess.run(
                [os.path.join(BIN, "lazypath"), "show", env["STORE"], "dev", "--json"],
                capture_output=True, text=True, timeout=60, check=True,
            ).stdout
        )["digest"] in res.stderr  # fmt: skip
