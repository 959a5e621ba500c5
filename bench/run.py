#!/usr/bin/env python3
"""lazypath benchmarks: push, re-push and activation against Ray working_dir and tar|zstd.

    .venv/bin/python bench/run.py                 # 10k files / 200 MiB, writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick         # 1k files / 20 MiB smoke test, no RESULTS.md
    .venv/bin/python bench/run.py --files 10000 --mb 200 --runs 5

Generates a deterministic tree (bench/gen_tree.py) in a temp dir, then measures, on
that same tree and in one process: lazypath cold push vs Ray's working_dir packaging
(hash, zip, upload into a running local Ray's GCS) vs `tar -cf - | zstd -1`; re-push
with nothing changed; re-push after a one-file edit; cold and warm activation (vs
Ray's download-and-unzip of the same package). Every time is the median of --runs
runs. bench/README.md explains each row.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_tree  # noqa: E402

MiB = 1024 * 1024


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def human_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


@dataclass
class Sample:
    """Repeated measurements of one thing: seconds, and bytes written/read."""

    times: list[float] = field(default_factory=list)
    nbytes: list[int] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def add(self, seconds: float, nbytes: int = 0) -> None:
        self.times.append(seconds)
        self.nbytes.append(nbytes)

    @property
    def t(self) -> float:
        return statistics.median(self.times)

    @property
    def b(self) -> float:
        return statistics.median(self.nbytes)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def fresh(parent: Path, name: str) -> Path:
    p = parent / name
    shutil.rmtree(p, ignore_errors=True)
    p.mkdir(parents=True)
    return p


def edit_one_file(tree: Path, target: Path, tag: str) -> None:
    with open(target, "a", encoding="utf-8") as f:
        f.write(f"\n# benchmark edit {tag}\n")


def pick_edit_target(tree: Path) -> Path:
    """A mid-sized .py module, chosen deterministically."""
    pys = sorted(tree.rglob("*.py"))
    pys.sort(key=lambda p: p.stat().st_size)
    return pys[len(pys) // 2]


# ---------------------------------------------------------------- the three contestants
#
# Each runner measures one step per call and appends to its own Samples; main()
# calls them interleaved (lazypath, Ray, tar in turn for every run) so that load
# from elsewhere on the machine hits every contestant alike.

STEPS = ("hash", "cold", "nochange", "edit", "act_cold", "act_warm")


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


class Lazypath:
    name = "lazypath"

    def __init__(self, tree: Path, scratch: Path, target: Path):
        import lazypath

        self.lp, self.tree, self.scratch, self.target = lazypath, tree, scratch, target
        self.s = {k: Sample() for k in STEPS}
        self.store = self.cache = self.node = None
        self.digest = ""

    def hash(self) -> float:
        dt, _ = timed(lambda: self.lp.scan(str(self.tree)))
        self.s["hash"].add(dt)
        return dt

    def push(self, key: str) -> float:
        dt, rep = timed(
            lambda: self.lp.push_report(str(self.tree), str(self.store), cache_dir=str(self.cache))
        )
        self.s[key].add(dt, rep.bytes_uploaded)
        self.s[key].extra = {
            "files": rep.files,
            "bytes": rep.bytes,
            "packs": rep.packs_uploaded,
            "files_hashed": rep.files_hashed,
            "blobs": rep.blobs_uploaded,
            "tree_existed": rep.tree_existed,
        }
        self.digest = rep.digest
        return dt

    def cold(self) -> float:
        self.store = fresh(self.scratch, "lp-store")
        self.cache = fresh(self.scratch, "lp-cache")  # no stat cache
        return self.push("cold")

    def nochange(self) -> float:
        return self.push("nochange")

    def edit(self, i: int) -> float:
        edit_one_file(self.tree, self.target, f"lazypath-{i}")
        return self.push("edit")

    def act_cold(self) -> float:
        self.node = fresh(self.scratch, "lp-node-cache")
        dt, act = timed(
            lambda: self.lp.pull(str(self.store), self.digest, cache_dir=str(self.node))
        )
        assert not act.cached
        self.s["act_cold"].add(dt, act.bytes_fetched)
        self.s["act_cold"].extra = {"requests": act.requests, "files": act.files}
        return dt

    def act_warm(self) -> float:
        dt, act = timed(
            lambda: self.lp.activate(str(self.store), self.digest, cache_dir=str(self.node))
        )
        assert act.cached
        self.s["act_warm"].add(dt, act.bytes_fetched)
        self.path = act.path
        return dt

    def close(self) -> None:
        _verify_tree(self.tree, Path(self.path))


class RayWorkingDir:
    """Ray's working_dir packaging, called directly against a running local Ray."""

    name = "ray"

    def __init__(self, tree: Path, scratch: Path, target: Path):
        import ray
        from ray._private.runtime_env import packaging as pk

        logging.getLogger(pk.__name__).setLevel(logging.ERROR)  # "large file" warnings
        self.ray, self.pk, self.tree, self.target = ray, pk, tree, target
        self.scratch = scratch
        self.s = {k: Sample() for k in STEPS}
        self.base = fresh(scratch, "ray-pkgs")
        self.uri = ""
        dt, _ = timed(
            lambda: ray.init(
                address="local",
                num_cpus=1,
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
        )
        log(f"ray {ray.__version__} local cluster up in {dt:.1f}s")
        self.gcs = ray._private.worker.global_worker.gcs_client

    def _kv(self):
        from ray.experimental import internal_kv

        return internal_kv

    def _push(self) -> bool:
        pk = self.pk
        self.uri = pk.get_uri_for_directory(str(self.tree), include_gitignore=True)
        return pk.upload_package_if_needed(
            self.uri, str(self.base), str(self.tree), include_gitignore=True
        )

    def _drop(self) -> None:
        if self.uri:
            self._kv()._internal_kv_del(self.uri)

    def hash(self) -> float:
        dt, _ = timed(lambda: self.pk.get_uri_for_directory(str(self.tree), include_gitignore=True))
        self.s["hash"].add(dt)
        return dt

    def _upload(self, key: str) -> float:
        self._drop()  # so that this run really packages and uploads
        dt, uploaded = timed(self._push)
        assert uploaded
        self.s[key].add(dt, len(self._kv()._internal_kv_get(self.uri)))
        return dt

    def cold(self) -> float:
        return self._upload("cold")

    def nochange(self) -> float:
        dt, uploaded = timed(self._push)
        assert not uploaded
        self.s["nochange"].add(dt, 0)
        return dt

    def edit(self, i: int) -> float:
        edit_one_file(self.tree, self.target, f"ray-{i}")
        return self._upload("edit")

    def act_cold(self) -> float:
        self.node = fresh(self.scratch, "ray-node")
        dt, self.path = timed(
            lambda: asyncio.run(
                self.pk.download_and_unpack_package(self.uri, str(self.node), gcs_client=self.gcs)
            )
        )
        self.s["act_cold"].add(dt, self.s["edit"].nbytes[-1])
        return dt

    def act_warm(self) -> float:
        dt, _ = timed(
            lambda: asyncio.run(
                self.pk.download_and_unpack_package(self.uri, str(self.node), gcs_client=self.gcs)
            )
        )
        self.s["act_warm"].add(dt)
        return dt

    def close(self) -> None:
        try:
            _verify_tree(self.tree, Path(self.path))
            self._drop()
        finally:
            self.ray.shutdown()


def _verify_tree(src: Path, got: Path) -> None:
    """The activated tree has the same file paths as the source."""
    a = sorted(p.relative_to(src) for p in src.rglob("*") if p.is_file())
    b = sorted(p.relative_to(got) for p in got.rglob("*") if p.is_file())
    if a != b:
        raise SystemExit(f"bench: activated tree {got} differs from {src}")


def bench_tar(tree: Path, scratch: Path, s: Sample) -> float:
    out = scratch / "tree.tar.zst"
    cmd = f"tar -cf - -C {shlex.quote(str(tree))} . | zstd -1 -q > {shlex.quote(str(out))}"
    out.unlink(missing_ok=True)
    dt, _ = timed(lambda: subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True))
    s.add(dt, out.stat().st_size)
    out.unlink()
    return dt


def run_all(tree: Path, scratch: Path, runs: int, target: Path, with_ray: bool):
    lp = Lazypath(tree, scratch, target)
    rr = RayWorkingDir(tree, scratch, target) if with_ray else None
    tar = Sample()
    both = [c for c in (lp, rr) if c]

    def each(step: str, *args) -> None:
        for c in both:
            dt = getattr(c, step)(*args)
            b = c.s[step].nbytes[-1]
            log(f"{c.name:8} {step:9} {dt * 1e3:9.1f} ms  {human_bytes(b):>10} written/read")

    try:
        for i in range(runs):  # the tree is pristine: cold runs first
            log(f"-- cold run {i + 1}/{runs}")
            dt = bench_tar(tree, scratch, tar)
            log(f"{'tar|zstd':8} {'cold':9} {dt * 1e3:9.1f} ms  {human_bytes(tar.nbytes[-1]):>10}")
            each("hash")
            each("cold")
        for i in range(runs):
            log(f"-- no-change re-push {i + 1}/{runs}")
            each("nochange")
        for i in range(runs):
            log(f"-- one-file-edit re-push {i + 1}/{runs}")
            each("edit", i)  # each contestant appends its own line to the same file
        for i in range(runs):
            log(f"-- activation runs {i + 1}/{runs}")
            each("act_cold")
            each("act_warm")
    finally:
        for c in both:
            c.close()
    return lp.s, (rr.s if rr else None), tar


# ---------------------------------------------------------------- report


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    zstd = subprocess.run(["zstd", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "mem": mem,
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "zstd": "zstd " + (zstd.split(" v", 1)[1].split(",")[0] if " v" in zstd else "?"),
    }


def ratio(base: float, ours: float) -> str:
    if ours <= 0:
        return "—"
    r = base / ours
    return f"{r:.0f}×" if r >= 100 else f"{r:.1f}×"


def pct(n: float, total: float) -> str:
    return f"{100.0 * n / total:.3g}%" if total else "—"


def table(lp: dict, ray_: dict | None, tar: Sample, total_bytes: int) -> list[list[str]]:
    rows = [
        [
            "measurement",
            "lazypath",
            "Ray working_dir",
            "Ray ÷ lazypath",
            "tar \\| zstd -1",
            "tar ÷ lazypath",
        ]
    ]
    na = "—"

    def add(name, key, bytes_label=""):
        ours = lp[key]
        theirs = ray_[key] if ray_ else None
        rows.append(
            [
                name,
                human_time(ours.t),
                human_time(theirs.t) if theirs else na,
                ratio(theirs.t, ours.t) if theirs else na,
                na,
                na,
            ]
        )
        if bytes_label:
            rows.append(
                [
                    f"  {bytes_label}",
                    f"{human_bytes(ours.b)} ({pct(ours.b, total_bytes)})",
                    f"{human_bytes(theirs.b)} ({pct(theirs.b, total_bytes)})" if theirs else na,
                    ratio(theirs.b, ours.b) if theirs and ours.b else na,
                    na,
                    na,
                ]
            )

    add("hash the tree (no cache)", "hash")
    add("cold push: hash + pack + upload", "cold", "bytes written")
    rows[-2][4] = human_time(tar.t)
    rows[-2][5] = ratio(tar.t, lp["cold"].t)
    rows[-1][4] = f"{human_bytes(tar.b)} ({pct(tar.b, total_bytes)})"
    rows[-1][5] = ratio(tar.b, lp["cold"].b)
    add("re-push, nothing changed", "nochange", "bytes written")
    add("re-push after a one-file edit", "edit", "bytes written")
    add("cold activation (empty node cache)", "act_cold", "bytes read")
    add("warm activation (cached)", "act_warm")
    return rows


def spread(lp: dict, ray_: dict | None, tar: Sample) -> list[str]:
    """One line per step: every run's time, to show the noise behind the medians."""

    def runs(sample: Sample) -> str:
        return ", ".join(human_time(t) for t in sample.times)

    out = [f"- tar | zstd -1, cold: {runs(tar)}"]
    for key in STEPS:
        line = f"- {key}: lazypath {runs(lp[key])}"
        if ray_:
            line += f"; Ray {runs(ray_[key])}"
        out.append(line)
    return out


def render(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append(
                "|"
                + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths))
                + "|"
            )
    return "\n".join(lines)


def write_results(
    path: Path, text_table: str, info: dict, args, cmdline: str, lp, ray_, tar
) -> None:
    m = info["machine"]
    cold = lp["cold"].extra
    lines = [
        "# lazypath benchmark results",
        "",
        f"- date: {info['date']}",
        f"- machine: {m['nproc']} CPUs (`nproc`), {m['mem'] / 2**30:.1f} GiB RAM, {m['cpu']}, "
        f"Linux {m['kernel']}, Python {m['python']}, {m['zstd']}",
        f"- load average (1 min) before / after: {info['load'][0]:.2f} / {info['load'][1]:.2f} "
        "(other work on the machine; the contestants run interleaved)",
        f"- command: `{cmdline}`",
        f"- tree: `bench/gen_tree.py --files {args.files} --mb {args.mb:g} --seed {args.seed}` → "
        f"{cold.get('files')} files, {human_bytes(cold.get('bytes', 0))} "
        f"(lazypath wrote {cold.get('packs')} pack(s))",
        f"- every time is the median of {args.runs} runs; ratios are baseline ÷ lazypath "
        "(above 1× means lazypath is faster / writes less)",
        f"- lazypath {info['lazypath']}, ray {info.get('ray', 'not run')}; "
        "all stores and caches on the same local disk; the tree is in the page cache",
        "",
        text_table,
        "",
        "Details (last run):",
        "",
        f"- re-push, nothing changed: lazypath hashed {lp['nochange'].extra.get('files_hashed')} "
        f"files (stat cache), tree already in store: {lp['nochange'].extra.get('tree_existed')}",
        f"- re-push after a one-file edit: lazypath hashed {lp['edit'].extra.get('files_hashed')} "
        f"file(s), uploaded {lp['edit'].extra.get('blobs')} new blob(s)",
        f"- cold activation: lazypath read {human_bytes(lp['act_cold'].b)} in "
        f"{lp['act_cold'].extra.get('requests')} store request(s) and materialised "
        f"{lp['act_cold'].extra.get('files')} files",
    ]
    lines += ["", "Every run (in order):", ""] + spread(lp, ray_, tar)
    if ray_:
        lines.append("")
        lines.append(
            "Ray rows call ray._private.runtime_env.packaging directly against a running "
            "local Ray (get_uri_for_directory + upload_package_if_needed into the GCS KV; "
            "download_and_unpack_package for activation); see bench/README.md"
        )
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=None, help="files in the tree (default 10000)")
    p.add_argument("--mb", type=float, default=None, help="tree size in MiB (default 200)")
    p.add_argument("--runs", type=int, default=3, help="runs per measurement (median; >= 1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="1000 files / 20 MiB, no RESULTS.md")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray working_dir rows")
    p.add_argument("--workdir", help="where to put the tree and stores (default: a temp dir)")
    p.add_argument(
        "--results", help="write the results here (default: bench/RESULTS.md, except with --quick)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = p.parse_args(argv)
    args.files = args.files or (1000 if args.quick else 10000)
    args.mb = args.mb or (20 if args.quick else 200)
    args.runs = max(1, args.runs)
    results = args.results or (None if args.quick else str(HERE / "RESULTS.md"))
    cmdline = " ".join(
        [".venv/bin/python", "bench/run.py"] + [shlex.quote(a) for a in (argv or sys.argv[1:])]
    )

    import lazypath

    work = Path(args.workdir or tempfile.mkdtemp(prefix="lazypath-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    tree = work / "tree"
    try:
        shutil.rmtree(tree, ignore_errors=True)
        t0 = time.perf_counter()
        stats = gen_tree.generate(str(tree), args.files, args.mb, args.seed)
        log(
            f"generated {stats['files']} files, {human_bytes(stats['bytes'])} in {tree} "
            f"({time.perf_counter() - t0:.1f}s)"
        )
        target = pick_edit_target(tree)
        scratch = work / "scratch"
        scratch.mkdir(exist_ok=True)

        load0 = os.getloadavg()[0]
        lp, ray_res, tar = run_all(tree, scratch, args.runs, target, not args.no_ray)
        load1 = os.getloadavg()[0]
        ray_version = None
        if ray_res:
            import ray

            ray_version = ray.__version__
        rows = table(lp, ray_res, tar, stats["bytes"])
        text = render(rows)
        print()
        print(
            f"tree: {stats['files']} files, {human_bytes(stats['bytes'])}; "
            f"median of {args.runs} runs; ratio = baseline ÷ lazypath"
        )
        print(text)
        if results:
            info = {
                "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                "machine": machine(),
                "lazypath": lazypath.__version__,
                "ray": ray_version or "not run",
                "load": (load0, load1),
            }
            write_results(Path(results), text, info, args, cmdline, lp, ray_res, tar)
            log(f"wrote {results}")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            log(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
