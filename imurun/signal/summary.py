"""Run summary: medians and spread, per side, per minute, first vs last third, variability.

:func:`summarise` reduces a :class:`imurun.signal.results.StepTable` to a
:class:`imurun.signal.results.RunSummary`. Only running steps count; medians (not means) so
that a few bad steps (a stumble, a step across a gap) do not move the summary. Definitions of
every field: ``docs/metrics.md`` ("Run summary").

A step whose stance clipped the sensor has no impact value, but its impact is not unknown: it is
at least the sensor's limit, above every unclipped step's. Leaving those steps out would bias
every impact median low, the more so the more steps clip (the hardest landings are the ones
that clip). They count as right-censored values: ``+inf`` in the per-step values, above all
others, so that a median (or percentile) is exact when it falls on an unclipped value and NaN
when it would need a clipped one (half or more of the steps clipped, for a median).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.ndimage import median_filter

from imurun.signal.results import (
    DataQuality,
    Drift,
    MetricSpread,
    PerMinute,
    RunSummary,
    StepTable,
)
from imurun.signal.side import Side

FloatArray = npt.NDArray[np.float64]

__all__ = ["SUMMARY_METRICS", "SummarySettings", "impact_reason", "summarise"]

#: Robust standard deviation from the median absolute deviation (normal distribution).
MAD_TO_SD: Final = 1.4826


def _cadence(s: StepTable) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(60.0 / s.step_s)


#: (summary name, unit, per-step values in the summary unit)
SUMMARY_METRICS: Final[tuple[tuple[str, str, Callable[[StepTable], FloatArray]], ...]] = (
    ("cadence_spm", "steps/min", _cadence),
    ("contact_ms", "ms", lambda s: s.contact_s * 1e3),
    ("flight_ms", "ms", lambda s: s.flight_s * 1e3),
    ("step_ms", "ms", lambda s: s.step_s * 1e3),
    ("vertical_oscillation_cm", "cm", lambda s: s.vertical_oscillation_m * 1e2),
    ("braking_mps", "m/s", lambda s: s.braking_mps),
    ("impact_g", "g", lambda s: s.impact_g),
    ("peak_force_bw", "BW", lambda s: s.peak_force_bw),
    ("vertical_stiffness_kn_m", "kN/m", lambda s: s.vertical_stiffness_kn_m),
    ("pelvic_tilt_range_deg", "deg", lambda s: s.pelvic_tilt_range_deg),
    ("pelvic_drop_deg", "deg", lambda s: s.pelvic_drop_deg),
    ("pelvic_rotation_range_deg", "deg", lambda s: s.pelvic_rotation_range_deg),
)


@dataclass(frozen=True)
class SummarySettings:
    """Run summary (:func:`summarise`).

    Attributes:
        min_steps: fewer valid values than this give NaN (a median of two steps means little).
        min_drift_running_s: shorter runs get no first-vs-last-third drift.
        variability_window_steps: step-time variability is measured around a running median
            of this many steps of the same foot (every other step of a bout), so pace changes
            and a steady left/right difference do not count as variability.
        minute_s: length of a bin of the per-minute series, s.

    """

    min_steps: int = 10
    min_drift_running_s: float = 600.0
    variability_window_steps: int = 11
    minute_s: float = 60.0


def _uncensored(v: FloatArray) -> tuple[FloatArray, int]:
    """``v`` with its censored values (``+inf``) set to its largest finite value, and their count.

    Any value at least as large as every finite one keeps the sort order, so a quantile whose
    positions fall on finite values comes out exactly as :func:`numpy.percentile` computes it.
    """
    cens = np.isposinf(v)
    n_cens = int(np.count_nonzero(cens))
    if n_cens and n_cens < v.size:
        v = np.where(cens, np.max(v[~cens]), v)
    return v, n_cens


def _median(x: FloatArray, min_n: int) -> float:
    """Median of the non-NaN ``x`` (``+inf`` = censored above all others); NaN if unknown."""
    v = x[~np.isnan(x)]
    if v.size < min_n:
        return float("nan")
    v, n_cens = _uncensored(v)
    if 2 * n_cens >= v.size:  # the median would fall on (or between) censored values
        return float("nan")
    return float(np.median(v))


def _percentiles(x: FloatArray, qs: tuple[float, ...], min_n: int) -> list[float]:
    """:func:`numpy.percentile` (linear) of the non-NaN ``x``; NaN where a censored value counts."""
    v = x[~np.isnan(x)]
    if v.size < min_n or v.size == 0:
        return [float("nan")] * len(qs)
    v, n_cens = _uncensored(v)
    n_known = v.size - n_cens
    if n_known == 0:
        return [float("nan")] * len(qs)
    out = [float(p) for p in np.percentile(v, qs)]
    return [p if math.ceil(q / 100.0 * (v.size - 1)) < n_known else float("nan")
            for p, q in zip(out, qs, strict=True)]


def summarise(steps: StepTable, quality: DataQuality, *, t_start_s: float,
              settings: SummarySettings | None = None) -> RunSummary:
    """The :class:`RunSummary` of ``steps`` (running steps only), with ``quality`` attached.

    ``t_start_s`` is the time the per-minute bins count from (the recording's first sample).
    """
    cfg = SummarySettings() if settings is None else settings
    run = steps.select(steps.is_running)
    n_walk = int(np.count_nonzero(steps.activity == "walk"))
    left = run.side == Side.LEFT
    right = run.side == Side.RIGHT
    mn = cfg.min_steps
    values = {}
    for name, _, fn in SUMMARY_METRICS:
        with np.errstate(invalid="ignore"):
            x = np.asarray(fn(run), dtype=np.float64)
        values[name] = np.where(np.isinf(x), np.nan, x)  # +inf is kept for censored values
    clipped = run.saturated & np.isnan(run.impact_g)
    values["impact_g"] = np.where(clipped, np.inf, values["impact_g"])

    spread = []
    for name, unit, _ in SUMMARY_METRICS:
        x = values[name]
        p25, med, p75 = _percentiles(x, (25.0, 50.0, 75.0), mn)
        spread.append(MetricSpread(name, unit, int(np.count_nonzero(~np.isnan(x))), med, p25,
                                   p75, _median(x[left], mn), _median(x[right], mn)))
    medians = {s.name: s.median for s in spread}
    imp = values["impact_g"]
    n_imp = int(np.count_nonzero(~np.isnan(imp)))
    n_clipped = int(np.count_nonzero(clipped))
    clipped_pct = 100.0 * n_clipped / n_imp if n_imp else float("nan")
    at_least = float("nan")
    if n_imp >= mn and 2 * n_clipped >= n_imp and n_clipped < n_imp:
        at_least = float(np.max(imp[np.isfinite(imp)]))  # the sensor's limit is above it
    c_l = _median(run.contact_s[left], mn)
    c_r = _median(run.contact_s[right], mn)
    balance = 100.0 * c_l / (c_l + c_r) if np.isfinite(c_l + c_r) else float("nan")
    step_med = _median(run.step_s, mn)
    drop = values["pelvic_drop_deg"]
    return RunSummary(
        n_steps=len(run),
        n_walking_steps=n_walk,
        running_s=float(np.nansum(run.step_s)),
        walking_s=float(np.nansum(steps.step_s[steps.activity == "walk"])),
        cadence_spm=60.0 / step_med if np.isfinite(step_med) else float("nan"),
        contact_ms=medians["contact_ms"],
        flight_ms=medians["flight_ms"],
        step_ms=medians["step_ms"],
        contact_balance_left_pct=balance,
        vertical_oscillation_cm=medians["vertical_oscillation_cm"],
        braking_mps=medians["braking_mps"],
        impact_g=medians["impact_g"],
        peak_force_bw=medians["peak_force_bw"],
        vertical_stiffness_kn_m=medians["vertical_stiffness_kn_m"],
        pelvic_tilt_range_deg=medians["pelvic_tilt_range_deg"],
        pelvic_drop_stance_left_deg=_median(drop[left], mn),
        pelvic_drop_stance_right_deg=_median(drop[right], mn),
        pelvic_rotation_range_deg=medians["pelvic_rotation_range_deg"],
        step_time_cv_pct=_step_time_cv(run, cfg),
        side_known_pct=(100.0 * float(np.count_nonzero(left | right)) / len(run)
                        if len(run) else float("nan")),
        spread=tuple(spread),
        per_minute=_per_minute(run, values, t_start_s, cfg),
        drift=_drift(run, values, cfg),
        quality=quality,
        impact_clipped_pct=clipped_pct,
        impact_at_least_g=at_least,
    )


def impact_reason(summary: RunSummary) -> str | None:
    """Why the median impact of ``summary`` has no number because of clipping (else ``None``).

    For the analysis' ``unavailable``; says how many steps clipped and, when known, a lower
    bound of the median ("at least").
    """
    pct = summary.impact_clipped_pct
    if math.isfinite(summary.impact_g) or not (math.isfinite(pct) and pct >= 50.0):
        return None
    why = (f"the accelerometer clipped at landing in {pct:.0f} % of the running steps: the "
           "median impact is beyond the sensor's range")
    if math.isfinite(summary.impact_at_least_g):
        why += f", at least {summary.impact_at_least_g:.2f} g"
    return why


def side_reasons(steps: StepTable, settings: SummarySettings | None = None) -> dict[str, str]:
    """Why the per-side values of :func:`summarise` have no number, in a runner's words.

    For the analysis' ``unavailable``: ``contact_balance_left_pct`` and the pelvic drop of each
    stance side. Only metrics that :func:`summarise` leaves NaN get a reason.
    """
    cfg = SummarySettings() if settings is None else settings
    run = steps.select(steps.is_running)
    mn = cfg.min_steps
    out: dict[str, str] = {}

    def why(values: FloatArray, what: str) -> str | None:
        ok = np.isfinite(values)
        n_l = int(np.count_nonzero(ok & (run.side == Side.LEFT)))
        n_r = int(np.count_nonzero(ok & (run.side == Side.RIGHT)))
        if len(run) == 0:
            return "no running in this recording"
        if n_l >= mn and n_r >= mn:
            return None
        if not np.count_nonzero(ok):
            return f"no running step has {what}"
        if n_l + n_r == 0:
            return "the foot (left or right) of the running steps is not known"
        return (f"too few running steps of each foot: {n_l} left and {n_r} right, "
                f"at least {mn} of each are needed")

    reason = why(run.contact_s, "a contact time")
    if reason is not None:
        out["contact_balance_left_pct"] = reason
    reason = why(run.pelvic_drop_deg, "a pelvic drop")
    if reason is not None:
        out["pelvic_drop_stance_left_deg"] = out["pelvic_drop_stance_right_deg"] = reason
    return out


def _groups(run: StepTable) -> npt.NDArray[np.intp]:
    """Bout number of each running step: consecutive steps whose step ends at the next IC."""
    if len(run) == 0:
        return np.zeros(0, dtype=np.intp)
    end = run.ic_s + run.step_s
    with np.errstate(invalid="ignore"):
        joined = (np.abs(end[:-1] - run.ic_s[1:]) < 1e-6) & (run.segment[1:] == run.segment[:-1])
    return np.concatenate(([0], np.cumsum(~joined))).astype(np.intp)


def _step_time_cv(run: StepTable, cfg: SummarySettings) -> float:
    """100 x robust SD of (step time - the same foot's running median) / median step time.

    Left and right steps alternate within a bout, so every other step is the same foot's: each
    step is compared with the running median of its own foot's steps (by position in the bout,
    which needs no side labels). A runner's steady left/right difference of step time is
    asymmetry, not variability: against a median of both feet it would come back as a
    variability on every step (a steady 20 ms difference alone reads several percent).
    """
    st = run.step_s
    ok = np.isfinite(st)
    if np.count_nonzero(ok) < max(cfg.min_steps, cfg.variability_window_steps):
        return float("nan")
    grp = _groups(run)
    resid = np.full(st.size, np.nan)
    w = cfg.variability_window_steps
    for g in np.unique(grp[ok]):
        m = np.flatnonzero((grp == g) & ok)  # consecutive steps (a bout ends at a missing one)
        for foot in (m[0::2], m[1::2]):
            if foot.size >= w:
                resid[foot] = st[foot] - median_filter(st[foot], size=w, mode="nearest")
    r = resid[np.isfinite(resid)]
    if r.size < cfg.min_steps:
        return float("nan")
    mad = float(np.median(np.abs(r - np.median(r))))
    return 100.0 * MAD_TO_SD * mad / float(np.median(st[ok]))


def _per_minute(run: StepTable, values: dict[str, FloatArray], t_start_s: float,
                cfg: SummarySettings) -> PerMinute:
    names = tuple(name for name, _, _ in SUMMARY_METRICS)
    if len(run) == 0 or not np.isfinite(t_start_s):
        return PerMinute(np.zeros(0), np.zeros(0, np.int64), names,
                         tuple(np.zeros(0) for _ in names))
    t = np.where(np.isfinite(run.ic_s), run.ic_s, run.to_s)
    ok = np.isfinite(t)
    minute = np.full(t.size, -1, dtype=np.int64)
    minute[ok] = np.floor((t[ok] - t_start_s) / cfg.minute_s).astype(np.int64)
    n_min = int(minute.max()) + 1 if np.any(minute >= 0) else 0
    counts = np.bincount(minute[minute >= 0], minlength=n_min).astype(np.int64)
    cols = [_group_medians(values[name], minute, n_min) for name in names]
    starts = t_start_s + cfg.minute_s * np.arange(n_min, dtype=np.float64)
    return PerMinute(np.asarray(starts, dtype=np.float64), counts, names, tuple(cols))


def _group_medians(x: FloatArray, group: npt.NDArray[np.int64], n_groups: int) -> FloatArray:
    """Median of the non-NaN ``x`` of each group ``0 .. n_groups - 1`` (NaN when none).

    ``+inf`` values are censored (above all others): a median that falls on one is NaN.

    The values are sorted within their groups (one table row per group when the groups come
    in order, as the minutes of time-ordered steps do; one sort by group and value otherwise);
    each median is then the middle element, or the mean of the two middle elements, exactly
    as :func:`numpy.median` computes it.
    """
    out = np.full(n_groups, np.nan)
    ok = ~np.isnan(x) & (group >= 0)  # +inf (censored) sorts last, like the padding
    g, v = group[ok], x[ok]
    if g.size == 0:
        return out
    cnt = np.bincount(g, minlength=n_groups)
    first = np.concatenate(([0], np.cumsum(cnt)[:-1]))
    has = np.flatnonzero(cnt)
    c = cnt[has]
    if bool(np.all(g[1:] >= g[:-1])):
        table = np.full((n_groups, int(cnt.max())), np.inf)  # finite values sort first
        table[g, np.arange(g.size) - first[g]] = v
        table.sort(axis=1)
        lo_v, hi_v = table[has, (c - 1) // 2], table[has, c // 2]
    else:
        by_value = np.argsort(v)
        s = v[by_value[np.argsort(g[by_value], kind="stable")]]  # by group, then by value
        lo_v, hi_v = s[first[has] + (c - 1) // 2], s[first[has] + c // 2]
    out[has] = np.where(c % 2 == 1, lo_v, (lo_v + hi_v) / 2.0)
    out[np.isinf(out)] = np.nan  # the median fell on a censored value: unknown
    return out


def _drift(run: StepTable, values: dict[str, FloatArray], cfg: SummarySettings) -> tuple[Drift, ...]:
    names = [(name, unit) for name, unit, _ in SUMMARY_METRICS]
    dur = np.where(np.isfinite(run.step_s), run.step_s, 0.0)
    total = float(dur.sum())
    if total < cfg.min_drift_running_s:
        return tuple(Drift(n, u, float("nan"), float("nan")) for n, u in names)
    cum = np.cumsum(dur) - 0.5 * dur  # running time at the middle of each step
    first = cum < total / 3.0
    last = cum >= 2.0 * total / 3.0
    out = []
    for name, unit in names:
        x = values[name]
        out.append(Drift(name, unit, _median(x[first], cfg.min_steps),
                         _median(x[last], cfg.min_steps)))
    return tuple(out)
