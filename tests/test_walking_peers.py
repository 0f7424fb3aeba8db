"""The peer walking benchmark scores a peer's output by imurun's rules.

No mobgap and no network: a peer's output is given as lists of contacts.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import walking_peers as wp
from imurun.signal.events import Side
from imurun.validation.datasets import Condition, Subject, Trial

FS = 100.0
L, R = Side.LEFT, Side.RIGHT


def make_trial(ref_ic: list[float], ref_side: list[int], windows: list[tuple[float, float]],
           seconds: float = 20.0, segments: tuple[tuple[int, int], ...] | None = None,
           ) -> Trial:
    n = int(seconds * FS)
    rng = np.random.default_rng(3)
    acc = np.column_stack([0.3 * rng.standard_normal(n), 0.2 * rng.standard_normal(n),
                           9.81 + 0.5 * np.sin(2 * np.pi * 1.8 * np.arange(n) / FS)])
    gyr = 0.1 * rng.standard_normal((n, 3))
    return Trial(
        dataset="synthetic", trial_id="t1", gait="walking", fs_hz=FS, bf_acc_ms2=acc,
        bf_gyr_rads=gyr, segments=segments or ((0, n),),
        ref_ic_s=np.asarray(ref_ic, dtype=np.float64),
        ref_ic_side=np.asarray(ref_side, dtype=np.int8), ref_to_s=np.zeros(0),
        ref_to_side=np.zeros(0, dtype=np.int8), eval_windows_s=tuple(windows),
        condition=Condition("walk"), subject=Subject("s1"), reference="hand-made")


def test_a_peers_contacts_are_scored_by_imurun_rules() -> None:
    # six reference contacts in a window from 2 to 6 s; alternating feet
    ref = [2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    tr = make_trial(ref, [L, R, L, R, L, R], [(2.0, 6.0)])
    # detections: four within 200 ms (errors +20, -40, +100, -200 ms: the last exactly at the
    # tolerance), one 201 ms away from 4.5 (unmatched: a false positive, and 4.5 a miss), one
    # extra at 5.6 (false positive), none for 5.0 (a miss), one at 1.0 outside the window and
    # more than the tolerance from it (not scored at all)
    det = np.array([1.0, 2.52, 2.96, 3.6, 3.8, 4.701, 5.6])
    sides = np.array([L, L, R, R, R, L, R], dtype=np.int8)
    m = wp.score_peer([tr], [det], [sides])
    # tp 4, fp 2, fn 2
    assert (m["n_ref"], m["n_det"], m["tp"], m["fp"], m["fn"]) == (6, 6, 4, 2, 2)
    assert m["precision_pct"] == pytest.approx(66.7)
    assert m["recall_pct"] == pytest.approx(66.7)
    assert m["f1_pct"] == pytest.approx(66.7)
    errors_ms = np.array([20.0, -40.0, 100.0, -200.0])
    assert m["bias_ms"] == pytest.approx(round(errors_ms.mean(), 1))  # -30
    assert m["mae_ms"] == pytest.approx(round(np.abs(errors_ms).mean(), 1))  # 90
    assert m["sd_ms"] == pytest.approx(round(errors_ms.std(ddof=1), 1))
    # sides over the four matched contacts: 2.5 L=L, 3.0 R=R, 3.5 L vs R, 4.0 R=R
    assert (m["lr_n"], m["lr_pct"]) == (4, 75.0)
    # without sides, the contacts are the same and every side is unknown (wrong)
    m2 = wp.score_peer([tr], [det])
    assert m2["tp"] == 4
    assert m2["lr_pct"] == 0.0


def test_contacts_near_the_recording_edges_are_not_held_against_a_peer() -> None:
    tr = make_trial([0.1, 1.0, 19.9], [L, R, L], [(0.0, 20.0)])
    m = wp.score_peer([tr], [np.array([1.01, 19.95])])
    # 0.1 and 19.9 lie within one tolerance of the recording's ends: not scored
    assert (m["n_ref"], m["tp"], m["fp"], m["fn"]) == (1, 1, 0, 0)


def test_scores_pool_over_trials_and_need_one_list_per_trial() -> None:
    a = make_trial([2.5, 3.0], [L, R], [(2.0, 4.0)])
    b = make_trial([5.0], [L], [(4.0, 6.0)])
    m = wp.score_peer([a, b], [np.array([2.5]), np.array([5.05, 5.5])])
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)
    with pytest.raises(ValueError, match="one list"):
        wp.score_peer([a, b], [np.array([2.5])])


def test_mobgap_labels_and_axes() -> None:
    assert wp.side_codes(["left", "right", "nan"]).tolist() == [L, R, Side.UNKNOWN]
    tr = make_trial([], [], [(0.0, 1.0)], seconds=2.0)
    acc, gyr = wp._mobgap_arrays(tr)
    # imurun: x forward, y left, z up (rad/s); mobgap: is (up), ml (right), pa (forward), deg/s
    np.testing.assert_array_equal(acc[:, 0], tr.bf_acc_ms2[:, 2])
    np.testing.assert_array_equal(acc[:, 1], -tr.bf_acc_ms2[:, 1])
    np.testing.assert_array_equal(acc[:, 2], tr.bf_acc_ms2[:, 0])
    assert tr.bf_gyr_rads is not None
    np.testing.assert_allclose(gyr, np.degrees(tr.bf_gyr_rads[:, [2, 1, 0]]) * [1, -1, 1])


def test_windows_are_cut_at_gaps_and_short_pieces_left_out() -> None:
    segs = ((0, 500), (520, 2000))
    pieces = wp._pieces(2000, segs, FS, [(2.0, 7.0), (10.0, 10.5)])
    assert pieces == [(200, 500), (520, 701)]  # 10-10.5 s is shorter than MIN_PIECE_S
    assert wp._pieces(2000, segs, FS, None) == [(0, 500), (520, 2000)]


def test_without_mobgap_or_a_bench_python_the_peers_are_skipped_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("mobgap") is not None:
        pytest.skip("mobgap is importable here: the peers would run in process")
    monkeypatch.delenv("IMURUN_BENCH_PYTHON", raising=False)
    out = wp._run_peers([make_trial([2.5], [L], [(2.0, 6.0)])])
    assert set(out) == {"skipped"}
    assert "IMURUN_BENCH_PYTHON" in out["skipped"]
