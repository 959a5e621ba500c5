"""A fork server for the crash suite (tests/test_crash.py).

Started once per test with lazypath already imported, it reads one JSON
command per line on stdin, forks a child that runs the operation (push,
eager or lazy activation, cache gc or verify) and, when told, SIGKILLs it
after a delay. Forking a warm interpreter costs about a millisecond, so
hundreds of kills fit in seconds, where starting a fresh interpreter per
kill would not. The parent never calls into the core itself, so it has no
threads to lose in fork().

Replies are one JSON line per command:
  {"pid": N, "killed": bool, "rc": exit code or null, "seconds": wall time}
For "swarm" (N children released together): {"children": [reply, ...]}.
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
    """The child's work; returns its exit code (0 ok, 3 wrong content)."""
    op = cmd["op"]
    cache = cmd["cache"]
    if op == "push":
        lazypath.push(cmd["src"], cmd["store"], tag=cmd["ref"], cache_dir=cache)
        return 0
    if op == "gc":  # evict everything no process uses, sweep blobs and debris
        lazypath.cache_gc(cache, max_bytes=0)
        return 0
    if op == "verify":  # rehash every blob, repair what does not match
        lazypath.cache_verify(cache, repair=True)
        return 0
    if op == "eager" and cmd.get("pull"):  # what `lazypath activate` (the CLI) runs
        tree = lazypath.pull(cmd["store"], cmd["ref"], cache_dir=cache)
        sys.path.insert(0, tree.path)
    elif op == "eager":
        tree = lazypath.activate(cmd["store"], cmd["ref"], cache_dir=cache)
    elif op == "lazy":
        tree = lazypath.activate(cmd["store"], cmd["ref"], mode="lazy", cache_dir=cache)
    else:
        raise ValueError(op)
    # Import every module and read every data file, as a worker would; each
    # carries the value it must have.
    for name, value in cmd["modules"].items():
        if importlib.import_module(name).VALUE != value:
            return 3
    for rel, text in cmd["data"].items():
        path = os.path.join(tree.path, rel)
        if not cmd.get("pull"):  # a pulled tree is complete, and not "activated"
            path = lazypath.materialize(path)
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                return 3
    if cmd.get("out"):
        with open(cmd["out"], "w", encoding="utf-8") as f:
            json.dump({"path": tree.path, "digest": tree.digest}, f)
    return 0


def child(cmd: dict, gate: int | None) -> None:
    """Runs in the forked child; never returns."""
    code = 1
    try:
        if gate is not None:
            os.read(gate, 1)  # released when the parent closes the pipe
        code = run_op(cmd)
    except BaseException as e:  # noqa: BLE001 - report, then exit with 1
        print(f"crash_worker child: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reap(pid: int, started: float) -> dict:
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return {"pid": pid, "killed": killed, "rc": rc, "seconds": time.monotonic() - started}


def one(cmd: dict) -> dict:
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(cmd, None)
    delay = cmd.get("kill_after")
    if delay is not None:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)  # may already have exited: then not a kill
    return reap(pid, started)


def swarm(cmd: dict) -> dict:
    """cmd["kill_after"]: one delay (or null) per child; all start at once."""
    delays = cmd["kill_after"]
    r, w = os.pipe()
    pids = []
    for i, _ in enumerate(delays):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            child({**cmd, "out": f"{cmd['out']}.{i}"}, r)
        pids.append(pid)
    os.close(r)
    started = time.monotonic()
    os.close(w)  # every child's read returns: they start together
    for at, i in sorted((d, i) for i, d in enumerate(delays) if d is not None):
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        os.kill(pids[i], signal.SIGKILL)
    return {"children": [reap(pid, started) for pid in pids]}


def main() -> None:
    for line in sys.stdin:
        cmd = json.loads(line)
        reply = swarm(cmd) if cmd.get("swarm") else one(cmd)
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
