"""Ray glue on the driver: turn a `lazypath` runtime_env field into a pinned digest.

Workers get code through the `lazypath` runtime_env field, installed on every
node by the plugin in lazypath.ray_plugin (see doc/ray.md):

    runtime_env = {"lazypath": {"store": "/mnt/store", "ref": "sha256:<hex>"}}

The plugin accepts only a full digest, so that every worker of a job runs the
same code. A tag, or a local directory to push, is turned into a digest here,
once, on the driver:

    {"store": URL, "ref": "prod"}   ->  {"store": URL, "ref": "sha256:..."}
    {"store": URL, "dir": "."}      ->  pushes ".", then {"store": URL, "ref": "sha256:..."}

Three ways to do it:

- `lazypath.ray.runtime_env(store, ref=..., dir=...)` builds the field (for
  ray.init, @ray.remote(runtime_env=...), .options(), Serve deployments);
- `RAY_RUNTIME_ENV_HOOK=lazypath.ray.runtime_env_hook` in the driver's
  environment makes `ray.init(runtime_env=...)` do it (Ray's own driver hook;
  it runs in ray.init only, not for per-task or per-actor runtime_envs);
- `python -m lazypath.ray '<runtime_env JSON>'` prints the rewritten JSON, for
  `ray job submit --runtime-env-json "$(python -m lazypath.ray '...')"`
  (the job CLI has no hook of its own).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

FIELD = "lazypath"
PLUGIN_CLASS = "lazypath.ray_plugin.LazypathPlugin"
# Larger than every built-in plugin's (10): the plugin prepends its tree to
# PYTHONPATH after working_dir and py_modules did, so the tree comes first.
PLUGIN_PRIORITY = 20
PLUGIN_ENV_VAR = "RAY_RUNTIME_ENV_PLUGINS"
HOOK_ENV_VAR = "RAY_RUNTIME_ENV_HOOK"
HOOK = "lazypath.ray.runtime_env_hook"
URI_SCHEME = "lazypath://"
MODES = ("eager", "lazy")
KEYS = {"store", "ref", "dir", "mode", "tag", "exclude", "on_demand", "policy"}
DRIVER_ONLY_KEYS = {"dir", "tag", "exclude"}

# The registration check (see guard()). Ray runs the function named by the
# worker_process_setup_hook runtime_env key in every worker it starts, before
# the worker takes any task; ray.init turns the key into this variable, and
# per-task / per-actor runtime_envs need the variable itself.
SETUP_HOOK = "lazypath.ray.check_plugin"
SETUP_HOOK_KEY = "worker_process_setup_hook"
RAY_SETUP_HOOK_ENV_VAR = "__RAY_WORKER_PROCESS_SETUP_HOOK_ENV_VAR"
# A user's own worker_process_setup_hook (an import path), run after the check.
NEXT_HOOK_ENV_VAR = "LAZYPATH_RAY_NEXT_SETUP_HOOK"
# Set by the plugin's modify_context in every worker of a lazypath runtime_env.
DIGEST_ENV_VAR = "LAZYPATH_RAY_DIGEST"
TREE_ENV_VAR = "LAZYPATH_RAY_TREE"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def plugin_env_value(priority: int = PLUGIN_PRIORITY) -> str:
    """The value of RAY_RUNTIME_ENV_PLUGINS that registers the plugin (on every node)."""
    return json.dumps([{"class": PLUGIN_CLASS, "priority": priority}])


def not_registered_message(where: str) -> str:
    """The one line a worker or job fails with when the plugin did not run for it."""
    return (
        f"lazypath: the runtime_env plugin is not registered on {where}: Ray ignored"
        f" runtime_env['{FIELD}'], so the tree is not on this worker's path; register it in"
        f" the environment of `ray start` on every node (head and workers):"
        f" {PLUGIN_ENV_VAR}='{plugin_env_value()}' (see doc/ray.md)"
    )


class _Unregistered:
    """Last on sys.meta_path of a worker the plugin did not prepare: an import no
    other finder satisfies fails with the not-registered line, not a bare
    ModuleNotFoundError."""

    def __init__(self, message: str) -> None:
        self.message = message

    def find_spec(self, name, path=None, target=None):
        if path is not None:
            return None  # a submodule of a package found elsewhere: not ours to explain
        raise ModuleNotFoundError(f"No module named {name!r}; {self.message}", name=name)

    def invalidate_caches(self) -> None:
        pass


def check_plugin() -> None:
    """Ray's worker_process_setup_hook for lazypath runtime_envs (see guard()).

    Runs in every worker before it takes a task; the plugin's modify_context
    sets LAZYPATH_RAY_DIGEST for that worker, so its absence means the node's
    runtime env agent never loaded the plugin. The worker then writes the
    one-line fix to its stderr (Ray shows it on the driver) and puts a finder
    last on sys.meta_path, so the task's or actor's first import of the tree
    fails with that line in its ModuleNotFoundError, which Ray hands to
    `ray.get`. (Raising here would end the worker instead, and Ray reports a
    WorkerCrashedError that does not carry the message.) Then runs the user's
    own setup hook, if guard() moved one aside.
    """
    if not os.environ.get(DIGEST_ENV_VAR):
        import socket

        message = not_registered_message(f"node {socket.gethostname()}")
        print(message, file=sys.stderr, flush=True)
        if not any(isinstance(f, _Unregistered) for f in sys.meta_path):
            sys.meta_path.append(_Unregistered(message))
    nxt = os.environ.get(NEXT_HOOK_ENV_VAR)
    if nxt:
        import importlib

        module, _, name = nxt.rpartition(".")
        getattr(importlib.import_module(module), name)()


def _check_then(user_hook) -> None:
    check_plugin()
    user_hook()


def guard(runtime_env: dict) -> dict:
    """Makes a runtime_env with a `lazypath` field fail loudly where the plugin is
    not registered (Ray otherwise ignores the field and a task fails later with a
    bare ModuleNotFoundError). Modifies and returns `runtime_env`.

    Adds worker_process_setup_hook = lazypath.ray.check_plugin, both as the key
    (ray.init exports it for the job's workers) and as Ray's variable in
    env_vars (per-task and per-actor runtime_envs, Serve replicas and job
    supervisors get only that). A user's hook given as an import path moves to
    LAZYPATH_RAY_NEXT_SETUP_HOOK and runs after the check; a callable (ray.init
    only) is wrapped.
    """
    if runtime_env.get(FIELD) is None:
        return runtime_env
    env_vars = dict(runtime_env.get("env_vars") or {})
    user = runtime_env.get(SETUP_HOOK_KEY)
    if user is None or user == SETUP_HOOK:
        runtime_env[SETUP_HOOK_KEY] = SETUP_HOOK
        env_vars[RAY_SETUP_HOOK_ENV_VAR] = SETUP_HOOK
    elif isinstance(user, str):
        env_vars[NEXT_HOOK_ENV_VAR] = user
        runtime_env[SETUP_HOOK_KEY] = SETUP_HOOK
        env_vars[RAY_SETUP_HOOK_ENV_VAR] = SETUP_HOOK
    elif callable(user):
        import functools

        # Ray exports a callable from ray.init itself and sets the variable.
        runtime_env[SETUP_HOOK_KEY] = functools.partial(_check_then, user)
    else:
        raise ValueError(
            f"lazypath: {SETUP_HOOK_KEY} must be an import path or a function,"
            f" got {type(user).__name__}"
        )
    runtime_env["env_vars"] = env_vars
    return runtime_env


def is_digest(ref: str) -> bool:
    """Whether `ref` is a tree digest (the core's digest grammar)."""
    import lazypath

    return lazypath._load_core().is_digest(ref)


def digest_uri(digest: str) -> str:
    """The URI Ray counts references to: "lazypath://sha256:<hex>"."""
    return URI_SCHEME + digest


def expand_store(store: str, environ: Mapping[str, str] | None = None) -> str:
    """Replaces ${NAME} in a store URL with the variable of this machine's
    environment (a mount point that differs between node pools, say)."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in env:
            raise ValueError(
                f"lazypath: store '{store}' uses ${{{name}}}, which is not set on this node"
            )
        return env[name]

    return _VAR.sub(sub, store)


def check_spec(spec: Any, *, pinned: bool) -> dict:
    """Validates a `lazypath` runtime_env field; returns a normalised copy.

    With `pinned` (on the nodes), `ref` must be a full digest and the
    driver-only keys (dir, tag, exclude) are refused. Raises ValueError with
    a message that says what to change.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"lazypath: runtime_env['lazypath'] must be a dict, got {type(spec).__name__}"
        )
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        raise ValueError(
            f"lazypath: unknown key(s) {unknown} in runtime_env['lazypath']; known: {sorted(KEYS)}"
        )
    store = spec.get("store")
    if not isinstance(store, str) or not store:
        raise ValueError("lazypath: runtime_env['lazypath'] needs 'store' (a store URL or path)")
    mode = spec.get("mode", "eager")
    if mode not in MODES:
        raise ValueError(f"lazypath: mode '{mode}' is not one of {list(MODES)}")
    has_ref, has_dir = "ref" in spec, "dir" in spec
    if has_ref == has_dir:
        raise ValueError("lazypath: runtime_env['lazypath'] needs exactly one of 'ref' and 'dir'")
    if has_ref and not (isinstance(spec["ref"], str) and spec["ref"]):
        raise ValueError("lazypath: 'ref' must be a tag or 'sha256:<64 hex>'")
    if has_dir and not (isinstance(spec["dir"], str) and spec["dir"]):
        raise ValueError("lazypath: 'dir' must be a directory path")
    if "tag" in spec and not has_dir:
        raise ValueError("lazypath: 'tag' names the tree a 'dir' push makes; it needs 'dir'")
    exclude = spec.get("exclude", [])
    if isinstance(exclude, str) or not isinstance(exclude, Iterable):
        raise ValueError("lazypath: 'exclude' must be a list of gitignore patterns")
    on_demand = spec.get("on_demand", [])
    if isinstance(on_demand, str) or not isinstance(on_demand, Iterable):
        raise ValueError("lazypath: 'on_demand' must be a list of directory paths")
    on_demand = list(on_demand)
    if not all(isinstance(d, str) and d for d in on_demand):
        raise ValueError("lazypath: 'on_demand' must be a list of directory paths")
    if on_demand and mode != "lazy":
        raise ValueError('lazypath: \'on_demand\' applies to "mode": "lazy" only')
    policy = None
    if spec.get("policy") is not None:
        from lazypath import policy as lppolicy

        policy = lppolicy.parse(spec["policy"])  # ValueError, one line
    if pinned:
        hint = (
            f"resolve it on the driver: set {HOOK_ENV_VAR}={HOOK} for ray.init, build the"
            " runtime_env with lazypath.ray.runtime_env(), or rewrite the JSON with"
            " `python -m lazypath.ray` (see doc/ray.md)"
        )
        if has_dir:
            raise ValueError(f"lazypath: 'dir' {spec['dir']!r} reached a node unpushed; {hint}")
        if not is_digest(spec["ref"]):
            raise ValueError(
                f"lazypath: ref {spec['ref']!r} is not a digest (sha256:<64 hex>); tags are"
                f" resolved once, on the driver, so every worker runs the same code; {hint}"
            )
    out = dict(spec)
    out["mode"] = mode
    if on_demand:
        out["on_demand"] = list(on_demand)
    if policy is not None:
        out["policy"] = policy
    else:
        out.pop("policy", None)
    return out


def resolve_ref(store: str, ref: str) -> str:
    """The digest `ref` (a tag or digest) names in `store`; reads only the ref and tree."""
    import lazypath

    if is_digest(ref):
        return ref
    return lazypath.show(os.fspath(expand_store(store)), ref).digest


def pin(spec: Mapping, *, cache_dir: str | None = None) -> dict:
    """Pushes `dir` or resolves a tag `ref`; returns {"store", "ref": digest, "mode"}
    (and "on_demand" and "policy" when given)."""
    import lazypath

    spec = check_spec(spec, pinned=False)
    store = spec["store"]
    if "dir" in spec:
        digest = lazypath.push(
            spec["dir"],
            expand_store(store),
            tag=spec.get("tag"),
            exclude=list(spec.get("exclude", [])),
            cache_dir=cache_dir,
        )
    else:
        digest = resolve_ref(store, spec["ref"])
    out = {"store": store, "ref": digest, "mode": spec["mode"]}
    if spec.get("on_demand"):
        out["on_demand"] = spec["on_demand"]
    if spec.get("policy") is not None:
        out["policy"] = spec["policy"]
    return out


def resolve(runtime_env: Mapping[str, Any] | None, *, cache_dir: str | None = None):
    """A copy of `runtime_env` whose `lazypath` field names a digest (see module doc)."""
    if runtime_env is None:
        return None
    if hasattr(runtime_env, "to_dict") and not isinstance(runtime_env, dict):
        runtime_env = runtime_env.to_dict()  # a ray.runtime_env.RuntimeEnv
    out = copy.deepcopy(dict(runtime_env))
    if out.get(FIELD) is not None:
        out[FIELD] = pin(out[FIELD], cache_dir=cache_dir)
    return guard(out)


def runtime_env(
    store: str,
    ref: str | None = None,
    *,
    dir: str | None = None,
    tag: str | None = None,
    exclude: Iterable[str] = (),
    mode: str = "eager",
    on_demand: Iterable[str] = (),
    policy: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
    cache_dir: str | None = None,
) -> dict:
    """A runtime_env (a copy of `base` plus the `lazypath` field) pinned to one digest.

    Give `ref` (a tag or "sha256:<hex>", resolved now) or `dir` (pushed now,
    optionally tagged `tag`):

        env = lazypath.ray.runtime_env("/mnt/store", "prod")
        @ray.remote(runtime_env=env)
        def f(): import myapp; ...
    """
    spec: dict[str, Any] = {"store": os.fspath(store), "mode": mode}
    if ref is not None:
        spec["ref"] = ref
    if dir is not None:
        spec["dir"] = os.fspath(dir)
    if tag is not None:
        spec["tag"] = tag
    exclude = list(exclude)
    if exclude:
        spec["exclude"] = exclude
    on_demand = list(on_demand)
    if on_demand:
        spec["on_demand"] = on_demand
    if policy is not None:
        spec["policy"] = dict(policy)  # doc/policy.md
    out = copy.deepcopy(dict(base or {}))
    out[FIELD] = pin(spec, cache_dir=cache_dir)
    return guard(out)


def job_entrypoint(command: Iterable[str]) -> str:
    """The shell entrypoint of a Ray job that runs `command` in the job's tree.

    `command` is quoted as `ray job submit -- COMMAND...` quotes it
    (shlex.join), and run with the tree's root as its current directory, as
    Ray's `working_dir` does: the plugin gives the job's supervisor (whose
    environment the entrypoint inherits) LAZYPATH_RAY_TREE, the tree's
    directory on that node. Where the plugin did not run, the entrypoint
    fails with the not-registered line instead of running in the wrong
    directory.
    """
    import shlex

    command = list(command)
    if not command:
        raise ValueError("lazypath: a job needs a command to run")
    msg = shlex.quote(not_registered_message("the node that runs this job's entrypoint"))
    return (
        f'[ -n "${TREE_ENV_VAR}" ] || {{ echo {msg} >&2; exit 1; }};'
        f' cd "${TREE_ENV_VAR}" && exec {shlex.join(command)}'
    )


def runtime_env_hook(runtime_env: dict | None) -> dict | None:
    """For RAY_RUNTIME_ENV_HOOK=lazypath.ray.runtime_env_hook: ray.init calls it
    on the driver with the job's runtime_env and uses what it returns."""
    return resolve(runtime_env)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lazypath.ray",
        description="Print a runtime_env JSON whose 'lazypath' field is pinned to a digest"
        " ('dir' pushed, a tag resolved), for `ray job submit --runtime-env-json`.",
    )
    p.add_argument("runtime_env_json", help="the runtime_env as JSON")
    args = p.parse_args(argv)
    try:
        env = json.loads(args.runtime_env_json)
        if not isinstance(env, dict):
            raise ValueError("the runtime_env JSON must be an object")
        out = resolve(env)
    except Exception as e:  # one line, like the lazypath CLI
        print(f"lazypath: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
