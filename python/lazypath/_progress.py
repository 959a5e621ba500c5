"""Progress bars for the CLI, drawn with rich on stderr.

The core reports progress through a callback `(phase, done, total, unit)`:
phases are "scan" (entries; total 0 = unknown), "hash", "pack", "upload"
(bytes sent; total 0) and "fetch" (bytes); prune's are "walk" (trees),
"delete" (objects) and "repack" (frames copied or rewritten). It is called from the core's
worker threads with the GIL held, at most about ten times a second per
phase, never concurrently.

    with ProgressDisplay(enabled=sys.stdout.isatty()) as progress:
        lazypath.push_report(dir, store, progress=progress.callback)

When disabled (not a terminal, or --json) `callback` is None, so the core
does no progress work at all. The display always stops on leaving the
`with` block, also when the work raised, so the terminal is left clean.
"""

from __future__ import annotations

import sys
import threading

_PHASE_LABELS = {
    "scan": "scanning",
    "hash": "hashing",
    "pack": "packing",
    "upload": "uploading",
    "fetch": "fetching",
    "walk": "walking kept trees",
    "delete": "deleting",
    "repack": "repacking",
}


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; exact below 1 KiB."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def _stream_is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or replaced streams
        return False


def should_show(json_output: bool) -> bool:
    """Progress is drawn only for humans: on stderr, when stderr is a
    terminal, and never with --json.

    stdout may be captured (D=$(lazypath push ...)): the bars don't go there.
    Redirecting stderr (2>log) must not fill the log with redraws.
    """
    return not json_output and _stream_is_terminal(sys.stderr)


# The order the core's phases happen in; bars are drawn in this order, even
# when a later phase reports first.
_PHASE_ORDER = ("scan", "hash", "pack", "upload", "fetch")


class ProgressDisplay:
    """One rich progress display; one bar per phase, created on first report."""

    def __init__(self, enabled: bool = True, console=None) -> None:
        self._enabled = enabled
        self._console = console
        self._progress = None
        self._tasks: dict = {}
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def callback(self):
        """The function to hand to the core, or None when disabled."""
        return self._report if self._enabled else None

    def __enter__(self) -> ProgressDisplay:
        if self._enabled:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        # rich is imported only here, when bars are really drawn: a push
        # whose stderr is not a terminal never pays for it.
        from lazypath._progress_bars import make_progress

        self._progress = make_progress(self._console)
        self._progress.start()

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            progress, self._progress = self._progress, None
        if progress is not None:
            try:
                progress.stop()
            except Exception:  # a broken terminal must not hide the real outcome
                pass

    def _report(self, phase: str, done: int, total: int, unit: str) -> None:
        try:
            self._update(phase, done, total, unit)
        except Exception:
            # Progress is decoration: never let it fail the operation. Stop
            # drawing instead, so a half-broken display doesn't keep erroring.
            self.stop()

    def _update(self, phase: str, done: int, total: int, unit: str) -> None:
        with self._lock:
            progress = self._progress
            if progress is None or self._stopped:
                return
            task = self._tasks.get(phase)
            known = total if total > 0 else None
            if task is None:
                rank = _rank(phase)
                # A later phase means the earlier ones of unknown size (the
                # scan's count) are over: fill their bars.
                by_id = {t.id: t for t in progress.tasks}
                for name, tid in self._tasks.items():
                    t = by_id[tid]
                    if _rank(name) < rank and t.total is None:
                        progress.update(tid, total=t.completed, completed=t.completed)
                task = progress.add_task(_PHASE_LABELS.get(phase, phase), total=known, unit=unit)
                self._tasks[phase] = task
                self._reorder(progress)
                task = self._tasks[phase]  # re-added if it moved
            progress.update(task, completed=done, total=known)

    def _reorder(self, progress) -> None:
        """Keeps the bars in _PHASE_ORDER: rich draws tasks in the order they
        were added, so the bars after a phase that reported late are added
        again behind it."""
        order = sorted(self._tasks, key=_rank)
        if list(self._tasks) == order:
            return
        by_id = {t.id: t for t in progress.tasks}
        first_wrong = next(i for i, name in enumerate(order) if list(self._tasks)[i] != name)
        for name in order[first_wrong:]:
            old = by_id[self._tasks[name]]
            progress.remove_task(old.id)
            self._tasks[name] = progress.add_task(
                old.description, total=old.total, completed=old.completed, **old.fields
            )
        self._tasks = {name: self._tasks[name] for name in order}


def _rank(phase: str) -> int:
    return _PHASE_ORDER.index(phase) if phase in _PHASE_ORDER else len(_PHASE_ORDER)
