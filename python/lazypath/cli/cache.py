"""lazypath cache ls|gc|verify|clear|evict: inspect and manage the node cache."""

from __future__ import annotations

import argparse
import time

import lazypath
from lazypath.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    cache_arg,
    cache_flag,
    human_bytes,
    json_flag,
    out,
    print_json,
    run_interruptible,
    size,
    table,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lazypath.cli import _EPILOG

    actions = p.add_subparsers(dest="action", metavar="ACTION", title="actions")
    actions.required = True

    def action(name: str, help: str, run) -> argparse.ArgumentParser:
        a = actions.add_parser(
            name,
            help=help,
            description=help,
            epilog=_EPILOG,
            formatter_class=p.formatter_class,
        )
        cache_flag(a)
        json_flag(a)
        a.set_defaults(run=run)
        return a

    action("ls", "list cached trees (least recently used first) and blob usage", run_ls)
    a = action(
        "gc",
        "evict least recently used trees no process uses until the cache fits; "
        "remove unreferenced blobs and crash debris",
        run_gc,
    )
    a.add_argument(
        "--max",
        type=size,
        metavar="SIZE",
        help="size budget such as 20G or 512M (default: $LAZYPATH_CACHE_MAX; unset: no limit)",
    )
    a = action(
        "verify",
        "re-hash every cached blob; remove bad ones and unpublish the trees that use them",
        run_verify,
    )
    a.add_argument("--check-only", action="store_true", help="report bad blobs but change nothing")
    action("clear", "remove every tree and blob that no live process is using", run_clear)
    a = action(
        "evict", "remove one tree (unless a process uses it) and the blobs only it used", run_evict
    )
    a.add_argument("digest", metavar="DIGEST", help="tree digest sha256:<hex>")


def run(args: argparse.Namespace) -> int:
    return args.run(args)


def run_ls(args: argparse.Namespace) -> int:
    u = run_interruptible(lambda: lazypath.cache_usage(args.cache))
    cache_dir = args.cache or lazypath.default_cache_dir()
    if args.json:
        print_json({"cache": cache_dir, **u.to_dict()})
        return EXIT_OK
    out(f"node cache {cache_dir}")
    out()
    if u["trees"]:
        rows = []
        for t in u["trees"]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t["last_used_ns"] / 1e9))
            rows.append(
                [
                    t["digest"],
                    str(t["files"]),
                    human_bytes(t["bytes"]),
                    when,
                    ", ".join(w for w, on in (("lazy", t["lazy"]), ("in use", t["in_use"])) if on),
                ]
            )
        table(["TREE", "FILES", "SIZE", "LAST USED", ""], rows, right=[1, 2])
    else:
        out("no trees")
    out()
    out(
        f"blobs: {u['blobs']} ({human_bytes(u['blob_bytes'])}), "
        f"{u['unreferenced_blobs']} unreferenced ({human_bytes(u['unreferenced_bytes'])})"
    )
    if u["tmp_entries"]:
        out(
            f"debris: {u['tmp_entries']} entries in tmp/ (writes in progress, or left by"
            " interrupted ones; `cache gc` and `cache clear` remove those of dead processes)"
        )
    return EXIT_OK


def print_gc(args: argparse.Namespace, report: dict) -> int:
    if args.json:
        print_json(report)
        return EXIT_OK
    for d in report["trees_evicted"]:
        out(f"evicted {d}")
    for d in report["trees_in_use"]:
        out(f"kept    {d} (in use)")
    out(
        f"{len(report['trees_evicted'])} trees evicted, {report['blobs_removed']} blobs "
        f"removed ({human_bytes(report['bytes_freed'])} freed), "
        f"{report['tmp_removed']} debris entries removed; "
        f"blobs now {human_bytes(report['blob_bytes_after'])}"
    )
    return EXIT_OK


def run_gc(args: argparse.Namespace) -> int:
    return print_gc(args, run_interruptible(lambda: lazypath.cache_gc(cache_arg(args), args.max)))


def run_clear(args: argparse.Namespace) -> int:
    return print_gc(args, run_interruptible(lambda: lazypath.cache_clear(cache_arg(args))))


def run_evict(args: argparse.Namespace) -> int:
    r = run_interruptible(lambda: lazypath.cache_evict(args.digest, cache_arg(args)))
    if args.json:
        print_json(r)
    elif r["evicted"]:
        out(
            f"evicted {r['digest']}: {r['blobs_removed']} blobs removed "
            f"({human_bytes(r['bytes_freed'])} freed)"
        )
    elif r["in_use"]:
        out(f"kept {r['digest']}: a process is using it")
    else:
        out(f"{r['digest']} is not in the node cache")
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    v = run_interruptible(
        lambda: lazypath.cache_verify(cache_arg(args), repair=not args.check_only)
    )
    if args.json:
        print_json(v)
    else:
        for d in v["bad_blobs"]:
            out(f"bad blob {d}" + (" (removed)" if v["repaired"] else ""))
        for d in v["trees_invalidated"]:
            out(f"unpublished tree {d}: it will be fetched again on next activation")
        for d in v["trees_in_use"]:
            out(f"tree {d} uses a bad blob but is in use: left in place")
        out(
            f"{v['blobs_checked']} blobs checked ({human_bytes(v['bytes_checked'])}), "
            f"{len(v['bad_blobs'])} bad"
        )
    # Finding corruption is a failure worth a non-zero exit, repaired or not.
    return EXIT_FAILED if v["bad_blobs"] else EXIT_OK
