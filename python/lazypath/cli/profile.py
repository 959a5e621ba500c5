"""lazypath profile STORE REF -- COMMAND: record the directories a program imports at startup."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    REF_HELP,
    STORE_HELP,
    UsageError,
    err,
    json_flag,
    out,
    print_json,
)
from lazypath.errors import LazypathError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    p.add_argument(
        "--dry-run", action="store_true", help="record and print the profile, store nothing"
    )
    json_flag(p)
    p.add_argument(
        "command",
        nargs="*",
        metavar="-- COMMAND",
        help="the program to run, after '--': e.g. -- python -m app (its output passes through)",
    )


def remove_tree(path: str) -> None:
    """rmtree that also removes the node cache's read-only files and dirs."""
    import shutil
    import stat

    def onerror(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)


def run(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile

    command = list(args.command)
    if not command:
        raise UsageError("profile: give the command to run after '--', e.g. -- python -m app")
    tmp = tempfile.mkdtemp(prefix="lazypath-profile-")
    try:
        cache = os.path.join(tmp, "cache")
        dirs_file = os.path.join(tmp, "dirs.jsonl")
        # Resolves REF once (the child gets the digest) and fetches the root.
        tree = lazypath.pull(args.store, args.ref, mode="lazy", cache_dir=cache)
        env = lazypath.child_env(
            args.store, tree, mode="lazy", cache_dir=cache, keep_inherited_policy=True
        )
        env["LAZYPATH_PROFILE_FILE"] = dirs_file
        env.pop("LAZYPATH_PROFILE", None)
        start = time.monotonic()
        try:
            # The command's stdout would mix with --json: send it to stderr then.
            rc = subprocess.call(command, env=env, stdout=sys.stderr if args.json else None)
        except OSError as e:
            raise LazypathError(f"profile: cannot run {command[0]!r}: {e.strerror}") from e
        seconds = time.monotonic() - start
        if rc != 0:
            raise LazypathError(
                f"profile: {command[0]!r} exited with status {rc}; no profile stored for "
                f"{tree.digest}"
            )
        dirs: list = []
        try:
            with open(dirs_file, encoding="utf-8") as f:
                for line in f:
                    d = json.loads(line)
                    if d not in dirs:
                        dirs.append(d)
        except (OSError, ValueError):
            dirs = []
        if not dirs:
            raise LazypathError(
                f"profile: {command[0]!r} never activated {tree.digest} (not a Python program,"
                " or run with -S / -I, which skip sitecustomize)"
            )
        if not args.dry_run:
            key = lazypath.write_profile(args.store, tree.digest, dirs)
    finally:
        remove_tree(tmp)
    if args.json:
        print_json(
            {
                "digest": tree.digest,
                "store": args.store,
                "key": None if args.dry_run else key,
                "dirs": dirs,
                "count": len(dirs),
                "seconds": round(seconds, 3),
            }
        )
        return EXIT_OK
    for d in dirs:
        out(d or ".")
    err(
        f"{tree.digest}: {len(dirs)} directories in {seconds:.2f}s"
        + ("" if args.dry_run else f"; stored as {key}")
    )
    return EXIT_OK
