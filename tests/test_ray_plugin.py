"""The `lazypath` runtime_env plugin on a real local Ray cluster.

Part 1 needs no cluster: the field's validation, the URIs given to Ray, and the
driver-side pinning (tag -> digest, dir -> push -> digest).

Part 2 starts one local cluster for the module with the plugin registered
through RAY_RUNTIME_ENV_PLUGINS; its node cache comes from LAZYPATH_CACHE in
the job's runtime_env env_vars (which the plugin honours). Tasks, actors and a
Serve deployment import a package that exists only in the store, without
calling lazypath themselves; coexistence with working_dir, py_modules and
env_vars is checked by the sys.path order the workers see.

Part 3 submits a job with `ray job submit --runtime-env-json` to a cluster
started by `ray start --head --block` on 127.0.0.1; the test stops it by its
process group (never `ray stop`, which would stop every cluster on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
from lazypath.ray_plugin import LazypathPlugin  # noqa: E402

pytestmark = pytest.mark.timeout(300)

PKG = "lp_plugin_app"  # exists only in the store
SHADOW = "lp_plugin_shadow"  # in the tree, in working_dir and in py_modules
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def write_app(root: Path, version: str) -> Path:
    (root / PKG).mkdir(parents=True, exist_ok=True)
    (root / PKG / "__init__.py").write_text(f'VERSION = "{version}"\n')
    (root / f"{SHADOW}.py").write_text('WHERE = "lazypath"\n')
    return root


def tree_dir(cache: str | os.PathLike, digest: str) -> str:
    return os.path.join(os.path.realpath(cache), "trees", digest.split(":", 1)[1])


# ---------------------------------------------------------------- part 1: no cluster


D = "sha256:" + "ab" * 32


def test_validate_accepts_a_pinned_eager_field():
    LazypathPlugin.validate({"lazypath": {"store": "/s", "ref": D}})
    LazypathPlugin.validate({"lazypath": {"store": "/s", "ref": D, "mode": "eager"}})
    LazypathPlugin.validate({"lazypath": {"store": "/s", "ref": D, "mode": "lazy"}})
    LazypathPlugin.validate(
        {"lazypath": {"store": "/s", "ref": D, "mode": "lazy", "on_demand": ["models"]}}
    )
    LazypathPlugin.validate({"env_vars": {}})  # no field: nothing to do


@pytest.mark.parametrize(
    "field, needle",
    [
        ({"store": "/s", "ref": D, "mode": "fast"}, "mode 'fast'"),
        ({"store": "/s", "ref": "prod"}, "ref 'prod' is not a digest"),
        ({"store": "/s", "ref": "sha256:AB"}, "is not a digest"),
        ({"store": "/s", "dir": "."}, "'dir' '.' reached a node unpushed"),
        ({"store": "/s"}, "exactly one of 'ref' and 'dir'"),
        ({"ref": D}, "needs 'store'"),
        ({"store": "/s", "ref": D, "cache": "/x"}, "unknown key(s) ['cache']"),
        ({"store": "/s", "ref": D, "on_demand": ["models"]}, "'on_demand' applies to"),
        ({"store": "/s", "ref": D, "mode": "lazy", "on_demand": "models"}, "a list of directory"),
        ("sha256:x", "must be a dict"),
    ],
)
def test_validate_rejects_with_a_clear_message(field, needle):
    with pytest.raises(ValueError) as e:
        LazypathPlugin.validate({"lazypath": field})
    assert needle in str(e.value)
    assert str(e.value).startswith("lazypath: ")


def test_tags_and_dirs_point_at_the_driver_side_fix():
    with pytest.raises(ValueError) as e:
        LazypathPlugin.validate({"lazypath": {"store": "/s", "ref": "prod"}})
    assert "RAY_RUNTIME_ENV_HOOK=lazypath.ray.runtime_env_hook" in str(e.value)
    assert "python -m lazypath.ray" in str(e.value)


def test_uris_are_digests():
    plugin = LazypathPlugin()
    assert plugin.get_uris({"lazypath": {"store": "/s", "ref": D}}) == [f"lazypath://{D}"]
    assert plugin.get_uris({"lazypath": {"store": "/s", "ref": "prod"}}) == []
    assert plugin.get_uris({}) == []
    assert plugin.delete_uri("lazypath://" + D, lpray_logger()) == 0  # never installed


def lpray_logger():
    import logging

    return logging.getLogger("test")


def test_plugin_registration_value():
    cfg = json.loads(lpray.plugin_env_value())
    assert cfg == [{"class": "lazypath.ray_plugin.LazypathPlugin", "priority": 20}]


def test_runtime_env_helper_resolves_a_tag_once(tmp_path, store):
    src = write_app(tmp_path / "src", "1")
    d1 = lazypath.push(str(src), str(store), tag="prod")
    env = lpray.runtime_env(str(store), "prod", base={"env_vars": {"A": "1"}})
    assert env == {
        "env_vars": {"A": "1", lpray.RAY_SETUP_HOOK_ENV_VAR: lpray.SETUP_HOOK},
        "lazypath": {"store": str(store), "ref": d1, "mode": "eager"},
        # The registration check (tests/test_ray_unregistered.py).
        "worker_process_setup_hook": lpray.SETUP_HOOK,
    }
    LazypathPlugin.validate(env)  # what the nodes accept
    write_app(src, "2")
    d2 = lazypath.push(str(src), str(store), tag="prod")
    assert d2 != d1
    assert env["lazypath"]["ref"] == d1  # pinned: the tag moving later changes nothing
    assert lpray.runtime_env(str(store), d1)["lazypath"]["ref"] == d1


def test_dir_is_pushed_on_the_driver(tmp_path, store, monkeypatch):
    src = write_app(tmp_path / "src", "1")
    (src / "junk.log").write_text("x")
    monkeypatch.chdir(src)
    out = lpray.runtime_env_hook(
        {"lazypath": {"store": str(store), "dir": ".", "tag": "dev", "exclude": ["*.log"]}}
    )
    digest = out["lazypath"]["ref"]
    assert lpray.is_digest(digest) and set(out["lazypath"]) == {"store", "ref", "mode"}
    assert lpray.resolve_ref(str(store), "dev") == digest
    entries = lazypath.show(store, digest).entries
    assert "junk.log" not in repr(entries)
    assert lpray.runtime_env_hook(None) is None
    assert lpray.runtime_env_hook({"pip": ["x"]}) == {"pip": ["x"]}


def test_lazy_mode_passes_through_the_driver(store):
    env = lpray.runtime_env(str(store), D, mode="lazy")
    assert env["lazypath"] == {"store": str(store), "ref": D, "mode": "lazy"}


def test_json_rewriter_for_ray_job_submit(tmp_path, store):
    src = write_app(tmp_path / "src", "1")
    digest = lazypath.push(str(src), str(store), tag="prod")
    env = {"lazypath": {"store": str(store), "ref": "prod"}, "env_vars": {"X": "y"}}
    proc = subprocess.run(
        [sys.executable, "-m", "lazypath.ray", json.dumps(env)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["lazypath"]["ref"] == digest and out["env_vars"] == {
        "X": "y",
        lpray.RAY_SETUP_HOOK_ENV_VAR: lpray.SETUP_HOOK,
    }
    bad = subprocess.run(
        [sys.executable, "-m", "lazypath.ray", '{"lazypath": {"store": "/nope", "ref": "t"}}'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("lazypath: error: ") and len(bad.stderr.splitlines()) == 1


def test_store_variables_are_expanded_from_the_node_environment():
    assert lpray.expand_store("${R}/s", {"R": "/mnt"}) == "/mnt/s"
    with pytest.raises(ValueError, match=r"uses \$\{R\}, which is not set on this node"):
        lpray.expand_store("${R}/s", {})


def test_plugin_lifecycle_agrees_with_the_node_cache(tmp_path, store, monkeypatch):
    """create() leases the tree, modify_context() points PYTHONPATH at it, delete_uri()
    evicts it and its blobs - the agent's view, without Ray."""
    import asyncio
    import logging

    from ray._private.runtime_env.context import RuntimeEnvContext

    src = write_app(tmp_path / "src", "1")
    digest = lazypath.push(str(src), str(store))
    cache = str(tmp_path / "agent-cache")
    env = {"lazypath": {"store": str(store), "ref": digest}, "env_vars": {"LAZYPATH_CACHE": cache}}
    plugin, log = LazypathPlugin(), logging.getLogger("test")
    (uri,) = plugin.get_uris(env)
    ctx = RuntimeEnvContext(env_vars=dict(env["env_vars"]))
    size = asyncio.run(plugin.create(uri, env, ctx, log))
    assert size > 0
    plugin.modify_context([uri], env, ctx, log)
    tree = tree_dir(cache, digest)
    first = ctx.env_vars["PYTHONPATH"].split(os.pathsep)[0]
    assert os.path.realpath(first) == tree
    assert ctx.env_vars["LAZYPATH_RAY_DIGEST"] == digest
    lazypath.cache_clear(cache)  # Ray holds it: gc must not take it
    assert os.path.isdir(tree)
    assert [t["in_use"] for t in lazypath.cache_usage(cache)["trees"]] == [True]

    assert plugin.delete_uri(uri, log) == size  # what Ray added, Ray takes off
    assert not os.path.exists(tree)  # released and evicted at once, as py_modules does
    usage = lazypath.cache_usage(cache)
    assert usage["trees"] == [] and usage["blobs"] == 0


# ------------------------------------------------------- part 2: a local cluster


def report() -> dict:
    """Task/actor body: import the shipped package; where did everything come from?"""
    import importlib
    import os
    import sys

    app = importlib.import_module(PKG)
    shadow = importlib.import_module(SHADOW)
    return {
        "version": app.VERSION,
        "file": app.__file__,
        "shadow": shadow.WHERE,
        "sys_path": list(sys.path),
        "digest": os.environ.get("LAZYPATH_RAY_DIGEST"),
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }


@ray.remote(num_cpus=1)
def report_task() -> dict:
    return report()


@ray.remote(num_cpus=1)
class ReportActor:
    def report(self) -> dict:
        return report()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("plugin-node-cache"))
    if ray.is_initialized():
        ray.shutdown()
    mp = pytest.MonkeyPatch()
    mp.setenv(lpray.PLUGIN_ENV_VAR, lpray.plugin_env_value())  # inherited by the raylet
    try:
        ray.init(
            address="local",  # a new cluster, never one another `ray start` left running
            num_cpus=2,
            include_dashboard=False,
            runtime_env={"env_vars": {"LAZYPATH_CACHE": cache}},
        )
        yield cache
    finally:
        ray.shutdown()
        mp.undo()


@pytest.fixture
def app(tmp_path, cluster):
    """(store, src dir, push(version) -> digest)."""
    store = str(tmp_path / "store")
    src = tmp_path / "src"

    def push(version: str) -> str:
        write_app(src, version)
        return lazypath.push(str(src), store, tag="prod", cache_dir=str(tmp_path / "drv"))

    return store, src, push


def assert_in_tree(r: dict, cache: str, digest: str) -> None:
    assert r["digest"] == digest
    assert os.path.realpath(r["file"]).startswith(tree_dir(cache, digest) + os.sep), r["file"]


def test_tasks_import_from_the_tree_without_calling_lazypath(cluster, app):
    store, _src, push = app
    d1 = push("1.0")
    env = lpray.runtime_env(store, "prod")
    assert env["lazypath"]["ref"] == d1
    results = ray.get([report_task.options(runtime_env=env).remote() for _ in range(3)])
    for r in results:
        assert r["version"] == "1.0"
        assert_in_tree(r, cluster, d1)
        assert r["sys_path"].index(tree_dir(cluster, d1)) >= 0

    # Ray holds the digest on this node, so the agent holds the tree's lease: the
    # cache's gc cannot evict it under the workers, even at a zero budget.
    trees = {t["digest"]: t for t in lazypath.cache_usage(cluster)["trees"]}
    assert trees[d1]["in_use"]
    lazypath.cache_clear(cluster)
    assert os.path.isdir(tree_dir(cluster, d1))

    d2 = push("2.0")  # the next digest: new workers, new code
    env2 = lpray.runtime_env(store, d2)
    r2 = ray.get(report_task.options(runtime_env=env2).remote())
    assert r2["version"] == "2.0"
    assert_in_tree(r2, cluster, d2)
    assert ray.get(report_task.options(runtime_env=env).remote())["version"] == "1.0"


def test_actor_moves_to_a_new_digest(cluster, app):
    store, _src, push = app
    d1, d2 = push("a1"), push("a2")
    a1 = ReportActor.options(runtime_env=lpray.runtime_env(store, d1)).remote()
    r1 = ray.get(a1.report.remote())
    assert r1["version"] == "a1"
    assert_in_tree(r1, cluster, d1)
    ray.kill(a1)
    a2 = ReportActor.options(runtime_env=lpray.runtime_env(store, d2)).remote()
    try:
        r2 = ray.get(a2.report.remote())
        assert r2["version"] == "a2"
        assert_in_tree(r2, cluster, d2)
        assert r2["pid"] != r1["pid"]
    finally:
        ray.kill(a2)


HOOK_DRIVER = textwrap.dedent(
    """
    import json, os, sys, ray
    address, store, src = sys.argv[1:4]
    ray.init(address=address, runtime_env={{"lazypath": {{"store": store, "dir": src}}}})
    @ray.remote(num_cpus=1)
    def v():
        import os, {pkg}
        return {pkg}.VERSION, os.environ["LAZYPATH_RAY_DIGEST"]
    job_env = ray.get_runtime_context().runtime_env
    print(json.dumps({{"job": job_env.get("lazypath"), "task": ray.get(v.remote(), timeout=200)}}))
    """
).format(pkg=PKG)


def test_driver_hook_pushes_dir_at_ray_init(cluster, app, tmp_path):
    store, src, push = app
    push("hook-1")  # writes the app; the driver pushes it itself
    address = ray.get_runtime_context().gcs_address
    env = {**os.environ, lpray.HOOK_ENV_VAR: lpray.HOOK}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-c", HOOK_DRIVER, address, store, str(src)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    digest = lazypath.push(str(src), store)  # the same content: the digest the hook pushed
    assert out["job"] == {"store": store, "ref": digest, "mode": "eager"}
    assert out["task"] == ["hook-1", digest]


def test_tags_fail_setup_with_the_plugins_message(cluster, app):
    store, _src, push = app
    push("x")
    for field, needle in [
        ({"store": store, "ref": "prod"}, "ref 'prod' is not a digest"),
    ]:
        with pytest.raises(ray.exceptions.RuntimeEnvSetupError) as e:
            ray.get(report_task.options(runtime_env={"lazypath": field}).remote(), timeout=120)
        assert needle in str(e.value)


def test_missing_digest_names_store_and_digest(cluster, app):
    store, _src, push = app
    push("x")
    missing = "sha256:" + "0" * 64
    with pytest.raises(ray.exceptions.RuntimeEnvSetupError) as e:
        env = {"lazypath": {"store": store, "ref": missing}}
        ray.get(report_task.options(runtime_env=env).remote(), timeout=120)
    msg = str(e.value)
    assert missing in msg and store in msg and "lazypath: cannot install" in msg


def test_coexistence_and_sys_path_order(cluster, app, tmp_path):
    """lazypath tree > py_modules > working_dir > env_vars PYTHONPATH, on the workers."""
    store, _src, push = app
    digest = push("co")
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / f"{SHADOW}.py").write_text('WHERE = "working_dir"\n')
    (wd / "lp_wd_only.py").write_text("X = 1\n")
    mod = tmp_path / "pymods" / "lp_pymod_only"
    mod.mkdir(parents=True)
    (mod / "__init__.py").write_text("X = 2\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / f"{SHADOW}.py").write_text('WHERE = "env_vars"\n')
    env = lpray.runtime_env(
        store,
        digest,
        base={
            # Task-level runtime_envs take URIs, not local paths: local:// is in place.
            "working_dir": f"local://{wd}",
            "py_modules": [f"local://{mod.parent}"],
            "env_vars": {"PYTHONPATH": str(extra), "LAZYPATH_CACHE": cluster},
        },
    )

    @ray.remote(num_cpus=1, runtime_env=env)
    def probe():
        import lp_pymod_only
        import lp_wd_only

        r = report()
        r["pymod"] = lp_pymod_only.__file__
        r["wd"] = lp_wd_only.__file__
        return r

    r = ray.get(probe.remote(), timeout=240)
    assert r["version"] == "co" and r["shadow"] == "lazypath"
    assert_in_tree(r, cluster, digest)
    path = [os.path.realpath(p) for p in r["sys_path"]]
    tree = tree_dir(cluster, digest)
    pymod_dir = os.path.realpath(os.path.dirname(os.path.dirname(r["pymod"])))
    wd_dir = os.path.realpath(os.path.dirname(r["wd"]))
    assert os.path.realpath(r["cwd"]) == wd_dir  # working_dir is also the cwd
    order = [path.index(p) for p in (tree, pymod_dir, wd_dir, str(extra.resolve()))]
    assert order == sorted(order), (order, r["sys_path"])


def test_serve_deployment_moves_to_a_new_digest(cluster, app):
    serve = pytest.importorskip("ray.serve")
    store, _src, push = app
    d1, d2 = push("s1"), push("s2")

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
    class Version:
        def __call__(self) -> dict:
            return report()

    try:
        serve.start(http_options={"host": "127.0.0.1", "port": free_port()})
        opts = {"num_cpus": 0, "runtime_env": lpray.runtime_env(store, d1)}
        h = serve.run(Version.options(ray_actor_options=opts).bind(), name="lp", route_prefix=None)
        r1 = h.remote().result(timeout_s=120)
        assert r1["version"] == "s1"
        assert_in_tree(r1, cluster, d1)

        opts = {"num_cpus": 0, "runtime_env": lpray.runtime_env(store, d2)}
        h = serve.run(Version.options(ray_actor_options=opts).bind(), name="lp", route_prefix=None)
        r2 = h.remote().result(timeout_s=120)
        assert r2["version"] == "s2"
        assert_in_tree(r2, cluster, d2)
    finally:
        serve.shutdown()


# ------------------------------------------------- part 3: ray job submit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_cluster(proc: subprocess.Popen, temp_dir: str) -> None:
    """Stops the `ray start --block` we started: its process group, then any of its
    processes that left the group (found by our private --temp-dir)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.time() + 20
    while True:
        left = ours(temp_dir)
        if not left:
            return
        sig = signal.SIGKILL if time.time() > deadline else signal.SIGTERM
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.5)


def ours(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if marker.encode() in cmd or marker.encode() in environ:
            pids.append(int(entry))
    return [p for p in pids if p != os.getpid()]


@pytest.fixture
def head(tmp_path):
    """A `ray start --head` cluster on 127.0.0.1 with the plugin; yields the job address."""
    temp_dir = tempfile.mkdtemp(prefix="lprj", dir="/tmp")  # unix socket paths are short
    dash = free_port()
    env = {
        **os.environ,
        lpray.PLUGIN_ENV_VAR: lpray.plugin_env_value(),
        "LP_TEST_MARKER": temp_dir,
        "RAY_AUTH_MODE": "disabled",  # a throwaway loopback cluster
    }
    env.pop("RAY_ADDRESS", None)
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "ray"),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={free_port()}",
        "--num-cpus=1",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]
    log = open(tmp_path / "ray-start.log", "wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    address = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "ray-start.log").read_text()
            try:
                import urllib.request

                with urllib.request.urlopen(address + "/api/version", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "the job server did not come up"
            time.sleep(1)
        yield address
    finally:
        kill_cluster(proc, temp_dir)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def ray_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "disabled"
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ray"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_ray_job_submit_with_runtime_env_json(head, tmp_path):
    store = str(tmp_path / "store")
    cache = str(tmp_path / "job-cache")
    src = write_app(tmp_path / "src", "job-1")
    digest = lazypath.push(str(src), store, tag="prod")
    # Tag -> digest once, on the submitting machine: the JSON the job carries is pinned.
    pinned = subprocess.run(
        [
            sys.executable,
            "-m",
            "lazypath.ray",
            json.dumps(
                {
                    "lazypath": {"store": store, "ref": "prod"},
                    "env_vars": {"LAZYPATH_CACHE": cache},
                }
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert json.loads(pinned)["lazypath"]["ref"] == digest
    entry = textwrap.dedent(
        f"""
        import os, ray, {PKG}
        ray.init()
        @ray.remote(num_cpus=0)
        def v():
            import {PKG}, os
            return {PKG}.VERSION, {PKG}.__file__, os.environ["LAZYPATH_RAY_DIGEST"]
        print("DRIVER", {PKG}.VERSION, os.environ["LAZYPATH_RAY_DIGEST"])
        print("WORKER", *ray.get(v.remote()))
        """
    )
    res = ray_cli(
        "job", "submit", "--address", head, "--runtime-env-json", pinned,
        "--", sys.executable, "-c", entry,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"DRIVER job-1 {digest}" in res.stdout, res.stdout
    worker = next(line for line in res.stdout.splitlines() if line.startswith("WORKER"))
    _, version, file, seen = worker.split()
    assert version == "job-1" and seen == digest
    assert os.path.realpath(file).startswith(tree_dir(cache, digest) + os.sep)

    # A job whose runtime_env was not pinned fails with the plugin's message, promptly.
    bad = json.dumps({"lazypath": {"store": store, "ref": "prod"}})
    res = ray_cli(
        "job", "submit", "--address", head, "--runtime-env-json", bad,
        "--", sys.executable, "-c", "print('never')",
    )  # fmt: skip
    assert res.returncode != 0
    assert "never" not in res.stdout
    assert "is not a digest" in res.stdout + res.stderr
