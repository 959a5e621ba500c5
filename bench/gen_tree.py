"""Generates a deterministic, realistic-looking source tree for the benchmarks.

    python bench/gen_tree.py OUT_DIR [--files 10000] [--mb 200] [--seed 1]

The tree looks like a mid-sized Python monorepo: nested packages of .py modules
with log-normally distributed sizes (most a few KB, a few over 100 KB), some
text files (README, JSON, TOML), and a few large data files that hold most of the
bytes: numeric CSV (compresses ~2x) and binary blobs (incompressible, like model
weights). About 30% of the bytes are .py sources and 1% of the files are data
files. The same arguments always give byte-identical trees.
"""

from __future__ import annotations

import argparse
import keyword
import os
import random
import sys
import time

MiB = 1024 * 1024

WORDS = (
    "account address adapter admin agent alert amount api app archive array asset async "
    "audit auth backend balance batch bill block bucket buffer build bundle cache call "
    "cart catalog channel check client cluster code column config connection context "
    "count credit cursor customer data dataset date delta device digest discount dispatch "
    "document driver entry error event export feature fetch field file filter flag format "
    "frame graph group handler hash header history image import index input invoice item "
    "job key label layer limit link loader lock log manager map message meta metric model "
    "module node offset order output owner packet page param parser path payment peer plan "
    "policy pool price profile queue quota range rate reader record region report request "
    "resource result retry route row rule sample scheduler schema scope score segment "
    "session shard signal sku slot snapshot source span state status step store stream "
    "summary table tag task tax tenant token topic trace tracker transform tree user value "
    "vector version view window worker writer"
).split()
VERBS = (
    "add apply build check collect compute convert create decode delete emit encode "
    "ensure fetch filter find flush format get handle init load lookup merge normalize "
    "open parse process publish push read refresh register render reset resolve run save "
    "scan send serialize set sort split start stop sync transform update validate write"
).split()
IMPORTS = (
    "import os",
    "import re",
    "import sys",
    "import json",
    "import time",
    "import logging",
    "import itertools",
    "import functools",
    "import dataclasses",
    "import collections",
    "from typing import Any, Dict, List, Optional",
    "from pathlib import Path",
    "from decimal import Decimal",
    "from datetime import datetime, timedelta",
    "from concurrent.futures import ThreadPoolExecutor",
    "import hashlib",
    "import threading",
)


def _ident(rng: random.Random, n: int = 2) -> str:
    name = "_".join(rng.choice(WORDS) for _ in range(n))
    return name + "_" if keyword.iskeyword(name) else name  # "async", "import"


def _params(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        p = _ident(rng, 1)
        if p not in out and p != "self":
            out.append(p)
    return out


def _camel(rng: random.Random, n: int = 2) -> str:
    return "".join(rng.choice(WORDS).capitalize() for _ in range(n))


def _sentence(rng: random.Random, lo: int = 5, hi: int = 14) -> str:
    words = [rng.choice(WORDS + VERBS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + "."


def _statement(rng: random.Random, indent: str, args: list[str]) -> str:
    a = rng.choice(args) if args else "__name__"
    v = _ident(rng, 1)
    k = rng.randrange(8)
    if k == 0:
        return f"{indent}{v} = {rng.choice(VERBS)}_{_ident(rng, 1)}({a}, {rng.randint(0, 999)})\n"
    if k == 1:
        return (
            f"{indent}if {a} is None:\n{indent}    raise ValueError("
            f'"{_sentence(rng, 3, 7)[:-1]}: %r" % ({a},))\n'
        )
    if k == 2:
        return (
            f"{indent}for {v} in {a}:\n{indent}    self._{_ident(rng, 1)}"
            f".append({v}.{_ident(rng, 1)})\n"
        )
    if k == 3:
        return f'{indent}logger.debug("{_sentence(rng, 3, 8)} %s", {a})\n'
    if k == 4:
        return f"{indent}# {_sentence(rng)}\n"
    if k == 5:
        return (
            f'{indent}{v} = {{\n{indent}    "{_ident(rng, 1)}": {a},\n'
            f'{indent}    "{_ident(rng, 1)}": {rng.random():.6f},\n{indent}}}\n'
        )
    if k == 6:
        return (
            f"{indent}try:\n{indent}    {v} = {a}[{rng.randint(0, 64)}]\n"
            f"{indent}except (KeyError, IndexError):\n{indent}    {v} = None\n"
        )
    return f"{indent}{v} = [{a} * {rng.randint(1, 9)} for _ in range({rng.randint(2, 50)})]\n"


def _function(rng: random.Random, indent: str, method: bool) -> str:
    args = _params(rng, rng.randint(0, 4))
    params = (["self"] if method else []) + args
    name = f"{rng.choice(VERBS)}_{_ident(rng, rng.randint(1, 2))}"
    out = [f"{indent}def {name}({', '.join(params)}):\n"]
    out.append(f'{indent}    """{_sentence(rng)}"""\n')
    for _ in range(rng.randint(2, 12)):
        out.append(_statement(rng, indent + "    ", args))
    out.append(f"{indent}    return {rng.choice(args) if args else 'None'}\n\n")
    return "".join(out)


def _class(rng: random.Random) -> str:
    out = [f"class {_camel(rng, rng.randint(1, 3))}:\n", f'    """{_sentence(rng)}\n\n']
    out.append(f'    {_sentence(rng, 8, 20)}\n    """\n\n')
    out.append(f"    {_ident(rng, 1).upper()}_LIMIT = {rng.randint(1, 10000)}\n\n")
    for _ in range(rng.randint(1, 6)):
        out.append(_function(rng, "    ", True))
    return "".join(out) + "\n"


def python_source(rng: random.Random, target: int) -> bytes:
    """A plausible Python module of about `target` bytes."""
    out = [f'"""{_sentence(rng)}\n\n{_sentence(rng, 10, 25)}\n"""\n\n']
    imports = set(rng.sample(IMPORTS, rng.randint(2, 7))) | {"import logging"}
    out += [line + "\n" for line in sorted(imports)]
    out.append("\nlogger = logging.getLogger(__name__)\n\n")
    for _ in range(rng.randint(0, 5)):
        out.append(f"{_ident(rng).upper()} = {rng.randint(0, 1 << 20)}\n")
    out.append("\n\n")
    size = sum(len(s) for s in out)
    while size < target:
        piece = _class(rng) if rng.random() < 0.35 else _function(rng, "", False) + "\n"
        out.append(piece)
        size += len(piece)
    return "".join(out).encode()


_DIGITS = bytes((b"0123456789" * 26)[:240] + b",,,,,,,,....\n\n\n\n")  # 256 entries


def csv_data(rng: random.Random, size: int) -> bytes:
    """Numeric CSV-like text (compresses about 2x)."""
    header = ",".join(_ident(rng, 1) for _ in range(8)).encode() + b"\n"
    return header + rng.randbytes(max(0, size - len(header))).translate(_DIGITS)


def binary_data(rng: random.Random, size: int) -> bytes:
    """Incompressible bytes, like model weights or packed arrays."""
    return rng.randbytes(size)


def _sizes(rng: random.Random, n: int, total: int, sigma: float) -> list[int]:
    """n log-normal sizes scaled to sum to about `total` (each at least 64 bytes)."""
    raw = [rng.lognormvariate(0.0, sigma) for _ in range(n)]
    scale = total / sum(raw)
    return [max(64, int(r * scale)) for r in raw]


def generate(root: str, files: int = 10000, mb: float = 200, seed: int = 1) -> dict:
    """Writes the tree under `root` (created; must be empty or absent). Returns stats."""
    rng = random.Random(seed)
    total = int(mb * MiB)
    os.makedirs(root, exist_ok=True)
    if os.listdir(root):
        raise SystemExit(f"gen_tree: {root} is not empty")

    n_data = max(1, files // 100)
    n_text = max(1, files // 50)
    n_py = max(1, files - n_data - n_text - 1)
    py_bytes = int(total * 0.30)
    text_bytes = int(total * 0.02)

    # Packages: a tree of directories, each package ~25 modules, depth up to 4.
    n_pkgs = max(1, n_py // 25)
    pkgs = ["app"]
    while len(pkgs) < n_pkgs:
        parent = rng.choice(pkgs)
        if parent.count("/") >= 4:
            continue
        pkgs.append(f"{parent}/{_ident(rng, 1)}_{len(pkgs)}")
    written = {"files": 0, "bytes": 0}

    def write(rel: str, data: bytes) -> None:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        written["files"] += 1
        written["bytes"] += len(data)

    py_sizes = _sizes(rng, n_py, py_bytes, 1.0)
    for i, size in enumerate(py_sizes):
        pkg = pkgs[i % len(pkgs)]
        name = "__init__.py" if i < len(pkgs) else f"{rng.choice(VERBS)}_{_ident(rng, 1)}_{i}.py"
        write(f"{pkg}/{name}", python_source(rng, size))

    for i, size in enumerate(_sizes(rng, n_text, text_bytes, 0.8)):
        pkg = rng.choice(pkgs)
        kind = i % 3
        if kind == 0:
            body = "\n\n".join(_sentence(rng, 10, 40) for _ in range(max(1, size // 200)))
            write(f"{pkg}/README_{i}.md", f"# {_camel(rng)}\n\n{body}\n".encode())
        elif kind == 1:
            items = ",\n".join(
                f'  "{_ident(rng)}": {rng.randint(0, 99999)}' for _ in range(max(1, size // 30))
            )
            write(f"{pkg}/config_{i}.json", ("{\n" + items + "\n}\n").encode())
        else:
            lines = "\n".join(
                f'{_ident(rng)} = "{_ident(rng, 3)}"' for _ in range(max(1, size // 40))
            )
            write(f"{pkg}/settings_{i}.toml", f"[{_ident(rng, 1)}]\n{lines}\n".encode())

    write("pyproject.toml", b'[project]\nname = "benchapp"\nversion = "0.0.1"\n')
    data_bytes = max(n_data * 64, total - written["bytes"])  # data files take the rest
    for i, size in enumerate(_sizes(rng, n_data, data_bytes, 0.7)):
        if i % 2 == 0:
            write(f"data/tables/{_ident(rng)}_{i}.csv", csv_data(rng, size))
        else:
            write(f"data/weights/{_ident(rng)}_{i}.bin", binary_data(rng, size))
    return {"files": written["files"], "bytes": written["bytes"], "packages": len(pkgs)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="directory to create (must be empty or absent)")
    p.add_argument("--files", type=int, default=10000)
    p.add_argument("--mb", type=float, default=200, help="total size in MiB")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    s = generate(a.out, a.files, a.mb, a.seed)
    dt = time.perf_counter() - t0
    print(
        f"{a.out}: {s['files']} files, {s['bytes'] / MiB:.1f} MiB, "
        f"{s['packages']} packages in {dt:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
