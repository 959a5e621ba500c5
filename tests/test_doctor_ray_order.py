"""`lazypath doctor --ray` checks where the lazypath tree sits on the workers' sys.path.

A real local cluster with the plugin registered. Clean case: lazypath +
working_dir + py_modules + env_vars PYTHONPATH, given as a user would (a tag,
local directories): the doctor pins and uploads them as ray.init would, and
finds the tree where doc/ray.md section 5 puts it, with no ray-* finding.
Broken case: the runtime_env's PYTHONPATH carries a sitecustomize.py that
inserts a directory at sys.path[0] at worker start-up, whose `lp_order_app`
shadows the tree's: the doctor reports ray-tree-order and ray-tree-shadowed,
through the CLI with --json and --fail-on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
from lazypath.doctor import cluster as dc  # noqa: E402

pytestmark = pytest.mark.timeout(300)

APP = "lp_order_app"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("order-node-cache"))
    if ray.is_initialized():
        ray.shutdown()
    mp = pytest.MonkeyPatch()
    mp.setenv(lpray.PLUGIN_ENV_VAR, lpray.plugin_env_value())  # inherited by the raylet
    try:
        ray.init(address="local", num_cpus=1, include_dashboard=False)
        yield cache
    finally:
        ray.shutdown()
        mp.undo()


def pushed(tmp_path: Path) -> str:
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{APP}.py").write_text("WHERE = 'lazypath'\n")
    store = str(tmp_path / "store")
    lazypath.push(str(src), store, tag="prod", cache_dir=str(tmp_path / "driver-cache"))
    return store


def ray_findings(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["code"].startswith("ray-")]


def test_clean_runtime_env_has_the_tree_where_documented(cluster, tmp_path):
    store = pushed(tmp_path)
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "lp_order_wd.py").write_text("")
    pymod = tmp_path / "lp_order_pymod"
    pymod.mkdir()
    (pymod / "__init__.py").write_text("")
    extra = tmp_path / "extra"
    extra.mkdir()
    runtime_env = {
        "lazypath": {"store": store, "ref": "prod"},  # a tag: pinned on the driver
        "working_dir": str(wd),  # local paths: uploaded as ray.init would
        "py_modules": [str(pymod)],
        "env_vars": {"PYTHONPATH": str(extra), "LAZYPATH_CACHE": cluster},
    }
    result = dc.diagnose_cluster(None, runtime_env=runtime_env, timeout=240)
    digest = lpray.resolve_ref(store, "prod")
    assert result["task_runtime_env"]["lazypath"]["ref"] == digest
    assert result["nodes"] == 1
    (g,) = result["groups"]
    assert ray_findings(g["report"]) == [], json.dumps(g["ray_path"], indent=1)
    kinds = [x["kind"] for x in g["ray_path"]]
    first = {k: kinds.index(k) for k in dict.fromkeys(kinds)}
    # Only the driver's directories and Ray's own precede the tree; then the
    # documented order.
    assert set(kinds[: first["lazypath"]]) <= {"driver", "ray"}, g["ray_path"]
    assert os.getcwd() in [x["entry"] for x in g["ray_path"] if x["kind"] == "driver"]
    want = ["lazypath", "py_modules", "working_dir", "PYTHONPATH", "stdlib", "site-packages"]
    assert [first[k] for k in want] == sorted(first[k] for k in want), g["ray_path"]
    modules = {m["name"]: m for m in g["report"]["modules"]}
    tree_entry = g["ray_path"][first["lazypath"]]["entry"]
    assert os.path.realpath(modules[APP]["origin"]) == os.path.realpath(
        os.path.join(tree_entry, f"{APP}.py")
    )
    assert "lp_order_wd" in modules and "lp_order_pymod" in modules


def test_sitecustomize_that_puts_a_shadow_first_is_reported(cluster, tmp_path):
    store = pushed(tmp_path)
    digest = lpray.resolve_ref(store, "prod")
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / f"{APP}.py").write_text("WHERE = 'shadow'\n")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(f"import sys\nsys.path.insert(0, {str(shadow)!r})\n")
    runtime_env = {
        "lazypath": {"store": store, "ref": digest},
        "env_vars": {"PYTHONPATH": str(hook), "LAZYPATH_CACHE": cluster},
    }
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.run(
        [sys.executable, "-m", "lazypath", "doctor", "--ray", address,
         "--runtime-env", json.dumps(runtime_env), "--json", "--fail-on", "error"],
        capture_output=True, text=True, timeout=280, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]  # --fail-on error: a finding, not a crash
    result = json.loads(proc.stdout)
    (g,) = result["groups"]
    found = {f["code"]: f for f in ray_findings(g["report"])}
    assert set(found) == {"ray-tree-order", "ray-tree-shadowed"}, found
    order, shadowed = found["ray-tree-order"], found["ray-tree-shadowed"]
    assert order["severity"] == "warning" and order["subject"] == str(shadow)
    assert "precedes the lazypath tree" in order["message"]
    assert shadowed["severity"] == "error" and shadowed["subject"] == APP
    assert digest in shadowed["message"] and str(shadow / f"{APP}.py") in shadowed["message"]
    assert g["report"]["summary"]["errors"] >= 1
    # The human view names it too.
    text = subprocess.run(
        [sys.executable, "-m", "lazypath", "doctor", "--ray", address,
         "--runtime-env", json.dumps(runtime_env)],
        capture_output=True, text=True, timeout=280, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr[-3000:]
    assert "[ray-tree-shadowed]" in text.stdout and "[ray-tree-order]" in text.stdout


def test_lazypath_field_without_the_plugin_is_reported_missing():
    report = {"entries": [{"index": 0, "entry": "/x"}], "modules": [], "findings": []}
    (f,) = dc.ray_tree_findings(report, {"tree": None, "real": ["/x"]}, {"lazypath": {}})
    assert f["code"] == "ray-tree-missing" and f["severity"] == "error"
    assert "is the plugin registered" in f["message"]


def test_driver_started_in_the_checkout_shadows_the_tree(cluster, tmp_path):
    """Ray puts the driver's cwd first on the workers: a driver run from the
    source checkout makes the workers import the checkout, not the digest."""
    store = pushed(tmp_path)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / f"{APP}.py").write_text("WHERE = 'checkout'\n")
    runtime_env = {
        "lazypath": {"store": store, "ref": "prod"},
        "env_vars": {"LAZYPATH_CACHE": cluster},
    }
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    proc = subprocess.run(
        [sys.executable, "-m", "lazypath", "doctor", "--ray",
         ray.get_runtime_context().gcs_address, "--runtime-env", json.dumps(runtime_env),
         "--json"],
        capture_output=True, text=True, timeout=280, env=env, cwd=checkout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (g,) = json.loads(proc.stdout)["groups"]
    (f,) = ray_findings(g["report"])
    assert f["code"] == "ray-tree-shadowed" and f["subject"] == APP
    assert "(driver)" in f["message"] and str(checkout / f"{APP}.py") in f["message"]
