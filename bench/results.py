"""Appending a measured table to bench/RESULTS.md, with the facts that make it
readable later: when, on what machine, under what load, by which command."""

from __future__ import annotations

import os
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def append_section(title: str, command: str, table: str) -> None:
    """Appends `## title (date)`, the machine, the load and `command`, then `table`."""
    with open(RESULTS, "a") as f:
        f.write(
            f"\n## {title} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n"
            f"- machine: {os.cpu_count()} CPUs, {cpu_model()}, load average "
            f"{os.getloadavg()[0]:.2f} at the end\n"
            f"- command: `{command}`\n\n{table}\n"
        )


def publish(title: str, script: str, argv: list[str], rows: list, record: bool) -> None:
    """Prints `rows` (header, separator, data; lists of cells) as a markdown
    table under `title`, and with `record` appends it to RESULTS.md with the
    command line (`script` plus `argv`)."""
    table = "\n".join("| " + " | ".join(c) + " |" for c in rows)
    print(f"\n{title}\n\n{table}\n")
    if record:
        append_section(title, " ".join([script, *argv]).strip(), table)
