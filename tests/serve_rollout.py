"""A Serve application moved to new code through Serve's REST config API, under load.

What KubeRay does with a RayService's serveConfigV2: PUT the whole config to
the dashboard's /api/serve/applications/ and let Serve roll the replicas.
Used by tests/test_kuberay_deploy.py (which asserts no failed request and
that only the new code answers afterwards) and bench/serve_upgrade.py (which
times it).

- Client: a thread sending steady HTTP GETs to the Serve proxy on loopback
  (a bounded number, for a bounded time), recording each answer's version.
- put_config(): the PUT; returns when the dashboard accepted the config.
- wait_running(): until the application is RUNNING with the config given,
  i.e. until Serve says every replica is of the new version and healthy.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "kuberay" / "rayservice.yaml"


def serve_config() -> dict:
    """serveConfigV2 of examples/kuberay/rayservice.yaml, as KubeRay reads it."""
    import yaml

    (service,) = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return yaml.safe_load(service["spec"]["serveConfigV2"])


def with_lazypath(config: dict, store: str, digest: str) -> dict:
    """The config with only the store and the digest of every application replaced."""
    out = copy.deepcopy(config)
    for app in out["applications"]:
        app["runtime_env"]["lazypath"]["store"] = store
        app["runtime_env"]["lazypath"]["ref"] = digest
    return out


def with_working_dir(config: dict, uri: str) -> dict:
    """The same application shipped with Ray's own working_dir (a zip URI) instead."""
    out = copy.deepcopy(config)
    for app in out["applications"]:
        app["runtime_env"] = {"working_dir": uri}
    return out


def start_serve(gcs: str, port: int, env: dict) -> None:
    """Starts Serve with its HTTP proxy on 127.0.0.1:port (a config PUT later keeps it)."""
    serve = os.path.join(os.path.dirname(sys.executable), "serve")
    subprocess.run(
        [serve, "start", "--address", gcs, "--http-host", "127.0.0.1", "--http-port", str(port)],
        check=True,
        capture_output=True,
        timeout=240,
        env=env,
    )


def put_config(dashboard: str, config: dict) -> float:
    """PUTs the config; the time (monotonic) the dashboard accepted it."""
    req = urllib.request.Request(
        dashboard + "/api/serve/applications/",
        data=json.dumps(config).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200, resp.read()
    return time.monotonic()


def app_status(dashboard: str, name: str) -> tuple[str, dict | None]:
    with urllib.request.urlopen(dashboard + "/api/serve/applications/", timeout=30) as resp:
        body = json.load(resp)
    app = (body.get("applications") or {}).get(name)
    if not app:
        return "MISSING", None
    return app.get("status", "?"), app.get("deployed_app_config")


def wait_running(dashboard: str, config: dict, timeout: float = 300) -> float:
    """Polls until every application of `config` is RUNNING with exactly its
    runtime_env; the time (monotonic) that was first seen. Raises on
    DEPLOY_FAILED or timeout with the status message."""
    deadline = time.monotonic() + timeout
    want = {a["name"]: a["runtime_env"] for a in config["applications"]}
    last = None
    while True:
        done = True
        for name, runtime_env in want.items():
            status, deployed = app_status(dashboard, name)
            last = (name, status, deployed)
            if status == "DEPLOY_FAILED":
                raise RuntimeError(f"Serve application {name} DEPLOY_FAILED: {deployed}")
            if status != "RUNNING" or (deployed or {}).get("runtime_env") != runtime_env:
                done = False
        if done:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"Serve application not RUNNING in {timeout}s: {last}")
        time.sleep(0.1)


def get(url: str, timeout: float = 30) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
        return json.load(resp)


@dataclass
class Answer:
    t: float  # monotonic, when the answer arrived
    version: str | None  # None: the request failed
    file: str | None = None
    error: str | None = None


@dataclass
class Client:
    """Steady GETs on `url`, one at a time every `interval` s, until stop() or
    `max_requests` / `max_seconds`."""

    url: str
    interval: float = 0.05
    max_requests: int = 20000
    max_seconds: float = 600
    answers: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serve-client", daemon=True)

    def start(self) -> Client:
        self._thread.start()
        return self

    def stop(self) -> list:
        self._stop.set()
        self._thread.join(timeout=120)
        return self.answers

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and len(self.answers) < self.max_requests:
            if time.monotonic() > end:
                break
            try:
                body = get(self.url)
                self.answers.append(Answer(time.monotonic(), body["version"], body.get("file")))
            except (OSError, ValueError, KeyError, RuntimeError) as e:
                text = (
                    e.read()[:200].decode("utf-8", "replace")
                    if isinstance(e, urllib.error.HTTPError)
                    else ""
                )
                self.answers.append(Answer(time.monotonic(), None, error=f"{e} {text}".strip()))
            self._stop.wait(self.interval)


def wait_answering(url: str, version: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            body = get(url, timeout=10)
            if body.get("version") == version:
                return
            last = body
        except (OSError, ValueError) as e:
            last = e
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer version {version}: {last}")


@dataclass
class Upgrade:
    applied: float  # the PUT returned
    running: float  # Serve: every replica of the new version RUNNING
    answers: list  # every answer the client got during the upgrade (and a bit after)

    @property
    def failed(self) -> list:
        return [a for a in self.answers if a.version is None]

    def first_new(self, version: str) -> float | None:
        return next(
            (a.t for a in self.answers if a.version == version and a.t >= self.applied), None
        )

    def after_running(self) -> list:
        return [a for a in self.answers if a.t > self.running]


def upgrade(
    dashboard: str, url: str, config: dict, *, settle: float = 3.0, interval: float = 0.05
) -> Upgrade:
    """PUTs `config` while a Client sends requests; returns once Serve says the
    rollout is done and `settle` more seconds of answers are in."""
    client = Client(url, interval=interval).start()
    time.sleep(1.0)  # steady traffic on the old code first
    applied = put_config(dashboard, config)
    running = wait_running(dashboard, config)
    time.sleep(settle)
    return Upgrade(applied, running, client.stop())
