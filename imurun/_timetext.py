"""An amount of time for people: ``"30 s"``, ``"4.5 min"``, ``"25 min"``.

One rule for every report and printed summary that tells how long something lasted (running
time, time recorded, time lost to gaps). Whole minutes hid short recordings: a 25-s run of a
35-s recording read "0 min of 1 min recorded". So:

* under a minute (as rounded): whole seconds, ``"45 s"``; a nonzero amount under half a second
  is ``"<1 s"``, never 0;
* under ten minutes: minutes with one decimal, ``"4.5 min"``;
* longer: whole minutes, ``"25 min"``;
* exactly zero: ``"0 min"``, or in the unit of the amount it is part of (``like``):
  ``"0 s of 35 s recorded"``; unknown (None, NaN, infinite): ``"–"``.

Each step is monotonic and the steps meet where their values are equal, so an amount that is
part of another is never shown as more than it (``"30 s of 45 s recorded"``). Tables of numbers
(CSV, JSON) keep their minutes with two decimals: this is for text.
"""

from __future__ import annotations

import math

__all__ = ["pace_text", "time_parts", "time_text"]


def time_parts(seconds: float | None, *, like: float | None = None) -> tuple[str, str]:
    """``seconds`` as ``(number, unit)``: ``("45", "s")``, ``("4.5", "min")``; ``("–", "")``.

    ``like``: the amount this one is shown beside or is part of; a zero takes its unit.
    """
    if seconds is None or not math.isfinite(seconds):
        return "–", ""
    s = max(float(seconds), 0.0)
    if s == 0.0:
        unit = time_parts(like)[1] if like is not None and like > 0 else ""
        return "0", unit or "min"
    if round(s) < 60:
        return ("<1" if round(s) < 1 else f"{round(s):d}"), "s"
    m = s / 60.0
    if round(m, 1) < 10.0:
        return f"{m:.1f}", "min"
    return f"{m:.0f}", "min"


def time_text(seconds: float | None, *, like: float | None = None) -> str:
    """``seconds`` as ``"45 s"``, ``"4.5 min"``, ``"25 min"``, ``"<1 s"``, ``"0 min"`` or ``"–"``.

    ``like``: as for :func:`time_parts`.
    """
    number, unit = time_parts(seconds, like=like)
    return f"{number} {unit}" if unit else number


def pace_text(s_per_km: float) -> str:
    """A pace as ``"5:40"`` (min:s per km), to the nearest second, half a second up.

    One rule for `imurun show`, the run report and the weekly summary: `show` wrote the minutes
    and the rounded seconds apart, so 359.6 s/km read "5:60", and rounded 340.5 s/km half to
    even ("5:40") where the reports wrote "5:41". ``"–"`` when unknown.
    """
    if not math.isfinite(s_per_km) or s_per_km <= 0:
        return "–"
    m, sec = divmod(math.floor(s_per_km + 0.5), 60)
    return f"{m}:{sec:02d}"
