"""runtime_env={"lazypath": {..., "mode": "lazy"}} on a real local Ray cluster.

Tasks and actors import a package from a lazily activated tree without
calling lazypath themselves: the plugin puts lazypath/_site on the workers'
PYTHONPATH, whose sitecustomize installs the lazy import hook before any
user code runs. Afterwards the node cache holds only the directories that
were imported (untouched packages stay placeholders), `__file__` points
into the cache, and the same code in eager mode gives the same result. A
job submitted with `ray job submit --runtime-env-json` gets the hook in its
driver and its workers.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
import test_ray_plugin  # noqa: E402
from test_ray_plugin import free_port, head  # noqa: E402,F401  (a `ray start --head` cluster)

# ray.init with the plugin and a node cache of its own; yields the cache.
cluster = test_ray_plugin.cluster

pytestmark = pytest.mark.timeout(300)

PKG = "lp_lazy_app"  # exists only in the store
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

FILES = {
    f"{PKG}/__init__.py": f"from {PKG} import core\nANSWER = core.compute()\n",
    f"{PKG}/core/__init__.py": "import os\n"
    "HERE = os.path.dirname(__file__)\n"
    "def compute():\n"
    "    with open(os.path.join(HERE, 'data', 'factor.txt')) as f:\n"
    "        return 6 * int(f.read())\n",
    f"{PKG}/core/data/factor.txt": "7\n",
    f"{PKG}/untouched/__init__.py": "X = 1\n",
    f"{PKG}/untouched/heavy.py": "Y = 2\n" * 1000,
    "lp_lazy_other/__init__.py": "Z = 3\n",
    "lp_lazy_other/deep/mod.py": "W = 4\n",
}


def probe() -> dict:
    """Task/actor body: import the shipped package; where did it come from?"""
    import importlib
    import os
    import sys

    app = importlib.import_module(PKG)
    return {
        "answer": app.ANSWER,
        "file": app.__file__,
        "core_file": app.core.__file__,
        "hooks": [type(f).__name__ for f in sys.meta_path],
        "digest": os.environ.get("LAZYPATH_RAY_DIGEST"),
        "boot_names": os.environ.get("LAZYPATH_BOOT_NAMES"),
        "pid": os.getpid(),
    }


@ray.remote(num_cpus=1)
def probe_task() -> dict:
    return probe()


@ray.remote(num_cpus=1)
class ProbeActor:
    def probe(self) -> dict:
        return probe()


@pytest.fixture
def pushed(tmp_path, cluster):
    src = tmp_path / "src"
    for rel, content in FILES.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store, tag="prod", cache_dir=str(tmp_path / "drv"))
    return store, digest


def mode_of(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def test_task_and_actor_import_lazily_only_what_they_use(cluster, pushed):
    store, digest = pushed
    env = lpray.runtime_env(store, "prod", mode="lazy")
    assert env["lazypath"] == {"store": store, "ref": digest, "mode": "lazy"}
    r_task = ray.get(probe_task.options(runtime_env=env).remote(), timeout=240)
    actor = ProbeActor.options(runtime_env=env).remote()
    r_actor = ray.get(actor.probe.remote(), timeout=240)
    ray.kill(actor)

    root = Path(os.path.realpath(cluster)) / "lazy" / digest.split(":", 1)[1]
    for r in (r_task, r_actor):
        assert r["answer"] == 42
        assert r["digest"] == digest
        # Named in the error should a worker's own activation fail (test_boot).
        assert r["boot_names"] == f"{PKG},lp_lazy_other"
        assert "LazyFinder" in r["hooks"]  # installed before user code, by sitecustomize
        assert os.path.realpath(r["file"]) == str(root / PKG / "__init__.py")
        assert os.path.realpath(r["core_file"]) == str(root / PKG / "core" / "__init__.py")
    # Imported: materialised (0755), with the data directory next to the code.
    assert mode_of(root / PKG) == 0o755
    assert mode_of(root / PKG / "core") == 0o755
    assert (root / PKG / "core" / "data" / "factor.txt").read_text() == "7\n"
    # Never imported: placeholders (0700) holding at most __init__.py, or absent.
    assert mode_of(root / PKG / "untouched") == 0o700
    assert not (root / PKG / "untouched" / "heavy.py").exists()
    assert mode_of(root / "lp_lazy_other") == 0o700
    assert not (root / "lp_lazy_other" / "deep").exists()

    # Ray holds the digest, so the agent holds the lazy tree's lease.
    trees = {t["digest"]: t for t in lazypath.cache_usage(cluster)["trees"]}
    assert trees[digest]["in_use"]


def test_eager_mode_gives_the_same_result(cluster, pushed):
    store, digest = pushed
    lazy = ray.get(
        probe_task.options(runtime_env=lpray.runtime_env(store, digest, mode="lazy")).remote(),
        timeout=240,
    )
    eager = ray.get(
        probe_task.options(runtime_env=lpray.runtime_env(store, digest, mode="eager")).remote(),
        timeout=240,
    )
    assert lazy["answer"] == eager["answer"] == 42
    tree = os.path.join(os.path.realpath(cluster), "trees", digest.split(":", 1)[1])
    lazy_root = os.path.join(os.path.realpath(cluster), "lazy", digest.split(":", 1)[1])
    assert os.path.realpath(eager["file"]).startswith(tree + os.sep)
    assert os.path.realpath(lazy["file"]).startswith(lazy_root + os.sep)
    assert "LazyFinder" not in eager["hooks"]
    rel = os.path.relpath(os.path.realpath(lazy["file"]), lazy_root)
    assert rel == os.path.relpath(os.path.realpath(eager["file"]), tree)


@ray.remote(num_cpus=1)
def read_assets_task() -> dict:
    """Imports the package, then asks for a file of the on-demand directory."""
    import importlib
    import os

    import lazypath

    app = importlib.import_module(PKG)
    assets = os.path.join(os.path.dirname(os.path.dirname(app.__file__)), "lp_assets")
    before = sorted(os.listdir(assets))
    path = lazypath.materialize(os.path.join(assets, "blob.bin"))
    with open(path, "rb") as f:
        size = len(f.read())
    return {"answer": app.ANSWER, "before": before, "size": size}


def test_on_demand_directory_stays_out_until_asked(cluster, tmp_path):
    src = tmp_path / "src"
    for rel, content in {**FILES, "lp_assets/blob.bin": "x" * 200_000}.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store, cache_dir=str(tmp_path / "drv"))
    env = lpray.runtime_env(store, digest, mode="lazy", on_demand=["lp_assets"])
    assert env["lazypath"]["on_demand"] == ["lp_assets"]
    root = Path(os.path.realpath(cluster)) / "lazy" / digest.split(":", 1)[1]
    r = ray.get(read_assets_task.options(runtime_env=env).remote(), timeout=240)
    # The agent built the root without lp_assets/; the task fetched it by asking.
    assert r == {"answer": 42, "before": [], "size": 200_000}
    assert mode_of(root / "lp_assets") == 0o755
    with pytest.raises(ValueError, match="on_demand"):
        lpray.runtime_env(store, digest, mode="eager", on_demand=["lp_assets"])


def test_serve_deployment_runs_a_lazy_tree(cluster, tmp_path):
    serve = pytest.importorskip("ray.serve")
    # A tree of its own: one the other tests materialised eagerly in this node
    # cache is complete, and lazy activation then uses it as it is, hookless.
    src = tmp_path / "src"
    for rel, content in {**FILES, "serve.txt": "replica\n"}.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store, tag="prod", cache_dir=str(tmp_path / "drv"))

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
    class Probe:
        def __call__(self) -> dict:
            return probe()

    try:
        serve.start(http_options={"host": "127.0.0.1", "port": free_port()})
        opts = {"num_cpus": 0, "runtime_env": lpray.runtime_env(store, "prod", mode="lazy")}
        h = serve.run(
            Probe.options(ray_actor_options=opts).bind(), name="lp-lazy", route_prefix=None
        )
        r = h.remote().result(timeout_s=240)
    finally:
        serve.shutdown()
    root = Path(os.path.realpath(cluster)) / "lazy" / digest.split(":", 1)[1]
    assert r["answer"] == 42 and r["digest"] == digest
    assert "LazyFinder" in r["hooks"]
    assert os.path.realpath(r["core_file"]) == str(root / PKG / "core" / "__init__.py")
    assert not (root / PKG / "untouched" / "heavy.py").exists()


def test_ray_job_submit_lazy(head, tmp_path):  # noqa: F811
    from test_ray_plugin import ray_cli

    store = str(tmp_path / "store")
    cache = str(tmp_path / "job-cache")
    src = tmp_path / "src"
    for rel, content in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(content)
    digest = lazypath.push(str(src), store, tag="prod")
    pinned = subprocess.run(
        [
            sys.executable,
            "-m",
            "lazypath.ray",
            json.dumps(
                {
                    "lazypath": {"store": store, "ref": "prod", "mode": "lazy"},
                    "env_vars": {"LAZYPATH_CACHE": cache},
                }
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert json.loads(pinned)["lazypath"] == {"store": store, "ref": digest, "mode": "lazy"}
    entry = textwrap.dedent(
        f"""
        import sys, ray, {PKG}
        ray.init()
        @ray.remote(num_cpus=0)
        def v():
            import sys, {PKG}
            hooks = [type(f).__name__ for f in sys.meta_path]
            return {PKG}.ANSWER, {PKG}.__file__, "LazyFinder" in hooks
        hooks = [type(f).__name__ for f in sys.meta_path]
        print("DRIVER", {PKG}.ANSWER, "LazyFinder" in hooks)
        print("WORKER", *ray.get(v.remote()))
        """
    )
    res = ray_cli(
        "job", "submit", "--address", head, "--runtime-env-json", pinned,
        "--", sys.executable, "-c", entry,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "DRIVER 42 True" in res.stdout, res.stdout
    worker = next(line for line in res.stdout.splitlines() if line.startswith("WORKER"))
    _, answer, file, hooked = worker.split()
    assert answer == "42" and hooked == "True"
    root = os.path.join(os.path.realpath(cache), "lazy", digest.split(":", 1)[1])
    assert os.path.realpath(file) == os.path.join(root, PKG, "__init__.py")
    assert mode_of(Path(root) / PKG / "untouched") == 0o700
