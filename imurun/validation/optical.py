"""mobgap_lab against its optical reference: how far INDIP itself is from the lab's gold standard.

Each mobgap_lab trial holds two references: INDIP (foot IMUs + pressure insoles; the one the
issue's targets are scored against) and stereophotogrammetry (``Standards.Stereophoto``, the
optical motion capture of the lab, inside its capture volume only). Three scorings, all by the
rules of :func:`~imurun.validation.evaluate.score_detections` (one-to-one, nearest first, within
the walking tolerance, the edge exclusion) and all inside the same evaluation windows, the
Stereophoto micro walking bouts:

* **INDIP against Stereophoto**: INDIP's initial contacts (merged, with their sides) scored as if
  INDIP were a detector;
* **imurun against Stereophoto**: the walking detector (default settings);
* **imurun against INDIP**: the same detections against INDIP, in the Stereophoto bouts, so that
  it compares with the line above.

Timing errors are also split by foot (the side label of the reference event of each matched
pair): a reference can be late on one foot only. Nothing here changes a score of the issue's
targets, which stay scored against INDIP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imurun.signal.events import Side, WalkingSettings
from imurun.validation._markdown import ms as _ms
from imurun.validation._markdown import pct as _pct
from imurun.validation._markdown import table as _table
from imurun.validation.datasets import DatasetNotFoundError, Trial, load_mobgap_lab
from imurun.validation.evaluate import (
    TOLERANCE_S,
    EventMetrics,
    GroupSummary,
    TrialResult,
    detect,
    score_detections,
    summarise,
)

FloatArray = npt.NDArray[np.float64]

__all__ = ["COMPARISONS", "ONE_FOOT_RATIO", "FootScore", "OpticalComparison", "ScoredTrial",
           "compare_references", "optical_limits", "optical_section", "score_by_foot"]

TITLE = "mobgap_lab against its optical reference"
#: The three scorings, in the order of the tables: (key, what is scored, against what).
COMPARISONS: tuple[tuple[str, str, str], ...] = (
    ("indip", "INDIP", "Stereophoto"),
    ("imurun_optical", "imurun", "Stereophoto"),
    ("imurun_indip", "imurun", "INDIP (in the Stereophoto bouts)"),
)
_FEET = (Side.LEFT, Side.RIGHT)


@dataclass(frozen=True)
class FootScore:
    """The reference events of one foot in a scoring: how many, how many matched, the errors."""

    n_ref: int
    tp: int
    error_s: FloatArray

    @property
    def metrics(self) -> EventMetrics:
        """Recall and timing of this foot (false detections have no reference foot: fp = 0)."""
        return EventMetrics.from_counts(self.tp, 0, self.n_ref - self.tp, self.error_s)


@dataclass(frozen=True)
class ScoredTrial:
    """One trial scored by :func:`score_detections`, and its pairs split by reference foot.

    Each scored reference event belongs to the foot of its own side label (events of unknown
    side to neither); the pairs are those of the one matching (``result.ic_ref_side``).
    """

    result: TrialResult

    def foot(self, side: Side) -> FootScore:
        r = self.result
        mine = r.ic_ref_side == side
        return FootScore(n_ref=int(np.count_nonzero(r.scored_ref_side == side)),
                         tp=int(np.count_nonzero(mine)), error_s=r.ic_error_s[mine])

    @property
    def left(self) -> FootScore:
        return self.foot(Side.LEFT)

    @property
    def right(self) -> FootScore:
        return self.foot(Side.RIGHT)


def score_by_foot(trial: Trial, ic_s: npt.ArrayLike, side: npt.ArrayLike | None = None,
                  ) -> ScoredTrial:
    """:func:`score_detections` of ``ic_s`` against ``trial``, with its pairs by reference foot."""
    return ScoredTrial(score_detections(trial, ic_s, side))


@dataclass(frozen=True)
class OpticalComparison:
    """The three scorings of :data:`COMPARISONS`, per trial (trials in load order)."""

    scored: dict[str, tuple[ScoredTrial, ...]]
    fs_hz: float
    n_trials_without_optical: int = 0
    #: Over the compared trials, per reference (``"INDIP"``, ``"Stereophoto"``): the number
    #: of micro walking bouts, their total duration (s) and the initial contacts listed.
    coverage: dict[str, tuple[int, float, int]] = field(default_factory=dict)

    def subjects(self) -> list[str]:
        seen: list[str] = []
        for s in next(iter(self.scored.values()), ()):
            if s.result.subject_id not in seen:
                seen.append(s.result.subject_id)
        return seen

    def _of(self, key: str, subject: str | None) -> list[ScoredTrial]:
        return [s for s in self.scored[key] if subject is None or s.result.subject_id == subject]

    def summary(self, key: str, subject: str | None = None) -> GroupSummary:
        """Pooled over one participant's trials (``None``: all)."""
        return summarise([s.result for s in self._of(key, subject)], subject or "pooled")

    def foot(self, key: str, side: Side, subject: str | None = None) -> EventMetrics:
        """One foot's recall and timing, pooled over one participant's trials (``None``: all)."""
        parts = [s.foot(side) for s in self._of(key, subject)]
        return EventMetrics.pooled((p.tp, 0, p.n_ref - p.tp, p.error_s) for p in parts)

    def straight_median_s(self, key: str, subject: str) -> tuple[float, int]:
        """Median error of the matched pairs outside turns, and their number."""
        e = np.concatenate([np.zeros(0), *(s.result.ic_error_s[~s.result.ic_in_turn]
                                           for s in self._of(key, subject))])
        return (float(np.median(e)) if e.size else float("nan")), int(e.size)


def compare_references(root: Path | None = None, walking: WalkingSettings | None = None,
                       ) -> OpticalComparison | None:
    """Load both references of mobgap_lab and score the three comparisons.

    ``None`` when the data set is absent or no trial has an optical reference.
    """
    try:
        indip = load_mobgap_lab(root)
    except DatasetNotFoundError:
        return None
    try:
        optical = {t.trial_id: t for t in load_mobgap_lab(root, reference="Stereophoto")}
    except DatasetNotFoundError:  # no trial with Stereophoto bouts
        return None
    out: dict[str, list[ScoredTrial]] = {k: [] for k, _, _ in COMPARISONS}
    cover = {"INDIP": np.zeros(3), "Stereophoto": np.zeros(3)}
    for tr in indip:
        opt = optical.get(tr.trial_id)
        if opt is None:
            continue
        for name, t in (("INDIP", tr), ("Stereophoto", opt)):
            cover[name] += (len(t.eval_windows_s), sum(b - a for a, b in t.eval_windows_s),
                            t.ref_ic_s.size)
        ev = detect(tr, walking=walking)
        out["indip"].append(score_by_foot(opt, tr.ref_ic_s, tr.ref_ic_side))
        out["imurun_optical"].append(score_by_foot(opt, ev.ic_s, ev.side))
        out["imurun_indip"].append(score_by_foot(
            replace(tr, eval_windows_s=opt.eval_windows_s), ev.ic_s, ev.side))
    if not out["indip"]:
        return None
    return OpticalComparison(scored={k: tuple(v) for k, v in out.items()},
                             fs_hz=indip[0].fs_hz,
                             coverage={k: (int(v[0]), float(v[1]), int(v[2]))
                                       for k, v in cover.items()},
                             n_trials_without_optical=len(indip) - len(out["indip"]))


def _feet(c: OpticalComparison, key: str, subject: str | None,
          ) -> tuple[Side, EventMetrics, EventMetrics]:
    """``(foot, its metrics, the other foot's)`` with the foot of the larger timing error."""
    left, right = (c.foot(key, s, subject) for s in _FEET)
    if np.nan_to_num(right.mae_s, nan=-1.0) > np.nan_to_num(left.mae_s, nan=-1.0):
        return Side.RIGHT, right, left
    return Side.LEFT, left, right


def _one_foot(worst: EventMetrics, other: EventMetrics) -> bool:
    """The larger timing error is on one foot: its MAE is over twice the other foot's."""
    return bool(np.isfinite(worst.mae_s) and np.isfinite(other.mae_s)
                and worst.mae_s > ONE_FOOT_RATIO * other.mae_s)


def _sorted_mae(a: EventMetrics, b: EventMetrics) -> tuple[EventMetrics, EventMetrics]:
    """The two metrics, larger MAE first."""
    return (a, b) if np.nan_to_num(a.mae_s, nan=-1.0) >= np.nan_to_num(b.mae_s, nan=-1.0) \
        else (b, a)


#: A reference's disagreement is called "on one foot" when that foot's MAE exceeds the other
#: foot's by this factor.
ONE_FOOT_RATIO = 2.0


def _foot_name(s: Side) -> str:
    return {Side.LEFT: "left", Side.RIGHT: "right"}.get(s, "unknown")


def _findings(c: OpticalComparison) -> list[str]:
    """Generated sentences: what the tables show, by computed conditions."""
    out = []
    for subj in c.subjects():
        ind = c.summary("indip", subj).ic
        opt = c.summary("imurun_optical", subj).ic
        own = c.summary("imurun_indip", subj).ic
        if not (np.isfinite(ind.mae_s) and np.isfinite(opt.mae_s)):
            continue
        closer = "further from" if ind.mae_s > opt.mae_s else "closer to"
        text = (f"{subj}: INDIP's contacts are {closer} the optical reference than imurun's "
                f"(MAE {_ms(ind.mae_s)} ms against {_ms(opt.mae_s)} ms).")
        side, worst, other = _feet(c, "indip", subj)
        if _one_foot(worst, other):
            mine = c.foot("imurun_optical", side, subj)
            mine_other = c.foot("imurun_optical",
                                Side.RIGHT if side == Side.LEFT else Side.LEFT, subj)
            text += (f" INDIP's disagreement is mostly on the {_foot_name(side)} foot: bias "
                     f"{_ms(worst.bias_s)} ms, MAE {_ms(worst.mae_s)} ms over {worst.tp} "
                     f"contacts, against bias {_ms(other.bias_s)} ms, MAE {_ms(other.mae_s)} "
                     "ms on the other foot.")
            # the trunk's timing as a third opinion: no such difference between its feet
            same = (not _one_foot(*_sorted_mae(mine, mine_other))
                    and abs(mine.bias_s - mine_other.bias_s)
                    < 0.5 * abs(worst.bias_s - other.bias_s))
            text += (" imurun, from the trunk, "
                     + ("has no such difference between the feet" if same else
                        "differs between the feet too")
                     + f" against the optical reference ({_foot_name(side)} bias "
                     f"{_ms(mine.bias_s)} ms, MAE {_ms(mine.mae_s)} ms; other foot bias "
                     f"{_ms(mine_other.bias_s)} ms, MAE {_ms(mine_other.mae_s)} ms).")
        elif np.isfinite(worst.mae_s) and np.isfinite(other.mae_s):
            text += (f" INDIP's disagreement is of similar size on both feet (MAE "
                     f"{_ms(worst.mae_s)} and {_ms(other.mae_s)} ms).")
        if np.isfinite(own.mae_s):
            text += (f" Against INDIP in the same bouts imurun's MAE is {_ms(own.mae_s)} ms, "
                     + ("more" if own.mae_s > opt.mae_s else "not more")
                     + " than against the optical reference.")
        out.append(text)
    return out


def optical_section(c: OpticalComparison | None) -> str:
    """The markdown section (``### mobgap_lab against its optical reference``)."""
    lines = [f"### {TITLE}", ""]
    add = lines.append
    if c is None:
        add("**Not evaluated**: mobgap_lab or its Stereophoto reference is absent.")
        add("")
        return "\n".join(lines)
    tol = TOLERANCE_S["walking"]
    cov = ""
    if {"INDIP", "Stereophoto"} <= set(c.coverage):
        (nb_o, d_o, n_o), (nb_i, d_i, n_i) = c.coverage["Stereophoto"], c.coverage["INDIP"]
        cov = (f" Over these trials its {nb_o} micro walking bouts last {d_o:.1f} s and list "
               f"{n_o} initial contacts, INDIP's {nb_i} bouts {d_i:.1f} s and {n_i}: the bouts "
               "are each reference's own and start and end at different times.")
    add("Each mobgap_lab trial also holds the lab's optical reference, stereophotogrammetry "
        "(`Standards.Stereophoto`, 100 Hz, "
        f"{len(c.scored['indip'])} trials)." + cov + " It is read like INDIP (the same time "
        "base, NaN events dropped, close contacts merged, the same side labels). Three "
        "scorings by the "
        f"same rules as above (one-to-one, nearest first, within {tol * 1e3:g} ms, the edge "
        "exclusion), all inside the Stereophoto micro walking bouts: INDIP's initial contacts "
        "scored against Stereophoto as if INDIP were a detector; imurun's against "
        "Stereophoto; imurun's against INDIP restricted to the same bouts (comparable with the "
        "line before). The issue's targets stay scored against INDIP (table \"Targets\").")
    add("")
    head = ["participant", "scored", "against", "trials", "n ref", "precision %", "recall %",
            "F1 %", "bias ms", "MAE ms", "SD ms", "L/R %", "L/R n"]
    rows = []
    for subj in [*c.subjects(), None]:
        for key, what, ref in COMPARISONS:
            g = c.summary(key, subj)
            m = g.ic
            rows.append([subj or "pooled", what, ref, str(g.n_trials), str(m.n_ref),
                         _pct(m.precision), _pct(m.recall), _pct(m.f1), _ms(m.bias_s),
                         _ms(m.mae_s), _ms(m.sd_s), _pct(g.side_accuracy), str(g.side_n)])
    add(_table(head, rows))
    add("")
    add("By foot (the side label of the reference event of each matched pair; false detections "
        "belong to no foot, so only recall and timing):")
    add("")
    rows = []
    for subj in [*c.subjects(), None]:
        for key, what, ref in COMPARISONS:
            for s in _FEET:
                m = c.foot(key, s, subj)
                rows.append([subj or "pooled", what, ref, _foot_name(s), str(m.n_ref),
                             str(m.tp), _pct(m.recall), _ms(m.bias_s), _ms(m.mae_s),
                             _ms(m.sd_s)])
    add(_table(["participant", "scored", "against", "foot", "n ref", "matched", "recall %",
                "bias ms", "MAE ms", "SD ms"], rows))
    add("")
    healthy = next((s for s in c.subjects() if s.startswith("HA")), None)
    if healthy is not None:
        med, n = c.straight_median_s("indip", healthy)
        one = 1.0 / c.fs_hz
        verdict = ("within one sample, as expected of one time base: a different one would show "
                   "as a constant offset" if abs(med) <= one + 1e-9 else
                   "more than one sample: check the time base of the two references")
        add(f"Time base: outside turns, {healthy}'s INDIP contacts differ from the optical ones "
            f"by a median of {_ms(med, 0)} ms over {n} contacts, {verdict}.")
        add("")
    for text in _findings(c):
        add("* " + text)
    add("")
    return "\n".join(lines)


def _meets(key: str, value: float) -> bool:
    """Whether ``value`` meets the mobgap_lab target ``key`` of the issue."""
    from imurun.validation.evaluate import TARGETS, target_met

    target = next(t for t in TARGETS if t.dataset == "mobgap_lab" and t.key == key)
    return target_met(target, value)


def optical_limits(c: OpticalComparison | None, met: Callable[[str], bool] | None = None,
                   ) -> str:
    """A Limits bullet when the optical reference shows INDIP errors, else ``""``.

    A participant is named when INDIP is further from the optical reference than imurun is
    (IC MAE) and imurun is further from INDIP than from the optical reference in the same
    bouts. The unmet mobgap_lab targets (``met``: target key -> met) that this bears on are
    named: IC MAE with any such participant, IC F1 when imurun's pooled F1 is also higher
    against the optical reference than against INDIP in the same bouts.
    """
    if c is None:
        return ""
    parts = []
    others = []
    for subj in c.subjects():
        ind = c.summary("indip", subj).ic
        opt = c.summary("imurun_optical", subj).ic
        own = c.summary("imurun_indip", subj).ic
        if not (ind.mae_s > opt.mae_s and own.mae_s > opt.mae_s):
            others.append(f"{subj} (INDIP's MAE against the optical reference "
                          f"{_ms(ind.mae_s)} ms, imurun's {_ms(opt.mae_s)} ms, imurun against "
                          f"INDIP {_ms(own.mae_s)} ms)")
            continue
        side, worst, other = _feet(c, "indip", subj)
        where = (f"its {_foot_name(side)}-foot contacts differ from the optical ones by a bias "
                 f"of {_ms(worst.bias_s)} ms (MAE {_ms(worst.mae_s)} ms; the other foot "
                 f"{_ms(other.mae_s)} ms)" if _one_foot(worst, other) else
                 f"its contacts differ from the optical ones by an MAE of {_ms(ind.mae_s)} ms")
        parts.append(f"for {subj}, {where}, and imurun's IC MAE is {_ms(opt.mae_s)} ms against "
                     f"the optical reference but {_ms(own.mae_s)} ms against INDIP in the same "
                     "bouts")
    if not parts:
        return ""
    unmet = [k for k in ("ic_mae", "ic_f1") if met is None or not met(k)]
    f_opt = c.summary("imurun_optical").ic.f1
    f_own = c.summary("imurun_indip").ic.f1
    named = [k for k in unmet if k == "ic_mae" or (k == "ic_f1" and f_opt > f_own)]
    text = ("* mobgap_lab's reference INDIP is itself off the lab's optical reference (section "
            f"\"{TITLE}\"): " + "; ".join(parts) + ".")
    if others:
        text += " Not so for " + ", ".join(others) + "."
    ind = c.summary("indip").ic
    short = [(name, value) for key, name, value in (
        ("ic_f1", "IC F1", ind.f1), ("ic_mae", "IC MAE", ind.mae_s))
        if key in unmet and not _meets(key, value)]
    if short:
        text += (" Scored as a detector against the optical reference, INDIP itself would not "
                 "meet the " + " or the ".join(
                     f"{name} target ({_pct(v)} %)" if name == "IC F1" else
                     f"{name} target ({_ms(v)} ms)" for name, v in short) + ".")
    if "ic_f1" in named:
        text += (f" imurun's IC F1 is {_pct(f_opt)} % against the optical reference and "
                 f"{_pct(f_own)} % against INDIP in the same bouts.")
    if named:
        what = " and ".join({"ic_mae": "IC MAE", "ic_f1": "IC F1"}[k] for k in named)
        text += (f" Part of what the unmet mobgap_lab {what} target"
                 f"{'s' if len(named) > 1 else ''} count{'' if len(named) > 1 else 's'} as the "
                 "detector's error is the INDIP reference's own.")
        opt = c.summary("imurun_optical").ic
        still = [f"{name} {_pct(v)} %" if key == "ic_f1" else f"{name} {_ms(v)} ms"
                 for key, name, v in (("ic_f1", "IC F1", opt.f1), ("ic_mae", "IC MAE", opt.mae_s))
                 if key in named and not _meets(key, v)]
        if still:
            text += (" Against the optical reference, imurun's pooled " + " and ".join(still)
                     + " would not meet the target" + ("s" if len(still) > 1 else "")
                     + " either.")
    return text
