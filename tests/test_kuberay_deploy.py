"""The KubeRay deploy flow, run for real on a local cluster: a digest change rolls Serve.

examples/kuberay/rayservice.yaml's serveConfigV2 is deployed as it stands
through Serve's REST config API (PUT /api/serve/applications/, what KubeRay
does), with only its store and digest replaced: the store by a local file
store holding examples/app pushed by lazypath, the digest by that push's.
Its import_path (shop.serve:app) is then resolved from the shipped tree.
Then only the digest is changed to a push of an edited copy and the config is
PUT again while a client sends steady requests to the Serve proxy: no request
fails, and once Serve reports the rollout done every answer comes from the
new code, imported from the new tree in the node cache. No timing is asserted
here (bench/serve_upgrade.py measures it).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.serve")
yaml = pytest.importorskip("yaml")
import lazypath  # noqa: E402
import serve_rollout as sr  # noqa: E402
from ray_head import free_port, head, ray_env  # noqa: E402

pytestmark = pytest.mark.timeout(600)

BIN = os.path.dirname(sys.executable)
APP = Path(__file__).resolve().parent.parent / "examples" / "app"


def app_copy(dst: Path, version: str) -> Path:
    shutil.copytree(APP, dst)
    (dst / "shop" / "_version.py").write_text(f'__version__ = "{version}"\n')
    return dst


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("kuberay")
    cache = base / "node-cache"
    path = BIN + os.pathsep + os.environ.get("PATH", "")
    with head(base, env={"LAZYPATH_CACHE": str(cache), "PATH": path}) as h:
        port = free_port()
        sr.start_serve(h.gcs, port, ray_env())
        yield h, cache, f"http://127.0.0.1:{port}/"


def test_rayservice_moves_to_a_new_digest_without_a_failed_request(cluster, tmp_path):
    h, cache, url = cluster
    store = str(tmp_path / "store")
    d1 = lazypath.push(str(app_copy(tmp_path / "v1", "1.0.0")), store)
    d2 = lazypath.push(str(app_copy(tmp_path / "v2", "2.0.0")), store)
    assert d1 != d2

    manifest = sr.serve_config()
    first = sr.with_lazypath(manifest, store, d1)
    sr.put_config(h.address, first)
    sr.wait_running(h.address, first)
    sr.wait_answering(url, "1.0.0")

    second = sr.with_lazypath(first, store, d2)
    # Only the digest differs between the two configs.
    assert yaml.safe_dump(second) == yaml.safe_dump(first).replace(d1, d2)
    up = sr.upgrade(h.address, url, second)

    assert up.failed == [], up.failed[:5]
    before = [a for a in up.answers if a.t < up.applied]
    assert before and all(a.version == "1.0.0" for a in before)
    after = up.after_running()
    assert len(after) >= 10, len(after)
    assert {a.version for a in after} == {"2.0.0"}
    tree = os.path.join(os.path.realpath(cache), "trees", d2.split(":", 1)[1])
    assert {os.path.realpath(a.file) for a in after} == {os.path.join(tree, "shop", "__init__.py")}
