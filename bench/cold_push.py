"""Cold push against `tar -cf - | zstd -1 -T2` of the same tree.

    .venv/bin/python bench/cold_push.py [--files 10000 --mb 200] [--runs 7] [--record]

A generated tree (bench/gen_tree.py) is read from the page cache by every
contestant. Each round runs, in turn: the peer, `tar -cf - -C TREE . |
zstd -1 -T2 -q` into a file (reading and compressing every byte once, on
both cores, with no hashing and nothing one file can be loaded from); then
`lazypath push TREE STORE` (the CLI, a whole process) into an empty file
store with an empty node cache, so nothing is known and every file is
hashed, chunked where large, compressed and packed; then the same push at
`--level 3` and in `--format 1` (and, with `--package DIR`, the push of
another copy of the package, for a before/after in the same run). The
peer runs a second time followed by `sync` of its output file: a push
fsyncs its pack before publishing it, so this row is the durable
comparison. Removing the previous run's store and
cache is not timed. The table gives median wall and CPU time (user +
system of the child) and the median of the per-round ratios to the peer,
and what each wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall, cpu, stdout) of one run of `cmd` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"cold_push: {' '.join(cmd)} failed: {p.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout


def tree_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="DIR",
        help="also time `python -m lazypath push` with PYTHONPATH=DIR (a copy of the "
        "package, say an earlier build's, with its extension modules), at its defaults",
    )
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args(argv)
    if shutil.which("zstd") is None or shutil.which("tar") is None:
        raise SystemExit("cold_push: needs tar and zstd on PATH")

    cli = [LAZYPATH, "push"]
    pushes = {
        "`lazypath push` (default: format 2, level 1)": (cli, [], {}),
        "`lazypath push --level 3`": (cli, ["--level", "3"], {}),
        "`lazypath push --format 1`": (cli, ["--format", "1"], {}),
    }
    for pkg in args.package:
        pushes[f"`lazypath push` [{pkg}]"] = (
            [sys.executable, "-m", "lazypath", "push"],
            [],
            {"PYTHONPATH": str(Path(pkg).resolve())},
        )
    peer = "`tar -cf - . \\| zstd -1 -T2`"
    durable = "... then `sync` of its output (durable, as a push's pack is)"
    with tempfile.TemporaryDirectory(prefix="lazypath-coldpush-") as tmp:
        work = Path(tmp)
        tree = work / "tree"
        subprocess.run(
            [sys.executable, str(HERE / "gen_tree.py"), "--files", str(args.files),
             "--mb", str(args.mb), str(tree)],
            check=True, capture_output=True,
        )  # fmt: skip
        time.sleep(1.5)  # a tree not edited in the last second, as a user's is
        env = dict(os.environ)
        tar = ["bash", "-c", f"tar -cf - -C {tree} . | zstd -1 -T2 -q -f -o {work / 'out.zst'}"]
        tar_sync = ["bash", "-c", tar[2] + f" && sync {work / 'out.zst'}"]
        times: dict[str, list[tuple[float, float]]] = {
            peer: [],
            durable: [],
            **{k: [] for k in pushes},
        }
        written: dict[str, int] = {}
        for _ in range(args.runs + 1):  # the first round warms the page cache
            round_times = {}
            round_times[peer] = timed(tar, env)[:2]
            written[peer] = (work / "out.zst").stat().st_size
            round_times[durable] = timed(tar_sync, env)[:2]
            written[durable] = (work / "out.zst").stat().st_size
            for name, (prog, extra, more_env) in pushes.items():
                store, cache = work / "store", work / "cache"
                shutil.rmtree(store, ignore_errors=True)
                shutil.rmtree(cache, ignore_errors=True)
                cmd = [*prog, str(tree), str(store), "--cache", str(cache), "--json"]
                wall, cpu, out = timed(cmd + extra, {**env, **more_env})
                report = json.loads(out)
                written[name] = report["bytes_uploaded"]
                round_times[name] = (wall, cpu)
            for name, t in round_times.items():
                times[name].append(t)
        size = tree_bytes(tree)
    for name in times:
        times[name] = times[name][1:]

    def med(values):
        return statistics.median(values)

    rows = [
        ["contestant", "wall (median)", "CPU (median)", "wall x peer", "CPU x peer", "written"],
        ["---", "---:", "---:", "---:", "---:", "---:"],
    ]
    for name, t in times.items():
        base = times[peer]
        rows.append(
            [
                name,
                f"{med([w for w, _ in t]):.3f} s",
                f"{med([c for _, c in t]):.3f} s",
                f"{med([a[0] / b[0] for a, b in zip(t, base)]):.2f}x",
                f"{med([a[1] / b[1] for a, b in zip(t, base)]):.2f}x",
                f"{written[name] / 2**20:.1f} MiB ({100 * written[name] / size:.1f}%)",
            ]
        )
    title = (
        f"Cold push vs tar | zstd -1 -T2, {args.files} files / {args.mb:g} MiB, {args.runs} rounds"
    )
    argv = argv if argv is not None else sys.argv[1:]
    publish(title, "bench/cold_push.py", argv, rows, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
