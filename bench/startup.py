#!/usr/bin/env python3
"""What `import lazypath` and a warm `lazypath.activate()` add to interpreter start-up.

    .venv/bin/python bench/startup.py [--runs 41] [--record]

Pushes a small tree (a package of 20 modules) to a local file store in a temp
dir, activates it once so the node cache ($LAZYPATH_CACHE, also in the temp
dir) holds it, then times fresh interpreters, interleaved (one of each per
round, so load on a shared machine hits them alike), all with the same flags
and environment:

- baseline: `python -c pass`
- `python -c 'import lazypath'`
- `python -c 'import lazypath._core'` (the core extension and its shared libraries)
- `python -c 'import lazypath; lazypath.activate(STORE, REF)'` (warm cache)

Bytecode: one warm-up round runs with PYTHONDONTWRITEBYTECODE unset, so every
.pyc is written; the timed rounds run with PYTHONDONTWRITEBYTECODE=1 (they read
the .pyc files and write none). Each --package DIR times the two lazypath
rows again, interleaved, with PYTHONPATH=DIR, where DIR holds a copy of the
lazypath package (say one commit's python/lazypath with this build's
extension modules copied in): two of them give a before/after in one run,
both found first on sys.path (the installed rows also pay for the lookup in
site-packages). Prints a table of medians (wall clock, and the
child's CPU time, which a shared machine's load moves less) and the difference
from the baseline; --record appends it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from results import RESULTS, publish


def make_tree(root: str) -> str:
    pkg = os.path.join(root, "app", "app")
    os.makedirs(pkg)
    for i in range(20):
        with open(os.path.join(pkg, f"mod{i:02d}.py"), "w") as f:
            f.write(f"def f(x):\n    return x + {i}\n")
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write('"""A small app."""\n')
    return os.path.dirname(pkg)


def run_once(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall ms, CPU ms) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1e3, cpu * 1e3


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=41, help="timed rounds, each runs every row")
    ap.add_argument(
        "--package",
        metavar="DIR",
        action="append",
        default=[],
        help="also time the lazypath package in DIR (PYTHONPATH=DIR); repeatable",
    )
    ap.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    import lazypath

    load_start = loadavg()
    with tempfile.TemporaryDirectory(prefix="lp-bench-startup-") as root:
        store = os.path.join(root, "store")
        cache = os.path.join(root, "cache")
        digest = lazypath.push(make_tree(root), store, cache_dir=cache)
        env = dict(os.environ, LAZYPATH_CACHE=cache)
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = [sys.executable]
        contestants = [
            ("baseline: python -c pass", [*py, "-c", "pass"]),
            ("import lazypath", [*py, "-c", "import lazypath"]),
            ("import lazypath._core", [*py, "-c", "import lazypath._core"]),
            (
                "import lazypath; activate(warm)",
                [*py, "-c", f"import lazypath; lazypath.activate({store!r}, {digest!r})"],
            ),
        ]
        envs = [env] * len(contestants)
        lazypath_rows = [contestants[1], contestants[3]]
        for pkg in args.package:
            other = dict(env, PYTHONPATH=os.path.abspath(pkg))
            for name, argv in lazypath_rows:
                contestants.append((f"{name} [{pkg}]", argv))
                envs.append(other)
        for (_, argv), e in zip(contestants, envs):  # warm-up: writes .pyc, activates once
            run_once(argv, e)
        for e in envs:
            e["PYTHONDONTWRITEBYTECODE"] = "1"
        samples: list[list[tuple[float, float]]] = [[] for _ in contestants]
        for _ in range(args.runs):
            for i, ((_, argv), e) in enumerate(zip(contestants, envs)):
                samples[i].append(run_once(argv, e))
    load_end = loadavg()

    def med(i: int, k: int) -> float:
        return statistics.median(s[k] for s in samples[i])

    base_wall, base_cpu = med(0, 0), med(0, 1)
    rows = [
        ["contestant", "median wall", "added wall", "ratio", "median CPU", "added CPU"],
        ["---", "---:", "---:", "---:", "---:", "---:"],
    ]
    for i, (name, _) in enumerate(contestants):
        wall, cpu = med(i, 0), med(i, 1)
        rows.append(
            [
                name,
                f"{wall:.1f} ms",
                "—" if i == 0 else f"{wall - base_wall:+.1f} ms",
                f"{wall / base_wall:.2f}×",
                f"{cpu:.1f} ms",
                "—" if i == 0 else f"{cpu - base_cpu:+.1f} ms",
            ]
        )
    title = "Interpreter start-up: import lazypath, warm activate"
    publish(title, "bench/startup.py", sys.argv[1:], rows, args.record)
    notes = (
        f"- {args.runs} interleaved rounds, Python {sys.version.split()[0]}, timed with"
        " PYTHONDONTWRITEBYTECODE=1 after a warm-up that wrote the .pyc files;"
        " ratio = median wall ÷ baseline's\n"
        f"- /proc/loadavg (1, 5, 15 min): {load_start} at the start, {load_end} at the end\n"
    )
    print(notes)
    if args.record:
        with open(RESULTS, "a") as f:
            f.write("\n" + notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
