"""A sports watch's FIT activity file -> per-record speed, distance, heart rate and cadence.

Read with ``fit-tool`` (BSD-3-Clause, pure Python, no dependencies). Garmin's own Python SDK
(``garmin-fit-sdk``) is used only by the tests, as the reference reader and writer: its licence is
a proprietary agreement (non-transferable, "internal business purposes", the SDK treated as
confidential, no distribution under licences that allow modification), which an Apache-2.0
package cannot impose on everyone who installs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imurun.errors import FileFormatError, MissingFileError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WatchTrack:
    """Record messages of a FIT activity, in time order; NaN where a record lacks a value."""

    t_unix_s: FloatArray
    speed_mps: FloatArray
    distance_m: FloatArray
    heart_rate_bpm: FloatArray
    cadence_spm: FloatArray  # steps per minute (FIT running cadence counts strides: doubled)
    manufacturer: str | None = None
    sport: str | None = None

    @property
    def start_unix_s(self) -> float:
        return float(self.t_unix_s[0])

    @property
    def end_unix_s(self) -> float:
        return float(self.t_unix_s[-1])


def _f(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan


def read_watch_fit(path: str | os.PathLike[str]) -> WatchTrack:
    """Read ``path``; :class:`FileFormatError` if it is not a FIT activity with records."""
    from fit_tool import FitFile
    from fit_tool.exceptions import FitError
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.sport_message import SportMessage

    p = str(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
        if len(head) < 12 or head[8:12] != b".FIT":
            raise FileFormatError(p, "not a FIT file (no .FIT signature)")
        fit = FitFile.from_file(p)
    except FileFormatError:  # (a ValueError: not to be wrapped in "damaged FIT file: PATH: ...")
        raise
    except FileNotFoundError as e:
        raise MissingFileError(p, f"cannot read: {e.strerror or e}") from e
    except OSError as e:
        raise FileFormatError(p, f"cannot read: {e.strerror or e}") from e
    except (FitError, ValueError, IndexError, KeyError, TypeError) as e:
        # fit-tool's own errors, and what its decoder raises on bytes it does not expect
        raise FileFormatError(p, f"damaged FIT file: {e}") from e
    rows: list[tuple[float, float, float, float, float]] = []
    manufacturer = sport = None
    for rec in fit.records:
        m = rec.message
        if isinstance(m, RecordMessage):
            if m.timestamp is None:
                continue
            speed = _f(m.enhanced_speed)
            if np.isnan(speed):
                speed = _f(m.speed)
            cad = _f(m.cadence)
            if not np.isnan(cad):
                cad = 2.0 * (cad + (_f(m.fractional_cadence) if m.fractional_cadence is not None else 0.0))
            rows.append((m.timestamp / 1000.0, speed, _f(m.distance), _f(m.heart_rate), cad))
        elif isinstance(m, FileIdMessage) and m.manufacturer is not None:
            manufacturer = str(getattr(m.manufacturer, "name", m.manufacturer)).lower()
        elif isinstance(m, SportMessage) and m.sport is not None:
            sport = str(getattr(m.sport, "name", m.sport)).lower()
    if not rows:
        raise FileFormatError(p, "FIT file without record messages (not an activity?)")
    a = np.array(rows, dtype=np.float64)
    a = a[np.argsort(a[:, 0], kind="stable")]
    return WatchTrack(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], manufacturer, sport)


def per_second(track: WatchTrack, start_unix_s: float, duration_s: float,
               max_hold_s: float = 5.0) -> tuple[FloatArray, FloatArray]:
    """The track on the run's 1 s grid ``t_s = 0, 1, ... <= duration_s`` (run time base).

    Returns ``(t_s, values)`` with ``values`` of shape ``(n, 4)``: speed m/s, distance m from the
    run's start, heart rate bpm, cadence spm. Each channel is interpolated linearly between
    records no more than ``max_hold_s`` apart and NaN elsewhere (a watch that paused, or the part
    of the run it did not record).
    """
    t_rel = track.t_unix_s - start_unix_s
    grid = np.arange(0.0, np.floor(duration_s) + 1.0)
    out = np.full((len(grid), 4), np.nan)
    for k, ch in enumerate((track.speed_mps, track.distance_m, track.heart_rate_bpm,
                            track.cadence_spm)):
        ok = ~np.isnan(ch)
        t, v = t_rel[ok], ch[ok]
        if len(t) == 0:
            continue
        vals = np.interp(grid, t, v, left=np.nan, right=np.nan)
        j = np.clip(np.searchsorted(t, grid), 1, max(len(t) - 1, 1))
        span = t[j] - t[j - 1] if len(t) > 1 else np.zeros_like(grid)
        exact = np.isin(grid, t)
        vals[(span > max_hold_s) & ~exact] = np.nan
        out[:, k] = vals
    d = out[:, 1]
    if np.any(~np.isnan(d)):
        out[:, 1] = d - d[~np.isnan(d)][0]
    return grid, out
