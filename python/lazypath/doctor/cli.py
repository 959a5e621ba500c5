"""`lazypath doctor`: the command-line front of lazypath.doctor.

The CLI's verb table (lazypath/cli/__init__.py) calls add_arguments(parser)
to declare the verb and run(args) to execute it; `python -m
lazypath.doctor.cli` runs it alone. When this process is exposed to the
environment it inspects, the CLI first re-runs it isolated
(lazypath/_isolation.py). Exit status: 0 ok, 1 failed (one line on stderr) or a finding reached
--fail-on, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rich.console import Console

from lazypath import doctor
from lazypath.doctor import render
from lazypath.errors import LazypathError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_EPILOG = """\
The target interpreter is started with -S in the current directory and
environment: no .pth line, sitecustomize or user module runs. sys.path is
rebuilt as site would build it (see doc/doctor.md).

exit status: 0 ok; 1 the doctor failed, or a finding reached --fail-on; 2 usage.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declares `lazypath doctor`'s arguments on `p` (lazypath/cli/__init__.py
    registers the verb)."""
    p.description = (
        "Predict where every top-level `import NAME` resolves (as CPython's finders "
        "do), list installed distributions, and report shadowing, duplicates and risky "
        "sys.path entries."
    )
    p.epilog = _EPILOG
    p.add_argument("--python", metavar="PY", help="interpreter to examine (default: this one)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (schema 1)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument(
        "--explain", metavar="NAME", help="where `import NAME` resolves, why, what it shadows"
    )
    p.add_argument(
        "--diff",
        nargs=2,
        metavar=("A", "B"),
        help="compare two reports written by --json (entries, origins, versions)",
    )
    p.add_argument(
        "--fail-on",
        choices=doctor.SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when a finding is at least this severe (info, warning, error)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="ADDRESS",
        help="run the doctor on every alive node of a Ray cluster (default address: auto)",
    )
    p.add_argument(
        "--runtime-env",
        metavar="JSON",
        help="with --ray: run the collector inside this runtime_env (a JSON object)",
    )
    p.add_argument(
        "--policy",
        metavar="FILE|JSON",
        help="report what this sys.path policy would change or refuse (doc/policy.md); "
        "exit 1 when it would refuse. With --ray: on every node (default: the policy in "
        "--runtime-env's lazypath field)",
    )
    p.add_argument(
        "--tree",
        metavar="DIR",
        help="with --policy, without --ray: the directory whose top-level names the "
        "shadowed rule protects, placed where PYTHONPATH puts it (after the cwd entry)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show info findings too")


def _err(msg: str) -> None:
    print(f"lazypath: error: {' '.join(str(msg).split())}", file=sys.stderr)


def _console() -> Console:
    return Console(highlight=False)


def run(args: argparse.Namespace) -> int:
    """Executes `lazypath doctor` for parsed `args`; returns the exit status."""
    try:
        return _run(args)
    except _Usage as e:
        _err(str(e))
        return EXIT_USAGE
    except (LazypathError, OSError) as e:
        _err(str(e))
        return EXIT_FAILED


class _Usage(Exception):
    pass


def _run(args: argparse.Namespace) -> int:
    if args.diff and (args.python or args.ray or args.explain):
        raise _Usage("--diff compares two saved reports; it takes no --python/--ray/--explain")
    if args.runtime_env and not args.ray:
        raise _Usage("--runtime-env needs --ray")
    if args.ray and args.python:
        raise _Usage("--ray examines the cluster's own interpreters; it takes no --python")
    if args.tree and (args.ray or not args.policy):
        raise _Usage("--tree goes with --policy, without --ray (a node's tree is its own)")
    policy = None
    if args.policy:
        from lazypath import policy as lppolicy

        policy = lppolicy.load(args.policy)
    console = _console()

    if args.diff:
        a, b = (doctor.load_report(p) for p in args.diff)
        d = doctor.diff(a, b)
        if args.json:
            print(json.dumps(d, indent=2))
        else:
            render.render_diff(d, console, args.diff[0], args.diff[1])
        return EXIT_OK

    if args.ray:
        from lazypath.doctor import cluster

        runtime_env = None
        if args.runtime_env:
            try:
                runtime_env = json.loads(args.runtime_env)
            except ValueError as e:
                raise _Usage(f"--runtime-env: not JSON ({e})") from None
            if not isinstance(runtime_env, dict):
                raise _Usage("--runtime-env: must be a JSON object")
        result = cluster.diagnose_cluster(args.ray, runtime_env=runtime_env, policy=policy)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            cluster.render_cluster(result, console, verbose=args.verbose)
        if args.html:
            _write(args.html, render.render_html(result["driver"], "lazypath doctor (driver)"))
        reports = [result["driver"]] + [g["report"] for g in result["groups"]]
        refusals = [
            line
            for g in result["groups"]
            for n in g["nodes"]
            for line in (n.get("policy") or {}).get("refusals", [])
        ]
        return max(_gate(args, reports), _policy_gate(refusals))

    report = doctor.diagnose(args.python)
    if policy is not None:
        from lazypath.doctor import cluster, policy_check

        tree = os.path.abspath(args.tree) if args.tree else None
        report["policy"] = policy_check.predict(policy, report, tree=tree)
        cluster._add_findings(report, policy_check.findings(report["policy"]))
    if args.explain:
        exp = doctor.explain(report, args.explain)
        if args.json:
            print(json.dumps(exp, indent=2))
        else:
            render.render_explain(exp, console)
    elif args.json:
        print(json.dumps(report, indent=2))
    else:
        render.render_terminal(report, console, verbose=args.verbose)
        for line in (report.get("policy") or {}).get("lines", []):
            console.print(line, soft_wrap=True, markup=False)
    if args.html:
        _write(args.html, render.render_html(report))
    refusals = (report.get("policy") or {}).get("refusals", [])
    return max(_gate(args, [report]), _policy_gate(refusals))


def _policy_gate(refusals: list) -> int:
    if not refusals:
        return EXIT_OK
    print(f"lazypath: doctor: the policy would refuse {len(refusals)} thing(s)", file=sys.stderr)
    return EXIT_FAILED


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LazypathError(f"{path}: cannot write HTML report: {e.strerror or e}") from None


def _gate(args: argparse.Namespace, reports: list) -> int:
    if not args.fail_on:
        return EXIT_OK
    limit = doctor.SEVERITIES.index(args.fail_on)
    hits = [
        f
        for r in reports
        for f in r.get("findings", [])
        if doctor.SEVERITIES.index(f["severity"]) >= limit
    ]
    if hits:
        print(
            f"lazypath: doctor: {len(hits)} finding(s) at or above '{args.fail_on}'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lazypath.doctor.cli [ARGS]`: the doctor verb alone."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["doctor"]:
        argv.insert(0, "doctor")
    from lazypath.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
