"""lazypath log STORE REF: the recorded moves of a ref, newest first."""

from __future__ import annotations

import argparse

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    STORE_HELP,
    json_flag,
    out,
    print_json,
    run_interruptible,
    table,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help="ref name")
    json_flag(p)


def _when(seconds: int) -> str:
    import datetime

    try:
        t = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(args: argparse.Namespace) -> int:
    moves = run_interruptible(lambda: lazypath.log(args.store, args.ref))
    if args.json:
        print_json(
            {
                "store": args.store,
                "ref": args.ref,
                "moves": [m.to_dict() for m in reversed(moves)],
            }
        )
        return EXIT_OK
    if not moves:
        out(f"no recorded moves of ref '{args.ref}'")
        return EXIT_OK
    rows = []
    for m in reversed(moves):
        rows.append(
            [
                str(m.seq),
                _when(m.time),
                m.op + ("" if m.applied else " (not applied)"),
                m.from_digest or "-",
                m.to_digest or "-",
                m.actor,
            ]
        )
    table(["SEQ", "TIME", "OP", "FROM", "TO", "BY"], rows, right=(0,))
    return EXIT_OK
