"""The rich side of lazypath/_progress.py: the bars' columns and layout.

Imported only when a progress display starts drawing, so that commands
whose stderr is not a terminal never import rich.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from lazypath._progress import human_bytes

# Below this width the rate and time-left columns are left out, so a bar
# never wraps onto a second line.
_NARROW = 80


def make_progress(console=None) -> Progress:
    """A transient rich Progress on `console` (default: stderr), not started."""
    console = console or Console(stderr=True)
    columns = [TextColumn("{task.description:<10}"), BarColumn(bar_width=None)]
    columns += [TaskProgressColumn(), _AmountColumn()]
    if console.width >= _NARROW:
        columns += [_RateColumn(), TimeRemainingColumn()]
    else:
        columns[1] = BarColumn(bar_width=max(4, console.width - 42))
    return Progress(
        *columns,
        console=console,
        transient=True,
        refresh_per_second=10,
        expand=False,
    )


def _format_amount(value: float, unit: str) -> str:
    if unit == "bytes":
        return human_bytes(value)
    return f"{int(value):,} {unit}"


class _AmountColumn(ProgressColumn):
    """'3.1/10.0 MiB' for bytes, '1,234 entries' for counts of unknown total."""

    def render(self, task):
        unit = task.fields.get("unit", "")
        done = _format_amount(task.completed, unit)
        if task.total is None:
            return Text(done, style="progress.download")
        return Text(f"{done} / {_format_amount(task.total, unit)}", style="progress.download")


class _RateColumn(ProgressColumn):
    """Throughput, in the task's unit."""

    def render(self, task):
        speed: float | None = task.finished_speed or task.speed
        if not speed:
            return Text("", style="progress.data.speed")
        unit = task.fields.get("unit", "")
        return Text(f"{_format_amount(speed, unit)}/s", style="progress.data.speed")
