"""Rendering of doctor reports: terminal (rich, colour on a TTY), HTML, explain and diff."""

from __future__ import annotations

import html
import json

from rich.console import Console
from rich.table import Table
from rich.text import Text

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_MARK = {"error": "✖", "warning": "▲", "info": "·"}


def _header(report: dict) -> str:
    py = report.get("python", {})
    venv = " (venv)" if py.get("in_venv") else ""
    exe, version, cwd = py.get("executable", "?"), py.get("version", "?"), report.get("cwd", "?")
    return f"{exe}  Python {version}{venv}  cwd {cwd}"


def render_terminal(report: dict, console: Console, *, verbose: bool = False) -> None:
    console.print(Text("lazypath doctor", style="bold"), Text(_header(report), style="dim"))
    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    t.add_column("#", justify="right")
    t.add_column("sys.path entry", overflow="fold")
    t.add_column("kind")
    t.add_column("names", justify="right")
    t.add_column("from", overflow="fold", style="dim")
    for e in report.get("entries", []):
        kind_style = "" if e["kind"] in ("directory", "zip") else "red"
        t.add_row(
            str(e["index"]),
            e["entry"] or "'' (cwd)",
            Text(e["kind"], style=kind_style),
            str(e["modules"]),
            e.get("source", ""),
        )
    console.print(t)
    s = report.get("summary", {})
    console.print(
        f"{s.get('modules', 0)} importable top-level names, "
        f"{s.get('distributions', 0)} distributions"
    )
    findings = report.get("findings", [])
    shown = [f for f in findings if verbose or f["severity"] != "info"]
    hidden = len(findings) - len(shown)
    if shown:
        console.print()
    for f in shown:
        style = _STYLE[f["severity"]]
        console.print(
            Text(f"{_MARK[f['severity']]} {f['severity']:<7} ", style=style)
            + Text(f"[{f['code']}] ", style="bold")
            + Text(f["message"])
        )
        for ev in f["evidence"]:
            console.print(Text("      " + ev, style="dim"), soft_wrap=True)
        console.print(Text("      fix: " + f["hint"], style="green"), soft_wrap=True)
    tail = (
        f"{s.get('errors', 0)} error(s), {s.get('warnings', 0)} warning(s), "
        f"{s.get('infos', 0)} info"
    )
    if hidden:
        tail += f" ({hidden} info finding(s) hidden; --verbose shows them)"
    console.print()
    console.print(Text(tail, style="bold red" if s.get("errors") else "bold"))


def render_explain(exp: dict, console: Console) -> None:
    name = exp["name"]
    if not exp["found"]:
        console.print(Text(f"import {name}: ModuleNotFoundError", style="bold red"))
        console.print(exp["why"])
        for e in exp.get("searched", []):
            console.print(Text(f"  searched: {e or repr('')}", style="dim"))
        return
    where = exp["origin"] if exp["origin"] is not None else ", ".join(exp["locations"] or [])
    console.print(Text(f"import {name}", style="bold") + Text(f"  ->  {where}"))
    console.print(f"  kind: {exp['kind']}")
    if exp.get("distribution"):
        console.print(f"  distribution: {exp['distribution']} {exp.get('version') or ''}")
    console.print(f"  why: {exp['why']}")
    for s in exp.get("shadows", []):
        console.print(
            Text(f"  shadows: {s['origin']} ({s['kind']}, sys.path[{s['entry']}])", style="yellow")
        )
    for f in exp.get("findings", []):
        console.print(
            Text(f"  {f['severity']} [{f['code']}]: {f['message']}", style=_STYLE[f["severity"]])
        )


def diff_lines(d: dict, a_name: str = "A", b_name: str = "B") -> list:
    """(style, text) lines describing a diff; empty when nothing differs."""
    lines = []
    q = repr("")
    lines += [("red", f"- entry only in {a_name}: {e or q}") for e in d["entries"]["only_a"]]
    lines += [("green", f"+ entry only in {b_name}: {e or q}") for e in d["entries"]["only_b"]]
    if d["entries"]["order_differs"]:
        lines.append(("yellow", "~ common sys.path entries are in a different order"))
    lines += [("red", f"- module only in {a_name}: {n}") for n in d["modules"]["only_a"]]
    lines += [("green", f"+ module only in {b_name}: {n}") for n in d["modules"]["only_b"]]
    lines += [
        ("yellow", f"~ {c['name']}: {_where(c['a'])}  ->  {_where(c['b'])}")
        for c in d["modules"]["changed"]
    ]
    lines += [
        ("red", f"- distribution only in {a_name}: {n}") for n in d["distributions"]["only_a"]
    ]
    lines += [
        ("green", f"+ distribution only in {b_name}: {n}") for n in d["distributions"]["only_b"]
    ]
    lines += [
        ("yellow", f"~ distribution {c['name']}: {c['a']} -> {c['b']}")
        for c in d["distributions"]["changed"]
    ]
    return lines


def render_diff(d: dict, console: Console, a_name: str = "A", b_name: str = "B") -> None:
    console.print(
        Text(
            f"doctor diff: {a_name} (Python {d['python']['a']}) vs "
            f"{b_name} (Python {d['python']['b']})",
            style="bold",
        )
    )
    lines = diff_lines(d, a_name, b_name)
    for style, text in lines:
        console.print(Text(text, style=style), soft_wrap=True)
    if not lines:
        console.print("no differences: every name resolves identically")


def _where(x: dict) -> str:
    w = x["where"]
    w = ", ".join(w) if isinstance(w, list) else w
    v = f" [{x['version']}]" if x.get("version") else ""
    return f"{w} ({x['kind']}){v}"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
code,td.p{font-family:ui-monospace,monospace;font-size:12.5px;word-break:break-all}
.error{color:#b00020;font-weight:bold}.warning{color:#a36b00}.info{color:#006d8f}
.f{margin:.6em 0;padding:.4em .8em;border-left:4px solid #ccc}.f.error{border-color:#b00020}
.f.warning{border-color:#e0a000}.f.info{border-color:#4aa3c0}.ev{color:#555;font-family:ui-monospace,monospace;font-size:12px}
.hint{color:#1b6e20}input{margin:.5em 0;padding:4px;width:20em}
"""

_JS = """
function filt(v){v=v.toLowerCase();for(const r of document.querySelectorAll('#mods tbody tr'))
r.style.display=r.textContent.toLowerCase().includes(v)?'':'none'}
"""


def render_html(report: dict, title: str | None = None) -> str:
    """A self-contained HTML page (no external resources)."""
    e = html.escape
    s = report.get("summary", {})
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title or 'lazypath doctor')}"
        f"</title><style>{_CSS}</style><script>{_JS}</script></head><body>",
        f"<h1>lazypath doctor</h1><p><code>{e(_header(report))}</code></p>",
        f"<p>{s.get('modules', 0)} names · {s.get('distributions', 0)} distributions · "
        f"<span class=error>{s.get('errors', 0)} errors</span> · "
        f"<span class=warning>{s.get('warnings', 0)} warnings</span> · "
        f"<span class=info>{s.get('infos', 0)} info</span></p>",
        "<h2>Findings</h2>",
    ]
    for f in report.get("findings", []):
        sev = e(f["severity"])
        out.append(
            f"<div class='f {sev}'><span class={sev}>{sev}</span> <b>[{e(f['code'])}]</b> "
            f"{e(f['message'])}"
        )
        out += [f"<div class=ev>{e(x)}</div>" for x in f["evidence"]]
        out.append(f"<div class=hint>fix: {e(f['hint'])}</div></div>")
    out.append(
        "<h2>sys.path</h2><table><tr><th>#</th><th>entry</th><th>kind</th><th>names</th>"
        "<th>from</th></tr>"
    )
    for en in report.get("entries", []):
        out.append(
            f"<tr><td>{en['index']}</td><td class=p>{e(en['entry'] or repr(''))}</td>"
            f"<td>{e(en['kind'])}</td><td>{en['modules']}</td>"
            f"<td>{e(en.get('source', ''))}</td></tr>"
        )
    out.append(
        "</table><h2>Modules</h2><input placeholder='filter…' oninput='filt(this.value)'>"
        "<table id=mods><thead><tr><th>name</th><th>kind</th><th>resolves to</th>"
        "<th>distribution</th><th>shadows</th></tr></thead><tbody>"
    )
    for m in report.get("modules", []):
        where = (
            m["origin"] if m["origin"] is not None else "<br>".join(map(e, m.get("locations", [])))
        )
        where = e(where) if m["origin"] is not None else where
        dist = f"{m['distribution']} {m['version']}" if m.get("distribution") else ""
        shadows = "<br>".join(e(x["origin"]) for x in m.get("shadowed", []))
        out.append(
            f"<tr><td><code>{e(m['name'])}</code></td><td>{e(m['kind'])}</td>"
            f"<td class=p>{where}</td><td>{e(dist)}</td><td class=p>{shadows}</td></tr>"
        )
    out.append(
        "</tbody></table><h2>Distributions</h2><table><tr><th>name</th><th>version</th>"
        "<th>path</th><th>metadata reports it</th></tr>"
    )
    for d in report.get("distributions", []):
        out.append(
            f"<tr><td>{e(d['name'])}</td><td>{e(d['version'])}</td><td class=p>{e(d['path'])}"
            f"</td><td>{'yes' if d['reported'] else 'no (shadowed copy)'}</td></tr>"
        )
    out.append(
        "</table><h2>Raw report</h2><details><summary>JSON</summary><pre class=ev>"
        + e(json.dumps(report, indent=1))
        + "</pre></details></body></html>\n"
    )
    return "".join(out)
