#!/usr/bin/env python3
"""A one-file re-push into an S3 store with a long history: with and without the summary.

    .venv/bin/python bench/push_history.py                # 10k files, 100 earlier pushes
    .venv/bin/python bench/push_history.py --quick        # 1k files, 20 pushes, prints only
    .venv/bin/python bench/push_history.py --history 300 --runs 5

To learn which blobs a store already holds, a push needs the union of the store's
indexes: one per pushed tree, about 1 MiB each for 10k files. The pushing machine
keeps a summary of that union in its node cache (`stores/`, src/core/known_blobs.h)
and reads only the indexes it has not summarised.

Starts moto's S3 server on 127.0.0.1, pushes a generated tree (bench/gen_tree.py)
and then --history one-file edits of it, then measures, interleaved in this one run:

- summary: edit one file, push (the node cache holds this machine's summary);
- every index: the same, after removing the node cache's stores/ directory, so the
  push reads every index (8 at a time; before the summary existed, pushes read them
  one by one). The stat cache stays, so both hash only the edited file.

Each row is the median of --runs pushes. Requests and bytes read are the store's own
counters. moto is on loopback, so a WAN would widen the gap (each index is a GET).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_tree  # noqa: E402
from results import publish  # noqa: E402
from run import human_bytes  # noqa: E402
from s3_pull import Moto, edit_one_file  # noqa: E402


def log(msg: str) -> None:
    print(f"[push_history] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--history", type=int, default=100, help="earlier pushes in the store")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="1k files, 20 pushes, no RESULTS.md")
    ap.add_argument("--no-record", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if args.quick:
        args.files, args.mb, args.history, args.runs = 1_000, 5, 20, 3
        args.no_record = True

    scratch = Path(tempfile.mkdtemp(prefix="lp-push-history-"))
    moto = Moto(scratch)
    try:
        os.environ.update(moto.env())
        cache = scratch / "node-cache"
        os.environ["LAZYPATH_CACHE"] = str(cache)
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=bucket)
        store = f"s3://{bucket}/lp"
        import lazypath

        src = scratch / "src"
        log(f"generating {args.files} files / {args.mb} MiB")
        gen_tree.generate(str(src), files=args.files, mb=args.mb)
        t0 = time.perf_counter()
        lazypath.push_report(src, store, level=1)
        edits = 0
        for _ in range(args.history):
            edits += 1
            edit_one_file(src, edits)
            lazypath.push_report(src, store, level=1)
        log(f"{args.history + 1} pushes in {time.perf_counter() - t0:.1f} s")

        rows: dict[str, list] = {"summary": [], "every index": []}
        for _ in range(args.runs):
            for name in rows:
                if name == "every index":
                    shutil.rmtree(cache / "stores", ignore_errors=True)
                edits += 1
                edit_one_file(src, edits)
                t = time.perf_counter()
                r = lazypath.push_report(src, store, level=1)
                rows[name].append((time.perf_counter() - t, r))
                assert r.blobs_uploaded == 1, r
        lines = [
            ("", "push time", "indexes read", "requests", "bytes read", "bytes uploaded"),
            ("---",) * 6,
        ]
        med = {}
        for name, got in rows.items():
            secs = statistics.median(g[0] for g in got)
            reps = [g[1] for g in got]
            med[name] = secs
            lines.append(
                (
                    name,
                    f"{secs:.2f} s",
                    f"{statistics.median(r.indexes_fetched for r in reps):.0f}"
                    f" of {statistics.median(r.store_indexes for r in reps):.0f}",
                    f"{statistics.median(r.requests for r in reps):.0f}",
                    human_bytes(statistics.median(r.bytes_read for r in reps)),
                    human_bytes(statistics.median(r.bytes_uploaded for r in reps)),
                )
            )
        ratio = med["every index"] / med["summary"]
        lines.append(("every index / summary", f"{ratio:.1f}x", "", "", "", ""))
        title = (
            f"One-file re-push to S3 (moto) after {args.history} earlier pushes, "
            f"{args.files} files / {args.mb} MiB, median of {args.runs}"
        )
        argv = sys.argv[1:] if argv is None else argv
        publish(title, "bench/push_history.py", argv, lines, not args.no_record)
    finally:
        moto.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
