"""lazypath show STORE REF: the entries of a tree."""

from __future__ import annotations

import argparse

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    REF_HELP,
    STORE_HELP,
    human_bytes,
    json_flag,
    out,
    print_json,
    run_interruptible,
    table,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    tree = run_interruptible(lambda: lazypath.show(args.store, args.ref))
    digest, entries = tree.digest, [e.to_dict() for e in tree.entries]
    files = [e for e in entries if e["kind"] != "symlink"]
    totals = {
        "files": len(files),
        "executables": sum(1 for e in entries if e["kind"] == "executable"),
        "symlinks": len(entries) - len(files),
        "bytes": sum(e["size"] for e in files),
    }
    if args.json:
        print_json({"digest": digest, "store": args.store, "entries": entries, **totals})
        return EXIT_OK
    out(f"tree {digest}")
    out()
    rows = []
    for e in entries:
        path = e["path"]
        if e["kind"] == "symlink":
            path += f" -> {e['target']}"
        rows.append([e["kind"], str(e["size"]), path])
    if rows:
        table(["KIND", "SIZE", "PATH"], rows, right=[1])
        out()
    out(
        f"{len(entries)} entries: {totals['files']} files "
        f"({totals['executables']} executable), {totals['symlinks']} symlinks, "
        f"{totals['bytes']} bytes ({human_bytes(totals['bytes'])})"
    )
    return EXIT_OK
