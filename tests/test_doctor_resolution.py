"""Invariant 7: the doctor's prediction of where `import X` resolves equals CPython's.

For every top-level name a report lists, the predicted origin (or the
namespace package's locations) must equal importlib.util.find_spec(name) in
the same interpreter, started normally (site runs) with the same cwd and
environment. Checked on crafted environments and on the real .venv.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from lazypath import doctor

BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))

_TRUTH = r"""
import sys, importlib.util
names = open(sys.argv[1]).read().split()
out = {}
for n in names:
    try:
        s = importlib.util.find_spec(n)
    except BaseException as e:
        out[n] = ["error", type(e).__name__ + ": " + str(e)]
        continue
    if s is None:
        out[n] = None
    elif s.origin is None and getattr(s.loader, "__name__", "") == "BuiltinImporter":
        out[n] = ["origin", "built-in"]  # sys, builtins, _imp before 3.11: set up without origin
    elif s.origin is None and getattr(s.loader, "__name__", "") == "FrozenImporter":
        out[n] = ["origin", "frozen"]
    elif s.origin in (None, "namespace") and s.submodule_search_locations is not None:
        out[n] = ["namespace", list(s.submodule_search_locations)]
    else:
        out[n] = ["origin", s.origin]
sys.stdout.write(repr(out))  # no json: the environment under test may shadow it
"""


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra)
    return env


def truth(python: str, names, cwd, env) -> dict:

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(names))
        listing = f.name
    try:
        proc = subprocess.run(
            [python, "-c", _TRUTH, listing], cwd=cwd, env=env, capture_output=True, timeout=300
        )
    finally:
        os.unlink(listing)
    assert proc.returncode == 0, proc.stderr.decode()
    return ast.literal_eval(proc.stdout.decode())


def predicted(m: dict):
    if m["kind"] == "namespace":
        return ["namespace", m["locations"]]
    return ["origin", m["origin"]]


def check_all(python: str, cwd, env):
    report = doctor.diagnose(python, cwd=str(cwd), env=env)
    hooked = hooked_names(report)
    if hooked:
        assert "pth-exec" in codes(report)
    names = [m["name"] for m in report["modules"]]
    assert names, "the doctor found no modules"
    real = truth(python, names, str(cwd), env)
    wrong = {}
    for m in report["modules"]:
        if m["name"] in hooked:
            continue
        if predicted(m) != real[m["name"]]:
            wrong[m["name"]] = {"doctor": predicted(m), "cpython": real[m["name"]]}
    assert not wrong, json.dumps(wrong, indent=1)
    return report


def codes(report) -> dict:
    out = {}
    for f in report["findings"]:
        out.setdefault(f["code"], []).append(f)
    return out


def write(p: Path, text: str = "") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def dist(site: Path, name: str, version: str, top: str | None = None, record=None):
    d = site / f"{name}-{version}.dist-info"
    write(d / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    if top is not None:
        write(d / "top_level.txt", top + "\n")
    if record is not None:
        write(d / "RECORD", "".join(f"{r},,\n" for r in record))


def valid_pyc(tmp_path: Path, python: str = sys.executable) -> bytes:
    """A sourceless .pyc zipimport accepts, compiled by `python` (the doctor
    assumes a .pyc in a zip is valid; CPython falls back when it is not)."""
    src = write(tmp_path / "pyc_src" / "m.py", "X = 1\n")
    subprocess.run(
        [
            python,
            "-c",
            "import py_compile, sys; py_compile.compile(sys.argv[1], "
            "cfile=sys.argv[1] + 'c', doraise=True)",
            str(src),
        ],
        check=True,
    )
    return Path(str(src) + "c").read_bytes()


def hooked_names(report) -> set:
    """Names claimed by an import hook a .pth line installs at start-up: the
    doctor cannot predict them without running the line (it reports it)."""
    hooked = set()
    for p in report["facts"]["site"]["pth"]:
        for line in p["lines"]:
            if line["kind"] == "exec" and "_distutils_hack" in line["text"]:
                hooked.add("distutils")
    return hooked


@pytest.fixture
def crafted(tmp_path):
    return make_crafted(tmp_path)


def make_crafted(tmp_path, python: str = sys.executable):
    """Two path dirs, a zip, a cwd and a relative and a missing entry."""
    p1, p2, cwd = tmp_path / "p1", tmp_path / "p2", tmp_path / "cwd"
    ext = next(s for s in __import__("importlib.machinery").machinery.EXTENSION_SUFFIXES)
    write(p1 / "json.py")  # shadows the stdlib
    write(p1 / "mod.py")
    write(p1 / "pkg" / "__init__.py")
    write(p1 / "nsp" / "a.py")  # namespace split with p2
    write(p1 / f"fast{ext}")  # extension beats .py
    write(p1 / "fast.py")
    write(p1 / "dup" / "__init__.py")
    dist(p1, "dup", "2.0", top="dup")
    write(p2 / "mod.py")  # shadowed by p1
    write(p2 / "pkg.py")  # shadowed by p1's package
    write(p2 / "nsp" / "b.py")
    write(p2 / "only.pyc")  # sourceless
    write(p2 / "dup" / "__init__.py")
    dist(p2, "dup", "1.0", record=["dup/__init__.py", "dup-1.0.dist-info/METADATA"])
    write(p2 / "Case.py")
    write(p2 / "case.py")
    write(p2 / "nsonly" / "x.py")
    write(p2 / "late" / "x.py")  # namespace portion in p2 ...
    write(tmp_path / "p3" / "late" / "__init__.py")  # ... loses to a later regular package
    write(cwd / "cwdmod.py")
    write(cwd / "mod.py")  # '' is first: shadows p1 and p2
    write(cwd / "rel" / "relmod.py")
    z = tmp_path / "z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("zmod.py", "")
        zf.writestr("zpkg/__init__.py", "")
        zf.writestr("zns/", "")
        zf.writestr("zns/x.py", "")
        zf.writestr("implicit/x.py", "")  # no directory entry: invisible
        zf.writestr("sub/inner.py", "")
        zf.writestr("sub/innerpkg/__init__.py", "")
        zf.writestr("pyconly.pyc", valid_pyc(tmp_path, python))
    notzip = write(tmp_path / "notzip.txt", "plain text")
    entries = [
        str(p1),
        str(p2),
        str(z),
        f"{z}/sub",
        "rel",
        str(tmp_path / "missing"),
        str(notzip),
        str(tmp_path / "p3"),
    ]
    return tmp_path, cwd, os.pathsep.join(entries)


def test_crafted_environment_matches_cpython(crafted):
    root, cwd, pythonpath = crafted
    report = check_all(sys.executable, cwd, clean_env(PYTHONPATH=pythonpath))
    mods = {m["name"]: m for m in report["modules"]}
    assert mods["mod"]["origin"] == str(cwd / "mod.py")
    assert {s["origin"] for s in mods["mod"]["shadowed"]} == {
        str(root / "p1" / "mod.py"),
        str(root / "p2" / "mod.py"),
    }
    assert mods["fast"]["kind"] == "extension"
    assert mods["only"]["kind"] == "bytecode"
    assert mods["zns"]["kind"] == "namespace"
    assert "implicit" not in mods
    assert mods["inner"]["origin"] == str(root / "z.zip" / "sub" / "inner.py")
    assert mods["late"]["origin"] == str(root / "p3" / "late" / "__init__.py")
    assert mods["relmod"]["origin"] == str(cwd / "rel" / "relmod.py")
    assert mods["dup"]["version"] == "2.0"
    found = codes(report)
    for code in (
        "shadowed-stdlib",
        "shadowed-module",
        "duplicate-distribution",
        "namespace-split",
        "missing-entry",
        "not-importable-entry",
        "case-collision",
        "cwd-entry",
    ):
        assert code in found, (code, sorted(found))
    dup = found["duplicate-distribution"][0]
    assert dup["severity"] == "error"
    assert any("importlib.metadata reports: dup 2.0" in e for e in dup["evidence"])
    assert found["shadowed-stdlib"][0]["subject"] == "json"
    assert found["cwd-entry"][0]["severity"] == "warning"


def test_metadata_mismatch_and_pth_files(tmp_path):
    """A user site with .pth files (base interpreter: venvs disable the user site)."""
    ub = tmp_path / "userbase"
    v = sys.version_info
    usite = ub / "lib" / f"python{v.major}.{v.minor}" / "site-packages"
    extra = tmp_path / "extra"
    write(extra / "thing" / "__init__.py")
    write(usite / "a.pth", f"# comment\n{extra}\n\nimport os\n{tmp_path / 'nope'}\n")
    os.chmod(usite / "a.pth", 0o666)
    # metadata says thing 1.0 lives in the user site, but 'import thing' finds an earlier copy
    early = tmp_path / "early"
    write(early / "thing" / "__init__.py")
    write(usite / "thing" / "__init__.py")
    dist(usite, "thing", "1.0", top="thing")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = clean_env(PYTHONUSERBASE=str(ub), PYTHONPATH=str(early))
    report = check_all(BASE_PYTHON, cwd, env)
    assert str(extra) in [e["entry"] for e in report["entries"]]
    found = codes(report)
    pth = found["pth-exec"]
    assert any(f["subject"] == f"{usite / 'a.pth'}:4" for f in pth)
    assert "writable-pth" in found
    mm = found["metadata-mismatch"][0]
    assert mm["subject"] == "thing"
    assert any(str(early / "thing" / "__init__.py") in e for e in mm["evidence"])


def test_real_venv_every_name_matches_cpython(tmp_path):
    """The project's own .venv (Ray and all its dependencies), every name."""
    report = check_all(sys.executable, tmp_path, clean_env())
    names = {m["name"] for m in report["modules"]}
    assert {"ray", "lazypath", "json", "sys"} <= names
    assert report["summary"]["distributions"] > 10
    ray = next(d for d in report["distributions"] if d["key"] == "ray")
    import importlib.metadata

    assert ray["version"] == importlib.metadata.version("ray")


def _other_interpreters():
    import glob

    seen, out = set(), []
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
    for p in [BASE_PYTHON, "/usr/bin/python3", "/usr/local/bin/python3", *pyenv]:
        if os.path.exists(p) and os.path.realpath(p) not in seen:
            seen.add(os.path.realpath(p))
            out.append(p)
    return out


@pytest.mark.parametrize("python", _other_interpreters())
def test_other_interpreters_every_name_matches_cpython(python, tmp_path):
    """Other versions and layouts (pyenv 3.6-3.13, Debian's dist-packages), crafted path too."""
    _, cwd, pythonpath = make_crafted(tmp_path, python)
    check_all(python, cwd, clean_env())
    check_all(python, cwd, clean_env(PYTHONPATH=pythonpath))


@pytest.mark.parametrize("python", _other_interpreters())
def test_stat_py_shadow(python, tmp_path):
    """The issue's local stat.py: inert where stat is frozen (3.11+), fatal before.

    Either way the doctor itself still runs (it imports its own modules from the
    standard library only) and says what happens.
    """
    app = tmp_path / "app"
    write(app / "stat.py")
    env = clean_env(PYTHONPATH=str(app))
    report = doctor.diagnose(python, cwd=str(tmp_path), env=env)
    found = codes(report)
    stat = next(m for m in report["modules"] if m["name"] == "stat")
    if stat["kind"] == "frozen":
        assert [f["subject"] for f in found["inert-shadow"]] == ["stat"]
        check_all(python, tmp_path, env)
    else:
        assert stat["origin"] == str(app / "stat.py")
        assert "stat" in [f["subject"] for f in found["shadowed-stdlib"]]
        p = subprocess.run([python, "-c", "pass"], env=env, cwd=tmp_path, capture_output=True)
        assert p.returncode != 0  # the interpreter itself cannot start


def test_system_site_venv_with_user_site(tmp_path):
    """A venv with include-system-site-packages: the user site leaks into it."""
    venv = tmp_path / "v"
    subprocess.run(
        [BASE_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    py = str(venv / "bin" / "python")
    ub = tmp_path / "userbase"
    v = sys.version_info
    usite = ub / "lib" / f"python{v.major}.{v.minor}" / "site-packages"
    write(usite / "usermod.py")
    write(venv / "lib" / f"python{v.major}.{v.minor}" / "site-packages" / "usermod.py")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    report = check_all(py, cwd, clean_env(PYTHONUSERBASE=str(ub)))
    assert report["python"]["in_venv"]
    assert "user-site-in-venv" in codes(report)
    usermod = next(m for m in report["modules"] if m["name"] == "usermod")
    assert "site-packages" in usermod["origin"] and str(venv) in usermod["origin"]  # venv first
    # Without the system site, the user site is off and nothing leaks.
    (venv / "pyvenv.cfg").write_text((venv / "pyvenv.cfg").read_text().replace("= true", "= false"))
    report = check_all(py, cwd, clean_env(PYTHONUSERBASE=str(ub)))
    assert "user-site-in-venv" not in codes(report)


def test_setuptools_editable_install(tmp_path):
    """A PEP 660 editable install: the finder a .pth line installs is read, not run."""
    editable_wheel = pytest.importorskip("setuptools.command.editable_wheel")
    ub = tmp_path / "userbase"
    v = sys.version_info
    usite = ub / "lib" / f"python{v.major}.{v.minor}" / "site-packages"
    src = tmp_path / "proj" / "src"
    write(src / "edpkg" / "__init__.py")
    write(src / "edmod.py")
    write(tmp_path / "early" / "edshadow.py")  # a path entry hides the editable copy
    write(src / "edshadow.py")
    mapping = {n: str(src / n) for n in ("edpkg", "edmod", "edshadow", "edgone")}
    finder = "__editable___proj_1_0_finder"
    write(usite / f"{finder}.py", editable_wheel._finder_template("proj", mapping, {}))
    write(usite / "__editable__.proj-1.0.pth", f"import {finder}; {finder}.install()\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = clean_env(PYTHONUSERBASE=str(ub), PYTHONPATH=str(tmp_path / "early"))
    report = check_all(BASE_PYTHON, cwd, env)
    mods = {m["name"]: m for m in report["modules"]}
    assert mods["edpkg"]["finder"] == finder
    assert mods["edpkg"]["origin"] == str(src / "edpkg" / "__init__.py")
    assert mods["edmod"]["origin"] == str(src / "edmod.py")
    assert "edgone" not in mods  # mapped, but nothing there: ModuleNotFoundError
    assert mods["edshadow"]["origin"] == str(tmp_path / "early" / "edshadow.py")
    assert mods["edshadow"]["shadowed"][0]["origin"] == str(src / "edshadow.py")
    exp = doctor.explain(report, "edpkg")
    assert "editable-install finder" in exp["why"]
