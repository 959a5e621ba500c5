"""`lazypath doctor --ray`: the doctor on every alive node of a Ray cluster.

One task per alive node, pinned there with NodeAffinitySchedulingStrategy
(soft=False) and optionally run inside a runtime_env, runs the collector in
*live* mode: it reports the worker's own sys.path as Ray and the runtime_env
set it up (working_dir, py_modules, env vars), reading .pth files without
executing them. The node analyses its facts with its own lazypath._doctor when
lazypath is installed there (paths are the node's); otherwise the driver does.
Nodes whose reports resolve every name identically are grouped; each group is
diffed against the driver (this process).

With a runtime_env that contains the `lazypath` field, each node also checks
that the lazypath tree sits on the worker's sys.path where doc/ray.md
(section 5) says: after Ray's own entries only, ahead of py_modules,
working_dir, the runtime_env's PYTHONPATH, the standard library and
site-packages, with none of its modules imported from elsewhere (findings
ray-tree-order, ray-tree-shadowed, ray-tree-missing; doc/doctor.md). The
check lives here, not in the C++ resolver, because it is about Ray's
runtime_env layout; it reads the resolver's report.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys

from rich.console import Console
from rich.text import Text

from lazypath import doctor
from lazypath.doctor import collector, render

DoctorError = doctor.DoctorError


def _node_doctor(src: str, policy: dict | None = None) -> dict:
    """Body of the per-node task (pickled by value: the node may lack lazypath)."""
    import os as _os
    import socket as _socket

    import ray as _ray

    ns = {"__name__": "lazypath_doctor_collector"}
    exec(compile(src, "<lazypath doctor collector>", "exec"), ns)
    facts = ns["collect"](live=True)
    # What the lazypath plugin set for this worker, and every entry's real
    # path on this node (the driver cannot resolve the node's symlinks).
    ray_env = {
        "tree": _os.environ.get("LAZYPATH_RAY_TREE"),
        "digest": _os.environ.get("LAZYPATH_RAY_DIGEST"),
        "cwd": _os.getcwd(),
        "ray_dir": _os.path.dirname(_os.path.realpath(_ray.__file__)),
        "real": [_os.path.realpath(p or ".") for p in facts["sys_path"]],
        "driver_sys_path": [],
    }
    try:  # the driver's directories Ray puts first on every worker of the job
        job = _ray._private.worker.global_worker.core_worker.get_job_config()
        ray_env["driver_sys_path"] = [str(p) for p in job.py_driver_sys_path]
    except Exception:
        pass
    if ray_env["tree"]:
        ray_env["tree_real"] = _os.path.realpath(ray_env["tree"])
    report = None
    try:
        from lazypath import doctor as _doctor

        report = _doctor.analyze(facts)
    except Exception:  # lazypath absent on the node: the driver analyses the facts
        report = None
    node_id = _ray.get_runtime_context().get_node_id()
    predicted = None
    if policy is not None and report is not None:
        # On the node: the rules read the node's file system. Named as the
        # plugin names the node in the workers' own messages.
        from lazypath.doctor import policy_check as _pc

        predicted = _pc.predict(
            policy,
            report,
            tree=ray_env["tree"],
            node=f"{node_id} ({_os.uname().nodename})",
            sys_path=list(facts["sys_path"]),
        )
    return {
        "node_id": node_id,
        "hostname": _socket.gethostname(),
        "facts": facts,
        "report": report,
        "ray_env": ray_env,
        "policy": predicted,
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


# What may precede the lazypath tree on a worker's sys.path (doc/ray.md, section 5):
# the job driver's directories and Ray's own.
_BEFORE_TREE_OK = ("driver", "ray")


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


def _local_uri_path(value) -> str | None:
    if isinstance(value, str) and value.startswith("local://"):
        return os.path.normpath(value[len("local://") :])
    return None


def classify_ray_entries(report: dict, ray_env: dict, runtime_env: dict | None) -> list[dict]:
    """Each sys.path entry of a Ray worker with the source doc/ray.md names:
    driver (the job driver's directories), ray, lazypath, py_modules,
    working_dir, PYTHONPATH (the runtime_env's env_vars), stdlib,
    site-packages or other."""
    env = runtime_env or {}
    user_pp = (env.get("env_vars") or {}).get("PYTHONPATH") or ""
    user_pp = {os.path.normpath(p) for p in user_pp.split(os.pathsep) if p}
    local_wd = _local_uri_path(env.get("working_dir"))
    local_pm = {p for p in map(_local_uri_path, env.get("py_modules") or []) if p}
    site = report.get("facts", {}).get("site", {})
    site_dirs = {os.path.normpath(p) for p in site.get("site_packages", []) if p}
    if site.get("user_site"):
        site_dirs.add(os.path.normpath(site["user_site"]))
    stdlib = {os.path.normpath(p) for p in report.get("facts", {}).get("stdlib_paths", []) if p}
    driver = {os.path.normpath(p) for p in ray_env.get("driver_sys_path") or [] if p}
    real = ray_env.get("real") or []
    tree = ray_env.get("tree_real")
    out = []
    for e in report.get("entries", []):
        i, entry = e["index"], e["entry"]
        path = real[i] if i < len(real) else os.path.normpath(entry)
        norm = os.path.normpath(entry) if entry else entry
        if tree and path == tree:
            kind = "lazypath"
        elif norm in driver:
            kind = "driver"
        elif ray_env.get("ray_dir") and _under(path, ray_env["ray_dir"]):
            kind = "ray"
        elif f"{os.sep}py_modules_files{os.sep}" in path or norm in local_pm:
            kind = "py_modules"
        elif f"{os.sep}working_dir_files{os.sep}" in path or (local_wd and norm == local_wd):
            kind = "working_dir"
        elif norm in user_pp:
            kind = "PYTHONPATH"
        elif norm in stdlib:
            kind = "stdlib"
        elif norm in site_dirs or os.path.basename(path) in ("site-packages", "dist-packages"):
            kind = "site-packages"
        else:
            kind = "other"
        out.append({"index": i, "entry": entry, "kind": kind})
    return out


def ray_tree_findings(report: dict, ray_env: dict, runtime_env: dict | None) -> list[dict]:
    """Findings about where the lazypath tree sits on one worker's sys.path."""
    digest = ray_env.get("digest") or (runtime_env or {}).get("lazypath", {}).get("ref")
    layout = classify_ray_entries(report, ray_env, runtime_env)
    tree = [x["index"] for x in layout if x["kind"] == "lazypath"]
    if not tree:
        where = ray_env.get("tree")
        return [
            {
                "code": "ray-tree-missing",
                "severity": "error",
                "subject": digest or "lazypath",
                "message": (
                    f"the lazypath tree {digest} ({where}) is not on the worker's sys.path"
                    if where
                    else "the runtime_env has a lazypath field but the worker has no lazypath"
                    " tree (LAZYPATH_RAY_TREE is unset: is the plugin registered on this node?)"
                ),
                "evidence": [f"sys.path[{x['index']}] {x['entry']} ({x['kind']})" for x in layout],
                "hint": "register the plugin on every node (RAY_RUNTIME_ENV_PLUGINS, doc/ray.md"
                " section 1) and do not remove the tree from sys.path at start-up",
            }
        ]
    t = tree[0]
    out = []
    for x in layout:
        if x["index"] >= t or x["kind"] in _BEFORE_TREE_OK:
            continue
        out.append(
            {
                "code": "ray-tree-order",
                "severity": "warning",
                "subject": x["entry"],
                "message": (
                    f"sys.path[{x['index']}] {x['entry']} ({x['kind']}) precedes the lazypath"
                    f" tree at sys.path[{t}]; doc/ray.md puts the tree ahead of py_modules,"
                    " working_dir, PYTHONPATH, the standard library and site-packages"
                ),
                "evidence": [f"sys.path[{y['index']}] {y['entry']} ({y['kind']})" for y in layout],
                "hint": (
                    "a .pth line, sitecustomize or a plugin priority below 10 put it there;"
                    " modules it provides win over the tree's"
                ),
            }
        )
    kinds = {x["index"]: x["kind"] for x in layout}
    entries = report.get("entries", [])
    for m in report.get("modules", []):
        win = m.get("entry")
        if win is None or win == t:
            continue
        if not any(s.get("entry") == t for s in m.get("shadowed", [])):
            continue
        out.append(
            {
                "code": "ray-tree-shadowed",
                "severity": "error",
                "subject": m["name"],
                "message": (
                    f"'{m['name']}' from lazypath tree {digest} is shadowed: import loads"
                    f" {m.get('origin')} from sys.path[{win}] ({kinds.get(win, 'other')})"
                    " instead"
                ),
                "evidence": [
                    f"winner: sys.path[{win}] {entries[win]['entry']}",
                    f"lazypath tree: sys.path[{t}] {entries[t]['entry']}",
                ],
                "hint": "the digest is not what runs for this name: rename the module or remove"
                " the entry that precedes the tree",
            }
        )
    return out


def _add_findings(report: dict, extra: list[dict]) -> None:
    if not extra:
        return
    rank = {"error": 0, "warning": 1, "info": 2}
    findings = report.setdefault("findings", []) + extra
    findings.sort(key=lambda f: (rank[f["severity"]], f["code"], f["subject"]))
    report["findings"] = findings
    s = report.setdefault("summary", {})
    for f in extra:
        key = {"error": "errors", "warning": "warnings", "info": "infos"}[f["severity"]]
        s[key] = s.get(key, 0) + 1


def _pin_runtime_env(runtime_env: dict | None) -> dict | None:
    """The lazypath field pinned on the driver (tag -> digest, dir -> push), as
    RAY_RUNTIME_ENV_HOOK would do in ray.init; needs no cluster."""
    if not runtime_env or runtime_env.get("lazypath") is None:
        return runtime_env
    from lazypath import ray as lpray

    try:
        return lpray.resolve(runtime_env)
    except Exception as e:
        raise DoctorError(f"runtime_env: {' '.join(str(e).split())}") from None


def _upload_runtime_env(env: dict | None) -> dict | None:
    """Local working_dir / py_modules paths zipped into the cluster, as ray.init
    does for a job's runtime_env (task-level runtime_envs take only URIs)."""
    if not env or not (env.get("working_dir") or env.get("py_modules")):
        return env
    import tempfile

    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed
    from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

    with tempfile.TemporaryDirectory(prefix="lazypath-doctor-") as scratch:
        try:
            env = upload_py_modules_if_needed(env, include_gitignore=True, scratch_dir=scratch)
            env = upload_working_dir_if_needed(env, include_gitignore=True, scratch_dir=scratch)
        except Exception as e:
            raise DoctorError(f"runtime_env: {' '.join(str(e).split())}") from None
    return env


def fingerprint(report: dict) -> str:
    key = {
        "sys_path": [e["entry"] for e in report.get("entries", [])],
        "modules": doctor._module_map(report),
        "distributions": sorted(
            (d["key"], d["version"]) for d in report.get("distributions", []) if d.get("reported")
        ),
    }
    return "sha256:" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _split_policy(env: dict | None, policy: dict | None):
    """The task runtime_env without the lazypath policy (so the collector sees
    the sys.path the policy would start from), and the policy to predict:
    `policy` if given, else the runtime_env's own."""
    if not env or not isinstance(env.get("lazypath"), dict):
        return env, policy
    field = dict(env["lazypath"])
    own = field.pop("policy", None)
    return {**env, "lazypath": field}, policy if policy is not None else own


def diagnose_cluster(
    address: str | None,
    *,
    runtime_env: dict | None = None,
    timeout: float = 300.0,
    policy: dict | None = None,
) -> dict:
    """Runs the doctor on the driver and on every alive node; groups and diffs.
    With a policy (or one in runtime_env's lazypath field), each node also
    predicts what it would change or refuse (lazypath/doctor/policy_check.py)."""
    try:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    except ImportError:
        raise DoctorError("--ray needs the ray package (pip install 'lazypath[ray]')") from None
    address = address or "auto"
    pinned = _pin_runtime_env(runtime_env)  # a bad tag or store fails before connecting
    pinned, policy = _split_policy(pinned, policy)
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(address)
        # Ray puts the driver's script directory ahead of everything on the
        # job's workers; ours is the `lazypath` console script's bin/, which
        # no user job has. Only the cwd remains, as for a `python -m` driver.
        script_dir = os.path.dirname(os.path.realpath(sys.argv[0])) if sys.argv[0] else ""
        saved_path = list(sys.path)
        if script_dir and script_dir != os.path.abspath(os.curdir):
            sys.path[:] = [p for p in sys.path if p != script_dir]
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
        finally:
            sys.path[:] = saved_path
    try:
        driver = doctor.analyze(collector.collect(live=True))
        task_env = _upload_runtime_env(pinned)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        task = ray.remote(num_cpus=0, max_retries=0)(_node_doctor)
        src = doctor.collector_source()
        refs = []
        for n in nodes:
            opts = {"scheduling_strategy": NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)}
            if task_env:
                opts["runtime_env"] = task_env
            refs.append(task.options(**opts).remote(src, policy))
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
        ray_path = None
        if task_env and task_env.get("lazypath") is not None:
            ray_path = classify_ray_entries(r["report"], r["ray_env"], task_env)
            _add_findings(r["report"], ray_tree_findings(r["report"], r["ray_env"], task_env))
        if r.get("policy") is not None:
            from lazypath.doctor import policy_check

            r["report"]["policy"] = r["policy"]
            _add_findings(r["report"], policy_check.findings(r["policy"]))
        elif policy is not None:
            r["report"]["policy"] = None  # lazypath is not installed on that node
        fp = fingerprint(r["report"])
        g = groups.setdefault(
            fp, {"fingerprint": fp, "nodes": [], "report": r["report"], "ray_path": ray_path}
        )
        g["nodes"].append(
            {
                "node_id": r["node_id"],
                "hostname": r["hostname"],
                "analysed_on": analysed_on,
                "policy": r.get("policy"),
            }
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
        "task_runtime_env": task_env,
        "driver": driver,
        "driver_fingerprint": fingerprint(driver),
        "nodes": len(results),
        "groups": out_groups,
        "policy": policy,
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
        if g.get("ray_path"):
            kinds: list[str] = []
            for x in g["ray_path"]:
                if not kinds or kinds[-1] != x["kind"]:
                    kinds.append(x["kind"])
            console.print(Text("  sys.path by source: " + " > ".join(kinds), style="dim"))
        for n in g["nodes"]:
            for line in (n.get("policy") or {}).get("lines", []):
                console.print(Text("  " + line, style="dim"), soft_wrap=True)
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
