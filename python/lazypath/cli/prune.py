"""lazypath prune STORE: delete what the retention rules do not keep.

Keeps every tree a ref names, the trees of each ref's last --keep-last moves
and of every move within --keep-within; deletes what only other trees use,
in two phases a --grace apart (doc/lifecycle.md).
"""

from __future__ import annotations

import argparse

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    STORE_HELP,
    json_flag,
    out,
    print_json,
    run_with_progress,
)
from lazypath.errors import LazypathError


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative")
    return n


def _duration(text: str) -> int:
    try:
        return lazypath.parse_duration(text)
    except LazypathError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a duration such as 90s, 15m, 24h, 7d or 2w"
        ) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument(
        "--keep-last",
        metavar="N",
        type=_count,
        default=10,
        help="keep the trees the last N recorded moves of each ref went to (default: 10)",
    )
    p.add_argument(
        "--keep-within",
        metavar="DURATION",
        type=_duration,
        default="7d",
        help="keep every tree a ref move within DURATION named, and trees no ref ever "
        "named until condemned that long (default: 7d)",
    )
    p.add_argument(
        "--grace",
        metavar="DURATION",
        type=_duration,
        default="24h",
        help="delete only what an earlier prune condemned at least DURATION ago and "
        "is still unused; pushes running longer than this may lose objects they "
        "reuse (default: 24h; 0 deletes at once: only when nothing else writes)",
    )
    p.add_argument(
        "--lock-timeout",
        metavar="DURATION",
        type=_duration,
        default="6h",
        help="break another prune's lock older than this (default: 6h)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be condemned and deleted, and the bytes reclaimed; change nothing",
    )
    p.add_argument(
        "--actor",
        help="who the condemned marks are written by (default: $LAZYPATH_ACTOR or user@host)",
    )
    json_flag(p)


def _bytes(n: int) -> str:
    from lazypath._progress import human_bytes

    return human_bytes(n)


def run(args: argparse.Namespace) -> int:
    report = run_with_progress(
        lambda cb: lazypath.prune(
            args.store,
            keep_last=args.keep_last,
            keep_within=args.keep_within,
            grace=args.grace,
            dry_run=args.dry_run,
            lock_timeout=args.lock_timeout,
            actor=args.actor,
            progress=cb,
        ),
        json_output=args.json,
    )
    if args.json:
        print_json({"store": args.store, **report.to_dict()})
        return EXIT_OK
    would = "would delete" if report.dry_run else "deleted"
    for key in report.deleted:
        out(f"{would} {key}")
    if report.dry_run:
        for key in report.condemned:
            out(f"would condemn {key}")
    for digest in report.restored:
        out(f"restored {digest}: a ref moved to it during the prune; run prune again")
    out(
        f"trees: {report.trees_kept} kept, {report.trees_deleted} {would}, "
        f"{report.trees_condemned} newly condemned; packs: {report.packs_kept} kept, "
        f"{report.packs_deleted} {would}, {report.packs_repacked} repacked"
    )
    if report.objects_withdrawn:
        verb = "would withdraw" if report.dry_run else "withdrew"
        out(
            f"locations: {verb} {report.objects_withdrawn} directories and chunk lists "
            f"no kept tree uses ({report.locations_rewritten} locations objects)"
        )
    out(
        f"bytes: {_bytes(report.bytes_before)} before, {_bytes(report.bytes_after)} after "
        f"({_bytes(report.bytes_reclaimed)} reclaimed); {report.requests} requests"
    )
    return EXIT_OK
