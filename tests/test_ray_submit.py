"""`lazypath submit`: push the current directory, run a Ray job on its digest.

One `ray start --head` cluster for the module, with the plugin registered and
its current directory holding an *old* copy of the app (main.py and
app/__init__.py with VALUE = 'old'), as a checkout on the head node would.
The pushed directory has VALUE = 'new'. The job's driver and one of its tasks
must import the pushed digest from the node cache, not the node's copy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray_head import head, ray_env  # noqa: E402

pytestmark = pytest.mark.timeout(400)

BIN = os.path.dirname(sys.executable)

MAIN = textwrap.dedent(
    """\
    import importlib.util, os, sys, time
    import app
    local = importlib.util.find_spec("app.local_only") is not None
    print("DRIVER", app.VALUE, app.__file__, os.getcwd(), local, flush=True)
    if "--sleep" in sys.argv:
        print("SLEEPING", flush=True)
        time.sleep(600)
    import ray
    ray.init()

    @ray.remote(num_cpus=0)
    def where():
        import importlib.util
        import app
        local = importlib.util.find_spec("app.local_only") is not None
        return app.VALUE, app.__file__, local

    print("WORKER", *ray.get(where.remote()), flush=True)
    """
)


def write_app(root: Path, value: str) -> Path:
    (root / "app").mkdir(parents=True, exist_ok=True)
    (root / "app" / "__init__.py").write_text(f"VALUE = {value!r}\n")
    (root / "main.py").write_text(MAIN)
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("submit")
    old = write_app(base / "old-checkout", "old")
    cache = base / "node-cache"
    path = BIN + os.pathsep + os.environ.get("PATH", "")  # `python` is this venv's
    with head(base, cwd=old, env={"LAZYPATH_CACHE": str(cache), "PATH": path}) as h:
        yield h, cache


def submit(
    address: str, cwd: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess:
    env = ray_env(PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(
        [os.path.join(BIN, "lazypath"), "submit", "--address", address, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def lines(text: str, word: str) -> list[list[str]]:
    return [ln.split() for ln in text.splitlines() if ln.startswith(word + " ")]


def digest_of(stderr: str) -> str:
    for word in stderr.split():
        if word.startswith("sha256:"):
            return word
    raise AssertionError(f"no digest in {stderr!r}")


def test_job_runs_the_pushed_digest_in_its_root(cluster, tmp_path):
    h, cache = cluster
    src = write_app(tmp_path / "src", "new")
    # The submitting checkout (on this same machine) holds a module the push leaves
    # out: the job must not see the checkout either.
    (src / "app" / "local_only.py").write_text("X = 1\n")
    store = tmp_path / "store"
    res = submit(
        h.address, src, str(store), "--tag", "job", "--exclude", "app/local_only.py",
        "--", "python", "main.py",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    digest = digest_of(res.stderr)
    tree = os.path.join(os.path.realpath(cache), "trees", digest.split(":", 1)[1])
    ((_, value, file, cwd, local),) = lines(res.stdout, "DRIVER")
    assert value == "new" and local == "False"
    assert os.path.realpath(file) == os.path.join(tree, "app", "__init__.py")
    assert os.path.realpath(cwd) == tree  # `python main.py` ran in the tree's root
    ((_, wvalue, wfile, wlocal),) = lines(res.stdout, "WORKER")
    assert wvalue == "new" and wlocal == "False"
    assert os.path.realpath(wfile) == os.path.join(tree, "app", "__init__.py")
    # The tag was pushed too, and names the digest the job ran.
    show = subprocess.run(
        [os.path.join(BIN, "lazypath"), "show", str(store), "job", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(show.stdout)["digest"] == digest


def test_failed_job_exits_1_with_one_line(cluster, tmp_path):
    h, _cache = cluster
    src = write_app(tmp_path / "src", "new")
    res = submit(
        h.address, src, str(tmp_path / "store"), "--",
        "python", "-c", "import app, sys; print('ran', app.VALUE); sys.exit(3)",
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "ran new" in res.stdout  # the job's logs were streamed
    (last,) = [ln for ln in res.stderr.splitlines() if ln.startswith("lazypath: error:")]
    assert "raysubmit_" in last and " FAILED" in last, last
    assert "exit code 3" in last, last


def test_lazy_no_wait_and_runtime_env_json(cluster, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    h, cache = cluster
    src = write_app(tmp_path / "src", "lazy")  # a digest no other test ran eagerly
    extra = json.dumps({"env_vars": {"LP_SUBMIT_EXTRA": "yes"}})
    res = submit(
        h.address, src, str(tmp_path / "store"), "--mode", "lazy", "--no-wait",
        "--runtime-env-json", extra, "--",
        "python", "-c", "import app, os; print('LAZY', app.VALUE, app.__file__,"
        " os.environ['LP_SUBMIT_EXTRA'])",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.strip()
    assert job_id.startswith("raysubmit_")
    client = JobSubmissionClient(h.address)
    deadline = time.time() + 240
    while not client.get_job_status(job_id).is_terminal():
        assert time.time() < deadline
        time.sleep(1)
    logs = client.get_job_logs(job_id)
    assert client.get_job_status(job_id) == JobStatus.SUCCEEDED, logs
    digest = digest_of(res.stderr)
    ((_, value, file, extra_seen),) = lines(logs, "LAZY")
    assert value == "lazy" and extra_seen == "yes"
    lazy_root = os.path.join(os.path.realpath(cache), "lazy", digest.split(":", 1)[1])
    assert os.path.realpath(file).startswith(lazy_root + os.sep), file


def test_usage_errors_are_one_line(cluster, tmp_path):
    h, _cache = cluster
    src = write_app(tmp_path / "src", "new")
    for args, needle in [
        ((str(tmp_path / "s"),), "give the job's command after '--'"),
        ((str(tmp_path / "s"), "--runtime-env-json", '{"working_dir": "."}', "--", "true"),
         "must not set 'working_dir'"),
        ((str(tmp_path / "s"), "--runtime-env-json", "[1]", "--", "true"), "JSON object"),
    ]:  # fmt: skip
        res = submit(h.address, src, *args, timeout=60)
        assert res.returncode == 2, res.stderr
        assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    res = submit("http://127.0.0.1:9", src, str(tmp_path / "s"), "--", "true", timeout=120)
    assert res.returncode == 1
    (last,) = res.stderr.strip().splitlines()[-1:]
    assert last.startswith("lazypath: error: cannot submit a job to Ray at http://127.0.0.1:9")


def test_ctrl_c_stops_following_not_the_job(cluster, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    h, _cache = cluster
    src = write_app(tmp_path / "src", "new")
    env = ray_env(PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.Popen(
        [os.path.join(BIN, "lazypath"), "submit", "--address", h.address,
         str(tmp_path / "store"), "--", "python", "main.py", "--sleep"],
        cwd=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A suite started in the background inherits SIGINT ignored, and
        # Python then leaves it so: give the child the default a terminal has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    seen = []
    deadline = time.time() + 240
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("SLEEPING"):
            break
        assert time.time() < deadline, "".join(seen)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (job_id,) = set(re.findall(r"raysubmit_\w+", err))
    assert "it keeps running" in err and f"ray job stop --address {h.address} {job_id}" in err
    client = JobSubmissionClient(h.address)
    assert client.get_job_status(job_id) == JobStatus.RUNNING
    client.stop_job(job_id)
    deadline = time.time() + 120
    while not client.get_job_status(job_id).is_terminal():
        assert time.time() < deadline
        time.sleep(1)
