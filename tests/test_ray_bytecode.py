"""On a real local Ray cluster, a task on a new digest takes the bytecode of
its unchanged modules from the node cache (doc/bytecode.md), in lazy mode
(the worker's boot activates the tree) and eager mode, with a policy or
without (the boot hooks the tree on PYTHONPATH)."""

from __future__ import annotations

import os
import sys

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
import test_ray_plugin  # noqa: E402

cluster = test_ray_plugin.cluster

pytestmark = pytest.mark.timeout(300)

PKG = "lp_bc_app"
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def files(version: str) -> dict:
    """Version "N-MODE": the modules are MODE's own (the cluster's cache is
    shared by the tests), and only __init__.py changes with N."""
    out = {f"{PKG}/__init__.py": f"VERSION = {version!r}\n"}
    mode = version.split("-", 1)[1]
    for i in range(10):
        out[f"{PKG}/m{i}.py"] = f"def f():\n    return {i}  # {mode}\n"
    return out


@ray.remote(num_cpus=1)
def probe_task() -> dict:
    import importlib
    import sys

    app = importlib.import_module(PKG)
    for i in range(10):
        importlib.import_module(f"{PKG}.m{i}")
    bc = sys.modules.get("lazypath._bytecode")
    return {
        "version": app.VERSION,
        "file": app.__file__,
        "stats": dict(bc.stats) if bc is not None else None,
        "site_on_path": [p for p in sys.path if p.rstrip("/").endswith("lazypath/_site")],
    }


def push(tmp_path, store: str, version: str) -> str:
    src = tmp_path / f"src-{version}"
    for rel, content in files(version).items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return lazypath.push(str(src), store, cache_dir=str(tmp_path / "drv"))


@pytest.mark.parametrize("variant", ["lazy", "eager", "eager-policy"])
def test_a_task_on_a_new_digest_reuses_the_bytecode(tmp_path, cluster, variant):
    store = str(tmp_path / "store")
    mode = variant.split("-")[0]
    # The policy's boot and the plain eager boot hook the tree alike.
    policy = {"shadowed": "tree-first"} if variant == "eager-policy" else None
    extra = {"policy": policy} if policy else {}
    v1 = push(tmp_path, store, f"1-{variant}")
    first = ray.get(
        probe_task.options(runtime_env=lpray.runtime_env(store, v1, mode=mode, **extra)).remote(),
        timeout=240,
    )
    assert first["version"] == f"1-{variant}"
    assert first["stats"]["misses"] == 11, first["stats"]
    v2 = push(tmp_path, store, f"2-{variant}")
    second = ray.get(
        probe_task.options(runtime_env=lpray.runtime_env(store, v2, mode=mode, **extra)).remote(),
        timeout=240,
    )
    assert second["version"] == f"2-{variant}"
    assert second["stats"]["misses"] == 1 and second["stats"]["hits"] == 10, second["stats"]
    assert second["site_on_path"] == [], second["site_on_path"]  # the boot took it off
    kind = "lazy" if mode == "lazy" else "trees"
    root = os.path.join(os.path.realpath(cluster), kind, v2.split(":", 1)[1])
    assert os.path.realpath(second["file"]).startswith(root + os.sep)
    assert os.path.isdir(os.path.join(cluster, "pyc"))
