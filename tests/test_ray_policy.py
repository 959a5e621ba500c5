"""The sys.path policy on a multi-node cluster (ray.cluster_utils.Cluster).

Nodes: a head with no CPUs, node_a and node_b with one CPU each, pinned by a
custom resource. Each node gets its own dependency set through its raylet's
environment (inherited by its agent and workers): node_a has a fake
distribution `lpfakedist 2.0` and a missing directory on PYTHONPATH, node_b
`lpfakedist 1.0` and a world-writable directory. Drivers run as
subprocesses (`python -c`) from a directory holding an older copy of the
app, which Ray puts ahead of the tree on every worker of their job (the
issue's case). Each outcome the workers produce is compared with what
`lazypath doctor --ray --policy` predicted for that node, line for line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402
from test_ray_multinode import free_port, kill_leftovers  # noqa: E402
from test_ray_plugin import head, ray_cli  # noqa: E402, F401  (head: a fixture)

pytestmark = pytest.mark.timeout(600)

PKG = "lp_pol_app"


def fake_dist(root: Path, version: str) -> str:
    d = root / f"lpfakedist-{version}"
    info = d / f"lpfakedist-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: lpfakedist\nVersion: {version}\n")
    return str(d)


class Nodes:
    def __init__(self, root: Path, temp_dir: str):
        self.root = root
        self.temp_dir = temp_dir
        self.store = str(root / "store")
        self.shared = root / "shared"
        self.shared.mkdir()
        os.chmod(self.shared, 0o777)
        self.fake = {"node_a": fake_dist(root, "2.0"), "node_b": fake_dist(root, "1.0")}
        self.extra = {
            "node_a": [self.fake["node_a"], str(root / "missing-on-a")],
            "node_b": [self.fake["node_b"], str(self.shared)],
        }
        self.cluster = Cluster()
        self.cluster.add_node(
            num_cpus=0,
            include_dashboard=False,
            dashboard_agent_listen_port=free_port(),
            temp_dir=temp_dir,
            env_vars=self.env("head"),
        )
        for name in ("node_a", "node_b"):
            self.cluster.add_node(
                num_cpus=1,
                resources={name: 1},
                dashboard_agent_listen_port=free_port(),
                env_vars=self.env(name),
            )
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address)
        self.ids = {}
        for n in ray.nodes():
            for name in ("node_a", "node_b"):
                if n["Alive"] and name in n["Resources"]:
                    self.ids[name] = n["NodeID"]
        ray.shutdown()

    def env(self, name: str) -> dict:
        out = {
            "LP_TEST_MARKER": self.temp_dir,
            "LAZYPATH_CACHE": str(self.root / f"cache-{name}"),
            lpray.PLUGIN_ENV_VAR: lpray.plugin_env_value(),
        }
        if name in self.extra:
            out["PYTHONPATH"] = os.pathsep.join(self.extra[name])
        return out

    def shutdown(self) -> None:
        try:
            self.cluster.shutdown()
        finally:
            kill_leftovers(self.temp_dir)
            shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    if ray.is_initialized():
        ray.shutdown()
    temp_dir = tempfile.mkdtemp(prefix="lppol", dir="/tmp")
    try:
        n = Nodes(tmp_path_factory.mktemp("policy"), temp_dir)
    except Exception:
        kill_leftovers(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    try:
        yield n
    finally:
        n.shutdown()


@pytest.fixture(scope="module")
def app(nodes):
    """(digest, old): the tree's app, and a driver directory with an older copy."""
    src = nodes.root / "src"
    (src / PKG).mkdir(parents=True)
    (src / PKG / "__init__.py").write_text('WHERE = "tree"\n')
    old = nodes.root / "old"
    (old / PKG).mkdir(parents=True)
    (old / PKG / "__init__.py").write_text('WHERE = "old"\n')
    return lazypath.push(str(src), nodes.store, cache_dir=str(nodes.root / "drv")), old


# A job: one task per node and one actor on node_a; each reports what it
# imported and what the policy did in its worker.
DRIVER = textwrap.dedent(
    """
    import json, sys
    import ray
    ray.init(address=sys.argv[1], logging_level="ERROR")
    env = json.loads(sys.argv[2])

    def probe():
        import os, sys
        import ray
        from lazypath import policy
        out = {"node": ray.get_runtime_context().get_node_id()}
        try:
            import {pkg}
            out["where"] = {pkg}.WHERE
        except ImportError as e:
            out["error"] = str(e)
        out["policy"] = policy.report()
        out["sys_path"] = list(sys.path)
        return out

    task = ray.remote(num_cpus=0.5, max_retries=0)(probe)

    @ray.remote(num_cpus=0.5)
    class Actor:
        def probe(self):
            return probe()

    results = {}
    for name in ("node_a", "node_b"):
        try:
            results[name] = ray.get(
                task.options(runtime_env=env, resources={name: 0.01}).remote(), timeout=300)
        except ray.exceptions.RuntimeEnvSetupError as e:
            results[name] = {"setup_error": str(e)}
    try:
        a = Actor.options(runtime_env=env, resources={"node_a": 0.01}).remote()
        results["actor"] = ray.get(a.probe.remote(), timeout=300)
    except ray.exceptions.RayError as e:
        results["actor"] = {"actor_error": type(e).__name__ + ": " + str(e)}
    if len(sys.argv) > 3 and sys.argv[3] == "serve":
        from ray import serve

        @serve.deployment
        class Replica:
            def __call__(self):
                return probe()

        opts = {"num_cpus": 0, "resources": {"node_b": 0.01}, "runtime_env": env}
        try:
            serve.start(proxy_location="Disabled")
            h = serve.run(Replica.options(ray_actor_options=opts).bind(), name="lp",
                          route_prefix=None)
            results["serve"] = h.remote().result(timeout_s=300)
        finally:
            serve.shutdown()
    print("RESULT " + json.dumps(results))
    """
).replace("{pkg}", PKG)


def run_job(nodes, cwd: Path, runtime_env: dict, *extra) -> dict:
    r = subprocess.run(
        [sys.executable, "-c", DRIVER, nodes.cluster.address, json.dumps(runtime_env), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=500,
    )
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(line[len("RESULT ") :])


def doctor(nodes, cwd: Path, runtime_env: dict, *extra) -> tuple[int, dict]:
    exe = os.path.join(os.path.dirname(sys.executable), "lazypath")
    r = subprocess.run(
        [
            exe,
            "doctor",
            "--ray",
            nodes.cluster.address,
            "--json",
            "--runtime-env",
            json.dumps(runtime_env),
            *extra,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert r.stdout.strip(), r.stderr
    out = json.loads(r.stdout)
    per_node = {}
    for g in out["groups"]:
        for n in g["nodes"]:
            per_node[n["node_id"]] = n["policy"]
    return r.returncode, {name: per_node[nid] for name, nid in nodes.ids.items()}


def env_with(digest: str, store: str, policy: dict, mode: str = "eager") -> dict:
    return {"lazypath": {"store": store, "ref": digest, "mode": mode, "policy": policy}}


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_tree_first_and_drops_as_the_doctor_predicts(nodes, app, mode):
    digest, old = app
    policy = {"shadowed": "tree-first", "drop": ["missing", "writable"]}
    env = env_with(digest, nodes.store, policy, mode)
    # Without the policy the older copy in the driver's directory wins (the issue).
    plain = run_job(nodes, old, {"lazypath": {"store": nodes.store, "ref": digest, "mode": mode}})
    assert plain["node_a"]["where"] == "old" and plain["node_a"]["policy"] is None
    got = run_job(nodes, old, env, *(["serve"] if mode == "eager" else []))
    status, predicted = doctor(nodes, old, env)
    assert status == 0  # nothing refused
    for name in ("node_a", "node_b"):
        r, p = got[name], predicted[name]
        assert r["where"] == "tree", r
        assert r["node"] == nodes.ids[name]
        # The worker did what the doctor predicted for its node: same removals,
        # same move, same resulting sys.path, the same lines.
        assert [x["entry"] for x in r["policy"]["removed"]] == [
            x["entry"] for x in p["plan"]["removed"]
        ]
        assert r["policy"]["moved"] == p["plan"]["moved"] and len(p["plan"]["moved"]) == 1
        assert p["plan"]["moved"][0]["ahead_of"] == str(old)
        assert r["sys_path"] == p["plan"]["sys_path"]
        assert sorted(r["policy"]["messages"]) == sorted(p["lines"])
        assert all(nodes.ids[name] in line for line in p["lines"])
    dropped = {n: [x["entry"] for x in predicted[n]["plan"]["removed"]] for n in predicted}
    assert str(nodes.root / "missing-on-a") in dropped["node_a"]
    assert str(nodes.shared) in dropped["node_b"]
    assert str(nodes.shared) not in dropped["node_a"]
    # The actor's worker enforces it too, and a Serve replica's.
    assert got["actor"]["where"] == "tree"
    assert got["actor"]["policy"]["moved"] == got["node_a"]["policy"]["moved"]
    if mode == "eager":
        assert got["serve"]["where"] == "tree"
        assert got["serve"]["node"] == nodes.ids["node_b"]
        assert got["serve"]["policy"]["moved"][0]["ahead_of"] == str(old)
        assert [x["entry"] for x in got["serve"]["policy"]["removed"]] == [str(nodes.shared)]


def test_shadowed_error_and_require_refuse_as_predicted(nodes, app):
    digest, old = app
    env = env_with(digest, nodes.store, {"shadowed": "error"})
    got = run_job(nodes, old, env)
    status, predicted = doctor(nodes, old, env)
    assert status == 1
    for name in ("node_a", "node_b"):
        (line,) = predicted[name]["refusals"]
        assert line.startswith(f"lazypath: policy: node {nodes.ids[name]} ")
        assert f"'{PKG}' resolves from {old / PKG / '__init__.py'}" in line
        # The task's import of the name fails with exactly that line.
        assert got[name]["error"] == line
        assert "where" not in got[name]
    assert got["actor"]["error"] == predicted["node_a"]["refusals"][0]

    # require: node_b has lpfakedist 1.0, node_a 2.0.
    env = env_with(digest, nodes.store, {"require": {"lpfakedist": ">=2", "python": ">=3.8"}})
    got = run_job(nodes, old, env)
    status, predicted = doctor(nodes, old, env)
    assert status == 1
    assert predicted["node_a"]["refusals"] == []
    (line,) = predicted["node_b"]["refusals"]
    assert line == (
        f"lazypath: policy: node {nodes.ids['node_b']} ({os.uname().nodename}): requires"
        f" lpfakedist>=2; found lpfakedist 1.0 at {nodes.fake['node_b']}"
    )
    assert got["node_a"]["where"] == "old"  # "warn" (the default) only warns
    assert line in got["node_b"]["setup_error"]
    assert (
        "RuntimeEnvSetupError" in got["node_b"]["setup_error"]
        or line in got["node_b"]["setup_error"]
    )
    # --fail-on still gates on the doctor's own findings; a bad policy is one line.
    status, _ = doctor(nodes, old, env_with(digest, nodes.store, {}), "--fail-on", "error")
    assert status == 1  # ray-tree-shadowed is an error finding
    exe = os.path.join(os.path.dirname(sys.executable), "lazypath")
    r = subprocess.run(
        [exe, "doctor", "--ray", nodes.cluster.address, "--policy", '{"drop": ["x"]}'],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "unknown rule(s) ['x']" in r.stderr


def test_ray_job_submit_driver_enforces_the_policy(head, tmp_path):  # noqa: F811
    """A job's driver (started by the job server in the job's runtime_env) boots
    the policy too: the working_dir holds an older copy, which `python -c`'s
    cwd entry puts ahead of the tree."""
    src = tmp_path / "src"
    (src / PKG).mkdir(parents=True)
    (src / PKG / "__init__.py").write_text('WHERE = "tree"\n')
    old = tmp_path / "old"
    (old / PKG).mkdir(parents=True)
    (old / PKG / "__init__.py").write_text('WHERE = "old"\n')
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store, cache_dir=str(tmp_path / "drv"))
    entry = (
        "import json, lp_pol_app\n"
        "from lazypath import policy\n"
        "print('WHERE', lp_pol_app.WHERE)\n"
        "print('REPORT', json.dumps(policy.report()))\n"
    )

    def submit(policy: dict):
        env = {
            "lazypath": {"store": store, "ref": digest, "policy": policy},
            "working_dir": str(old),
            "env_vars": {"LAZYPATH_CACHE": str(tmp_path / "job-cache")},
        }
        return ray_cli(
            "job", "submit", "--address", head, "--runtime-env-json", json.dumps(env),
            "--", sys.executable, "-c", entry,
        )  # fmt: skip

    res = submit({"shadowed": "tree-first"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WHERE tree" in res.stdout, res.stdout
    report = json.loads(next(ln for ln in res.stdout.splitlines() if ln.startswith("REPORT "))[7:])
    assert report["moved"][0]["ahead_of"] == ""
    res = submit({"require": {"lpfakedist": ">=1"}})
    assert res.returncode != 0
    assert "WHERE" not in res.stdout
    assert "requires lpfakedist>=1; lpfakedist is not installed" in res.stdout + res.stderr
