"""Regression: ``Recording.from_arrays`` took times that go back, and the analysis failed later.

A ``t_s`` that goes back (rows out of order, two recordings concatenated) became a "gap" ending
before it started (``Gap(29.995, 28.0)``), and a repeated time a gap of no length; then
``imurun.analyze`` failed deep inside the pelvic metrics with ``SignalError: t_s must be
strictly increasing``, naming no index. A file whose time repeats or goes back is refused with
the line that does; arrays now are too, with the index.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import imurun
from imurun.errors import IngestError

RUN = Path(__file__).resolve().parents[2] / "recordings" / "stored-run.imrn"


def test_a_time_that_goes_back_is_refused_naming_where() -> None:
    rec = imurun.load_recording(RUN)
    t = rec.t_s.copy()
    t[6000:] -= 2.0
    with pytest.raises(IngestError) as e:
        imurun.Recording.from_arrays(t, rec.acc_ms2, rec.gyr_rads)
    assert str(e.value) == ("t_s is not increasing: t_s[6000] = 28 is less than t_s[5999] = "
                            "29.995; sort the samples by time, drop repeated ones, or split the "
                            "arrays into one recording each")


def test_a_repeated_time_is_refused_naming_where() -> None:
    rec = imurun.load_recording(RUN)
    t = rec.t_s.copy()
    t[5001:] -= 0.005  # t[5000] == t[5001]
    with pytest.raises(IngestError, match=r"^t_s is not increasing: t_s\[5001\] = 25 repeats "
                                          r"t_s\[5000\] = 25; "):
        imurun.Recording.from_arrays(t, rec.acc_ms2, rec.gyr_rads)


def test_increasing_times_with_a_jump_still_make_a_gap() -> None:
    rec = imurun.load_recording(RUN)
    t = rec.t_s.copy()
    t[5000:] += 1.0
    mine = imurun.Recording.from_arrays(t, rec.acc_ms2, rec.gyr_rads)
    assert [(s.start, s.stop) for s in mine.segments] == [(0, 5000), (5000, 12000)]
    assert imurun.analyze(mine).summary.n_steps > 90
