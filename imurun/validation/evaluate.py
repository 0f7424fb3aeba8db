"""Scoring detected gait events against reference events.

Matching (:func:`match_events`): each reference event is paired with at most one detected event
and vice versa; pairs are formed nearest first, and only within ``tolerance_s``. A detected
event without a partner is a false positive, a reference event without one a false negative.
Timing errors are ``detected − reference`` over the matched pairs (positive = late).

Default tolerances (:data:`TOLERANCE_S`): 50 ms for running (a sixth of a step at 180
steps/min; a contact event further off than that is a failure, not an imprecision), 200 ms for
walking (below half a step at 150 steps/min). Only events inside a trial's evaluation windows
count (detections up to one tolerance outside a window may match a reference inside it), and
not those within one tolerance of the start or end of the recording: there the partner of an
event may lie outside the recording (a contact that began before the window has a toe-off but
no initial contact), so a miss cannot be told from a truncation.

Contact time is scored per step where the detected IC matches a reference IC and the detected TO
of the same step matches that reference step's TO (the first reference TO before the next
reference IC). The per-trial contact-time error is the difference of the means over those steps.
Left/right accuracy is over matched ICs whose reference side is known.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imurun.signal.events import (
    RunningSettings,
    Side,
    StepEvents,
    WalkingSettings,
    detect_running_events,
    detect_walking_events,
)
from imurun.validation.datasets import DATASETS, DatasetNotFoundError, Trial, load_dataset

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

__all__ = [
    "TARGETS",
    "TOLERANCE_S",
    "PULSE_WIDTH_GRID",
    "RISE_WEIGHT_GRID",
    "CrossValidation",
    "EventMetrics",
    "GroupSummary",
    "Matches",
    "Target",
    "TrialResult",
    "ValidationResults",
    "WalkingCrossValidation",
    "evaluate_trial",
    "cross_validate_running",
    "cross_validate_walking",
    "match_events",
    "metric_value",
    "run_validation",
    "score_detections",
    "spring_mass_on_reference",
    "summarise",
    "target_met",
]

#: Matching tolerance per gait, seconds.
TOLERANCE_S: dict[str, float] = {"running": 0.05, "walking": 0.2}


@dataclass(frozen=True)
class Matches:
    """One-to-one pairs: ``ref[ref_idx[k]]`` ↔ ``det[det_idx[k]]``, error ``det − ref``."""

    ref_idx: IntArray
    det_idx: IntArray
    error_s: FloatArray
    n_ref: int
    n_det: int

    @property
    def tp(self) -> int:
        return int(self.ref_idx.size)

    @property
    def fp(self) -> int:
        return self.n_det - self.tp

    @property
    def fn(self) -> int:
        return self.n_ref - self.tp


def match_events(ref_s: npt.ArrayLike, det_s: npt.ArrayLike, tolerance_s: float) -> Matches:
    """Pair reference and detected event times one-to-one, nearest first, within tolerance.

    NaN entries never match (they still count in ``n_ref``/``n_det``).
    """
    ref = np.asarray(ref_s, dtype=np.float64).reshape(-1)
    det = np.asarray(det_s, dtype=np.float64).reshape(-1)
    empty = np.zeros(0, dtype=np.intp)
    if ref.size == 0 or det.size == 0:
        return Matches(empty, empty, np.zeros(0), int(ref.size), int(det.size))
    # candidate pairs: for sorted det, only neighbours within tolerance matter
    d = np.abs(ref[:, None] - det[None, :])
    i, j = np.nonzero(d <= tolerance_s + 1e-12)  # inclusive, robust to rounding
    order = np.argsort(d[i, j], kind="stable")
    i, j = i[order], j[order]
    used_r = np.zeros(ref.size, dtype=bool)
    used_d = np.zeros(det.size, dtype=bool)
    keep = np.zeros(i.size, dtype=bool)
    for k in range(i.size):  # loop over candidate pairs (a few per event)
        if not (used_r[i[k]] or used_d[j[k]]):
            used_r[i[k]] = used_d[j[k]] = True
            keep[k] = True
    ri, di = i[keep], j[keep]
    o = np.argsort(ri)
    ri, di = ri[o], di[o]
    return Matches(ri, di, det[di] - ref[ri], int(ref.size), int(det.size))


@dataclass(frozen=True)
class EventMetrics:
    """Detection counts and timing errors (seconds) of one event type."""

    n_ref: int
    n_det: int
    tp: int
    fp: int
    fn: int
    bias_s: float
    mae_s: float
    rmse_s: float
    sd_s: float
    max_abs_s: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else float("nan")

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int, errors_s: FloatArray) -> EventMetrics:
        e = np.asarray(errors_s, dtype=np.float64)
        if e.size:
            stats = (float(e.mean()), float(np.abs(e).mean()), float(np.sqrt(np.mean(e**2))),
                     float(e.std(ddof=1)) if e.size > 1 else 0.0, float(np.abs(e).max()))
        else:
            stats = (float("nan"),) * 5
        return cls(tp + fn, tp + fp, tp, fp, fn, *stats)

    @classmethod
    def pooled(cls, parts: Iterable[tuple[int, int, int, FloatArray]]) -> EventMetrics:
        tp = fp = fn = 0
        errs: list[FloatArray] = []
        for a, b, c, e in parts:
            tp, fp, fn = tp + a, fp + b, fn + c
            errs.append(e)
        return cls.from_counts(tp, fp, fn, np.concatenate(errs) if errs else np.zeros(0))


@dataclass(frozen=True)
class TrialResult:
    """Everything measured on one trial (arrays are per matched event or step)."""

    dataset: str
    trial_id: str
    gait: str
    condition: str
    speed_ms: float | None
    slope_pct: float | None
    subject_id: str
    ic_counts: tuple[int, int, int]
    ic_error_s: FloatArray
    ic_in_turn: npt.NDArray[np.bool_]
    to_counts: tuple[int, int, int] | None
    to_error_s: FloatArray
    contact_ref_s: FloatArray
    contact_det_s: FloatArray
    side_known: int
    side_correct: int
    side_unknown_det: int
    turn_counts: tuple[int, int, int]
    straight_counts: tuple[int, int, int]
    runtime_s: float
    duration_s: float
    missed_at: tuple[int, int, int, int] = (0, 0, 0, 0)
    false_between_same_foot: int = 0
    ref_same_foot: tuple[int, int, int, int] = (0, 0, 0, 0)
    #: Reference intervals (consecutive ICs of one evaluation window) longer than
    #: :data:`LONG_REF_INTERVAL` median intervals: how many, their total length (s), the total
    #: length of all intervals (s), and the false detections more than the tolerance inside one.
    long_ref_intervals: int = 0
    long_ref_interval_s: float = 0.0
    ref_interval_s: float = 0.0
    false_in_long_ref_interval: int = 0
    #: The reference side of each matched initial contact (aligned with ``ic_error_s``) and of
    #: every scored reference initial contact, matched or not (:class:`Side` codes).
    ic_ref_side: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    scored_ref_side: npt.NDArray[np.int8] = field(
        default_factory=lambda: np.zeros(0, np.int8))

    @property
    def ic(self) -> EventMetrics:
        return EventMetrics.from_counts(*self.ic_counts, self.ic_error_s)

    @property
    def to(self) -> EventMetrics | None:
        if self.to_counts is None:
            return None
        return EventMetrics.from_counts(*self.to_counts, self.to_error_s)

    @property
    def contact_error_s(self) -> FloatArray:
        return self.contact_det_s - self.contact_ref_s

    @property
    def mean_contact_error_s(self) -> float:
        if self.contact_ref_s.size == 0:
            return float("nan")
        return float(self.contact_det_s.mean() - self.contact_ref_s.mean())

    @property
    def side_accuracy(self) -> float:
        return self.side_correct / self.side_known if self.side_known else float("nan")


def _in_windows(t: FloatArray, windows: Sequence[tuple[float, float]], pad: float = 0.0,
                ) -> npt.NDArray[np.bool_]:
    m = np.zeros(t.shape, dtype=bool)
    for a, b in windows:
        m |= (t >= a - pad) & (t <= b + pad)
    return m


def _match_in_windows(ref: FloatArray, det: FloatArray, windows: Sequence[tuple[float, float]],
                      tol: float, data_span: tuple[float, float],
                      ) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Match per evaluation window.

    Returns ``(ref_idx, det_idx, ref_scored, det_false)``: the scored pairs, every scored
    reference event (matched or not) and every scored unmatched detection, as indices into
    ``ref`` and ``det``.

    Events are matched one-to-one within ``[a - tol, b + tol]``. Scored are reference events
    and unmatched detections inside the window, except within ``tol`` of a window edge that is
    also an edge of the recording (``data_span``): there an event's partner may lie outside
    the recording, so neither a miss nor a false alarm can be told.
    """
    ri_all: list[IntArray] = []
    di_all: list[IntArray] = []
    rs_all: list[IntArray] = []
    df_all: list[IntArray] = []
    for a, b in windows:
        lo = a + tol if a - data_span[0] < tol else a
        hi = b - tol if data_span[1] - b < tol else b
        r_sel = np.flatnonzero((ref >= a - tol) & (ref <= b + tol))
        d_sel = np.flatnonzero(np.isfinite(det) & (det >= a - tol) & (det <= b + tol))
        m = match_events(ref[r_sel], det[d_sel], tol)
        r_scored = (ref[r_sel] >= lo) & (ref[r_sel] <= hi)
        d_inside = (det[d_sel] >= lo) & (det[d_sel] <= hi)
        pair_scored = r_scored[m.ref_idx]
        d_matched = np.zeros(d_sel.size, dtype=bool)
        d_matched[m.det_idx] = True
        ri_all.append(r_sel[m.ref_idx[pair_scored]])
        di_all.append(d_sel[m.det_idx[pair_scored]])
        rs_all.append(r_sel[r_scored])
        df_all.append(d_sel[d_inside & ~d_matched])
    empty = np.zeros(0, dtype=np.intp)

    def cat(parts: list[IntArray]) -> IntArray:
        return np.concatenate(parts) if parts else empty

    return cat(ri_all), cat(di_all), cat(rs_all), cat(df_all)


def _counts(ri: IntArray, rs: IntArray, df: IntArray) -> tuple[int, int, int]:
    return int(ri.size), int(df.size), int(rs.size) - int(ri.size)


def detect(trial: Trial, running: RunningSettings | None = None,
           walking: WalkingSettings | None = None) -> StepEvents:
    """Run the detector that matches the trial's gait."""
    if trial.gait == "running":
        return detect_running_events(trial.bf_acc_ms2, trial.fs_hz, trial.bf_gyr_rads,
                                     segments=trial.segments, settings=running)
    return detect_walking_events(trial.bf_acc_ms2, trial.fs_hz, trial.bf_gyr_rads,
                                 segments=trial.segments, settings=walking)


def evaluate_trial(trial: Trial, *, running: RunningSettings | None = None,
                   walking: WalkingSettings | None = None,
                   tolerance_s: float | None = None) -> TrialResult:
    """Detect the events of ``trial`` and score them against its reference."""
    t0 = time.perf_counter()
    ev = detect(trial, running, walking)
    runtime = time.perf_counter() - t0
    # walking TO is scored whenever it is estimated, also on a trial where none was found
    # (its reference toe-offs are misses; skipping it would drop them from the recall, and
    # summarise() the whole data set's TO)
    cfg_walk = WalkingSettings() if walking is None else walking
    score_to = trial.gait == "running" or cfg_walk.estimate_to
    return score_detections(trial, ev.ic_s, ev.side, ev.to_s if score_to else None,
                            tolerance_s=tolerance_s, runtime_s=runtime)


def score_detections(trial: Trial, ic_s: npt.ArrayLike, side: npt.ArrayLike | None = None,
                     to_s: npt.ArrayLike | None = None, *, tolerance_s: float | None = None,
                     runtime_s: float = float("nan")) -> TrialResult:
    """Score detected events of ``trial`` against its reference, by the rules of this module.

    ``ic_s``: detected initial contacts, s, on the trial's time base; ``side``: their
    :class:`Side` codes (``None``: all unknown); ``to_s``: the toe-off of each detected step
    (same length as ``ic_s``; ``None``: toe-off is not scored). Any detector's output (a peer
    library's too) is scored exactly as :func:`evaluate_trial` scores imurun's.
    """
    tol = TOLERANCE_S[trial.gait] if tolerance_s is None else tolerance_s
    det_ic = np.asarray(ic_s, dtype=np.float64).reshape(-1)
    det_side = (np.full(det_ic.size, Side.UNKNOWN, dtype=np.int8) if side is None
                else np.asarray(side).reshape(-1))
    det_to = None if to_s is None else np.asarray(to_s, dtype=np.float64).reshape(-1)
    if det_side.shape != det_ic.shape or (det_to is not None and det_to.shape != det_ic.shape):
        raise ValueError(f"side and to_s must have the shape of ic_s {det_ic.shape}")
    win = trial.eval_windows_s
    ref_ic = trial.ref_ic_s
    span = (0.0, trial.duration_s)
    ri, di, rs, df = _match_in_windows(ref_ic, det_ic, win, tol, span)
    ic_counts = _counts(ri, rs, df)
    ic_err = det_ic[di] - ref_ic[ri]
    turns = trial.turn_windows_s
    in_turn = _in_windows(ref_ic[ri], turns)
    rs_turn = _in_windows(ref_ic[rs], turns)
    df_turn = _in_windows(det_ic[df], turns)
    turn_counts = _counts(ri[in_turn], rs[rs_turn], df[df_turn])
    straight_counts = _counts(ri[~in_turn], rs[~rs_turn], df[~df_turn])

    to_counts: tuple[int, int, int] | None = None
    to_err = np.zeros(0)
    c_ref = np.zeros(0)
    c_det = np.zeros(0)
    if det_to is not None:
        rti, dti, rts, dtf = _match_in_windows(trial.ref_to_s, det_to, win, tol, span)
        to_counts = _counts(rti, rts, dtf)
        to_err = det_to[dti] - trial.ref_to_s[rti]
        # contact time over steps whose IC and TO both matched the same reference step
        ref_step_to = (_next_to(trial.ref_ic_s, trial.ref_to_s) if trial.gait == "running"
                       else _own_to(trial.ref_ic_s, trial.ref_ic_side, trial.ref_to_s,
                                    trial.ref_to_side))
        det_to_for_ref_to = dict(zip(rti.tolist(), dti.tolist(), strict=True))
        cr, cd = [], []
        for r, d in zip(ri.tolist(), di.tolist(), strict=True):
            rt = ref_step_to[r]
            if rt < 0 or det_to_for_ref_to.get(rt) != d:
                continue
            cr.append(trial.ref_to_s[rt] - trial.ref_ic_s[r])
            cd.append(det_to[d] - det_ic[d])
        c_ref, c_det = np.asarray(cr, dtype=np.float64), np.asarray(cd, dtype=np.float64)

    missed_at = _missed_positions(ref_ic, ri, rs, win, turns)
    pairs, same_foot = _same_foot_pairs(ref_ic, trial.ref_ic_side, win, turns)
    fd = det_ic[df]
    false_same_foot = int(np.count_nonzero(_inside_any(fd, pairs, tol)))
    long_rows, all_s = _long_ref_intervals(ref_ic, win)
    false_long = int(np.count_nonzero(_inside_any(fd, long_rows, tol)))
    ref_side = trial.ref_ic_side[ri]
    det_side = det_side[di]
    known = ref_side != Side.UNKNOWN
    side_known = int(np.count_nonzero(known & (det_side != Side.UNKNOWN)))
    side_correct = int(np.count_nonzero(known & (det_side == ref_side)))
    side_unknown = int(np.count_nonzero(known & (det_side == Side.UNKNOWN)))
    cond = trial.condition
    return TrialResult(
        dataset=trial.dataset, trial_id=trial.trial_id, gait=trial.gait, condition=cond.label,
        speed_ms=cond.speed_ms, slope_pct=cond.slope_pct, subject_id=trial.subject.subject_id,
        ic_counts=ic_counts, ic_error_s=ic_err, ic_in_turn=in_turn,
        to_counts=to_counts, to_error_s=to_err, contact_ref_s=c_ref, contact_det_s=c_det,
        side_known=side_known + side_unknown, side_correct=side_correct,
        side_unknown_det=side_unknown, turn_counts=turn_counts, straight_counts=straight_counts,
        runtime_s=runtime_s, duration_s=trial.duration_s, missed_at=missed_at,
        false_between_same_foot=false_same_foot, ref_same_foot=same_foot,
        long_ref_intervals=int(long_rows.shape[0]),
        long_ref_interval_s=float(np.sum(long_rows[:, 1] - long_rows[:, 0])),
        ref_interval_s=all_s, false_in_long_ref_interval=false_long,
        ic_ref_side=ref_side.astype(np.int8), scored_ref_side=trial.ref_ic_side[rs].astype(np.int8))


def _same_foot_pairs(ref: FloatArray, side: npt.NDArray[np.integer[Any]],
                     windows: Sequence[tuple[float, float]],
                     turns: Sequence[tuple[float, float]],
                     ) -> tuple[FloatArray, tuple[int, int, int, int]]:
    """Consecutive reference ICs of the same foot (walking alternates feet).

    Between two such contacts the reference lists no contact of the other foot: it was set
    down unlisted, or it pivoted without leaving the ground. Returns the pairs' ``(start,
    end)`` rows and the counts ``(same-foot pairs, pairs of known sides)`` outside turns,
    then in turns (a pair is in a turn when its midpoint is).
    """
    rows: list[FloatArray] = []
    counts = np.zeros(4, dtype=np.int64)
    for a, b in windows:
        m = (ref >= a) & (ref <= b)
        r, sd = ref[m], side[m]
        if r.size < 2:
            continue
        known = (sd[1:] != Side.UNKNOWN) & (sd[:-1] != Side.UNKNOWN)
        same = known & (sd[1:] == sd[:-1])
        in_turn = _in_windows(0.5 * (r[1:] + r[:-1]), turns)
        counts += [np.count_nonzero(same & ~in_turn), np.count_nonzero(known & ~in_turn),
                   np.count_nonzero(same & in_turn), np.count_nonzero(known & in_turn)]
        rows.append(np.column_stack([r[:-1][same], r[1:][same]]))
    pairs = np.concatenate(rows) if rows else np.zeros((0, 2))
    c = counts.tolist()
    return pairs, (c[0], c[1], c[2], c[3])


#: A reference interval this many times the trial's median interval between consecutive
#: initial contacts (a usual step) or longer leaves room for a contact the reference does not list.
LONG_REF_INTERVAL = 2.0


def _inside_any(t: FloatArray, rows: FloatArray, margin: float) -> npt.NDArray[np.bool_]:
    """Which of ``t`` lie more than ``margin`` inside one of the ``(start, end)`` rows."""
    if rows.size == 0:
        return np.zeros(t.size, dtype=bool)
    return np.any((t[:, None] > rows[None, :, 0] + margin)
                  & (t[:, None] < rows[None, :, 1] - margin), axis=1)


def _long_ref_intervals(ref: FloatArray, windows: Sequence[tuple[float, float]],
                        ) -> tuple[FloatArray, float]:
    """Intervals between consecutive reference ICs of one window that are unusually long.

    Returns the ``(start, end)`` rows of the intervals of at least :data:`LONG_REF_INTERVAL`
    times the median interval of the trial (over all its windows), and the total length of
    all intervals (s).
    """
    rows = []
    for a, b in windows:
        r = ref[(ref >= a) & (ref <= b)]
        if r.size >= 2:
            rows.append(np.column_stack([r[:-1], r[1:]]))
    if not rows:
        return np.zeros((0, 2)), 0.0
    iv = np.concatenate(rows)
    d = iv[:, 1] - iv[:, 0]
    long = d >= LONG_REF_INTERVAL * float(np.median(d))
    return iv[long], float(d.sum())


def _missed_positions(ref: FloatArray, ri: IntArray, rs: IntArray,
                      windows: Sequence[tuple[float, float]],
                      turns: Sequence[tuple[float, float]]) -> tuple[int, int, int, int]:
    """Missed reference ICs by where they are.

    ``(in a turn, first of its evaluation window, last of its window, elsewhere)``; a miss in
    a turn counts only as a turn.
    """
    missed = np.setdiff1d(rs, ri)
    if missed.size == 0:
        return (0, 0, 0, 0)
    t = ref[missed]
    in_turn = _in_windows(t, turns)
    first = np.zeros(missed.size, dtype=bool)
    last = np.zeros(missed.size, dtype=bool)
    for a, b in windows:
        inside = np.flatnonzero((ref >= a) & (ref <= b))
        if inside.size:
            first |= missed == inside[0]
            last |= missed == inside[-1]
    first &= ~in_turn
    last &= ~in_turn & ~first
    n_turn, n_first, n_last = int(in_turn.sum()), int(first.sum()), int(last.sum())
    return (n_turn, n_first, n_last, int(missed.size) - n_turn - n_first - n_last)


def _next_to(ic: FloatArray, to: FloatArray) -> IntArray:
    """For each IC, the index of the first TO after it and before the next IC (or -1)."""
    j = np.searchsorted(to, ic, side="right")
    nxt = np.r_[ic[1:], np.inf]
    ok = (j < to.size)
    ok[ok] = to[j[ok]] < nxt[ok]
    return np.where(ok, j, -1)


def _own_to(ic: FloatArray, ic_side: npt.NDArray[np.integer[Any]], to: FloatArray,
            to_side: npt.NDArray[np.integer[Any]]) -> IntArray:
    """Walking: for each IC, the index of its own foot's TO (or -1).

    The first TO of the same side after the IC and before that foot's next IC; in walking it
    comes after the other foot's IC (double support). -1 when the side is unknown.
    """
    out = np.full(ic.size, -1, dtype=np.intp)
    for side in (Side.LEFT, Side.RIGHT):
        k = np.flatnonzero(ic_side == side)
        t = np.flatnonzero(to_side == side)
        if k.size == 0 or t.size == 0:
            continue
        j = np.searchsorted(to[t], ic[k], side="right")
        nxt = np.r_[ic[k][1:], np.inf]
        ok = j < t.size
        ok[ok] = to[t[j[ok]]] < nxt[ok]
        out[k[ok]] = t[j[ok]]
    return out


@dataclass(frozen=True)
class GroupSummary:
    """Pooled metrics over a group of trials."""

    label: str
    n_trials: int
    ic: EventMetrics
    to: EventMetrics | None
    contact_bias_s: float
    contact_rmse_s: float
    n_contact: int
    trial_mean_contact_max_abs_s: float
    side_accuracy: float
    side_n: int
    straight: EventMetrics
    turn: EventMetrics


def summarise(results: Sequence[TrialResult], label: str) -> GroupSummary:
    """Pool the trials of one group."""
    ic = EventMetrics.pooled((*r.ic_counts, r.ic_error_s) for r in results)
    to = None
    if all(r.to_counts is not None for r in results) and results:
        to = EventMetrics.pooled((*r.to_counts, r.to_error_s) for r in results  # type: ignore[misc]
                                 )
    ce = np.concatenate([r.contact_error_s for r in results]) if results else np.zeros(0)
    trial_means = np.array([r.mean_contact_error_s for r in results if r.contact_ref_s.size])
    side_n = sum(r.side_known for r in results)
    side_ok = sum(r.side_correct for r in results)
    straight = EventMetrics.pooled(
        (*r.straight_counts, r.ic_error_s[~r.ic_in_turn]) for r in results)
    turn = EventMetrics.pooled((*r.turn_counts, r.ic_error_s[r.ic_in_turn]) for r in results)
    return GroupSummary(
        label=label, n_trials=len(results), ic=ic, to=to,
        contact_bias_s=float(ce.mean()) if ce.size else float("nan"),
        contact_rmse_s=float(np.sqrt(np.mean(ce**2))) if ce.size else float("nan"),
        n_contact=int(ce.size),
        trial_mean_contact_max_abs_s=float(np.abs(trial_means).max()) if trial_means.size
        else float("nan"),
        side_accuracy=side_ok / side_n if side_n else float("nan"), side_n=side_n,
        straight=straight, turn=turn)


@dataclass(frozen=True)
class ValidationResults:
    """Results of :func:`run_validation` (trials in load order) and how they were made."""

    trials: tuple[TrialResult, ...]
    running: RunningSettings
    walking: WalkingSettings
    tolerance_s: dict[str, float]
    data_root: str
    missing: tuple[str, ...]
    version: str = field(default_factory=lambda: __import__("imurun").__version__)

    def datasets(self) -> list[str]:
        seen: list[str] = []
        for r in self.trials:
            if r.dataset not in seen:
                seen.append(r.dataset)
        return seen

    def by_dataset(self, name: str) -> list[TrialResult]:
        return [r for r in self.trials if r.dataset == name]

    def summary(self, name: str) -> GroupSummary:
        return summarise(self.by_dataset(name), name)

    def groups(self, name: str, key: Callable[[TrialResult], str]) -> list[GroupSummary]:
        """Pooled metrics of one data set split by ``key`` (e.g. slope), in sorted order."""
        rs = self.by_dataset(name)
        labels = sorted({key(r) for r in rs}, key=_natural)
        return [summarise([r for r in rs if key(r) == lab], lab) for lab in labels]


def _natural(s: str) -> tuple[float, str]:
    try:
        return (float(s.split()[0].replace("%", "")), s)
    except (ValueError, IndexError):
        return (float("inf"), s)


def run_validation(names: Sequence[str] | None = None, root: Path | None = None, *,
                   running: RunningSettings | None = None, walking: WalkingSettings | None = None,
                   tolerance_s: dict[str, float] | None = None,
                   skip_missing: bool = True) -> ValidationResults:
    """Run the detectors over every trial of the named data sets (default: all).

    A data set whose folder is missing is listed in ``missing`` (or raises when
    ``skip_missing`` is false).
    """
    from imurun.validation.datasets import shared_data_root

    run_cfg = RunningSettings() if running is None else running
    walk_cfg = WalkingSettings() if walking is None else walking
    tol = dict(TOLERANCE_S if tolerance_s is None else tolerance_s)
    out: list[TrialResult] = []
    missing: list[str] = []
    for name in names or tuple(DATASETS):
        try:
            trials = load_dataset(name, root)
        except DatasetNotFoundError:
            if not skip_missing:
                raise
            missing.append(name)
            continue
        for tr in trials:
            out.append(evaluate_trial(tr, running=run_cfg, walking=walk_cfg,
                                      tolerance_s=tol[tr.gait]))
    return ValidationResults(trials=tuple(out), running=run_cfg, walking=walk_cfg,
                             tolerance_s=tol, data_root=str(root or shared_data_root()),
                             missing=tuple(missing))


@dataclass(frozen=True)
class CrossValidation:
    """Leave-one-group-out check of the running parameter fitted on the force data set.

    The one running parameter chosen on alcantara2022 is ``to_pulse_width`` (how much wider
    than a half-sine a contact pulse is at its base). For each group (e.g. a slope) it is
    refitted on the other groups (the grid value with the lowest per-step contact-time RMSE)
    and the held-out group is scored with it. Nothing else is fitted: IC is the braking onset
    without a latency, the contact and body-weight levels are physical.
    """

    groups: tuple[str, ...]
    pulse_width: tuple[float, ...]
    held_out: tuple[GroupSummary, ...]
    pooled: GroupSummary


#: Grid of ``to_pulse_width`` values searched by :func:`cross_validate_running`.
PULSE_WIDTH_GRID: tuple[float, ...] = tuple(round(0.95 + 0.01 * k, 2) for k in range(21))


def cross_validate_running(trials: Sequence[Trial], key: Callable[[Trial], str], *,
                           grid: Sequence[float] = PULSE_WIDTH_GRID,
                           base: RunningSettings | None = None) -> CrossValidation:
    """Leave-one-group-out estimate of how the fitted running parameter generalises."""
    from dataclasses import replace

    cfg0 = RunningSettings() if base is None else base
    labels = sorted({key(t) for t in trials}, key=_natural)
    per_value: dict[float, list[TrialResult]] = {
        w: [evaluate_trial(t, running=replace(cfg0, to_pulse_width=w)) for t in trials]
        for w in grid}
    widths: list[float] = []
    held: list[GroupSummary] = []
    held_results: list[TrialResult] = []
    for lab in labels:
        train = [i for i, t in enumerate(trials) if key(t) != lab]
        test = [i for i, t in enumerate(trials) if key(t) == lab]

        def rmse(w: float, idx: list[int] = train) -> float:
            ce = np.concatenate([per_value[w][i].contact_error_s for i in idx])
            return float(np.sqrt(np.mean(ce**2))) if ce.size else float("inf")

        w = min(grid, key=rmse)
        res = [per_value[w][i] for i in test]
        widths.append(w)
        held.append(summarise(res, lab))
        held_results.extend(res)
    return CrossValidation(groups=tuple(labels), pulse_width=tuple(widths),
                           held_out=tuple(held), pooled=summarise(held_results, "pooled"))


def _first_after(events: FloatArray, t: FloatArray) -> FloatArray:
    """For each ``t``, the first of the sorted ``events`` after it (NaN if none)."""
    j = np.searchsorted(events, t, side="right")
    out = np.full(t.shape, np.nan)
    hit = (j < events.size) & np.isfinite(t)
    out[hit] = events[j[hit]]
    return out


def spring_mass_on_reference(trial: Trial, pulse_width: float, *,
                             step_impulse: bool = True) -> tuple[FloatArray, FloatArray]:
    """The running contact-time model fed with the force plate's own timings, for one trial.

    The detector's toe-off is the spring-mass model (:func:`~imurun.signal.events.
    spring_mass_contact_s`) given IC, the step time (weighted by the step's share of the
    vertical impulse, :func:`~imurun.signal.events.impulse_weighted_step_s`, unless
    ``step_impulse`` is false) and the time the vertical force falls through body weight, all
    measured at the sacrum. Here they come from the reference vGRF instead (reference IC, the
    next reference IC, the force's impulse between them, the downward 1 BW crossing after the
    centroid of the stance's force): what is left is the model's own error, what a perfect
    sensor would still get. Returns (model contact, reference contact) per step, s.
    """
    from imurun.signal.events import impulse_weighted_step_s, spring_mass_contact_s

    f = trial.ref_vgrf_bw
    if f is None:
        raise ValueError(f"{trial.dataset} {trial.trial_id} has no force reference")
    fs = trial.fs_hz
    ic, nxt = trial.ref_ic_s[:-1], trial.ref_ic_s[1:]
    to_of = _first_after(trial.ref_to_s, ic)
    keep = np.isfinite(to_of) & (to_of < nxt)
    ic, nxt, to_of = ic[keep], nxt[keep], to_of[keep]
    # the centroid of the stance's force, then its first fall through 1 BW after it
    cf = np.concatenate(([0.0], np.cumsum(f)))
    cfi = np.concatenate(([0.0], np.cumsum(f * np.arange(f.size))))
    a = np.clip(np.ceil(ic * fs).astype(np.intp), 0, f.size)
    b = np.clip(np.floor(to_of * fs).astype(np.intp) + 1, 0, f.size)
    mass = cf[b] - cf[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        centroid = np.where(mass > 0, (cfi[b] - cfi[a]) / mass, np.nan)
    k = np.flatnonzero((f[:-1] >= 1.0) & (f[1:] < 1.0))
    fall = (k + (f[k] - 1.0) / (f[k] - f[k + 1])) / fs
    t_bw = _first_after(fall, centroid / fs)
    step = nxt - ic
    if step_impulse:
        end = np.clip(np.floor(nxt * fs).astype(np.intp) + 1, 0, f.size)
        step = impulse_weighted_step_s(cf[end] - cf[a], ic, step)
    tc = spring_mass_contact_s(t_bw - ic, step, pulse_width)
    ok = np.isfinite(tc) & (t_bw < to_of)
    return tc[ok], (to_of - ic)[ok]


@dataclass(frozen=True)
class WalkingCrossValidation:
    """Leave-one-group-out check of what was chosen on the walking references.

    The walking IC is a weighted mean of two markers (``WalkingSettings.ic_rise_weight``,
    chosen on these data) and may carry a constant offset (``ic_offset_s``, 0 by default).
    For each group (a data set, or a subject) the weight is refitted on the other groups (the
    grid value with the lowest pooled IC mean absolute error) and, with ``fit_offset``, the
    offset too (minus the median error of the other groups' matched ICs); the held-out group
    is scored with them.
    """

    groups: tuple[str, ...]
    rise_weight: tuple[float, ...]
    offset_s: tuple[float, ...]
    held_out: tuple[GroupSummary, ...]
    pooled: tuple[GroupSummary, ...]  # held-out results pooled per data set


#: Grid of ``ic_rise_weight`` values searched by :func:`cross_validate_walking`.
RISE_WEIGHT_GRID: tuple[float, ...] = tuple(k / 8 for k in range(9))


def cross_validate_walking(trials: Sequence[Trial], key: Callable[[Trial], str], *,
                           fit_offset: bool = False,
                           grid: Sequence[float] = RISE_WEIGHT_GRID,
                           base: WalkingSettings | None = None,
                           cache: dict[float, list[TrialResult]] | None = None,
                           ) -> WalkingCrossValidation:
    """Leave-one-group-out estimate for the walking choices made on the references.

    ``cache`` (weight -> results of ``trials`` in order) may be shared between calls.
    """
    from dataclasses import replace

    cfg0 = WalkingSettings() if base is None else base
    per_w = {} if cache is None else cache
    for w in grid:
        if w not in per_w:
            per_w[w] = [evaluate_trial(t, walking=replace(cfg0, ic_rise_weight=w))
                        for t in trials]
    labels = sorted({key(t) for t in trials}, key=_natural)
    weights: list[float] = []
    offsets: list[float] = []
    held: list[GroupSummary] = []
    held_results: list[TrialResult] = []
    for lab in labels:
        train = [i for i, t in enumerate(trials) if key(t) != lab]
        test = [i for i, t in enumerate(trials) if key(t) == lab]

        def mae(w: float, idx: list[int] = train) -> float:
            e = np.concatenate([np.zeros(0), *(per_w[w][i].ic_error_s for i in idx)])
            return float(np.mean(np.abs(e))) if e.size else float("inf")

        # nothing to train on (a single group): the held-out group keeps the default weight
        w = min(grid, key=mae) if train else cfg0.ic_rise_weight
        if w not in per_w:
            per_w[w] = [evaluate_trial(t, walking=replace(cfg0, ic_rise_weight=w))
                        for t in trials]
        off = 0.0
        if fit_offset and train:
            e = np.concatenate([np.zeros(0), *(per_w[w][i].ic_error_s for i in train)])
            off = -float(np.median(e)) if e.size else 0.0
        if off == 0.0:
            res = [per_w[w][i] for i in test]
        else:
            cfg = replace(cfg0, ic_rise_weight=w, ic_offset_s=off)
            res = [evaluate_trial(trials[i], walking=cfg) for i in test]
        weights.append(w)
        offsets.append(off)
        held.append(summarise(res, lab))
        held_results.extend(res)
    names = sorted({r.dataset for r in held_results})
    pooled = tuple(summarise([r for r in held_results if r.dataset == n], n) for n in names)
    return WalkingCrossValidation(groups=tuple(labels), rise_weight=tuple(weights),
                                  offset_s=tuple(offsets), held_out=tuple(held), pooled=pooled)


@dataclass(frozen=True)
class Target:
    """One accuracy target from the issue: ``metric`` of ``dataset`` must be ``op`` ``limit``."""

    key: str
    dataset: str
    description: str
    limit: float
    op: str  # "<=" or ">="
    unit: str


#: The accuracy targets (issue text). Values in SI (seconds) or fractions.
TARGETS: tuple[Target, ...] = (
    Target("ic_mae", "alcantara2022", "IC mean absolute error", 0.010, "<=", "ms"),
    Target("to_mae", "alcantara2022", "TO mean absolute error", 0.015, "<=", "ms"),
    Target("contact_trial_mean", "alcantara2022",
           "per-trial mean contact time error (worst trial)", 0.010, "<=", "ms"),
    Target("contact_rmse", "alcantara2022", "per-step contact time RMSE", 0.015, "<=", "ms"),
    Target("ic_precision", "alcantara2022", "IC precision", 0.99, ">=", "%"),
    Target("ic_recall", "alcantara2022", "IC recall", 0.99, ">=", "%"),
    Target("to_precision", "alcantara2022", "TO precision", 0.99, ">=", "%"),
    Target("to_recall", "alcantara2022", "TO recall", 0.99, ">=", "%"),
    Target("ic_f1", "mobgap_lab", "IC F1", 0.98, ">=", "%"),
    Target("ic_mae", "mobgap_lab", "IC mean absolute error", 0.025, "<=", "ms"),
    Target("side", "mobgap_lab", "left/right accuracy", 0.98, ">=", "%"),
    Target("ic_f1", "voisard_ipol", "IC F1", 0.98, ">=", "%"),
    Target("ic_mae", "voisard_ipol", "IC mean absolute error", 0.025, "<=", "ms"),
    Target("side", "voisard_ipol", "left/right accuracy", 0.98, ">=", "%"),
)


def metric_value(summary: GroupSummary, key: str) -> float:
    """The value of a target ``key`` in a pooled summary."""
    to = summary.to
    values = {
        "ic_mae": summary.ic.mae_s,
        "ic_f1": summary.ic.f1,
        "ic_precision": summary.ic.precision,
        "ic_recall": summary.ic.recall,
        "to_mae": to.mae_s if to else float("nan"),
        "to_precision": to.precision if to else float("nan"),
        "to_recall": to.recall if to else float("nan"),
        "contact_trial_mean": summary.trial_mean_contact_max_abs_s,
        "contact_rmse": summary.contact_rmse_s,
        "side": summary.side_accuracy,
    }
    return float(values[key])


def target_met(target: Target, value: float) -> bool:
    if not np.isfinite(value):
        return False
    return value <= target.limit if target.op == "<=" else value >= target.limit
