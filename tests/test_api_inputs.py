"""The typed Python API on a user's own arrays and arguments: inputs are checked, never changed.

Each test is a defect found by using ``imurun.analyze`` and ``Recording.from_arrays`` as a
developer would (arrays from their own logger), and fails on the code before its fix.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from imurun.analysis import analyze
from imurun.errors import FileFormatError, IngestError, SignalError, UsageError
from imurun.ingest.recording import Recording, Segment

REC = Path(__file__).resolve().parents[1] / "recordings"


def _arrays(n: int = 400, fs: float = 200.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    t = np.arange(n) / fs
    acc = rng.normal(0.0, 0.2, (n, 3))
    acc[:, 2] += 9.81
    gyr = rng.normal(0.0, 0.05, (n, 3))
    return t, acc, gyr


def test_from_arrays_leaves_the_callers_arrays_writable_and_unshared() -> None:
    t, acc, gyr = _arrays()
    rec = Recording.from_arrays(t, acc, gyr)
    # the caller can still write to their own arrays ...
    assert t.flags.writeable
    assert acc.flags.writeable
    assert gyr.flags.writeable
    acc[0, 0] = 123.0
    t[1] = -7.0
    gyr[2, 1] = 55.0
    # ... and doing so does not change the (frozen) recording
    assert rec.acc_ms2[0, 0] != 123.0
    assert rec.t_s[1] != -7.0
    assert rec.gyr_rads is not None
    assert rec.gyr_rads[2, 1] != 55.0
    assert not rec.acc_ms2.flags.writeable


def test_the_constructor_leaves_the_callers_arrays_writable() -> None:
    t, acc, gyr = _arrays()
    rec = Recording(t, acc, gyr, 200.0, (Segment(0, t.size),))
    assert t.flags.writeable
    assert acc.flags.writeable
    assert gyr.flags.writeable
    # a recording built from another recording's (read-only) arrays shares them
    again = Recording(rec.t_s, rec.acc_ms2, rec.gyr_rads, rec.fs_hz, rec.segments)
    assert again.acc_ms2 is rec.acc_ms2


def test_from_arrays_names_a_nan_in_the_time_column() -> None:
    t, acc, gyr = _arrays()
    t[150] = np.nan
    with pytest.raises(IngestError, match=r"t_s must be finite: 1 value\(s\).*index 150"):
        Recording.from_arrays(t, acc, gyr)


@pytest.mark.parametrize("name", ["acc_ms2", "gyr_rads"])
def test_from_arrays_names_nan_samples_and_how_to_make_a_gap(name: str) -> None:
    """NaN samples were refused deep in the pipeline ("split the recording into segments"),
    which a caller of from_arrays cannot do; dropping the rows makes the gap."""
    t, acc, gyr = _arrays()
    (acc if name == "acc_ms2" else gyr)[200:210, 1] = np.nan
    with pytest.raises(IngestError, match=rf"{name} must be finite: 10 row\(s\).*index 200"):
        Recording.from_arrays(t, acc, gyr)
    keep = np.ones(t.size, bool)
    keep[200:210] = False
    rec = Recording.from_arrays(t[keep], acc[keep], gyr[keep])
    assert len(rec.segments) == 2
    assert rec.stats.samples_missing == 10


def test_from_arrays_takes_an_axis_that_was_not_measured() -> None:
    """A logger without a lateral axis: that column is NaN throughout, and stays allowed."""
    t, acc, _ = _arrays()
    acc[:, 1] = np.nan
    rec = Recording.from_arrays(t, acc)
    assert np.isnan(rec.acc_ms2[:, 1]).all()
    acc[7, 0] = np.nan  # a measured axis with a hole is still refused
    with pytest.raises(IngestError, match=r"acc_ms2 must be finite: 1 row\(s\).*index 7"):
        Recording.from_arrays(t, acc)


def test_from_arrays_refuses_unix_seconds_in_float32() -> None:
    t, acc, gyr = _arrays()
    # before: every sample shared a few time stamps and analyze() died in ZeroDivisionError
    with pytest.raises(IngestError, match=r"t_s is float32: .* resolution is 128 s"):
        Recording.from_arrays((t + 1.7e9).astype(np.float32), acc, gyr)
    # float32 times from the start of a recording are fine (and float32 samples too)
    rec = Recording.from_arrays(t.astype(np.float32), acc.astype(np.float32), gyr)
    assert rec.t_s.dtype == np.float64
    assert abs(rec.fs_hz - 200.0) < 1e-3


def _running_like(n: int = 2000, fs: float = 200.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, acc, gyr = _arrays(n, fs)
    gyr[:, 2] += 3.0 * np.sin(2 * np.pi * 1.4 * t)  # a pelvis turning ±170 deg/s
    return t, acc, gyr


def test_analyze_refuses_acceleration_in_g() -> None:
    t, acc, gyr = _running_like()
    # before: analysed as m/s² (a run without running, silently)
    with pytest.raises(SignalError, match=r"acceleration looks like it is in g .*multiply"):
        analyze(Recording.from_arrays(t, acc / 9.80665, gyr))


def test_analyze_refuses_angular_rate_in_deg_per_s() -> None:
    t, acc, gyr = _running_like()
    # before: analysed as rad/s (pelvic angles and the heading frame wrong, silently)
    with pytest.raises(SignalError, match=r"angular rate looks like it is in deg/s"):
        analyze(Recording.from_arrays(t, acc, np.degrees(gyr)))
    analyze(Recording.from_arrays(t, acc, gyr))  # rad/s is fine


def test_analyze_refuses_times_in_milliseconds() -> None:
    t, acc, gyr = _running_like()
    # before: ValueError("zero-size array to reduction operation maximum ...") from NumPy
    with pytest.raises(SignalError, match=r"0\.2 Hz is not plausible .* t_s must be in seconds"):
        analyze(Recording.from_arrays(t * 1000.0, acc, gyr))


def test_analyze_of_an_array_says_how_to_make_a_recording() -> None:
    _, acc, _ = _arrays()
    # before: FileFormatError whose "path" was the whole array printed
    with pytest.raises(UsageError, match=r"got ndarray; .*Recording\.from_arrays"):
        analyze(acc)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "match"), [
    ({"acc_unit": "G"}, r"acc_unit must be one of 'm/s2', 'g', got 'G'"),
    ({"gyr_unit": "deg"}, r"gyr_unit must be one of 'rad/s', 'deg/s', got 'deg'"),
    ({"time_unit": "min"}, r"time_unit must be one of 's', 'ms', 'us', 'ns', got 'min'"),
])
def test_analyze_refuses_a_unit_it_does_not_know(tmp_path: Path, kw: dict[str, str],
                                                 match: str) -> None:
    # before: "G" was taken as m/s² without a word (a run without running), "min" a KeyError
    t, acc, gyr = _running_like()
    csv = tmp_path / "log.csv"
    np.savetxt(csv, np.column_stack([t, acc / 9.80665, gyr]), delimiter=",", comments="",
               header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z")
    with pytest.raises(UsageError, match=match):
        analyze(csv, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["clean-run.imrs", "stored-run.imrn"])
def test_unit_arguments_for_a_device_file_are_refused(name: str) -> None:
    # before: silently ignored, and recorded in the result's parameters as if applied
    with pytest.raises(FileFormatError, match=r"acc_unit \(--acc-unit\) applies to CSV and "
                                              r"Xsens files only: a .* file is in SI units"):
        analyze(REC / name, acc_unit="g")
    with pytest.raises(FileFormatError, match=r"gyr_unit .* and time_unit .* apply to CSV"):
        analyze(REC / name, gyr_unit="deg/s", time_unit="ms")


def test_a_pickled_result_keeps_its_arrays_read_only() -> None:
    # what a process pool does with each result; before, every array came back writable
    result = analyze(REC / "stored-run.imrn")
    back = pickle.loads(pickle.dumps(result))
    assert back.to_json() == result.to_json()
    for arr in (back.steps.ic_s, back.steps.side, back.steps.activity, back.activity.start_s,
                back.summary.per_minute.minute_start_s, back.summary.per_minute.values[0],
                back.summary.quality.mounting.r_bs):
        assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        back.steps.contact_s[0] = 0.0


def test_a_pickled_recording_keeps_its_arrays_read_only() -> None:
    t, acc, gyr = _arrays()
    back = pickle.loads(pickle.dumps(Recording.from_arrays(t, acc, gyr)))
    assert not back.acc_ms2.flags.writeable
    assert back.gyr_rads is not None
    assert not back.gyr_rads.flags.writeable
    np.testing.assert_array_equal(back.acc_ms2, acc)
