#!/usr/bin/env python3
"""Lazy activation benchmarks (issue: lazy activation), in one run:

1. An app that imports about 5% of a ~500 MB tree: bytes fetched and time to
   its first successful import, under lazypath lazy, lazypath eager and Ray's
   working_dir (download + unpack from a running local Ray's GCS).
2. A module-heavy package in a lazy tree whose directories are all
   materialised, against the same files as a plain directory on sys.path:
   import time (the cost of the lazy import hook once everything is there).
3. The same app under lazy activation with and without its import profile
   (recorded with `lazypath profile`, packed first by a second push,
   prefetched in the background): time to the first package import, time to
   the end of the app's startup imports, store requests and bytes.

Every measurement runs in a fresh interpreter (subprocess), N times; the
table shows medians and ratios side by side.

    .venv/bin/python bench/lazy.py [--mb 500] [--runs 3] [--quick] [--profile-only] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import append_section
from run import human_bytes


def log(msg: str) -> None:
    print(f"[lazy-bench] {msg}", file=sys.stderr, flush=True)


def gen_app_tree(root: Path, mb: int, packages: int = 100, seed: int = 1) -> int:
    """`packages` packages of ~mb/packages MB each (code plus a data/ dir),
    and app.py at the root importing 5% of them. Returns the total bytes."""
    rng = random.Random(seed)
    per_pkg = mb * 1024 * 1024 // packages
    total = 0
    for p in range(packages):
        pkg = root / f"pkg{p:03d}"
        (pkg / "data").mkdir(parents=True)
        mods = []
        code_bytes = per_pkg // 10
        for m in range(20):
            body = [f'"""Module {m} of package {p}."""', ""]
            size = 0
            k = 0
            while size < code_bytes // 20:
                line = f"def f{k}(x):\n    return x * {rng.randint(1, 999)} + {k}\n\n"
                body.append(line)
                size += len(line)
                k += 1
            text = "\n".join(body)
            (pkg / f"mod{m:02d}.py").write_text(text)
            total += len(text.encode())
            mods.append(f"mod{m:02d}")
        init = "".join(f"from . import {m}\n" for m in mods)
        init += (
            "DATA = __import__('os').path.join(__import__('os').path.dirname(__file__), 'data')\n"
        )
        (pkg / "__init__.py").write_text(init)
        total += len(init)
        data_bytes = per_pkg - code_bytes
        rows = []
        size = 0
        while size < data_bytes:
            row = f"{rng.random():.12f},{rng.randint(0, 10**9)},{rng.choice('abcdefgh') * 8}\n"
            rows.append(row)
            size += len(row)
        text = "".join(rows)
        (pkg / "data" / "table.csv").write_text(text)
        total += len(text)
    chosen = [f"pkg{p:03d}" for p in range(0, packages, 20)]  # 5%
    app = "".join(f"import {c}\n" for c in chosen)
    app += "import os\nREADY = all(os.path.getsize(os.path.join(m.DATA, 'table.csv')) > 0 "
    app += f"for m in [{', '.join(chosen)}])\n"
    (root / "app.py").write_text(app)
    return total + len(app)


def gen_module_heavy(root: Path, subpackages: int = 40, modules: int = 50) -> None:
    pkg = root / "heavy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "".join(f"from . import sub{s:02d}\n" for s in range(subpackages))
    )
    for s in range(subpackages):
        sub = pkg / f"sub{s:02d}"
        sub.mkdir()
        (sub / "__init__.py").write_text(
            "".join(f"from . import m{m:02d}\n" for m in range(modules))
        )
        for m in range(modules):
            (sub / f"m{m:02d}.py").write_text(f"X = {s * 1000 + m}\ndef f(y):\n    return y + X\n")


# A probe run in a fresh interpreter; prints JSON on its last line.
PROBE = r"""
import json, os, sys, time
mode, where, ref, module = sys.argv[1:5]
t0 = time.perf_counter()
fetched = 0
if mode in ("eager", "lazy"):
    import lazypath
    tree = lazypath.activate(where, ref, mode=mode)
    fetched = tree.bytes_fetched
elif mode == "plain":
    sys.path.insert(0, where)
t1 = time.perf_counter()
m = __import__(module)
assert getattr(m, "READY", True)
t2 = time.perf_counter()
if mode == "lazy":
    import lazypath
    act = lazypath._active[tree.path]
    fetched = act.finder.tree.stats()["bytes_fetched"] if act.finder else fetched
print(json.dumps({"total": t2 - t0, "import": t2 - t1, "fetched": fetched}))
"""


# Section 3: lazy activation with the profile prefetch on or off.
PROFILE_PROBE = r"""
import json, sys, time
store, ref, profile, first = sys.argv[1:5]
t0 = time.perf_counter()
import lazypath
tree = lazypath.activate(store, ref, mode="lazy", profile=profile)
__import__(first)
t1 = time.perf_counter()
import app
assert app.READY
t2 = time.perf_counter()
act = lazypath._active[tree.path]
if act.prefetch is not None:
    act.prefetch.wait(60)
    assert act.prefetch.error is None, act.prefetch.error
st = act.finder.tree.stats()
print(json.dumps({"first": t1 - t0, "total": t2 - t0,
                  "requests": st["requests"], "fetched": st["bytes_fetched"]}))
"""


class SlowHttpsStore:
    """The file store served read-only over HTTPS on 127.0.0.1 with Range
    support, each request answered after `rtt` seconds: a store one
    round trip away, as a remote one is. Python's http.server plus ssl."""

    def __init__(self, root: Path, scratch: Path, rtt: float):
        import http.server
        import ssl
        import threading

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from store_servers import _make_ca_and_cert

        ca, cert, key = _make_ca_and_cert(scratch)
        self.ca_file = str(ca)
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests += 1
                time.sleep(rtt)
                path = root / self.path.lstrip("/").split("?", 1)[0]
                try:
                    data = path.read_bytes()
                except OSError:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    a, _, b = rng[6:].partition("-")
                    start, end = int(a), (int(b) if b else len(data) - 1)
                    body = data[start : end + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                else:
                    body = data
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{httpd.server_address[1]}"
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()


def run_probe(script: str, args: list[str], env: dict, what: str) -> dict:
    """Runs `script` in a fresh interpreter; the JSON object on its last line."""
    res = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if res.returncode != 0:
        raise RuntimeError(f"{what} failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def profile_probe(store, ref: str, profile: str, first: str, env: dict) -> dict:
    args = [str(store), ref, profile, first]
    return run_probe(PROFILE_PROBE, args, env, f"profile probe ({profile})")


class _Done(Exception):
    """Ends the measurements early (--profile-only)."""


def probe(mode: str, where, ref: str, module: str, env: dict) -> dict:
    return run_probe(PROBE, [mode, str(where), ref, module], env, f"{mode} probe")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=500, help="size of the app tree (default 500)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="50 MB, for a smoke test")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument(
        "--profile-only", action="store_true", help="only section 3 (lazy with/without profile)"
    )
    ap.add_argument(
        "--rtt-ms",
        type=float,
        default=20,
        help="section 3: delay per request of the HTTPS store (default 20 ms)",
    )
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.mb = 50
    import lazypath

    scratch = Path(tempfile.mkdtemp(prefix="lazypath-lazy-bench-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAZYPATH_")}
        tree = scratch / "app-tree"
        log(f"generating a {args.mb} MB tree in {tree}")
        total = gen_app_tree(tree, args.mb)
        store = scratch / "store"
        t0 = time.perf_counter()
        digest = lazypath.push(tree, store, cache_dir=scratch / "push-cache")
        log(f"pushed {human_bytes(total)} as {digest[:19]}... in {time.perf_counter() - t0:.1f}s")

        rows = {}
        heavy_rows = {}
        # 3. Lazy with and without the profile, on the same tree. Recording
        # (into a throwaway cache), then a push that lays the set out.
        rec = subprocess.run(
            [sys.executable, "-m", "lazypath", "profile", str(store), digest, "--json", "--",
             sys.executable, "-c", "import app"],
            capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip
        if rec.returncode != 0:
            raise RuntimeError(f"lazypath profile failed: {rec.stderr[-2000:]}")
        profiled = json.loads(rec.stdout)["dirs"]
        report = lazypath.push_report(
            tree, store, cache_dir=scratch / "push-cache", profile_from=digest
        )
        log(
            f"profile: {len(profiled)} dirs; re-push wrote {report.profile['blobs_first']} "
            f"blobs first ({human_bytes(report.bytes_uploaded)})"
        )
        first_pkg = next(d for d in profiled if d)
        prof_rows = {}
        slow = SlowHttpsStore(store, scratch, args.rtt_ms / 1000)
        try:
            for where, url in (("file", str(store)), ("https", slow.url)):
                for i in range(args.runs):
                    for setting in ("off", "prefetch"):  # interleaved
                        env_i = dict(
                            env,
                            LAZYPATH_CACHE=str(scratch / f"cache-{where}-{setting}-{i}"),
                            SSL_CERT_FILE=slow.ca_file,
                        )
                        r = profile_probe(url, digest, setting, first_pkg, env_i)
                        prof_rows.setdefault((where, setting), []).append(r)
                        log(f"lazy {where} profile={setting} run {i + 1}: {r}")
        finally:
            slow.close()
        for mode in () if args.profile_only else ("lazy", "eager"):
            samples = []
            for i in range(args.runs):
                env_i = dict(env, LAZYPATH_CACHE=str(scratch / f"cache-{mode}-{i}"))
                samples.append(probe(mode, store, digest, "app", env_i))
                log(f"{mode} run {i + 1}: {samples[-1]}")
            rows[mode] = samples

        ray_note = ""
        if not args.no_ray and not args.profile_only:
            import ray
            from ray._private.runtime_env import packaging as pk

            ray.init(address="local", num_cpus=1, include_dashboard=False, logging_level="ERROR")
            (scratch / "ray-pkgs").mkdir()
            try:
                uri = pk.get_uri_for_directory(str(tree), include_gitignore=True)
                try:
                    pk.upload_package_if_needed(
                        uri, str(scratch / "ray-pkgs"), str(tree), include_gitignore=True
                    )
                    size = len(__import__("ray").experimental.internal_kv._internal_kv_get(uri))
                    gcs = ray._private.worker.global_worker.gcs_client
                    samples = []
                    for i in range(args.runs):
                        target = scratch / f"ray-node-{i}"
                        target.mkdir()
                        # What a Ray worker's node does: download and unpack the
                        # package (here, in this process, connected to the
                        # cluster), then the worker imports from it.
                        t0 = time.perf_counter()
                        unpacked = asyncio.run(
                            pk.download_and_unpack_package(uri, str(target), gcs_client=gcs)
                        )
                        unpack = time.perf_counter() - t0
                        s = probe("plain", unpacked, "-", "app", env)
                        s["total"] += unpack
                        s["fetched"] = size
                        samples.append(s)
                        log(f"ray run {i + 1}: {s}")
                    rows["ray"] = samples
                except Exception as e:
                    if "size" not in str(e).lower():
                        raise
                    # Ray caps the size of a working_dir package.
                    ray_note = f"Ray working_dir refused the tree: {str(e).splitlines()[0][:200]}"
                    log(ray_note)
            finally:
                ray.shutdown()

        # 2. Module-heavy package: lazy with everything materialised vs plain.
        if args.profile_only:
            raise _Done
        heavy = scratch / "heavy-tree"
        gen_module_heavy(heavy)
        hstore = scratch / "heavy-store"
        hdigest = lazypath.push(heavy, hstore, cache_dir=scratch / "push-cache")
        henv = dict(env, LAZYPATH_CACHE=str(scratch / "heavy-cache"))
        # Warm-up: materialise every directory and write .pyc files in both.
        probe("lazy", hstore, hdigest, "heavy", henv)
        probe("plain", heavy, "-", "heavy", henv)
        heavy_rows = {"plain": [], "lazy": []}
        for _ in range(max(args.runs, 7)):
            for mode, where, ref in (("plain", heavy, "-"), ("lazy", hstore, hdigest)):
                heavy_rows[mode].append(probe(mode, where, ref, "heavy", henv))
    except _Done:
        pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def med(samples, key):
        return statistics.median(s[key] for s in samples)

    prof_lines = [
        f"Lazy activation with the import profile ({len(profiled)} directories, recorded by "
        "`lazypath profile`, packed first by a re-push, prefetched on a background thread) "
        "against plain lazy on the same tree and pack layout, fresh node cache each run, runs "
        f"interleaved (median of {args.runs}); the file store, and the same store over HTTPS "
        f"on loopback with {args.rtt_ms:g} ms added per request (a store one round trip away). "
        "Requests include the profile lookup:",
        "",
        "| store | lazy | time to first import | time to startup imports done "
        "| store requests | bytes fetched |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for (where, setting), rs in prof_rows.items():
        name = "lazy + profile prefetch" if setting == "prefetch" else "plain lazy"
        store_name = "file" if where == "file" else f"https, +{args.rtt_ms:g} ms"
        prof_lines.append(
            f"| {store_name} | {name} | {med(rs, 'first') * 1000:.0f} ms | "
            f"{med(rs, 'total') * 1000:.0f} ms | {med(rs, 'requests'):.0f} | "
            f"{human_bytes(med(rs, 'fetched'))} |"
        )
    prof_table = "\n".join(prof_lines)
    if args.profile_only:
        print(prof_table)
        if args.write:
            extra = f" --mb {args.mb}" if args.mb != 500 else ""
            append_section(
                "Lazy activation: profile prefetch",
                f".venv/bin/python bench/lazy.py --profile-only --write --runs {args.runs}{extra}",
                prof_table,
            )
        return 0

    lines = [
        f"App importing 5% of a {human_bytes(total)} tree (median of {args.runs}; "
        "time = activation + first import, in a fresh interpreter):",
        "",
        "| mode | time to first import | ratio vs lazy | bytes fetched | ratio vs lazy |",
        "|---|---:|---:|---:|---:|",
    ]
    base_t, base_b = med(rows["lazy"], "total"), med(rows["lazy"], "fetched")
    for mode in ("lazy", "eager", "ray"):
        if mode not in rows:
            continue
        t, b = med(rows[mode], "total"), med(rows[mode], "fetched")
        name = {"lazy": "lazypath lazy", "eager": "lazypath eager", "ray": "Ray working_dir"}[mode]
        lines.append(
            f"| {name} | {t * 1000:.0f} ms | {t / base_t:.1f}x | {human_bytes(b)} | "
            f"{b / base_b:.1f}x |"
        )
    if ray_note:
        lines.append(f"| Ray working_dir | — | — | — | {ray_note} |")
    n = len(heavy_rows["plain"])
    pi, li = med(heavy_rows["plain"], "import"), med(heavy_rows["lazy"], "import")
    pt, lt = med(heavy_rows["plain"], "total"), med(heavy_rows["lazy"], "total")
    lines += [
        "",
        f"Module-heavy package (2,041 modules), every directory already materialised "
        f"(median of {n}, runs interleaved):",
        "",
        "| | plain directory | lazy tree | lazy / plain |",
        "|---|---:|---:|---:|",
        f"| import time | {pi * 1000:.1f} ms | {li * 1000:.1f} ms | {li / pi:.3f} |",
        f"| activation + import | {pt * 1000:.1f} ms | {lt * 1000:.1f} ms | {lt / pt:.3f} |",
        "",
        prof_table,
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        extra = f" --mb {args.mb}" if args.mb != 500 else ""
        append_section("Lazy activation", f".venv/bin/python bench/lazy.py --write{extra}", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
