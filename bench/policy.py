"""What a worker's start pays for a sys.path policy (lazypath/policy.py).

    .venv/bin/python bench/policy.py [--runs 41] [--record]

Builds, in a temp dir, a realistic worker sys.path of 20 entries (a driver
directory that shadows 3 of the tree's names, Ray's two directories, the
tree with 50 top-level names, py_modules / working_dir copies, two missing
and one relative entry, one world-writable directory, the stdlib and the
virtualenv's real site-packages) and times, each in a fresh interpreter (`python
-c`, site as usual), what lazypath/_boot.py runs for the policy before user
code: `import lazypath.policy` and `policy.boot()` (parse LAZYPATH_POLICY,
list the tree, find the site directories' .pth files that execute code,
evaluate, apply, put the Guard on sys.meta_path). Then the same evaluate +
apply warm in this process, and the Guard's cost per import when sys.path
did not change. Prints a table of medians, wall clock and the process's CPU
time (which the load of a shared machine moves less); --record appends it
to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

POLICY = {"shadowed": "tree-first", "drop": ["cwd", "relative", "missing", "writable", "pth-exec"]}


def build(root: str) -> tuple[list[str], str]:
    def pkg(d, name):
        os.makedirs(os.path.join(d, name), exist_ok=True)
        open(os.path.join(d, name, "__init__.py"), "w").close()

    def mod(d, name):
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, name + ".py"), "w").close()

    tree = os.path.join(root, "trees", "a" * 64)
    for i in range(35):
        pkg(tree, f"app{i}")
    for i in range(15):
        mod(tree, f"tool{i}")
    driver = os.path.join(root, "driver")
    for n in ("app0", "app1"):
        pkg(driver, n)
    mod(driver, "tool3")
    for i in range(20):
        mod(driver, f"script{i}")
    ray_tp = os.path.join(root, "ray", "thirdparty_files")
    for n in ("psutil", "colorama", "setproctitle"):
        pkg(ray_tp, n)
    ray_w = os.path.join(root, "ray", "workers")
    mod(ray_w, "default_worker")
    import lazypath

    site = os.path.dirname(os.path.dirname(os.path.abspath(lazypath.__file__)))
    stdlib = os.path.dirname(os.__file__)
    extra = []
    for i in range(8):
        d = os.path.join(root, f"lib{i}")
        for j in range(20):
            mod(d, f"m{i}_{j}")
        extra.append(d)
    world = os.path.join(root, "shared")
    os.makedirs(world, exist_ok=True)
    os.chmod(world, 0o777)
    path = [
        driver,
        ray_tp,
        ray_w,
        tree,
        *extra[:4],
        os.path.join(root, "missing1"),
        "relative/dir",
        world,
        *extra[4:],
        os.path.join(root, "missing2"),
        stdlib,
        os.path.join(stdlib, "lib-dynload"),
        site,
    ]
    return path, tree


CHILD = r"""
import os, sys, time
path = {path!r}
sys.path[:] = path
c0, t0 = time.process_time(), time.perf_counter()
import lazypath.policy as p
c1, t1 = time.process_time(), time.perf_counter()
p.boot()
c2, t2 = time.process_time(), time.perf_counter()
g = p.installed()
assert g is not None and g.moved, "the policy did nothing"
print(*[x * 1e3 for x in (t1 - t0, t2 - t1, t2 - t0, c1 - c0, c2 - c1, c2 - c0)])
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=41)
    ap.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args()
    from lazypath import policy as lp

    with tempfile.TemporaryDirectory(prefix="lp-bench-policy-") as root:
        path, tree = build(root)
        env = dict(os.environ)
        env.update(lp.env(POLICY, tree, node="bench"))
        env.pop("PYTHONPATH", None)
        fresh = []
        for _ in range(args.runs):
            r = subprocess.run(
                [sys.executable, "-c", CHILD.format(path=path)],
                env=env,
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            )
            fresh.append([float(x) for x in r.stdout.split()[-6:]])
        parsed = lp.parse(POLICY)
        warm = []
        pth = lp.pth_exec_entries()
        names = lp.tree_names(tree)
        for _ in range(args.runs * 5):
            t0 = time.perf_counter()
            plan = lp.evaluate(parsed, path, tree=tree, names=names, pth=pth, cwd=root, node="b")
            target = list(path)
            lp.apply(plan, target)
            warm.append((time.perf_counter() - t0) * 1e3)
        guard = lp.Guard(lp.worker_part(parsed), tree, node="b", stream=open(os.devnull, "w"))
        saved = list(sys.path)
        try:
            sys.path[:] = path
            guard.check()
            per_import = []
            for _ in range(args.runs * 5):
                t0 = time.perf_counter()
                for _ in range(1000):
                    guard.find_spec("json")
                per_import.append((time.perf_counter() - t0) * 1e3)  # ms per 1000 = µs each
        finally:
            sys.path[:] = saved
        removed = len(plan.removed)
    med = statistics.median

    def col(i):
        return med(r[i] for r in fresh)

    rows = [
        ("import lazypath.policy (fresh interpreter)", col(0), col(3), "ms"),
        ("policy.boot(): parse + list + evaluate + apply + Guard", col(1), col(4), "ms"),
        ("worker-side total (the two above, per run)", col(2), col(5), "ms"),
        ("evaluate + apply, warm (in process)", med(warm), None, "ms"),
        ("Guard per import, sys.path unchanged", med(per_import), None, "µs"),
    ]
    head = (
        f"sys.path of {len(path)} entries, tree of {len(names)} top-level names, policy"
        f" {json.dumps(POLICY)}: {removed} entries dropped, the tree moved ahead of 3 shadows;"
        f" median of {args.runs} fresh interpreters ({args.runs * 5} warm runs)"
    )
    lines = [
        "| step | median wall | median CPU |",
        "|---|---:|---:|",
        *[
            f"| {name} | {wall:.2f} {unit} | {'—' if cpu is None else f'{cpu:.2f} {unit}'} |"
            for name, wall, cpu, unit in rows
        ],
    ]
    print(head)
    print("\n".join(lines))
    if args.record:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        load = os.getloadavg()[0]
        text = (
            f"\n## Worker-side sys.path policy check ({stamp})\n\n"
            f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()},"
            f" Linux {platform.release()}, Python {platform.python_version()};"
            f" load average (1 min) {load:.2f}\n"
            f"- command: `.venv/bin/python bench/policy.py --runs {args.runs} --record`\n"
            f"- {head}\n\n" + "\n".join(lines) + "\n"
        )
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "RESULTS.md"), "a", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
