"""Re-push with nothing changed, against `git status` on the same tree.

    .venv/bin/python bench/repush.py [--files 10000 --mb 200] [--runs 15] [--record]

A generated tree (bench/gen_tree.py) is pushed once to a local store in
format 2 and committed into a git repository; then `lazypath push` (the CLI,
a whole process, as a user runs it) and `git status --porcelain` run in
turn, both warm, and the table gives median wall and CPU (user + system of
the child) with their ratios, taken pair by pair. A third row calls
lazypath.push() in the benchmark's own interpreter (the core already
loaded), interleaved with the others: what the push itself costs, without
the interpreter's start, the CLI's imports and the core's load. What a re-push does: one
stat per entry, the stat cache, the root memo of the listing, and one
existence check of the root in the store (doc/format.md, "Pushing").
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import publish  # noqa: E402

LAZYPATH = str(Path(sys.executable).with_name("lazypath"))


def run(cmd: list[str], env: dict | None = None) -> None:
    p = subprocess.run(cmd, capture_output=True, env=env, text=True)
    if p.returncode != 0:
        raise SystemExit(f"repush: {' '.join(cmd)} failed: {p.stderr.strip()}")


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of `cmd` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run(cmd, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lazypath-repush-") as tmp:
        work = Path(tmp)
        tree = work / "tree"
        run([sys.executable, str(HERE / "gen_tree.py"), "--files", str(args.files),
             "--mb", str(args.mb), str(tree)])  # fmt: skip
        # Old mtimes, as for any tree not edited in the last second: both
        # tools trust what they cached only for files older than that.
        for root, dirs, files in os.walk(tree):
            for name in dirs + files:
                os.utime(os.path.join(root, name), (1_000_000, 1_000_000))
        env = {**os.environ, "LAZYPATH_CACHE": str(work / "cache")}
        push = [LAZYPATH, "push", str(tree), str(work / "store")]
        repo = work / "repo.git"
        git = ["git", f"--git-dir={repo}", f"--work-tree={tree}"]
        run(["git", "init", "-q", "--bare", str(repo)])
        run(git + ["add", "-A"])
        run(git + ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "v1"])
        status = git + ["status", "--porcelain"]
        run(push, env)  # the first push
        for _ in range(2):  # warm both
            run(push, env)
            run(status)
        rows = {"push": [], "git": [], "api": []}
        os.environ["LAZYPATH_CACHE"] = env["LAZYPATH_CACHE"]
        import lazypath

        lazypath.push(str(tree), str(work / "store"))  # warm: the core loaded
        for _ in range(args.runs):
            rows["push"].append(timed(push, env))
            rows["git"].append(timed(status))
            start, cpu = time.perf_counter(), time.process_time()
            lazypath.push(str(tree), str(work / "store"))
            rows["api"].append((time.perf_counter() - start, time.process_time() - cpu))

    def med(values):
        return statistics.median(values)

    wall_ratio = med([p[0] / g[0] for p, g in zip(rows["push"], rows["git"])])
    cpu_ratio = med([p[1] / g[1] for p, g in zip(rows["push"], rows["git"])])
    table = [
        ["contestant", "wall (median)", "CPU (median)", "wall x git", "CPU x git"],
        ["---", "---:", "---:", "---:", "---:"],
        [
            "`lazypath push`, nothing changed",
            f"{med([w for w, _ in rows['push']]) * 1000:.1f} ms",
            f"{med([c for _, c in rows['push']]) * 1000:.1f} ms",
            f"{wall_ratio:.2f}x",
            f"{cpu_ratio:.2f}x",
        ],
        [
            "`lazypath.push()` in a running interpreter (the core's share)",
            f"{med([w for w, _ in rows['api']]) * 1000:.1f} ms",
            f"{med([c for _, c in rows['api']]) * 1000:.1f} ms",
            f"{med([a[0] / g[0] for a, g in zip(rows['api'], rows['git'])]):.2f}x",
            f"{med([a[1] / g[1] for a, g in zip(rows['api'], rows['git'])]):.2f}x",
        ],
        [
            "`git status --porcelain`",
            f"{med([w for w, _ in rows['git']]) * 1000:.1f} ms",
            f"{med([c for _, c in rows['git']]) * 1000:.1f} ms",
            "1.00x",
            "1.00x",
        ],
    ]
    title = f"Re-push with nothing changed vs git status, {args.files} files / {args.mb:g} MiB"
    argv = argv if argv is not None else sys.argv[1:]
    publish(title, "bench/repush.py", argv, table, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
