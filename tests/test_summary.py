"""Run summary definitions (``docs/metrics.md``, "Run summary") on step tables built by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from imurun.signal.results import DataQuality, RunAnalysis, StepTable
from imurun.signal.side import Side
from imurun.signal.summary import impact_reason, summarise

PIN = Path(__file__).parent / "pins" / "analysis_pin.json.gz"


@pytest.fixture(scope="module")
def quality() -> DataQuality:
    with gzip.open(PIN, "rt") as fh:
        return RunAnalysis.from_dict(json.load(fh)["gyroscope"]["analysis"]).summary.quality


def _running(step_s: np.ndarray, contact_s: np.ndarray | None = None,
             side: np.ndarray | None = None, activity: np.ndarray | None = None) -> StepTable:
    """One bout of steps (each ends at the next IC), left foot first, alternating."""
    k = step_s.size
    ic = np.concatenate(([10.0], 10.0 + np.cumsum(step_s[:-1])))
    contact = np.full(k, 0.25) if contact_s is None else contact_s
    nan = np.full(k, np.nan)
    return StepTable(
        ic_s=ic, to_s=ic + contact,
        side=np.where(np.arange(k) % 2 == 0, Side.LEFT, Side.RIGHT) if side is None else side,
        activity=np.full(k, "run") if activity is None else activity,
        contact_s=contact, flight_s=step_s - contact, step_s=step_s,
        vertical_oscillation_m=nan, braking_mps=nan, impact_g=nan, peak_force_bw=nan,
        vertical_stiffness_kn_m=nan, pelvic_tilt_range_deg=nan, pelvic_drop_deg=nan,
        pelvic_rotation_range_deg=nan, segment=np.zeros(k, np.int64),
        saturated=np.zeros(k, bool))


def test_a_steady_left_right_difference_is_not_step_time_variability(
        quality: DataQuality) -> None:
    """Left steps 20 ms longer than right ones, every time, plus 1 % random variation: the
    variability is the 1 %. Against a running median of both feet, the steady difference came
    back as variability on every step and the summary read 6.6 %."""
    rng = np.random.default_rng(5)
    k = 400
    base = np.where(np.arange(k) % 2 == 0, 0.36, 0.34)
    st = base * (1.0 + 0.01 * rng.standard_normal(k))
    cv = summarise(_running(st), quality, t_start_s=0.0).step_time_cv_pct
    assert cv == pytest.approx(1.0, abs=0.15)
    # the same variation without the asymmetry gives the same value
    sym = 0.35 * (1.0 + 0.01 * rng.standard_normal(k))
    cv_sym = summarise(_running(sym), quality, t_start_s=0.0).step_time_cv_pct
    assert cv_sym == pytest.approx(1.0, abs=0.15)


def test_a_change_of_pace_is_not_step_time_variability(quality: DataQuality) -> None:
    rng = np.random.default_rng(6)
    k = 600
    pace = np.linspace(0.38, 0.31, k)  # a steady acceleration over the run
    st = pace * (1.0 + 0.015 * rng.standard_normal(k))
    cv = summarise(_running(st), quality, t_start_s=0.0).step_time_cv_pct
    assert cv == pytest.approx(1.5, abs=0.2)


def _with_impacts(impact_g: np.ndarray, clipped: np.ndarray, step_s: float = 0.35) -> StepTable:
    """Running steps with these impacts; a clipped step's impact is NaN, as the analysis has it."""
    st = _running(np.full(impact_g.size, step_s))
    imp = np.where(clipped, np.nan, impact_g)
    return StepTable(**{**{f: getattr(st, f) for f in st.__dataclass_fields__},
                        "impact_g": imp, "saturated": clipped})


def test_clipped_steps_count_in_the_impact_median_as_at_least_the_limit(
        quality: DataQuality) -> None:
    """The hardest landings are the ones that clip: leaving them out read the median low.

    100 steps with impacts 2.00 .. 3.98 g; the 40 hardest (from 3.2 g up) clipped at a 3.2 g
    limit. The true median is 2.99 g; without the clipped steps the median of the other 60 was
    2.59 g. Counted as values above all unclipped ones, the median is exact again.
    """
    impact = np.linspace(2.0, 3.98, 100)
    clipped = impact >= 3.2
    s = summarise(_with_impacts(impact, clipped), quality, t_start_s=0.0)
    assert s.impact_g == pytest.approx(float(np.median(impact)))
    assert s.impact_clipped_pct == pytest.approx(40.0)
    assert np.isnan(s.impact_at_least_g)  # the median is known: no bound needed
    sp = s.get_spread("impact_g")
    assert sp.n == 100
    assert sp.median == pytest.approx(s.impact_g)
    assert sp.p25 == pytest.approx(float(np.percentile(impact, 25)))
    assert np.isnan(sp.p75)  # the 75th percentile falls among the clipped steps: unknown
    # the per-minute series and the thirds count them the same way
    pm = s.per_minute.values[s.per_minute.names.index("impact_g")]
    assert np.all(np.isnan(pm) | (pm < 3.2))


def test_half_or_more_clipped_gives_no_impact_median_but_a_lower_bound(
        quality: DataQuality) -> None:
    impact = np.linspace(2.0, 3.98, 100)
    clipped = impact >= 2.8  # 60 % clipped
    s = summarise(_with_impacts(impact, clipped), quality, t_start_s=0.0)
    assert np.isnan(s.impact_g)
    assert s.impact_clipped_pct == pytest.approx(60.0)
    assert s.impact_at_least_g == pytest.approx(float(impact[~clipped].max()))
    assert s.impact_at_least_g <= float(np.median(impact))  # a true lower bound
    reason = impact_reason(s)
    assert reason is not None
    assert "60 %" in reason
    assert "at least 2.78 g" in reason
    # exactly half clipped: the median needs a clipped value too
    half = summarise(_with_impacts(impact, np.arange(100) >= 50), quality, t_start_s=0.0)
    assert np.isnan(half.impact_g)
    assert half.impact_clipped_pct == pytest.approx(50.0)
    # none clipped: the plain median, no reason
    plain = summarise(_with_impacts(impact, np.zeros(100, bool)), quality, t_start_s=0.0)
    assert plain.impact_g == pytest.approx(float(np.median(impact)))
    assert plain.impact_clipped_pct == 0.0
    assert impact_reason(plain) is None
    # every step clipped: no bound is known
    everything = summarise(_with_impacts(impact, np.ones(100, bool)), quality, t_start_s=0.0)
    assert np.isnan(everything.impact_g)
    assert np.isnan(everything.impact_at_least_g)
    assert impact_reason(everything) is not None


def test_clipped_steps_count_in_the_first_and_last_third_of_impact(
        quality: DataQuality) -> None:
    """A run whose last third lands harder and clips more: the last third's median is not the
    median of the few unclipped steps left in it."""
    # 2400 steps of 0.35 s: 14 minutes of running; the last third's hardest 30 % clipped
    impact = np.concatenate((np.full(800, 2.5), np.full(800, 2.8), np.linspace(2.9, 4.2, 800)))
    clipped = impact >= 3.8
    s = summarise(_with_impacts(impact, clipped), quality, t_start_s=0.0)
    d = s.get_drift("impact_g")
    assert d.first_third == pytest.approx(2.5)
    assert d.last_third == pytest.approx(float(np.median(impact[1600:])), abs=1e-3)
