"""An axis that was not measured (NaN throughout) is a known state of a recording, not a crash.

``Recording.from_arrays`` accepts such axes ("an axis that is NaN throughout was not measured").
A gyroscope missing an axis gives no pelvic angles, so the run is analysed as accelerometer-only
input and says why; an accelerometer missing an axis cannot define up and forward, so the
mounting is not estimated (the documented fallback: sensor axes taken as body axes, with a
note) unless it is given. Before, both ended in ``SignalError: non-finite samples inside
segment``, which names neither the axis nor what to do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.signal.cleanup import prepare
from imurun.signal.events import Side
from imurun.signal.mounting import MountingError, estimate_mounting

CLEAN = Path(__file__).resolve().parents[1] / "recordings" / "clean-run.imrs"
PELVIC = ("pelvic_tilt_range_deg", "pelvic_drop_stance_left_deg", "pelvic_rotation_range_deg")


@pytest.fixture(scope="module")
def rec() -> imurun.Recording:
    return imurun.load_recording(CLEAN)


@pytest.fixture(scope="module")
def acc_only(rec: imurun.Recording) -> imurun.RunAnalysis:
    return imurun.analyze(imurun.Recording.from_arrays(rec.t_s, rec.acc_ms2))


@pytest.mark.parametrize(("drop", "words"), [((2,), "its z axis was not measured"),
                                             ((0, 1, 2), "its x, y and z axes were not measured")])
def test_a_gyroscope_missing_an_axis_is_analysed_as_accelerometer_only(
        rec: imurun.Recording, acc_only: imurun.RunAnalysis, drop: tuple[int, ...],
        words: str) -> None:
    gyr = rec.gyr_rads.copy()
    gyr[:, list(drop)] = np.nan
    res = imurun.analyze(imurun.Recording.from_arrays(rec.t_s, rec.acc_ms2, gyr))
    assert res.summary.n_steps == acc_only.summary.n_steps > 100
    np.testing.assert_array_equal(res.steps.ic_s, acc_only.steps.ic_s)
    np.testing.assert_array_equal(res.steps.contact_s, acc_only.steps.contact_s)
    assert not res.summary.quality.has_gyroscope
    for name in PELVIC:
        assert np.isnan(getattr(res.summary, name))
        why = res.reason_unavailable(name)
        assert why is not None
        assert words in why
        assert "all three" in why
    assert any(n.startswith(f"gyroscope not used, {words}") for n in res.notes)


def test_an_accelerometer_missing_an_axis_is_no_mounting_to_estimate(
        rec: imurun.Recording) -> None:
    acc = rec.acc_ms2.copy()
    acc[:, 1] = np.nan
    prep = prepare(imurun.Recording.from_arrays(rec.t_s, acc))
    with pytest.raises(MountingError, match="accelerometer's y axis was not measured"):
        estimate_mounting(prep.sf_acc_ms2, prep.fs_hz, segments=prep.segments)
    res = imurun.analyze(imurun.Recording.from_arrays(rec.t_s, acc))
    assert any("mounting not estimated (the accelerometer's y axis was not measured" in n
               for n in res.notes)
    assert res.summary.quality.mounting.method == "assumed upright"


def test_two_body_axes_with_the_mounting_given_keep_timing(rec: imurun.Recording,
                                                            acc_only: imurun.RunAnalysis) -> None:
    """Vertical and forward body axes only (alcantara2022's sensor): events and timing."""
    prep = prepare(rec)
    mnt = estimate_mounting(prep.sf_acc_ms2, prep.fs_hz, gyr_rads=prep.sf_gyr_rads,
                            segments=prep.segments)
    body = rec.acc_ms2 @ mnt.r_sb.T
    body[:, 1] = np.nan  # no lateral axis
    res = imurun.analyze(imurun.Recording.from_arrays(rec.t_s, body), mounting=np.eye(3))
    assert res.summary.n_steps == acc_only.summary.n_steps
    assert res.summary.contact_ms == pytest.approx(acc_only.summary.contact_ms, abs=2.0)
    assert np.all(res.steps.side == Side.UNKNOWN)  # the side needs the lateral axis
