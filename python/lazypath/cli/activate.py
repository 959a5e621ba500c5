"""lazypath activate STORE REF: materialise a tree in the node cache and print its path."""

from __future__ import annotations

import argparse
import sys

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    REF_HELP,
    STORE_HELP,
    cache_flag,
    err,
    human_bytes,
    json_flag,
    on_demand_flag,
    out,
    print_json,
    run_with_progress,
    threads,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    p.add_argument(
        "--mode",
        choices=["eager", "lazy"],
        default="eager",
        help="eager: materialise the whole tree; lazy: only the root directory now, "
        "each package's directory when first imported (through lazypath.activate)",
    )
    on_demand_flag(p)
    cache_flag(p)
    p.add_argument(
        "--threads", type=threads, default=8, metavar="N", help="concurrent reads (default 8)"
    )
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    tree = run_with_progress(
        lambda cb: lazypath.pull(
            args.store,
            args.ref,
            cache_dir=args.cache,
            threads=args.threads,
            mode=args.mode,
            progress=cb,
            on_demand=args.on_demand,
        ),
        json_output=args.json,
    )
    if args.json:
        print_json(tree)
        return EXIT_OK
    if tree.mode == "lazy":
        out(tree.path)
        err(
            f"{tree.digest}: lazy root ready; fetched {tree.blobs_fetched} blobs, "
            f"{human_bytes(tree.bytes_fetched)} in {tree.requests} store requests"
        )
        return EXIT_OK
    out(tree.path)
    sys.stdout.flush()
    if tree.cached:
        err(f"{tree.digest}: already in the node cache ({tree.requests} store requests)")
    else:
        err(
            f"{tree.digest}: {tree.files} entries; fetched {tree.blobs_fetched} blobs, "
            f"{human_bytes(tree.bytes_fetched)} in {tree.requests} store requests"
        )
    return EXIT_OK
