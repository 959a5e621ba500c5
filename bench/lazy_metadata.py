#!/usr/bin/env python3
"""Lazy activation's metadata, format 1 against format 2, side by side in one run.

    .venv/bin/python bench/lazy_metadata.py                # 10k files / 200 MiB
    .venv/bin/python bench/lazy_metadata.py --files 2000 --mb 40
    .venv/bin/python bench/lazy_metadata.py --record       # also append to RESULTS.md

The lazy rows of bench/format2.py without the rest of it: on a generated tree
(bench/gen_tree.py) pushed to one local file store per format, a fresh node opens
the tree lazily and materialises the package holding the deepest module (what the
import hook does on its first import: that directory and its parents), in a
subprocess through the core's LazyTree, the object the hook drives. It reports the
tree metadata read from the store (format 1: tree and index; format 2: tree record
and directory objects) when the tree opens and after that first import, the store
requests, and the time from open to the package on disk (median of --runs, a fresh
node cache each run, formats interleaved). No Python file of the tree is imported,
so bytecode writing does not matter here.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_tree  # noqa: E402
from format2 import Format, edit_target, human, log, ms, ratio  # noqa: E402
from results import publish  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lazypath-lazymeta-"))
    try:
        tree = work / "tree"
        log(f"generating {args.files} files / {args.mb:g} MiB in {tree}")
        gen_tree.generate(str(tree), files=args.files, mb=args.mb)
        fmts = {1: Format(work, 1), 2: Format(work, 2)}
        digests = {k: f.push(tree)["digest"] for k, f in fmts.items()}
        package = str(edit_target(tree).parent.relative_to(tree))
        got = {1: [], 2: []}
        for i in range(args.runs):
            for k, f in fmts.items():
                cache = str(work / f"node-{k}-{i}")
                got[k].append(f.lazy_metadata(digests[k], cache, package))
                shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    last = {k: v[-1] for k, v in got.items()}
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in got.items()}
    rows = [
        ["measure", "format 1", "format 2", "format 2 / format 1"],
        ["---", "---:", "---:", "---:"],
        [
            "metadata read when the tree opens",
            human(last[1]["opened"]),
            human(last[2]["opened"]),
            ratio(last[2]["opened"], last[1]["opened"]),
        ],
        [
            f"... and after the first import of `{package.replace('/', '.')}` (target: 64 KiB)",
            human(last[1]["imported"]),
            human(last[2]["imported"]),
            ratio(last[2]["imported"], last[1]["imported"]),
        ],
        [
            "store requests: to open / in all after that import",
            f"{last[1]['opened_requests']} / {last[1]['requests']}",
            f"{last[2]['opened_requests']} / {last[2]['requests']}",
            "-",
        ],
        [
            "time from open to that package on disk (median)",
            ms(med[1]),
            ms(med[2]),
            ratio(med[2], med[1]),
        ],
    ]
    publish(
        f"Lazy activation's metadata: {args.files} files / {args.mb:g} MiB",
        "bench/lazy_metadata.py",
        sys.argv[1:] if argv is None else argv,
        rows,
        args.record,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
