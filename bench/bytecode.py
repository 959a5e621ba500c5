"""Bytecode from the node cache: a new digest recompiles only what changed.

    .venv/bin/python bench/bytecode.py [--modules 2000] [--runs 7] [--record]

Generates an app of `--modules` modules (packages of 25, a few KB each, with
the usual stdlib imports; bench/gen_tree.py's source generator), pushes it
and imports it once through lazypath, so the node cache holds its bytecode.
Then, each run: one module is edited, the app is pushed again (a new digest)
and pulled into the node cache (not timed), and each contestant imports
every module in a fresh interpreter, in an order that rotates from run to
run:

- lazypath: `lazypath.activate(store, digest)` then the imports; its first
  import of that digest on the node. Twice, with PYTHONDONTWRITEBYTECODE=1
  and with it unset, each with its own node cache so neither profits from
  the other's compile of the edited module.
- lazypath, LAZYPATH_BYTECODE=off: Python's own loader on the tree (every
  module compiled, nothing kept).
- plain directory, warm: the same files (same edit) in a directory whose
  __pycache__ a previous import filled, PYTHONDONTWRITEBYTECODE unset; and
  the same in a process that first imported lazypath and activated the
  digest (so the app comes from the directory, not the tree): what having
  lazypath in the process costs the imports, apart from the bytecode cache.
- plain directory, cold: no __pycache__, PYTHONDONTWRITEBYTECODE=1.

"import" is the time the imports take inside the interpreter, "import CPU"
the CPU time they take (which the load of a shared machine moves less);
"process" the interpreter's whole life as the parent sees it (start,
lazypath's own import and its warm activation included); "compiled" the
modules the lazypath contestants compiled (median). Medians of --runs;
ratios against the warm plain directory, from the same runs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tree import python_source  # noqa: E402
from results import publish  # noqa: E402

CHILD = r"""
import os, sys, time
t0 = time.perf_counter()
names = open(sys.argv[1]).read().split()
if sys.argv[2] == "lazypath":
    import lazypath
    lazypath.activate(sys.argv[3], sys.argv[4])
if sys.argv[2] == "plain+lazypath":  # lazypath in the process, the app from a directory
    import lazypath
    lazypath.activate(sys.argv[4], sys.argv[5])
if sys.argv[2] != "lazypath":
    sys.path.insert(0, sys.argv[3])
t1, c1 = time.perf_counter(), time.process_time()
for name in names:
    __import__(name)
t2, c2 = time.perf_counter(), time.process_time()
misses = -1
bc = sys.modules.get("lazypath._bytecode")
if sys.argv[2] == "lazypath" and bc is not None and bc._path_hook in sys.path_hooks:
    misses = bc.stats["misses"]
print(t1 - t0, t2 - t1, misses, c2 - c1)
"""


def generate(root: str, modules: int, seed: int = 7) -> list[str]:
    """Writes the app under root/bapp; returns its module names."""
    rng = random.Random(seed)
    names = []
    per = 25
    for p in range((modules + per - 1) // per):
        pkg = f"bapp/pkg_{p}"
        os.makedirs(os.path.join(root, pkg), exist_ok=True)
        for m in range(min(per, modules - p * per)):
            rel = f"{pkg}/__init__.py" if m == 0 else f"{pkg}/mod_{m}.py"
            with open(os.path.join(root, rel), "wb") as f:
                f.write(python_source(rng, int(rng.lognormvariate(8.0, 0.6))))
            names.append(rel[:-3].replace("/", ".").removesuffix(".__init__"))
    with open(os.path.join(root, "bapp", "__init__.py"), "w") as f:
        f.write('"""The generated app."""\n')
    return ["bapp", *names]


def edit(root: str, run: int, modules: int) -> None:
    """One module changes: a new constant appended to it."""
    rel = f"bapp/pkg_{run % (modules // 25)}/mod_{1 + run % 24}.py"
    with open(os.path.join(root, rel), "a") as f:
        f.write(f"\nEDIT_{run} = {run}\n")


def env_for(dont_write: bool, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("LAZYPATH_BYTECODE", None)
    if dont_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def measure(argv: list[str], env: dict) -> tuple[float, float, float, int, float]:
    """(setup, import, process) seconds, the module compiles it counted and
    the import's CPU seconds."""
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"bytecode bench: {argv[2:4]} failed:\n{res.stderr}")
    setup, imports, misses, cpu = res.stdout.split()
    return float(setup), float(imports), wall, int(misses), float(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    import lazypath

    with tempfile.TemporaryDirectory(prefix="lp-bytecode-") as tmp:
        src = os.path.join(tmp, "src")
        names = generate(src, args.modules)
        listing = os.path.join(tmp, "modules.txt")
        with open(listing, "w") as f:
            f.write("\n".join(names))
        store = os.path.join(tmp, "store")
        caches = {"dwb": os.path.join(tmp, "cache-dwb"), "wb": os.path.join(tmp, "cache-wb")}
        warm = os.path.join(tmp, "plain-warm")
        cold = os.path.join(tmp, "plain-cold")
        shutil.copytree(src, warm)
        shutil.copytree(src, cold)
        child = [sys.executable, "-c", CHILD, listing]

        def lp(cache_key: str, dont_write: bool, extra: dict | None = None):
            def go(digest: str):
                env = env_for(dont_write, {"LAZYPATH_CACHE": caches[cache_key], **(extra or {})})
                return measure([*child, "lazypath", store, digest], env)

            return go

        def plain(d: str, dont_write: bool):
            return lambda digest: measure([*child, "plain", d, ""], env_for(dont_write))

        contestants = {
            "lazypath, PYTHONDONTWRITEBYTECODE=1": lp("dwb", True),
            "lazypath, PYTHONDONTWRITEBYTECODE unset": lp("wb", False),
            "lazypath, LAZYPATH_BYTECODE=off": lp("dwb", True, {"LAZYPATH_BYTECODE": "off"}),
            "plain directory, warm .pyc": plain(warm, False),
            "plain directory, warm .pyc, lazypath activated in the process": (
                lambda digest: measure(
                    [*child, "plain+lazypath", warm, store, digest],
                    env_for(False, {"LAZYPATH_CACHE": caches["wb"]}),
                )
            ),
            "plain directory, cold (no .pyc)": plain(cold, True),
        }
        # The node had the previous version: its bytecode is in each cache,
        # the warm directory has its __pycache__.
        digest = lazypath.push(src, store)
        for key, cache in caches.items():
            lazypath.pull(store, digest, cache_dir=cache)
            lp(key, key == "dwb")(digest)
        plain(warm, False)("")
        print(f"{len(names)} modules; {args.runs} runs", file=sys.stderr)
        got: dict = {name: [] for name in contestants}
        for run in range(args.runs):
            for d in (src, warm, cold):
                edit(d, run, args.modules)
            digest = lazypath.push(src, store)
            for cache in caches.values():
                lazypath.pull(store, digest, cache_dir=cache)
            order = list(contestants)
            order = order[run % len(order) :] + order[: run % len(order)]
            for name in order:
                got[name].append(contestants[name](digest))
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    def med(name: str, i: int) -> float:
        return statistics.median(r[i] for r in got[name])

    base = "plain directory, warm .pyc"
    rows = [
        ["contestant", "import", "x warm", "import CPU", "x warm", "process", "x warm", "compiled"],
        ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
    ]
    for name in contestants:
        compiled = statistics.median(r[3] for r in got[name])
        rows.append(
            [
                name,
                f"{med(name, 1) * 1e3:.0f} ms",
                f"{med(name, 1) / med(base, 1):.2f}x",
                f"{med(name, 4) * 1e3:.0f} ms",
                f"{med(name, 4) / med(base, 4):.2f}x",
                f"{med(name, 2) * 1e3:.0f} ms",
                f"{med(name, 2) / med(base, 2):.2f}x",
                "-" if compiled < 0 else f"{compiled:.0f}",
            ]
        )
    title = f"Bytecode after a one-file edit: {len(names)} modules, first import on the node"
    publish(title, "bench/bytecode.py", sys.argv[1:], rows, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
