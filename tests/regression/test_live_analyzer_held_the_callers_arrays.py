"""Regression: ``LiveAnalyzer.add`` held the caller's arrays, and took NaN samples.

1. A program filling one buffer for every block (as a serial or BLE reader often does) changed
   the samples ``LiveAnalyzer`` still held: until the mounting is known the blocks wait, as
   given, in a list. The stored run read 50 samples at a time through one reused buffer gave
   166 steps instead of 125, and other live numbers. The blocks are copied now.
2. A block holding a NaN was taken, and a later ``add`` failed deep in the event detector
   (``bf_acc_ms2[:, z] has non-finite samples inside segment (0, 3200)``), after which the
   analyzer could not go on. It is refused at once, naming the row, before anything is held.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.analysis_live import LiveAnalyzer, LiveMetrics, StreamSteps
from imurun.errors import SignalError

RUN = Path(__file__).resolve().parents[2] / "recordings" / "stored-run.imrn"


def _live(reuse: bool, nan_block_at: int | None = None) -> tuple[list[LiveMetrics], int]:
    rec = imurun.load_recording(RUN)
    assert rec.gyr_rads is not None
    reports: list[LiveMetrics] = []
    found: list[StreamSteps] = []
    live = LiveAnalyzer(rec.fs_hz, reports.append, report_every_s=15, on_steps=found.append)
    acc_buf, gyr_buf = np.empty((50, 3)), np.empty((50, 3))
    for i in range(0, rec.n_samples, 50):
        acc, gyr = rec.acc_ms2[i:i + 50], rec.gyr_rads[i:i + 50]
        if i == nan_block_at:
            bad = acc.copy()
            bad[7, 1] = np.nan
            with pytest.raises(SignalError, match=r"^sf_acc_ms2 must be finite: 1 row\(s\) of "
                                                  r"this block hold NaN or infinite values, "
                                                  r"the first at index 7; "):
                live.add(bad, gyr)
        if reuse:
            acc_buf[:], gyr_buf[:] = acc, gyr
            acc, gyr = acc_buf, gyr_buf
        live.add(acc, gyr)
    live.flush()
    return reports, sum(len(s) for s in found)


def _rows(reports: list[LiveMetrics]) -> list[tuple[float, float, int]]:
    return [(m.t_s, m.cadence_spm, m.n_steps) for m in reports]


def test_a_reused_buffer_gives_what_fresh_arrays_give() -> None:
    fresh, n_fresh = _live(reuse=False)
    reused, n_reused = _live(reuse=True)
    assert n_fresh > 100
    assert n_reused == n_fresh
    np.testing.assert_array_equal(np.array(_rows(reused)), np.array(_rows(fresh)))


@pytest.mark.parametrize("at", [1000, 6000])  # before and after the mounting is known
def test_a_nan_block_is_refused_and_the_analyzer_goes_on(at: int) -> None:
    fresh, n_fresh = _live(reuse=False)
    after_refusal, n_after = _live(reuse=False, nan_block_at=at)
    assert n_after == n_fresh
    np.testing.assert_array_equal(np.array(_rows(after_refusal)), np.array(_rows(fresh)))


@pytest.mark.parametrize("at", [1000, 6000])  # before and after the mounting is known
def test_a_gap_that_goes_back_in_time_is_refused(at: int) -> None:
    """``gap(t_next_s)`` earlier than the samples so far made the live steps' times go back."""
    rec = imurun.load_recording(RUN)
    found: list[StreamSteps] = []
    live = LiveAnalyzer(rec.fs_hz, lambda _m: None, on_steps=found.append)
    for i in range(0, rec.n_samples, 50):
        if i == at:
            with pytest.raises(SignalError, match=rf"^gap\(t_next_s=1\.0\): the next samples "
                                                  rf"cannot start before the end of those so "
                                                  rf"far \({at / 200:g} s\)$"):
                live.gap(1.0)
            live.gap(at / 200 + 5.0)  # forward: a gap of 5 s
        live.add(rec.acc_ms2[i:i + 50], None if rec.gyr_rads is None else rec.gyr_rads[i:i + 50])
    live.flush()
    ic = StreamSteps.concat(found).ic_s
    assert len(ic) > 100
    assert (np.diff(ic) > 0).all()
    assert ic[-1] > 58.0  # the last step at 54.3 s without the gap, 5 s later with it


@pytest.mark.parametrize("at", [1000, 6000])  # before and after the mounting is known
def test_a_gap_a_rounding_error_before_the_end_is_at_the_end(at: int) -> None:
    """``LiveStreamHook`` adds up block durations (``n / fs`` per batch), which after an hour is
    a few nanoseconds off the analyzer's own ``n_seen / fs``; a boot placed right after the one
    before then asked for ``gap(t)`` 4e-9 s before the end, was refused with ``SignalError``, and
    the live lines stopped. Within half a sample period it is the end; further back is refused."""
    rec = imurun.load_recording(RUN)
    found: list[StreamSteps] = []
    live = LiveAnalyzer(rec.fs_hz, lambda _m: None, on_steps=found.append)
    for i in range(0, rec.n_samples, 50):
        if i == at:
            live.gap(at / 200 - 5e-9)
            with pytest.raises(SignalError, match="cannot start before the end"):
                live.gap(at / 200 - 0.6 / 200)
        live.add(rec.acc_ms2[i:i + 50], None if rec.gyr_rads is None else rec.gyr_rads[i:i + 50])
    live.flush()
    ic = StreamSteps.concat(found).ic_s
    assert len(ic) > 100
    assert (np.diff(ic) > 0).all()
