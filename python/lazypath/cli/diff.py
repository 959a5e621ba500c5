"""lazypath diff STORE FROM [TO | --dir DIR]: what changed between two trees."""

from __future__ import annotations

import argparse

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    STORE_HELP,
    UsageError,
    cache_flag,
    human_bytes,
    json_flag,
    out,
    print_json,
    run_interruptible,
    table,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("from_ref", metavar="FROM", help="tag or digest")
    p.add_argument("to_ref", metavar="TO", nargs="?", help="tag or digest")
    p.add_argument(
        "--dir",
        metavar="DIR",
        help="instead of TO: the tree a push of DIR would make now (nothing is uploaded)",
    )
    p.add_argument(
        "--exclude",
        metavar="PAT",
        action="append",
        default=[],
        help="with --dir: gitignore pattern to exclude, as for push (repeatable)",
    )
    cache_flag(p)
    json_flag(p)


def describe(entry: dict | None) -> str:
    if entry is None:
        return "-"
    if entry["kind"] == "symlink":
        return f"symlink -> {entry['target']}"
    return f"{entry['kind']} {human_bytes(entry['size'])}"


def run(args: argparse.Namespace) -> int:
    if args.to_ref is None and args.dir is None:
        raise UsageError("diff: give the tree to compare with (TO) or a directory (--dir DIR)")
    if args.to_ref is not None and args.dir is not None:
        raise UsageError("diff: give TO or --dir DIR, not both")
    if args.exclude and args.dir is None:
        raise UsageError("diff: --exclude goes with --dir")
    d = run_interruptible(
        lambda: lazypath.diff(
            args.store,
            args.from_ref,
            args.to_ref,
            dir=args.dir,
            exclude=args.exclude,
            cache_dir=args.cache,
        )
    )
    if args.json:
        print_json({"store": args.store, **d.to_dict()})
        return EXIT_OK
    to_name = "TO" if args.dir is None else "DIR"
    out(f"{d['from']} -> {d['to']}" + ("" if args.dir is None else f" ({args.dir}, not pushed)"))
    out()
    if d["changes"]:
        rows = [
            [c["change"], describe(c["before"]), describe(c["after"]), c["path"]]
            for c in d["changes"]
        ]
        table(["", "BEFORE", "AFTER", "PATH"], rows)
        out()
    out(
        f"{d['added']} added, {d['removed']} removed, {d['modified']} modified; "
        f"a node holding FROM fetches {d['blobs_new']} new "
        f"blob{'' if d['blobs_new'] == 1 else 's'} ({human_bytes(d['bytes_new'])}) "
        f"to activate {to_name}"
    )
    return EXIT_OK
