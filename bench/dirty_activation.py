"""Cold eager activation with other processes' unsynced writes pending.

    .venv/bin/python bench/dirty_activation.py [--files 10000 --mb 200]
        [--dirty-mb 2048] [--runs 5] [--record]

A generated tree (bench/gen_tree.py) is pushed in format 2 to a local file
store in a temp dir. Each round then times `lazypath activate STORE DIGEST
--json` on a fresh node cache on the same file system, four ways, in an
order that alternates from round to round:

- clean: nothing else is waiting to be written (the file system is synced,
  untimed, first);
- dirty: a separate process has just written --dirty-mb of data to a file
  on the same file system and not synced it, as another job on a shared node
  would (the file is removed afterwards, which drops its pages unwritten);
- each of those with LAZYPATH_SYNC=1, which makes the node cache sync the
  file system (syncfs) before every publish instead of stamping what it
  wrote with the boot id (doc/reliability.md, "Power loss").

The table shows the median wall time of each and, per mode, dirty against
clean (taken round by round). Before each dirty run the script checks that
the kernel reports at least half of --dirty-mb as dirty.
"""

from __future__ import annotations

import argparse
import os
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

# The writer: another process, so its dirty pages are not ours.
WRITER = """
import os, sys
block = os.urandom(1 << 20)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(block)
"""


def dirty_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Dirty:"):
            return int(line.split()[1])
    return 0


def sync_fs(path: Path) -> None:
    subprocess.run(["sync", "-f", str(path)], check=True)


def activate(store: str, digest: str, cache: Path, sync: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "LAZYPATH_SYNC"}
    if sync:
        env["LAZYPATH_SYNC"] = "1"
    cmd = [LAZYPATH, "activate", store, digest, "--json", "--cache", str(cache)]
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"dirty_activation: activate failed: {p.stderr.strip()}")
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--dirty-mb", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where to work (default: the temp dir)")
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lazypath-dirty-", dir=args.dir) as tmp:
        work = Path(tmp)
        tree = work / "tree"
        gen = [sys.executable, str(HERE / "gen_tree.py"), "--files", str(args.files)]
        subprocess.run([*gen, "--mb", str(args.mb), str(tree)], check=True, capture_output=True)
        store = str(work / "store")
        env = {**os.environ, "LAZYPATH_CACHE": str(work / "push-cache")}
        pushed = subprocess.run([LAZYPATH, "push", str(tree), store], env=env, check=True,
                                capture_output=True, text=True)  # fmt: skip
        digest = pushed.stdout.strip().splitlines()[-1]
        kinds = [("stamp", False), ("syncfs", True)]
        times: dict[tuple[str, str], list[float]] = {}
        ratios: dict[str, list[float]] = {k: [] for k, _ in kinds}
        dirty_seen: list[int] = []
        for i in range(args.runs):
            order = kinds if i % 2 == 0 else kinds[::-1]
            for name, sync in order:
                got = {}
                for cond in ("clean", "dirty") if i % 2 == 0 else ("dirty", "clean"):
                    cache = work / f"cache-{name}-{cond}-{i}"
                    sync_fs(work)
                    hog = work / "other-job.bin"
                    if cond == "dirty":
                        subprocess.run([sys.executable, "-c", WRITER, str(hog),
                                        str(args.dirty_mb)], check=True)  # fmt: skip
                        seen = dirty_kib() // 1024
                        if seen < args.dirty_mb // 2:
                            raise SystemExit(
                                f"dirty_activation: only {seen} MiB dirty after writing "
                                f"{args.dirty_mb} MiB (writeback thresholds too low?)"
                            )
                        dirty_seen.append(seen)
                    got[cond] = activate(store, digest, cache, sync)
                    hog.unlink(missing_ok=True)
                    shutil.rmtree(cache, ignore_errors=True)
                    times.setdefault((name, cond), []).append(got[cond])
                ratios[name].append(got["dirty"] / got["clean"])

    def med(name: str, cond: str) -> str:
        return f"{statistics.median(times[(name, cond)]):.2f} s"

    label = {"stamp": "lazypath (boot-id stamps)", "syncfs": "LAZYPATH_SYNC=1 (syncfs)"}
    table = [
        ["publish", "clean disk (median)", "dirty (median)", "dirty / clean (median)"],
        ["---", "---:", "---:", "---:"],
    ]
    for name, _ in kinds:
        table.append([label[name], med(name, "clean"), med(name, "dirty"),
                      f"{statistics.median(ratios[name]):.2f}x"])  # fmt: skip
    title = (
        f"cold eager activation with {args.dirty_mb} MiB of another process's unsynced "
        f"writes, {args.files} files / {args.mb:g} MiB (median dirty seen: "
        f"{statistics.median(dirty_seen)} MiB)"
    )
    argv = argv if argv is not None else sys.argv[1:]
    publish(title, "bench/dirty_activation.py", argv, table, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
