"""Why the remaining walking errors happen: each wrong side, and the IC errors by cause.

Two generated tables for ``docs/validation.md`` (:func:`walking_errors_section`):

* **Wrong sides**, one row per matched initial contact whose side differs from the
  reference's: where it is (turn, first step of a walk, the step that closes it, straight
  walking), the side evidence of the step (:func:`~imurun.signal.events.assign_sides`: the
  lateral velocity change over the detected step, m/s, positive = left) and the evidence the
  same cue gives over the *reference's* step (its IC to the next reference IC), and the
  detection errors next to it. The side of a step is measured over the window from its IC to
  the next detected IC, so a missed or a false detection next to a step changes what the cue
  sees: a missed contact inside the window makes it span two steps (whose lateral velocity
  changes cancel), a false one cuts it short; and the alternation decoder carries a wrong
  neighbour's side along.
* **IC errors by cause**: a missed reference IC where the recording has no samples to analyse
  (a packet-loss gap, or a piece of signal between gaps shorter than the detector's
  ``min_segment_s``); a missed IC and a false detection that are each other's nearest (the
  contact was found, further off than the matching tolerance: it counts once as a miss and
  once as a false detection); and the misses and false detections left, in and out of turns.

Nothing here changes a score; it explains the scores of :mod:`imurun.validation.evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from imurun.signal.events import Side, StepEvents, WalkingSettings, assign_sides
from imurun.validation.datasets import Trial
from imurun.validation.evaluate import TOLERANCE_S, _in_windows, _match_in_windows, detect

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

__all__ = ["IcErrorCauses", "SideError", "ic_error_causes", "side_errors",
           "walking_errors_section"]


@dataclass(frozen=True)
class SideError:
    """One matched walking IC whose side is not the reference's."""

    dataset: str
    trial_id: str
    ref_ic_s: float
    det_ic_s: float
    ref_side: int
    det_side: int
    where: str  # "turn", "first of a walk", "closing step" or "straight"
    evidence: float  # over the detected step, m/s, positive = left
    ref_evidence: float  # over the reference's step (its IC to the next reference IC)
    missed_in_step: tuple[float, ...]  # missed reference ICs inside the detected step
    missed_before: tuple[float, ...]  # ... inside the step before it
    false_next: float | None  # the next detection, when it is a false one
    false_previous: float | None  # the previous detection, when it is a false one

    @property
    def evidence_agrees(self) -> bool:
        return bool(np.sign(self.evidence) == (1 if self.ref_side == Side.LEFT else -1))

    @property
    def ref_evidence_agrees(self) -> bool:
        return bool(np.sign(self.ref_evidence) == (1 if self.ref_side == Side.LEFT else -1))

    @property
    def next_to_detection_error(self) -> bool:
        """A missed or false IC within one step of this one."""
        return bool(self.missed_in_step or self.missed_before
                    or self.false_next is not None or self.false_previous is not None)

    def cause(self) -> str:
        """The detection errors next to the step and what the decoder did, in words."""
        parts = []
        if self.missed_in_step:
            parts.append("the step's window spans the missed contact at "
                         + ", ".join(f"{t:.2f}" for t in self.missed_in_step) + " s")
        if self.missed_before:
            parts.append("the step before spans the missed contact at "
                         + ", ".join(f"{t:.2f}" for t in self.missed_before) + " s")
        if self.false_next is not None:
            parts.append(f"the step is cut short by a false detection at {self.false_next:.2f} s")
        if self.false_previous is not None:
            parts.append(f"the detection before it ({self.false_previous:.2f} s) is false")
        if not parts:
            parts.append("no detection error next to it")
        parts.append("its own evidence " + ("agrees; the alternation overruled it"
                                             if self.evidence_agrees else "is contrary"))
        return "; ".join(parts)


def _segment_of(trial: Trial, ic_s: FloatArray) -> IntArray:
    idx = ic_s * trial.fs_hz
    seg = np.full(ic_s.size, -1, dtype=np.intp)
    for k, (a, b) in enumerate(trial.segments):
        seg[(idx >= a) & (idx < b)] = k
    return seg


def _reference_evidence(trial: Trial, settings: WalkingSettings) -> FloatArray:
    """The side cue over each reference step (reference IC to the next), without decoding."""
    seg = _segment_of(trial, trial.ref_ic_s)
    out = np.full(trial.ref_ic_s.size, np.nan)
    ok = seg >= 0
    _, ev = assign_sides(trial.bf_acc_ms2, trial.fs_hz, trial.ref_ic_s[ok] * trial.fs_hz,
                         seg[ok], trial.bf_gyr_rads, segments=trial.segments,
                         settings=replace(settings.sides, use_alternation=False))
    out[ok] = ev
    return out


def _where(trial: Trial, t: float) -> str:
    if _in_windows(np.array([t]), trial.turn_windows_s)[0]:
        return "turn"
    for a, b in trial.eval_windows_s:
        inside = trial.ref_ic_s[(trial.ref_ic_s >= a) & (trial.ref_ic_s <= b)]
        if inside.size and t == inside[0]:
            return "first of a walk"
        if inside.size and t == inside[-1]:
            return "closing step"
    return "straight"


def side_errors(trial: Trial, settings: WalkingSettings | None = None,
                events: StepEvents | None = None) -> list[SideError]:
    """Every matched IC of a walking ``trial`` whose side is not the reference's.

    Matching and scoring as in :func:`~imurun.validation.evaluate.evaluate_trial` (a detected
    side *unknown* against a known reference side is listed too).
    """
    cfg = WalkingSettings() if settings is None else settings
    ev = detect(trial, walking=cfg) if events is None else events
    tol = TOLERANCE_S[trial.gait]
    ref = trial.ref_ic_s
    ri, di, rs, df = _match_in_windows(ref, ev.ic_s, trial.eval_windows_s, tol,
                                       (0.0, trial.duration_s))
    ref_side, det_side = trial.ref_ic_side[ri], ev.side[di]
    wrong = np.flatnonzero((ref_side != Side.UNKNOWN) & (det_side != ref_side))
    if wrong.size == 0:
        return []
    # as scored: outside the evaluation windows a detection has no reference to be false against
    det_false = np.zeros(ev.ic_s.size, dtype=bool)
    det_false[df] = True
    missed = np.setdiff1d(rs, ri)
    ref_ev = _reference_evidence(trial, cfg)
    out = []
    for k in wrong.tolist():
        r, d = int(ri[k]), int(di[k])
        t = ev.ic_s
        prev_t = t[d - 1] if d > 0 else -np.inf
        next_t = t[d + 1] if d + 1 < t.size else np.inf
        missed_in = ref[missed[(ref[missed] > t[d]) & (ref[missed] < next_t)]]
        missed_pre = ref[missed[(ref[missed] > prev_t) & (ref[missed] < t[d])]]
        out.append(SideError(
            dataset=trial.dataset, trial_id=trial.trial_id, ref_ic_s=float(ref[r]),
            det_ic_s=float(t[d]), ref_side=int(ref_side[k]), det_side=int(det_side[k]),
            where=_where(trial, float(ref[r])), evidence=float(ev.side_evidence[d]),
            ref_evidence=float(ref_ev[r]),
            missed_in_step=tuple(float(x) for x in missed_in),
            missed_before=tuple(float(x) for x in missed_pre),
            false_next=float(next_t) if d + 1 < t.size and det_false[d + 1] else None,
            false_previous=float(prev_t) if d > 0 and det_false[d - 1] else None))
    return out


@dataclass(frozen=True)
class IcErrorCauses:
    """Missed reference ICs and false detections of a walking data set, by cause.

    ``missed_no_data``: where the recording has no samples the detector analyses.
    ``far_pairs``: a missed IC and a false detection that are each other's nearest (the
    nearest reference IC of the detection is that missed one, and the nearest false detection
    of the missed IC is that one); ``far_offsets_s`` their detected − reference times,
    ``far_in_turn`` whether the missed IC is in a turn, and ``far_step_after`` /
    ``far_step_before`` the reference's step that begins / ends at the missed IC, as a multiple
    of the trial's median reference step time (NaN at the ends of the reference).
    ``missed_other`` / ``false_other``: the rest, as ``(straight, in turns)``.
    """

    dataset: str
    n_ref: int
    missed: int
    false: int
    missed_no_data: int
    far_pairs: tuple[int, int]  # (straight, in turns)
    far_offsets_s: FloatArray
    far_in_turn: npt.NDArray[np.bool_]
    far_step_after: FloatArray
    far_step_before: FloatArray
    missed_other: tuple[int, int]
    false_other: tuple[int, int]


def ic_error_causes(dataset: str, trials: Sequence[Trial],
                    settings: WalkingSettings | None = None) -> IcErrorCauses:
    """Classify the scored misses and false detections of ``trials`` (one data set)."""
    cfg = WalkingSettings() if settings is None else settings
    n_ref = n_missed = n_false = n_gap = 0
    far = np.zeros(2, dtype=np.int64)
    m_other = np.zeros(2, dtype=np.int64)
    f_other = np.zeros(2, dtype=np.int64)
    offsets: list[float] = []
    in_turn: list[bool] = []
    step_after: list[float] = []
    step_before: list[float] = []
    for tr in trials:
        ev = detect(tr, walking=cfg)
        tol = TOLERANCE_S[tr.gait]
        ref, det = tr.ref_ic_s, ev.ic_s
        ri, _, rs, df = _match_in_windows(ref, det, tr.eval_windows_s, tol, (0.0, tr.duration_s))
        missed = np.setdiff1d(rs, ri)
        n_ref += rs.size
        n_missed += missed.size
        n_false += df.size
        # samples the detector analyses: segments at least min_segment_s long
        analysed = np.zeros(tr.n_samples + 1, dtype=bool)
        for a, b in tr.segments:
            if b - a >= cfg.min_segment_s * tr.fs_hz:
                analysed[a:b] = True
        no_data = ~analysed[np.clip(np.round(ref[missed] * tr.fs_hz).astype(np.intp), 0,
                                    tr.n_samples)]
        n_gap += int(no_data.sum())
        missed = missed[~no_data]
        paired_m = np.zeros(missed.size, dtype=bool)
        paired_f = np.zeros(df.size, dtype=bool)
        steps = np.diff(ref)
        # the trial's usual step: intervals of one step (not the gaps between walks)
        usual = steps[(steps > 0.3) & (steps < 1.5)]
        median_step = float(np.median(usual)) if usual.size else float("nan")
        if missed.size and df.size:
            near_ref = np.argmin(np.abs(ref[None, :] - det[df][:, None]), axis=1)
            near_false = np.argmin(np.abs(det[df][None, :] - ref[missed][:, None]), axis=1)
            for i, r in enumerate(missed.tolist()):
                j = int(near_false[i])
                if near_ref[j] == r:
                    paired_m[i] = paired_f[j] = True
                    offsets.append(float(det[df[j]] - ref[r]))
                    in_turn.append(bool(_in_windows(ref[[r]], tr.turn_windows_s)[0]))
                    step_after.append(float(steps[r]) / median_step if r < steps.size
                                      else float("nan"))
                    step_before.append(float(steps[r - 1]) / median_step if r > 0
                                       else float("nan"))
        m_turn = _in_windows(ref[missed], tr.turn_windows_s)
        f_turn = _in_windows(det[df], tr.turn_windows_s)
        far += [np.count_nonzero(paired_m & ~m_turn), np.count_nonzero(paired_m & m_turn)]
        m_other += [np.count_nonzero(~paired_m & ~m_turn), np.count_nonzero(~paired_m & m_turn)]
        f_other += [np.count_nonzero(~paired_f & ~f_turn), np.count_nonzero(~paired_f & f_turn)]
    return IcErrorCauses(dataset=dataset, n_ref=n_ref, missed=n_missed, false=n_false,
                         missed_no_data=n_gap, far_pairs=(int(far[0]), int(far[1])),
                         far_offsets_s=np.asarray(offsets, dtype=np.float64),
                         far_in_turn=np.asarray(in_turn, dtype=bool),
                         far_step_after=np.asarray(step_after, dtype=np.float64),
                         far_step_before=np.asarray(step_before, dtype=np.float64),
                         missed_other=(int(m_other[0]), int(m_other[1])),
                         false_other=(int(f_other[0]), int(f_other[1])))


def _side_name(code: int) -> str:
    return {int(Side.LEFT): "L", int(Side.RIGHT): "R"}.get(int(code), "unknown")


def walking_errors_section(trials: Sequence[Trial],
                           settings: WalkingSettings | None = None) -> str:
    """Markdown: the wrong sides of mobgap_lab and the walking IC errors by cause."""
    from imurun.validation._markdown import table as _table

    names = [n for n in ("mobgap_lab", "voisard_ipol") if any(t.dataset == n for t in trials)]
    lines: list[str] = []
    add = lines.append
    if not names:
        return ""
    add("### Why the remaining walking errors happen")
    add("")
    errs = [e for t in trials if t.dataset == "mobgap_lab" for e in side_errors(t, settings)]
    if "mobgap_lab" in names and not errs:
        add("Every matched side of mobgap_lab agrees with the reference.")
        add("")
    elif "mobgap_lab" in names:
        add("Every wrong side of mobgap_lab (a matched IC whose side is not the reference's). "
            "*Evidence* is the side cue of the detected step (the lateral velocity change from "
            "its IC to the next detected IC, m/s, positive = left); *at the reference's "
            "timing* is the same cue over the reference's step (its IC to the next reference "
            "IC). The side of a step is measured up to the next detected IC, so a missed "
            "contact inside that window makes it span two steps (whose lateral velocity "
            "changes cancel), a false detection cuts it short, and the alternation decoder "
            "carries a wrong neighbour along:")
        add("")
        rows = [[e.trial_id, f"{e.ref_ic_s:.2f}", _side_name(e.ref_side), _side_name(e.det_side),
                 f"{(e.det_ic_s - e.ref_ic_s) * 1e3:+.0f}", e.where, f"{e.evidence:+.3f}",
                 f"{e.ref_evidence:+.3f}", e.cause()] for e in errs]
        add(_table(["trial", "ref IC s", "ref side", "ours", "IC error ms", "where",
                    "evidence m/s", "at the reference's timing m/s",
                    "detection errors next to it"], rows))
        add("")
        n_near = sum(e.next_to_detection_error for e in errs)
        n_ref_ok = sum(e.ref_evidence_agrees for e in errs)
        text = (f"{n_near} of the {len(errs)} wrong sides have a missed or a false IC within "
                f"one step; at the reference's timing the cue gives the reference's side for "
                f"{n_ref_ok} of them.")
        if errs and n_near == len(errs) == n_ref_ok:
            text += (" They are errors of step detection, not of the side cue: a change of the "
                     f"side decoder made for them would be fitted to {len(errs)} steps.")
        add(text)
        add("")
    add("The walking IC errors by cause: a missed reference IC where the recording has no "
        "samples the detector analyses (a packet-loss gap, or signal between gaps shorter "
        "than `min_segment_s`); a missed IC and a false detection that are each other's "
        "nearest (*paired*: the contact timed further off than the matching tolerance, or "
        "another trunk event next to a contact that left no trace; each pair counts as one "
        "miss and one false detection); the misses and false detections left:")
    add("")
    rows = []
    causes = {n: ic_error_causes(n, [t for t in trials if t.dataset == n], settings)
              for n in names}
    for n in names:
        c = causes[n]
        off = np.abs(c.far_offsets_s)
        med = f"{np.median(off) * 1e3:.0f}" if off.size else "–"
        rows.append([n, str(c.n_ref), str(c.missed), str(c.false), str(c.missed_no_data),
                     str(c.far_pairs[0]), str(c.far_pairs[1]), med,
                     str(c.missed_other[0]), str(c.missed_other[1]),
                     str(c.false_other[0]), str(c.false_other[1])])
    add(_table(["data set", "ref ICs", "missed", "false", "missed where no data",
                "paired, straight", "paired, in turns",
                "paired: median offset ms", "other misses, straight", "other misses, in turns",
                "other false, straight", "other false, in turns"], rows))
    add("")
    add("The paired errors by direction: for each group, the reference's step that begins at "
        "the missed IC and the one that ends there, as a multiple of the trial's median "
        "reference step time (1 = a usual step). A detection *late* by more than the matching "
        "tolerance, where the reference's step from the missed IC is long, fits a foot that "
        "touched down before it took the body's weight (as in a pivot): the trunk shows the "
        "loading, the foot sensor the touch. Each pair is scored once as a miss and once as "
        "a false detection:")
    add("")
    rows = []
    for n in names:
        c = causes[n]
        for turn in (True, False):
            for late in (True, False):
                m = (c.far_in_turn == turn) & ((c.far_offsets_s > 0) == late)
                if not m.any():
                    continue
                rows.append([n, "in turns" if turn else "straight", "late" if late else "early",
                             str(int(m.sum())),
                             f"{np.median(c.far_offsets_s[m]) * 1e3:+.0f}",
                             _median_text(c.far_step_after[m]),
                             _median_text(c.far_step_before[m])])
    add(_table(["data set", "where", "detection", "pairs", "median offset ms",
                "reference step from the missed IC, median ×",
                "reference step up to it, median ×"], rows))
    add("")
    return "\n".join(lines)


def _median_text(x: FloatArray) -> str:
    x = x[np.isfinite(x)]
    return f"{np.median(x):.2f}" if x.size else "–"
