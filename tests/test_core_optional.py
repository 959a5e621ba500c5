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
