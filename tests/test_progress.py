"""Progress: bars in stage order with real totals, drawn on stderr whenever
stderr is a terminal, never wrapping. (Per-byte progress inside a large file
is tested in C++: digest_test.cc, pack_test.cc.)"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys

import lazypath
from conftest import write_tree
from lazypath import _progress
from rich.console import Console


def _display(width: int) -> tuple[_progress.ProgressDisplay, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    return _progress.ProgressDisplay(True, console=console), out


def test_bars_keep_stage_order_and_fit_60_columns():
    display, out = _display(60)
    with display:
        cb = display.callback
        cb("upload", 0, 1000, "bytes")  # a later phase reporting first
        cb("scan", 12, 0, "entries")
        cb("pack", 500, 2000, "bytes")
        cb("hash", 3 << 20, 10 << 20, "bytes")
        labels = [t.description for t in display._progress.tasks]
        assert labels == ["scanning", "hashing", "packing", "uploading"]
        display._progress.refresh()
    frames = out.getvalue().replace("\r", "\n").split("\n")
    drawn = [f for f in frames if "packing" in f or "hashing" in f]
    assert drawn, out.getvalue()
    for line in frames:
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)
        assert len(plain) <= 60, plain


def test_push_reports_upload_with_a_total_and_after_packing(tmp_path, store):
    big = os.urandom(12 << 20)  # streamed into the pack (over 8 MiB)
    src = write_tree(tmp_path / "src", {"big.bin": big, "a.py": "A = 1\n"})
    events: list = []
    lazypath.push_report(src, store, progress=lambda *e: events.append(e))
    phases = [e[0] for e in events]
    assert phases.index("pack") < phases.index("upload")
    uploads = [e for e in events if e[0] == "upload"]
    assert all(total > 0 for _, _, total, _ in uploads), uploads
    assert uploads[-1][1] == uploads[-1][2]  # every byte it announced was sent
    packs = [e for e in events if e[0] == "pack"]
    assert packs[-1][1] == packs[-1][2] == len(big) + 6


def test_bars_are_drawn_when_only_stderr_is_a_terminal():
    master, slave = pty.openpty()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lazypath._progress import should_show; print(should_show(False))",
        ],
        stdout=subprocess.PIPE,
        stderr=slave,
        timeout=60,
    )
    os.close(slave)
    os.close(master)
    assert proc.stdout.decode().strip() == "True"  # stdout captured, stderr a terminal
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lazypath._progress import should_show; print(should_show(True))",
        ],
        capture_output=True,
        timeout=60,
    )
    assert proc.stdout.decode().strip() == "False"
