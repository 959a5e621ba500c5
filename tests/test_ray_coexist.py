"""lazypath beside Ray's own code-shipping fields, in one runtime_env, on a real local cluster.

One task runs with lazypath + working_dir + py_modules + env_vars (PYTHONPATH)
+ pip, and once more with uv instead of pip (Ray refuses both in one
runtime_env). Ray's pip/uv plugins clone this virtualenv and install a tiny
wheel the test builds itself with setuptools (`pip wheel --no-build-isolation`)
from a generated project, offline (`--no-index`). The worker reports its
sys.path, interpreter and where each module came from; the test checks the
order doc/ray.md section 5 documents:

    lazypath tree < py_modules < working_dir < env_vars PYTHONPATH < site-packages

and that a module present in every source (SHADOW) comes from the tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import lazypath  # noqa: E402
import lazypath.ray as lpray  # noqa: E402
from ray._private.runtime_env.py_modules import upload_py_modules_if_needed  # noqa: E402
from ray._private.runtime_env.working_dir import upload_working_dir_if_needed  # noqa: E402

pytestmark = pytest.mark.timeout(420)

SHADOW = "lp_coexist_shadow"  # in the tree, py_modules, working_dir, PYTHONPATH and the wheel
ONLY = {
    "tree": "lp_coexist_tree",
    "py_modules": "lp_coexist_pymod",
    "working_dir": "lp_coexist_wd",
    "env_vars": "lp_coexist_env",
    "wheel": "lp_coexist_wheel",
}
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def module(path: Path, where: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"WHERE = {where!r}\n")


def build_wheel(tmp: Path) -> Path:
    """A wheel of a generated setuptools project, built offline by pip."""
    proj = tmp / "wheel-project"
    module(proj / f"{ONLY['wheel']}.py", "wheel")
    module(proj / f"{SHADOW}.py", "wheel")
    (proj / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "lp-coexist-wheel"\nversion = "1.0"\n\n'
        f'[tool.setuptools]\npy-modules = ["{ONLY["wheel"]}", "{SHADOW}"]\n'
    )
    dist = tmp / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-q", "-w", str(dist), str(proj)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = dist.glob("lp_coexist_wheel-1.0-*.whl")
    return wheel


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("coexist-node-cache"))
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


def probe() -> dict:
    import importlib
    import os
    import site
    import sys

    names = ["lp_coexist_shadow", "lp_coexist_tree", "lp_coexist_pymod", "lp_coexist_wd",
             "lp_coexist_env", "lp_coexist_wheel"]  # fmt: skip
    mods = {n: importlib.import_module(n) for n in names}
    return {
        "files": {n: m.__file__ for n, m in mods.items()},
        "shadow": mods["lp_coexist_shadow"].WHERE,
        "sys_path": list(sys.path),
        "prefix": sys.prefix,
        "executable": sys.executable,
        "site_packages": site.getsitepackages(),
        "cwd": os.getcwd(),
        "digest": os.environ.get("LAZYPATH_RAY_DIGEST"),
    }


def installer_field(kind: str, wheel: Path) -> dict:
    if kind == "pip":
        return {
            "pip": {
                "packages": [str(wheel)],
                "pip_install_options": ["--no-index", "--disable-pip-version-check"],
            }
        }
    pytest.importorskip("uv", reason="the uv package is not installed in this environment")
    return {"uv": {"packages": [str(wheel)], "uv_pip_install_options": ["--no-index", "--offline"]}}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_lazypath_with_working_dir_py_modules_env_vars_and_installer(cluster, tmp_path, installer):
    wheel = build_wheel(tmp_path)
    src = tmp_path / "src"
    module(src / f"{SHADOW}.py", "lazypath")
    module(src / f"{ONLY['tree']}.py", "lazypath")
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store, cache_dir=str(tmp_path / "driver-cache"))

    wd = tmp_path / "wd"
    module(wd / f"{SHADOW}.py", "working_dir")
    module(wd / f"{ONLY['working_dir']}.py", "working_dir")
    pymod = tmp_path / "pymods" / ONLY["py_modules"]
    module(pymod / "__init__.py", "py_modules")
    # A second py_module. Its content must differ from the first: Ray hashes a
    # py_modules directory without its name, so two with the same files get
    # one URI and the second name is never unpacked.
    module(tmp_path / "pymods" / SHADOW / "__init__.py", "py_modules, second")
    extra = tmp_path / "extra"
    module(extra / f"{SHADOW}.py", "env_vars")
    module(extra / f"{ONLY['env_vars']}.py", "env_vars")

    (tmp_path / "ray-scratch").mkdir()
    # What ray.init does with local paths in a job's runtime_env: zip them into
    # the GCS (task-level runtime_envs take only URIs); the node unpacks them.
    base = upload_working_dir_if_needed(
        upload_py_modules_if_needed(
            {"working_dir": str(wd), "py_modules": [str(pymod), str(tmp_path / "pymods" / SHADOW)]},
            include_gitignore=True,
            scratch_dir=str(tmp_path / "ray-scratch"),
        ),
        include_gitignore=True,
        scratch_dir=str(tmp_path / "ray-scratch"),
    )
    assert all(u.startswith("gcs://") for u in [base["working_dir"], *base["py_modules"]])
    base["env_vars"] = {"PYTHONPATH": str(extra), "LAZYPATH_CACHE": cluster}
    base.update(installer_field(installer, wheel))
    env = lpray.runtime_env(store, digest, base=base)
    r = ray.get(
        ray.remote(num_cpus=1, max_retries=0)(probe).options(runtime_env=env).remote(),
        timeout=360,
    )

    # The installer made its own virtualenv, with the wheel in its site-packages.
    assert os.path.realpath(r["prefix"]) != os.path.realpath(sys.prefix)
    assert f"runtime_resources{os.sep}{installer}" in r["prefix"], r["prefix"]
    venv_site = [os.path.realpath(p) for p in r["site_packages"]]
    wheel_dir = os.path.realpath(os.path.dirname(r["files"][ONLY["wheel"]]))
    assert wheel_dir in venv_site, (wheel_dir, venv_site)

    # Each source's own module is importable from its place.
    tree = os.path.join(os.path.realpath(cluster), "trees", digest.split(":", 1)[1])
    where = {k: os.path.realpath(os.path.dirname(r["files"][ONLY[k]])) for k in ONLY}
    assert where["tree"] == tree
    assert r["digest"] == digest
    assert where["py_modules"].endswith(ONLY["py_modules"])
    pymod_entry = os.path.dirname(where["py_modules"])  # py_modules adds the parent
    assert "py_modules_files" in where["py_modules"]
    assert "working_dir_files" in where["working_dir"]
    assert where["working_dir"] == os.path.realpath(r["cwd"])  # working_dir is the cwd too
    assert where["env_vars"] == os.path.realpath(extra)

    # The order doc/ray.md documents; the tree's module shadows all the others.
    path = [os.path.realpath(p) for p in r["sys_path"]]
    entries = [tree, pymod_entry, where["working_dir"], where["env_vars"], wheel_dir]
    order = [path.index(e) for e in entries]
    assert order == sorted(order), list(zip(entries, order))
    assert r["shadow"] == "lazypath"
    assert os.path.realpath(r["files"][SHADOW]) == os.path.join(tree, f"{SHADOW}.py")
    # Both py_modules entries precede working_dir, in list order.
    shadow_pymod = next(i for i, p in enumerate(path) if os.path.isdir(os.path.join(p, SHADOW)))
    assert path.index(pymod_entry) < shadow_pymod < path.index(where["working_dir"])
