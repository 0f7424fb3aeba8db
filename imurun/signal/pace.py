"""Speed, step length and stride length of each step from a watch's speed; pace bands.

The sensor times every step; a watch (GPS or foot pod) knows how fast the runner went. Put
together, per step (arrays aligned with a :class:`~imurun.signal.results.StepTable`):

* ``speed_mps``: the watch's speed at the middle of the step (``ic_s + step_s / 2``), linearly
  interpolated between two of its samples no more than ``max_gap_s`` apart (NaN elsewhere, and
  where the watch says the runner stood still). For a speed that changes linearly over the step,
  the speed at its middle times its duration is exactly the distance covered in the step.
* ``step_length_m = speed_mps * step_s``: from this initial contact to the next (of the other
  foot). Garmin calls this "stride length" ("from one footfall to the next") and writes it in
  the FIT field ``step_length``.
* ``stride_length_m``: from this initial contact to the next of the same foot, two steps: this
  step's length plus the next one's, when the next step starts where this one ends (NaN at the
  last step before a gap).
* ``vertical_ratio_pct = 100 * vertical_oscillation_m / step_length_m``: Garmin's vertical ratio
  (vertical oscillation over the footfall-to-footfall length), as in the FIT export.

**Pace bands** (:func:`pace_bands`): a step's pace is ``1000 / speed_mps`` s/km. Bands are
``width_s_per_km`` wide and aligned on whole multiples of it (with 15 s/km: 5:00-5:15,
5:15-5:30, ...; a pace on an edge belongs to the slower band); a band is kept when it holds at
least ``min_steps`` steps, and its steps are in no band otherwise. Kept bands are ordered from the
slowest to the fastest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from imurun.errors import SignalError
from imurun.signal.results import StepTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = ["PaceBands", "PaceSettings", "SpeedTrack", "StepSpeed", "StrideSummary",
           "pace_bands", "speed_at", "step_speed", "step_speed_of", "stride_summary",
           "vertical_ratio_pct"]

#: Two steps are one stride when the next starts within this of where the first ends, s.
CONTIGUOUS_TOL_S: Final = 1e-3


@dataclass(frozen=True)
class PaceSettings:
    """How watch speed is matched to steps and steps are grouped by pace."""

    width_s_per_km: float = 15.0  # width of a pace band
    min_steps: int = 60  # a band needs this many steps (about 20 s of running) to be shown
    max_gap_s: float = 1.5  # watch samples further apart than this are not interpolated across

    def __post_init__(self) -> None:
        if not self.width_s_per_km > 0:
            raise SignalError(f"width_s_per_km must be > 0, got {self.width_s_per_km}")
        if self.min_steps < 1:
            raise SignalError(f"min_steps must be >= 1, got {self.min_steps}")
        if not self.max_gap_s > 0:
            raise SignalError(f"max_gap_s must be > 0, got {self.max_gap_s}")


def _vector(a: npt.ArrayLike, name: str, n: int | None = None) -> FloatArray:
    arr = np.array(a, dtype=np.float64, copy=True)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise SignalError(f"{name} must have shape {'(n,)' if n is None else f'({n},)'}, "
                          f"got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class SpeedTrack:
    """A watch's speed over the run, in the run's time base (``t_s`` increasing); NaN = none."""

    t_s: FloatArray
    speed_mps: FloatArray

    def __post_init__(self) -> None:
        t = _vector(self.t_s, "t_s")
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "speed_mps", _vector(self.speed_mps, "speed_mps", len(t)))
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            raise SignalError("SpeedTrack.t_s must be strictly increasing")

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def has_speed(self) -> bool:
        return bool(np.any(np.isfinite(self.speed_mps) & (self.speed_mps > 0)))


def speed_at(t_s: npt.ArrayLike, track: SpeedTrack, *, max_gap_s: float = 1.5) -> FloatArray:
    """The track's speed at times ``t_s`` (any shape).

    Linear between samples at most ``max_gap_s`` apart; NaN outside the track, across longer
    gaps and for NaN times.
    """
    t = np.asarray(t_s, dtype=np.float64)
    ok = np.isfinite(track.speed_mps)
    ts, vs = track.t_s[ok], track.speed_mps[ok]
    out = np.full(t.shape, np.nan)
    if ts.size == 0:
        return out
    j = np.searchsorted(ts, t, side="right")  # first sample after t
    i0 = np.clip(j - 1, 0, ts.size - 1)
    i1 = np.clip(j, 0, ts.size - 1)
    span = ts[i1] - ts[i0]
    on_sample = t == ts[i0]
    inside = np.isfinite(t) & (t >= ts[0]) & (t <= ts[-1]) & ((span <= max_gap_s) | on_sample)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where((span > 0) & ~on_sample, (t - ts[i0]) / np.where(span > 0, span, 1.0), 0.0)
    out[inside] = (vs[i0] + w * (vs[i1] - vs[i0]))[inside]
    return out


def vertical_ratio_pct(vertical_oscillation_m: npt.ArrayLike,
                       step_length_m: npt.ArrayLike) -> FloatArray:
    """Garmin's vertical ratio, %: vertical oscillation over step (footfall-to-footfall) length."""
    vo = np.asarray(vertical_oscillation_m, dtype=np.float64)
    sl = np.asarray(step_length_m, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sl > 0, 100.0 * vo / np.where(sl > 0, sl, 1.0), np.nan)


@dataclass(frozen=True, eq=False)
class StepSpeed:
    """Per-step speed and lengths (see the module docstring), aligned with the steps given."""

    speed_mps: FloatArray
    step_length_m: FloatArray
    stride_length_m: FloatArray
    vertical_ratio_pct: FloatArray

    def __post_init__(self) -> None:
        n = np.asarray(self.speed_mps).shape[0] if np.ndim(self.speed_mps) == 1 else -1
        for name in ("speed_mps", "step_length_m", "stride_length_m", "vertical_ratio_pct"):
            object.__setattr__(self, name, _vector(getattr(self, name), name, n))

    def __len__(self) -> int:
        return int(self.speed_mps.shape[0])

    @property
    def pace_s_per_km(self) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.speed_mps > 0, 1000.0 / self.speed_mps, np.nan)

    @classmethod
    def unknown(cls, n: int) -> StepSpeed:
        """``n`` steps with nothing known (no watch)."""
        z = np.full(n, np.nan)
        return cls(z, z, z, z)


def step_speed(ic_s: npt.ArrayLike, step_s: npt.ArrayLike, vertical_oscillation_m: npt.ArrayLike,
               track: SpeedTrack, *, settings: PaceSettings | None = None) -> StepSpeed:
    """Speed, step and stride length and vertical ratio of each step (steps in time order)."""
    cfg = PaceSettings() if settings is None else settings
    ic = _vector(ic_s, "ic_s")
    st = _vector(step_s, "step_s", len(ic))
    vo = _vector(vertical_oscillation_m, "vertical_oscillation_m", len(ic))
    v = speed_at(ic + 0.5 * st, track, max_gap_s=cfg.max_gap_s)
    v = np.where(v > 0, v, np.nan)
    step_len = v * st
    stride = np.full(len(ic), np.nan)
    if len(ic) > 1:
        joined = np.abs(ic[1:] - (ic[:-1] + st[:-1])) <= CONTIGUOUS_TOL_S
        stride[:-1] = np.where(joined, step_len[:-1] + step_len[1:], np.nan)
    return StepSpeed(v, step_len, stride, vertical_ratio_pct(vo, step_len))


def step_speed_of(steps: StepTable, track: SpeedTrack, *,
                  settings: PaceSettings | None = None) -> StepSpeed:
    """:func:`step_speed` of a :class:`~imurun.signal.results.StepTable`."""
    return step_speed(steps.ic_s, steps.step_s, steps.vertical_oscillation_m, track,
                      settings=settings)


@dataclass(frozen=True, eq=False)
class PaceBands:
    """Steps grouped by pace (rule in the module docstring); bands from the slowest to the fastest.

    ``band[i]`` is the index of step ``i``'s band in ``start_s_per_km`` (-1: in none: no speed,
    or a band with fewer than ``min_steps`` steps, counted in ``n_outside``).
    """

    start_s_per_km: FloatArray  # the faster edge of each band
    n_steps: IntArray
    band: IntArray
    width_s_per_km: float
    min_steps: int
    n_outside: int

    def __len__(self) -> int:
        return int(self.start_s_per_km.shape[0])

    @property
    def end_s_per_km(self) -> FloatArray:
        return self.start_s_per_km + self.width_s_per_km

    def mask(self, k: int) -> npt.NDArray[np.bool_]:
        return np.asarray(self.band == k)


def pace_bands(speed_mps: npt.ArrayLike, *, settings: PaceSettings | None = None) -> PaceBands:
    """Group steps by their pace (``speed_mps`` per step; NaN or <= 0: no pace)."""
    cfg = PaceSettings() if settings is None else settings
    v = _vector(speed_mps, "speed_mps")
    w = cfg.width_s_per_km
    ok = np.isfinite(v) & (v > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pace = np.where(ok, 1000.0 / np.where(ok, v, 1.0), np.nan)
    # pace / w rounded a hair first: 300 s/km from 3.3333... m/s is on the 300 edge, not 299.99
    idx = np.floor(np.round(pace / w, 9), where=ok, out=np.zeros_like(pace)).astype(np.int64)
    keys, counts = np.unique(idx[ok], return_counts=True)
    kept = keys[counts >= cfg.min_steps][::-1]  # slowest (largest pace) first
    band = np.full(len(v), -1, dtype=np.int64)
    if kept.size:
        pos = {int(k): b for b, k in enumerate(kept.tolist())}
        lookup = np.array([pos.get(int(k), -1) for k in keys], dtype=np.int64)
        band[ok] = lookup[np.searchsorted(keys, idx[ok])]
    n = np.bincount(band[band >= 0], minlength=kept.size).astype(np.int64)
    outside = int(np.sum(ok) - n.sum())
    return PaceBands(kept.astype(np.float64) * w, n, band, float(w), cfg.min_steps, outside)


@dataclass(frozen=True)
class StrideSummary:
    """Medians over a run's steps (the running ones, as the callers choose) with a speed."""

    n_steps: int
    speed_mps: float
    step_length_m: float
    stride_length_m: float
    vertical_ratio_pct: float

    @property
    def pace_s_per_km(self) -> float:
        return 1000.0 / self.speed_mps if self.speed_mps > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return round(x, 4) if math.isfinite(x) else None

        return {"n_steps": self.n_steps, "speed_mps": num(self.speed_mps),
                "pace_s_per_km": num(self.pace_s_per_km),
                "step_length_m": num(self.step_length_m),
                "stride_length_m": num(self.stride_length_m),
                "vertical_ratio_pct": num(self.vertical_ratio_pct)}


def _median(x: FloatArray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def stride_summary(sp: StepSpeed, mask: npt.ArrayLike | None = None) -> StrideSummary:
    """Medians of ``sp`` over the steps of ``mask`` (default all) that have a speed."""
    m = np.ones(len(sp), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != (len(sp),):
        raise SignalError(f"mask must have shape ({len(sp)},), got {m.shape}")
    m = m & np.isfinite(sp.speed_mps)
    return StrideSummary(int(m.sum()), _median(sp.speed_mps[m]), _median(sp.step_length_m[m]),
                         _median(sp.stride_length_m[m]), _median(sp.vertical_ratio_pct[m]))
