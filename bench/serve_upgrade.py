#!/usr/bin/env python3
"""Serve upgrade benchmark: from "new config applied" to "all replicas serve the new code".

    .venv/bin/python bench/serve_upgrade.py             # 3 runs, prints a table
    .venv/bin/python bench/serve_upgrade.py --write     # ... and appends it to bench/RESULTS.md
    .venv/bin/python bench/serve_upgrade.py --runs 1    # a smoke test

The KubeRay deploy flow on one local cluster (this process starts it with
the lazypath plugin registered, Serve's proxy on a free loopback port):
examples/kuberay/rayservice.yaml's serveConfigV2 (the shop app, 2 replicas)
is PUT to Serve's REST config API, then PUT again with new code while a
client sends steady GETs. Contestants, interleaved in every run, each moving
to a fresh version of examples/app (its _version.py edited):

- lazypath: the manifest's config with a new digest (pushed beforehand to a
  file:// store on local disk);
- Ray working_dir: the same config with `runtime_env: {working_dir: URI}`,
  URI a new zip of the app on local disk (file://, made beforehand; Serve's
  REST API accepts remote URIs only, as KubeRay users ship https/s3 zips).

Timed from the PUT's return ("config applied") to the first poll (every
0.1 s) that sees the application RUNNING with the new runtime_env, Serve's
"every replica is of the new version and healthy" ("all replicas serve the
new code"); also the first answer from the new code. Failed requests are
counted. Pushing and zipping happen before the clock starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
import lazypath  # noqa: E402
import serve_rollout as sr  # noqa: E402
from ray_head import free_port, head, ray_env  # noqa: E402
from results import publish  # noqa: E402

APP = ROOT / "examples" / "app"
METHODS = ("lazypath", "working_dir")
NAMES = {"lazypath": "lazypath (new digest)", "working_dir": "Ray working_dir (new zip URI)"}


def log(msg: str) -> None:
    print(f"[serve-upgrade] {msg}", file=sys.stderr, flush=True)


def version_dir(work: Path, version: str) -> Path:
    dst = work / f"app-{version}"
    shutil.copytree(APP, dst)
    (dst / "shop" / "_version.py").write_text(f'__version__ = "{version}"\n')
    return dst


def make_zip(src: Path, out: Path) -> str:
    """A working_dir zip as Ray expects it: one top-level directory."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                z.write(path, Path(src.name) / path.relative_to(src))
    return "file://" + str(out)


def fmt(s: float | None) -> str:
    return "—" if s is None else f"{s:.2f} s"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lp-serve-bench-"))
    store = str(work / "store")
    cache = work / "node-cache"
    manifest = sr.serve_config()
    app_name = manifest["applications"][0]["name"]
    results: dict[str, list] = {m: [] for m in METHODS}
    try:
        path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
        with head(work, env={"LAZYPATH_CACHE": str(cache), "PATH": path}) as h:
            port = free_port()
            sr.start_serve(h.gcs, port, ray_env())
            url = f"http://127.0.0.1:{port}/"
            n = 0

            def next_config(method: str) -> tuple[dict, str]:
                nonlocal n
                n += 1
                version = f"{n}.0.0"
                src = version_dir(work, version)
                if method == "lazypath":
                    digest = lazypath.push(str(src), store)
                    return sr.with_lazypath(manifest, store, digest), version
                return sr.with_working_dir(
                    manifest, make_zip(src, work / f"{src.name}.zip")
                ), version

            # The starting point: the lazypath config, warm.
            config, version = next_config("lazypath")
            sr.put_config(h.address, config)
            sr.wait_running(h.address, config)
            sr.wait_answering(url, version)
            for run in range(args.runs):
                order = METHODS if run % 2 == 0 else METHODS[::-1]
                for method in order:
                    config, version = next_config(method)
                    up = sr.upgrade(h.address, url, config, settle=2.0)
                    first = up.first_new(version)
                    row = {
                        "running": up.running - up.applied,
                        "first_new": None if first is None else first - up.applied,
                        "requests": len(up.answers),
                        "failed": len(up.failed),
                        "stale_after": sum(1 for a in up.after_running() if a.version != version),
                    }
                    results[method].append(row)
                    log(f"run {run + 1} {method}: {row}")
                    sr.wait_answering(url, version)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ["contestant", "config applied → all replicas new (median)", "→ first new answer (median)",
         "requests", "failed", "old answers after RUNNING", "every run (all replicas new)"],
        ["---", "---:", "---:", "---:", "---:", "---:", "---"],
    ]  # fmt: skip
    for m in METHODS:
        rs = results[m]
        firsts = [r["first_new"] for r in rs if r["first_new"] is not None]
        rows.append(
            [
                NAMES[m],
                fmt(statistics.median(r["running"] for r in rs)),
                fmt(statistics.median(firsts) if firsts else None),
                str(sum(r["requests"] for r in rs)),
                str(sum(r["failed"] for r in rs)),
                str(sum(r["stale_after"] for r in rs)),
                ", ".join(fmt(r["running"]) for r in rs),
            ]
        )
    publish(
        f"Serve upgrade of app {app_name!r} (2 replicas) by REST config,"
        f" {args.runs} interleaved runs",
        "bench/serve_upgrade.py",
        sys.argv[1:],
        rows,
        args.write,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
