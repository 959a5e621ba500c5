"""Lazy activation behaves exactly like eager activation and like site-packages.

Real packages from this virtualenv (C extensions, data files read through
importlib.resources and __file__, namespace packages, dist-info metadata)
are shipped as one artifact. The same probe runs four ways and must give the
same results, with paths compared relative to where the packages live:

  site   -- the virtualenv's own site-packages (the reference);
  plain  -- a copy of those packages as a plain directory on sys.path;
  eager  -- lazypath.activate(mode="eager");
  lazy   -- lazypath.activate(mode="lazy").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import lazypath
import pytest

SITE = Path(sysconfig.get_paths()["purelib"])

# Directories copied from site-packages into the artifact.
SHIPPED = [
    "certifi",
    "charset_normalizer",
    "click",  # shipped, never imported: lazy mode must not fetch it
    "frozenlist",
    "google",  # a namespace package (protobuf, api_core, ...)
    "jsonschema",
    "jsonschema_specifications",
    "numpy",
    "numpy.libs",
    "referencing",
    "rpds",
    "attr",
    "attrs",
    "typing_extensions.py",  # a top-level module, not a package
]

PROBE = r"""
import importlib, importlib.metadata, importlib.resources, io, json, os, pkgutil
import contextlib, runpy, sys

mode, where, ref = sys.argv[1], sys.argv[2], sys.argv[3]
sys.argv = ["probe"]  # modules run as __main__ below parse sys.argv
if mode in ("eager", "lazy"):
    import lazypath
    root = lazypath.activate(where, ref, mode=mode).path
elif mode == "plain":
    root = where
    sys.path.insert(0, root)
else:
    root = where

def rel(p):
    return os.path.relpath(os.path.realpath(p), os.path.realpath(root))

out = {}
import certifi
out["certifi.where"] = rel(certifi.where())
out["certifi.resource"] = (
    importlib.resources.files("certifi").joinpath("cacert.pem").read_text()[:40])
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    runpy.run_module("certifi", run_name="__main__")  # like python -m certifi
out["python -m certifi"] = rel(buf.getvalue().strip())

import numpy
out["numpy.det"] = round(float(numpy.linalg.det(numpy.array([[1.0, 2.0], [3.0, 4.0]]))), 6)
out["numpy.__file__"] = rel(numpy.__file__)
out["numpy.multiarray"] = rel(numpy._core._multiarray_umath.__file__)

from google.protobuf import descriptor_pb2
out["protobuf"] = descriptor_pb2.FileDescriptorProto(name="x.proto").SerializeToString().hex()
out["google.__path__"] = sorted(rel(p) for p in __import__("google").__path__)

import jsonschema
out["jsonschema.valid"] = jsonschema.Draft202012Validator({"type": "integer"}).is_valid(3)
try:
    jsonschema.validate({"a": "x"}, {"properties": {"a": {"type": "integer"}}})
    out["jsonschema.error"] = None
except jsonschema.ValidationError as e:
    out["jsonschema.error"] = e.message
out["jsonschema.submodules"] = sorted(m.name for m in pkgutil.iter_modules(jsonschema.__path__))

import frozenlist
out["frozenlist"] = [list(frozenlist.FrozenList([1, 2])), rel(frozenlist._frozenlist.__file__)]
import charset_normalizer
out["charset"] = str(charset_normalizer.from_bytes("héllo wörld".encode("utf-8")).best().encoding)

for dist in ("certifi", "numpy", "jsonschema", "protobuf"):
    out["version " + dist] = importlib.metadata.version(dist)
print(json.dumps(out, sort_keys=True))
"""


def dist_infos(name_prefixes: list[str]) -> list[str]:
    out = []
    for p in SITE.glob("*.dist-info"):
        top = p / "top_level.txt"
        names = top.read_text().split() if top.exists() else []
        stem = p.name.split("-")[0].lower()
        if stem in {n.lower() for n in name_prefixes} or set(names) & set(name_prefixes):
            out.append(p.name)
    return out


@pytest.fixture(scope="module", params=[1, 2], ids=["format1", "format2"])
def artifact(tmp_path_factory, request):
    """The packages as a plain directory, pushed to a store in each format."""
    base = tmp_path_factory.mktemp(f"compat{request.param}")
    plain = base / "plain"
    plain.mkdir()
    names = [n for n in SHIPPED if (SITE / n).exists()]
    missing = sorted(set(SHIPPED) - set(names) - {"numpy.libs"})
    assert not missing, f"packages missing from the virtualenv: {missing}"
    extra = dist_infos(
        [
            "certifi",
            "charset_normalizer",
            "click",
            "frozenlist",
            "protobuf",
            "jsonschema",
            "jsonschema_specifications",
            "numpy",
            "referencing",
            "rpds_py",
            "attrs",
            "typing_extensions",
        ]
    )
    for n in names + extra:
        if (SITE / n).is_file():
            shutil.copy2(SITE / n, plain / n)
            continue
        shutil.copytree(
            SITE / n, plain / n, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    store = base / "store"
    digest = lazypath.push(plain, store, cache_dir=base / "push-cache", format=request.param)
    # An interpreter that sees lazypath and nothing else from site-packages.
    only_lazypath = base / "only-lazypath"
    only_lazypath.mkdir()
    os.symlink(Path(lazypath.__file__).parent, only_lazypath / "lazypath")
    return {
        "base": base,
        "plain": plain,
        "store": store,
        "digest": digest,
        "pythonpath": only_lazypath,
    }


def run_probe(artifact, mode: str, cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["LAZYPATH_CACHE"] = str(cache)
    if mode == "site":
        argv = [sys.executable, "-c", PROBE, mode, str(SITE), "-"]
    else:
        env["PYTHONPATH"] = str(artifact["pythonpath"])
        where = artifact["plain"] if mode == "plain" else artifact["store"]
        argv = [sys.executable, "-S", "-s", "-c", PROBE, mode, str(where), artifact["digest"]]
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, f"{mode}: {res.stderr[-3000:]}"
    return json.loads(res.stdout)


def test_lazy_eager_plain_and_site_packages_agree(artifact, tmp_path):
    results = {
        m: run_probe(artifact, m, tmp_path / f"cache-{m}")
        for m in ("site", "plain", "eager", "lazy")
    }
    reference = results["site"]
    assert reference["numpy.det"] == -2.0
    assert reference["jsonschema.valid"] is True
    for mode in ("plain", "eager", "lazy"):
        assert results[mode] == reference, mode


def test_lazy_fetches_only_what_is_imported(artifact, tmp_path):
    cache = tmp_path / "cache"
    run_probe(artifact, "lazy", cache)
    root = cache / "lazy" / artifact["digest"][7:]
    # click was shipped but never imported: a placeholder with its __init__.py only.
    click = root / "click"
    assert oct(click.stat().st_mode & 0o777) == oct(0o700)
    assert sorted(p.name for p in click.iterdir()) == ["__init__.py"]
    # numpy's tests were never imported either.
    assert oct((root / "numpy" / "tests").stat().st_mode & 0o777) == oct(0o700)
    # What was imported is there in full.
    assert (root / "numpy" / "_core").stat().st_mode & 0o777 == 0o755
    lazy_bytes = sum(p.stat().st_size for p in (cache / "blobs").rglob("*") if p.is_file())
    eager_cache = tmp_path / "eager-cache"
    run_probe(artifact, "eager", eager_cache)
    eager_bytes = sum(p.stat().st_size for p in (eager_cache / "blobs").rglob("*") if p.is_file())
    assert lazy_bytes < eager_bytes


def test_lazy_processes_share_one_cache(artifact, tmp_path):
    """Many processes importing lazily from one cache all see complete directories."""
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(LAZYPATH_CACHE=str(cache), PYTHONPATH=str(artifact["pythonpath"]))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-S",
                "-s",
                "-c",
                PROBE,
                "lazy",
                str(artifact["store"]),
                artifact["digest"],
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert len({out for out, _ in outs}) == 1
