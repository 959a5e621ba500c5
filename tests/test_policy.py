"""The sys.path policy (lazypath/policy.py): parsing, each rule on a synthetic
sys.path, require against a probe, the Guard in this process, activate(...,
policy=...) and `lazypath run --policy` in plain processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import lazypath
import pytest
from lazypath import policy as lp
from lazypath import ray as lpray

# ----------------------------------------------------------------- parse


def test_parse_defaults_and_normalises():
    assert lp.parse(None) == {"shadowed": "warn", "drop": [], "require": {}}
    assert lp.parse({}) == {"shadowed": "warn", "drop": [], "require": {}}
    p = lp.parse('{"drop": ["pth-exec", "cwd", "cwd"], "require": {"python": ">=3.8"}}')
    assert p == {"shadowed": "warn", "drop": ["cwd", "pth-exec"], "require": {"python": ">=3.8"}}


@pytest.mark.parametrize(
    "value, needle",
    [
        ({"shadow": "error"}, "unknown key(s) ['shadow']"),
        ({"shadowed": "loud"}, "'shadowed' is 'loud'"),
        ({"drop": "cwd"}, "'drop' must be a list"),
        ({"drop": ["cwd", "nfs"]}, "unknown rule(s) ['nfs']"),
        ({"require": ["numpy"]}, "'require' must be an object"),
        ({"require": {"numpy": 2}}, "'require' 'numpy': want a PEP 440 specifier"),
        ({"require": {"numpy": ">>2"}}, "'require' 'numpy': Invalid specifier"),
        ("[1]", "must be a JSON object"),
        ("{nope", "not JSON"),
    ],
)
def test_parse_rejects_with_one_line(value, needle):
    with pytest.raises(lp.PolicyError) as e:
        lp.parse(value)
    msg = str(e.value)
    assert msg.startswith("lazypath: policy:") and "\n" not in msg
    assert needle in msg


def test_check_spec_validates_policy():
    base = {"store": "/s", "ref": "sha256:" + "0" * 64}
    out = lpray.check_spec({**base, "policy": {"drop": ["cwd"]}}, pinned=True)
    assert out["policy"] == {"shadowed": "warn", "drop": ["cwd"], "require": {}}
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['x'\]"):
        lpray.check_spec({**base, "policy": {"x": 1}}, pinned=True)
    with pytest.raises(ValueError, match="'shadowed' is 'no'"):
        lpray.check_spec({**base, "policy": {"shadowed": "no"}}, pinned=False)


def test_plugin_validate_rejects_a_bad_policy():
    pytest.importorskip("ray")
    from lazypath.ray_plugin import LazypathPlugin

    field = {"store": "/s", "ref": "sha256:" + "0" * 64}
    LazypathPlugin.validate({"lazypath": {**field, "policy": {"shadowed": "error"}}})
    with pytest.raises(ValueError) as e:
        LazypathPlugin.validate({"lazypath": {**field, "policy": {"drop": ["cwd", "nfs"]}}})
    assert str(e.value) == (
        "lazypath: policy: 'drop' has unknown rule(s) ['nfs'];"
        " known: ['cwd', 'relative', 'missing', 'writable', 'pth-exec']"
    )


def test_env_round_trip():
    p = lp.parse({"shadowed": "tree-first", "drop": ["cwd", "missing"]})
    e = lp.env(lp.worker_part(p), "/t", node="n")
    assert e == {
        lp.ENV_VAR: "shadowed=tree-first;drop=cwd,missing",
        lp.TREE_VAR: "/t",
        lp.NODE_VAR: "n",
    }
    assert lp.from_env(e[lp.ENV_VAR]) == p
    full = lp.parse({"require": {"python": ">=3"}})
    assert lp.from_env(lp.env(full, None)[lp.ENV_VAR]) == full
    with pytest.raises(lp.PolicyError):
        lp.from_env("shadowed=loud")


def test_load_file_or_inline(tmp_path):
    f = tmp_path / "p.json"
    f.write_text('{"shadowed": "error"}')
    assert lp.load(str(f))["shadowed"] == "error"
    assert lp.load('{"shadowed": "tree-first"}')["shadowed"] == "tree-first"
    with pytest.raises(lp.PolicyError, match="cannot read"):
        lp.load(str(tmp_path / "missing.json"))


# ------------------------------------------------------ rules on a sys.path


def _tree(tmp_path, names=("app", "util")):
    tree = tmp_path / "tree"
    for n in names:
        (tree / n).mkdir(parents=True)
        (tree / n / "__init__.py").write_text("")
    (tree / "single.py").write_text("")
    return str(tree)


def test_drop_each_rule(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "rel").mkdir()
    ok = tmp_path / "ok"
    ok.mkdir()
    world = tmp_path / "world"
    world.mkdir()
    os.chmod(world, 0o777)
    added = tmp_path / "added"
    added.mkdir()
    path = ["", str(cwd), "rel", str(tmp_path / "gone"), str(world), str(added), str(ok)]
    pth = {str(added): "/site/x.pth:2"}
    policy = lp.parse({"drop": list(lp.DROP)})
    plan = lp.evaluate(policy, path, cwd=str(cwd), pth=pth, node="n1")
    assert plan.path == [str(ok)]
    reasons = [(r["entry"], r["reason"]) for r in plan.removed]
    assert reasons == [
        ("", "cwd"),
        (str(cwd), "cwd"),
        ("rel", "relative"),
        (str(tmp_path / "gone"), "missing"),
        (str(world), "writable"),
        (str(added), "pth-exec"),
    ]
    lines = plan.lines()
    assert len(lines) == 6 and all(
        ln.startswith("lazypath: policy: node n1: dropped") for ln in lines
    )
    assert "mode 0777" in lines[4] and "/site/x.pth:2" in lines[5]
    # Only the rules asked for apply.
    plan = lp.evaluate(lp.parse({"drop": ["missing"]}), path, cwd=str(cwd), pth=pth)
    assert [r["reason"] for r in plan.removed] == ["missing"]
    # A stdlib zip that does not exist is kept (CPython lists it whether or not it exists).
    plan = lp.evaluate(policy, ["/usr/lib/python311.zip"], cwd=str(cwd), pth={})
    assert plan.removed == []


def test_pth_exec_entries(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "a").mkdir()
    (site / "b").mkdir()
    (site / "exec.pth").write_text("# c\na\nimport os; os.environ\n")
    (site / "plain.pth").write_text("b\n")
    found = lp.pth_exec_entries([str(site)])
    assert found == {str(site / "a"): f"{site / 'exec.pth'}:2"}


def test_shadowed_warn_error_tree_first(tmp_path):
    tree = _tree(tmp_path)
    old = tmp_path / "old"
    (old / "app").mkdir(parents=True)
    (old / "app" / "__init__.py").write_text("")
    (old / "single.py").write_text("")
    (old / "util").mkdir()  # a namespace portion: loses to the tree's regular package
    path = [str(old), "/nonexistent", tree, "/usr/lib"]
    warn = lp.evaluate(lp.parse({}), path, tree=tree, node="n1")
    assert [s["name"] for s in warn.shadowed] == ["app", "single"]
    assert warn.path == path and not warn.refusals
    assert warn.warnings[0].startswith("lazypath: policy: warning: node n1: 'app' resolves from")
    err = lp.evaluate(lp.parse({"shadowed": "error"}), path, tree=tree, node="n1")
    assert err.path == path and len(err.refusals) == 2
    line = err.refusals[0]
    assert "node n1" in line and "'app'" in line and str(old / "app" / "__init__.py") in line
    assert "\n" not in line
    first = lp.evaluate(lp.parse({"shadowed": "tree-first"}), path, tree=tree, node="n1")
    assert first.path == [tree, str(old), "/nonexistent", "/usr/lib"]
    assert first.moved == [
        {"entry": tree, "from": 2, "to": 0, "ahead_of": str(old), "names": ["app", "single"]}
    ]
    assert "moved the tree" in first.lines()[0]
    # A dropped entry shadows nothing.
    both = lp.evaluate(
        lp.parse({"shadowed": "error", "drop": ["cwd"]}), path, tree=tree, cwd=str(old)
    )
    assert not both.refusals and [r["entry"] for r in both.removed] == [str(old)]
    # Nothing ahead of the tree: nothing to say.
    clean = lp.evaluate(lp.parse({"shadowed": "error"}), [tree, str(old)], tree=tree)
    assert not clean.lines()
    gone = lp.evaluate(lp.parse({}), [str(old)], tree=tree)
    assert "is not on sys.path" in gone.warnings[0]


def test_check_require():
    found = {
        "python": "3.11.7",
        "executable": "/venv/bin/python",
        "dists": {"numpy": ["2.1.0", "/venv/site"]},
    }
    policy = lp.parse({"require": {"numpy": ">=1.26,<2", "python": "3.11.*", "absent": ">=1"}})
    out = lp.check_require(policy, found, node="n1")
    assert out == [
        "lazypath: policy: node n1: requires numpy>=1.26,<2; found numpy 2.1.0 at /venv/site",
        "lazypath: policy: node n1: requires absent>=1; absent is not installed for"
        " /venv/bin/python",
    ]
    assert lp.check_require(lp.parse({"require": {"python": "<3"}}), found, "n")[0].endswith(
        "found python 3.11.7 at /venv/bin/python"
    )
    here = lp.probe(["packaging"])
    assert here["dists"]["packaging"][0]
    assert lp.probe_interpreter(sys.executable, ["packaging"]) == here


# ------------------------------------------------------ in a process


def test_guard_applies_later_changes(tmp_path):
    tree = _tree(tmp_path)
    old = tmp_path / "old"
    (old / "app").mkdir(parents=True)
    (old / "app" / "__init__.py").write_text("")
    code = f"""
import sys, json
sys.path.insert(0, {tree!r})
from lazypath import policy
g = policy.install({{"shadowed": "error", "drop": ["missing"]}}, {tree!r}, node="n1")
sys.path.insert(0, {str(old)!r})
sys.path.insert(0, "/does/not/exist")
try:
    import app
    print("imported", app.__file__)
except ImportError as e:
    print("refused", e)
print(json.dumps(policy.report()))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("refused lazypath: policy: node n1: 'app' resolves from")
    rep = json.loads(out[1])
    assert [x["entry"] for x in rep["removed"]] == ["/does/not/exist"]
    assert "/does/not/exist" not in rep["sys_path"]
    assert any("dropped sys.path entry '/does/not/exist'" in m for m in rep["messages"])
    assert "dropped sys.path entry '/does/not/exist'" in r.stderr


def _store_with_tree(tmp_path):
    src = tmp_path / "src"
    (src / "app").mkdir(parents=True)
    (src / "app" / "__init__.py").write_text("WHERE = 'tree'\n")
    store = str(tmp_path / "store")
    digest = lazypath.push(str(src), store)
    return store, digest


def test_activate_with_policy(tmp_path):
    store, digest = _store_with_tree(tmp_path)
    cache = tmp_path / "cache"
    old = tmp_path / "old"
    (old / "app").mkdir(parents=True)
    (old / "app" / "__init__.py").write_text("WHERE = 'old'\n")
    code = f"""
import sys, lazypath
from lazypath import policy
try:
    lazypath.activate({store!r}, {digest!r}, cache_dir={str(cache)!r},
                      policy={{"require": {{"no-such-dist-xyz": ">=1"}}}})
except policy.PolicyViolation as e:
    print("violation", e)
    print("tree on path", any("trees" in p for p in sys.path))
t = lazypath.activate({store!r}, {digest!r}, cache_dir={str(cache)!r},
                      policy={{"shadowed": "tree-first", "drop": ["missing"]}})
sys.path.insert(0, {str(old)!r})
sys.path.insert(0, "/not/here")
import app
print(app.WHERE, sys.path.index(t.path), "/not/here" in sys.path)
try:
    lazypath.activate({store!r}, {digest!r}, cache_dir={str(cache)!r}, policy={{"drop": "x"}})
except ValueError as e:
    print("bad", e)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("violation lazypath: policy: node ")
    assert "requires no-such-dist-xyz>=1; no-such-dist-xyz is not installed" in out[0]
    assert out[1] == "tree on path False"
    assert out[2] == "tree 0 False"
    assert out[3].startswith("bad lazypath: policy: 'drop' must be a list")
    assert "moved the tree" in r.stderr


def _run(tmp_path, *args, cwd=None):
    exe = os.path.join(os.path.dirname(sys.executable), "lazypath")
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd or tmp_path)


@pytest.mark.parametrize("mode", ["eager", "lazy"])
def test_run_with_policy(tmp_path, mode):
    store, digest = _store_with_tree(tmp_path)
    cache = str(tmp_path / "cache")
    work = tmp_path / "work"
    (work / "app").mkdir(parents=True)  # an old copy in the cwd, which `python -c` puts first
    (work / "app" / "__init__.py").write_text("WHERE = 'cwd'\n")
    probe = "import sys, app; print(app.WHERE); print(sys.path[:2])"
    common = ["run", store, digest, "--mode", mode, "--cache", cache]
    r = _run(tmp_path, *common, "--", sys.executable, "-c", probe, cwd=work)
    assert r.stdout.splitlines()[0] == "cwd"  # without a policy the cwd wins
    pol = '{"shadowed": "tree-first"}'
    r = _run(tmp_path, *common, "--policy", pol, "--", sys.executable, "-c", probe, cwd=work)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "tree"
    assert "lazypath: policy: node" in r.stderr and "moved the tree" in r.stderr
    assert "_site" not in r.stdout
    pol = '{"shadowed": "error"}'
    r = _run(tmp_path, *common, "--policy", pol, "--", sys.executable, "-c", probe, cwd=work)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: lazypath: policy: node ")
    assert f"'app' resolves from {work / 'app' / '__init__.py'}" in last
    pol = '{"drop": ["cwd"]}'
    r = _run(tmp_path, *common, "--policy", pol, "--", sys.executable, "-c", probe, cwd=work)
    assert r.stdout.splitlines()[0] == "tree"
    assert "dropped sys.path entry ''" in r.stderr
    pol = '{"require": {"python": "<3"}}'
    r = _run(tmp_path, *common, "--policy", pol, "--", sys.executable, "-c", probe, cwd=work)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().endswith(
        f"requires python<3; found python {sys.version.split()[0]} at {sys.executable}"
    )
    r = _run(tmp_path, *common, "--policy", '{"drop": ["nfs"]}', "--", "true", cwd=work)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "lazypath: error: lazypath: policy: 'drop' has unknown rule(s) ['nfs'];"
        " known: ['cwd', 'relative', 'missing', 'writable', 'pth-exec']"
    )


@pytest.mark.parametrize(
    "policy",
    [
        {"shadowed": "tree-first", "drop": ["missing"]},
        {"shadowed": "error"},
        {"drop": ["cwd"], "require": {"rich": ">=1", "python": "<3"}},
    ],
)
def test_doctor_predicts_what_run_does(tmp_path, policy):
    store, digest = _store_with_tree(tmp_path)
    cache = str(tmp_path / "cache")
    tree = lazypath.pull(store, digest, cache_dir=cache).path
    work = tmp_path / "work"
    (work / "app").mkdir(parents=True)
    (work / "app" / "__init__.py").write_text("WHERE = 'cwd'\n")
    pol = json.dumps(policy)
    probe = (
        "import json, sys\n"
        "from lazypath import policy\n"
        "try:\n    import app; where = app.WHERE\nexcept ImportError as e:\n    where = str(e)\n"
        "print(json.dumps({'where': where, 'sys_path': sys.path, 'report': policy.report()}))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "not-there")}
    exe = os.path.join(os.path.dirname(sys.executable), "lazypath")
    run = subprocess.run(
        [exe, "run", store, digest, "--cache", cache, "--policy", pol, "--", sys.executable]
        + ["-c", probe],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    doc = subprocess.run(
        [exe, "doctor", "--json", "--policy", pol, "--tree", tree],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    predicted = json.loads(doc.stdout)["policy"]
    if predicted["require"]:  # the child never starts: its stderr is the refusal
        assert doc.returncode == 1 and run.returncode == 1
        assert run.stderr.strip().splitlines() == predicted["require"]
        assert predicted["require"][0].endswith(f"at {sys.executable}")
        return
    got = json.loads(run.stdout)
    assert got["sys_path"] == predicted["plan"]["sys_path"]
    assert got["report"]["messages"] == predicted["lines"]
    assert [r["entry"] for r in got["report"]["removed"]] == [
        r["entry"] for r in predicted["plan"]["removed"]
    ]
    if policy.get("shadowed") == "error":
        assert doc.returncode == 1
        assert got["where"] == predicted["refusals"][0]
        assert "lazypath: doctor: the policy would refuse 1 thing(s)" in doc.stderr
    else:
        assert doc.returncode == 0, doc.stderr
        assert got["where"] == "tree"
        assert predicted["plan"]["moved"][0]["ahead_of"] == ""
        assert str(tmp_path / "not-there") in [r["entry"] for r in predicted["plan"]["removed"]]
    # --fail-on keeps working alongside: the policy's own findings count too.
    gate = subprocess.run(
        [exe, "doctor", "--policy", pol, "--tree", tree, "--fail-on", "info"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert gate.returncode == 1


def test_runtime_env_helper_carries_the_policy(tmp_path):
    store, digest = _store_with_tree(tmp_path)
    env = lpray.runtime_env(store, digest, policy={"drop": ["cwd"]})
    assert env["lazypath"]["policy"] == {"shadowed": "warn", "drop": ["cwd"], "require": {}}
    assert lpray.check_spec(env["lazypath"], pinned=True) == env["lazypath"]
    with pytest.raises(ValueError, match="'shadowed' is 'x'"):
        lpray.runtime_env(store, digest, policy={"shadowed": "x"})
