"""Event matching and metrics (no data files needed)."""

from __future__ import annotations

import numpy as np
import pytest

from imurun.validation.evaluate import EventMetrics, _match_in_windows, match_events


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
