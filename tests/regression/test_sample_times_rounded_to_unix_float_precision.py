"""Regression: sample times were computed in Unix seconds and jittered by 0.24 µs.

Both the live ingest (``RecordingBuilder``) and ``recording_from_run`` computed every sample's
time as float64 Unix seconds (~1.79e9, resolution 2.4e-7 s) and subtracted the start only at the
end. Inside a segment, consecutive ``t_s`` differences wandered by ±24 ppm around 1/fs, so the
"uniform" time base failed ``np.allclose(np.diff(t_s), 1 / fs_hz)``. Times are now kept relative
to a reference until the end; the start's Unix time is carried separately.
"""

from __future__ import annotations

import numpy as np

from firmware_protocol.runfile import RunHeader, RunWriter, read_run
from imurun.ingest.builder import recording_from_run
from tests.ingest_support import build, clean_script


def test_live_sample_spacing_is_uniform_to_the_nanosecond() -> None:
    rec = build(clean_script(5.0).bursts())
    np.testing.assert_allclose(np.diff(rec.t_s), 1 / rec.fs_hz, rtol=0, atol=1e-9)


def test_stored_run_sample_spacing_is_uniform_to_the_nanosecond() -> None:
    w = RunWriter(RunHeader(1, 2, 3, 200, 1_790_000_000_000, 1_000_000, 16, 2000, 0.0048, 0.001))
    counts = np.zeros((2000, 6), np.int16)
    rec = recording_from_run(read_run(w.start() + w.samples(counts, 1_000_000) + w.end()))
    np.testing.assert_allclose(np.diff(rec.t_s), 1 / rec.fs_hz, rtol=0, atol=1e-9)
    assert abs(rec.meta.start_unix_s - 1_790_000_000.0) < 1e-6
