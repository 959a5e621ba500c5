"""A cluster whose nodes do NOT register the plugin: every lazypath path into Ray fails
loudly, with the one line that says so and how to register it.

Ray ignores a runtime_env field no plugin claims, so without the check a task
would start without the tree and fail later with a bare ModuleNotFoundError.
lazypath.ray.guard() adds Ray's worker_process_setup_hook
(lazypath.ray.check_plugin), which fails the worker before user code runs;
`lazypath submit`'s entrypoint checks again. One `ray start --head` cluster
without RAY_RUNTIME_ENV_PLUGINS for the module; the registered case is
tests/test_ray_submit.py, tests/test_ray_plugin.py and the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
from ray_head import head, ray_env  # noqa: E402

pytestmark = pytest.mark.timeout(400)

BIN = os.path.dirname(sys.executable)
PKG = "lp_unreg_app"  # exists only in the store
LINE = "lazypath: the runtime_env plugin is not registered on"
HOW = lpray.PLUGIN_ENV_VAR + "='" + lpray.plugin_env_value() + "'"


def write_app(root: Path) -> Path:
    (root / PKG).mkdir(parents=True, exist_ok=True)
    (root / PKG / "__init__.py").write_text('VALUE = "shipped"\n')
    (root / "main.py").write_text(f"import {PKG}\nprint('RAN', {PKG}.VALUE)\n")
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("unreg")
    path = BIN + os.pathsep + os.environ.get("PATH", "")
    env = {"LAZYPATH_CACHE": str(base / "node-cache"), "PATH": path}
    with head(base, plugin=False, env=env) as h:
        yield h


def run_driver(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=ray_env(**env),
    )


def assert_loud(text: str) -> None:
    assert LINE in text, text[-3000:]
    assert HOW in text, text[-3000:]


def test_task_with_runtime_env_helper_fails_with_the_line(cluster, tmp_path):
    src = write_app(tmp_path / "src")
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store)
    res = run_driver(
        f"""
        import ray, lazypath.ray as lpray
        ray.init(address={cluster.gcs!r})
        env = lpray.runtime_env({store!r}, {digest!r})

        @ray.remote(num_cpus=0, max_retries=0)
        def f():
            import {PKG}
            return {PKG}.VALUE

        try:
            print("GOT", ray.get(f.options(runtime_env=env).remote(), timeout=200))
        except Exception as e:
            print("ERROR", type(e).__name__, e)
        """,
        tmp_path,
    )
    assert "GOT" not in res.stdout, res.stdout
    assert "ERROR" in res.stdout, res.stdout + res.stderr
    assert_loud(res.stdout.split("ERROR", 1)[1])  # in the task's error itself


def test_ray_init_hook_fails_with_the_line(cluster, tmp_path):
    src = write_app(tmp_path / "src")
    store = str(tmp_path / "store")
    res = run_driver(
        f"""
        import ray
        ray.init(address={cluster.gcs!r},
                 runtime_env={{"lazypath": {{"store": {store!r}, "dir": {str(src)!r}}}}})

        @ray.remote(num_cpus=0, max_retries=0)
        def f():
            import {PKG}
            return {PKG}.VALUE

        try:
            print("GOT", ray.get(f.remote(), timeout=200))
        except Exception as e:
            print("ERROR", type(e).__name__, e)
        """,
        tmp_path,  # not src: a driver's own directory is on its workers' sys.path
        RAY_RUNTIME_ENV_HOOK=lpray.HOOK,
    )
    assert "GOT" not in res.stdout, res.stdout
    assert "ERROR" in res.stdout, res.stdout + res.stderr
    assert_loud(res.stdout.split("ERROR", 1)[1])


def test_submit_fails_with_the_line(cluster, tmp_path):
    src = write_app(tmp_path / "src")
    res = subprocess.run(
        [os.path.join(BIN, "lazypath"), "submit", "--address", cluster.address,
         str(tmp_path / "store"), "--", "python", "main.py"],
        cwd=src, capture_output=True, text=True, timeout=300,
        env=ray_env(PATH=BIN + os.pathsep + os.environ.get("PATH", "")),
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "RAN" not in res.stdout
    assert_loud(res.stdout + res.stderr)
    (last,) = [ln for ln in res.stderr.splitlines() if ln.startswith("lazypath: error: job ")]
    assert " FAILED" in last and LINE in last, last  # the status line carries it too


# ------------------------------------------------- the check itself, no cluster

calls: list = []


def user_hook() -> None:
    calls.append("user")


def test_guard_adds_the_check_and_chains_a_users_hook(monkeypatch):
    d = "sha256:" + "ab" * 32
    env = lpray.guard({"lazypath": {"store": "/s", "ref": d}})
    assert env["worker_process_setup_hook"] == lpray.SETUP_HOOK
    assert env["env_vars"] == {lpray.RAY_SETUP_HOOK_ENV_VAR: lpray.SETUP_HOOK}
    assert lpray.guard({"pip": ["x"]}) == {"pip": ["x"]}  # no field: nothing added

    mine = f"{__name__}.user_hook"
    env = lpray.guard({"lazypath": {"store": "/s", "ref": d}, "worker_process_setup_hook": mine})
    assert env["worker_process_setup_hook"] == lpray.SETUP_HOOK
    assert env["env_vars"][lpray.NEXT_HOOK_ENV_VAR] == mine
    monkeypatch.setenv(lpray.DIGEST_ENV_VAR, d)  # as the plugin sets it
    monkeypatch.setenv(lpray.NEXT_HOOK_ENV_VAR, mine)
    calls.clear()
    lpray.check_plugin()
    assert calls == ["user"]

    env = lpray.guard(
        {"lazypath": {"store": "/s", "ref": d}, "worker_process_setup_hook": user_hook}
    )
    calls.clear()
    monkeypatch.delenv(lpray.NEXT_HOOK_ENV_VAR)
    env["worker_process_setup_hook"]()  # ray.init exports this callable
    assert calls == ["user"]
    with pytest.raises(ValueError, match="worker_process_setup_hook must be"):
        lpray.guard({"lazypath": {"store": "/s", "ref": d}, "worker_process_setup_hook": 3})


def test_check_without_the_plugin_explains_the_failed_import(monkeypatch, capsys):
    monkeypatch.delenv(lpray.DIGEST_ENV_VAR, raising=False)
    before = list(sys.meta_path)
    try:
        lpray.check_plugin()
        assert LINE in capsys.readouterr().err
        with pytest.raises(ModuleNotFoundError) as e:
            import lp_unreg_nowhere  # noqa: F401
        assert LINE in str(e.value) and HOW in str(e.value)
        import json  # noqa: F401  found elsewhere: unaffected
    finally:
        sys.meta_path[:] = before
