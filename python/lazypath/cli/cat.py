"""lazypath cat STORE REF PATH: write a file of a tree to stdout."""

from __future__ import annotations

import argparse
import errno
import os
import sys

import lazypath
from lazypath.cli._common import (
    EXIT_OK,
    REF_HELP,
    STORE_HELP,
    cache_flag,
    run_interruptible,
)
from lazypath.errors import LazypathError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument("ref", metavar="REF", help=REF_HELP)
    p.add_argument("path", metavar="PATH")
    cache_flag(p)


def run(args: argparse.Namespace) -> int:
    # The blob is fetched (streaming, verified) into the node cache and copied
    # from there, so a file of any size needs no memory for its content.
    opened = run_interruptible(
        lambda: lazypath.open_file(args.store, args.ref, args.path, cache_dir=args.cache)
    )
    fd, size = opened.fd, opened.size
    if fd < 0:
        return EXIT_OK  # an empty file
    with os.fdopen(fd, "rb") as src:
        sink = getattr(sys.stdout, "buffer", None)
        if sink is None:  # stdout replaced by a text-only stream
            sys.stdout.write(src.read().decode("utf-8", "surrogateescape"))
            return EXIT_OK
        sys.stdout.flush()
        copied = 0
        while chunk := src.read(1 << 20):
            # A buffered write may be partial (a signal such as SIGPIPE
            # arriving mid-write makes it return early); loop so the output
            # is whole or the command fails.
            view = memoryview(chunk)
            while view:
                n = sink.write(view)
                if not n:
                    raise OSError(errno.EIO, "short write", "stdout")
                view = view[n:]
            copied += len(chunk)
        sink.flush()
    if copied != size:  # the cached blob is read-only and verified: never expected
        raise LazypathError(f"cat: {args.path}: read {copied} of {size} bytes from the node cache")
    return EXIT_OK
