"""End to end against a real local Ray cluster: push, activate on workers, push an edit.

One cluster for the module (ray.init(num_cpus=2)); its workers get the node cache
through LAZYPATH_CACHE in the job's runtime_env. Tasks and an actor activate trees
by digest or tag and import a package that exists only in the store.
"""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402

pytestmark = pytest.mark.timeout(300)  # a wedged cluster fails the test, not the run

PKG = "lp_e2e_app"  # unique, so no other sys.path entry can provide it

# Workers can't import this test module (tests/ is not on their sys.path), so the
# task and actor defined here travel by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def write_app(root, version: str, greeting: str = "hello") -> None:
    pkg = root / PKG
    (pkg / "sub").mkdir(parents=True, exist_ok=True)
    (pkg / "data").mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            f"""\
            from {PKG}.version import VERSION
            from {PKG}.sub.greet import greet
            """
        )
    )
    (pkg / "version.py").write_text(f'VERSION = "{version}"\n')
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "greet.py").write_text(
        textwrap.dedent(
            f"""\
            import os

            def greet(name):
                here = os.path.dirname(os.path.dirname(__file__))
                with open(os.path.join(here, "data", "suffix.txt")) as f:
                    return "{greeting}, " + name + f.read().strip()
            """
        )
    )
    (pkg / "data" / "suffix.txt").write_text("!\n")


def use_app(store: str, ref: str) -> dict:
    """Body of the tasks and the actor: activate, import, report."""
    import importlib
    import os

    import lazypath

    tree = lazypath.activate(store, ref)
    app = importlib.import_module(PKG)
    greet_mod = importlib.import_module(f"{PKG}.sub.greet")
    return {
        "version": app.VERSION,
        "greeting": app.greet("ray"),
        "file": app.__file__,
        "sub_file": greet_mod.__file__,
        "tree": tree.path,
        "digest": tree.digest,
        "pid": os.getpid(),
    }


@ray.remote(num_cpus=1)
def app_task(store: str, ref: str) -> dict:
    return use_app(store, ref)


@ray.remote(num_cpus=1)
class AppActor:
    def load(self, store: str, ref: str) -> dict:
        return use_app(store, ref)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cache = tmp_path_factory.mktemp("lp-node-cache")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        address="local",  # a new cluster, never one left running
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"LAZYPATH_CACHE": str(cache)}},
    )
    yield str(cache)
    ray.shutdown()


@pytest.fixture
def work(tmp_path):
    store = tmp_path / "store"
    src = tmp_path / "src"
    store.mkdir()
    src.mkdir()
    return str(store), src


def tree_dir(cache: str, digest: str) -> str:
    assert digest.startswith("sha256:")
    return os.path.join(os.path.realpath(cache), "trees", digest.split(":", 1)[1])


def assert_from_tree(result: dict, cache: str, digest: str) -> None:
    expected = tree_dir(cache, digest)
    assert result["digest"] == digest
    assert os.path.realpath(result["tree"]) == expected
    for key in ("file", "sub_file"):
        assert os.path.realpath(result[key]).startswith(expected + os.sep), result[key]


def test_tasks_get_pushed_code_and_then_the_edit(cluster, work):
    store, src = work
    write_app(src, "1.0")
    rep1 = lazypath.push_report(str(src), store, tag="e2e", cache_dir=cluster)
    assert rep1.files == 5 and rep1.blobs_uploaded == 4  # the empty file needs no blob

    results = ray.get([app_task.remote(store, rep1.digest) for _ in range(4)])
    for r in results:
        assert r["version"] == "1.0"
        assert r["greeting"] == "hello, ray!"
        assert_from_tree(r, cluster, rep1.digest)

    # One file edited (same size as before, right after the first push).
    write_app(src, "1.1")
    rep2 = lazypath.push_report(str(src), store, tag="e2e", cache_dir=cluster)
    assert rep2.digest != rep1.digest
    assert rep2.blobs_uploaded == 1
    assert rep2.bytes_uploaded < rep1.bytes_uploaded

    results2 = ray.get([app_task.remote(store, rep2.digest) for _ in range(4)])
    for r in results2:
        assert r["version"] == "1.1"
        assert r["greeting"] == "hello, ray!"
        assert_from_tree(r, cluster, rep2.digest)

    # The tag follows the last push; the old digest still gives the old code.
    by_tag = ray.get(app_task.remote(store, "e2e"))
    assert by_tag["version"] == "1.1"
    assert_from_tree(by_tag, cluster, rep2.digest)
    old = ray.get(app_task.remote(store, rep1.digest))
    assert old["version"] == "1.0"
    assert_from_tree(old, cluster, rep1.digest)


def test_actor_switches_trees_without_restart(cluster, work):
    store, src = work
    write_app(src, "2.0", greeting="hi")
    d1 = lazypath.push(str(src), store, cache_dir=cluster)
    write_app(src, "2.0", greeting="good day")
    d2 = lazypath.push(str(src), store, cache_dir=cluster)
    assert d1 != d2

    actor = AppActor.remote()
    try:
        r1 = ray.get(actor.load.remote(store, d1))
        assert r1["greeting"] == "hi, ray!"
        assert_from_tree(r1, cluster, d1)

        r2 = ray.get(actor.load.remote(store, d2))
        assert r2["pid"] == r1["pid"]  # the same process
        assert r2["greeting"] == "good day, ray!"  # sees the new code
        assert_from_tree(r2, cluster, d2)

        r3 = ray.get(actor.load.remote(store, d1))  # and back again
        assert r3["greeting"] == "hi, ray!"
        assert_from_tree(r3, cluster, d1)
    finally:
        ray.kill(actor)


def test_many_tasks_activate_a_fresh_tree_at_once(cluster, work):
    store, src = work
    write_app(src, "3.0")
    # A few more files so that concurrent first activations have work to share.
    for i in range(50):
        (src / PKG / f"mod_{i}.py").write_text(f"X = {i}\n" * (i + 1))
    digest = lazypath.push(str(src), store, cache_dir=cluster)

    results = ray.get([app_task.remote(store, digest) for _ in range(8)])
    for r in results:
        assert r["version"] == "3.0"
        assert_from_tree(r, cluster, digest)
    tree = tree_dir(cluster, digest)
    with open(os.path.join(tree, PKG, "mod_49.py")) as f:
        assert f.read() == "X = 49\n" * 50
