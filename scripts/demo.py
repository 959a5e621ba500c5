#!/usr/bin/env python3
"""lazypath demo: ship an app to a running Ray cluster, edit it, ship the edit, no restart.

    .venv/bin/python scripts/demo.py [--tasks 4] [--dir .demo]

Steps (each one timed):
  1. start a local Ray cluster whose workers use the node cache .demo/cache
     (LAZYPATH_CACHE in the job's runtime_env);
  2. copy examples/app to a working copy and push it to the file store .demo/store;
  3. run Ray tasks that lazypath.activate() the digest and import the app;
  4. bump the app's version in the working copy and push again: only the
     changed file (plus a small index and tree) is uploaded;
  5. run tasks on the same cluster that activate the new digest: the same
     worker processes now run the new code.
Exits 1 if any step did not behave as described.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_SRC = ROOT / "examples" / "app"

BOLD, GREEN, RED, DIM, RESET = "\033[1m", "\033[32m", "\033[31m", "\033[2m", "\033[0m"
if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
    BOLD = GREEN = RED = DIM = RESET = ""

failures: list[str] = []


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


@contextmanager
def step(title: str):
    print(f"\n{BOLD}== {title}{RESET}")
    t0 = time.perf_counter()
    yield
    print(f"{DIM}   ({time.perf_counter() - t0:.2f}s){RESET}")


def check(ok: bool, what: str) -> None:
    mark = f"{GREEN}ok{RESET}" if ok else f"{RED}FAILED{RESET}"
    print(f"   [{mark}] {what}")
    if not ok:
        failures.append(what)


def run_app(store: str, digest: str) -> dict:
    """Ray task body: activate the tree, import the app, use it."""
    import os
    import time

    import lazypath

    t0 = time.perf_counter()
    tree = lazypath.activate(store, digest)
    activate_s = time.perf_counter() - t0
    import shop

    cart = shop.Cart(shop.load_catalog()).add("espresso", 3).add("mug")
    return {
        "version": shop.version(),
        "file": shop.__file__,
        "pid": os.getpid(),
        "tree": tree.path,
        "cached": tree.cached,
        "activate_ms": activate_s * 1000,
        "total": str(cart.total()),
    }


def run_round(ray, task, store: str, digest: str, n: int, version: str, cache: str) -> set:
    results = ray.get([task.remote(store, digest) for _ in range(n)])
    tree_dir = os.path.join(os.path.realpath(cache), "trees", digest.split(":", 1)[1])
    for r in results:
        rel = os.path.relpath(r["file"], os.path.realpath(cache))
        print(
            f"   pid {r['pid']:>6}  shop {r['version']}  cart total {r['total']}  "
            f"activate {r['activate_ms']:6.1f} ms ({'cached' if r['cached'] else 'fetched'})"
            f"  __file__ = <cache>/{rel}"
        )
    check(all(r["version"] == version for r in results), f"every task runs shop {version}")
    check(
        all(os.path.realpath(r["file"]).startswith(tree_dir + os.sep) for r in results),
        f"shop is imported from the node cache: {os.path.relpath(tree_dir, ROOT)}/",
    )
    return {r["pid"] for r in results}


def report_push(rep, label: str) -> None:
    pct = 100.0 * rep.bytes_uploaded / rep.bytes if rep.bytes else 0.0
    print(f"   digest   {rep.digest}")
    print(
        f"   {label}: {rep.files} files, {human(rep.bytes)}; re-hashed {rep.files_hashed} "
        f"file(s); {rep.blobs_uploaded} of {rep.blobs_total} blobs new"
    )
    print(
        f"   {BOLD}uploaded {human(rep.bytes_uploaded)} of {human(rep.bytes)} ({pct:.1f}%){RESET}"
        f" (compressed blobs in {rep.packs_uploaded} pack(s), plus index and tree)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=4, help="tasks per round (default 4)")
    p.add_argument("--dir", default=str(ROOT / ".demo"), help="scratch dir (wiped first)")
    args = p.parse_args(argv)

    import lazypath

    demo = Path(args.dir).resolve()
    store, cache, work = demo / "store", demo / "cache", demo / "work" / "app"
    t_start = time.perf_counter()

    with step("setup: fresh scratch dir, file store and node cache"):
        shutil.rmtree(demo, ignore_errors=True)
        store.mkdir(parents=True)
        cache.mkdir(parents=True)
        print(f"   store  {store}\n   cache  {cache}  (LAZYPATH_CACHE on every worker)")

    with step("start a local Ray cluster"):
        import ray

        ray.init(
            address="local",  # a new cluster, never one left running
            num_cpus=2,
            include_dashboard=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": {"LAZYPATH_CACHE": str(cache)}},
        )
        print(f"   ray {ray.__version__}, {ray.cluster_resources().get('CPU', 0):.0f} CPUs")
    try:
        task = ray.remote(num_cpus=1)(run_app)

        with step(f"copy {APP_SRC.relative_to(ROOT)} to a working copy and push it"):
            shutil.copytree(APP_SRC, work)
            rep1 = lazypath.push_report(str(work), str(store), tag="demo", cache_dir=str(cache))
            report_push(rep1, "push 1")
            check(rep1.files > 0 and rep1.digest.startswith("sha256:"), "push returned a digest")

        short = rep1.digest[:19] + "..."
        with step(f"run {args.tasks} Ray tasks that activate {short} and import shop"):
            pids1 = run_round(ray, task, str(store), rep1.digest, args.tasks, "1.0.0", str(cache))

        with step("edit one file in the working copy (version 1.0.0 -> 1.1.0) and push again"):
            vfile = work / "shop" / "_version.py"
            text = vfile.read_text()
            vfile.write_text(re.sub(r'__version__ = "1\.0\.0"', '__version__ = "1.1.0"', text))
            rep2 = lazypath.push_report(str(work), str(store), tag="demo", cache_dir=str(cache))
            report_push(rep2, "push 2")
            check(rep2.digest != rep1.digest, "the edit gives a new digest")
            check(rep2.blobs_uploaded == 1, "only the edited file's blob is uploaded")
            check(rep2.bytes_uploaded < rep2.bytes, "the re-push uploads less than the tree")

        with step(f"run {args.tasks} tasks on the SAME cluster that activate the new digest"):
            pids2 = run_round(ray, task, str(store), rep2.digest, args.tasks, "1.1.0", str(cache))
            same = pids1 & pids2
            print(
                f"   worker pids round 1 {sorted(pids1)}, round 2 {sorted(pids2)}: "
                f"{len(same)} process(es) ran both versions without a restart"
            )
            check(bool(ray.is_initialized()), "the cluster was never restarted")

        with step("activate by tag: 'demo' now names the new tree"):
            r = ray.get(task.remote(str(store), "demo"))
            print(
                f"   tag demo -> shop {r['version']} from <cache>/"
                f"{os.path.relpath(r['file'], os.path.realpath(cache))}"
            )
            check(r["version"] == "1.1.0", "the tag resolves to the new version")
    finally:
        with step("shut Ray down"):
            ray.shutdown()

    total = time.perf_counter() - t_start
    if failures:
        print(f"\n{RED}{BOLD}demo FAILED{RESET} ({len(failures)} check(s)): " + "; ".join(failures))
        return 1
    print(f"\n{GREEN}{BOLD}demo ok{RESET} in {total:.1f}s; scratch files are in {demo}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
