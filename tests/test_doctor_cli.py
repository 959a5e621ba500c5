"""`lazypath doctor` front end: JSON, HTML, --explain, --diff, --fail-on, bad input, --ray."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from lazypath import doctor
from lazypath.doctor import cli

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None, env=None):
    """Runs the doctor CLI in a subprocess; returns (rc, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    e.update(env or {})
    p = subprocess.run(
        [sys.executable, "-m", "lazypath.doctor.cli", *args],
        cwd=cwd,
        env=e,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def shadowing_env(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "turtle.py").write_text("")  # a stdlib module the tool itself never imports
    (app / "mine.py").write_text("")
    return tmp_path, {"PYTHONPATH": str(app)}


def test_json_is_stable_and_complete(shadowing_env):
    cwd, env = shadowing_env
    rc, out, err = run_cli("--json", cwd=cwd, env=env)
    assert rc == 0, err
    r1 = json.loads(out)
    rc, out2, _ = run_cli("--json", cwd=cwd, env=env)
    assert out2 == out  # same environment, byte-identical report
    assert r1["schema"] == 1
    assert list(r1)[:4] == ["schema", "python", "cwd", "flags"]
    assert {"entries", "modules", "distributions", "findings", "summary"} <= set(r1)
    for f in r1["findings"]:
        assert set(f) == {"code", "severity", "subject", "message", "evidence", "hint"}
        assert f["severity"] in doctor.SEVERITIES
    assert any(f["code"] == "shadowed-stdlib" and f["subject"] == "turtle" for f in r1["findings"])


def test_terminal_report_and_fail_on(shadowing_env):
    cwd, env = shadowing_env
    rc, out, err = run_cli(cwd=cwd, env=env)
    assert rc == 0, err
    assert "shadowed-stdlib" in out and "fix:" in out
    assert "\x1b[" not in out  # no colour when stdout is not a TTY
    rc, _, err = run_cli("--fail-on", "error", cwd=cwd, env=env)
    assert rc == 1 and "at or above 'error'" in err
    rc, _, err = run_cli("--fail-on", "error", cwd=cwd)  # clean environment
    assert rc == 0, err


def test_html_is_self_contained(shadowing_env, tmp_path):
    cwd, env = shadowing_env
    out = tmp_path / "r.html"
    rc, _, err = run_cli("--html", str(out), cwd=cwd, env=env)
    assert rc == 0, err
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "shadowed-stdlib" in text
    assert "<script src" not in text and "<link" not in text and "http://" not in text


def test_explain(shadowing_env):
    cwd, env = shadowing_env
    rc, out, err = run_cli("--explain", "turtle.x", "--json", cwd=cwd, env=env)
    assert rc == 0, err
    exp = json.loads(out)
    assert exp["name"] == "turtle" and exp["origin"].endswith("app/turtle.py")
    assert exp["shadows"] and exp["shadows"][0]["origin"].endswith("/turtle.py")
    assert exp["findings"][0]["code"] == "shadowed-stdlib"
    rc, out, _ = run_cli("--explain", "sys", cwd=cwd)
    assert rc == 0 and "built-in" in out and "compiled into the interpreter" in out
    rc, out, _ = run_cli("--explain", "no_such_module_xyz", cwd=cwd)
    assert rc == 0 and "ModuleNotFoundError" in out


def test_diff(shadowing_env, tmp_path):
    cwd, env = shadowing_env
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(run_cli("--json", cwd=cwd)[1])
    b.write_text(run_cli("--json", cwd=cwd, env=env)[1])
    rc, out, err = run_cli("--diff", str(a), str(b), "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["entries"]["only_b"] == [env["PYTHONPATH"]]
    assert "mine" in d["modules"]["only_b"]
    assert [c["name"] for c in d["modules"]["changed"]] == ["turtle"]
    rc, out, _ = run_cli("--diff", str(a), str(a))
    assert rc == 0 and "no differences" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--python", "/nonexistent/python3"], "does not exist"),
        (["--python", "/bin/false"], "exited with status 1"),
        (["--python", "/etc"], "not an executable file"),
        (["--python", "definitely-not-a-python-xyz"], "not found"),
        (["--diff", "/nonexistent/a.json", "/nonexistent/b.json"], "no such file"),
        (["--ray", "127.0.0.1:1"], "unreachable"),
        (["--ray", "not-an-address"], "expected HOST:PORT"),
    ],
)
def test_bad_input_one_line_errors(args, needle):
    rc, out, err = run_cli(*args)
    assert rc == 1, (out, err)
    assert needle in err
    assert err.startswith("lazypath: error: ") and err.count("\n") == 1


def test_python2_is_refused_clearly():
    py2 = os.path.expanduser("~/.pyenv/versions/2.7.18/bin/python2")
    if not os.path.exists(py2):
        pytest.skip("no Python 2 here")
    rc, _, err = run_cli("--python", py2)
    assert rc == 1 and "needs Python 3.6 or newer; this is Python 2.7" in err


def test_bad_facts_are_invalid_input():
    from lazypath.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="doctor facts"):
        doctor.analyze({"sys_path": 3})


def test_interpreter_that_does_not_start(tmp_path):
    bad = tmp_path / "python"
    bad.write_text("#!/bin/sh\necho 'Fatal Python error: init_fs_encoding' >&2\nexit 1\n")
    bad.chmod(0o755)
    rc, _, err = run_cli("--python", str(bad))
    assert rc == 1 and "Fatal Python error" in err and err.count("\n") == 1


def test_usage_errors():
    assert run_cli("--diff", "a", "b", "--python", "x")[0] == 2
    assert run_cli("--runtime-env", "{}")[0] == 2
    assert run_cli("--fail-on", "fatal")[0] == 2


def test_broken_metadata_and_unreadable_entries(tmp_path):
    site = tmp_path / "site"
    (site / "broken-1.0.dist-info").mkdir(parents=True)
    (site / "broken-1.0.dist-info" / "METADATA").write_bytes(b"\xff\xfe garbage, no headers")
    (site / "empty-2.0.dist-info").mkdir()
    locked = tmp_path / "locked"
    (locked / "hidden.py").parent.mkdir()
    (locked / "hidden.py").write_text("")
    locked.chmod(0)
    try:
        env = {"PYTHONPATH": os.pathsep.join([str(site), str(locked)])}
        rc, out, err = run_cli("--json", cwd=tmp_path, env=env)
    finally:
        locked.chmod(0o755)
    assert rc == 0, err
    r = json.loads(out)
    broken = [f for f in r["findings"] if f["code"] == "broken-metadata"]
    assert {f["subject"] for f in broken} == {"broken", "empty"}
    if os.geteuid() != 0:  # root can list anything
        assert any(f["code"] == "unreadable-entry" for f in r["findings"])


def test_world_writable_entry(tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    w.chmod(0o777)
    rc, out, _ = run_cli("--json", cwd=tmp_path, env={"PYTHONPATH": str(w)})
    r = json.loads(out)
    f = [f for f in r["findings"] if f["code"] == "writable-entry" and f["subject"] == str(w)]
    assert f and f[0]["severity"] == "error"
    assert stat.S_IMODE(w.stat().st_mode) == 0o777


def test_the_main_cli_registers_and_runs_the_doctor(capsys):
    from lazypath.cli import build_parser

    args = build_parser("doctor").parse_args(["doctor", "--explain", "os", "--json"])
    assert args.func is cli.run
    assert cli.run(args) == 0
    assert json.loads(capsys.readouterr().out)["origin"] == "frozen"


@pytest.mark.timeout(300)
def test_ray_cluster_two_nodes(tmp_path):
    ray = pytest.importorskip("ray")
    from lazypath.doctor import cluster as dc
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        extra = tmp_path / "mods"
        extra.mkdir()
        (extra / "only_in_env.py").write_text("")
        result = dc.diagnose_cluster(
            c.address, runtime_env={"env_vars": {"PYTHONPATH": str(extra)}}, timeout=240
        )
    finally:
        ray.shutdown()
        c.shutdown()
    assert result["nodes"] == 2
    hosts = [n for g in result["groups"] for n in g["nodes"]]
    assert len({n["node_id"] for n in hosts}) == 2
    for g in result["groups"]:
        names = {m["name"] for m in g["report"]["modules"]}
        assert "only_in_env" in names  # the runtime_env's PYTHONPATH reached the workers
        assert not g["identical_to_driver"]
        assert "only_in_env" in g["diff_vs_driver"]["modules"]["only_b"]


def test_doctor_survives_a_path_that_breaks_its_own_imports(tmp_path):
    """An empty json.py on PYTHONPATH and in the cwd breaks json.loads in any tool
    started there; the doctor re-runs itself isolated (-E, no cwd) and reports it."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "json.py").write_text("")
    (tmp_path / "json.py").write_text("")
    rc, out, err = run_cli(
        "--explain", "json", "--json", cwd=tmp_path, env={"PYTHONPATH": str(app)}
    )
    assert rc == 0, err
    exp = json.loads(out)
    assert exp["origin"] == str(tmp_path / "json.py")  # '' (the cwd) comes first for python -c
    assert [s["origin"] for s in exp["shadows"]][:1] == [str(app / "json.py")]
