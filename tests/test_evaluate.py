"""Event matching and metrics (no data files needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from imurun.signal.events import Side, detect_walking_events
from imurun.validation.datasets import Condition, Subject, Trial
from imurun.validation.evaluate import (
    EventMetrics,
    _match_in_windows,
    _same_foot_pairs,
    evaluate_trial,
    match_events,
    score_detections,
)


def test_match_is_one_to_one_and_nearest_first() -> None:
    ref = np.array([1.0, 2.0, 3.0])
    det = np.array([1.01, 1.02, 2.2, 2.95])
    m = match_events(ref, det, 0.1)
    assert m.ref_idx.tolist() == [0, 2]
    assert m.det_idx.tolist() == [0, 3]
    np.testing.assert_allclose(m.error_s, [0.01, -0.05])
    assert (m.tp, m.fp, m.fn) == (2, 2, 1)


def test_nearest_pair_wins_a_shared_detection() -> None:
    m = match_events([1.0, 1.08], [1.06], 0.1)
    assert m.ref_idx.tolist() == [1]


def test_tolerance_is_inclusive_and_nan_never_matches() -> None:
    m = match_events([1.0, np.nan], [1.05, np.nan], 0.05)
    assert m.tp == 1
    assert m.n_ref == 2
    assert m.n_det == 2


def test_empty_inputs() -> None:
    m = match_events([], [1.0], 0.1)
    assert (m.tp, m.fp, m.fn) == (0, 1, 0)
    m = match_events([1.0], [], 0.1)
    assert (m.tp, m.fp, m.fn) == (0, 0, 1)


def test_metrics() -> None:
    e = np.array([0.01, -0.01, 0.02])
    m = EventMetrics.from_counts(3, 1, 1, e)
    assert m.precision == pytest.approx(0.75)
    assert m.recall == pytest.approx(0.75)
    assert m.f1 == pytest.approx(0.75)
    assert m.bias_s == pytest.approx(np.mean(e))
    assert m.mae_s == pytest.approx(np.mean(np.abs(e)))
    assert m.rmse_s == pytest.approx(np.sqrt(np.mean(e**2)))
    empty = EventMetrics.from_counts(0, 0, 0, np.zeros(0))
    assert np.isnan(empty.precision)
    assert np.isnan(empty.mae_s)


def test_events_near_recording_edges_are_not_scored() -> None:
    ref = np.array([0.02, 1.0, 2.0])
    det = np.array([1.0, 2.0, 2.99])  # 2.99: a detection whose partner lies after the end
    ri, di, rs, df = _match_in_windows(ref, det, [(0.0, 3.0)], 0.05, (0.0, 3.0))
    assert ri.tolist() == [1, 2]
    assert di.tolist() == [0, 1]
    assert rs.tolist() == [1, 2]  # the reference at 0.02 s is within one tolerance of the start
    assert df.size == 0
    # inside the recording, window edges are real: the same events are scored
    ri, di, rs, df = _match_in_windows(ref, det, [(0.0, 3.0)], 0.05, (-10.0, 10.0))
    assert rs.tolist() == [0, 1, 2]
    assert df.tolist() == [2]


def test_same_foot_pairs_of_the_reference() -> None:
    # L R L L R | R L : one same-foot pair in the first window (in a turn), one across a
    # side-unknown contact that does not count, and none across the two windows
    ref = np.array([1.0, 1.5, 2.0, 3.0, 3.5, 10.0, 10.5, 11.0])
    side = np.array([0, 1, 0, 0, 1, 1, -1, 1])
    pairs, counts = _same_foot_pairs(ref, side, [(0.5, 4.0), (9.5, 11.5)], [(1.8, 3.2)])
    assert pairs.tolist() == [[2.0, 3.0]]
    # (same-foot straight, known straight, same-foot in turns, known in turns)
    assert counts == (0, 3, 1, 1)
    empty, none = _same_foot_pairs(ref[:1], side[:1], [(0.5, 4.0)], [])
    assert empty.shape == (0, 2)
    assert none == (0, 0, 0, 0)


def _listed(s: Any, keep: npt.NDArray[np.bool_]) -> Trial:
    """A synthetic walk (``tests.test_events.synthetic_walk``) listing the contacts ``keep`` picks."""
    return Trial(dataset="synthetic", trial_id="t", gait="walking", fs_hz=100.0,
                 bf_acc_ms2=s.acc, bf_gyr_rads=s.gyr, segments=((0, s.acc.shape[0]),),
                 ref_ic_s=s.ic_s[keep], ref_ic_side=s.side[keep].astype(np.int64),
                 ref_to_s=np.zeros(0), ref_to_side=np.zeros(0, dtype=np.int64),
                 eval_windows_s=((0.0, 12.0),), condition=Condition("c"),
                 subject=Subject("s"), reference="synthetic")


def test_false_detections_between_two_contacts_of_one_foot_are_counted() -> None:
    from tests.test_events import synthetic_walk

    s = synthetic_walk(duration_s=12.0)
    # the reference leaves out one right contact (index 8): its neighbours are both left
    keep = np.ones(s.ic_s.size, dtype=bool)
    keep[8] = False
    ref = s.ic_s[keep]
    trial = _listed(s, keep)
    r = evaluate_trial(trial)
    assert r.ic_counts[1] == 1  # the detection of the unlisted contact is a false one...
    assert r.false_between_same_foot == 1  # ...and lies between two left contacts
    assert r.ref_same_foot == (1, ref.size - 1, 0, 0)
    # the gap the left-out contact leaves is two usual steps long: a long reference interval
    assert r.long_ref_intervals == 1
    assert r.false_in_long_ref_interval == 1
    np.testing.assert_allclose(r.long_ref_interval_s, s.ic_s[9] - s.ic_s[7])
    np.testing.assert_allclose(r.ref_interval_s, ref[-1] - ref[0])


def test_false_detections_in_a_long_reference_interval_are_counted_whatever_its_feet() -> None:
    from tests.test_events import synthetic_walk

    s = synthetic_walk(duration_s=12.0)
    # two consecutive contacts left out: the interval around them begins and ends with
    # different feet (no same-foot pair) and is three usual steps long
    keep = np.ones(s.ic_s.size, dtype=bool)
    keep[[8, 9]] = False
    side = s.side[keep]
    assert side[7] != side[8]
    trial = _listed(s, keep)
    # detections at every true contact: the two unlisted ones are false detections
    r = score_detections(trial, s.ic_s, s.side)
    assert r.ic_counts[1] == 2
    assert r.false_between_same_foot == 0
    assert r.long_ref_intervals == 1
    assert r.false_in_long_ref_interval == 2
    np.testing.assert_allclose(r.long_ref_interval_s, s.ic_s[10] - s.ic_s[7])
    # a usual reference has none
    full = score_detections(Trial(**{**trial.__dict__, "ref_ic_s": s.ic_s,
                                     "ref_ic_side": s.side.astype(np.int64)}), s.ic_s, s.side)
    assert (full.long_ref_intervals, full.false_in_long_ref_interval) == (0, 0)


def test_spring_mass_contact_inverts_the_half_sine_body_weight_fall() -> None:
    from imurun.signal.events import spring_mass_contact_s

    tc = np.array([0.18, 0.22, 0.26, 0.30])
    step = np.array([0.30, 0.33, 0.36, 0.42])
    e = tc * (1.0 - np.arcsin(2.0 * tc / (np.pi * step)) / np.pi)  # Morin et al. 2005
    np.testing.assert_allclose(spring_mass_contact_s(e, step), tc, atol=2e-4)
    np.testing.assert_allclose(spring_mass_contact_s(e, step, 1.05), 1.05 * tc, atol=2e-4)
    # no half-sine falls through body weight that late, or at all
    assert np.isnan(spring_mass_contact_s([0.5, 0.0, -0.1], [0.3, 0.3, 0.3])).all()


def test_the_model_on_a_force_plate_of_exact_half_sines_has_no_error() -> None:
    """A reference force made of the model's own pulses: with the plate's timings and a pulse
    width of 1, the model returns each contact time (to within the sampling)."""
    from imurun.validation.datasets import Condition, Subject, Trial
    from imurun.validation.evaluate import spring_mass_on_reference

    fs = 1000.0
    rng = np.random.default_rng(5)
    tc = rng.uniform(0.19, 0.27, 12)
    step = tc + rng.uniform(0.08, 0.13, 12)
    ic = 0.2 + np.concatenate([[0.0], np.cumsum(step)[:-1]])
    t = np.arange(int((ic[-1] + step[-1] + 0.2) * fs)) / fs
    f = np.zeros_like(t)
    for a, c, s in zip(ic, tc, step, strict=True):
        inside = (t >= a) & (t < a + c)
        f[inside] = np.pi * s / (2.0 * c) * np.sin(np.pi * (t[inside] - a) / c)  # mean 1 BW
    n = t.size
    trial = Trial(dataset="synthetic", trial_id="t", gait="running", fs_hz=fs,
                  bf_acc_ms2=np.zeros((n, 3)), bf_gyr_rads=None, segments=((0, n),),
                  ref_ic_s=ic, ref_ic_side=np.zeros(ic.size, dtype=np.int8),
                  ref_to_s=ic + tc, ref_to_side=np.zeros(ic.size, dtype=np.int8),
                  eval_windows_s=((0.0, n / fs),), condition=Condition("c"),
                  subject=Subject("s"), reference="synthetic", ref_vgrf_bw=f)
    model, ref = spring_mass_on_reference(trial, 1.0)
    assert model.size == ic.size - 1  # every step with a next IC
    np.testing.assert_allclose(ref, tc[:-1], atol=1e-9)
    np.testing.assert_allclose(model, ref, atol=1.5e-3)
    wide, _ = spring_mass_on_reference(trial, 1.05)
    np.testing.assert_allclose(wide, 1.05 * model, rtol=1e-9)


@pytest.mark.parametrize("duty", [0.55, 0.65, 0.75])
def test_the_report_slope_of_the_toe_off_model_matches_the_closed_form(duty: float) -> None:
    """The report splits a trial's contact error with the model's ``d tc / d e``: for the
    half-sine (width 1), ``e / T = u (1 - asin(2u / pi) / pi)`` with ``u = tc / T``, so
    ``d tc / d e = 1 / (de/du / T)``; a width scales ``tc`` and the slope alike."""
    from imurun.validation.report import _spring_mass_slope

    step = 0.31
    u = duty
    s = 2.0 * u / np.pi
    de_du = 1.0 - np.arcsin(s) / np.pi - s / (np.pi * np.sqrt(1.0 - s**2))
    assert _spring_mass_slope(u * step, step, 1.0) == pytest.approx(1.0 / de_du, rel=2e-3)
    assert _spring_mass_slope(1.05 * u * step, step, 1.05) == pytest.approx(1.05 / de_du,
                                                                            rel=2e-3)
    assert np.isnan(_spring_mass_slope(2.0 * step, step, 1.0))


def test_walking_toe_offs_are_scored_on_a_trial_where_none_was_found() -> None:
    """Regression: walking TO was scored only on trials with at least one detected TO. A trial
    where the detector found none (no push-off, e.g. fast walking) dropped its reference
    toe-offs from the recall, and left its data set with no TO metrics at all (summarise
    needs every trial's)."""
    from imurun.signal.events import WalkingSettings
    from imurun.validation.datasets import Condition, Subject, Trial
    from imurun.validation.evaluate import evaluate_trial, summarise
    from tests.test_events import synthetic_walk

    s = synthetic_walk(duration_s=12.0)  # no push-off in its signal: no TO is found
    side = s.side.astype(np.int64)
    trial = Trial(dataset="synthetic", trial_id="t", gait="walking", fs_hz=100.0,
                  bf_acc_ms2=s.acc, bf_gyr_rads=s.gyr, segments=((0, s.acc.shape[0]),),
                  ref_ic_s=s.ic_s, ref_ic_side=side, ref_to_s=s.ic_s[1:] + 0.15,
                  ref_to_side=side[:-1], eval_windows_s=((0.0, 12.0),),
                  condition=Condition("c"), subject=Subject("s"), reference="synthetic")
    r = evaluate_trial(trial)
    assert r.to_counts is not None
    tp, fp, fn = r.to_counts
    assert (tp, fp) == (0, 0)
    assert fn > 5  # every scored reference TO is a miss
    assert summarise([r], "synthetic").to is not None
    off = evaluate_trial(trial, walking=WalkingSettings(estimate_to=False))
    assert off.to_counts is None  # not estimated: not scored


def _walk_trial() -> Trial:
    """A trial of a 1.8 Hz trunk bounce with a reference contact at every bounce."""
    fs, n = 100.0, 2000
    t = np.arange(n) / fs
    rng = np.random.default_rng(3)
    acc = np.column_stack([0.3 * rng.standard_normal(n), 0.2 * rng.standard_normal(n),
                           9.81 + 1.5 * np.sin(2 * np.pi * 1.8 * t)])
    ref = np.arange(2.0, 18.0, 1 / 1.8)
    side = np.where(np.arange(ref.size) % 2 == 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    return Trial(dataset="synthetic", trial_id="t", gait="walking", fs_hz=fs, bf_acc_ms2=acc,
                 bf_gyr_rads=0.1 * rng.standard_normal((n, 3)), segments=((0, n),),
                 ref_ic_s=ref, ref_ic_side=side, ref_to_s=ref + 0.6, ref_to_side=side,
                 eval_windows_s=((1.0, 19.0),), condition=Condition("walk"),
                 subject=Subject("s"), reference="hand-made")


def test_score_detections_is_what_evaluate_trial_scores() -> None:
    tr = _walk_trial()
    ev = detect_walking_events(tr.bf_acc_ms2, tr.fs_hz, tr.bf_gyr_rads, segments=tr.segments)
    assert ev.ic_s.size > 10  # the detector found the steps: the comparison is not empty
    a = evaluate_trial(tr)
    b = score_detections(tr, ev.ic_s, ev.side, ev.to_s)
    assert a.ic_counts == b.ic_counts
    np.testing.assert_array_equal(a.ic_error_s, b.ic_error_s)
    assert (a.side_known, a.side_correct) == (b.side_known, b.side_correct)
    assert a.to_counts == b.to_counts
    np.testing.assert_array_equal(a.contact_det_s, b.contact_det_s)
    # without toe-offs, TO is not scored; without sides, every side is unknown
    c = score_detections(tr, ev.ic_s)
    assert c.to_counts is None
    assert c.ic_counts == a.ic_counts
    assert c.side_correct == 0
    with pytest.raises(ValueError, match="shape"):
        score_detections(tr, [2.5, 3.0], [Side.LEFT])
