#!/usr/bin/env python3
"""Checks that every #include "..." in src/, include/ and fuzz/ respects the
layers of ARCHITECTURE.md ("Layers: lower never includes higher").

    util
      └ digest      └ codec         (siblings: neither includes the other)
          └ tree        └ pack      (siblings: neither includes the other)
              └ store
                  └ cache
                      └ core
    doctor    util, its own headers, lazypath/doctor.h and lazypath/status.h
    bindings  anything
    fuzz/     anything that maps to a layer (each target links its layer)

A file's layer is its directory under src/ (src/pack/pack_test.cc is pack:
tests included), or for a public header the table PUBLIC_HEADERS below. A file
may include its own layer and the layers below it. Prints one line per
violation (file:line, the include, the layers) and exits 1 if there is any.
Plain Python 3, standard library only: python3 scripts/check_layers.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each layer and the layers it may include besides itself.
BELOW: dict[str, set[str]] = {
    "util": set(),
    "digest": {"util"},
    "codec": {"util"},
    "tree": {"util", "digest", "codec"},
    "pack": {"util", "digest", "codec"},
    "store": {"util", "digest", "codec", "tree", "pack"},
    "cache": {"util", "digest", "codec", "tree", "pack", "store"},
    "core": {"util", "digest", "codec", "tree", "pack", "store", "cache"},
    "doctor": {"util"},
}

# The layer of each public header in include/lazypath/.
PUBLIC_HEADERS: dict[str, str] = {
    "status.h": "util",
    "progress.h": "util",
    "size.h": "util",
    "digest.h": "digest",
    "tree.h": "tree",
    "scan.h": "tree",
    "tree_diff.h": "tree",
    "portability.h": "tree",
    "store.h": "store",
    "ref_history.h": "store",
    "node_cache.h": "cache",
    "push.h": "core",
    "activate.h": "core",
    "lazy.h": "core",
    "profile.h": "core",
    "inspect.h": "core",
    "prune.h": "core",
    "doctor.h": "doctor",
}

# Public headers of lower layers the doctor may include (it links util alone).
DOCTOR_PUBLIC = {"lazypath/doctor.h", "lazypath/status.h"}

# Directories whose files may include any layer.
ANYTHING = {"bindings", "fuzz"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_header(include: str) -> str | None:
    """The layer an #include "..." names, or None if it names no known file."""
    parts = include.split("/")
    if len(parts) == 2 and parts[0] == "lazypath":
        return PUBLIC_HEADERS.get(parts[1])
    if len(parts) >= 2 and (parts[0] in BELOW or parts[0] in ANYTHING):
        return parts[0]
    return None


def layer_of_file(path: Path) -> str | None:
    """The layer a source file belongs to; None outside the layers."""
    rel = path.relative_to(ROOT).parts
    if rel[0] == "include":
        return PUBLIC_HEADERS.get(rel[-1], "?")
    if rel[0] == "fuzz":
        return "fuzz"
    if rel[0] == "src" and len(rel) >= 3:
        return rel[1] if rel[1] in BELOW or rel[1] in ANYTHING else "?"
    return "?"


def check(path: Path) -> list[str]:
    layer = layer_of_file(path)
    rel = path.relative_to(ROOT)
    out = []
    if layer == "?":
        return [f"{rel}: in no layer (add it to scripts/check_layers.py)"]
    for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        target = layer_of_header(inc)
        where = f'{rel}:{no}: #include "{inc}"'
        if target is None:
            out.append(f"{where}: names no layer (add it to scripts/check_layers.py)")
            continue
        if layer in ANYTHING or target == layer:
            continue
        if layer == "doctor":
            if target == "util" or inc in DOCTOR_PUBLIC:
                continue
            allowed = ", ".join(sorted(DOCTOR_PUBLIC))
            out.append(f"{where}: doctor may include only util, {allowed}; not {target}")
            continue
        if target not in BELOW[layer]:
            if layer in BELOW[target]:
                why = f"{target} is above {layer}"
            else:
                why = f"{layer} and {target} are siblings: neither includes the other"
            out.append(f"{where}: layer {layer} includes layer {target} ({why})")
    return out


def main() -> int:
    files = sorted(
        p
        for d in ("src", "include", "fuzz")
        for p in (ROOT / d).rglob("*")
        if p.suffix in (".h", ".cc") and p.is_file()
    )
    problems = [line for f in files for line in check(f)]
    for line in problems:
        print(line)
    if problems:
        n = len(problems)
        print(f"check_layers: {n} include(s) break the layers (ARCHITECTURE.md)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
