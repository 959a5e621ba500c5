"""Push-time portability checks (include/lazypath/portability.h): warnings by
default, refusals with push --strict / push(strict=True), before any upload."""

from __future__ import annotations

import os
import subprocess
import sys

import lazypath
import pytest


def _tree(root):
    root.mkdir(parents=True)
    (root / "Json.py").write_text("")  # differs only in case from stdlib json
    (root / "Rich").mkdir()  # ... from rich, installed on this sys.path
    (root / "Rich" / "__init__.py").write_text("")
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / ("n" * 150 + ".py")).write_text("")  # longer than eCryptfs allows
    secret = root / "app" / "secret.py"
    secret.write_text("TOKEN = 1\n")
    os.chmod(secret, 0o600)
    return root


def _store_objects(store):
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def test_warnings_then_strict_refuses_before_uploading(tmp_path):
    src = _tree(tmp_path / "src")
    store = tmp_path / "store"
    report = lazypath.push_report(str(src), str(store), cache_dir=str(tmp_path / "c"))
    w = report.warnings
    assert w == report.to_dict()["warnings"]
    assert w[0] == (
        "Json.py: top-level name 'Json' differs only in case from the standard-library module"
        " 'json'"
    )
    assert (
        w[1]
        == "Rich: top-level name 'Rich' differs only in case from 'rich' on the target's sys.path"
    )
    assert any(x.startswith("app/nnnn") and "(eCryptfs allows 143)" in x for x in w)
    assert "app/secret.py: not readable by others (mode 0600); the node cache makes it" in w[-1]
    assert len(w) == 4
    strict_store = tmp_path / "strict-store"
    with pytest.raises(lazypath.InvalidInputError) as e:
        lazypath.push(str(src), str(strict_store), strict=True, cache_dir=str(tmp_path / "c"))
    assert str(e.value).startswith("push --strict: Json.py: top-level name 'Json'")
    assert "(4 portability problem(s); nothing was uploaded)" in str(e.value)
    assert "\n" not in str(e.value)
    assert not strict_store.exists() or _store_objects(strict_store) == []
    # A clean tree pushes strictly.
    clean = tmp_path / "clean"
    (clean / "ok").mkdir(parents=True)
    (clean / "ok" / "__init__.py").write_text("")
    assert lazypath.push_report(str(clean), str(store), strict=True).warnings == []


def test_cli_prints_warnings_and_strict_fails(tmp_path):
    src = _tree(tmp_path / "src")
    exe = os.path.join(os.path.dirname(sys.executable), "lazypath")
    env = {**os.environ, "LAZYPATH_CACHE": str(tmp_path / "c")}
    r = subprocess.run(
        [exe, "push", str(src), str(tmp_path / "s")], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("lazypath: warning: ")]
    assert len(warnings) == 4 and warnings[0].endswith("standard-library module 'json'")
    r = subprocess.run(
        [exe, "push", "--strict", str(src), str(tmp_path / "s2")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("lazypath: error: push --strict: Json.py:")
    assert "nothing was uploaded" in r.stderr
