"""`lazypath doctor --policy P`: what a sys.path policy would change or refuse.

The rules are lazypath/policy.py's (one owner); this module feeds them what
the doctor collected: the interpreter's sys.path and cwd, its site
directories (for the pth-exec rule), the tree the shadowed rule protects
(`--tree DIR` on the laptop, placed where PYTHONPATH puts it, as `lazypath
run` and the Ray plugin do; LAZYPATH_RAY_TREE on a Ray worker), and the distributions and version
the report lists (for require). It runs on the machine whose file system the
entries name: the laptop, or the node (inside the doctor's task, see
cluster.py). The result goes into the report as `policy` and as findings
(`policy-refused` error, `policy-shadowed` warning, `policy-drop` and
`policy-move` info), so --fail-on gates on them too.
"""

from __future__ import annotations

import os
import re

from lazypath import policy as lp


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def found_in_report(report: dict, names) -> dict:
    """What `report` says this interpreter has of distributions `names`, in
    the shape lazypath.policy.probe() returns."""
    py = report.get("python", {})
    dists = {}
    by_key = {}
    for d in report.get("distributions", []):
        if d.get("reported") and d.get("version"):
            by_key.setdefault(d.get("key") or _key(d.get("name", "")), d)
    for n in names:
        d = by_key.get(_key(n))
        if d is not None:
            dists[n] = [d["version"], os.path.dirname(d["path"]) if d.get("path") else None]
    return {"python": py.get("version"), "executable": py.get("executable"), "dists": dists}


def predict(
    policy: dict,
    report: dict,
    *,
    tree: str | None = None,
    node: str | None = None,
    sys_path: list | None = None,
) -> dict:
    """{"plan": Plan.to_dict(), "require": [refusals], "refusals": [all refusals]}
    for `policy` against `report` (collected on this machine)."""
    facts = report.get("facts", {})
    site = facts.get("site", {})
    dirs = list(site.get("site_packages") or [])
    if site.get("user_site") and site.get("enable_user_site"):
        dirs.append(site["user_site"])
    pth = lp.pth_exec_entries(dirs) if "pth-exec" in policy["drop"] else {}
    path = sys_path if sys_path is not None else [e["entry"] for e in report.get("entries", [])]
    if tree and tree not in path:
        # Where PYTHONPATH puts it (`lazypath run`, the Ray plugin): after the
        # cwd entry that `python -c` / `-m` (the collector's model) puts first.
        at = 1 if path[:1] == [""] else 0
        path = [*path[:at], tree, *path[at:]]
    plan = lp.evaluate(policy, path, tree=tree, cwd=report.get("cwd"), pth=pth, node=node)
    require = []
    if policy["require"]:
        found = found_in_report(report, lp.require_names(policy))
        require = lp.check_require(policy, found, node=plan.node)
    return {
        "policy": policy,
        "plan": plan.to_dict(),
        "require": require,
        "refusals": require + plan.refusals,
        "lines": plan.lines() + require,
    }


def findings(result: dict) -> list[dict]:
    """The doctor findings of one predict() result."""
    plan = result["plan"]
    out = []
    for line in result["refusals"]:
        out.append(_finding("policy-refused", "error", line))
    for line in plan["warnings"]:
        out.append(_finding("policy-shadowed", "warning", line))
    for r in plan["removed"]:
        out.append(_finding("policy-drop", "info", f"would drop {r['entry']!r}: {r['detail']}"))
    for m in plan["moved"]:
        out.append(
            _finding(
                "policy-move",
                "info",
                f"would move the tree {m['entry']} ahead of {m['ahead_of']!r}",
            )
        )
    return out


def _finding(code: str, severity: str, message: str) -> dict:
    return {
        "code": code,
        "severity": severity,
        "subject": message.split(":", 3)[-1].strip()[:120],
        "message": message,
        "evidence": [],
        "hint": "see doc/policy.md",
    }
