"""Form indicators: each compares the quantity its evidence is about, with the runner's baseline.

Unit tests of :func:`imurun.signal.indicators.form_indicators` on summaries whose fields are
set by hand (a summary of the pinned synthetic session, with the fields under test replaced),
plus the baseline's anterior tilt carried through :func:`imurun.analyze`.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from imurun import analyze
from imurun.signal.indicators import current_title, form_indicators
from imurun.signal.results import Drift, Indicator, RunAnalysis, RunSummary

HERE = Path(__file__).parent
PIN = HERE / "pins" / "analysis_pin.json.gz"
CLEAN_RUN = HERE.parent / "recordings" / "clean-run.imrs"


@pytest.fixture(scope="module")
def summary() -> RunSummary:
    with gzip.open(PIN, "rt") as fh:
        doc = json.load(fh)
    s = RunAnalysis.from_dict(doc["gyroscope"]["analysis"]).summary
    assert s.n_steps >= 10
    return s


def _ind(inds: tuple[Indicator, ...], key: str) -> Indicator:
    (ind,) = [i for i in inds if i.key == key]
    return ind


# ---------------------------------------------------------------------------- anterior tilt
def test_tilt_range_is_not_reported_or_raised_as_anterior_tilt(summary: RunSummary) -> None:
    """Without standing, there is no anterior tilt: the tilt range (how far the pelvis rocks in
    a step) is another quantity, and Schache et al. 2000 say nothing about it. It used to stand
    in for the anterior tilt and a wider range than the baseline's raised "anterior tilt"."""
    run = replace(summary, pelvic_tilt_range_deg=9.0)
    base = replace(summary, pelvic_tilt_range_deg=5.0)
    ind = _ind(form_indicators(run, baseline=base, anterior_tilt_reason="no standing"),
               "anterior_tilt")
    assert ind.level == "unknown"
    assert math.isnan(ind.value)
    assert ind.metric == "pelvic_anterior_tilt_deg"
    assert math.isnan(ind.change_from_baseline)
    assert ind.reason == "no standing"
    assert "9.0 degrees" in ind.message  # the range is named as what it is
    assert "not how far it tilts forward" in ind.message


def test_anterior_tilt_is_compared_with_the_baseline_anterior_tilt(summary: RunSummary) -> None:
    inds = form_indicators(summary, anterior_tilt_deg=7.5, baseline_anterior_tilt_deg=4.0)
    ind = _ind(inds, "anterior_tilt")
    assert ind.level == "raised"  # +3.5 degrees, beyond the +2 of the settings
    assert ind.value == pytest.approx(7.5)
    assert ind.baseline_value == pytest.approx(4.0)
    assert ind.change_from_baseline == pytest.approx(3.5)
    assert "Your baseline: 4.0 degrees (+3.5)" in ind.message
    same = _ind(form_indicators(summary, anterior_tilt_deg=5.0, baseline_anterior_tilt_deg=4.0),
                "anterior_tilt")
    assert same.level == "info"
    alone = _ind(form_indicators(summary, anterior_tilt_deg=7.5), "anterior_tilt")
    assert alone.level == "info"
    assert math.isnan(alone.baseline_value)


def test_analyze_takes_the_anterior_tilt_of_a_baseline_analysis() -> None:
    """A baseline analysis carries the runner's anterior tilt in its indicator; the summary
    alone does not, and the comparison used to be skipped whatever the baseline."""
    first = analyze(CLEAN_RUN)
    tilt = first.indicator("anterior_tilt")
    assert tilt.metric == "pelvic_anterior_tilt_deg"  # the recording starts standing
    assert math.isfinite(tilt.value)
    lower = tuple(replace(i, value=i.value - 3.0) if i.key == "anterior_tilt" else i
                  for i in first.indicators)
    base = replace(first, indicators=lower)
    again = analyze(CLEAN_RUN, baseline=base).indicator("anterior_tilt")
    assert again.baseline_value == pytest.approx(tilt.value - 3.0)
    assert again.change_from_baseline == pytest.approx(3.0)
    assert again.level == "raised"
    # the same run as its own baseline: no change
    same = analyze(CLEAN_RUN, baseline=first).indicator("anterior_tilt")
    assert same.change_from_baseline == pytest.approx(0.0, abs=1e-12)
    assert same.level == "info"


# ---------------------------------------------------------------------------- asymmetry
def test_a_balance_that_moved_to_the_other_foot_is_raised(summary: RunSummary) -> None:
    """48.5 -> 51.5 % on the left: as far from even as before, but 3 points of contact time
    moved from one foot to the other. Comparing only the distances from even missed it."""
    base = replace(summary, contact_balance_left_pct=48.5)
    run = replace(summary, contact_balance_left_pct=51.5)
    ind = _ind(form_indicators(run, baseline=base), "asymmetry")
    assert ind.value == pytest.approx(1.5)  # below the 2-point threshold
    assert ind.level == "raised"
    assert "Your baseline: 48.5 % on the left (+3.0 percentage points)" in ind.message


def test_a_balance_that_moved_towards_even_is_not_raised(summary: RunSummary) -> None:
    base = replace(summary, contact_balance_left_pct=53.0)
    run = replace(summary, contact_balance_left_pct=50.5)
    assert _ind(form_indicators(run, baseline=base), "asymmetry").level == "not_raised"
    steady = replace(summary, contact_balance_left_pct=50.9)
    near = replace(summary, contact_balance_left_pct=50.2)
    assert _ind(form_indicators(steady, baseline=near), "asymmetry").level == "not_raised"
    further = replace(summary, contact_balance_left_pct=51.9)
    assert _ind(form_indicators(further, baseline=near), "asymmetry").level == "raised"


# ---------------------------------------------------------------------------- form drift
def test_raised_form_drift_names_pace_as_the_other_explanation(summary: RunSummary) -> None:
    """Contact time grows with a slower pace as well as with fatigue; the sensor has no pace."""
    drift = tuple(Drift(d.name, d.unit, 240.0, 262.0) if d.name == "contact_ms" else d
                  for d in summary.drift)
    ind = _ind(form_indicators(replace(summary, drift=drift)), "form_drift")
    assert ind.level == "raised"  # +9.2 %: above +5 %, below the strong +10 %
    assert ind.value == pytest.approx(100 * 22 / 240)
    assert "run slower" in ind.message
    assert "pace" in ind.message


def test_form_drift_does_not_presume_fatigue(summary: RunSummary) -> None:
    """"Form drift with fatigue" named one cause of a change between the first and the last third
    of a run; pace and slope change form as much, and the sensor cannot tell them apart."""
    drift = tuple(Drift(d.name, d.unit, 240.0, 262.0) if d.name == "contact_ms" else d
                  for d in summary.drift)
    ind = _ind(form_indicators(replace(summary, drift=drift)), "form_drift")
    assert ind.key == "form_drift"  # the JSON key others build on stays
    assert ind.title == "Form drift over the run"
    assert "fatigue" not in ind.title.lower()
    for cause in ("pace", "slope", "fatigue"):
        assert cause in ind.message
    unknown = _ind(form_indicators(replace(summary, drift=())), "form_drift")
    assert unknown.message.startswith("Form drift over the run: not measured in this run")
    assert current_title("form_drift", "Form drift with fatigue") == "Form drift over the run"
    assert current_title("overstriding", "Overstriding") == "Overstriding"  # not a former title


# ---------------------------------------------------------------------------- overstriding
def test_a_long_contact_is_not_called_a_sign_of_overstriding(summary: RunSummary) -> None:
    """Lieberman et al. 2015 tie the foot's landing position to step rate and braking, not to
    contact time, and a slow jog has long contacts whatever the landing: a contact time above
    300 ms used to be named as a sign of landing far ahead of the body."""
    slow = replace(summary, braking_mps=0.4, cadence_spm=168.0, contact_ms=320.0)
    ind = _ind(form_indicators(slow), "overstriding")
    assert ind.level == "raised"
    assert "contact" not in ind.message
    assert "sign of landing far ahead" not in ind.message
    assert "similar pace" in ind.message  # braking grows with speed
    low_rate = replace(slow, cadence_spm=150.0)
    msg = _ind(form_indicators(low_rate), "overstriding").message
    assert "step rate of 150 steps/min (below 155) is another sign of landing far ahead" in msg


def test_form_drift_names_its_other_changes_in_words(summary: RunSummary) -> None:
    """The drift's "Also:" part said "step rate 170.2 -> 168.1 steps/min": an arrow in ASCII
    and another name for what every other line calls cadence."""
    moved = {"contact_ms": (240.0, 250.0), "cadence_spm": (170.2, 168.1)}
    drift = tuple(Drift(d.name, d.unit, *moved[d.name]) if d.name in moved else d
                  for d in summary.drift)
    ind = _ind(form_indicators(replace(summary, drift=drift)), "form_drift")
    assert "cadence from 170.2 to 168.1 steps/min" in ind.message
    assert "->" not in ind.message
    assert "step rate" not in ind.message
