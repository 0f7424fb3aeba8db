"""Regression: the virtual BLE sensor's first RSC measurements of a stream waited for its truth file.

The RSC values came from the stream's truth file, which a background thread writes beside the
flash once it has generated the whole run (seconds for a long stream); until it was on disk no
measurement was queued, so the first ones went out late, all at once, after hundreds of sample
batches. Now they come from the stream's motion plan, evaluated as the seconds complete: the
measurement of second k leaves right behind the batch that completes second k (the 20k-th batch
of 10 samples at 200 Hz), before the next batch, from the first second on. The values are those
the truth file gives, bit for bit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from firmware_protocol.codec import Encoder, PacketDecoder, Received
from firmware_protocol.messages import SampleBatch, StreamStart
from imurun.sim.ble_link import BleFaults, BleLink, RscModel
from imurun.sim.firmware import SensorConfig
from imurun.sim.runner import SimulateOptions, make_sensor
from imurun.sim.source import load_truth, motion_source
from imurun.testing.bleak_bumble import make_backends
from imurun.testing.bumble_link import EmulatedRadio
from imurun.transport.ble import (
    COMMANDS_UUID,
    DEFAULT_WRITE_SIZE,
    FRAMES_UUID,
    RSC_MEASUREMENT_UUID,
    BleBackend,
    resolve,
)

BATCHES_PER_S = 200 // 10
SECONDS = 5  # measurements looked at


def test_the_first_rsc_measurement_follows_the_batch_that_completes_the_first_second(
        tmp_path: Path) -> None:
    # a long stream: its truth file takes seconds to write, the first seconds go out in ms
    opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", stream_minutes=20)
    air: list[str] = []  # "B" a sample batch, "R" an RSC measurement, in arrival order
    rsc: list[bytes] = []
    sent: list[int | None] = []  # per RSC notification, in order: its stream second (None: idle)

    async def body() -> None:
        sensor = make_sensor(opts, say=lambda _m: None)
        async with (EmulatedRadio() as radio,
                    BleLink(sensor, radio, faults=BleFaults(), realtime=False,
                            truth_dir=opts.flash / "truth") as link):
            backend = BleBackend(*make_backends(radio))
            decoder = PacketDecoder()
            enough = asyncio.Event()

            def on_notify(sender: BleakGATTCharacteristic, data: bytearray) -> None:
                if sender.uuid == RSC_MEASUREMENT_UUID:
                    air.append("R")
                    rsc.append(bytes(data))
                    if sum(k is not None for k, _ in link.rsc_log) >= SECONDS:
                        enough.set()
                    return
                for ev in decoder.feed(bytes(data)):
                    if isinstance(ev, Received) and isinstance(ev.message, SampleBatch):
                        air.append("B")

            found = await resolve(link.name, timeout_s=5.0, backend=backend)
            assert found.device is not None
            async with BleakClient(found.device, timeout=10.0, backend=backend.client) as client:
                await client.start_notify(RSC_MEASUREMENT_UUID, on_notify)
                await client.start_notify(FRAMES_UUID, on_notify)
                for packet in Encoder().packets(StreamStart(), DEFAULT_WRITE_SIZE):
                    await client.write_gatt_char(COMMANDS_UUID, packet, response=True)
                async with asyncio.timeout(60.0):
                    await enough.wait()
                    assert sensor.stream is not None  # still streaming: nothing waited for its end
            sent.extend(k for k, _ in link.rsc_log)
        # (closing the link waits for the truth file)

    asyncio.run(body())
    # the emulated link loses nothing and keeps the order: the i-th R on the air is rsc_log[i]
    at = [i for i, x in enumerate(air) if x == "R"]
    assert len(sent) >= len(at)
    stream = [(k, air[:i].count("B"), data) for k, i, data in zip(sent, at, rsc, strict=False)
              if k is not None][:SECONDS]
    assert [k for k, _, _ in stream] == list(range(1, SECONDS + 1))
    # second k leaves behind the batch that completes it, before the next one
    assert [n for _, n, _ in stream] == [BATCHES_PER_S * k for k in range(1, SECONDS + 1)], air[:200]
    model = RscModel(load_truth(opts.flash / "truth" / "stream-boot1.npz"))
    assert [d for _, _, d in stream] == [bytes(model.at(float(k))) for k in range(1, SECONDS + 1)]


def test_the_model_of_a_stream_equals_the_model_of_its_truth_file(tmp_path: Path) -> None:
    """Every second of a 95-s stream (several pieces of the model, a partial last one)."""
    source = motion_source(7, SensorConfig(), tmp_path / "truth")
    stream = source.stream(95.0, "stream-boot1")
    live = RscModel.of_stream(stream, distance_offset_m=12.5)
    stream.wait()
    truth = RscModel(load_truth(tmp_path / "truth" / "stream-boot1.npz"), distance_offset_m=12.5)
    assert live.duration_s == truth.duration_s == 95.0
    for k in range(1, 96):
        a, b = live.at(float(k)), truth.at(float(k))
        assert a == b, k
        assert bytes(a) == bytes(b), k
    speeds = load_truth(tmp_path / "truth" / "stream-boot1.npz")["speed_mps"]
    assert live.at(95.0).total_distance_m == np.cumsum(speeds)[-1] / 200 + 12.5
