"""Many cold activations of one tree at once, against one alone.

    .venv/bin/python bench/concurrent_activation.py [--files 10000 --mb 200]
        [--procs 16] [--runs 5] [--record]

A generated tree (bench/gen_tree.py) is pushed in format 2 to a local file
store. Each round then times, on fresh node caches, in turn:

- one: a single `lazypath activate STORE DIGEST --json` process;
- many: --procs such processes started at once on one node cache, timed
  from the first start to the last exit.

The node cache lets one process fetch and build the tree while the others
wait on its lock and then use the published tree; the table shows the
median wall time of each, their ratio (taken round by round), and the bytes
read from the store summed over the processes, which should equal one
activation's: each blob is fetched once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import publish  # noqa: E402

LAZYPATH = str(Path(sys.executable).with_name("lazypath"))


def activate_all(store: str, digest: str, cache: Path, procs: int) -> tuple[float, int]:
    """(wall seconds, bytes read summed over the processes)."""
    cmd = [LAZYPATH, "activate", store, digest, "--json", "--cache", str(cache)]
    start = time.perf_counter()
    running = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(procs)]  # fmt: skip
    read = 0
    for p in running:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"concurrent_activation: activate failed: {err.strip()}")
        read += int(json.loads(out)["bytes_read"])
    return time.perf_counter() - start, read


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lazypath-concurrent-") as tmp:
        work = Path(tmp)
        tree = work / "tree"
        gen = [sys.executable, str(HERE / "gen_tree.py"), "--files", str(args.files)]
        subprocess.run([*gen, "--mb", str(args.mb), str(tree)], check=True, capture_output=True)
        store = str(work / "store")
        env = {**os.environ, "LAZYPATH_CACHE": str(work / "push-cache")}
        pushed = subprocess.run([LAZYPATH, "push", str(tree), store], env=env, check=True,
                                capture_output=True, text=True)  # fmt: skip
        digest = pushed.stdout.strip().splitlines()[-1]
        one, many, ratios, bytes_one, bytes_many = [], [], [], [], []
        for i in range(args.runs):
            t1, b1 = activate_all(store, digest, work / f"one-{i}", 1)
            tn, bn = activate_all(store, digest, work / f"many-{i}", args.procs)
            one.append(t1)
            many.append(tn)
            ratios.append(tn / t1)
            bytes_one.append(b1)
            bytes_many.append(bn)
            for d in (work / f"one-{i}", work / f"many-{i}"):
                shutil.rmtree(d, ignore_errors=True)

    def mib(n: float) -> str:
        return f"{n / (1 << 20):.1f} MiB"

    table = [
        ["contestant", "wall (median)", "x one", "read from the store (median)"],
        ["---", "---:", "---:", "---:"],
        ["one activation", f"{statistics.median(one):.2f} s", "1.00x",
         mib(statistics.median(bytes_one))],
        [f"{args.procs} activations at once", f"{statistics.median(many):.2f} s",
         f"{statistics.median(ratios):.2f}x", mib(statistics.median(bytes_many))],
    ]  # fmt: skip
    title = f"{args.procs} concurrent cold activations vs one, {args.files} files / {args.mb:g} MiB"
    argv = argv if argv is not None else sys.argv[1:]
    publish(title, "bench/concurrent_activation.py", argv, table, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
