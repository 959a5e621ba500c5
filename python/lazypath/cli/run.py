"""lazypath run STORE REF -- COMMAND...: run a program with a tree on its path, under a lease.

The tree is activated here (eager: materialised now; lazy: its root, the
rest on first import inside COMMAND), then this process becomes COMMAND
(exec), keeping the lease's descriptor open across the exec: the tree stays
leased exactly as long as COMMAND (and any child that inherits the
descriptor) runs, so `lazypath cache gc`/`clear` never evicts it under the
program. Exit status, signals and stdio are COMMAND's own.

With --policy (doc/policy.md) COMMAND's Python boots through lazypath/_site
in eager mode too and enforces the policy before its own code runs: a
`require` violation ends it with status 1 and one `lazypath: policy:` line,
drops and tree-first are applied, and a refused name's import raises
ImportError with the refusal's line.
"""

from __future__ import annotations

import argparse
import os
import sys

import lazypath
from lazypath.cli._common import (
    PROG,
    REF_HELP,
    STORE_HELP,
    UsageError,
    cache_flag,
    err,
    on_demand_flag,
    run_with_progress,
)

EXIT_NOT_FOUND = 127  # as a shell reports a command it cannot run


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    p.add_argument(
        "--mode",
        choices=["eager", "lazy"],
        default="eager",
        help="eager: materialise the whole tree first; lazy: each package when COMMAND "
        "first imports it",
    )
    on_demand_flag(p)
    p.add_argument(
        "--policy",
        metavar="FILE|JSON",
        help="a sys.path policy COMMAND's Python enforces before its code runs (doc/policy.md)",
    )
    cache_flag(p)
    p.add_argument(
        "command",
        nargs="*",
        metavar="-- COMMAND",
        help="the program to run, after '--': e.g. -- python -m app",
    )


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if not command:
        raise UsageError("run: give the command to run after '--', e.g. -- python -m app")
    policy = None
    if args.policy is not None:
        from lazypath import policy as lppolicy

        policy = lppolicy.load(args.policy)
    opened = run_with_progress(
        lambda cb: lazypath.open_tree(
            args.store,
            args.ref,
            mode=args.mode,
            cache_dir=args.cache,
            progress=cb,
            on_demand=args.on_demand,
        ),
        json_output=False,
    )
    env = lazypath.child_env(
        args.store,
        opened.tree,
        mode=args.mode,
        cache_dir=args.cache,
        on_demand=args.on_demand,
        policy=policy,
    )
    if opened.lease_fd >= 0:
        os.set_inheritable(opened.lease_fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as e:
        opened.release()
        err(f"{PROG}: error: cannot run {command[0]!r}: {e.strerror or e}")
        return EXIT_NOT_FOUND
    return EXIT_NOT_FOUND  # not reached
