"""What every verb of the CLI shares: exit codes, flags, output, running core work.

Imported by the verb modules only (never for `lazypath --help`).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Sequence

from lazypath.errors import LazypathError

PROG = "lazypath"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFLICT = 3
EXIT_INTERRUPTED = 130

STORE_HELP = "store: a directory, or a file://, s3://, gs:// or https:// URL"
REF_HELP = "ref name or tree digest sha256:<hex>"


class UsageError(Exception):
    """A usage problem found after parsing; exit status 2, one line."""


# ---------------------------------------------------------------- flags


def level(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if not 1 <= n <= 22:
        raise argparse.ArgumentTypeError(f"{n} is not a zstd level between 1 and 22")
    return n


def threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if not 0 <= n <= 1024:
        raise argparse.ArgumentTypeError(f"{n} is not between 0 and 1024")
    return n


def size(text: str) -> int:
    """A size such as 20G (the core's grammar, lazypath/size.h)."""
    import lazypath

    try:
        return lazypath.parse_size(text)
    except LazypathError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a size such as 20G, 512M or 4096"
        ) from None


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout, no progress"
    )


def on_demand_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--on-demand",
        metavar="DIR",
        action="append",
        default=[],
        help="lazy: a directory without code (data, models) that stays out of its "
        "parent until lazypath.materialize() asks for it (repeatable)",
    )


def cache_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache",
        metavar="DIR",
        help="node cache directory (default: $LAZYPATH_CACHE or ~/.cache/lazypath)",
    )


def cache_arg(args: argparse.Namespace) -> str:
    return args.cache or ""


# ---------------------------------------------------------------- output


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def err(line: str) -> None:
    sys.stderr.write(line + "\n")


def print_json(obj) -> None:
    import json

    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()):
    """Aligned columns: a rich table on a terminal, plain text otherwise."""
    if stdout_is_terminal():
        from rich.console import Console
        from rich.table import Table

        t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for i, h in enumerate(headers):
            t.add_column(h, justify="right" if i in right else "left", overflow="fold")
        for r in rows:
            t.add_row(*r)
        Console(soft_wrap=True).print(t)
        return
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            last = i == len(cells) - 1
            if i in right:
                parts.append(cell.rjust(widths[i]))
            elif last:
                parts.append(cell)
            else:
                parts.append(cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out(fmt(headers))
    for r in rows:
        out(fmt(r))


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "unknown error"


def os_error_message(e: OSError) -> str:
    if isinstance(e, LazypathError) or not e.strerror:
        return one_line(str(e))
    if e.filename is not None:
        what = os.fsdecode(e.filename)
        if e.filename2 is not None:
            what += " -> " + os.fsdecode(e.filename2)
        return one_line(f"{what}: {e.strerror}")
    return one_line(e.strerror)


def human_bytes(n: float) -> str:
    from lazypath._progress import human_bytes as hb

    return hb(n)


def progress_display(json_output: bool):
    """A ProgressDisplay shown only to humans (lazypath/_progress.py)."""
    from lazypath._progress import ProgressDisplay, should_show

    return ProgressDisplay(should_show(json_output))


# ---------------------------------------------------------------- running core work


def run_with_progress(fn: Callable, *, json_output: bool):
    """`fn(callback)` run as run_interruptible() runs it, with a progress
    display (shown only to humans) whose callback it hands to the core."""
    with progress_display(json_output) as progress:
        return run_interruptible(lambda: fn(progress.callback), progress)


def run_interruptible(fn: Callable, progress=None):
    """Runs `fn()` so that Ctrl-C ends the command at once.

    The core holds no GIL while it works, but Python only delivers SIGINT to
    the main thread between bytecodes, i.e. after a long core call returns.
    So the call runs in a helper thread while the main thread waits; on
    Ctrl-C the display is stopped and the process exits with 130 without
    waiting for the core. That is safe: everything the core publishes (store
    objects, cache entries) appears by atomic rename, so an interrupted run
    leaves at most temp files, which later runs ignore.
    """
    result: dict = {}

    def work() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # handed to the main thread below
            result["error"] = e

    t = threading.Thread(target=work, name="lazypath-core", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.2)
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
        err(f"{PROG}: interrupted")
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(EXIT_INTERRUPTED)
    if "error" in result:
        raise result["error"]
    return result["value"]
