"""lazypath tag STORE REF NAME: point a ref at a tree."""

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
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--expect",
        metavar="DIGEST|none",
        help="tag only if NAME now names DIGEST ('none': NAME must not exist); otherwise exit 3",
    )
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    digest = run_interruptible(
        lambda: lazypath.tag(args.store, args.ref, args.name, expect=args.expect)
    )
    if args.json:
        print_json({"store": args.store, "name": args.name, "digest": digest})
        return EXIT_OK
    out(f"{args.name} -> {digest}")
    return EXIT_OK
