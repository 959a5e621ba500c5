"""The `lazypath` command line (also `python -m lazypath`).

Each verb lives in its own module beside this one (lazypath/cli/push.py,
...), which declares its arguments (`add_arguments(parser)`) beside its
handler (`run(args) -> exit status`), and calls only the public `lazypath`
API. COMMANDS below is the one table of verbs: `lazypath --help` reads it
without importing any verb module, and `lazypath VERB ...` imports only
VERB's. The order of the table is the order of --help. See doc/cli.md for
the user's view.

This module imports nothing beyond `os` and `sys` before it has guarded
sys.path (_guard_path): the environment under inspection may shadow the
standard library (a random.py on PYTHONPATH), and lazypath's own imports
must not load that code.
"""

from __future__ import annotations

import os
import sys

PROG = "lazypath"

# verb: (module, summary, aliases). Ordered as --help lists them.
COMMANDS = {
    "push": ("lazypath.cli.push", "pack DIR, upload what STORE lacks, print the tree digest", ()),
    "activate": (
        "lazypath.cli.activate",
        "materialise tree REF in the node cache and print its path",
        ("pull",),
    ),
    "run": (
        "lazypath.cli.run",
        "run COMMAND with tree REF on its Python path, holding a lease on the tree while it runs",
        (),
    ),
    "profile": (
        "lazypath.cli.profile",
        "run a Python command with tree REF activated lazily in a fresh node cache, and store "
        "the directories it imported, in order, as REF's import profile",
        (),
    ),
    "submit": (
        "lazypath.cli.submit",
        "push the current directory and run ENTRYPOINT as a Ray job on its digest, "
        "streaming the job's logs",
        (),
    ),
    "ls": ("lazypath.cli.ls", "list the refs and trees in STORE", ()),
    "show": ("lazypath.cli.show", "list the entries of tree REF", ()),
    "diff": (
        "lazypath.cli.diff",
        "list the files that differ from tree FROM to tree TO (or to directory --dir)",
        (),
    ),
    "tag": ("lazypath.cli.tag", "point ref NAME at tree REF (--delete: remove ref NAME)", ()),
    "log": ("lazypath.cli.log", "list the recorded moves of ref REF, newest first", ()),
    "rollback": (
        "lazypath.cli.rollback",
        "move ref REF back to a tree it named before (--to DIGEST, --steps N)",
        (),
    ),
    "prune": (
        "lazypath.cli.prune",
        "delete the trees, packs and locations that no ref, recent move or push still needs",
        (),
    ),
    "cat": ("lazypath.cli.cat", "write the bytes of file PATH in tree REF to stdout", ()),
    "cache": ("lazypath.cli.cache", "inspect and manage the node cache", ()),
    "doctor": (
        "lazypath.doctor.cli",
        "show where every import resolves and what is wrong with sys.path",
        (),
    ),
}

_EPILOG = """\
exit status:
  0    success
  1    the operation failed; one line 'lazypath: error: <message>' on stderr
  2    usage error (bad arguments or options)
  3    a ref moved while push --tag, tag or rollback ran (or --expect did
       not match): the tree is in the store, the ref was left as it was;
       prune: another prune holds the store's lock
  130  interrupted (Ctrl-C)

environment:
  LAZYPATH_CACHE         node cache directory (default: $XDG_CACHE_HOME/lazypath
                         or ~/.cache/lazypath); --cache overrides it
  LAZYPATH_CACHE_MAX     size budget of the node cache (e.g. 20G), kept after
                         every activation and by `cache gc`
  LAZYPATH_ACTOR         who ref moves are recorded as (default: user@host);
                         --actor overrides it
  LAZYPATH_PROFILE       lazy activation: record, off or prefetch (default)
  LAZYPATH_BYTECODE      bytecode of activated trees in the node cache: on
                         (default, whatever PYTHONDONTWRITEBYTECODE says), read, off
  LAZYPATH_HTTP_TIMEOUT, LAZYPATH_HTTP_ATTEMPTS
                         remote stores: seconds without progress before a
                         request fails, and attempts per request
  LAZYPATH_HTTP_TOKEN    https:// stores: a bearer token sent with each request
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
  AWS_REGION, AWS_ENDPOINT_URL(_S3), AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE
                         s3:// stores, as the AWS CLI reads them
  GOOGLE_OAUTH_ACCESS_TOKEN, GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST,
  GCE_METADATA_HOST      gs:// stores, as Google's client libraries read them
  SSL_CERT_FILE, SSL_CERT_DIR, CURL_CA_BUNDLE
                         CA certificates for https (default: the system's)

STORE is a directory path or a file://, s3://, gs:// or https:// (read-only)
URL. REF is a ref name (a tag such as 'prod') or a tree digest
'sha256:<64 hex>'. See doc/cli.md for details.
"""


def _guard_path() -> None:
    """Takes PYTHONPATH's entries and the current directory off this
    process's sys.path, so that what the CLI imports next is lazypath's own
    dependencies, not same-named modules of the environment it works on.
    Children it starts get the environment unchanged."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    drop = {"", ".", os.getcwd()}
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry:
            drop.add(os.path.abspath(entry))
    keep = []
    for entry in sys.path:
        full = os.path.abspath(entry) if entry else ""
        if (entry in drop or full in drop) and full != here:
            continue
        keep.append(entry)
    sys.path[:] = keep


def _verb(argv: list) -> str | None:
    """The verb argv names (or one of its aliases), or None."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            for name, (_module, _summary, aliases) in COMMANDS.items():
                if arg == name or arg in aliases:
                    return name
            return None
    return None


def _untranslated(message: str) -> str:
    return message


def _untranslated_n(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _formatter_class(argparse):
    """RawDescriptionHelpFormatter, told the terminal's width the way shutil
    would find it: argparse makes a formatter for every argument it adds, and
    the first one otherwise imports shutil (with zlib, bz2 and lzma) just to
    ask."""

    class Formatter(argparse.RawDescriptionHelpFormatter):
        def __init__(self, prog, indent_increment=2, max_help_position=24, width=None, **kw):
            if width is None:
                try:
                    columns = int(os.environ.get("COLUMNS", "0"))
                except ValueError:
                    columns = 0
                if columns <= 0:
                    try:
                        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
                    except (AttributeError, ValueError, OSError):
                        columns = 0
                width = (columns or 80) - 2
            super().__init__(prog, indent_increment, max_help_position, width, **kw)

    return Formatter


def build_parser(verb: str | None = None):
    """The parser; only `verb`'s subparser is built and its module imported
    (every verb's, listed, when verb is None: `lazypath --help`; every one
    complete when verb is "*", for documentation and tests)."""
    import argparse
    import importlib

    from lazypath import __version__

    # argparse asks gettext for a translation of every string it builds
    # with, and gettext imports locale and searches the disk for catalogues
    # each time; Python installs none for argparse, so each search finds
    # nothing. The CLI owns its process: skip the searches.
    argparse._ = _untranslated
    argparse.ngettext = _untranslated_n
    formatter = _formatter_class(argparse)

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ship Python code to Ray clusters as content-addressed artifacts.",
        epilog=_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    verbs.required = True
    for name, (module_name, summary, aliases) in COMMANDS.items():
        if verb not in (None, "*", name):
            # Only the verb being run gets a parser: each costs about a
            # millisecond (argparse looks up translations as it builds).
            continue
        p = verbs.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=_EPILOG if name != "doctor" else None,
            formatter_class=formatter,
            aliases=list(aliases),
        )
        if verb in (name, "*"):
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(func=module.run)
    return parser


def console_main() -> None:
    """The `lazypath` command (and `python -m lazypath`): main(), then exit
    without tearing the interpreter down.

    Freeing every module and object at exit costs a few milliseconds per run
    (a re-push with nothing changed takes about 30) and does nothing a verb
    needs: the atexit handlers still run (they save profiles, stop Ray) and
    the output is flushed. When other threads are still running, the
    interpreter's own exit joins them as usual."""
    status = main()
    status = status if isinstance(status, int) else 0
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(status)
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        sys.exit(status)  # the interpreter reports it as it would
    os._exit(status)


def main(argv=None) -> int:
    """Runs the CLI and returns its exit status (see the --help epilog)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb(argv)
    if verb == "doctor":
        # The doctor re-runs itself isolated when this process is exposed
        # to the environment it inspects; decide before importing anything.
        from lazypath import _isolation

        if _isolation.exposed():
            return _isolation.rerun(argv)
    _guard_path()
    # Paths need not be UTF-8 (a directory named b"caf\xe9"): print them as
    # the OS gave them, never fail on them.
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        try:
            stream.reconfigure(errors=errors)
        except (AttributeError, ValueError):  # replaced or closed streams
            pass
    from lazypath.cli._common import (
        EXIT_CONFLICT,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        EXIT_USAGE,
        UsageError,
        err,
        one_line,
        os_error_message,
    )
    from lazypath.errors import ConflictError, LazypathError

    parser = build_parser(verb)
    command = None
    if verb in ("profile", "run", "submit") and "--" in argv:
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
        err(f"{PROG}: error: {one_line(str(e))}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
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
        err(f"{PROG}: error: {one_line(str(e))}")
        return EXIT_CONFLICT
    except (LazypathError, OSError) as e:
        msg = os_error_message(e) if isinstance(e, OSError) else one_line(str(e))
        err(f"{PROG}: error: {msg}")
        return EXIT_FAILED
