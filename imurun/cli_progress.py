"""Progress bars for the command line (tqdm), quiet when the output is not a terminal.

The library reports progress through plain callbacks (``progress(done, total)``, or
``progress(run_id, done, size)`` for a sync); these adapters draw them on standard error, only
when it is a terminal, so scripts, pipes and CI logs get none of it. tqdm: small, no
dependencies of its own, and it handles terminal width, rates and ETA.

A bar is decoration: it never stops the work it shows. Standard error closed (``2>&-``: no
``sys.stderr`` at all), or gone while a bar is drawn (a terminal or pipe closed), turns the bars
off and the work goes on: a sync still takes every run off the sensor. (The library stops a
sync whose ``progress`` raises, as :class:`~imurun.errors.CallbackError`; these never raise.)
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

#: Seconds a counted task runs before its bar appears (a short analysis shows none).
DELAY_S = 1.0


def enabled() -> bool:
    """Standard error is a terminal (False when it is closed or not there at all)."""
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (OSError, ValueError):  # ValueError: a closed file
        return False


def _bar(**kw: Any) -> Any:
    from tqdm import tqdm

    return tqdm(file=sys.stderr, dynamic_ncols=True, leave=False, **kw)


class SyncBars:
    """``progress(run_id, done, size)`` of a sync as one bar (bytes) per run."""

    def __init__(self, on: bool | None = None) -> None:
        self.on = enabled() if on is None else on
        self._bars: dict[int, Any] = {}

    def __call__(self, run_id: int, done: int, size: int) -> None:
        if not self.on:
            return
        try:
            bar = self._bars.get(run_id)
            if bar is None:
                bar = self._bars[run_id] = _bar(total=size, unit="B", unit_scale=True,
                                                unit_divisor=1024, desc=f"run {run_id}")
            bar.update(max(done - bar.n, 0))
            if done >= size:
                bar.close()
        except (OSError, ValueError):  # standard error gone: no more bars, the sync goes on
            self.on = False

    def close(self) -> None:
        for bar in self._bars.values():
            with contextlib.suppress(OSError, ValueError):
                bar.close()
        self._bars.clear()


def counter(what: str, unit: str = "run", on: bool | None = None) -> Callable[[int, int], None]:
    """``progress(done, total)`` as a bar that appears once the task takes over a second."""
    show = enabled() if on is None else on
    state: dict[str, Any] = {}
    t0 = time.monotonic()  # the task starts now: the first report comes after its first item

    def progress(done: int, total: int) -> None:
        if not show or state.get("off"):
            return
        try:
            bar = state.get("bar")
            if bar is None:
                wait = max(DELAY_S - (time.monotonic() - t0), 0.0)
                bar = state["bar"] = _bar(total=total, desc=what, unit=unit, delay=wait)
            bar.update(max(done - bar.n, 0))
            if done >= total:
                bar.close()
        except (OSError, ValueError):  # standard error gone: no more bar, the task goes on
            state["off"] = True

    return progress
