"""lazypath push DIR STORE: pack DIR, upload what STORE lacks, print the tree digest."""

from __future__ import annotations

import argparse
import sys

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    PROG,
    STORE_HELP,
    cache_flag,
    err,
    human_bytes,
    json_flag,
    level,
    one_line,
    out,
    print_json,
    run_with_progress,
    threads,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="directory to push")
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("--tag", metavar="NAME", help="point ref NAME at the pushed tree")
    p.add_argument(
        "--actor",
        help="who the tag's move is recorded as (default: $LAZYPATH_ACTOR or user@host)",
    )
    p.add_argument(
        "--exclude",
        metavar="PAT",
        action="append",
        default=[],
        help="gitignore pattern to exclude (repeatable; wins over .gitignore files, "
        "'!PAT' re-includes)",
    )
    p.add_argument(
        "--no-default-excludes",
        dest="default_excludes",
        action="store_false",
        help="ship .git, __pycache__ and .venv too",
    )
    p.add_argument(
        "--no-gitignore",
        dest="gitignore",
        action="store_false",
        help="ignore .gitignore files in DIR",
    )
    cache_flag(p)
    p.add_argument("--level", type=level, default=1, metavar="N", help="zstd level (default 1)")
    p.add_argument(
        "--threads", type=threads, default=0, metavar="N", help="hashing threads (0: one per core)"
    )
    p.add_argument(
        "--profile-from",
        metavar="REF",
        help="pack the directories in REF's import profile first (default: the profile of "
        "--tag's current tree, if any) and carry the profile over",
    )
    p.add_argument(
        "--no-profile",
        dest="use_profile",
        action="store_false",
        help="ignore import profiles: pack by directory only, carry nothing over",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (uploading nothing) on portability warnings: names differing only in case "
        "from stdlib or installed modules, long names or paths, files others cannot read",
    )
    p.add_argument(
        "--format",
        type=int,
        choices=(1, 2),
        default=None,
        help="store format to write (default 2: a directory object per directory, "
        "large files chunked, locations per push; 1: a flat tree and an index per "
        "tree). Every reader reads both (doc/format.md)",
    )
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    report = run_with_progress(
        lambda cb: lazypath.push_report(
            args.dir,
            args.store,
            tag=args.tag,
            actor=args.actor,
            exclude=args.exclude,
            default_excludes=args.default_excludes,
            gitignore=args.gitignore,
            cache_dir=args.cache,
            level=args.level,
            threads=args.threads,
            progress=cb,
            profile_from=args.profile_from,
            use_profile=args.use_profile,
            strict=args.strict,
            format=args.format,
        ),
        json_output=args.json,
    )
    if not args.json:  # --json carries them in "warnings" and keeps stderr empty
        for line in report.warnings:
            err(f"{PROG}: warning: {one_line(line)}")
    if args.json:
        obj = report.to_dict()
        obj["store"] = args.store
        obj["tag"] = args.tag
        print_json(obj)
        return EXIT_OK
    out(report.digest)
    sys.stdout.flush()
    err(
        f"{report.files} files, {human_bytes(report.bytes)}; "
        f"uploaded {report.blobs_uploaded}/{report.blobs_total} blobs, "
        f"{human_bytes(report.bytes_uploaded)} in {report.packs_uploaded} "
        f"pack{'s' if report.packs_uploaded != 1 else ''}; "
        f"hashed {report.files_hashed} files; "
        f"tree {'already in store' if report.tree_existed else 'new'}"
        + (
            f"; read {report.indexes_fetched}/{report.store_indexes} "
            + ("indexes" if report.format == 1 else "locations objects")
            if report.store_indexes
            else ""
        )
        + (f"; tagged {args.tag}" if args.tag else "")
    )
    prof = report.profile
    if prof.source and report.format == 2:
        err(
            f"profile of {prof.source}: {prof.dirs} directories"
            + ("; carried over to the new tree" if prof.carried else "")
        )
    elif prof.source:
        err(
            f"profile of {prof.source}: {prof.dirs} directories packed first "
            f"({prof.blobs_first} blobs written for them)"
            + ("; carried over to the new tree" if prof.carried else "")
        )
    if prof.warning:
        err(f"{PROG}: warning: {one_line(prof.warning)}")
    return EXIT_OK
