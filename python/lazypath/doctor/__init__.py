"""The doctor: where every `import NAME` resolves, and what is wrong with sys.path.

    from lazypath import doctor
    report = doctor.diagnose()                  # this interpreter
    report = doctor.diagnose("/opt/py/bin/python")
    doctor.explain(report, "numpy")             # where, why, what it shadows

The collector (collector.py) runs inside the target interpreter with ``-S``
and prints its facts; the C++ core (lazypath._doctor) scans every sys.path
entry and resolves every top-level name as CPython's finders do; this package
renders the result. The report is a plain dict (doc/doctor.md, schema 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lazypath.errors import InvalidInputError, LazypathError

SEVERITIES = ("info", "warning", "error")
_COLLECTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "collector.py")


class DoctorError(LazypathError):
    """The doctor could not examine the target (interpreter missing, failing, ...)."""


def collector_source() -> str:
    with open(_COLLECTOR, encoding="utf-8") as f:
        return f.read()


def _bootstrap_code() -> str:
    """The -c program: a version check any Python can parse, then the collector."""
    return (
        "import sys\n"
        "if sys.version_info < (3, 6):\n"
        "    sys.exit('lazypath doctor needs Python 3.6 or newer; this is Python '"
        " + sys.version.split()[0])\n"
        f"exec(compile({collector_source()!r}, '<lazypath doctor collector>', 'exec'))\n"
    )


def collect(
    python: str | None = None,
    *,
    cwd: str | None = None,
    env: dict | None = None,
    timeout: float = 60.0,
) -> dict:
    """Runs the collector in `python` (default: this interpreter) and returns its facts.

    The target starts with ``-S`` in `cwd` (default: ours) with `env` (default:
    ours), so no .pth line, sitecustomize or user module runs. Raises
    DoctorError with a one-line message when it cannot.
    """
    exe = python or sys.executable
    if os.sep in exe or (os.altsep and os.altsep in exe):
        if not os.path.exists(exe):
            raise DoctorError(f"interpreter {exe}: does not exist")
        if os.path.isdir(exe) or not os.access(exe, os.X_OK):
            raise DoctorError(f"interpreter {exe}: not an executable file")
    try:
        proc = subprocess.run(
            [exe, "-S", "-c", _bootstrap_code()],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise DoctorError(f"interpreter {exe}: not found") from None
    except PermissionError:
        raise DoctorError(f"interpreter {exe}: permission denied") from None
    except subprocess.TimeoutExpired:
        raise DoctorError(f"interpreter {exe}: no answer within {timeout:g} s") from None
    except OSError as e:
        raise DoctorError(f"interpreter {exe}: cannot start: {e.strerror or e}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1] if lines else "no error output"
        raise DoctorError(f"interpreter {exe}: exited with status {proc.returncode}: {last}")
    try:
        facts = json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        raise DoctorError(f"interpreter {exe}: the collector printed no valid JSON") from None
    if not isinstance(facts, dict) or facts.get("schema") != 1:
        raise DoctorError(f"interpreter {exe}: unexpected collector output")
    return facts


def analyze(facts: dict) -> dict:
    """Scans and resolves `facts` with the C++ core; returns the report."""
    from lazypath import _doctor

    return json.loads(_doctor.analyze(json.dumps(facts)))


def diagnose(python: str | None = None, **kwargs) -> dict:
    """collect() then analyze()."""
    return analyze(collect(python, **kwargs))


def find_module(report: dict, name: str) -> dict | None:
    top = name.partition(".")[0]
    for m in report.get("modules", []):
        if m["name"] == top:
            return m
    return None


def explain(report: dict, name: str) -> dict:
    """Where `import name` resolves in `report`, why, and what it shadows."""
    top = name.partition(".")[0]
    m = find_module(report, top)
    entries = report.get("entries", [])
    if m is None:
        searched = [e["entry"] for e in entries]
        return {
            "name": top,
            "found": False,
            "why": f"no builtin or frozen module and no sys.path entry provides '{top}'",
            "searched": searched,
        }
    why = {
        "builtin": "compiled into the interpreter; BuiltinImporter answers before sys.path "
        "is searched",
        "frozen": "frozen into the interpreter; FrozenImporter answers before sys.path is searched",
        "namespace": "no entry has a regular module or package of that name, so the directories "
        "without __init__ are combined into a namespace package",
    }.get(m["kind"])
    if why is None and m.get("finder"):
        why = (
            f"no sys.path entry provides '{top}'; the editable-install finder {m['finder']} "
            "(put on sys.meta_path by a .pth line) maps it to its source tree"
        )
    if why is None:
        e = entries[m["entry"]]
        before = [x["entry"] for x in entries[: m["entry"]] if x["kind"] in ("directory", "zip")]
        why = (
            f"sys.path[{m['entry']}] ({e['entry'] or repr('')}) is the first entry with a "
            f"{m['kind']} named '{top}'"
            + (
                f"; {len(before)} earlier entr{'y' if len(before) == 1 else 'ies'} did not have one"
                if before
                else ""
            )
        )
    findings = [f for f in report.get("findings", []) if f["subject"] == top]
    return {
        "name": top,
        "found": True,
        "kind": m["kind"],
        "origin": m["origin"],
        "locations": m.get("locations"),
        "entry": m["entry"],
        "distribution": m.get("distribution"),
        "version": m.get("version"),
        "why": why,
        "shadows": m.get("shadowed", []),
        "findings": findings,
    }


def _module_map(report: dict) -> dict:
    out = {}
    for m in report.get("modules", []):
        where = m["origin"] if m["origin"] is not None else m.get("locations")
        out[m["name"]] = {"kind": m["kind"], "where": where, "version": m.get("version")}
    return out


def diff(a: dict, b: dict) -> dict:
    """What differs between two reports: entries, resolved origins and versions."""
    ea = [e["entry"] for e in a.get("entries", [])]
    eb = [e["entry"] for e in b.get("entries", [])]
    ma, mb = _module_map(a), _module_map(b)
    changed = []
    for name in sorted(set(ma) & set(mb)):
        x, y = ma[name], mb[name]
        if x != y:
            changed.append({"name": name, "a": x, "b": y})
    da = {(d["key"]): d["version"] for d in a.get("distributions", []) if d.get("reported")}
    db = {(d["key"]): d["version"] for d in b.get("distributions", []) if d.get("reported")}
    return {
        "entries": {
            "only_a": [e for e in ea if e not in eb],
            "only_b": [e for e in eb if e not in ea],
            "order_differs": [e for e in ea if e in eb] != [e for e in eb if e in ea],
        },
        "modules": {
            "only_a": sorted(set(ma) - set(mb)),
            "only_b": sorted(set(mb) - set(ma)),
            "changed": changed,
        },
        "distributions": {
            "only_a": sorted(set(da) - set(db)),
            "only_b": sorted(set(db) - set(da)),
            "changed": [
                {"name": k, "a": da[k], "b": db[k]}
                for k in sorted(set(da) & set(db))
                if da[k] != db[k]
            ],
        },
        "python": {
            "a": a.get("python", {}).get("version"),
            "b": b.get("python", {}).get("version"),
        },
    }


def diff_is_empty(d: dict) -> bool:
    return not (
        d["entries"]["only_a"]
        or d["entries"]["only_b"]
        or d["entries"]["order_differs"]
        or d["modules"]["only_a"]
        or d["modules"]["only_b"]
        or d["modules"]["changed"]
        or d["distributions"]["only_a"]
        or d["distributions"]["only_b"]
        or d["distributions"]["changed"]
    )


def load_report(path: str) -> dict:
    """Reads a report written by `lazypath doctor --json`."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:
        raise InvalidInputError(f"{path}: not a doctor JSON report ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != 1 or "modules" not in data:
        raise InvalidInputError(f"{path}: not a doctor JSON report (schema 1)")
    return data


def worst_severity(report: dict) -> str | None:
    worst = None
    for f in report.get("findings", []):
        if worst is None or SEVERITIES.index(f["severity"]) > SEVERITIES.index(worst):
            worst = f["severity"]
    return worst


__all__ = [
    "DoctorError",
    "SEVERITIES",
    "analyze",
    "collect",
    "collector_source",
    "diagnose",
    "diff",
    "diff_is_empty",
    "explain",
    "find_module",
    "load_report",
    "worst_severity",
]
