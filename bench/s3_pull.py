#!/usr/bin/env python3
"""Pulling a tree from S3: lazypath against the boto3 + zipfile script users write today.

    .venv/bin/python bench/s3_pull.py                # 10k files / 200 MiB, appends to RESULTS.md
    .venv/bin/python bench/s3_pull.py --quick        # 1k files / 20 MiB, prints only
    .venv/bin/python bench/s3_pull.py --runs 5
    .venv/bin/python bench/s3_pull.py --dirty-mb 2048  # with another job's unsynced writes

Starts moto's S3 server on 127.0.0.1 (a separate process), generates a deterministic
tree (bench/gen_tree.py) and ships it both ways to the same bucket:

- lazypath: `lazypath.push` to s3://bucket/lp, then on the "worker" `lazypath.pull`
  into an empty node cache (cold) and, after one file is edited and pushed again,
  into the cache that holds the previous version (update).
- zip: the driver zips the directory (zipfile, deflate) and uploads it with boto3's
  upload_file; the worker downloads it with download_file (boto3's multithreaded
  ranged GETs) and extracts it with zipfile into a fresh directory. After an edit the
  whole zip is built, uploaded, downloaded and extracted again: that script has no
  other way to pick up a change.

With --dirty-mb N, a separate process writes N MiB to a file in the scratch
directory (the same file system as both workers' output) just before each
worker-side pull, both ways, and does not sync it, as another job on a shared
node would; the file is removed after the pull. The driver rows are measured
without it.

Each row is the median of --runs runs measured in this one process, both ways
interleaved. Requests and bytes: lazypath's are the store's own counters (every
HTTP attempt, every body byte); boto3's are counted with botocore's event hooks
(one per HTTP request sent, response body bytes from Content-Length). Both sides
use the same moto server on loopback, so the times are CPU-bound, not network-bound:
they show the cost of the client's work, not of a WAN.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_tree  # noqa: E402
from results import publish  # noqa: E402
from run import human_bytes  # noqa: E402

MiB = 1024 * 1024
REGION = "us-east-1"


def log(msg: str) -> None:
    print(f"[s3_pull] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto's S3 server in its own process on loopback."""

    def __init__(self, scratch: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = open(scratch / "moto.log", "wb")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from moto.server import main; main()"]
            + ["-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto did not start") from None
                time.sleep(0.1)

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": REGION,
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
        }

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class Boto3Counter:
    """Counts the HTTP requests a boto3 client sends and the body bytes it gets."""

    def __init__(self, client):
        self.requests = 0
        self.bytes_read = 0
        client.meta.events.register("before-send.s3.*", self._sent)
        client.meta.events.register("after-call.s3.*", self._called)

    def _sent(self, request, **_):
        self.requests += 1

    def _called(self, http_response, parsed, **_):
        length = http_response.headers.get("Content-Length")
        if parsed.get("Body") is not None and length:
            self.bytes_read += int(length)

    def reset(self) -> None:
        self.requests = self.bytes_read = 0


def zip_dir(src: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for root, dirs, files in os.walk(src):
            dirs.sort()
            for name in sorted(files):
                p = Path(root, name)
                z.write(p, p.relative_to(src).as_posix())


def edit_one_file(tree: Path, i: int) -> None:
    target = sorted(tree.rglob("*.py"))[len(list(tree.rglob("*.py"))) // 2]
    with open(target, "a") as f:
        f.write(f"\n# edit {i}\n")


DIRTY_WRITER = """
import os, sys
block = os.urandom(1 << 20)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(block)
"""


def make_dirty(path: Path, mb: int) -> None:
    """Another process writes `mb` MiB to `path` and leaves it unsynced."""
    if mb > 0:
        subprocess.run([sys.executable, "-c", DIRTY_WRITER, str(path), str(mb)], check=True)


def verify(src: Path, got: Path) -> None:
    a = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    b = sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file())
    assert a == b, (len(a), len(b))
    for rel in a[:: max(1, len(a) // 200)]:
        assert (src / rel).read_bytes() == (got / rel).read_bytes(), rel


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1k files / 20 MiB, no RESULTS.md")
    ap.add_argument("--dirty-mb", type=int, default=0,
                    help="another process's unsynced MiB before each worker pull")  # fmt: skip
    ap.add_argument("--no-record", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if args.quick:
        args.files, args.mb, args.runs, args.no_record = 1000, 20, 2, True

    import boto3
    import lazypath

    scratch = Path(tempfile.mkdtemp(prefix="lp-s3bench-"))
    moto = Moto(scratch)
    os.environ.update(moto.env())
    try:
        tree = scratch / "tree"
        log(f"generating {args.files} files / {args.mb} MiB in {tree}")
        gen_tree.generate(tree, files=args.files, mb=args.mb, seed=1)
        total = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        nfiles = sum(1 for p in tree.rglob("*") if p.is_file())
        s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name=REGION)
        counter = Boto3Counter(s3)
        rows: dict[str, dict[str, list[float]]] = {}

        def add(row: str, way: str, seconds: float, requests: int, nbytes: int) -> None:
            r = rows.setdefault(row, {})
            for k, v in (("s", seconds), ("req", requests), ("bytes", nbytes)):
                r.setdefault(f"{way}_{k}", []).append(v)

        hog = scratch / "other-job.bin"

        def lp_pull(row: str, store: str, node: Path) -> None:
            make_dirty(hog, args.dirty_mb)
            t0 = time.perf_counter()
            got = lazypath.pull(store, "app", cache_dir=node)
            add(row, "lp", time.perf_counter() - t0, got.requests, got.bytes_read)
            hog.unlink(missing_ok=True)
            verify(tree, Path(got.path))

        def zip_pull(row: str, bucket: str, out: Path) -> None:
            """The worker script: download the zip, extract it into a fresh directory."""
            archive = Path(str(out) + ".zip")
            shutil.rmtree(out, ignore_errors=True)
            archive.unlink(missing_ok=True)
            make_dirty(hog, args.dirty_mb)
            t0 = time.perf_counter()
            counter.reset()
            s3.download_file(bucket, "app.zip", str(archive))
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(out)
            add(row, "zip", time.perf_counter() - t0, counter.requests, counter.bytes_read)
            hog.unlink(missing_ok=True)
            verify(tree, out)

        for run in range(args.runs):
            bucket = "bench-" + uuid.uuid4().hex[:12]
            s3.create_bucket(Bucket=bucket)
            store = f"s3://{bucket}/lp"
            # lazypath: push (driver), then a cold pull on the worker.
            lp_cache = scratch / f"lp-driver-{run}"
            t0 = time.perf_counter()
            rep = lazypath.push_report(tree, store, tag="app", cache_dir=lp_cache)
            add("driver: pack + upload", "lp", time.perf_counter() - t0, 0, rep.bytes_uploaded)
            node = scratch / f"lp-node-{run}"
            lp_pull("worker: cold pull", store, node)
            # zip: build and upload, then download and extract.
            z = scratch / "app.zip"
            t0 = time.perf_counter()
            zip_dir(tree, z)
            s3.upload_file(str(z), bucket, "app.zip")
            add("driver: pack + upload", "zip", time.perf_counter() - t0, 0, z.stat().st_size)
            out = scratch / f"zip-worker-{run}"
            zip_pull("worker: cold pull", bucket, out)
            # One file changes; both ship the change; the worker updates.
            edit_one_file(tree, run)
            lazypath.push(tree, store, tag="app", cache_dir=lp_cache)
            lp_pull("worker: pull after a one-file edit", store, node)
            zip_dir(tree, z)
            s3.upload_file(str(z), bucket, "app.zip")
            zip_pull("worker: pull after a one-file edit", bucket, out)
            for p in (node, out, Path(str(out) + ".zip"), lp_cache):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
            log(f"run {run + 1}/{args.runs} done")

        med = statistics.median
        header = [
            "",
            "lazypath",
            "boto3 + zipfile",
            "speedup",
            "lazypath requests",
            "zip requests",
            "lazypath bytes",
            "zip bytes",
        ]
        lines = [header, ["---"] * len(header)]
        for row, r in rows.items():
            lp_s, zip_s = med(r["lp_s"]), med(r["zip_s"])
            req = (f"{med(r['lp_req']):.0f}", f"{med(r['zip_req']):.0f}")
            if row.startswith("driver"):
                req = ("-", "-")  # uploads: bytes only (see bench/README.md)
            lines.append(
                [
                    row,
                    f"{lp_s:.2f} s",
                    f"{zip_s:.2f} s",
                    f"{zip_s / lp_s:.1f}x",
                    *req,
                    human_bytes(med(r["lp_bytes"])),
                    human_bytes(med(r["zip_bytes"])),
                ]
            )
        title = (
            f"S3 pull vs boto3 + zipfile: {nfiles} files, {human_bytes(total)}, "
            f"moto on loopback, median of {args.runs}"
            + (f", {args.dirty_mb} MiB of another process's unsynced writes before each "
               "worker pull" if args.dirty_mb else "")
        )  # fmt: skip
        argv = sys.argv[1:] if argv is None else argv
        publish(title, "python bench/s3_pull.py", argv, lines, not args.no_record)
        if not args.no_record:
            log("appended to bench/RESULTS.md")
    finally:
        moto.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
