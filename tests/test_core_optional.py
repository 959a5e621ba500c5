"""`import lazypath`, --version, --help and the doctor work where the core
extension can't load; every other verb fails with one line naming it."""

from __future__ import annotations

import json
import subprocess
import sys

# Runs the CLI in a process where importing lazypath._core fails, as it does
# when one of its shared libraries is missing or broken.
RUN = (
    "import sys\n"
    "sys.modules['lazypath._core'] = None\n"
    "import lazypath\n"
    "from lazypath.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_version_help_and_doctor_need_no_core(tmp_path):
    assert _cli("--version").returncode == 0
    helped = _cli("--help")
    assert helped.returncode == 0 and "push" in helped.stdout
    assert _cli("push", "--help").returncode == 0
    doctor = _cli("doctor", "--json", cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stderr
    assert json.loads(doctor.stdout)["schema"] == 1


def test_other_verbs_fail_in_one_line_naming_the_extension(tmp_path):
    for args in (
        ("ls", str(tmp_path)),
        ("push", str(tmp_path), str(tmp_path / "s")),
        ("cache", "ls"),
    ):
        res = _cli(*args)
        assert res.returncode == 1, res
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
        assert lines[0].startswith("lazypath: error: cannot load lazypath's core extension")
        assert "lazypath._core" in lines[0]


def test_local_work_needs_no_libcurl_and_remote_stores_say_why_without_it(tmp_path):
    """libcurl is loaded through liblazypath_curl.so only when a request is
    made: a copy of the package without that shim pushes to a local store,
    and an https:// store fails in one line naming the shim."""
    import os
    import shutil

    import lazypath

    pkg = tmp_path / "site" / "lazypath"
    shutil.copytree(os.path.dirname(lazypath.__file__), pkg)
    (pkg / "liblazypath_curl.so").unlink()
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text("M = 1\n")
    env = {**os.environ, "PYTHONPATH": str(pkg.parent), "LAZYPATH_CACHE": str(tmp_path / "c")}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "lazypath", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )

    check = subprocess.run(
        [sys.executable, "-c", "import lazypath._core, sys; print(lazypath._core.__file__);"
         "print(open('/proc/self/maps').read())"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines()[0].startswith(str(pkg)), check.stdout
    assert "libcurl" not in check.stdout  # importing the core maps no libcurl
    pushed = cli("push", str(src), str(tmp_path / "store"))
    assert pushed.returncode == 0, pushed.stderr
    remote = cli("show", "https://127.0.0.1:9/store", "prod")
    assert remote.returncode == 1
    lines = remote.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in remote.stderr, remote.stderr
    assert "cannot load libcurl" in lines[0] and str(pkg / "liblazypath_curl.so") in lines[0]
