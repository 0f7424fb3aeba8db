"""Sync must never continue with a different sensor after a reconnect.

A lost link is resumed by reopening the same port; what answers there may be another sensor
(re-plugged, or an operating system handing the device name to the next device). The sync must
notice from DEVICE_INFO, refuse it, and keep trying until its own sensor is back.

The link here is an in-memory byte pipe (no pty), so the sequence of sensors is exact; the
client, decoders, sync procedure and store are the real ones.
"""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path

import numpy as np

from firmware_protocol.codec import Encoder, Received, StreamDecoder
from firmware_protocol.messages import RunChunk
from imurun.device.client import SensorClient
from imurun.device.sync import SyncSettings, sync_runs
from imurun.errors import DeviceTimeoutError
from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from imurun.store.rundir import RunDirectory
from imurun.transport.base import Chunk, Framing, LinkLost


class PipeToSensor:
    """A byte-stream transport to an in-process virtual sensor; drops after ``drop_after`` bytes."""

    framing = Framing.STREAM

    def __init__(self, sensor: VirtualSensor, drop_after: int | None = None) -> None:
        self.sensor = sensor
        self.description = f"pipe to {sensor.cfg.display_name}"
        self.drop_after = drop_after
        self.sent = 0
        self.requests: list[object] = []
        self._dec = StreamDecoder()
        self._enc = Encoder(boot_id=sensor.boot_id)
        self._out: deque[bytes] = deque()
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    async def open(self, timeout_s: float) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def write(self, data: bytes) -> None:
        if not self._open:
            raise LinkLost(self.description, "closed")
        for ev in self._dec.feed(data):
            if isinstance(ev, Received):
                self.requests.append(ev.message)
                for msg in self.sensor.handle(ev.message, 0.0):
                    self._out.append(self._enc.stream_bytes(msg))

    async def read(self, timeout_s: float) -> Chunk:
        if not self._open:
            raise LinkLost(self.description, "closed")
        if not self._out:
            chunk = self.sensor.next_chunk(1012)
            if chunk is not None:
                self._out.append(self._enc.stream_bytes(chunk))
        if not self._out:
            await asyncio.sleep(0)
            raise DeviceTimeoutError(f"reading from {self.description}", timeout_s)
        data = self._out.popleft()
        if self.drop_after is not None and self.sent + len(data) > self.drop_after:
            self._open = False
            self.sensor.cancel_reads()
            raise LinkLost(self.description, "pulled")
        self.sent += len(data)
        return Chunk(0.0, data)


def _sensor(tmp: Path, name: str, device_id: int, seed: int) -> VirtualSensor:
    s = VirtualSensor(SensorConfig(device_id=device_id), Flash(tmp / name))
    rng = np.random.default_rng(seed)
    for k in range(2):
        s.record_run(rng.integers(-2000, 2000, (6000, 6)).astype(np.int16), 1_790_000_000_000 + k)
    return s


def test_a_different_sensor_after_a_reconnect_is_refused(tmp_path: Path) -> None:
    mine = _sensor(tmp_path, "mine", 0x1111, 1)
    other = _sensor(tmp_path, "other", 0x2222, 2)  # same run ids, different content
    originals = {r: mine.flash.read(r) for r in mine.flash.run_ids()}
    other_before = {r: other.flash.read(r) for r in other.flash.run_ids()}
    links = [PipeToSensor(mine, drop_after=30_000), PipeToSensor(other), PipeToSensor(other),
             PipeToSensor(mine)]
    used: list[PipeToSensor] = []

    async def connect() -> SensorClient:
        link = links[min(len(used), len(links) - 1)]
        used.append(link)
        await link.open(1.0)
        return SensorClient(link, timeout_s=0.2)

    store = RunDirectory(tmp_path / "store")
    settings = SyncSettings(timeout_s=0.5, round_silence_s=0.05, backoff_s=(0.0, 0.0))
    report = asyncio.run(sync_runs(connect, store, settings))
    assert report.ok
    assert report.device_id == 0x1111
    assert [r.status for r in report.runs] == ["stored", "stored"]
    stored = sorted(store.runs())
    assert [p.read_bytes() for p in stored] == [originals[r] for r in sorted(originals)]
    # The other sensor was asked who it is, and nothing else: nothing read, nothing erased.
    for link in links[1:3]:
        assert {type(m).__name__ for m in link.requests} == {"DeviceInfoRequest"}
    assert {r: other.flash.read(r) for r in other.flash.run_ids()} == other_before
    assert mine.flash.run_ids() == []  # erased on its own sensor only after being stored
    assert not any(isinstance(m, RunChunk) for m in links[1].requests)
