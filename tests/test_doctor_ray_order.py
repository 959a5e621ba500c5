"""`lazypath doctor --ray` checks where the lazypath tree sits on the workers' sys.path.

A real two-node cluster (ray.cluster_utils.Cluster) with the plugin
registered. The second node's own PYTHONPATH holds a sitecustomize.py that,
when a worker's environment sets LP_ORDER_FRONT, inserts that directory at
sys.path[0]: a node-local start-up hook that only that node has.

- Clean: lazypath + working_dir + py_modules + env_vars PYTHONPATH, given as
  a user would (a tag, local directories): the doctor pins and uploads them
  as ray.init would, and finds the tree where doc/ray.md section 5 puts it on
  both nodes, with no ray-* finding.
- The runtime_env's PYTHONPATH carries a sitecustomize.py that inserts a
  directory whose `lp_order_app` shadows the tree's: every node reports
  ray-tree-order and ray-tree-shadowed (through the CLI, --json, --fail-on).
- LP_ORDER_FRONT set: only the second node's hook fires; only its group has
  the findings.
- A driver started in a directory holding `lp_order_app.py`: Ray puts the
  driver's cwd first on the workers, and the doctor reports the shadow.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
from lazypath.doctor import cluster as dc  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.timeout(300)

APP = "lp_order_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HOOK = """import os, sys
front = os.environ.get("LP_ORDER_FRONT")
if front:
    sys.path.insert(0, front)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two nodes; the second has a start-up hook on its own PYTHONPATH. Yields
    (node cache, the hook's directory)."""
    cache = str(tmp_path_factory.mktemp("order-node-cache"))
    hook = tmp_path_factory.mktemp("node-hook")
    (hook / "sitecustomize.py").write_text(HOOK)
    if ray.is_initialized():
        ray.shutdown()
    mp = pytest.MonkeyPatch()
    mp.setenv(lpray.PLUGIN_ENV_VAR, lpray.plugin_env_value())  # inherited by the raylets
    c = Cluster()
    try:
        c.add_node(num_cpus=1, include_dashboard=False, dashboard_agent_listen_port=free_port())
        c.add_node(
            num_cpus=1,
            dashboard_agent_listen_port=free_port(),
            env_vars={"PYTHONPATH": str(hook)},
        )
        c.wait_for_nodes()
        ray.init(address=c.address)
        yield cache, str(hook)
    finally:
        ray.shutdown()
        c.shutdown()
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


def doctor_cli(runtime_env: dict, cwd: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-m", "lazypath", "doctor", "--ray",
         ray.get_runtime_context().gcs_address, "--runtime-env", json.dumps(runtime_env),
         *flags],
        capture_output=True, text=True, timeout=280, env=env, cwd=cwd,
    )  # fmt: skip


def by_hook(result: dict, hook: str) -> tuple[dict, dict]:
    """(the head node's group, the hooked node's group)."""
    assert result["nodes"] == 2
    assert len(result["groups"]) == 2  # the hook's directory is on one node's path only
    hooked = [g for g in result["groups"] if any(x["entry"] == hook for x in g["ray_path"])]
    plain = [g for g in result["groups"] if g not in hooked]
    assert len(hooked) == 1 and len(plain) == 1
    return plain[0], hooked[0]


def shadow_dir(tmp_path: Path) -> Path:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / f"{APP}.py").write_text("WHERE = 'shadow'\n")
    return shadow


def test_clean_runtime_env_has_the_tree_where_documented(cluster, tmp_path):
    cache, hook = cluster
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
        "env_vars": {"PYTHONPATH": str(extra), "LAZYPATH_CACHE": cache},
    }
    result = dc.diagnose_cluster(None, runtime_env=runtime_env, timeout=240)
    digest = lpray.resolve_ref(store, "prod")
    assert result["task_runtime_env"]["lazypath"]["ref"] == digest
    for g in by_hook(result, hook):
        assert ray_findings(g["report"]) == [], json.dumps(g["ray_path"], indent=1)
        kinds = [x["kind"] for x in g["ray_path"]]
        first = {k: kinds.index(k) for k in dict.fromkeys(kinds)}
        # Only the driver's directories and Ray's own precede the tree; then
        # the documented order.
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


def test_sitecustomize_on_the_runtime_env_pythonpath_is_reported(cluster, tmp_path):
    cache, hook = cluster
    store = pushed(tmp_path)
    digest = lpray.resolve_ref(store, "prod")
    shadow = shadow_dir(tmp_path)
    user_hook = tmp_path / "user-hook"
    user_hook.mkdir()
    (user_hook / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(shadow)!r})\n"
    )
    runtime_env = {
        "lazypath": {"store": store, "ref": digest},
        "env_vars": {"PYTHONPATH": str(user_hook), "LAZYPATH_CACHE": cache},
    }
    proc = doctor_cli(runtime_env, tmp_path, "--json", "--fail-on", "error")
    assert proc.returncode == 1, proc.stderr[-3000:]  # --fail-on error: a finding, not a crash
    for g in by_hook(json.loads(proc.stdout), hook):
        found = {f["code"]: f for f in ray_findings(g["report"])}
        assert set(found) == {"ray-tree-order", "ray-tree-shadowed"}, found
        order, shadowed = found["ray-tree-order"], found["ray-tree-shadowed"]
        assert order["severity"] == "warning" and order["subject"] == str(shadow)
        assert "precedes the lazypath tree" in order["message"]
        assert shadowed["severity"] == "error" and shadowed["subject"] == APP
        assert digest in shadowed["message"] and str(shadow / f"{APP}.py") in shadowed["message"]
        assert g["report"]["summary"]["errors"] >= 1
    # The human view names them too.
    text = doctor_cli(runtime_env, tmp_path)
    assert text.returncode == 0, text.stderr[-3000:]
    assert "[ray-tree-shadowed]" in text.stdout and "[ray-tree-order]" in text.stdout
    assert "sys.path by source: driver > ray > other > lazypath" in text.stdout


def test_a_hook_on_one_node_is_reported_on_that_node_only(cluster, tmp_path):
    cache, hook = cluster
    store = pushed(tmp_path)
    shadow = shadow_dir(tmp_path)
    runtime_env = {
        "lazypath": {"store": store, "ref": "prod"},
        "env_vars": {"LP_ORDER_FRONT": str(shadow), "LAZYPATH_CACHE": cache},
    }
    proc = doctor_cli(runtime_env, tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    plain, hooked = by_hook(json.loads(proc.stdout), hook)
    assert ray_findings(plain["report"]) == []
    codes = sorted(f["code"] for f in ray_findings(hooked["report"]))
    assert codes == ["ray-tree-order", "ray-tree-shadowed"]


def test_driver_started_in_the_checkout_shadows_the_tree(cluster, tmp_path):
    """Ray puts the driver's cwd first on the workers: a driver run from the
    source checkout makes the workers import the checkout, not the digest."""
    cache, hook = cluster
    store = pushed(tmp_path)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / f"{APP}.py").write_text("WHERE = 'checkout'\n")
    runtime_env = {
        "lazypath": {"store": store, "ref": "prod"},
        "env_vars": {"LAZYPATH_CACHE": cache},
    }
    proc = doctor_cli(runtime_env, checkout, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for g in by_hook(json.loads(proc.stdout), hook):
        (f,) = ray_findings(g["report"])
        assert f["code"] == "ray-tree-shadowed" and f["subject"] == APP
        assert "(driver)" in f["message"] and str(checkout / f"{APP}.py") in f["message"]


def test_lazypath_field_without_the_plugin_is_reported_missing():
    report = {"entries": [{"index": 0, "entry": "/x"}], "modules": [], "findings": []}
    (f,) = dc.ray_tree_findings(report, {"tree": None, "real": ["/x"]}, {"lazypath": {}})
    assert f["code"] == "ray-tree-missing" and f["severity"] == "error"
    assert "is the plugin registered" in f["message"]


def test_a_tag_that_does_not_resolve_fails_before_connecting(tmp_path):
    store = tmp_path / "no-store"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "lazypath", "doctor", "--ray", "127.0.0.1:1", "--runtime-env",
         json.dumps({"lazypath": {"store": str(store), "ref": "prod"}})],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("lazypath: error: runtime_env: ") and str(store) in line, line
