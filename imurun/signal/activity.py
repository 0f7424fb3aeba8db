"""Activity labelling: running, walking, standing and other, from steps and signal energy.

Running and walking are told apart **per step**, by physics rather than by a trained model:
a running step has a flight phase, during which the vertical specific force at the sacrum falls
far below body weight (the body is ballistic, the sensor reads close to 0 g), while in walking
one foot is always on the ground and the vertical specific force stays near 1 g ± 0.3 g (Cavagna,
Thys & Zamboni 1976, J Physiol 262:639: walking is an inverted pendulum, running a bouncing
mass). :func:`classify_steps` takes the running detector's steps
(:func:`imurun.signal.events.detect_running_events`, which finds walking steps too but marks
them as without flight) and labels a step ``run`` when it has a flight phase and a step time
in :attr:`ActivitySettings.run_step_s`, ``walk`` when it has none and a step time in
:attr:`ActivitySettings.walk_step_s`, and ``other`` otherwise (irregular movement). The caller
(:func:`imurun.analyze`) keeps the running steps and looks for walking with the walking
detector everywhere outside running: on real walking the running detector can take the two
humps of a step's vertical force for two steps, so its ``walk`` labels are not relied on.

Outside steps, a sample is ``stand`` when the magnitude of the specific force is steady over
:attr:`ActivitySettings.still_window_s` (moving standard deviation below ``still_std_g``) and
``other`` when it is not (fidgeting, jumping, cycling, riding in a car...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.ndimage import uniform_filter1d

from imurun.consts import G_MS2
from imurun.errors import SignalError
from imurun.signal.results import ACTIVITIES, ActivityBouts

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "OTHER",
    "PAUSED",
    "RUN",
    "STAND",
    "WALK",
    "ActivitySettings",
    "classify_steps",
    "sample_labels",
    "still_mask",
    "timeline",
]

RUN: Final = ACTIVITIES.index("run")
WALK: Final = ACTIVITIES.index("walk")
STAND: Final = ACTIVITIES.index("stand")
OTHER: Final = ACTIVITIES.index("other")
GAP: Final = ACTIVITIES.index("gap")
PAUSED: Final = ACTIVITIES.index("paused")


@dataclass(frozen=True)
class ActivitySettings:
    """Activity labelling. The defaults are the product.

    Attributes:
        run_step_s: step times of running (0.22–0.6 s: 100–270 steps/min).
        walk_step_s: step times of walking (0.33–1.3 s: 46–180 steps/min).
        min_flight_s: a flight shorter than this does not count (one sample of noise).
        still_window_s: window of the moving standard deviation that finds standing.
        still_std_g: below this standard deviation of ``|a|`` (g), the sensor is still.
        max_step_gap_s: consecutive steps further apart than this are separate bouts.
        min_walk_bout_steps: fewer consecutive walking steps are labelled ``other``.

    """

    run_step_s: tuple[float, float] = (0.22, 0.6)
    walk_step_s: tuple[float, float] = (0.33, 1.3)
    min_flight_s: float = 0.01
    still_window_s: float = 1.0
    still_std_g: float = 0.05
    max_step_gap_s: float = 1.5
    min_walk_bout_steps: int = 2

    def __post_init__(self) -> None:
        for name in ("run_step_s", "walk_step_s"):
            lo, hi = getattr(self, name)
            if not 0 < lo < hi:
                raise SignalError(f"ActivitySettings.{name} must be (lo, hi) with 0 < lo < hi")


def classify_steps(ic_s: npt.ArrayLike, to_s: npt.ArrayLike, segment: npt.ArrayLike,
                   flight: npt.ArrayLike | None = None,
                   settings: ActivitySettings | None = None) -> Int8Array:
    """Activity code (``RUN``, ``WALK`` or ``OTHER``) of each running-detector step.

    Args:
        ic_s: ``(k,)`` initial contact times of the running detector, s (NaN allowed).
        to_s: ``(k,)`` toe-off times, s (NaN allowed).
        segment: ``(k,)`` segment index of each step (steps of different segments are never
            neighbours).
        flight: ``(k,)`` the detector's own flight flag (``StepEvents.flight``: ``False`` when
            the signal never left contact before the next IC); ``None``: all ``True``.
        settings: :class:`ActivitySettings`.

    A step has flight when the detector saw the signal leave contact and its toe-off comes at
    least ``min_flight_s`` before the next IC of the same segment. The step time is the time to that next IC; the last step of a segment
    (no next IC) takes the label of its predecessor when that one is within reach. Walking runs
    shorter than ``min_walk_bout_steps`` become ``OTHER``.

    """
    cfg = ActivitySettings() if settings is None else settings
    ic = np.asarray(ic_s, dtype=np.float64).reshape(-1)
    to = np.asarray(to_s, dtype=np.float64).reshape(-1)
    seg = np.asarray(segment, dtype=np.int64).reshape(-1)
    k = ic.size
    left = np.ones(k, dtype=bool) if flight is None else np.asarray(flight, dtype=bool).reshape(-1)
    if to.shape != (k,) or seg.shape != (k,) or left.shape != (k,):
        raise SignalError("ic_s, to_s, segment and flight must have the same length")
    out = np.full(k, OTHER, dtype=np.int8)
    if k == 0:
        return out
    nxt = np.full(k, np.nan)
    same = seg[1:] == seg[:-1]
    nxt[:-1] = np.where(same, ic[1:], np.nan)
    step = nxt - ic
    with np.errstate(invalid="ignore"):
        flight = left & ((nxt - to) >= cfg.min_flight_s)
    has_step = np.isfinite(step)
    run = has_step & flight & (step >= cfg.run_step_s[0]) & (step <= cfg.run_step_s[1])
    walk = has_step & ~flight & (step >= cfg.walk_step_s[0]) & (step <= cfg.walk_step_s[1])
    out[run] = RUN
    out[walk] = WALK
    # a step without a measured step time (segment end, IC cut) follows its neighbour
    prev_ok = np.r_[False, same & has_step[:-1]]
    undecided = ~has_step
    idx = np.flatnonzero(undecided & prev_ok)
    # running with flight at the segment end: to_s finite and the neighbour runs
    out[idx] = np.where((out[idx - 1] == RUN) & (np.isfinite(to[idx]) | np.isnan(ic[idx])),
                        RUN, np.where(out[idx - 1] == WALK, WALK, OTHER))
    first = np.flatnonzero(undecided & ~prev_ok)
    nxt_ok = first + 1 < k
    first = first[nxt_ok]
    first = first[seg[first + 1] == seg[first]]
    out[first] = np.where(out[first + 1] == RUN, RUN,
                          np.where(out[first + 1] == WALK, WALK, OTHER))
    # isolated walking steps are not a walking bout
    if cfg.min_walk_bout_steps > 1:
        is_w = out == WALK
        d = np.diff(np.concatenate(([0], is_w.view(np.int8), [0])))
        s0, s1 = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        for a, b in zip(s0[(s1 - s0) < cfg.min_walk_bout_steps].tolist(),
                        s1[(s1 - s0) < cfg.min_walk_bout_steps].tolist(), strict=True):
            # a lone walking step between running steps is a transition step, kept as walking
            if not ((a > 0 and out[a - 1] == RUN) or (b < k and out[b] == RUN)):
                out[a:b] = OTHER
    return out


def still_mask(acc_ms2: npt.ArrayLike, fs_hz: float, segments: tuple[tuple[int, int], ...],
               settings: ActivitySettings | None = None) -> BoolArray:
    """``(n,)``: the sensor is still (moving SD of ``|a|`` below ``still_std_g``).

    Computed segment by segment with a centred moving window; samples outside ``segments``
    are ``False``.
    """
    cfg = ActivitySettings() if settings is None else settings
    acc = np.asarray(acc_ms2, dtype=np.float64)
    n = acc.shape[0]
    out = np.zeros(n, dtype=bool)
    w = max(int(round(cfg.still_window_s * fs_hz)), 3)
    lim = (cfg.still_std_g * G_MS2) ** 2
    for a, b in segments:
        mag = np.sqrt(np.einsum("ij,ij->i", acc[a:b], acc[a:b]))
        m1 = uniform_filter1d(mag, w, mode="nearest")
        m2 = uniform_filter1d(mag * mag, w, mode="nearest")
        out[a:b] = (m2 - m1 * m1) < lim
    return out


def sample_labels(n: int, segments: tuple[tuple[int, int], ...], still: BoolArray,
                  step_start: npt.ArrayLike, step_stop: npt.ArrayLike,
                  step_code: npt.ArrayLike) -> Int8Array:
    """Per-sample activity codes.

    Samples covered by a step ``[step_start, step_stop)`` (fractional indices, rounded) take its
    code (``RUN`` wins over ``WALK`` where they overlap); other samples of ``segments`` are
    ``STAND`` when ``still`` and ``OTHER`` when not; samples outside ``segments`` are ``GAP``.
    """
    in_seg = np.zeros(n, dtype=bool)
    for a, b in segments:
        in_seg[a:b] = True
    lab = np.where(in_seg, np.where(still, np.int8(STAND), np.int8(OTHER)), np.int8(GAP))
    s0 = np.asarray(step_start, dtype=np.float64)
    s1 = np.asarray(step_stop, dtype=np.float64)
    code = np.asarray(step_code)
    for c in (WALK, RUN):
        m = (code == c) & np.isfinite(s0) & np.isfinite(s1)
        if not m.any():
            continue
        a = np.clip(np.round(s0[m]).astype(np.int64), 0, n)
        b = np.clip(np.round(s1[m]).astype(np.int64), 0, n)
        cover = np.zeros(n + 1, dtype=np.int32)
        np.add.at(cover, a, 1)
        np.add.at(cover, b, -1)
        covered = np.cumsum(cover[:-1], out=cover[:-1]) > 0
        covered &= in_seg
        np.copyto(lab, np.int8(c), where=covered)
    return np.asarray(lab, dtype=np.int8)


def timeline(t_s: npt.ArrayLike, fs_hz: float, labels: Int8Array,
             paused_s: Sequence[tuple[float, float]] = ()) -> ActivityBouts:
    """Bouts of equal labels, with the time between non-adjacent samples as ``gap`` bouts.

    A bout runs from its first sample's time to its last sample's time plus one period, or to
    the next bout's first sample when that comes later without a hole in time: samples at most
    1.5 periods apart are adjacent (no sample is missing between them, as the clean-up and
    :meth:`imurun.ingest.recording.Recording.from_arrays` count gaps), so the time between them
    belongs to the bout, at a change of label as within a bout, never to a sliver of nothing.
    ``paused_s`` holds the recording's pauses, ``(last sample before, first sample after)``
    as in :class:`imurun.ingest.recording.Gap`: a hole in time within one of them (half a
    period of rounding allowed) is a ``paused`` bout, not a ``gap``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    n = t.size
    if n == 0:
        return ActivityBouts(np.zeros(0), np.zeros(0), np.zeros(0, np.int8))
    period = 1.0 / fs_hz
    jump = np.flatnonzero(np.diff(t) > 1.5 * period) + 1  # a new bout after a hole in time
    change = np.flatnonzero(np.diff(labels) != 0) + 1
    starts = np.unique(np.concatenate(([0], jump, change)))
    stops = np.r_[starts[1:], n]
    b_start = t[starts]
    b_end = t[stops - 1] + period
    # a change of label where the samples are 1-1.5 periods apart: the bout reaches the next one
    nxt = np.minimum(stops, n - 1)
    late = (stops < n) & ~np.isin(stops, jump) & (t[nxt] > b_end)
    b_end[late] = t[nxt[late]]
    b_lab = labels[starts].astype(np.int8)
    # holes in time become gap bouts: only after a jump (a change of label where the samples
    # are a rounding error more than a period apart is no hole; phone times are rounded)
    holes = np.flatnonzero(np.isin(starts[1:], jump))
    if holes.size:
        gap_start, gap_end = b_end[holes], b_start[holes + 1]
        b_start = np.insert(b_start, holes + 1, gap_start)
        b_end = np.insert(b_end, holes + 1, gap_end)
        hole_lab = np.full(holes.size, GAP, dtype=np.int8)
        tol = 0.5 * period
        for a, b in paused_s:  # few pauses: a loop over them
            hole_lab[(gap_start >= a - tol) & (gap_end <= b + tol)] = PAUSED
        b_lab = np.insert(b_lab, holes + 1, hole_lab)
    # merge neighbours with the same label
    keep = np.r_[True, b_lab[1:] != b_lab[:-1]]
    m_start = b_start[keep]
    m_end = np.maximum.reduceat(b_end, np.flatnonzero(keep))
    return ActivityBouts(m_start, m_end, b_lab[keep])
