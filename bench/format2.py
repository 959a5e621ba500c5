#!/usr/bin/env python3
"""Format 2 against format 1 and git, side by side in one run.

    .venv/bin/python bench/format2.py                 # 10k files / 200 MiB, a 1 GiB file
    .venv/bin/python bench/format2.py --quick         # 2k files / 40 MiB, a 64 MiB file
    .venv/bin/python bench/format2.py --record        # also append the table to RESULTS.md

On a generated tree (bench/gen_tree.py) pushed to one local file store per format,
and committed to a git repository with its own git dir, it measures:

- one-file edit: every byte a push writes to the store for a line appended to one
  module at the deepest level, and for git the loose objects `git commit` writes;
- re-push with nothing changed, warm, against `git status` on the same tree
  (subprocesses, interleaved, median of --runs);
- eager activation of the edited tree on a node that holds the previous one: bytes
  fetched, files linked, and time (median of --runs, a fresh node cache each run);
- a --big-mib file with a 4 KiB overwrite and a 100-byte insert: bytes uploaded by
  the second push, and bytes fetched activating it on a node holding the first;
- lazy activation on a fresh node: the tree's metadata read from the store (format 1:
  tree and index; format 2: tree record and directory objects) when it opens, and
  after the first import of the package holding the edited module (what the import
  hook does: materialise that package's directory and its parents), in a subprocess
  through the core's LazyTree, the object the hook drives.
This environment sets PYTHONDONTWRITEBYTECODE=1; no Python file is imported from the
trees, so it does not matter here, and it is left as it is.
"""

from __future__ import annotations

import argparse
import json
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
import gen_tree  # noqa: E402
from results import publish  # noqa: E402

LAZYPATH = str(Path(sys.executable).with_name("lazypath"))
KIB = 1024
MIB = 1024 * KIB


def log(msg: str) -> None:
    print(f"[format2] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> str:
    p = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, text=True)
    if p.returncode != 0:
        raise SystemExit(f"format2: {' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


def timed(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> float:
    start = time.perf_counter()
    run(cmd, env=env, cwd=cwd)
    return time.perf_counter() - start


class Format:
    """One store format: its store, its node cache for pushing, a push helper."""

    def __init__(self, work: Path, fmt: int):
        self.fmt = fmt
        self.store = str(work / f"store{fmt}")
        self.cache = str(work / f"push-cache{fmt}")
        self.env = {**os.environ, "LAZYPATH_CACHE": self.cache}

    def push(self, tree: Path) -> dict:
        out = run(
            [LAZYPATH, "push", str(tree), self.store, "--format", str(self.fmt), "--json"],
            env=self.env,
        )
        return json.loads(out)

    def push_cmd(self, tree: Path) -> list[str]:
        return [LAZYPATH, "push", str(tree), self.store, "--format", str(self.fmt), "--json"]

    def lazy_metadata(self, digest: str, cache: str, package: str) -> dict:
        script = (
            "import json, sys, time\n"
            "from lazypath import _core\n"
            "start = time.perf_counter()\n"
            "t = _core.LazyTree.open(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])\n"
            "o = t.snapshot()\n"
            "assert t.is_directory(sys.argv[4]) and t.materialize_dir(sys.argv[4])\n"
            "elapsed = time.perf_counter() - start\n"
            "s = t.snapshot()\n"
            "print(json.dumps({'opened': o.metadata_bytes, 'opened_requests': o.requests,\n"
            "                  'imported': s.metadata_bytes, 'requests': s.requests,\n"
            "                  'bytes_read': s.bytes_read, 'seconds': elapsed}))\n"
        )
        out = run([sys.executable, "-c", script, self.store, digest, cache, package])
        return json.loads(out)

    def activate(self, digest: str, cache: str) -> dict:
        env = {**os.environ, "LAZYPATH_CACHE": cache}
        return json.loads(run([LAZYPATH, "activate", self.store, digest, "--json"], env=env))


def git(repo: Path, tree: Path, *args: str) -> str:
    return run(
        ["git", f"--git-dir={repo}", f"--work-tree={tree}", *args],
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
        },
    )


def object_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / "objects").rglob("*") if p.is_file())


def edit_target(tree: Path) -> Path:
    """A module at the deepest level, of median size there."""
    mods = [p for p in tree.rglob("*.py") if p.is_file()]
    depth = max(len(p.relative_to(tree).parts) for p in mods)
    deepest = sorted(
        (p for p in mods if len(p.relative_to(tree).parts) == depth),
        key=lambda p: (p.stat().st_size, str(p)),
    )
    return deepest[len(deepest) // 2]


def human(n: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="2k files / 40 MiB, 64 MiB file")
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    ap.add_argument("--work", help="working directory (default: a temp dir, removed)")
    args = ap.parse_args(argv)
    if args.quick:
        args.files, args.mb, args.big_mib, args.runs = 2000, 40, 64, 3
    work = Path(args.work or tempfile.mkdtemp(prefix="lazypath-format2-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = measure(work, args)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    publish(
        f"Format 2 vs format 1 and git: {args.files} files / {args.mb:g} MiB, "
        f"a {args.big_mib} MiB file",
        "bench/format2.py",
        sys.argv[1:] if argv is None else argv,
        rows,
        args.record,
    )
    return 0


def measure(work: Path, args) -> list:
    tree = work / "tree"
    log(f"generating {args.files} files / {args.mb:g} MiB in {tree}")
    gen_tree.generate(str(tree), files=args.files, mb=args.mb)
    f1, f2 = Format(work, 1), Format(work, 2)
    repo = work / "tree.git"
    run(["git", "init", "-q", "--bare", str(repo)])
    log("cold pushes and the first commit")
    v1 = {1: f1.push(tree), 2: f2.push(tree)}
    git(repo, tree, "add", "-A")
    git(repo, tree, "commit", "-q", "-m", "v1")

    target = edit_target(tree)
    with open(target, "a") as f:
        f.write("EDITED = True\n")
    log(f"one-file edit of {target.relative_to(tree)}")
    v2 = {1: f1.push(tree), 2: f2.push(tree)}
    before = object_bytes(repo)
    git(repo, tree, "add", "-A")
    git(repo, tree, "commit", "-q", "-m", "v2")
    git_bytes = object_bytes(repo) - before

    log(f"re-push with nothing changed vs git status, {args.runs} interleaved runs")
    git_status = ["git", f"--git-dir={repo}", f"--work-tree={tree}", "status", "--porcelain"]
    for cmd, env in ((f1.push_cmd(tree), f1.env), (f2.push_cmd(tree), f2.env), (git_status, None)):
        run(cmd, env=env)  # warm
    t = {1: [], 2: [], "git": []}
    for _ in range(args.runs):
        t[1].append(timed(f1.push_cmd(tree), env=f1.env))
        t[2].append(timed(f2.push_cmd(tree), env=f2.env))
        t["git"].append(timed(git_status))
    med = {k: statistics.median(v) for k, v in t.items()}

    log("eager activation of the edited tree on a node holding the previous one")
    act = {1: [], 2: []}
    fetched = {}
    for i in range(args.runs):
        for fmt, f in ((1, f1), (2, f2)):
            cache = str(work / f"node-{fmt}-{i}")
            f.activate(v1[fmt]["digest"], cache)
            start = time.perf_counter()
            a = f.activate(v2[fmt]["digest"], cache)
            act[fmt].append(time.perf_counter() - start)
            fetched[fmt] = a
            shutil.rmtree(cache, ignore_errors=True)
    act_med = {k: statistics.median(v) for k, v in act.items()}

    log(f"a {args.big_mib} MiB file: 4 KiB overwrite and a 100-byte insert")
    big = work / "big"
    big.mkdir()
    path = big / "model.bin"
    with open(path, "wb") as f:
        for _ in range(args.big_mib):
            f.write(os.urandom(MIB))
    big1 = {1: f1.push(big), 2: f2.push(big)}
    with open(path, "r+b") as f:
        f.seek(args.big_mib * MIB // 3)
        f.write(os.urandom(4 * KIB))
    data_tail_at = args.big_mib * MIB * 2 // 3
    tmp = big / "model.tmp"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(src.read(data_tail_at))
        dst.write(b"i" * 100)
        shutil.copyfileobj(src, dst, 16 * MIB)
    os.replace(tmp, path)
    big2 = {1: f1.push(big), 2: f2.push(big)}
    big_fetch = {}
    for fmt, f in ((1, f1), (2, f2)):
        cache = str(work / f"bignode-{fmt}")
        f.activate(big1[fmt]["digest"], cache)
        big_fetch[fmt] = f.activate(big2[fmt]["digest"], cache)
        shutil.rmtree(cache, ignore_errors=True)

    log("lazy activation on a fresh node: metadata before and after the first import")
    package = str(target.parent.relative_to(tree))
    lazy = {}
    lazy_times = {1: [], 2: []}
    for i in range(args.runs):
        for fmt, f in ((1, f1), (2, f2)):
            cache = str(work / f"lazynode-{fmt}-{i}")
            lazy[fmt] = f.lazy_metadata(v2[fmt]["digest"], cache, package)
            lazy_times[fmt].append(lazy[fmt]["seconds"])
            shutil.rmtree(cache, ignore_errors=True)
    lazy_med = {k: statistics.median(v) for k, v in lazy_times.items()}

    rows = [
        ["measure", "format 1", "format 2", "git", "format 2 / format 1", "format 2 / git"],
        ["---", "---:", "---:", "---:", "---:", "---:"],
        [
            "one-file edit: bytes written to the store",
            human(v2[1]["bytes_uploaded"]),
            human(v2[2]["bytes_uploaded"]),
            human(git_bytes),
            ratio(v2[2]["bytes_uploaded"], v2[1]["bytes_uploaded"]),
            ratio(v2[2]["bytes_uploaded"], git_bytes),
        ],
        [
            "cold push: bytes written",
            human(v1[1]["bytes_uploaded"]),
            human(v1[2]["bytes_uploaded"]),
            "-",
            ratio(v1[2]["bytes_uploaded"], v1[1]["bytes_uploaded"]),
            "-",
        ],
        [
            "re-push, nothing changed (median; git: `git status`)",
            ms(med[1]),
            ms(med[2]),
            ms(med["git"]),
            ratio(med[2], med[1]),
            ratio(med[2], med["git"]),
        ],
        [
            "activate the edit on a node holding v1: time (median)",
            ms(act_med[1]),
            ms(act_med[2]),
            "-",
            ratio(act_med[2], act_med[1]),
            "-",
        ],
        [
            "  ... bytes read from the store / blobs fetched / files linked",
            f"{human(fetched[1]['bytes_read'])} / {fetched[1]['blobs_fetched']} / "
            f"{fetched[1]['files']}",
            f"{human(fetched[2]['bytes_read'])} / {fetched[2]['blobs_fetched']} / "
            f"{fetched[2]['files']}",
            "-",
            ratio(fetched[2]["bytes_read"], fetched[1]["bytes_read"]),
            "-",
        ],
        [
            "lazy activation, fresh node: metadata read when it opens",
            human(lazy[1]["opened"]),
            human(lazy[2]["opened"]),
            "-",
            ratio(lazy[2]["opened"], lazy[1]["opened"]),
            "-",
        ],
        [
            f"  ... and after the first import of `{package.replace('/', '.')}` (target: 64 KiB)",
            human(lazy[1]["imported"]),
            human(lazy[2]["imported"]),
            "-",
            ratio(lazy[2]["imported"], lazy[1]["imported"]),
            "-",
        ],
        [
            "  ... store requests: to open / in all after that import",
            f"{lazy[1]['opened_requests']} / {lazy[1]['requests']}",
            f"{lazy[2]['opened_requests']} / {lazy[2]['requests']}",
            "-",
            "-",
            "-",
        ],
        [
            "  ... time from open to that package on disk (median)",
            ms(lazy_med[1]),
            ms(lazy_med[2]),
            "-",
            ratio(lazy_med[2], lazy_med[1]),
            "-",
        ],
        [
            f"{args.big_mib} MiB file, 4 KiB overwrite + 100 B insert: bytes uploaded",
            human(big2[1]["bytes_uploaded"]),
            human(big2[2]["bytes_uploaded"]),
            "-",
            ratio(big2[2]["bytes_uploaded"], big2[1]["bytes_uploaded"]),
            "-",
        ],
        [
            "  ... bytes read activating it on a node holding the first",
            human(big_fetch[1]["bytes_read"]),
            human(big_fetch[2]["bytes_read"]),
            "-",
            ratio(big_fetch[2]["bytes_read"], big_fetch[1]["bytes_read"]),
            "-",
        ],
    ]
    return rows


if __name__ == "__main__":
    sys.exit(main())
