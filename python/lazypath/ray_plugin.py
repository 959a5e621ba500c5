"""The `lazypath` runtime_env plugin: Ray installs a tree on each node, workers import it.

Register it on every node (head and workers) before Ray starts:

    RAY_RUNTIME_ENV_PLUGINS='[{"class": "lazypath.ray_plugin.LazypathPlugin", "priority": 20}]'

and use it from any driver, task, actor, job or Serve deployment:

    runtime_env={"lazypath": {"store": "/mnt/store", "ref": "sha256:<hex>"}}

It runs in each node's runtime env agent, the way Ray's py_modules plugin does:

- validate(): the field is well formed, `ref` is a full digest (tags and `dir`
  are resolved on the driver, see lazypath.ray), mode is "eager" or "lazy";
- get_uris(): ["lazypath://sha256:<hex>"], the unit Ray counts references to;
- create(): materialises the tree in the node cache (fetching only what the
  cache lacks) and takes a lease on it, so `lazypath cache gc` never evicts
  a tree Ray still counts as installed. In lazy mode only the tree, its index
  and its root directory are fetched, under the same lease;
- modify_context(): eager: puts the tree first on the workers' PYTHONPATH.
  Lazy: puts lazypath/_site first on PYTHONPATH and describes the tree in
  LAZYPATH_BOOT_* variables; its sitecustomize installs the lazy import hook
  in every worker before any user code runs and puts the tree's root where
  _site was on sys.path (lazypath/_boot.py, doc/ray.md);
  With a "policy" (lazypath/policy.py, doc/policy.md): its "require" is
  checked first in the worker's interpreter with the worker's environment
  (a violation raises, so Ray reports RuntimeEnvSetupError), and the rest
  goes to the workers in LAZYPATH_POLICY with lazypath/_site on PYTHONPATH
  (eager mode too), whose boot enforces it before user code runs;
- delete_uri(): Ray no longer needs the tree: drop the lease and evict the
  tree and the blobs only it used (unless another process leases it).

The node cache is LAZYPATH_CACHE from the runtime_env's env_vars if set, else
the node's LAZYPATH_CACHE (the agent inherits the raylet's environment), else
the default; workers see the same value.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from ray._private.runtime_env.context import RuntimeEnvContext
from ray._private.runtime_env.plugin import RuntimeEnvPlugin
from ray._private.runtime_env.working_dir import set_pythonpath_in_context

from lazypath import _boot
from lazypath import ray as lpray

default_logger = logging.getLogger(__name__)

# Set on the workers: the digest and directory of the tree this plugin installed.
DIGEST_ENV_VAR = lpray.DIGEST_ENV_VAR
TREE_ENV_VAR = lpray.TREE_ENV_VAR


def _spec(runtime_env: Any) -> dict | None:
    value = runtime_env.get(lpray.FIELD) if runtime_env is not None else None
    if value is None:
        return None
    return lpray.check_spec(value, pinned=True)


def _cache_dir(runtime_env: Any, context: RuntimeEnvContext | None) -> str:
    """The node cache this runtime_env's workers use, as an absolute path."""
    cache = ""
    if context is not None:
        cache = context.env_vars.get("LAZYPATH_CACHE") or ""
    if not cache and runtime_env is not None:
        cache = (runtime_env.get("env_vars") or {}).get("LAZYPATH_CACHE") or ""
    if not cache:
        import lazypath

        cache = lazypath.default_cache_dir()
    return os.path.abspath(cache)


def node_label() -> str:
    """How policy messages name this node: "<node id> (<host>)" (the agent's
    --node-id argument), else the host."""
    import sys

    host = os.uname().nodename
    argv = sys.argv
    for i, a in enumerate(argv):
        if a.startswith("--node-id="):
            return f"{a.split('=', 1)[1]} ({host})"
        if a == "--node-id" and i + 1 < len(argv):
            return f"{argv[i + 1]} ({host})"
    return host


def _dir_bytes(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


class LazypathPlugin(RuntimeEnvPlugin):
    """runtime_env={"lazypath": {"store": URL, "ref": "sha256:<hex>", "mode": "eager"}}."""

    name = lpray.FIELD
    priority = lpray.PLUGIN_PRIORITY

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (digest, cache dir, mode) -> lease fd, and the tree path (the lazy
        # root in lazy mode), for trees Ray holds.
        self._leases: dict[tuple[str, str, str], int] = {}
        self._paths: dict[tuple[str, str, str], str] = {}
        self._sizes: dict[str, int] = {}
        self._probes: dict[tuple, dict] = {}  # (python, PYTHONPATH, names) -> probe

    @staticmethod
    def validate(runtime_env_dict: dict) -> None:
        _spec(runtime_env_dict)

    def get_uris(self, runtime_env: Any) -> list[str]:
        value = runtime_env.get(lpray.FIELD) if runtime_env is not None else None
        if not isinstance(value, dict) or not lpray.is_digest(value.get("ref")):
            return []  # invalid: validate() reports it
        return [lpray.digest_uri(value["ref"])]

    def _install(
        self,
        store: str,
        digest: str,
        cache: str,
        logger: logging.Logger,
        mode: str = "eager",
        on_demand: list | None = None,
    ) -> str:
        """Materialises `digest` in `cache` (lazy: its root) under a lease held
        by this agent; its path."""
        from lazypath import _activation

        key = (digest, cache, mode)
        with self._lock:
            path = self._paths.get(key)
            if path is not None and os.path.isdir(path):
                return path
        opened = _activation.open_tree(
            lpray.expand_store(store), digest, mode=mode, cache_dir=cache, on_demand=on_demand
        )
        tree, lease_fd = opened.tree, opened.lease_fd
        with self._lock:
            if key in self._leases:
                os.close(lease_fd)  # a concurrent install of the same tree got there first
            else:
                self._leases[key] = lease_fd
            self._paths[key] = tree.path
        logger.info(
            "lazypath: %s in %s (%s%s; fetched %d blob(s), %d bytes; read %d bytes from %s)",
            digest,
            tree.path,
            "cached" if tree.cached else "materialised",
            ", lazy" if mode == "lazy" else "",
            tree.blobs_fetched,
            tree.bytes_fetched,
            tree.bytes_read,
            store,
        )
        return tree.path

    def _install_or_explain(self, spec: dict, cache: str, logger: logging.Logger) -> str:
        try:
            return self._install(
                spec["store"],
                spec["ref"],
                cache,
                logger,
                spec.get("mode", "eager"),
                spec.get("on_demand"),
            )
        except Exception as e:
            # The message reaches the task's RuntimeEnvSetupError; name everything.
            raise RuntimeError(
                f"lazypath: cannot install {spec['ref']} from store '{spec['store']}' into node"
                f" cache {cache}: {type(e).__name__}: {e}"
            ) from e

    async def create(
        self,
        uri: str | None,
        runtime_env: Any,
        context: RuntimeEnvContext,
        logger: logging.Logger = default_logger,
    ) -> float:
        spec = _spec(runtime_env)
        if spec is None:
            return 0
        cache = _cache_dir(runtime_env, context)
        loop = asyncio.get_running_loop()
        path = await loop.run_in_executor(None, self._install_or_explain, spec, cache, logger)
        size = await loop.run_in_executor(None, _dir_bytes, path)
        with self._lock:
            self._sizes[spec["ref"]] = size
        return size

    def modify_context(
        self,
        uris: list[str],
        runtime_env: Any,
        context: RuntimeEnvContext,
        logger: logging.Logger = default_logger,
    ) -> None:
        spec = _spec(runtime_env)
        if spec is None:
            return
        cache = _cache_dir(runtime_env, context)
        # Normally create() installed it; a second job with the same digest but
        # another LAZYPATH_CACHE reuses Ray's URI and lands here first.
        path = self._install_or_explain(spec, cache, logger)
        if spec.get("mode", "eager") == "lazy":
            # Each worker activates the tree itself, from the same node cache
            # (and takes its own lease), before any user code runs.
            context.env_vars.update(
                _boot.env(
                    lpray.expand_store(spec["store"]),
                    spec["ref"],
                    "lazy",
                    cache,
                    path,
                    on_demand=spec.get("on_demand"),
                )
            )
            set_pythonpath_in_context(_boot.SITE_DIR, context)
        else:
            set_pythonpath_in_context(path, context)
            # lazypath/_site follows the tree so that the workers' boot hooks
            # it for the node's bytecode cache (doc/bytecode.md); the boot
            # then takes _site off sys.path again.
            pp = context.env_vars.get("PYTHONPATH", "")
            rest = [p for p in pp.split(os.pathsep) if p and p not in (path, _boot.SITE_DIR)]
            context.env_vars["PYTHONPATH"] = os.pathsep.join([path, _boot.SITE_DIR, *rest])
            context.env_vars[_boot.BYTECODE_TREE_VAR] = path
        context.env_vars[DIGEST_ENV_VAR] = spec["ref"]
        context.env_vars[TREE_ENV_VAR] = path
        if spec.get("policy") is not None:
            self._policy(spec["policy"], path, spec.get("mode", "eager"), context)

    def _policy(self, policy: dict, tree: str, mode: str, context: RuntimeEnvContext) -> None:
        """Checks `require` in the worker's interpreter (raises: Ray reports
        RuntimeEnvSetupError) and hands the rest to the workers' boot."""
        from lazypath import policy as lppolicy

        node = node_label()
        if policy["require"]:
            names = lppolicy.require_names(policy)
            env = dict(os.environ)
            env.update(context.env_vars)
            for var in list(env):  # the probe only reads metadata: no lazy boot, no policy
                if var.startswith((_boot.STORE_VAR, lppolicy.ENV_VAR)):
                    env.pop(var)
            key = (context.py_executable, env.get("PYTHONPATH", ""), tuple(names))
            with self._lock:
                found = self._probes.get(key)
            if found is None:
                found = lppolicy.probe_interpreter(context.py_executable, names, env)
                with self._lock:
                    self._probes[key] = found
            refusals = lppolicy.check_require(policy, found, node)
            if refusals:
                raise RuntimeError(lppolicy.summary(refusals))
        context.env_vars.update(lppolicy.env(lppolicy.worker_part(policy), tree, node))

    def delete_uri(self, uri: str, logger: logging.Logger = default_logger) -> float:
        if not uri.startswith(lpray.URI_SCHEME):
            return 0
        digest = uri[len(lpray.URI_SCHEME) :]
        with self._lock:
            keys = [k for k in self._leases if k[0] == digest]
            fds = [self._leases.pop(k) for k in keys]
            for k in keys:
                self._paths.pop(k, None)
            size = self._sizes.pop(digest, 0)
        for fd in fds:
            os.close(fd)
        caches = sorted({k[1] for k in keys})
        import lazypath

        for cache in caches:
            try:
                # Like Ray's own py_modules: the files of a URI Ray dropped go.
                # A tree another process (a job outside Ray, say) still leases
                # is kept.
                lazypath.cache_evict(digest, cache_dir=cache)
            except Exception as e:  # never fail Ray's bookkeeping over an eviction
                logger.warning("lazypath: evicting %s from %s failed: %s", digest, cache, e)
        logger.info("lazypath: released %s in %s", digest, ", ".join(caches) or "no cache")
        return size
