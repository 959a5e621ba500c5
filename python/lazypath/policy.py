"""The sys.path policy: what must hold on a worker's sys.path before user code runs.

A policy is a JSON object (doc/policy.md):

    {"shadowed": "error" | "warn" | "tree-first",        # default "warn"
     "drop": ["missing", "relative", "cwd", "writable", "pth-exec"],
     "require": {"numpy": ">=1.26,<2", "python": "3.11.*"}}

This module is the one owner of every rule. parse() validates a policy (the
Ray plugin's validate(), lazypath.ray.check_spec, activate(), `run` and the
doctor call it); evaluate() turns a sys.path, a tree and the node's file
system into a Plan (what is dropped, what moves, what is refused); apply()
makes the plan the process's sys.path; check_require() compares required
distributions and the interpreter version with what a probe found (in this
process, in the worker's interpreter started by the Ray agent, or in a
doctor report). Guard is the piece that runs inside a worker: the first
entry of sys.meta_path, it re-evaluates whenever sys.path changed since it
last looked (Ray adds the job driver's directories after site ran, when the
first task arrives), applies drops and tree-first, prints each change once
on stderr, and makes `import NAME` of a refused name raise ImportError
carrying the refusal's one line.

The worker-side part (parse of the environment, evaluate, apply, Guard)
imports only os and sys (the policy reaches it as "shadowed=MODE;drop=A,B",
see env()), so a worker's start
pays a few directory listings; `require` needs importlib.metadata and
packaging and is therefore checked where that cost is paid once (the agent's
create(), activate(), the start of a `lazypath run` child, the doctor).
"""

from __future__ import annotations

import os
import sys

from lazypath.errors import InvalidInputError, LazypathError

KEYS = ("drop", "require", "shadowed")
SHADOWED = ("error", "warn", "tree-first")
DROP = ("cwd", "relative", "missing", "writable", "pth-exec")  # the order reasons are tested in
DEFAULT = {"shadowed": "warn", "drop": [], "require": {}}
PYTHON_KEY = "python"

# How a policy reaches a process lazypath/_site boots (the Ray plugin, `lazypath run`).
ENV_VAR = "LAZYPATH_POLICY"  # the policy as JSON
TREE_VAR = "LAZYPATH_POLICY_TREE"  # the tree the shadowed rule protects
NODE_VAR = "LAZYPATH_POLICY_NODE"  # how messages name this node

PREFIX = "lazypath: policy:"


class PolicyError(InvalidInputError):
    """A policy that is not well formed (unknown key, bad value)."""


class PolicyViolation(LazypathError):
    """The policy refuses this process's sys.path or environment."""


# ------------------------------------------------------------------ parsing


def parse(value) -> dict:
    """A validated, normalised copy of policy `value` (a dict or a JSON
    string); None gives the default. Raises PolicyError, one line."""
    if value is None:
        return {"shadowed": "warn", "drop": [], "require": {}}
    if isinstance(value, (str, bytes)):
        import json

        try:
            value = json.loads(value)
        except ValueError as e:
            raise PolicyError(f"{PREFIX} not JSON: {e}") from None
    if not isinstance(value, dict):
        raise PolicyError(f"{PREFIX} must be a JSON object, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in KEYS)
    if unknown:
        raise PolicyError(f"{PREFIX} unknown key(s) {unknown}; known: {list(KEYS)}")
    shadowed = value.get("shadowed", "warn")
    if shadowed not in SHADOWED:
        raise PolicyError(f"{PREFIX} 'shadowed' is {shadowed!r}; want one of {list(SHADOWED)}")
    drop = value.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(d, str) for d in drop):
        raise PolicyError(f"{PREFIX} 'drop' must be a list of {list(DROP)}")
    bad = sorted(set(drop) - set(DROP))
    if bad:
        raise PolicyError(f"{PREFIX} 'drop' has unknown rule(s) {bad}; known: {list(DROP)}")
    require = value.get("require", {})
    if not isinstance(require, dict):
        raise PolicyError(f"{PREFIX} 'require' must be an object of name: specifier")
    out_req = {}
    for name, spec in require.items():
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{PREFIX} 'require' has an empty distribution name")
        if not isinstance(spec, str):
            raise PolicyError(
                f"{PREFIX} 'require' {name!r}: want a PEP 440 specifier string, got"
                f" {type(spec).__name__}"
            )
        _specifier(name, spec)
        out_req[name] = spec
    return {
        "shadowed": shadowed,
        "drop": [d for d in DROP if d in drop],
        "require": out_req,
    }


def _specifier(name: str, spec: str):
    """PEP 440 specifiers; a bare version ("3.11.*", "2.1.0") means "==" it."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if spec.strip()[:1].isdigit():
        spec = "==" + spec.strip()
    try:
        return SpecifierSet(spec)
    except InvalidSpecifier as e:
        raise PolicyError(f"{PREFIX} 'require' {name!r}: {e}") from None


def load(arg: str) -> dict:
    """`--policy FILE|JSON`: a JSON object given inline or the path of a file holding one."""
    text = arg
    if not arg.lstrip().startswith("{"):
        try:
            with open(arg, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise PolicyError(f"{PREFIX} cannot read {arg}: {e.strerror or e}") from None
    return parse(text)


def worker_part(policy: dict) -> dict:
    """What a worker enforces itself: the policy without `require` (checked
    by the agent before the worker starts)."""
    return {"shadowed": policy["shadowed"], "drop": list(policy["drop"])}


def is_default(policy: dict) -> bool:
    return policy["shadowed"] == "warn" and not policy["drop"] and not policy["require"]


# ------------------------------------------------------------ the sys.path


def node_name() -> str:
    """How messages name this machine: LAZYPATH_POLICY_NODE (the Ray plugin
    sets "<node id> (<host>)"), else the host name."""
    return os.environ.get(NODE_VAR) or os.uname().nodename


def _suffixes():
    import importlib.machinery as m  # loaded by the interpreter's start-up already

    return m.EXTENSION_SUFFIXES, m.SOURCE_SUFFIXES, m.BYTECODE_SUFFIXES


def _listing(path: str) -> set | None:
    try:
        return set(os.listdir(path or "."))
    except OSError:
        return None


def provides(path: str, names: set, name: str, suffixes=None) -> str | None:
    """The origin of a regular module or package `name` in directory `path`
    (whose listing is `names`), in FileFinder's order; None when the entry
    has none (a namespace portion does not count: it loses to a regular one)."""
    ext, src, byc = suffixes or _suffixes()
    if name in names:
        pkg = os.path.join(path, name)
        for s in (*ext, *src, *byc):
            init = os.path.join(pkg, "__init__" + s)
            if os.path.isfile(init):
                return init
    for s in (*ext, *src, *byc):
        if name + s in names:
            return os.path.join(path, name + s)
    return None


def tree_names(tree: str) -> list[str]:
    from lazypath._boot import top_level_names

    return top_level_names(tree)


def pth_exec_entries(site_dirs=None) -> dict:
    """{entry: "file.pth:LINE"} for the path lines of .pth files that also
    execute code (an `import` line), in `site_dirs` (default: this
    interpreter's site-packages and user site)."""
    if site_dirs is None:
        import site

        site_dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
        user = getattr(site, "USER_SITE", None)
        if user and getattr(site, "ENABLE_USER_SITE", False):
            site_dirs.append(user)
    out = {}
    for d in site_dirs:
        try:
            pths = sorted(n for n in os.listdir(d) if n.endswith(".pth"))
        except OSError:
            continue
        for n in pths:
            file = os.path.join(d, n)
            try:
                with open(file, encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            if not any(ln.startswith(("import ", "import\t")) for ln in lines):
                continue
            for i, ln in enumerate(lines, 1):
                ln = ln.rstrip()
                if not ln or ln.startswith("#") or ln.startswith(("import ", "import\t")):
                    continue
                entry = os.path.abspath(os.path.join(d, ln))
                out.setdefault(entry, f"{file}:{i}")
    return out


def _is_stdlib_zip(entry: str) -> bool:
    base = os.path.basename(entry)
    return base.startswith("python") and base.endswith(".zip")


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a or ".", b or ".")
    except OSError:
        return False


def _drop_reason(rules, entry: str, cwd: str, pth: dict) -> tuple[str, str] | None:
    for rule in rules:
        if rule == "cwd":
            if entry in ("", ".") or (os.path.isabs(entry) and _same(entry, cwd)):
                return rule, "the current directory"
        elif rule == "relative":
            if entry not in ("", ".") and not os.path.isabs(entry):
                return rule, f"relative to {cwd}"
        elif rule == "missing":
            full = os.path.join(cwd, entry)
            if not os.path.exists(full) and not _is_stdlib_zip(entry):
                return rule, "does not exist"
        elif rule == "writable":
            try:
                mode = os.stat(os.path.join(cwd, entry)).st_mode
            except OSError:
                continue
            if mode & 0o002:
                return rule, f"writable by others (mode {mode & 0o7777:04o})"
        elif rule == "pth-exec":
            where = pth.get(os.path.abspath(os.path.join(cwd, entry)))
            if where:
                return rule, f"added by {where}, a .pth file that executes code"
    return None


class Plan:
    """What a policy does to one sys.path: the resulting path, the entries
    removed, the tree's move, the names shadowed, and the refusals (one line
    each). lines() are the messages a worker prints; to_dict() is what the
    doctor and the tests compare."""

    __slots__ = ("path", "removed", "moved", "shadowed", "refusals", "warnings", "tree", "node")

    def __init__(self, path, tree, node):
        self.path = path
        self.tree = tree
        self.node = node
        self.removed: list[dict] = []
        self.moved: list[dict] = []
        self.shadowed: list[dict] = []
        self.refusals: list[str] = []
        self.warnings: list[str] = []

    def lines(self) -> list[str]:
        out = []
        for r in self.removed:
            out.append(
                f"{PREFIX} node {self.node}: dropped sys.path entry {r['entry']!r}"
                f" ({r['reason']}: {r['detail']})"
            )
        for m in self.moved:
            out.append(
                f"{PREFIX} node {self.node}: moved the tree {m['entry']} from sys.path[{m['from']}]"
                f" to sys.path[{m['to']}], ahead of {m['ahead_of']!r} (it provided"
                f" {', '.join(m['names'])})"
            )
        return out + self.warnings + self.refusals

    def to_dict(self) -> dict:
        return {
            "node": self.node,
            "tree": self.tree,
            "sys_path": list(self.path),
            "removed": [dict(r) for r in self.removed],
            "moved": [dict(m) for m in self.moved],
            "shadowed": [dict(s) for s in self.shadowed],
            "warnings": list(self.warnings),
            "refusals": list(self.refusals),
        }


def evaluate(
    policy: dict,
    sys_path,
    *,
    tree: str | None = None,
    names=None,
    cwd: str | None = None,
    pth: dict | None = None,
    node: str | None = None,
) -> Plan:
    """The Plan `policy` makes of `sys_path` on this machine's file system.

    `tree`: the sys.path entry of the lazypath tree the shadowed rule
    protects (its top-level `names` are listed from it unless given); without
    it, only drop applies. `cwd`: what '' and relative entries mean (default:
    this process's). `pth`: {entry: "file:line"} from pth_exec_entries()
    (computed when the pth-exec rule needs it and it is not given)."""
    cwd = os.getcwd() if cwd is None else cwd
    node = node or node_name()
    drop = policy.get("drop") or ()
    if "pth-exec" in drop and pth is None:
        pth = pth_exec_entries()
    pth = pth or {}
    plan = Plan([], tree, node)
    for i, entry in enumerate(sys_path):
        is_tree = tree is not None and entry == tree
        why = None if is_tree else _drop_reason(drop, entry, cwd, pth)
        if why:
            plan.removed.append({"index": i, "entry": entry, "reason": why[0], "detail": why[1]})
        else:
            plan.path.append(entry)
    if tree is None:
        return plan
    at = next((i for i, p in enumerate(plan.path) if p == tree), None)
    if at is None:
        at = next((i for i, p in enumerate(plan.path) if p and _same(p, tree)), None)
    if at is None:
        plan.warnings.append(f"{PREFIX} node {node}: the tree {tree} is not on sys.path")
        return plan
    names = set(tree_names(tree) if names is None else names)
    suffixes = _suffixes()
    found = []  # (index, entry, name, origin), earliest entry first
    for i in range(at):
        entry = plan.path[i]
        full = os.path.join(cwd, entry) if entry else cwd
        listing = _listing(full)
        if not listing:
            continue
        for name in sorted(names & {_stem(n) for n in listing}):
            origin = provides(full, listing, name, suffixes)
            if origin is not None:
                found.append((i, entry, name, origin))
    taken = set()
    for i, entry, name, origin in found:
        if name in taken:
            continue  # an earlier entry already wins
        taken.add(name)
        plan.shadowed.append({"name": name, "entry": entry, "index": i, "origin": origin})
    mode = policy.get("shadowed", "warn")
    for s in plan.shadowed:
        where = f"{s['origin']} (sys.path[{s['index']}] {s['entry']!r})"
        if mode == "error":
            plan.refusals.append(
                f"{PREFIX} node {node}: '{s['name']}' resolves from {where} ahead of the tree"
                f' {tree}; "shadowed": "error" refuses it'
            )
        elif mode == "warn":
            plan.warnings.append(
                f"{PREFIX} warning: node {node}: '{s['name']}' resolves from {where} ahead of"
                f" the tree {tree}"
            )
    if mode == "tree-first" and plan.shadowed:
        to = min(s["index"] for s in plan.shadowed)
        ahead = plan.path[to]
        plan.path.insert(to, plan.path.pop(at))
        plan.moved.append(
            {
                "entry": tree,
                "from": at,
                "to": to,
                "ahead_of": ahead,
                "names": [s["name"] for s in plan.shadowed],
            }
        )
    return plan


def _stem(filename: str) -> str:
    return filename.split(".", 1)[0]


def apply(plan: Plan, target: list | None = None) -> None:
    """Makes `target` (default sys.path) the plan's path, in place."""
    target = sys.path if target is None else target
    if target != plan.path:
        target[:] = plan.path


# ------------------------------------------------------------ require


PROBE = r"""
import json, sys
names = json.loads(sys.argv[1])
try:
    import importlib.metadata as md
except ImportError:
    md = None
out = {"python": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable}
out["dists"] = {}
for n in names:
    if md is None:
        break
    try:
        d = md.distribution(n)
    except Exception:
        continue
    loc = getattr(d, "_path", None)
    out["dists"][n] = [d.version, str(loc.parent) if loc is not None else None]
print(json.dumps(out))
"""


def probe(names) -> dict:
    """What this interpreter has of distributions `names`: {"python": version,
    "executable", "dists": {name: [version, directory]}} (the PROBE script run here)."""
    import importlib.metadata as md

    version = "{}.{}.{}".format(*sys.version_info[:3])
    out = {"python": version, "executable": sys.executable, "dists": {}}
    for n in names:
        try:
            d = md.distribution(n)
        except Exception:
            continue
        loc = getattr(d, "_path", None)
        out["dists"][n] = [d.version, str(loc.parent) if loc is not None else None]
    return out


def probe_interpreter(executable: str, names, env: dict | None = None, timeout: float = 60) -> dict:
    """probe() run in another interpreter (a Ray worker's, with its environment)."""
    import json
    import subprocess

    r = subprocess.run(
        [executable, "-c", PROBE, json.dumps(sorted(names))],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if r.returncode != 0:
        tail = " ".join((r.stderr or "").split())[-300:]
        raise PolicyViolation(f"{PREFIX} cannot probe {executable}: exit {r.returncode}: {tail}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def check_require(policy: dict, found: dict, node: str | None = None) -> list[str]:
    """The refusals of `policy`'s require against what a probe `found`:
    one line each, naming the node, the name, the version found and where."""
    from packaging.version import InvalidVersion, Version

    node = node or node_name()
    out = []
    for name, spec in (policy.get("require") or {}).items():
        spec_set = _specifier(name, spec)
        if name == PYTHON_KEY:
            version, where = found.get("python"), found.get("executable")
        else:
            got = (found.get("dists") or {}).get(name)
            if got is None:
                out.append(
                    f"{PREFIX} node {node}: requires {name}{spec}; {name} is not installed"
                    f" for {found.get('executable') or 'the interpreter'}"
                )
                continue
            version, where = got
        try:
            ok = spec_set.contains(Version(version), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            out.append(
                f"{PREFIX} node {node}: requires {name}{spec}; found {name} {version} at {where}"
            )
    return out


def require_names(policy: dict) -> list[str]:
    return sorted(n for n in (policy.get("require") or {}) if n != PYTHON_KEY)


# ------------------------------------------------------------ in a process


class Guard:
    """First on sys.meta_path: keeps the policy true of sys.path whenever it
    changes, and refuses imports of names the policy refuses."""

    def __init__(self, policy: dict, tree: str | None, node: str | None = None, stream=None):
        self.policy = policy
        self.tree = tree
        self.node = node or node_name()
        self.names = set(tree_names(tree)) if tree else set()
        self.stream = stream
        self.refused: dict[str, str] = {}
        self.removed: list[dict] = []
        self.moved: list[dict] = []
        self.printed: list[str] = []
        self._pth = pth_exec_entries() if "pth-exec" in policy.get("drop", ()) else {}
        self._seen = None
        self._busy = False

    def check(self) -> Plan | None:
        """Re-evaluates when sys.path changed since the last look; returns the plan then."""
        if self._busy or sys.path == self._seen:
            return None
        self._busy = True
        try:
            plan = evaluate(
                self.policy,
                sys.path,
                tree=self.tree,
                names=self.names,
                pth=self._pth,
                node=self.node,
            )
            apply(plan)
            self.removed += plan.removed
            self.moved += plan.moved
            self.refused = {}
            for s, line in zip(plan.shadowed, plan.refusals):
                self.refused[s["name"]] = line
            stream = self.stream or sys.stderr
            for line in plan.lines():
                if line not in self.printed:
                    self.printed.append(line)
                    print(line, file=stream, flush=True)
            self._seen = list(sys.path)
            return plan
        finally:
            self._busy = False

    def find_spec(self, fullname, path=None, target=None):
        if path is None:
            self.check()
            line = self.refused.get(fullname)
            if line is not None:
                raise ImportError(line, name=fullname)
        return None

    def invalidate_caches(self) -> None:
        pass

    def report(self) -> dict:
        return {
            "node": self.node,
            "tree": self.tree,
            "sys_path": list(sys.path),
            "removed": [dict(r) for r in self.removed],
            "moved": [dict(m) for m in self.moved],
            "refused": sorted(self.refused.values()),
            "messages": list(self.printed),
        }


def installed() -> Guard | None:
    """The Guard enforcing a policy in this process, if any."""
    return next((f for f in sys.meta_path if isinstance(f, Guard)), None)


def report() -> dict | None:
    """What the policy did in this process (removals, moves, refusals, the
    lines printed), or None without a policy."""
    g = installed()
    return g.report() if g is not None else None


def install(policy: dict, tree: str | None, node: str | None = None) -> Guard:
    """Puts a Guard for `policy` first on sys.meta_path (replacing an
    earlier one) and applies it to sys.path now."""
    old = installed()
    if old is not None:
        sys.meta_path.remove(old)
    guard = Guard(policy, tree, node)
    sys.meta_path.insert(0, guard)
    guard.check()
    return guard


def enforce(policy, tree: str | None) -> Guard:
    """activate(..., policy=...): require checked in this interpreter, then
    a Guard installed; raises PolicyViolation with the first refusal."""
    policy = parse(policy) if not isinstance(policy, dict) or set(policy) != set(KEYS) else policy
    refusals = check_require(policy, probe(require_names(policy))) if policy["require"] else []
    if refusals:
        raise PolicyViolation(summary(refusals))
    guard = install(worker_part(policy), tree)
    if guard.refused:
        raise PolicyViolation(summary(sorted(guard.refused.values())))
    return guard


def summary(refusals: list[str]) -> str:
    """The first refusal, and how many more: the one line an error carries."""
    more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
    return refusals[0] + more


def env(policy: dict, tree: str | None, node: str | None = None) -> dict:
    """The environment variables that make a process booted by lazypath/_site
    enforce `policy`. Without `require` the policy is written as
    "shadowed=MODE;drop=A,B" (a worker then needs no json, whose import costs
    more than the check itself); with it, as JSON."""
    if policy.get("require"):
        import json

        text = json.dumps(policy, sort_keys=True, separators=(",", ":"))
    else:
        text = f"shadowed={policy.get('shadowed', 'warn')};drop={','.join(policy.get('drop', []))}"
    out = {ENV_VAR: text}
    if tree:
        out[TREE_VAR] = tree
    if node:
        out[NODE_VAR] = node
    return out


def from_env(text: str) -> dict:
    """The policy env() wrote. Raises PolicyError."""
    if text.lstrip().startswith("{"):
        return parse(text)
    fields = dict(part.partition("=")[::2] for part in text.split(";") if part)
    drop = [d for d in fields.get("drop", "").split(",") if d]
    shadowed = fields.get("shadowed", "warn")
    if set(fields) - {"shadowed", "drop"} or shadowed not in SHADOWED or set(drop) - set(DROP):
        raise PolicyError(f"{PREFIX} {ENV_VAR}={text!r} is not a policy")
    return {"shadowed": shadowed, "drop": drop, "require": {}}


def boot() -> None:
    """Called by lazypath/_boot.py in a new process, before user code:
    enforces $LAZYPATH_POLICY. A require violation ends the process (status
    1, one line on stderr); sys.path refusals are raised at the import of the
    refused name."""
    text = os.environ.get(ENV_VAR)
    if not text:
        return
    try:
        policy = from_env(text)
        if policy["require"]:
            refusals = check_require(policy, probe(require_names(policy)))
            if refusals:
                for line in refusals:
                    print(line, file=sys.stderr, flush=True)
                os._exit(1)
        install(worker_part(policy), os.environ.get(TREE_VAR) or None)
    except Exception as e:  # never break the start over the policy machinery itself
        print(f"{PREFIX} cannot enforce {text}: {type(e).__name__}: {e}", file=sys.stderr)
