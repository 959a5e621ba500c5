"""lazypath tag STORE REF NAME: point a ref at a tree; tag --delete STORE NAME:
remove one."""

from __future__ import annotations

import argparse

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    REF_HELP,
    STORE_HELP,
    json_flag,
    out,
    print_json,
    run_interruptible,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = "%(prog)s [-h] [--expect DIGEST|none] [--actor ACTOR] [--json] STORE REF NAME\n" + (
        "       %(prog)s --delete [--expect DIGEST] [--actor ACTOR] [--json] STORE NAME"
    )
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    p.add_argument("name", metavar="NAME", nargs="?", help="the ref to point at REF")
    p.add_argument(
        "--delete",
        action="store_true",
        help="remove ref NAME (given in REF's place); its tree stays in the store",
    )
    p.add_argument(
        "--expect",
        metavar="DIGEST|none",
        help="tag only if NAME now names DIGEST ('none': NAME must not exist); otherwise exit 3",
    )
    p.add_argument(
        "--actor", help="who the move is recorded as (default: $LAZYPATH_ACTOR or user@host)"
    )
    json_flag(p)
    # Which positionals make sense depends on --delete: checked in run(),
    # reported as argparse reports usage errors (exit 2, with the usage).
    p.set_defaults(tag_parser=p)


def run(args: argparse.Namespace) -> int:
    if args.delete:
        if args.name is not None:
            args.tag_parser.error("tag --delete takes STORE NAME")
        name = args.ref
        change = run_interruptible(
            lambda: lazypath.untag(args.store, name, expect=args.expect, actor=args.actor)
        )
        if args.json:
            print_json(
                {"store": args.store, "name": name, "deleted": True, "digest": change.from_digest}
            )
            return EXIT_OK
        out(f"deleted {name} (was {change.from_digest})")
        return EXIT_OK
    if args.name is None:
        args.tag_parser.error("tag takes STORE REF NAME (or --delete STORE NAME)")
    digest = run_interruptible(
        lambda: lazypath.tag(args.store, args.ref, args.name, expect=args.expect, actor=args.actor)
    )
    if args.json:
        print_json({"store": args.store, "name": args.name, "digest": digest})
        return EXIT_OK
    out(f"{args.name} -> {digest}")
    return EXIT_OK
