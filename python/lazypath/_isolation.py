"""Running `lazypath doctor` where the environment it inspects is not safe to import from.

The environment being diagnosed may shadow the standard library (a json.py
on PYTHONPATH, a stat.py in the cwd) or run code at startup (a
sitecustomize.py there). The doctor must keep working and must not import
that code itself, so when this process could have picked any of it up, it
replaces itself (exec, so nothing more is imported here) with an
interpreter that ignores PYTHON* variables and the cwd; the target it
inspects still gets them. This module imports only os and sys.
"""

from __future__ import annotations

import os
import sys

CHILD_MARK = "LAZYPATH_DOCTOR_ISOLATED"

_CHILD = (
    "import sys\n"
    "del sys.path[0]\n"  # '' (the cwd) from -c
    "from lazypath.doctor.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def exposed() -> bool:
    """True when this process's own imports could come from the user's path."""
    if os.environ.get(CHILD_MARK) == "1":
        return False
    if os.environ.get("PYTHONPATH") and not sys.flags.ignore_environment:
        return True
    head = sys.path[0] if sys.path else None
    return head is not None and head in ("", ".", os.getcwd())


def rerun(argv: list) -> int:
    """Replaces this process with an isolated one running `lazypath doctor
    ARGV...`; returns (status 1, after one line on stderr) only if it can't."""
    env = dict(os.environ)
    env[CHILD_MARK] = "1"
    args = list(argv)
    if "doctor" in args:
        args.remove("doctor")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-E", "-c", _CHILD, "doctor", *args], env)
    except OSError as e:
        sys.stderr.write(f"lazypath: error: cannot start {sys.executable}: {e.strerror or e}\n")
        return 1
    return 1  # not reached
