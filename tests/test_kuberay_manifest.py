"""examples/kuberay/rayservice.yaml: parsed and checked against what the plugin needs.

No Kubernetes here: the manifest is parsed (PyYAML) and its structure checked
against the RayService CRD's required shape (ray.io/v1) and lazypath's needs:
one pinned digest in the Serve runtime_env, the plugin registered and a node
cache volume mounted at LAZYPATH_CACHE in every Ray container.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
import lazypath.ray as lpray  # noqa: E402

MANIFEST = Path(__file__).resolve().parent.parent / "examples" / "kuberay" / "rayservice.yaml"


@pytest.fixture(scope="module")
def service() -> dict:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    assert len(docs) == 1
    return docs[0]


def pod_specs(service: dict) -> list[tuple[str, dict]]:
    cluster = service["spec"]["rayClusterConfig"]
    out = [("head", cluster["headGroupSpec"]["template"]["spec"])]
    for group in cluster["workerGroupSpecs"]:
        out.append((group["groupName"], group["template"]["spec"]))
    return out


def test_is_a_rayservice(service):
    assert service["apiVersion"] == "ray.io/v1"
    assert service["kind"] == "RayService"
    assert service["metadata"]["name"]
    cluster = service["spec"]["rayClusterConfig"]
    assert isinstance(cluster["headGroupSpec"]["rayStartParams"], dict)
    assert cluster["workerGroupSpecs"], "no worker group"
    for group in cluster["workerGroupSpecs"]:
        assert group["groupName"] and isinstance(group["rayStartParams"], dict)
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    for _name, spec in pod_specs(service):
        assert spec["containers"] and all(c["image"] for c in spec["containers"])


def test_serve_config_pins_one_digest(service):
    config = yaml.safe_load(service["spec"]["serveConfigV2"])  # a YAML string in the CRD
    apps = config["applications"]
    assert apps
    digests = set()
    for app in apps:
        assert app["import_path"] and app["name"]
        field = app["runtime_env"]["lazypath"]
        # Exactly what the plugin accepts on the nodes (validate() of the plugin).
        checked = lpray.check_spec(field, pinned=True)
        assert checked["store"] == field["store"] and checked["mode"] == "eager"
        digests.add(field["ref"])
    assert len(digests) == 1
    (digest,) = digests
    # Deploying new code is changing this one string: it appears once in the file.
    assert MANIFEST.read_text().count(digest) == 1


def test_plugin_registered_and_cache_mounted_on_every_ray_container(service):
    for name, spec in pod_specs(service):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in spec["containers"]:
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            plugins = json.loads(env[lpray.PLUGIN_ENV_VAR])
            assert {"class": lpray.PLUGIN_CLASS, "priority": lpray.PLUGIN_PRIORITY} in plugins, name
            cache = env["LAZYPATH_CACHE"]
            assert cache.startswith("/"), name
            mounts = [m for m in c["volumeMounts"] if m["mountPath"] == cache]
            assert len(mounts) == 1, f"{name}: no volume mounted at LAZYPATH_CACHE {cache}"
            vol = volumes[mounts[0]["name"]]
            assert "emptyDir" in vol or "hostPath" in vol or "persistentVolumeClaim" in vol
            assert not mounts[0].get("readOnly", False), name


def test_registration_value_is_what_the_helper_prints(service):
    _name, spec = pod_specs(service)[0]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert json.loads(env[lpray.PLUGIN_ENV_VAR]) == json.loads(lpray.plugin_env_value())
