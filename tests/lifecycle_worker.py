"""A fork server for the lifecycle concurrency suite (tests/test_lifecycle_concurrency.py).

Started once per test with lazypath imported (the core is loaded in each
child, never in this process, so fork() loses no threads). Each command is
one JSON line: {"ops": [op, ...], "errdir": DIR}. Every op runs in its own
forked child; the children are released together by a pipe, and each op
with a "kill_after" (seconds after the release) is sent SIGKILL then. Ops:

  {"op": "push", "src", "store", "tag" (or null), "format", "cache"}
  {"op": "eager" | "lazy", "store", "ref", "cache", "modules": [name, ...]}
      eager: lazypath.pull; lazy: activation, then every module imported
  {"op": "prune", "store", "keep_last", "grace"}   (keep_within 0)

The reply is one JSON line: {"children": [{"killed", "rc", "seconds",
"error"}, ...]} in the order of the ops. rc is 0 (done), 1 (an error: its
one line in "error") or 4 (a prune that found the lock held).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time

import lazypath


def run_op(cmd: dict) -> int:
    op = cmd["op"]
    if op == "push":
        lazypath.push(
            cmd["src"], cmd["store"], tag=cmd["tag"], format=cmd["format"], cache_dir=cmd["cache"]
        )
        return 0
    if op == "prune":
        from lazypath.errors import ConflictError

        try:
            lazypath.prune(
                cmd["store"], keep_last=cmd["keep_last"], keep_within=0, grace=cmd["grace"]
            )
        except ConflictError:
            return 4
        return 0
    if op == "eager":
        lazypath.pull(cmd["store"], cmd["ref"], cache_dir=cmd["cache"])
        return 0
    if op == "lazy":
        lazypath.activate(cmd["store"], cmd["ref"], mode="lazy", cache_dir=cmd["cache"])
        for name in cmd["modules"]:
            importlib.import_module(name)
        return 0
    raise ValueError(op)


def child(cmd: dict, gate: int, errdir: str) -> None:
    """Runs in the forked child; never returns."""
    code = 1
    try:
        os.read(gate, 1)  # released when the parent closes the pipe
        code = run_op(cmd)
    except BaseException as e:  # noqa: BLE001 - report, then exit with 1
        with open(os.path.join(errdir, str(os.getpid())), "w", encoding="utf-8") as f:
            f.write(f"{type(e).__name__}: {e}")
    finally:
        os._exit(code)


def reap(pid: int, status: int, seconds: float, errdir: str) -> dict:
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    err = os.path.join(errdir, str(pid))
    error = ""
    if os.path.exists(err):
        with open(err, encoding="utf-8") as f:
            error = f.read()
        os.unlink(err)
    return {"killed": killed, "rc": rc, "seconds": seconds, "error": error}


def round_(cmd: dict) -> dict:
    ops, errdir = cmd["ops"], cmd["errdir"]
    r, w = os.pipe()
    pids = []
    for op in ops:
        pid = os.fork()
        if pid == 0:
            os.close(w)
            child(op, r, errdir)
        pids.append(pid)
    os.close(r)
    started = time.monotonic()
    os.close(w)  # every child's read returns: they start together
    kills = sorted((op["kill_after"], i) for i, op in enumerate(ops) if op.get("kill_after"))
    for at, i in kills:
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        os.kill(pids[i], signal.SIGKILL)  # may have exited already: then not a kill
    done = {}
    while len(done) < len(pids):  # in the order they end, each with its own time
        pid, status = os.wait()
        if pid in pids:
            done[pid] = reap(pid, status, time.monotonic() - started, errdir)
    return {"children": [done[pid] for pid in pids]}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(round_(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
