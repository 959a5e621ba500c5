"""The `lazypath` command line (also `python -m lazypath`).

Each verb is a thin wrapper over the Python API in lazypath/__init__.py and
the core in lazypath._core; this module only parses arguments and renders
results. See doc/cli.md for the user's view.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Callable

import lazypath
from lazypath import _core
from lazypath._progress import ProgressDisplay, human_bytes, should_show
from lazypath.errors import ConflictError, LazypathError

PROG = "lazypath"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_STORE_HELP = "store: a directory, or a file://, s3://, gs:// or https:// URL"
EXIT_CONFLICT = 3
EXIT_INTERRUPTED = 130

_EPILOG = """\
exit status:
  0    success
  1    the operation failed; one line 'lazypath: error: <message>' on stderr
  2    usage error (bad arguments or options)
  3    a ref moved while push --tag or tag ran (or tag --expect did not
       match): the tree is in the store, the ref was left as it was
  130  interrupted (Ctrl-C)

environment:
  LAZYPATH_CACHE   node cache directory (default: $XDG_CACHE_HOME/lazypath or
                   ~/.cache/lazypath); --cache overrides it

STORE is a directory path or a file://, s3://, gs:// or https:// (read-only)
URL. REF is a ref name (a tag such as
'prod') or a tree digest 'sha256:<64 hex>'. See doc/cli.md for details.
"""


class UsageError(Exception):
    """A usage problem found after parsing; exit status 2, one line."""


# ---------------------------------------------------------------- parsing


def _level(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if not 1 <= n <= 22:
        raise argparse.ArgumentTypeError(f"{n} is not a zstd level between 1 and 22")
    return n


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if not 0 <= n <= 1024:
        raise argparse.ArgumentTypeError(f"{n} is not between 0 and 1024")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ship Python code to Ray clusters as content-addressed artifacts.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {lazypath.__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    verbs.required = True

    def verb(name: str, help: str, **kw) -> argparse.ArgumentParser:
        p = verbs.add_parser(
            name,
            help=help,
            description=help,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kw,
        )
        return p

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--json", action="store_true", help="print one JSON object on stdout, no progress"
        )

    def cache_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--cache",
            metavar="DIR",
            help="node cache directory (default: $LAZYPATH_CACHE or ~/.cache/lazypath)",
        )

    p = verb("push", "pack DIR, upload what STORE lacks, print the tree digest")
    p.add_argument("dir", metavar="DIR", help="directory to push")
    p.add_argument("store", metavar="STORE", help=_STORE_HELP)
    p.add_argument("--tag", metavar="NAME", help="point ref NAME at the pushed tree")
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
    p.add_argument("--level", type=_level, default=3, metavar="N", help="zstd level (default 3)")
    p.add_argument(
        "--threads", type=_threads, default=0, metavar="N", help="hashing threads (0: one per core)"
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
    json_flag(p)
    p.set_defaults(func=cmd_push)

    p = verb(
        "profile",
        "run a Python command with tree REF activated lazily in a fresh node cache, and store "
        "the directories it imported, in order, as REF's import profile",
    )
    p.add_argument("store", metavar="STORE", help=_STORE_HELP)
    p.add_argument("ref", metavar="REF", help="ref name or tree digest sha256:<hex>")
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
    p.set_defaults(func=cmd_profile)

    p = verb(
        "activate",
        "materialise tree REF in the node cache and print its path",
        aliases=["pull"],
    )
    p.add_argument("store", metavar="STORE", help=_STORE_HELP)
    p.add_argument("ref", metavar="REF", help="ref name or tree digest sha256:<hex>")
    p.add_argument(
        "--mode",
        choices=["eager", "lazy"],
        default="eager",
        help="eager: materialise the whole tree; lazy: only the root directory now, "
        "each package's directory when first imported (through lazypath.activate)",
    )
    p.add_argument(
        "--on-demand",
        metavar="DIR",
        action="append",
        default=[],
        help="lazy: a directory without code (data, models) that stays out of its "
        "parent until lazypath.materialize() asks for it (repeatable)",
    )
    cache_flag(p)
    p.add_argument(
        "--threads", type=_threads, default=8, metavar="N", help="concurrent reads (default 8)"
    )
    json_flag(p)
    p.set_defaults(func=cmd_activate)

    p = verb("ls", "list the refs and trees in STORE")
    p.add_argument("store", metavar="STORE")
    json_flag(p)
    p.set_defaults(func=cmd_ls)

    p = verb("show", "list the entries of tree REF")
    p.add_argument("store", metavar="STORE")
    p.add_argument("ref", metavar="REF")
    json_flag(p)
    p.set_defaults(func=cmd_show)

    p = verb("diff", "list the files that differ from tree FROM to tree TO (or to directory --dir)")
    p.add_argument("store", metavar="STORE")
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
    p.set_defaults(func=cmd_diff)

    p = verb("tag", "point ref NAME at tree REF")
    p.add_argument("store", metavar="STORE")
    p.add_argument("ref", metavar="REF")
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--expect",
        metavar="DIGEST|none",
        help="tag only if NAME now names DIGEST ('none': NAME must not exist); otherwise exit 3",
    )
    json_flag(p)
    p.set_defaults(func=cmd_tag)

    p = verb("cat", "write the bytes of file PATH in tree REF to stdout")
    p.add_argument("store", metavar="STORE")
    p.add_argument("ref", metavar="REF")
    p.add_argument("path", metavar="PATH")
    cache_flag(p)
    p.set_defaults(func=cmd_cat)

    p = verb("cache", "inspect and manage the node cache")
    actions = p.add_subparsers(dest="action", metavar="ACTION", title="actions")
    actions.required = True

    def action(name: str, help: str) -> argparse.ArgumentParser:
        a = actions.add_parser(
            name,
            help=help,
            description=help,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cache_flag(a)
        json_flag(a)
        return a

    a = action("ls", "list cached trees (least recently used first) and blob usage")
    a.set_defaults(func=cmd_cache_ls)
    a = action(
        "gc",
        "evict least recently used trees no process uses until the cache fits; "
        "remove unreferenced blobs and crash debris",
    )
    a.add_argument(
        "--max",
        type=_size,
        metavar="SIZE",
        help="size budget such as 20G or 512M (default: $LAZYPATH_CACHE_MAX; unset: no limit)",
    )
    a.set_defaults(func=cmd_cache_gc)
    a = action(
        "verify",
        "re-hash every cached blob; remove bad ones and unpublish the trees that use them",
    )
    a.add_argument("--check-only", action="store_true", help="report bad blobs but change nothing")
    a.set_defaults(func=cmd_cache_verify)
    a = action("clear", "remove every tree and blob that no live process is using")
    a.set_defaults(func=cmd_cache_clear)
    a = action("evict", "remove one tree (unless a process uses it) and the blobs only it used")
    a.add_argument("digest", metavar="DIGEST", help="tree digest sha256:<hex>")
    a.set_defaults(func=cmd_cache_evict)

    from lazypath.doctor import cli as doctor_cli

    doctor_cli.add_parser(verbs)
    return parser


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text: str) -> int:
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in "KMGT" and t[-1:] else ""
    number = t[: len(t) - len(unit)]
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a size such as 20G, 512M or 4096")
    return int(number) * _SIZE_UNITS[unit]


# ---------------------------------------------------------------- output


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()):
    """Aligned columns: a rich table on a terminal, plain text otherwise."""
    if _stdout_is_terminal():
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

    _out(fmt(headers))
    for r in rows:
        _out(fmt(r))


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "unknown error"


def _os_error_message(e: OSError) -> str:
    if isinstance(e, LazypathError) or not e.strerror:
        return _one_line(str(e))
    if e.filename is not None:
        what = os.fsdecode(e.filename)
        if e.filename2 is not None:
            what += " -> " + os.fsdecode(e.filename2)
        return _one_line(f"{what}: {e.strerror}")
    return _one_line(e.strerror)


# ---------------------------------------------------------------- running core work


def _run_interruptible(fn: Callable, progress: ProgressDisplay | None = None):
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
        _err(f"{PROG}: interrupted")
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(EXIT_INTERRUPTED)
    if "error" in result:
        raise result["error"]
    return result["value"]


# ---------------------------------------------------------------- verbs


def cmd_push(args: argparse.Namespace) -> int:
    with ProgressDisplay(should_show(args.json)) as progress:
        report = _run_interruptible(
            lambda: lazypath.push_report(
                args.dir,
                args.store,
                tag=args.tag,
                exclude=args.exclude,
                default_excludes=args.default_excludes,
                gitignore=args.gitignore,
                cache_dir=args.cache,
                level=args.level,
                threads=args.threads,
                progress=progress.callback,
                profile_from=args.profile_from,
                use_profile=args.use_profile,
            ),
            progress,
        )
    if args.json:
        obj = dataclasses.asdict(report)
        obj["store"] = args.store
        obj["tag"] = args.tag
        _print_json(obj)
        return EXIT_OK
    _out(report.digest)
    sys.stdout.flush()
    _err(
        f"{report.files} files, {human_bytes(report.bytes)}; "
        f"uploaded {report.blobs_uploaded}/{report.blobs_total} blobs, "
        f"{human_bytes(report.bytes_uploaded)} in {report.packs_uploaded} "
        f"pack{'s' if report.packs_uploaded != 1 else ''}; "
        f"hashed {report.files_hashed} files; "
        f"tree {'already in store' if report.tree_existed else 'new'}"
        + (
            f"; read {report.indexes_fetched}/{report.store_indexes} indexes"
            if report.store_indexes
            else ""
        )
        + (f"; tagged {args.tag}" if args.tag else "")
    )
    prof = report.profile or {}
    if prof.get("source"):
        _err(
            f"profile of {prof['source']}: {prof['dirs']} directories packed first "
            f"({prof['blobs_first']} blobs written for them)"
            + ("; carried over to the new tree" if prof.get("carried") else "")
        )
    if prof.get("warning"):
        _err(f"{PROG}: warning: {_one_line(prof['warning'])}")
    return EXIT_OK


def _remove_tree(path: str) -> None:
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


def cmd_profile(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile

    from lazypath import _boot

    command = list(args.command)
    if not command:
        raise UsageError("profile: give the command to run after '--', e.g. -- python -m app")
    tmp = tempfile.mkdtemp(prefix="lazypath-profile-")
    try:
        cache = os.path.join(tmp, "cache")
        out = os.path.join(tmp, "dirs.jsonl")
        # Resolves REF once (the child gets the digest) and fetches the root.
        tree = lazypath.pull(args.store, args.ref, mode="lazy", cache_dir=cache)
        env = dict(os.environ)
        env.update(_boot.env(args.store, tree.digest, "lazy", cache, tree.path))
        env["PYTHONPATH"] = _boot.pythonpath(env.get("PYTHONPATH"))
        env["LAZYPATH_CACHE"] = cache
        env["LAZYPATH_PROFILE_FILE"] = out
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
            with open(out, encoding="utf-8") as f:
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
            _core.write_profile(args.store, tree.digest, dirs)
    finally:
        _remove_tree(tmp)
    key = "profiles/" + tree.digest.split(":", 1)[1]
    if args.json:
        _print_json(
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
        _out(d or ".")
    _err(
        f"{tree.digest}: {len(dirs)} directories in {seconds:.2f}s"
        + ("" if args.dry_run else f"; stored as {key}")
    )
    return EXIT_OK


def cmd_activate(args: argparse.Namespace) -> int:
    with ProgressDisplay(should_show(args.json)) as progress:
        tree = _run_interruptible(
            lambda: lazypath.pull(
                args.store,
                args.ref,
                cache_dir=args.cache,
                threads=args.threads,
                mode=args.mode,
                progress=progress.callback,
                on_demand=args.on_demand,
            ),
            progress,
        )
    if args.json:
        _print_json(dataclasses.asdict(tree))
        return EXIT_OK
    if tree.mode == "lazy":
        _out(tree.path)
        _err(
            f"{tree.digest}: lazy root ready; fetched {tree.blobs_fetched} blobs, "
            f"{human_bytes(tree.bytes_fetched)} in {tree.requests} store requests"
        )
        return EXIT_OK
    _out(tree.path)
    sys.stdout.flush()
    if tree.cached:
        _err(f"{tree.digest}: already in the node cache ({tree.requests} store requests)")
    else:
        _err(
            f"{tree.digest}: {tree.files} entries; fetched {tree.blobs_fetched} blobs, "
            f"{human_bytes(tree.bytes_fetched)} in {tree.requests} store requests"
        )
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    refs, trees = _run_interruptible(lambda: _core.list_store(args.store))
    if args.json:
        _print_json({"store": args.store, "refs": dict(refs), "trees": list(trees)})
        return EXIT_OK
    by_tree: dict = {}
    for name, digest in refs:
        by_tree.setdefault(digest, []).append(name)
    if refs:
        _table(["REF", "TREE"], [[name, digest] for name, digest in refs])
    else:
        _out("no refs")
    _out()
    if trees:
        _table(["TREE", "REFS"], [[d, ", ".join(by_tree.get(d, []))] for d in trees])
    else:
        _out("no trees")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    digest, entries = _run_interruptible(lambda: _core.show(args.store, args.ref))
    files = [e for e in entries if e["kind"] != "symlink"]
    totals = {
        "files": len(files),
        "executables": sum(1 for e in entries if e["kind"] == "executable"),
        "symlinks": len(entries) - len(files),
        "bytes": sum(e["size"] for e in files),
    }
    if args.json:
        _print_json({"digest": digest, "store": args.store, "entries": entries, **totals})
        return EXIT_OK
    _out(f"tree {digest}")
    _out()
    rows = []
    for e in entries:
        path = e["path"]
        if e["kind"] == "symlink":
            path += f" -> {e['target']}"
        rows.append([e["kind"], str(e["size"]), path])
    if rows:
        _table(["KIND", "SIZE", "PATH"], rows, right=[1])
        _out()
    _out(
        f"{len(entries)} entries: {totals['files']} files "
        f"({totals['executables']} executable), {totals['symlinks']} symlinks, "
        f"{totals['bytes']} bytes ({human_bytes(totals['bytes'])})"
    )
    return EXIT_OK


def _describe(entry: dict | None) -> str:
    if entry is None:
        return "-"
    if entry["kind"] == "symlink":
        return f"symlink -> {entry['target']}"
    return f"{entry['kind']} {human_bytes(entry['size'])}"


def cmd_diff(args: argparse.Namespace) -> int:
    if (args.to_ref is None) == (args.dir is None):
        raise UsageError("diff: give TO or --dir DIR, not both")
    if args.exclude and args.dir is None:
        raise UsageError("diff: --exclude goes with --dir")
    d = _run_interruptible(
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
        _print_json({"store": args.store, **d})
        return EXIT_OK
    to_name = "TO" if args.dir is None else "DIR"
    _out(f"{d['from']} -> {d['to']}" + ("" if args.dir is None else f" ({args.dir}, not pushed)"))
    _out()
    if d["changes"]:
        rows = [
            [c["change"], _describe(c["before"]), _describe(c["after"]), c["path"]]
            for c in d["changes"]
        ]
        _table(["", "BEFORE", "AFTER", "PATH"], rows)
        _out()
    _out(
        f"{d['added']} added, {d['removed']} removed, {d['modified']} modified; "
        f"a node holding FROM fetches {d['blobs_new']} new "
        f"blob{'' if d['blobs_new'] == 1 else 's'} ({human_bytes(d['bytes_new'])}) "
        f"to activate {to_name}"
    )
    return EXIT_OK


def cmd_tag(args: argparse.Namespace) -> int:
    digest = _run_interruptible(lambda: _core.tag(args.store, args.ref, args.name, args.expect))
    if args.json:
        _print_json({"store": args.store, "name": args.name, "digest": digest})
        return EXIT_OK
    _out(f"{args.name} -> {digest}")
    return EXIT_OK


def cmd_cat(args: argparse.Namespace) -> int:
    # The blob is fetched (streaming, verified) into the node cache and copied
    # from there, so a file of any size needs no memory for its content.
    fd, size, _ = _run_interruptible(
        lambda: _core.open_file(args.store, args.ref, args.path, _cache_arg(args))
    )
    if fd < 0:
        return EXIT_OK  # an empty file
    with os.fdopen(fd, "rb") as src:
        out = getattr(sys.stdout, "buffer", None)
        if out is None:  # stdout replaced by a text-only stream
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
                n = out.write(view)
                if not n:
                    raise OSError(errno.EIO, "short write", "stdout")
                view = view[n:]
            copied += len(chunk)
        out.flush()
    if copied != size:  # the cached blob is read-only and verified: never expected
        raise LazypathError(f"cat: {args.path}: read {copied} of {size} bytes from the node cache")
    return EXIT_OK


def _cache_arg(args: argparse.Namespace) -> str:
    return args.cache or ""


def cmd_cache_ls(args: argparse.Namespace) -> int:
    u = _run_interruptible(lambda: _core.cache_usage(_cache_arg(args)))
    cache_dir = args.cache or lazypath.default_cache_dir()
    if args.json:
        _print_json({"cache": cache_dir, **u})
        return EXIT_OK
    _out(f"node cache {cache_dir}")
    _out()
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
        _table(["TREE", "FILES", "SIZE", "LAST USED", ""], rows, right=[1, 2])
    else:
        _out("no trees")
    _out()
    _out(
        f"blobs: {u['blobs']} ({human_bytes(u['blob_bytes'])}), "
        f"{u['unreferenced_blobs']} unreferenced ({human_bytes(u['unreferenced_bytes'])})"
    )
    return EXIT_OK


def _print_gc(args: argparse.Namespace, report: dict) -> int:
    if args.json:
        _print_json(report)
        return EXIT_OK
    for d in report["trees_evicted"]:
        _out(f"evicted {d}")
    for d in report["trees_in_use"]:
        _out(f"kept    {d} (in use)")
    _out(
        f"{len(report['trees_evicted'])} trees evicted, {report['blobs_removed']} blobs "
        f"removed ({human_bytes(report['bytes_freed'])} freed), "
        f"{report['tmp_removed']} debris entries removed; "
        f"blobs now {human_bytes(report['blob_bytes_after'])}"
    )
    return EXIT_OK


def cmd_cache_gc(args: argparse.Namespace) -> int:
    return _print_gc(
        args, _run_interruptible(lambda: lazypath.cache_gc(_cache_arg(args), args.max))
    )


def cmd_cache_clear(args: argparse.Namespace) -> int:
    return _print_gc(args, _run_interruptible(lambda: lazypath.cache_clear(_cache_arg(args))))


def cmd_cache_evict(args: argparse.Namespace) -> int:
    r = _run_interruptible(lambda: lazypath.cache_evict(args.digest, _cache_arg(args)))
    if args.json:
        _print_json(r)
    elif r["evicted"]:
        _out(
            f"evicted {r['digest']}: {r['blobs_removed']} blobs removed "
            f"({human_bytes(r['bytes_freed'])} freed)"
        )
    elif r["in_use"]:
        _out(f"kept {r['digest']}: a process is using it")
    else:
        _out(f"{r['digest']} is not in the node cache")
    return EXIT_OK


def cmd_cache_verify(args: argparse.Namespace) -> int:
    v = _run_interruptible(
        lambda: lazypath.cache_verify(_cache_arg(args), repair=not args.check_only)
    )
    if args.json:
        _print_json(v)
    else:
        for d in v["bad_blobs"]:
            _out(f"bad blob {d}" + (" (removed)" if v["repaired"] else ""))
        for d in v["trees_invalidated"]:
            _out(f"unpublished tree {d}: it will be fetched again on next activation")
        for d in v["trees_in_use"]:
            _out(f"tree {d} uses a bad blob but is in use: left in place")
        _out(
            f"{v['blobs_checked']} blobs checked ({human_bytes(v['bytes_checked'])}), "
            f"{len(v['bad_blobs'])} bad"
        )
    # Finding corruption is a failure worth a non-zero exit, repaired or not.
    return EXIT_FAILED if v["bad_blobs"] else EXIT_OK


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns its exit status (see the --help epilog)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = None
    if argv and argv[0] == "profile" and "--" in argv:
        # Everything after '--' is the profiled command, options included.
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1 :]
    try:
        args = parser.parse_args(argv)
        if command is not None:
            args.command = command
    except SystemExit as e:  # --help, --version, or a usage error
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        status = args.func(args)
        sys.stdout.flush()
        return status
    except UsageError as e:
        _err(f"{PROG}: error: {_one_line(str(e))}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`lazypath cat ... | head`): not worth a message.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAILED
    except ConflictError as e:
        _err(f"{PROG}: error: {_one_line(str(e))}")
        return EXIT_CONFLICT
    except (LazypathError, OSError) as e:
        msg = _os_error_message(e) if isinstance(e, OSError) else _one_line(str(e))
        _err(f"{PROG}: error: {msg}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
