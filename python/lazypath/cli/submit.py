"""lazypath submit STORE -- ENTRYPOINT...: push the current directory, run it as a Ray job.

What `ray job submit --working-dir . -- ENTRYPOINT...` does, with the code
shipped by digest: the current directory is pushed to STORE (only what the
store lacks is uploaded), and the job is submitted through Ray's job API (HTTP
to the dashboard, Ray's JobSubmissionClient) with a runtime_env pinned to
the pushed digest (merged into --runtime-env-json). The entrypoint runs in
the tree's root on the node (lazypath.ray.job_entrypoint), so `python
main.py` finds main.py, and the job's driver and workers import the digest,
whatever the node's own current directory holds.

The job's logs are streamed to stdout; the exit status is the job's (0 when
it SUCCEEDED, 1 otherwise, with one line naming the job and its status).
Ctrl-C stops following the job, not the job itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import lazypath
import lazypath.ray as lpray
from lazypath.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    STORE_HELP,
    UsageError,
    cache_flag,
    err,
    one_line,
    out,
    run_with_progress,
)
from lazypath.errors import LazypathError

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
# runtime_env keys submit sets itself.
OWN_KEYS = (lpray.FIELD, "working_dir")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help=STORE_HELP)
    p.add_argument(
        "--address",
        metavar="ADDR",
        help=f"the Ray dashboard's address (default: $RAY_ADDRESS, else {DEFAULT_ADDRESS})",
    )
    p.add_argument("--tag", metavar="NAME", help="point ref NAME at the pushed tree")
    p.add_argument(
        "--exclude",
        metavar="PAT",
        action="append",
        default=[],
        help="gitignore pattern to leave out of the push (repeatable)",
    )
    p.add_argument(
        "--runtime-env-json",
        metavar="JSON",
        help="the rest of the job's runtime_env (env_vars, pip, ...), as JSON; the "
        "'lazypath' field is added to it",
    )
    p.add_argument(
        "--mode",
        choices=["eager", "lazy"],
        default="eager",
        help="eager: nodes materialise the whole tree first; lazy: each package when the "
        "job first imports it",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="print the job id and return once the job is submitted",
    )
    cache_flag(p)
    p.add_argument(
        "command",
        nargs="*",
        metavar="-- ENTRYPOINT",
        help="the job's command, after '--', run in the tree's root: e.g. -- python main.py",
    )


def base_runtime_env(text: str | None) -> dict:
    if not text:
        return {}
    try:
        env = json.loads(text)
    except ValueError as e:
        raise UsageError(f"--runtime-env-json is not JSON: {e}") from None
    if not isinstance(env, dict):
        raise UsageError("--runtime-env-json must be a JSON object")
    for key in OWN_KEYS:
        if key in env:
            raise UsageError(
                f"--runtime-env-json must not set '{key}': submit ships the current directory"
                " itself, by digest"
            )
    return env


def store_for_nodes(store: str) -> str:
    """A plain path made absolute: the nodes resolve it from their own directory."""
    if "://" in store:
        return store
    return os.path.abspath(store)


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if not command:
        raise UsageError("submit: give the job's command after '--', e.g. -- python main.py")
    base = base_runtime_env(args.runtime_env_json)
    address = args.address or os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS
    store = store_for_nodes(args.store)

    report = run_with_progress(
        lambda cb: lazypath.push_report(
            ".",
            store,
            tag=args.tag,
            exclude=args.exclude,
            cache_dir=args.cache,
            progress=cb,
        ),
        json_output=False,
    )
    env = lpray.runtime_env(store, report.digest, mode=args.mode, base=base)
    err(
        f"{PROG}: pushed {os.getcwd()} as {report.digest}"
        f" ({report.blobs_uploaded} new blob{'s' if report.blobs_uploaded != 1 else ''})"
        + (f", tagged {args.tag}" if args.tag else "")
    )

    from ray.job_submission import JobStatus, JobSubmissionClient

    try:
        client = JobSubmissionClient(address)
        job_id = client.submit_job(entrypoint=lpray.job_entrypoint(command), runtime_env=env)
    except Exception as e:  # connection refused, HTTP errors: one line naming the address
        raise LazypathError(
            f"cannot submit a job to Ray at {address}: {type(e).__name__}: {one_line(e)}"
        ) from None
    err(f"{PROG}: submitted job {job_id} to {address}")
    if args.no_wait:
        out(job_id)
        return EXIT_OK

    try:
        follow(client, job_id)
        status = wait_terminal(client, job_id)
    except KeyboardInterrupt:
        err(
            f"{PROG}: stopped following job {job_id}; it keeps running"
            f" (stop it with: ray job stop --address {address} {job_id})"
        )
        return EXIT_INTERRUPTED
    if status == JobStatus.SUCCEEDED:
        return EXIT_OK
    message = ""
    try:
        message = summary(client.get_job_info(job_id).message)
    except Exception:  # the status is the news; its message is a bonus
        pass
    err(f"{PROG}: error: job {job_id} {status.value}" + (f": {message}" if message else ""))
    return EXIT_FAILED


def summary(message: str | None) -> str:
    """Ray's job message in one line: its first line, and its last when Ray
    appended the job's last log lines (a traceback's last line is its error)."""
    lines = [ln.strip() for ln in (message or "").strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0]
    return f"{lines[0].rstrip(':')}; last log line: {lines[-1]}"


def follow(client, job_id: str) -> None:
    """Writes the job's logs to stdout as they come, until the job ends."""
    import asyncio

    async def tail() -> None:
        async for lines in client.tail_job_logs(job_id):
            sys.stdout.write(lines)
            sys.stdout.flush()

    asyncio.run(tail())


def wait_terminal(client, job_id: str):
    """The job's final status (the log stream can end just before it is recorded)."""
    import time

    while True:
        status = client.get_job_status(job_id)
        if status.is_terminal():
            return status
        time.sleep(0.5)
