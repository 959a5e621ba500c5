"""The doctor runs, and reports, where the path under inspection shadows the
modules lazypath itself imports (the standard library and its own
dependencies). Each shadow here raises when imported, so the doctor's own
imports loading one would fail the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Modules the CLI (argparse, json, rich, threading, subprocess, ...) and the
# doctor import, plus the ones users shadow most often.
SHADOWS = [
    "random",
    "math",
    "types",
    "typing",
    "enum",
    "re",
    "json",
    "posixpath",
    "genericpath",
    "ntpath",
    "stat",
    "argparse",
    "gettext",
    "locale",
    "shutil",
    "tempfile",
    "subprocess",
    "signal",
    "selectors",
    "threading",
    "contextlib",
    "functools",
    "collections",
    "dataclasses",
    "inspect",
    "textwrap",
    "string",
    "datetime",
    "html",
    "hashlib",
    "rich",
    "packaging",
]
# Every shadow above is reported, but for the modules Python freezes into
# the interpreter (a file on the path can't shadow them) and the third-party
# ones (not standard-library shadows).
NOT_SHADOWABLE = {"posixpath", "genericpath", "ntpath", "stat", "rich", "packaging"}
REPORTED = [name for name in SHADOWS if name not in NOT_SHADOWABLE]


@pytest.fixture(scope="module")
def shadow_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("shadows")
    for name in SHADOWS:
        (d / f"{name}.py").write_text(
            f"raise RuntimeError('the shadow {name}.py was imported by the tool')\n"
        )
    return d


# The console script, as users run it: `python -m lazypath` cannot start at
# all where contextlib or types is shadowed (CPython's own runpy imports
# them), which is not lazypath's to fix.
LAZYPATH = os.path.join(os.path.dirname(sys.executable), "lazypath")


def _doctor(*args, env=None, cwd=None):
    return subprocess.run(
        [LAZYPATH, "doctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


@pytest.mark.parametrize("where", ["PYTHONPATH", "cwd"])
def test_doctor_reports_shadows_of_its_own_imports(shadow_dir, tmp_path, where):
    if where == "PYTHONPATH":
        res = _doctor("--json", env={"PYTHONPATH": str(shadow_dir)}, cwd=tmp_path)
    else:
        res = _doctor("--json", cwd=shadow_dir)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "was imported by the tool" not in res.stderr
    report = json.loads(res.stdout)
    shadowed = {f["subject"] for f in report["findings"] if f["code"] == "shadowed-stdlib"}
    missing = [n for n in REPORTED if n not in shadowed]
    assert not missing, (missing, sorted(shadowed))


def test_explain_names_the_shadow(shadow_dir, tmp_path):
    res = _doctor(
        "--explain", "random", "--json", env={"PYTHONPATH": str(shadow_dir)}, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    exp = json.loads(res.stdout)
    assert exp["origin"] == str(shadow_dir / "random.py")


def test_other_verbs_do_not_import_the_shadows(shadow_dir, tmp_path):
    """push and ls import argparse, json, rich...: from the standard library,
    not from the PYTHONPATH they run under."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text("M = 1\n")
    env = {"PYTHONPATH": str(shadow_dir), "LAZYPATH_CACHE": str(tmp_path / "cache")}
    res = subprocess.run(
        [LAZYPATH, "push", str(src), str(tmp_path / "store"), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["digest"].startswith("sha256:")
