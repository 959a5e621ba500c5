#!/usr/bin/env python3
"""Ray deploy benchmark: from "code changed" to "the first task runs the new code".

    .venv/bin/python bench/ray_deploy.py               # 10k files / 200 MiB, 3 runs, prints a table
    .venv/bin/python bench/ray_deploy.py --write       # ... and appends it to bench/RESULTS.md
    .venv/bin/python bench/ray_deploy.py --quick       # 1k files / 20 MiB, 1 run: a smoke test

One local Ray cluster (this process starts it, with the lazypath runtime_env
plugin registered) serves every deploy. A deploy is what a user does: edit
the code, then start a driver that connects to the cluster with a
runtime_env shipping the code and runs one task, which imports the edited
module and returns the mark written into it. The clock starts when the edit
is on disk and stops when the driver prints the mark the task returned (so
it includes the driver's start, `import ray`, the push or Ray's upload inside
`ray.init`, the node's runtime_env setup and the worker's start and import).

Contestants, interleaved in every run on the same generated tree:

- lazypath eager: `lazypath.push_report()` into a file:// store, then
  `ray.init(runtime_env={"lazypath": {"store", "ref": digest}})`;
- lazypath lazy: the same with `"mode": "lazy"`;
- lazypath lazy, on_demand data/: the same with `"on_demand": ["data"]`, so the
  tree's top-level data directory (no code; most of the bytes) stays out of the
  root until something asks for it;
- Ray working_dir: `ray.init(runtime_env={"working_dir": tree})`;
- Ray py_modules: `ray.init(runtime_env={"py_modules": [tree/app, tree/data]})`.

Two deploys per contestant and run: *cold* (fresh lazypath store and caches;
for Ray, a salt file in every shipped directory makes every package new to
the cluster and the node) and *after one edit* (one mid-sized module changes).

Bytes moved: uploaded = lazypath's push report (bytes written to the store),
or the size of the packages that appeared in Ray's GCS during the deploy;
fetched by the node = the bytes the plugin read from the store (its
runtime_env setup log line; a lazy tree's import hook counts its own), or
the size of the Ray packages the node downloaded and unpacked during the
deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_tree  # noqa: E402
from results import append_section  # noqa: E402
from run import human_bytes, human_time, render  # noqa: E402

METHODS = ("eager", "lazy", "lazy_data", "working_dir", "py_modules")
LAZYPATH = ("eager", "lazy", "lazy_data")
NAMES = {
    "eager": "lazypath eager",
    "lazy": "lazypath lazy",
    "lazy_data": "lazypath lazy, on_demand data/",
    "working_dir": "Ray working_dir",
    "py_modules": "Ray py_modules",
}
DEPLOYS = ("cold", "edit")
MARK = "DEPLOY_MARK"


def log(msg: str) -> None:
    print(f"[ray-deploy] {msg}", file=sys.stderr, flush=True)


# The driver, one fresh process per deploy. argv[1] is its JSON config; it
# prints one line "RESULT <json>" once the task's answer is back.
DRIVER = r"""
import json, sys, time
t_start = time.perf_counter()
cfg = json.loads(sys.argv[1])
import ray
t_import = time.perf_counter()
method = cfg["method"]
out = {"uploaded": None}
if method in ("eager", "lazy", "lazy_data"):
    import lazypath
    rep = lazypath.push_report(cfg["tree"], cfg["store"], cache_dir=cfg["driver_cache"])
    out["uploaded"] = rep.bytes_uploaded
    out["digest"] = rep.digest
    mode = "eager" if method == "eager" else "lazy"
    field = {"store": cfg["store"], "ref": rep.digest, "mode": mode}
    if method == "lazy_data":
        field["on_demand"] = ["data"]
    env = {"lazypath": field, "env_vars": {"LAZYPATH_CACHE": cfg["node_cache"]}}
elif method == "working_dir":
    env = {"working_dir": cfg["tree"]}
else:
    env = {"py_modules": cfg["py_modules"]}
ray.init(address=cfg["address"], runtime_env=env, logging_level="ERROR", log_to_driver=False)
t_init = time.perf_counter()
out["job_runtime_env"] = ray.get_runtime_context().runtime_env


@ray.remote(num_cpus=1, max_retries=0)
def probe(module, mark_name):
    # A plain import: the parent packages' __init__ modules run first.
    import importlib, sys
    m = importlib.import_module(module)
    lazy_fetched = None
    for f in sys.meta_path:  # a lazy tree's import hook counts what it fetched
        stats = getattr(getattr(f, "tree", None), "stats", None)
        if callable(stats):
            lazy_fetched = (lazy_fetched or 0) + int(stats()["bytes_read"])
    return {"mark": getattr(m, mark_name, None), "file": m.__file__,
            "lazy_fetched": lazy_fetched}


try:
    r = ray.get(probe.remote(cfg["module"], cfg["mark_name"]), timeout=cfg["timeout"])
    out.update(r)
except Exception as e:
    out["error"] = type(e).__name__ + ": " + " ".join(str(e).split())
t_task = time.perf_counter()
out["t_import"] = t_import - t_start
out["t_init"] = t_init - t_import
out["t_task"] = t_task - t_init
print("RESULT " + json.dumps(out), flush=True)
"""

_SETUP_LINE = re.compile(
    r"lazypath: (sha256:[0-9a-f]{64}) in (\S+) \((cached|materialised)(?:, lazy)?; "
    r"fetched (\d+) blob\(s\), (\d+) bytes; read (\d+) bytes"
)


class Cluster:
    """One local Ray cluster with the plugin registered; knows where the node
    keeps Ray's packages and its runtime_env setup logs."""

    def __init__(self, temp_dir: str):
        import lazypath.ray as lpray
        import ray

        os.environ[lpray.PLUGIN_ENV_VAR] = lpray.plugin_env_value()  # for the raylet
        os.environ.pop(lpray.HOOK_ENV_VAR, None)
        t0 = time.perf_counter()
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200 * 1024 * 1024,
            logging_level="ERROR",
            _temp_dir=temp_dir,
        )
        node = ray._private.worker._global_node
        self.ray = ray
        self.address = ray.get_runtime_context().gcs_address
        self.resources = Path(node.get_runtime_env_dir_path())
        self.logs = Path(node.get_logs_dir_path())
        log(f"ray {ray.__version__} local cluster up in {time.perf_counter() - t0:.1f}s")

    def packages(self) -> set[str]:
        """The Ray packages unpacked on the node (working_dir and py_modules)."""
        out = set()
        for kind in ("working_dir_files", "py_modules_files"):
            d = self.resources / kind
            if d.is_dir():
                out |= {p.name for p in d.iterdir() if p.name.startswith("_ray_pkg_")}
        return out

    def gcs_packages(self) -> set[str]:
        """The package URIs in the GCS."""
        from ray.experimental import internal_kv

        keys = internal_kv._internal_kv_list("gcs://_ray_pkg_")
        return {k.decode() if isinstance(k, bytes) else k for k in keys}

    def package_size(self, uri: str) -> int:
        from ray.experimental import internal_kv

        data = internal_kv._internal_kv_get(uri)
        return len(data) if data is not None else 0

    def lazypath_fetched(self, digest: str, cache: str, store: str) -> int | None:
        """Bytes the node's runtime env agent read from the store to install
        `digest` in `cache` (ref, tree, index and blobs), as the plugin logs
        them in the node's runtime_env setup log."""
        total = None
        real = os.path.realpath(cache)
        for f in self.logs.glob("runtime_env_setup-*.log"):
            for m in _SETUP_LINE.finditer(f.read_text(errors="replace")):
                if m.group(1) != digest or not os.path.realpath(m.group(2)).startswith(real):
                    continue
                total = (total or 0) + int(m.group(6))
        return total

    def close(self) -> None:
        self.ray.shutdown()


def write_mark(target: Path, mark: str) -> None:
    """Sets `DEPLOY_MARK = mark` at the end of the module (one file edited)."""
    text = target.read_text(encoding="utf-8")
    text = re.sub(rf"\n{MARK} = .*\n$", "\n", text)
    target.write_text(f"{text}{MARK} = {mark!r}\n", encoding="utf-8")


def write_salt(tree: Path, salt: str) -> None:
    """Makes every shipped directory new to Ray's GCS and node (a cold deploy)."""
    (tree / "app" / "_bench_salt.py").write_text(f"SALT = {salt!r}\n")
    (tree / "data" / "_bench_salt.txt").write_text(salt + "\n")


def _runs(path: Path) -> bool:
    """The module compiles and its top level (imports, constants, defs) runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(compile(path.read_bytes(), str(path), "exec"), {"__name__": "_probe"})
            return True
        except Exception:
            return False


def pick_target(tree: Path) -> Path:
    """A mid-sized module, as bench/run.py picks it: the one nearest the
    median size whose top level runs."""
    pys = sorted((p for p in tree.rglob("*.py") if p.name != "__init__.py"), key=str)
    pys.sort(key=lambda p: p.stat().st_size)
    mid = len(pys) // 2
    for k in range(len(pys)):
        for i in {mid - k, mid + k}:
            if 0 <= i < len(pys) and _runs(pys[i]):
                return pys[i]
    raise SystemExit(f"ray-deploy: no module in {tree} runs")


def module_name(tree: Path, target: Path) -> str:
    parts = target.relative_to(tree).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Runner:
    def __init__(self, cluster: Cluster, tree: Path, scratch: Path, target: Path, timeout: float):
        self.c, self.tree, self.scratch, self.target = cluster, tree, scratch, target
        self.module = module_name(tree, target)
        self.timeout = timeout
        self.samples: dict[tuple[str, str], list[dict]] = {}
        self.dirs: dict[str, dict[str, str]] = {}
        self.driver_log = scratch / "drivers.log"
        self.env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
        self.env.pop("RAY_RUNTIME_ENV_HOOK", None)

    def _fresh_lazypath_dirs(self, method: str, run: int) -> dict[str, str]:
        base = self.scratch / f"{method}-{run}"
        shutil.rmtree(base, ignore_errors=True)
        d = {k: str(base / k) for k in ("store", "driver-cache", "node-cache")}
        for p in d.values():
            os.makedirs(p)
        return d

    def deploy(self, method: str, kind: str, run: int) -> None:
        mark = f"{method}-{kind}-{run}-{time.time_ns()}"
        if kind == "cold":
            write_salt(self.tree, f"{method}-{run}-{time.time_ns()}")
            if method in LAZYPATH:
                self.dirs[method] = self._fresh_lazypath_dirs(method, run)
        dirs = self.dirs.get(method, {})
        cfg = {
            "method": method,
            "address": self.c.address,
            "tree": str(self.tree),
            "py_modules": [str(self.tree / "app"), str(self.tree / "data")],
            "store": dirs.get("store"),
            "driver_cache": dirs.get("driver-cache"),
            "node_cache": dirs.get("node-cache"),
            "module": self.module,
            "mark_name": MARK,
            "timeout": self.timeout,
        }
        before_pkgs = self.c.packages()
        before_gcs = self.c.gcs_packages() if method in ("working_dir", "py_modules") else set()
        write_mark(self.target, mark)
        t0 = time.perf_counter()  # the code changed
        result, elapsed = self._drive(cfg)
        if "error" in result:
            raise SystemExit(f"ray-deploy: {NAMES[method]} {kind} deploy failed: {result['error']}")
        if result["mark"] != mark:
            raise SystemExit(
                f"ray-deploy: {NAMES[method]} {kind}: the task ran old code "
                f"(saw {result['mark']!r}, expected {mark!r}, from {result['file']})"
            )
        if method in LAZYPATH:
            uploaded = result["uploaded"]
            fetched = self.c.lazypath_fetched(result["digest"], cfg["node_cache"], cfg["store"])
            if result.get("lazy_fetched") is not None:
                fetched = (fetched or 0) + result["lazy_fetched"]
        else:
            uploaded = sum(map(self.c.package_size, self.c.gcs_packages() - before_gcs))
            new = self.c.packages() - before_pkgs
            fetched = sum(self.c.package_size(f"gcs://{name}.zip") for name in new)
        s = {
            "total": elapsed,
            "t0": t0,
            "import": result["t_import"],
            "init": result["t_init"],
            "task": result["t_task"],
            "uploaded": uploaded,
            "fetched": fetched,
        }
        self.samples.setdefault((method, kind), []).append(s)
        log(
            f"run {run + 1} {NAMES[method]:16} {kind:4}: {human_time(elapsed):>8} "
            f"(driver start {human_time(s['import'])}, push/upload+init {human_time(s['init'])}, "
            f"task {human_time(s['task'])}); uploaded {human_bytes(uploaded or 0)}, "
            f"fetched {human_bytes(fetched or 0) if fetched is not None else '?'}"
        )

    def _drive(self, cfg: dict) -> tuple[dict, float]:
        t0 = time.perf_counter()
        with open(self.driver_log, "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", DRIVER, json.dumps(cfg)],
                stdout=subprocess.PIPE,
                stderr=err,
                env=self.env,
                cwd=str(self.scratch),
                text=True,
            )
            result, elapsed = None, 0.0
            for line in proc.stdout:
                if line.startswith("RESULT "):
                    elapsed = time.perf_counter() - t0
                    result = json.loads(line[len("RESULT ") :])
                    break
            proc.stdout.close()
            proc.wait(timeout=120)
        if result is None:
            raise SystemExit(
                f"ray-deploy: the {cfg['method']} driver exited with {proc.returncode} without a "
                f"result; see {self.driver_log}"
            )
        return result, elapsed


def med(samples: list[dict], key: str) -> float | None:
    vals = [s[key] for s in samples if s[key] is not None]
    return statistics.median(vals) if vals else None


def ratio(other: float | None, base: float | None) -> str:
    if other is None or base is None or base <= 0:
        return "—"
    r = other / base
    if r >= 100:
        return f"{r:.0f}×"
    return f"{r:.1f}×" if r >= 0.1 else f"{r:.2f}×"


def table(r: Runner) -> str:
    rows = [
        [
            "method",
            "deploy",
            "code changed → new code runs",
            "÷ eager",
            "of which push/upload + ray.init",
            "bytes uploaded",
            "÷ eager",
            "bytes fetched by the node",
            "÷ eager",
        ]
    ]
    for kind in DEPLOYS:
        base = r.samples.get(("eager", kind), [])
        bt, bu, bf = med(base, "total"), med(base, "uploaded"), med(base, "fetched")
        for method in METHODS:
            if (method, kind) not in r.samples:
                continue
            label = "cold (first deploy)" if kind == "cold" else "after a one-file edit"
            s = r.samples[(method, kind)]
            t, u, f = med(s, "total"), med(s, "uploaded"), med(s, "fetched")
            rows.append(
                [
                    NAMES[method],
                    label,
                    human_time(t),
                    ratio(t, bt),
                    human_time(med(s, "init")),
                    human_bytes(u) if u is not None else "?",
                    ratio(u, bu),
                    human_bytes(f) if f is not None else "?",
                    ratio(f, bf),
                ]
            )
    return render(rows)


def spread(r: Runner) -> list[str]:
    out = []
    for kind in DEPLOYS:
        for method in METHODS:
            s = r.samples.get((method, kind))
            if not s:
                continue
            out.append(
                f"- {NAMES[method]}, {kind}: "
                + ", ".join(
                    f"{human_time(x['total'])} (start {human_time(x['import'])}, "
                    f"init {human_time(x['init'])}, task {human_time(x['task'])})"
                    for x in s
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=None, help="files in the tree (default 10000)")
    p.add_argument("--mb", type=float, default=None, help="tree size in MiB (default 200)")
    p.add_argument("--runs", type=int, default=None, help="runs per deploy (median; default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="1000 files / 20 MiB, 1 run")
    p.add_argument("--timeout", type=float, default=600, help="seconds a task may take")
    p.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    p.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {','.join(METHODS)} (ratios need eager)",
    )
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown method(s) {unknown}; known: {list(METHODS)}")
    args.files = args.files or (1000 if args.quick else 10000)
    args.mb = args.mb or (20 if args.quick else 200)
    args.runs = max(1, args.runs or (1 if args.quick else 3))
    cmdline = " ".join(
        [".venv/bin/python", "bench/ray_deploy.py"]
        + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]
    )

    work = Path(tempfile.mkdtemp(prefix="lazypath-ray-deploy-")).resolve()
    ray_tmp = tempfile.mkdtemp(prefix="lprd", dir="/tmp")  # unix socket paths are short
    cluster = None
    try:
        tree = work / "tree"
        t0 = time.perf_counter()
        stats = gen_tree.generate(str(tree), args.files, args.mb, args.seed)
        log(
            f"generated {stats['files']} files, {human_bytes(stats['bytes'])} "
            f"({time.perf_counter() - t0:.1f}s)"
        )
        target = pick_target(tree)
        scratch = work / "scratch"
        scratch.mkdir()
        cluster = Cluster(ray_tmp)
        runner = Runner(cluster, tree, scratch, target, args.timeout)
        log(f"the edited module: {runner.module} ({human_bytes(target.stat().st_size)})")
        load0 = os.getloadavg()[0]
        for run in range(args.runs):
            for method in methods:
                for kind in DEPLOYS:
                    runner.deploy(method, kind, run)
        load1 = os.getloadavg()[0]
        import ray

        text = table(runner)
        head = (
            f"Tree: {stats['files']} files, {human_bytes(stats['bytes'])} "
            f"(bench/gen_tree.py --files {args.files} --mb {args.mb:g} --seed {args.seed}); "
            f"one local Ray {ray.__version__} node (2 CPUs); median of {args.runs} run(s); "
            "ratios are method ÷ lazypath eager (above 1× means lazypath eager is faster / "
            f"moves less); load average {load0:.2f} before, {load1:.2f} after."
        )
        print()
        print(head)
        print()
        print(text)
        if args.write:
            body = "\n".join(
                [
                    head,
                    "",
                    text,
                    "",
                    "Every run (code changed → new code runs, and its parts: driver start +"
                    " `import ray`, push/upload + `ray.init`, first task):",
                    "",
                    *spread(runner),
                    "",
                    "See bench/README.md (ray_deploy.py) for what each column measures.",
                ]
            )
            append_section("Ray deploy: code changed → first task runs it", cmdline, body)
            log("appended to bench/RESULTS.md")
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
