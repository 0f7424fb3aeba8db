"""Form indicators: what in a run's numbers is worth a closer look, with the evidence behind it.

Indicators, never verdicts. Every indicator says what was measured, which threshold it is
compared with, what published research has associated with it (in careful words: associations
in groups of runners, not predictions for one person), and suggests talking to a coach or a
physiotherapist. Thresholds are **product choices** informed by the cited work and by what
consumer devices display; none of them is a clinical cut-off, and ``docs/metrics.md``
("Form indicators") says where each comes from. When the runner's own baseline (an earlier
:class:`imurun.signal.results.RunSummary`) is given, each indicator is also compared with it,
which is usually more meaningful than any population threshold.

Levels: ``"not_raised"``, ``"raised"``, ``"strongly_raised"``, ``"info"`` (no threshold:
tracked for the runner's own comparison) and ``"unknown"`` (the value cannot be computed;
``reason`` says why).

Not offered, on purpose: an impact loading-rate indicator (vertical average loading rate has
been associated with overuse problems by Davis et al. 2016, but rates estimated from
accelerometers were not precise enough in Kiernan, Ng & Hawkins 2023, Sensors 23:8719), and
anything about low back pain (its established risk factors are not gait metrics: Maselli et al.
2020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from imurun.signal.results import Evidence, Indicator, RunSummary

__all__ = ["EVIDENCE", "FORMER_TITLES", "TITLES", "IndicatorSettings", "current_title",
           "form_indicators"]

#: The sources the indicators cite (short citation -> what they found, in our words).
EVIDENCE: Final = {
    "bramah2018": Evidence(
        "Bramah C, Preece SJ, Gill N, Herrington L. Am J Sports Med 2018;46(12):3023-3031",
        "Runners with common overuse complaints (knee, shin, Achilles) ran with more "
        "contralateral pelvic drop than runners without; each extra degree went with about 80 % "
        "higher odds of being in the affected group (retrospective, motion capture)."),
    "lieberman2015": Evidence(
        "Lieberman DE, Warrener AG, Wang J, Castillo ER. J Exp Biol 2015;218:3406-3414",
        "Landing with the foot further ahead of the hip and at a lower step rate went with "
        "larger braking forces."),
    "heiderscheit2011": Evidence(
        "Heiderscheit BC, Chumanov ES, Michalski MP, Wille CM, Ryan MB. Med Sci Sports Exerc "
        "2011;43(2):296-302",
        "Raising step rate by 5-10 % at the same speed reduced the load on the hip and knee."),
    "napier2018": Evidence(
        "Napier C, MacLean CL, Maurer J, Taunton JE, Hunt MA. Scand J Med Sci Sports "
        "2018;28(10):2164-2172",
        "Higher peak braking force was associated with running-related complaints in a "
        "prospective study of female recreational runners."),
    "schache2000": Evidence(
        "Schache AG, Blanch PD, Murphy AT. Br J Sports Med 2000;34:279-283",
        "More anterior pelvic tilt during running went with less hip extension range."),
    "zifchock2006": Evidence(
        "Zifchock RA, Davis I, Hamill J. J Biomech 2006;39(15):2792-2797",
        "Left/right asymmetry by itself did not separate runners with and without a history "
        "of tibial stress problems: an individual's usual balance is the better reference."),
    "reenalda2016": Evidence(
        "Reenalda J, Maartens E, Homan L, Buurke JH. J Biomech 2016;49(14):3362-3367",
        "Running mechanics measured with body-worn sensors changed progressively over a "
        "marathon as runners tired."),
}

#: The title of each indicator, by key (the key never changes; a title may).
TITLES: Final = {
    "overstriding": "Braking at landing (overstriding)",
    "pelvic_drop_left": "Pelvic drop, left stance",
    "pelvic_drop_right": "Pelvic drop, right stance",
    "anterior_tilt": "Anterior pelvic tilt",
    "asymmetry": "Left/right contact time balance",
    # was "Form drift with fatigue": the indicator compares the first and the last
    # third of a run, and fatigue is only one of the reasons form changes over a run
    "form_drift": "Form drift over the run",
}

#: Titles that analyses written by earlier versions hold in their JSON, by key.
FORMER_TITLES: Final = {"form_drift": ("Form drift with fatigue",)}


def current_title(key: str, title: str) -> str:
    """``title`` of indicator ``key`` as this version words it.

    An analysis written by an earlier version keeps the title of its day in its JSON; the
    reports show the current one.
    """
    return TITLES[key] if title in FORMER_TITLES.get(key, ()) else title


_SUGGEST: Final = ("This is a form indicator, not a medical finding; a running coach or a "
                   "physiotherapist can tell whether it matters for you.")


@dataclass(frozen=True)
class IndicatorSettings:
    """Thresholds of the form indicators (product choices; see ``docs/metrics.md``).

    Attributes:
        braking_mps: overstriding is raised above this median braking (strong: ``_strong``).
        cadence_low_spm: a step rate below this is named with the braking as a supporting sign
            (a lower step rate puts the foot further ahead of the hip: Lieberman et al. 2015).
            Contact time is not used: long contacts come with slow running as much as with
            overstriding.
        pelvic_drop_deg: pelvic drop per stance side (strong: ``_strong``).
        imbalance_pct_points: contact-time balance further than this from 50 % (strong:
            ``_strong``).
        drift_contact_pct: contact time growing by more than this from the first to the last
            third of the run (strong: ``_strong``).
        baseline_*: changes from the runner's own baseline that raise an indicator.

    """

    braking_mps: float = 0.35
    braking_mps_strong: float = 0.5
    cadence_low_spm: float = 155.0
    pelvic_drop_deg: float = 8.0
    pelvic_drop_deg_strong: float = 11.0
    imbalance_pct_points: float = 2.0
    imbalance_pct_points_strong: float = 5.0
    drift_contact_pct: float = 5.0
    drift_contact_pct_strong: float = 10.0
    baseline_braking_pct: float = 15.0
    baseline_drop_deg: float = 1.5
    baseline_tilt_deg: float = 2.0
    baseline_imbalance_pct_points: float = 1.5


def _level(value: float, threshold: float, strong: float, direction: str = "above") -> str:
    if not math.isfinite(value):
        return "unknown"
    sign = 1.0 if direction == "above" else -1.0
    if sign * (value - strong) > 0:
        return "strongly_raised"
    if sign * (value - threshold) > 0:
        return "raised"
    return "not_raised"


def _escalate(level: str, by_baseline: bool) -> str:
    if by_baseline and level == "not_raised":
        return "raised"
    if by_baseline and level == "info":
        return "raised"
    return level


#: Fewer running steps than this give no medians (``SummarySettings.min_steps``).
_MIN_RUNNING_STEPS = 10


def _why(s: RunSummary, specific: str) -> str:
    """Why a value is unknown: too little running if so, else ``specific``."""
    if s.n_steps == 0:
        return "no running in this recording"
    if s.n_steps < _MIN_RUNNING_STEPS:
        return f"too little running in this recording ({s.n_steps} running steps)"
    return specific


def _unknown_msg(title: str, reason: str) -> str:
    return f"{title}: not measured in this run ({reason})."


def _fmt(x: float, unit: str, digits: int = 1) -> str:
    return f"{x:.{digits}f} {unit}" if math.isfinite(x) else "unknown"


def form_indicators(summary: RunSummary, *, baseline: RunSummary | None = None,
                    anterior_tilt_deg: float = math.nan, anterior_tilt_reason: str = "",
                    baseline_anterior_tilt_deg: float = math.nan,
                    settings: IndicatorSettings | None = None) -> tuple[Indicator, ...]:
    """The form indicators of one run.

    Args:
        summary: the run's summary.
        baseline: an earlier summary of the same runner (e.g. a typical run), or ``None``.
        anterior_tilt_deg: median pelvic tilt while running relative to standing, degrees (NaN
            when the recording has no standing still to calibrate against).
        anterior_tilt_reason: why ``anterior_tilt_deg`` is NaN.
        baseline_anterior_tilt_deg: the same in the runner's baseline run (NaN when unknown:
            the summary does not hold it; :func:`imurun.analysis.analyze` takes it from the
            baseline analysis' ``anterior_tilt`` indicator).
        settings: :class:`IndicatorSettings`.

    """
    cfg = IndicatorSettings() if settings is None else settings
    out = [
        _overstriding(summary, baseline, cfg),
        _pelvic_drop(summary, baseline, cfg, "left"),
        _pelvic_drop(summary, baseline, cfg, "right"),
        _anterior_tilt(summary, cfg, anterior_tilt_deg, anterior_tilt_reason,
                       baseline_anterior_tilt_deg),
        _asymmetry(summary, baseline, cfg),
        _drift(summary, cfg),
    ]
    return tuple(out)


def _baseline(summary_value: float, baseline: RunSummary | None, name: str) -> tuple[float, float]:
    if baseline is None:
        return math.nan, math.nan
    b = float(getattr(baseline, name))
    return b, summary_value - b


def _overstriding(s: RunSummary, base: RunSummary | None, cfg: IndicatorSettings) -> Indicator:
    v = s.braking_mps
    b, d = _baseline(v, base, "braking_mps")
    level = _level(v, cfg.braking_mps, cfg.braking_mps_strong)
    by_base = math.isfinite(d) and math.isfinite(b) and b > 0 and 100 * d / b > cfg.baseline_braking_pct
    level = _escalate(level, by_base)
    msg = (f"You lost a median {_fmt(v, 'm/s', 2)} of forward speed at each landing "
           f"(threshold {cfg.braking_mps:.2f} m/s).")
    if math.isfinite(s.cadence_spm) and s.cadence_spm < cfg.cadence_low_spm:
        msg += (f" Your step rate of {s.cadence_spm:.0f} steps/min (below "
                f"{cfg.cadence_low_spm:.0f}) is another sign of landing far ahead of the body.")
    if level in ("raised", "strongly_raised"):
        msg += (" Larger braking has been associated in research with landing with the foot "
                "far ahead of the hip (overstriding) and with running-related complaints; a "
                "slightly higher step rate is a common cue. Braking also grows with running "
                "speed: compare runs at a similar pace.")
    if math.isfinite(d):
        msg += f" Your baseline: {_fmt(b, 'm/s', 2)} ({d:+.2f} m/s)."
    reason = "" if math.isfinite(v) else _why(s, "braking needs the forward acceleration axis")
    if reason:
        msg = _unknown_msg("Braking at landing", reason)
    return Indicator("overstriding", TITLES["overstriding"], "braking_mps", v,
                     "m/s", cfg.braking_mps, "above", level,
                     (EVIDENCE["lieberman2015"], EVIDENCE["napier2018"],
                      EVIDENCE["heiderscheit2011"]),
                     msg + " " + _SUGGEST, b, d, reason)


def _pelvic_drop(s: RunSummary, base: RunSummary | None, cfg: IndicatorSettings,
                 side: str) -> Indicator:
    name = f"pelvic_drop_stance_{side}_deg"
    v = float(getattr(s, name))
    b, d = _baseline(v, base, name)
    level = _level(v, cfg.pelvic_drop_deg, cfg.pelvic_drop_deg_strong)
    level = _escalate(level, math.isfinite(d) and d > cfg.baseline_drop_deg)
    other = "right" if side == "left" else "left"
    msg = (f"While on your {side} foot, your {other} hip dropped a median "
           f"{_fmt(v, 'degrees')} (threshold {cfg.pelvic_drop_deg:.0f} degrees).")
    if level in ("raised", "strongly_raised"):
        msg += (" More pelvic drop during stance has been associated in research with common "
                "overuse complaints of the knee, shin and Achilles; hip strength and control "
                "work is what coaches and physiotherapists usually look at.")
    if math.isfinite(d):
        msg += f" Your baseline: {_fmt(b, 'degrees')} ({d:+.1f})."
    reason = "" if math.isfinite(v) else _why(
        s, "pelvic drop needs a gyroscope and the side of each step")
    if reason:
        msg = _unknown_msg(f"Pelvic drop on the {side} foot", reason)
    return Indicator(f"pelvic_drop_{side}", TITLES[f"pelvic_drop_{side}"], name, v, "deg",
                     cfg.pelvic_drop_deg, "above", level, (EVIDENCE["bramah2018"],),
                     msg + " " + _SUGGEST, b, d, reason)


def _anterior_tilt(s: RunSummary, cfg: IndicatorSettings, tilt_deg: float, tilt_reason: str,
                   base_tilt_deg: float) -> Indicator:
    # Only the mean tilt relative to standing is anterior tilt (Schache et al. 2000 relate that
    # angle to hip extension). The tilt range per step is a different quantity (an excursion,
    # not a posture): it is in the summary, but it is neither shown nor raised as anterior tilt.
    metric = "pelvic_anterior_tilt_deg"
    if not math.isfinite(tilt_deg):
        reason = _why(s, tilt_reason or "absolute anterior tilt needs standing still before "
                      "or after the run")
        msg = _unknown_msg("Anterior pelvic tilt", reason)
        if math.isfinite(s.pelvic_tilt_range_deg):
            rng = _fmt(s.pelvic_tilt_range_deg, "degrees")
            msg += (f" The forward-backward tilt range per step ({rng}) is in the summary: it "
                    "is how far the pelvis rocks, not how far it tilts forward.")
        return Indicator("anterior_tilt", TITLES["anterior_tilt"], metric, math.nan, "deg",
                         math.nan, "above", "unknown", (EVIDENCE["schache2000"],),
                         msg + " " + _SUGGEST, math.nan, math.nan, reason)
    b = base_tilt_deg if math.isfinite(base_tilt_deg) else math.nan
    d = tilt_deg - b
    level = _escalate("info", math.isfinite(d) and d > cfg.baseline_tilt_deg)
    msg = (f"Your pelvis ran {_fmt(tilt_deg, 'degrees')} more anterior than standing. There is "
           "no agreed threshold; more anterior tilt while running has been associated in "
           "research with less hip extension, so it is tracked against your own runs.")
    if math.isfinite(d):
        msg += f" Your baseline: {_fmt(b, 'degrees')} ({d:+.1f})."
    return Indicator("anterior_tilt", TITLES["anterior_tilt"], metric, tilt_deg, "deg", math.nan,
                     "above", level, (EVIDENCE["schache2000"],), msg + " " + _SUGGEST, b, d, "")


def balance_moved(balance_left_pct: float, baseline_left_pct: float,
                  cfg: IndicatorSettings) -> bool:
    """Whether a contact balance (% on the left) moved away from the runner's baseline balance.

    Compared with the usual balance, not only with its distance from even: a balance that moved
    to the other foot (48.5 -> 51.5 % left) is as far from even as before, but the load moved by
    3 points. A move of more than ``baseline_imbalance_pct_points`` counts, unless it ended nearer
    to even. False when either is unknown. The run indicator and the weekly form table share it.
    """
    if not (math.isfinite(balance_left_pct) and math.isfinite(baseline_left_pct)):
        return False
    return (abs(balance_left_pct - baseline_left_pct) > cfg.baseline_imbalance_pct_points
            and abs(balance_left_pct - 50.0) >= abs(baseline_left_pct - 50.0))


def _asymmetry(s: RunSummary, base: RunSummary | None, cfg: IndicatorSettings) -> Indicator:
    bal = s.contact_balance_left_pct
    v = abs(bal - 50.0) if math.isfinite(bal) else math.nan
    b = d = shift = math.nan
    base_bal = math.nan if base is None else base.contact_balance_left_pct
    if math.isfinite(base_bal):
        b = abs(base_bal - 50.0)
        d = v - b
        shift = bal - base_bal  # how far the balance moved, percentage points (+ = to the left)
    level = _level(v, cfg.imbalance_pct_points, cfg.imbalance_pct_points_strong)
    level = _escalate(level, balance_moved(bal, base_bal, cfg))
    msg = (f"{_fmt(bal, '%', 1)} of your ground contact time was on the left foot "
           f"({_fmt(v, 'percentage points', 1)} from even; threshold "
           f"{_fmt(cfg.imbalance_pct_points, 'percentage points', 0)}).")
    if level in ("raised", "strongly_raised"):
        msg += (" Asymmetry by itself has not been consistently linked to running complaints "
                "in research; a change from your usual balance is the more useful signal.")
    if math.isfinite(shift):
        msg += (f" Your baseline: {_fmt(base_bal, '%', 1)} on the left ({shift:+.1f} "
                "percentage points).")
    side_known = math.isfinite(s.side_known_pct) and s.side_known_pct > 0
    reason = "" if math.isfinite(v) else _why(
        s, f"too few running steps of each foot: at least {_MIN_RUNNING_STEPS} of each are needed"
        if side_known else "the foot (left or right) of the running steps is not known")
    if reason:
        msg = _unknown_msg("Left/right contact time balance", reason)
    return Indicator("asymmetry", TITLES["asymmetry"], "contact_balance_left_pct",
                     v, "% points", cfg.imbalance_pct_points, "above", level,
                     (EVIDENCE["zifchock2006"],), msg + " " + _SUGGEST, b, d, reason)


def _drift(s: RunSummary, cfg: IndicatorSettings) -> Indicator:
    try:
        dr = s.get_drift("contact_ms")
    except KeyError:
        dr = None
    v = dr.change_pct if dr is not None else math.nan
    level = _level(v, cfg.drift_contact_pct, cfg.drift_contact_pct_strong)
    parts = []
    for name, unit, label in (("cadence_spm", "steps/min", "cadence"),
                              ("vertical_oscillation_cm", "cm", "bounce"),
                              ("pelvic_drop_deg", "degrees", "pelvic drop")):
        try:
            x = s.get_drift(name)
        except KeyError:
            continue
        if math.isfinite(x.change):
            parts.append(f"{label} from {x.first_third:.1f} to {x.last_third:.1f} {unit}")
    if math.isfinite(v):
        assert dr is not None
        msg = (f"Contact time went from {dr.first_third:.0f} ms in the first third of your "
               f"running to {dr.last_third:.0f} ms in the last ({v:+.1f} %; threshold "
               f"+{cfg.drift_contact_pct:.0f} %).")
        if parts:
            msg += " Also: " + "; ".join(parts) + "."
        if level in ("raised", "strongly_raised"):
            msg += (" A change over a run has more than one cause, and the sensor cannot tell "
                    "them apart: a slower pace (contact time grows when you simply run "
                    "slower), the slope (uphill and downhill stretches change your form), or "
                    "fatigue (research with body-worn sensors has described form changing "
                    "progressively as runners tire). Compare the pace and the route of the two "
                    "thirds on your watch: at a similar pace on similar ground, it can be a "
                    "sign the run was long or hard for your current fitness.")
        reason = ""
    else:
        reason = _why(s, "needs at least 10 minutes of running with contact times")
        msg = _unknown_msg(TITLES["form_drift"], reason)
    return Indicator("form_drift", TITLES["form_drift"], "contact_ms", v, "%",
                     cfg.drift_contact_pct, "above", level, (EVIDENCE["reenalda2016"],),
                     msg + " " + _SUGGEST, math.nan, math.nan, reason)
