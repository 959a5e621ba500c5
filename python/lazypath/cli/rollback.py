"""lazypath rollback STORE REF [--to DIGEST | --steps N]: move a ref back."""

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
)


def _steps(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not at least 1")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help="ref name")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--to",
        metavar="DIGEST",
        help="a tree the ref named before (per `lazypath log`); a unique prefix works",
    )
    which.add_argument(
        "--steps",
        metavar="N",
        type=_steps,
        help="go back N recorded moves (default: 1, where it was before its last move)",
    )
    p.add_argument(
        "--expect",
        metavar="DIGEST|none",
        help="roll back only if REF now names DIGEST; otherwise exit 3",
    )
    p.add_argument(
        "--actor", help="who the move is recorded as (default: $LAZYPATH_ACTOR or user@host)"
    )
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    change = run_interruptible(
        lambda: lazypath.rollback(
            args.store,
            args.ref,
            to=args.to,
            steps=args.steps,
            expect=args.expect,
            actor=args.actor,
        )
    )
    if args.json:
        print_json({"store": args.store, "ref": args.ref, **change.to_dict()})
        return EXIT_OK
    if not change.moved:
        out(f"{args.ref} already names {change.to_digest}")
    else:
        out(f"{args.ref} -> {change.to_digest} (was {change.from_digest or 'absent'})")
    return EXIT_OK
