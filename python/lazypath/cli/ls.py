"""lazypath ls STORE: the refs and trees of a store."""

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
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    listing = run_interruptible(lambda: lazypath.ls(args.store))
    refs, trees = list(listing.refs.items()), listing.trees
    if args.json:
        print_json({"store": args.store, **listing.to_dict()})
        return EXIT_OK
    by_tree: dict = {}
    for name, digest in refs:
        by_tree.setdefault(digest, []).append(name)
    if refs:
        table(["REF", "TREE"], [[name, digest] for name, digest in refs])
    else:
        out("no refs")
    out()
    if trees:
        table(["TREE", "REFS"], [[d, ", ".join(by_tree.get(d, []))] for d in trees])
    else:
        out("no trees")
    return EXIT_OK
