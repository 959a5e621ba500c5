#!/usr/bin/env python3
"""Prune of a store with a long history, against a fresh store of the kept trees only.

    .venv/bin/python bench/prune_history.py                  # 1,000 pushes of 10k files
    .venv/bin/python bench/prune_history.py --pushes 200     # a shorter history
    .venv/bin/python bench/prune_history.py --quick          # 1k files, 50 pushes, prints only

Builds a file store (on /dev/shm when there is one) by calling lazypath.push in
this process: a generated tree (bench/gen_tree.py) of --files files, then
--pushes - 1 more pushes, each after --changed files were edited; the last
--tagged pushes get a tag each (t1 ... tN), the others none. The edited files
are spread over every .py file of the tree, or with --hot N drawn from N of
them only (a few files that change all the time). Then, on --runs
copies of that store, `prune --keep-last 0 --keep-within 0 --grace 0` twice:
the first run keeps exactly the tagged trees, deletes everything else and
repacks the packs the kept trees use less than half of; the second deletes
the packs those repacks emptied (what a later run does, a grace period on,
in a store pruned on a schedule). The
fresh store holds only those trees, pushed into an empty store in the same
order, and is pruned the same way (nothing to delete: the cost of reading a
store that size). Sizes are the bytes of every object (trees, indexes,
profiles, locations, packs; refs and history are not counted) and their
number, read from the file system after both runs. Each time and request
count is the median of --runs (requests: the first run's). "kept trees
reach" is the number of packs the walks of the kept trees read after both
runs, counted by tests/integrity.py (which does not use the core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_tree  # noqa: E402
from results import publish  # noqa: E402
from run import human_bytes  # noqa: E402

sys.path.insert(0, str(HERE.parent / "tests"))
import integrity  # noqa: E402  (an independent reader of file stores)

OBJECTS = ("trees", "indexes", "profiles", "locs", "packs")
STRICT = {"keep_last": 0, "keep_within": 0, "grace": 0}


def log(msg: str) -> None:
    print(f"[prune_history] {msg}", file=sys.stderr, flush=True)


def size(store: Path) -> tuple[int, int, int]:
    """(bytes, objects, packs) of a file store's objects."""
    total = count = packs = 0
    for kind in OBJECTS:
        d = store / kind
        for p in d.iterdir() if d.exists() else []:
            total += p.stat().st_size
            count += 1
            packs += kind == "packs"
    return total, count, packs


def edit(src: Path, files: list[Path], push: int, changed: int) -> None:
    """Appends a line to `changed` of `files`, a different few each push."""
    for j in range(changed):
        target = files[(push * 7919 + j * 104729) % len(files)]
        with open(target, "a") as f:
            f.write(f"\n# edit {push}.{j}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--mb", type=int, default=20)
    ap.add_argument("--pushes", type=int, default=1_000)
    ap.add_argument("--changed", type=int, default=3, help="files edited before each push")
    ap.add_argument("--tagged", type=int, default=5, help="the last N pushes get a tag each")
    ap.add_argument(
        "--hot",
        type=int,
        default=0,
        help="edit only N files (spread over the tree); 0: any .py file",
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1k files, 50 pushes, no RESULTS.md")
    ap.add_argument("--no-record", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if args.quick:
        args.files, args.mb, args.pushes, args.runs = 1_000, 5, 50, 3
        args.no_record = True
    assert args.tagged <= args.pushes

    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    scratch = Path(tempfile.mkdtemp(prefix="lp-prune-history-", dir=base))
    try:
        os.environ["LAZYPATH_CACHE"] = str(scratch / "node-cache")
        import lazypath

        src = scratch / "src"
        log(f"generating {args.files} files / {args.mb} MiB")
        gen_tree.generate(str(src), files=args.files, mb=args.mb)
        py = sorted(src.rglob("*.py"))
        if args.hot:
            py = py[:: max(1, len(py) // args.hot)][: args.hot]
        history = scratch / "history"
        kept: list[tuple[str, Path]] = []  # (tag, a copy of the source) of the tagged pushes
        t0 = time.perf_counter()
        for n in range(args.pushes):
            if n:
                edit(src, py, n, args.changed)
            tag = None
            if n >= args.pushes - args.tagged:
                tag = f"t{n - (args.pushes - args.tagged) + 1}"
                copy = scratch / f"kept-{tag}"
                shutil.copytree(src, copy, symlinks=True)
                kept.append((tag, copy))
            lazypath.push(src, history.as_uri(), tag=tag, level=1)
            if n % 100 == 99:
                log(f"{n + 1} pushes, {time.perf_counter() - t0:.0f} s")
        build = time.perf_counter() - t0
        log(f"{args.pushes} pushes in {build:.0f} s")

        fresh = scratch / "fresh"
        for tag, copy in kept:
            lazypath.push(copy, fresh.as_uri(), tag=tag, level=1)

        reach = {}
        rows: dict[str, list] = {"history": [], "fresh": []}
        before = {"history": size(history), "fresh": size(fresh)}
        after = {}
        for i in range(args.runs):
            for name, store in (("history", history), ("fresh", fresh)):
                work = scratch / f"run-{name}-{i}"
                shutil.copytree(store, work, symlinks=True)
                t = time.perf_counter()
                r = lazypath.prune(work.as_uri(), **STRICT)
                t1 = time.perf_counter() - t
                # The second run deletes the packs the first one repacked.
                t = time.perf_counter()
                r2 = lazypath.prune(work.as_uri(), **STRICT)
                rows[name].append((t1, r, time.perf_counter() - t, r2))
                after[name] = size(work)
                # The packs the kept trees' own walks read (tests/integrity.py).
                targets = sorted(set(integrity.ref_targets(work).values()))
                keys = integrity.reached_keys(work, targets)
                reach[name] = sum(1 for k in keys if k.startswith("packs/"))
                assert sorted(lazypath.ls(work.as_uri()).refs) == sorted(t for t, _ in kept)
                assert r.trees_kept == len(kept), r
                shutil.rmtree(work)
        for tag, _ in kept:  # the kept trees are identical in both stores
            a = lazypath.ls(history.as_uri()).refs[tag]
            assert a == lazypath.ls(fresh.as_uri()).refs[tag], tag

        def med(name: str, attr: str, run: int = 0) -> float:
            return statistics.median(getattr(row[1 + 2 * run], attr) for row in rows[name])

        def secs(name: str, run: int = 0) -> float:
            return statistics.median(row[2 * run] for row in rows[name])

        lines = [
            (
                "store",
                "objects before",
                "bytes before",
                "prune time",
                "requests",
                "trees deleted",
                "packs deleted",
                "packs repacked",
                "second run: time, packs deleted",
                "bytes reclaimed (on disk, both runs)",
                "objects after",
                "packs after (kept trees reach)",
                "bytes after",
            ),
            ("---",) * 13,
        ]
        for name, label in (
            ("history", f"{args.pushes} pushes, {args.tagged} tagged"),
            ("fresh", f"fresh: the {args.tagged} kept trees only"),
        ):
            lines.append(
                (
                    label,
                    f"{before[name][1]:,}",
                    human_bytes(before[name][0]),
                    f"{secs(name):.2f} s",
                    f"{med(name, 'requests'):,.0f}",
                    f"{med(name, 'trees_deleted'):,.0f}",
                    f"{med(name, 'packs_deleted'):,.0f}",
                    f"{med(name, 'packs_repacked'):,.0f}",
                    f"{secs(name, 1):.2f} s, {med(name, 'packs_deleted', 1):,.0f}",
                    human_bytes(before[name][0] - after[name][0]),
                    f"{after[name][1]:,}",
                    f"{after[name][2]:,} ({reach[name]:,})",
                    human_bytes(after[name][0]),
                )
            )

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}x" if b else "-"

        lines.append(
            (
                "history / fresh",
                ratio(before["history"][1], before["fresh"][1]),
                ratio(before["history"][0], before["fresh"][0]),
                ratio(secs("history"), secs("fresh")),
                ratio(med("history", "requests"), med("fresh", "requests")),
                "",
                "",
                "",
                "",
                "",
                ratio(after["history"][1], after["fresh"][1]),
                ratio(after["history"][2], after["fresh"][2]),
                ratio(after["history"][0], after["fresh"][0]),
            )
        )
        title = (
            f"Prune of a file store after {args.pushes} pushes of {args.files} files / "
            f"{args.mb} MiB ({args.changed} edited per push"
            + (f" among {args.hot} hot files" if args.hot else "")
            + f", last {args.tagged} tagged), "
            f"against a fresh store of the kept trees, median of {args.runs}"
        )
        argv = sys.argv[1:] if argv is None else argv
        publish(title, "bench/prune_history.py", argv, lines, not args.no_record)
        log(f"building the history took {build:.0f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
