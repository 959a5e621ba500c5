"""`lazypath doctor --ray`: the doctor on every alive node of a Ray cluster.

One task per alive node, pinned there with NodeAffinitySchedulingStrategy
(soft=False) and optionally run inside a runtime_env, runs the collector in
*live* mode: it reports the worker's own sys.path as Ray and the runtime_env
set it up (working_dir, py_modules, env vars), reading .pth files without
executing them. The node analyses its facts with its own lazypath._doctor when
lazypath is installed there (paths are the node's); otherwise the driver does.
Nodes whose reports resolve every name identically are grouped; each group is
diffed against the driver (this process).
"""

from __future__ import annotations

import hashlib
import json
import socket

from rich.console import Console
from rich.text import Text

from lazypath import doctor
from lazypath.doctor import collector, render

DoctorError = doctor.DoctorError


def _node_doctor(src: str) -> dict:
    """Body of the per-node task (pickled by value: the node may lack lazypath)."""
    import socket as _socket

    import ray as _ray

    ns = {"__name__": "lazypath_doctor_collector"}
    exec(compile(src, "<lazypath doctor collector>", "exec"), ns)
    facts = ns["collect"](live=True)
    report = None
    try:
        from lazypath import doctor as _doctor

        report = _doctor.analyze(facts)
    except Exception:  # lazypath absent on the node: the driver analyses the facts
        report = None
    return {
        "node_id": _ray.get_runtime_context().get_node_id(),
        "hostname": _socket.gethostname(),
        "facts": facts,
        "report": report,
    }


_node_doctor.__module__ = "__main__"  # makes cloudpickle ship it by value


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fails fast with a clear message when host:port does not accept connections."""
    if address in ("auto", "local", ""):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise DoctorError(f"Ray address {address!r}: expected HOST:PORT, ray://HOST:PORT or 'auto'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise DoctorError(f"Ray cluster at {address} is unreachable: {e.strerror or e}") from None


def fingerprint(report: dict) -> str:
    key = {
        "sys_path": [e["entry"] for e in report.get("entries", [])],
        "modules": doctor._module_map(report),
        "distributions": sorted(
            (d["key"], d["version"]) for d in report.get("distributions", []) if d.get("reported")
        ),
    }
    return "sha256:" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def diagnose_cluster(
    address: str | None, *, runtime_env: dict | None = None, timeout: float = 300.0
) -> dict:
    """Runs the doctor on the driver and on every alive node; groups and diffs."""
    try:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    except ImportError:
        raise DoctorError("--ray needs the ray package (pip install 'lazypath[ray]')") from None
    address = address or "auto"
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(address)
        try:
            ray.init(
                address=None if address == "local" else address,
                logging_level="ERROR",
                log_to_driver=False,
                include_dashboard=False,
            )
        except Exception as e:  # ConnectionError, RuntimeError, ...
            raise DoctorError(
                f"cannot connect to Ray at {address}: {' '.join(str(e).split())}"
            ) from None
    try:
        driver = doctor.analyze(collector.collect(live=True))
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        task = ray.remote(num_cpus=0, max_retries=0)(_node_doctor)
        src = doctor.collector_source()
        refs = []
        for n in nodes:
            opts = {"scheduling_strategy": NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)}
            if runtime_env:
                opts["runtime_env"] = runtime_env
            refs.append(task.options(**opts).remote(src))
        try:
            results = ray.get(refs, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise DoctorError(f"Ray nodes did not answer within {timeout:g} s") from None
        except ray.exceptions.RuntimeEnvSetupError as e:
            msg = " ".join(str(e).split())[:300]
            raise DoctorError(f"runtime_env could not be set up on a node: {msg}") from None
        except ray.exceptions.RayError as e:
            msg = " ".join(str(e).split())[:300]
            raise DoctorError(f"the doctor task failed on a node: {msg}") from None
    finally:
        if started_here:
            ray.shutdown()

    groups: dict = {}
    for r in results:
        analysed_on = "node"
        if r["report"] is None:
            r["report"] = doctor.analyze(r["facts"])
            analysed_on = "driver"
        fp = fingerprint(r["report"])
        g = groups.setdefault(fp, {"fingerprint": fp, "nodes": [], "report": r["report"]})
        g["nodes"].append(
            {"node_id": r["node_id"], "hostname": r["hostname"], "analysed_on": analysed_on}
        )
    out_groups = []
    for g in groups.values():
        d = doctor.diff(driver, g["report"])
        g["identical_to_driver"] = doctor.diff_is_empty(d)
        g["diff_vs_driver"] = d
        out_groups.append(g)
    return {
        "schema": 1,
        "address": address,
        "runtime_env": runtime_env,
        "driver": driver,
        "driver_fingerprint": fingerprint(driver),
        "nodes": len(results),
        "groups": out_groups,
    }


def render_cluster(result: dict, console: Console, *, verbose: bool = False) -> None:
    console.print(
        Text(f"lazypath doctor --ray {result['address']}", style="bold"),
        Text(
            f"{result['nodes']} alive node(s), {len(result['groups'])} distinct resolution(s)",
            style="dim",
        ),
    )
    for i, g in enumerate(result["groups"], 1):
        hosts = ", ".join(sorted({n["hostname"] for n in g["nodes"]}))
        same = g["identical_to_driver"]
        console.print()
        console.print(
            Text(f"group {i}: {len(g['nodes'])} node(s) on {hosts}: ", style="bold")
            + Text(
                "same as the driver" if same else "differs from the driver",
                style="green" if same else "yellow",
            )
        )
        for style, text in render.diff_lines(g["diff_vs_driver"], "driver", f"group {i}"):
            console.print(Text("  " + text, style=style), soft_wrap=True)
        s = g["report"]["summary"]
        console.print(f"  {s['errors']} error(s), {s['warnings']} warning(s) on these nodes")
        for f in g["report"]["findings"]:
            if verbose or f["severity"] != "info":
                console.print(
                    Text(
                        f"  {f['severity']} [{f['code']}] {f['message']}",
                        style=render._STYLE[f["severity"]],
                    ),
                    soft_wrap=True,
                )
