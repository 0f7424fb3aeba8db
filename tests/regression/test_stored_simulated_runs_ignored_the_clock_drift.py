"""Regression: the virtual sensor's stored runs ignored ``SensorConfig.clock_drift_ppm``.

Live batches were stamped with the drifting device clock, but a recorded run's sample blocks
got nominal times (``k / fs`` after the first), as if the sensor's crystal were exact whenever
it recorded. The blocks are now stamped with the same clock as live batches, and the host's
fit of block times against sample index (``recording_from_run``) recovers the drift.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.messages import SampleBatch
from firmware_protocol.runfile import read_run
from imurun.ingest.builder import recording_from_run
from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor

FS = 200


def _counts(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(-2000, 2000, (n, 6)).astype(np.int16)


@pytest.mark.parametrize("drift_ppm", [80.0, -45.0])
def test_a_stored_run_follows_the_drifting_clock_as_a_live_stream_does(
        tmp_path: Path, drift_ppm: float) -> None:
    cfg = SensorConfig(clock_drift_ppm=drift_ppm)
    n = 10 * 60 * FS + 77  # ten minutes and a partial last block
    counts = _counts(n)
    sensor = VirtualSensor(cfg, Flash(tmp_path / "flash"), motion=lambda seconds, tag: counts,
                           stream_seconds=n / FS)
    (run_id,) = sensor.record_run(counts, 1_790_000_000_000)
    run = read_run(sensor.flash.read(run_id))
    np.testing.assert_array_equal(run.counts, counts)
    times = run.block_device_time_us.astype(np.int64)
    first = run.block_first_index.astype(np.int64)

    # The live path stamps the same samples with the same clock: compare elapsed device times
    # (blocks of 256 and batches of 10 samples begin together every 1280 samples).
    sensor.start_stream(0.0)
    live = {b.sample_counter: b.device_time_us for b in sensor.stream_batches(None, n)
            if isinstance(b, SampleBatch)}
    both = first % 10 == 0
    assert both.sum() >= 90
    live_elapsed = np.array([live[int(k)] - live[0] for k in first[both]])
    np.testing.assert_allclose((times - times[0])[both], live_elapsed, atol=1)

    # The host's fit of block times against sample index recovers the crystal's error.
    rec = recording_from_run(run)
    assert (FS / rec.fs_hz - 1) * 1e6 == pytest.approx(drift_ppm, abs=0.5)
    assert rec.duration_s == pytest.approx(n / FS * (1 + drift_ppm * 1e-6), abs=1e-4)


def test_without_drift_blocks_keep_their_nominal_times(tmp_path: Path) -> None:
    counts = _counts(3 * 256 + 5)
    sensor = VirtualSensor(SensorConfig(), Flash(tmp_path / "flash"))
    (run_id,) = sensor.record_run(counts, 1_790_000_000_000)
    run = read_run(sensor.flash.read(run_id))
    assert run.block_device_time_us.tolist() == [1_000_000 + 256 * 5000 * j for j in range(4)]
    assert recording_from_run(run).fs_hz == FS
