"""A private `ray start --head --block` cluster on 127.0.0.1, for tests and bench/.

Free ports, its own --temp-dir, a chosen current directory and environment
(the plugin registered or not). Stopped by its process group and by the
processes that carry its temp dir (never `ray stop`, which would stop every
cluster on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import lazypath.ray as lpray

RAY = os.path.join(os.path.dirname(sys.executable), "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Head:
    address: str  # the dashboard: job API and Serve REST API
    gcs: str  # for ray.init(address=...)
    temp_dir: str
    log: Path
    env: dict  # the environment `ray start` ran with


def ray_env(**extra: str) -> dict:
    """The environment for Ray CLIs and drivers talking to a test cluster."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", lpray.PLUGIN_ENV_VAR)}
    env["RAY_AUTH_MODE"] = "disabled"  # a throwaway loopback cluster
    env.update(extra)
    return env


def _ours(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if marker.encode() in cmd or marker.encode() in environ:
            pids.append(int(entry))
    return [p for p in pids if p != os.getpid()]


def _stop(proc: subprocess.Popen, temp_dir: str) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.time() + 20
    while True:
        left = _ours(temp_dir)
        if not left:
            return
        sig = signal.SIGKILL if time.time() > deadline else signal.SIGTERM
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.5)


@contextlib.contextmanager
def head(
    log_dir: Path,
    *,
    plugin: bool = True,
    cwd: str | os.PathLike | None = None,
    env: dict | None = None,
    num_cpus: int = 2,
):
    """Yields a Head; `plugin` registers lazypath's runtime_env plugin, `cwd` is the
    directory the cluster (and so its workers) starts in, `env` extra variables."""
    temp_dir = tempfile.mkdtemp(prefix="lprs", dir="/tmp")  # unix socket paths are short
    dash, gcs = free_port(), free_port()
    full = ray_env(LP_TEST_MARKER=temp_dir, **(env or {}))
    if plugin:
        full[lpray.PLUGIN_ENV_VAR] = lpray.plugin_env_value()
    cmd = [
        RAY, "start", "--head", "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        f"--num-cpus={num_cpus}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--ray-client-server-port={free_port()}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]  # fmt: skip
    log_path = Path(log_dir) / f"ray-start-{dash}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        cmd,
        env=full,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(address + "/api/version", timeout=2) as resp:
                    if resp.status == 200:
                        json.load(resp)
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"the dashboard at {address} did not come up")
            time.sleep(1)
        yield Head(address, f"127.0.0.1:{gcs}", temp_dir, log_path, full)
    finally:
        _stop(proc, temp_dir)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
