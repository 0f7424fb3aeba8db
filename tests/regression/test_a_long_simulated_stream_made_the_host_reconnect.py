"""Regression: a long simulated live stream cost the host one spurious reconnect.

The virtual sensor generated the *whole* stream when it was asked to start (about 4 s of CPU
for ``--stream-minutes 60``) before the first frame left, longer than the host's 3 s of
tolerated silence: ``imurun stream`` reported a reconnect on every long simulated stream. The
sensor now evaluates the motion piece by piece as it sends it (:class:`LazyStream`), bit for bit
what the whole-run generation gives, and writes the truth file aside.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.codec import Encoder
from firmware_protocol.messages import SampleBatch
from imurun.device.client import SensorClient
from imurun.device.stream import StreamSettings, stream_live
from imurun.ingest.builder import RecordingBuilder
from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from imurun.sim.motion import MotionPlan
from imurun.sim.source import LazyStream, SeededSource, load_truth, motion_source
from imurun.transport.serial import SerialTransport
from tests.sim_support import virtual_sensor

CFG = SensorConfig()


def _wire(sensor: VirtualSensor, skip_at: dict[int, float]) -> bytes:
    """Every frame a stream sends, start to STREAM_ENDED, with the link down where asked."""
    sensor.start_stream(0.0)
    enc = Encoder(boot_id=sensor.boot_id)
    out = bytearray()
    for i in range(10**6):
        if i in skip_at:
            sensor.skip_stream(skip_at[i])
        msgs = sensor.stream_batches(None, max_batches=7)
        out += b"".join(f.encode_stream() for m in msgs for f in enc.frames(m))
        if sensor.stream is None:
            break
    return bytes(out)


@pytest.mark.parametrize(("minutes", "mounting"), [(2.0, "upright"), (1.5, "random")])
def test_a_stream_sent_piece_by_piece_is_byte_identical_to_the_whole_run(
        tmp_path: Path, minutes: float, mounting: str) -> None:
    skips = {40: 75.3, 90: 81.0}  # the link drops twice: the stream jumps ahead, across pieces
    whole_source = motion_source(4, CFG, tmp_path / "whole", mounting=mounting)
    whole = VirtualSensor(CFG, Flash(tmp_path / "f1"), stream_seconds=minutes * 60.0,
                          motion=lambda seconds, tag: whole_source(seconds, tag))
    lazy = VirtualSensor(CFG, Flash(tmp_path / "f2"), stream_seconds=minutes * 60.0,
                         motion=motion_source(4, CFG, tmp_path / "lazy", mounting=mounting))
    assert _wire(lazy, skips) == _wire(whole, skips)
    lazy.wait_truth()
    a = load_truth(tmp_path / "whole" / "stream-boot1.npz")
    b = load_truth(tmp_path / "lazy" / "stream-boot1.npz")
    assert len(a["counts"]) == minutes * 60 * 200
    for key in ("counts", "ic_s", "speed_mps", "tilt_deg"):
        np.testing.assert_array_equal(a[key], b[key])


def test_pieces_asked_for_in_any_order_are_the_whole_runs_samples(tmp_path: Path) -> None:
    source = motion_source(9, CFG, tmp_path)
    whole = source(130.0, "whole")
    stream = SeededSource(9, CFG, tmp_path).stream(130.0, "lazy")
    assert isinstance(stream, LazyStream)
    assert len(stream) == len(whole) == 26_000
    rng = np.random.default_rng(0)
    for a in [0, 1995, 25_990, *rng.integers(0, 26_000, 20).tolist()]:
        b = a + int(rng.integers(1, 4500))
        np.testing.assert_array_equal(stream.counts(a, b), whole[a:b])
    stream.wait()


def test_the_first_batch_of_an_hour_long_stream_evaluates_one_piece(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the first frame waits for does not grow with the stream's length."""
    asked: list[tuple[int, int]] = []
    signals = MotionPlan.signals

    def spy(self: MotionPlan, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        asked.append((a, b))
        return signals(self, a, b)

    monkeypatch.setattr(MotionPlan, "signals", spy)
    sensor = VirtualSensor(CFG, Flash(tmp_path / "flash"), stream_seconds=3600.0,
                           motion=motion_source(1, CFG, tmp_path / "truth"))
    sensor.start_stream(0.0)
    first = sensor.stream_batches(None, max_batches=1)
    assert isinstance(first[0], SampleBatch)
    # the evaluations on this thread (the truth file's whole-run one runs on its own)
    assert asked[:1] == [(0, 2000)]
    sensor.wait_truth()
    assert len(load_truth(tmp_path / "truth" / "stream-boot1.npz")["counts"]) == 3600 * 200


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_an_hour_long_simulated_stream_starts_without_a_reconnect(tmp_path: Path) -> None:
    """End to end at real time: the first samples reach the host within its silence timeout."""
    with virtual_sensor(tmp_path, "--seed", "3", "--stream-minutes", "60") as s:
        builder = RecordingBuilder()
        t_first: list[float] = []

        def on_event(_t: float, _ev: object) -> None:
            if builder.n_samples and not t_first:
                t_first.append(time.monotonic())

        async def connect() -> SensorClient:
            t = SerialTransport(str(s.link))
            await t.open(10.0)
            return SensorClient(t, timeout_s=3.0)

        t0 = time.monotonic()
        report = asyncio.run(stream_live(connect, builder,
                                         StreamSettings(duration_s=5.0, timeout_s=3.0),
                                         on_event=on_event))
    assert report.reconnects == 0
    assert report.ended_by == "duration"
    assert t_first
    assert t_first[0] - t0 < 3.0
    assert builder.build().gaps == ()
