"""The data sets at 50 Hz: decimation and interpolation keep the trials' time base."""

from __future__ import annotations

import numpy as np
import pytest

from imurun.validation.datasets import Condition, DatasetNotFoundError, Subject, Trial, load_dataset
from imurun.validation.evaluate import summarise
from imurun.validation.rates import decimated, interpolated, slow_rate_rows, slow_rate_section


def _trial(fs: float = 200.0) -> Trial:
    n = int(20 * fs)
    t = np.arange(n) / fs
    acc = np.column_stack([np.sin(2 * np.pi * 0.7 * t), np.full(n, np.nan),
                           9.8 + np.cos(2 * np.pi * 1.3 * t)])
    return Trial(dataset="synthetic", trial_id="t", gait="walking", fs_hz=fs, bf_acc_ms2=acc,
                 bf_gyr_rads=None, segments=((0, 1001), (1203, n)), ref_ic_s=np.zeros(0),
                 ref_ic_side=np.zeros(0, dtype=np.int64), ref_to_s=np.zeros(0),
                 ref_to_side=np.zeros(0, dtype=np.int64), eval_windows_s=((0.0, 20.0),),
                 condition=Condition("c"), subject=Subject("s"), reference="synthetic")


def test_decimation_keeps_times_and_segments() -> None:
    tr = _trial()
    d = decimated(tr, 4)
    assert d.fs_hz == 50.0
    # segments start at the first multiple of 4 inside them; nothing between them
    assert d.segments == ((0, 251), (301, 1000))
    for a, b in d.segments:
        i = np.arange(a + 5, b - 5)  # away from the edges
        np.testing.assert_allclose(d.bf_acc_ms2[i][:, [0, 2]], tr.bf_acc_ms2[4 * i][:, [0, 2]],
                                   atol=2e-3)
    assert np.isnan(d.bf_acc_ms2[:, 1]).all()  # an axis not measured stays NaN
    assert np.isnan(d.bf_acc_ms2[260:300]).all()  # no samples in the gap


def test_interpolation_keeps_times_and_segments() -> None:
    d = decimated(_trial(), 4)
    up = interpolated(d, 4)
    assert up.fs_hz == 200.0
    assert up.segments == ((0, 1001), (1204, 3997))
    tr = _trial()
    for a, b in up.segments:
        i = np.arange(a + 40, b - 40)
        np.testing.assert_allclose(up.bf_acc_ms2[i][:, [0, 2]], tr.bf_acc_ms2[i][:, [0, 2]],
                                   atol=5e-3)
    assert np.isnan(up.bf_acc_ms2[1001:1204]).all()


def test_the_section_has_a_row_per_data_set_and_rate() -> None:
    tr = _trial()
    rows = slow_rate_rows([tr])
    assert [r.label for r in rows] == ["its own, 200 Hz", "50 Hz, as sampled",
                                       "50 Hz, interpolated to 200 Hz (the clean-up's)"]
    assert [r.fs_hz for r in rows] == [200.0, 50.0, 200.0]
    text = slow_rate_section(rows)
    assert text.startswith("## Slow sensors: the data sets at 50 Hz")
    assert text.count("| synthetic |") == 3
    # a data set whose rate is no whole multiple of 50 Hz is left out
    assert slow_rate_rows([_trial(120.0)]) == []


def test_interpolation_restores_running_event_timing_at_50_hz() -> None:
    try:
        trials = load_dataset("alcantara2022")
    except DatasetNotFoundError as e:
        pytest.skip(f"{e} (set IMURUN_SHARED_DATA)")
    own, slow, interp = slow_rate_rows(trials)
    assert interp.label.startswith("50 Hz, interpolated")
    # as sampled at 50 Hz: IC 12 ms MAE, contact times 20 ms RMSE; interpolated: 6 and 11
    assert slow.summary.ic.mae_s > 0.010
    assert interp.summary.ic.mae_s <= 0.6 * slow.summary.ic.mae_s
    assert interp.summary.contact_rmse_s <= 0.6 * slow.summary.contact_rmse_s
    assert interp.summary.contact_rmse_s <= own.summary.contact_rmse_s + 0.002
    assert summarise(interp.results, "x").ic.recall == 1.0


def test_walking_at_50_hz_interpolated_keeps_its_detection() -> None:
    for name in ("mobgap_lab", "voisard_ipol"):
        try:
            trials = load_dataset(name)
        except DatasetNotFoundError as e:
            pytest.skip(f"{e} (set IMURUN_SHARED_DATA)")
        own, _, interp = slow_rate_rows(trials)
        assert interp.summary.ic.f1 >= own.summary.ic.f1 - 0.003, name
        assert interp.summary.ic.mae_s <= own.summary.ic.mae_s + 0.002, name
        assert interp.summary.side_accuracy >= own.summary.side_accuracy - 0.003, name
