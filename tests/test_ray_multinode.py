"""The `lazypath` runtime_env plugin on a multi-node cluster (ray.cluster_utils.Cluster).

Several raylets on one machine, each node with its own node cache: every node's
raylet gets its own LAZYPATH_CACHE through Cluster.add_node(env_vars=...), which
its runtime env agent and its workers inherit, plus RAY_RUNTIME_ENV_PLUGINS. The
store URL is "${LP_STORE_ROOT}/store": each node expands LP_STORE_ROOT from its
own environment, so one node can be given a store it cannot reach.

Nodes: a head with no CPUs (drivers only), node_a and node_b with one CPU each;
tasks are pinned to a node by a custom resource. Tests may add nodes and remove
them again.
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
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.timeout(420)

PKG = "lp_multi_app"
STORE_URL = "${LP_STORE_ROOT}/store"
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def write_app(root: Path, version: str) -> Path:
    (root / PKG).mkdir(parents=True, exist_ok=True)
    (root / PKG / "__init__.py").write_text(f'VERSION = "{version}"\n')
    return root


def tree_dir(cache: str | os.PathLike, digest: str) -> str:
    return os.path.join(os.path.realpath(cache), "trees", digest.split(":", 1)[1])


def where() -> dict:
    import os

    import ray

    mod = __import__(PKG)
    return {
        "version": mod.VERSION,
        "file": mod.__file__,
        "cache": os.environ.get("LAZYPATH_CACHE"),
        "digest": os.environ.get("LAZYPATH_RAY_DIGEST"),
        "node": ray.get_runtime_context().get_node_id(),
        "pid": os.getpid(),
    }


@ray.remote(num_cpus=1)
def where_task() -> dict:
    return where()


@ray.remote(num_cpus=1)
class Where:
    def where(self) -> dict:
        return where()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line or environment holds `marker` (our private temp dir)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
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
    return pids


def kill_leftovers(marker: str) -> None:
    """Ends the processes of a cluster whose start failed half way, by pid."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_mentioning(marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(2)


class Nodes:
    def __init__(self, root: Path, temp_dir: str):
        self.root = root
        self.store_root = root / "store-root"
        self.store = str(self.store_root / "store")
        self.caches: dict[str, str] = {}
        # Every process of this cluster names this dir (and unix socket paths are short).
        self.temp_dir = temp_dir
        self.cluster = Cluster()
        self.cluster.add_node(
            num_cpus=0,
            include_dashboard=False,
            dashboard_agent_listen_port=free_port(),  # not 52365, which another cluster may hold
            temp_dir=self.temp_dir,
            env_vars=self.env("head"),
        )
        self.add("node_a")
        self.add("node_b")

    def shutdown(self) -> None:
        try:
            self.cluster.shutdown()
        finally:
            kill_leftovers(self.temp_dir)
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def env(self, name: str, store_root: str | None = None) -> dict:
        cache = str(self.root / f"cache-{name}")
        self.caches[name] = cache
        return {
            "LP_TEST_MARKER": self.temp_dir,
            "LAZYPATH_CACHE": cache,
            "LP_STORE_ROOT": store_root or str(self.store_root),
            lpray.PLUGIN_ENV_VAR: lpray.plugin_env_value(),
        }

    def add(self, name: str, store_root: str | None = None):
        node = self.cluster.add_node(
            num_cpus=1,
            resources={name: 1},
            dashboard_agent_listen_port=free_port(),
            env_vars=self.env(name, store_root),
        )
        self.cluster.wait_for_nodes()
        return node

    def push(self, src: Path, version: str, tag: str | None = None) -> str:
        write_app(src, version)
        return lazypath.push(str(src), self.store, tag=tag, cache_dir=str(self.root / "drv"))


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    if ray.is_initialized():
        ray.shutdown()
    # On a loaded machine a raylet may miss Ray's fixed 30 s registration window:
    # start again, after ending whatever the failed attempt left running.
    for attempt in range(3):
        temp_dir = tempfile.mkdtemp(prefix="lpmn", dir="/tmp")
        try:
            n = Nodes(tmp_path_factory.mktemp("multinode"), temp_dir)
            break
        except Exception:
            kill_leftovers(temp_dir)
            # Keep the failed attempt's logs with the test's files, for the post-mortem.
            logs = Path(temp_dir) / "session_latest" / "logs"
            if logs.is_dir():
                keep = tmp_path_factory.mktemp(f"failed-start-{attempt}")
                shutil.copytree(logs, keep / "logs", symlinks=True, ignore_dangling_symlinks=True)
            shutil.rmtree(temp_dir, ignore_errors=True)
            if attempt == 2:
                raise
    try:
        yield n
    finally:
        if ray.is_initialized():
            ray.shutdown()
        n.shutdown()


@pytest.fixture
def job(nodes):
    """Connects this process as a job; `job(runtime_env)` may be called once."""

    def connect(runtime_env: dict | None = None) -> None:
        ray.init(address=nodes.cluster.address, runtime_env=runtime_env)

    yield connect
    ray.shutdown()


def on(name: str) -> dict:
    return {"resources": {name: 0.01}}


def assert_on_node_cache(r: dict, nodes: Nodes, name: str, digest: str) -> None:
    cache = nodes.caches[name]
    assert r["cache"] == cache and r["digest"] == digest
    assert os.path.realpath(r["file"]).startswith(tree_dir(cache, digest) + os.sep), r


def test_each_node_installs_into_its_own_cache(nodes, job, tmp_path):
    digest = nodes.push(tmp_path / "src", "one")
    job(lpray.runtime_env(STORE_URL, digest))
    ra = ray.get(where_task.options(**on("node_a")).remote(), timeout=240)
    rb = ray.get(where_task.options(**on("node_b")).remote(), timeout=240)
    assert ra["version"] == rb["version"] == "one"
    assert ra["node"] != rb["node"]
    assert_on_node_cache(ra, nodes, "node_a", digest)
    assert_on_node_cache(rb, nodes, "node_b", digest)


DRIVER = textwrap.dedent(
    """
    import json, os, sys, time
    import ray
    address, runtime_env, me, other, out = sys.argv[1:6]
    ray.init(address=address, runtime_env=json.loads(runtime_env))

    @ray.remote(num_cpus=1)
    def where():
        import os
        import {pkg}
        return {{"version": {pkg}.VERSION, "file": {pkg}.__file__,
                 "digest": os.environ["LAZYPATH_RAY_DIGEST"]}}

    def round():
        return ray.get([where.options(resources={{n: 0.01}}).remote()
                        for n in ("node_a", "node_b")], timeout=240)

    first = round()
    open(me, "w").close()
    deadline = time.time() + 240
    while not os.path.exists(other):  # both jobs are alive at once from here on
        assert time.time() < deadline, "the other job never got going"
        time.sleep(0.2)
    second = round()
    json.dump({{"first": first, "second": second}}, open(out, "w"))
    """
).format(pkg=PKG)


def test_two_jobs_with_different_digests_at_once(nodes, tmp_path):
    d1 = nodes.push(tmp_path / "src", "job-1")
    d2 = nodes.push(tmp_path / "src", "job-2")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    procs = []
    for i, d in ((1, d1), (2, d2)):
        env = json.dumps(lpray.runtime_env(STORE_URL, d))
        me, other = tmp_path / f"ready-{i}", tmp_path / f"ready-{3 - i}"
        args = [sys.executable, str(script), nodes.cluster.address, env, str(me), str(other)]
        args.append(str(tmp_path / f"out-{i}.json"))
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        for p in procs:
            out, _ = p.communicate(timeout=360)
            assert p.returncode == 0, out.decode(errors="replace")[-4000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, d, version in ((1, d1, "job-1"), (2, d2, "job-2")):
        res = json.loads((tmp_path / f"out-{i}.json").read_text())
        for r, name in zip(res["first"] + res["second"], ["node_a", "node_b"] * 2):
            assert r["version"] == version and r["digest"] == d
            assert os.path.realpath(r["file"]).startswith(tree_dir(nodes.caches[name], d))


def test_actor_moves_to_a_new_digest(nodes, job, tmp_path):
    d1 = nodes.push(tmp_path / "src", "actor-1")
    d2 = nodes.push(tmp_path / "src", "actor-2")
    job()
    a = Where.options(
        name="svc", runtime_env=lpray.runtime_env(STORE_URL, d1), **on("node_b")
    ).remote()
    r1 = ray.get(a.where.remote(), timeout=240)
    assert r1["version"] == "actor-1"
    assert_on_node_cache(r1, nodes, "node_b", d1)
    # Deploy the new code: the same actor name, a new digest; old callers are cut over.
    ray.kill(a)
    deadline = time.time() + 60
    while True:
        try:
            a = Where.options(
                name="svc", runtime_env=lpray.runtime_env(STORE_URL, d2), **on("node_b")
            ).remote()
            break
        except ValueError:  # the name is released asynchronously
            assert time.time() < deadline
            time.sleep(0.2)
    r2 = ray.get(ray.get_actor("svc").where.remote(), timeout=240)
    assert r2["version"] == "actor-2" and r2["pid"] != r1["pid"]
    assert_on_node_cache(r2, nodes, "node_b", d2)
    ray.kill(a)


def test_serve_deployment_moves_to_a_new_digest(nodes, job, tmp_path):
    serve = pytest.importorskip("ray.serve")
    d1 = nodes.push(tmp_path / "src", "serve-1")
    d2 = nodes.push(tmp_path / "src", "serve-2")
    job()

    @serve.deployment(num_replicas=2)
    class Version:
        def __call__(self) -> dict:
            return where()

    def deploy(digest: str):
        opts = {
            "num_cpus": 0,
            "resources": {"node_b": 0.01},
            "runtime_env": lpray.runtime_env(STORE_URL, digest),
        }
        app = Version.options(ray_actor_options=opts).bind()
        return serve.run(app, name="lp", route_prefix=None)

    try:
        serve.start(proxy_location="Disabled")
        h = deploy(d1)
        for _ in range(4):
            r = h.remote().result(timeout_s=120)
            assert r["version"] == "serve-1"
            assert_on_node_cache(r, nodes, "node_b", d1)
        h = deploy(d2)  # Serve replaces the replicas; calls now reach the new code
        for _ in range(4):
            r = h.remote().result(timeout_s=120)
            assert r["version"] == "serve-2"
            assert_on_node_cache(r, nodes, "node_b", d2)
    finally:
        serve.shutdown()


def test_node_added_after_the_job_started(nodes, job, tmp_path):
    digest = nodes.push(tmp_path / "src", "late")
    job(lpray.runtime_env(STORE_URL, digest))
    r = ray.get(where_task.options(**on("node_a")).remote(), timeout=240)
    assert_on_node_cache(r, nodes, "node_a", digest)
    assert not os.path.exists(tree_dir(nodes.root / "cache-late", digest))
    late = nodes.add("late")
    try:
        r = ray.get(where_task.options(**on("late")).remote(), timeout=240)
        assert r["version"] == "late"
        assert_on_node_cache(r, nodes, "late", digest)
    finally:
        nodes.cluster.remove_node(late)


def test_store_unreachable_from_one_node(nodes, job, tmp_path):
    digest = nodes.push(tmp_path / "src", "reach")
    missing_root = str(tmp_path / "not-mounted")  # this node's view of the store
    bad = nodes.add("cut_off", store_root=missing_root)
    try:
        job(lpray.runtime_env(STORE_URL, digest))
        t0 = time.monotonic()
        with pytest.raises(ray.exceptions.RuntimeEnvSetupError) as e:
            ray.get(where_task.options(**on("cut_off")).remote(), timeout=240)
        assert time.monotonic() - t0 < 180  # an error, not a hang
        msg = str(e.value)
        assert "lazypath: cannot install" in msg, msg
        assert digest in msg and missing_root in msg, msg
        assert nodes.caches["cut_off"] in msg, msg
        # The rest of the job goes on.
        r = ray.get(where_task.options(**on("node_a")).remote(), timeout=240)
        assert r["version"] == "reach"
        assert_on_node_cache(r, nodes, "node_a", digest)
    finally:
        nodes.cluster.remove_node(bad)
