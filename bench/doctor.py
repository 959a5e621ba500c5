#!/usr/bin/env python3
"""The doctor against pip check and pipdeptree on the same environment.

Runs each command on this virtualenv N times, interleaved so background load
hits all of them alike, and prints one table of medians and ratios.

    .venv/bin/python bench/doctor.py [--runs 11] [--write]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import append_section

PY = sys.executable
BIN = Path(PY).parent


def timed(argv: list[str], cwd: str) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, cwd=cwd, timeout=300)
    dt = time.perf_counter() - t0
    # pip check exits 1 when requirements conflict; that is a result, not a failure.
    if res.returncode not in (0, 1):
        raise RuntimeError(f"{argv}: exit {res.returncode}: {res.stderr[-500:]!r}")
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args(argv)
    pipdeptree = shutil.which("pipdeptree", path=str(BIN)) or shutil.which("pipdeptree")
    commands = {
        "lazypath doctor --json": [str(BIN / "lazypath"), "doctor", "--json"],
        "pip check": [PY, "-m", "pip", "check"],
    }
    if pipdeptree:
        commands["pipdeptree"] = [pipdeptree, "--python", PY]
    cwd = tempfile.mkdtemp(prefix="lazypath-doctor-bench-")
    try:
        report = json.loads(
            subprocess.run(
                commands["lazypath doctor --json"],
                capture_output=True,
                cwd=cwd,
                check=True,
                timeout=300,
            ).stdout
        )
        for argv_ in commands.values():  # warm-up
            timed(argv_, cwd)
        samples: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.runs):
            for name, argv_ in commands.items():
                samples[name].append(timed(argv_, cwd))
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in samples.items()}
    base = med["lazypath doctor --json"]
    names = len(report.get("modules", []))
    dists = len(report.get("distributions", []))
    lines = [
        f"Doctor on this virtualenv ({names} top-level names, {dists} distributions; "
        f"median of {args.runs}, interleaved):",
        "",
        "| command | median | ratio to doctor | covers |",
        "|---|---:|---:|---|",
    ]
    covers = {
        "lazypath doctor --json": "every name resolved; shadowing, duplicates, metadata, .pth, "
        "permissions",
        "pip check": "declared requirements satisfied",
        "pipdeptree": "dependency tree; conflicting requirements",
    }
    for name, m in med.items():
        lines.append(f"| `{name}` | {m * 1000:.0f} ms | {m / base:.2f}x | {covers[name]} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        append_section("Doctor", ".venv/bin/python bench/doctor.py --write", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
