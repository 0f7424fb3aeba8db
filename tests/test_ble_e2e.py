"""BLE end to end: the real bleak against the virtual sensor's BLE face on an emulated radio.

Everything runs in-process: :class:`imurun.sim.ble_link.BleLink` serves a
:class:`~imurun.sim.firmware.VirtualSensor` as a bumble peripheral, and the host side is the
production path (``BleakScanner``/``BleakClient`` via :mod:`imurun.transport.ble`, then the same
``SensorClient``/``stream_live``/``sync_runs``/``RecordingBuilder``/``RunDirectory`` as serial)
with bleak's ``backend=`` set to the emulated radio. Streams run flat out (simulated time
follows the samples sent), so 5 simulated minutes take seconds. Tests wait on conditions with
timeouts, never sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bumble import gatt

import imurun
from firmware_protocol.codec import Encoder, PacketDecoder, Received
from firmware_protocol.messages import Event, EventCode, StreamStart
from firmware_protocol.rsc import RscMeasurement
from imurun import cli
from imurun.device.client import SensorClient
from imurun.device.stream import StreamSettings, replay, stream_live
from imurun.device.sync import SyncSettings, sync_runs
from imurun.errors import DeviceTimeoutError, TransportError
from imurun.ingest.builder import RecordingBuilder
from imurun.ingest.recording import GapCause
from imurun.sim.ble_link import RSC_FEATURES, BleFaults, BleLink, RscModel
from imurun.sim.firmware import VirtualSensor
from imurun.sim.runner import SimulateOptions, make_sensor
from imurun.sim.source import load_truth
from imurun.store.rundir import RunDirectory
from imurun.testing.bleak_bumble import make_backends
from imurun.testing.bumble_link import EmulatedRadio, notify_characteristic
from imurun.transport.ble import (
    COMMANDS_UUID,
    DEFAULT_WRITE_SIZE,
    FRAMES_UUID,
    RSC_MEASUREMENT_UUID,
    BleBackend,
    BleTransport,
    FoundSensor,
    NotificationQueue,
    RscReader,
    resolve,
    scan,
)
from imurun.transport.session import ReplayTransport, SessionWriter, read_session

FS_HZ = 200
CONNECT_TIMEOUT_S = 10.0


def quiet(_msg: str) -> None:
    pass


@dataclass
class Rig:
    sensor: VirtualSensor
    link: BleLink
    backend: BleBackend
    truth_dir: Path


@asynccontextmanager
async def rig(tmp_path: Path, *, runs: int = 0, minutes: float = 1.0, stream_minutes: float = 1.0,
              faults: BleFaults | None = None, att_mtu: int = 247) -> AsyncIterator[Rig]:
    opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=runs,
                           minutes=minutes, stream_minutes=stream_minutes)
    sensor = make_sensor(opts, say=quiet)
    async with (EmulatedRadio(att_mtu=att_mtu) as radio,
                BleLink(sensor, radio, faults=faults or BleFaults(), realtime=False,
                        truth_dir=opts.flash / "truth") as link):
        yield Rig(sensor, link, BleBackend(*make_backends(radio)), opts.flash / "truth")


def run(body: Callable[[], Awaitable[None]], timeout_s: float = 120.0) -> None:
    async def main() -> None:
        async with asyncio.timeout(timeout_s):
            await body()

    asyncio.run(main())


def connector(target: str, backend: BleBackend, *, session: SessionWriter | None = None,
              rsc_queue: NotificationQueue | None = None,
              ) -> tuple[Callable[[], Awaitable[SensorClient]], list[BleTransport]]:
    """What the CLI does: resolve once, then reconnect to the device found."""
    opened: list[BleTransport] = []

    async def connect() -> SensorClient:
        found = opened[-1].found if opened else None
        t = BleTransport(found or target, backend=backend, rsc_queue=rsc_queue)
        await t.open(CONNECT_TIMEOUT_S)
        opened.append(t)
        return SensorClient(t, session=session, max_write=t.max_write)

    return connect, opened


def streamed_counts(builder: RecordingBuilder) -> tuple[np.ndarray, np.ndarray]:
    """(sample counters, counts) of everything the builder received, in counter order."""
    batches = sorted((c, counts) for b in builder.boots for c, _, counts, _ in b.batches)
    counters = np.concatenate([np.arange(c, c + len(k)) for c, k in batches])
    return counters, np.concatenate([k for _, k in batches])


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------
def test_scan_finds_the_virtual_sensor_and_resolves_name_or_address(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as r:
            found = await scan(0.5, backend=r.backend)
            assert [s.name for s in found] == [r.link.name] == ["imurun-0001"]
            s = found[0]
            assert s.address == r.link.address
            assert s.is_imurun
            assert s.has_rsc
            assert s.rssi == -50
            by_name = await resolve(r.link.name, timeout_s=5.0, backend=r.backend)
            by_address = await resolve(r.link.address.lower(), timeout_s=5.0, backend=r.backend)
            assert by_name == by_address == s
            with pytest.raises(DeviceTimeoutError, match="finding a BLE device with name 'nope'"):
                await resolve("nope", timeout_s=0.3, backend=r.backend)
            async with BleTransport(s, backend=r.backend):
                assert await scan(0.3, backend=r.backend) == []  # one host at a time

    run(body)


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------
def test_five_simulated_minutes_stream_with_every_sample_accounted_for(tmp_path: Path) -> None:
    """Flat out: 60,000 samples, compared with the counts in the sensor's truth file."""

    async def body() -> None:
        async with rig(tmp_path, stream_minutes=5.0) as r:
            session = SessionWriter(tmp_path / "s.imrses", {"framing": "packet"})
            connect, opened = connector(r.link.name, r.backend, session=session)
            builder = RecordingBuilder()
            report = await stream_live(connect, builder, StreamSettings(timeout_s=5.0))
            session.close()
        assert report.ended_by == "sensor"
        assert report.reconnects == 0
        truth = load_truth(r.truth_dir / "stream-boot1.npz")["counts"]
        assert len(truth) == 5 * 60 * FS_HZ
        counters, counts = streamed_counts(builder)
        np.testing.assert_array_equal(counters, np.arange(len(truth)))
        np.testing.assert_array_equal(counts, truth)
        stats = builder.decoder_stats
        assert stats is not None
        assert (stats.frames_corrupt, stats.frames_lost, stats.fragments_discarded) == (0, 0, 0)
        rec = builder.build()
        assert rec.n_samples == len(truth)
        assert rec.gaps == ()
        assert opened[0].max_write == 244  # the emulated link's ATT_MTU 247 - 3

        # The session keeps the notifications as they arrived; replaying them gives the same.
        again = RecordingBuilder()
        await replay(SensorClient(ReplayTransport(read_session(tmp_path / "s.imrses"))), again)
        np.testing.assert_array_equal(streamed_counts(again)[1], truth)

    run(body)


def test_malformed_notifications_are_counted_and_skipped_without_losing_the_stream(
        tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path, stream_minutes=0.5, faults=BleFaults(malformed_every=7)) as r:
            connect, _ = connector(r.link.name, r.backend)
            builder = RecordingBuilder()
            report = await stream_live(connect, builder, StreamSettings(timeout_s=5.0))
        assert report.ended_by == "sensor"
        bad = r.link.stats.malformed
        assert min(bad.values()) >= 20, bad  # every kind injected many times
        stats = builder.decoder_stats
        assert stats is not None
        assert stats.frames_corrupt == bad["truncated"] + bad["bad_crc"] + bad["oversized"]
        assert stats.messages_unknown == bad["unknown_type"]
        assert stats.frames_lost == 0
        truth = load_truth(r.truth_dir / "stream-boot1.npz")["counts"]
        counters, counts = streamed_counts(builder)
        np.testing.assert_array_equal(counters, np.arange(len(truth)))
        np.testing.assert_array_equal(counts, truth)
        rec = builder.build()
        assert rec.gaps == ()
        assert rec.stats.frames_corrupt == stats.frames_corrupt

    run(body)


def test_real_time_pacing_streams_at_the_sample_rate(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as r:
            r.link.realtime = True
            connect, _ = connector(r.link.name, r.backend)
            builder = RecordingBuilder()
            report = await stream_live(connect, builder, StreamSettings(duration_s=2.0))
        assert report.ended_by == "duration"
        assert 1.5 * FS_HZ <= report.samples <= 2.2 * FS_HZ
        rec = builder.build()
        assert rec.fs_hz == pytest.approx(FS_HZ, rel=0.02)
        assert rec.gaps == ()

    run(body)


def test_nothing_is_sized_from_the_mtu_at_att_mtu_23(tmp_path: Path) -> None:
    """20-byte notifications: every frame is fragmented; writes fall back to 20 bytes."""

    async def body() -> None:
        async with rig(tmp_path, stream_minutes=10 / 60, att_mtu=23) as r:
            connect, opened = connector(r.link.name, r.backend)
            builder = RecordingBuilder()
            report = await stream_live(connect, builder, StreamSettings(timeout_s=5.0))
        assert opened[0].max_write == DEFAULT_WRITE_SIZE
        assert report.samples == 10 * FS_HZ
        truth = load_truth(r.truth_dir / "stream-boot1.npz")["counts"]
        np.testing.assert_array_equal(streamed_counts(builder)[1], truth)
        assert r.link.stats.bytes_sent / r.link.stats.notifications <= 20

    run(body)


def test_sensor_reboot_mid_stream_reconnects_with_an_explicit_boundary(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path, stream_minutes=0.5,
                       faults=BleFaults(reboot_after_s=(10.0,), reconnect_delay_s=0.1)) as r:
            connect, _ = connector(r.link.name, r.backend)
            builder = RecordingBuilder()
            report = await stream_live(connect, builder, StreamSettings(timeout_s=5.0))
        assert r.link.stats.reboots == 1
        assert report.reconnects == 1
        assert report.reboots == 1  # counted across the reconnect, as the recording has it
        assert [b.boot_id for b in builder.boots if b.batches] == [1, 2]
        rec = builder.build()
        assert GapCause.REBOOT in {g.cause for g in rec.gaps}
        first = np.concatenate([k for _, _, k, _ in builder.boots[0].batches])
        truth = load_truth(r.truth_dir / "stream-boot1.npz")["counts"]
        np.testing.assert_array_equal(first, truth[:len(first)])
        assert 9 * FS_HZ <= len(first) <= 12 * FS_HZ  # what was sent before the reboot

    run(body)


# --------------------------------------------------------------------------------------------
# Sync
# --------------------------------------------------------------------------------------------
def test_sync_three_runs_with_a_disconnect_half_way_stores_the_flash_image(tmp_path: Path) -> None:
    async def body() -> None:
        opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=3,
                               minutes=1.0)
        flash = make_sensor(opts, say=quiet).flash
        image = {run_id: flash.read(run_id) for run_id in flash.run_ids()}
        total = sum(map(len, image.values()))
        faults = BleFaults(disconnect_after=(total // 2,))
        async with rig(tmp_path, runs=3, faults=faults) as r:
            connect, opened = connector(r.link.name, r.backend)
            sink = RunDirectory(tmp_path / "store")
            report = await sync_runs(connect, sink, SyncSettings())
        assert r.link.stats.disconnects == 1
        assert report.reconnects == 1
        assert len(opened) == 2
        assert report.ok
        assert len(report.stored) == 3
        assert report.bytes_fetched == total  # resumed at the verified offset: nothing twice
        stored = {int(p.name.split("-")[1]): p.read_bytes() for p in sink.runs()}
        assert stored == image
        assert r.sensor.flash.run_ids() == []  # erased only after being stored

    run(body)


def test_a_cancelled_sync_stops_at_once_erases_nothing_unstored_and_the_next_resumes(
        tmp_path: Path) -> None:
    """Ctrl-C (a cancellation of the main task) while run chunks are arriving over BLE."""

    async def body() -> None:
        opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=2,
                               minutes=1.0)
        flash = make_sensor(opts, say=quiet).flash
        image = {run_id: flash.read(run_id) for run_id in flash.run_ids()}
        total = sum(map(len, image.values()))
        async with rig(tmp_path, runs=2) as r:
            connect, opened = connector(r.link.name, r.backend)
            sink = RunDirectory(tmp_path / "store")
            progressed = asyncio.Event()

            def progress(_run_id: int, verified: int, _size: int) -> None:
                if verified > 0:
                    progressed.set()

            task = asyncio.create_task(sync_runs(connect, sink, SyncSettings(),
                                                 progress=progress))
            async with asyncio.timeout(30.0):
                await progressed.wait()
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=3.0)
            assert done == {task}, "the sync did not stop within 3 s of the cancellation"
            assert task.cancelled()
            assert not opened[-1].is_open
            stored = {int(p.name.split("-")[1]): p.read_bytes() for p in sink.runs()}
            for run_id in image:
                if run_id not in r.sensor.flash.run_ids():
                    assert stored.get(run_id) == image[run_id], f"run {run_id} erased, not stored"

            report = await sync_runs(connect, sink, SyncSettings())
        assert report.ok
        assert report.bytes_fetched < total  # the verified prefix was kept
        assert {int(p.name.split("-")[1]): p.read_bytes() for p in sink.runs()} == image
        assert r.sensor.flash.run_ids() == []

    run(body)


def test_reads_after_a_lost_link_raise_link_lost_and_timeouts_name_the_operation(
        tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as r:
            async with BleTransport(r.link.name, backend=r.backend) as t:
                with pytest.raises(DeviceTimeoutError, match=r"reading from BLE imurun-0001"):
                    await t.read(0.05)
                assert r.link.peripheral is not None
                await r.link.peripheral.disconnect()
                with pytest.raises(TransportError, match="disconnected by the sensor"):
                    await t.read(5.0)
                with pytest.raises(TransportError, match="link lost"):
                    await t.write(b"\x00" * 11)
                assert not t.is_open
            await r.link.close()  # the sensor vanishes
            with pytest.raises(DeviceTimeoutError, match=r"connecting to BLE imurun-0001"):
                await BleTransport(t.found or r.link.name, backend=r.backend).open(0.3)

    run(body)


# --------------------------------------------------------------------------------------------
# Running Speed and Cadence
# --------------------------------------------------------------------------------------------
def expected_cadence(truth: dict[str, np.ndarray], t_s: float) -> int:
    """Steps/min of the last step completed within 2 s (the documented RSC definition)."""
    end = truth["ic_s"] + truth["step_s"]
    done = np.flatnonzero((end <= t_s) & (end > t_s - 2.0))
    return 0 if len(done) == 0 else int(round(60.0 / truth["step_s"][done[-1]]))


def test_rsc_notifications_decode_to_the_virtual_sensors_cadence(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path, stream_minutes=1.5) as r:
            rsc_queue: NotificationQueue = asyncio.Queue()
            connect, _ = connector(r.link.name, r.backend, rsc_queue=rsc_queue)
            await stream_live(connect, RecordingBuilder(), StreamSettings(timeout_s=5.0))
        received = [RscMeasurement.from_bytes(rsc_queue.get_nowait()[1])
                    for _ in range(rsc_queue.qsize())]
        sent = [RscMeasurement.from_bytes(bytes(m)) for _, m in r.link.rsc_log]
        last_of_stream = max(i for i, (k, _) in enumerate(r.link.rsc_log) if k is not None)
        assert len(received) > last_of_stream
        assert received == sent[:len(received)]  # none lost, decoded as sent
        truth = load_truth(r.truth_dir / "stream-boot1.npz")
        per_second = [(k, m) for k, m in r.link.rsc_log if k is not None]
        assert [k for k, _ in per_second] == list(range(1, 91))
        for k, m in per_second:
            i = k * FS_HZ - 1
            assert m.cadence_per_min == expected_cadence(truth, k), k
            assert m.speed_mps == pytest.approx(truth["speed_mps"][i], abs=1 / 512)
            assert m.running == (truth["activity_labels"][i] == "run")
        running = [m.cadence_per_min for _, m in per_second if m.running]
        true_running = 60.0 / truth["step_s"][truth["step_activity"] == "run"]
        assert len(running) > 20
        assert np.median(running) == pytest.approx(np.median(true_running), abs=2)
        distance = [m.total_distance_m for _, m in per_second]
        assert distance == sorted(distance)
        assert distance[-1] == pytest.approx(truth["speed_mps"].sum() / FS_HZ, abs=0.1)

    run(body)


def test_every_stream_rsc_measurement_is_on_the_air_before_the_stream_ended_event(
        tmp_path: Path) -> None:
    """The sensor has one transmit queue: the measurement of second k follows its last batch.

    So a host that stops at STREAM_ENDED already holds every stream measurement, however fast
    it closes. (The virtual sensor used to send the last one after the event; the test above
    then passed only while the host was slow to close.) Raw bleak records both characteristics
    in one list, in arrival order.
    """

    async def body() -> None:
        async with rig(tmp_path, stream_minutes=0.25) as r:
            air: list[tuple[str, bytes]] = []
            end_at: list[int] = []  # index in `air` of the frame that ended the stream
            ended = asyncio.Event()
            decoder = PacketDecoder()

            def on_notify(sender: BleakGATTCharacteristic, data: bytearray) -> None:
                air.append((sender.uuid, bytes(data)))
                if sender.uuid != FRAMES_UUID:
                    return
                for ev in decoder.feed(bytes(data)):
                    if (isinstance(ev, Received) and isinstance(ev.message, Event)
                            and ev.message.code == EventCode.STREAM_ENDED and not end_at):
                        end_at.append(len(air) - 1)
                        ended.set()

            found = await resolve(r.link.name, timeout_s=5.0, backend=r.backend)
            assert found.device is not None
            async with BleakClient(found.device, timeout=CONNECT_TIMEOUT_S,
                                   backend=r.backend.client) as client:
                await client.start_notify(RSC_MEASUREMENT_UUID, on_notify)
                await client.start_notify(FRAMES_UUID, on_notify)
                for packet in Encoder().packets(StreamStart(), DEFAULT_WRITE_SIZE):
                    await client.write_gatt_char(COMMANDS_UUID, packet, response=True)
                async with asyncio.timeout(30.0):
                    await ended.wait()
                before_end = [d for u, d in air[:end_at[0]] if u == RSC_MEASUREMENT_UUID]

                def idle_after_end() -> list[bytes]:
                    return [d for u, d in air[end_at[0]:] if u == RSC_MEASUREMENT_UUID]

                async with asyncio.timeout(10.0):  # the next idle ("standing") measurement
                    while not idle_after_end():
                        await asyncio.sleep(0.05)

        model = RscModel(load_truth(r.truth_dir / "stream-boot1.npz"))
        seconds = round(model.duration_s)
        assert seconds == 15
        expected = [bytes(model.at(float(k))) for k in range(1, seconds + 1)]
        assert before_end[-seconds:] == expected
        # standing after the stream: the total distance stays where the stream left it
        standing = RscMeasurement.from_bytes(idle_after_end()[0])
        assert not standing.running
        assert standing.speed_mps == 0.0
        assert standing.total_distance_m == RscMeasurement.from_bytes(expected[-1]).total_distance_m

    run(body)


def test_rsc_reader_reads_features_and_idle_measurements(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path) as r, RscReader(r.link.name, backend=r.backend) as rsc:
            assert rsc.features == RSC_FEATURES
            n = await rsc.read(timeout_s=5.0)
            assert n.measurement == RscMeasurement(0.0, 0, 0.0, 0.0, running=False)
            assert RscMeasurement.from_bytes(n.data) == n.measurement

    run(body)


# --------------------------------------------------------------------------------------------
# The CLI, in-process, with the emulated radio injected through imurun.cli.ble_backend_hook
# --------------------------------------------------------------------------------------------
@pytest.fixture
def emulated_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                 ) -> Callable[..., list[BleLink]]:
    """Install a hook serving a virtual sensor (runs of 0.5 min, flat out); return its links."""
    links: list[BleLink] = []

    def install(*, runs: int = 0, stream_minutes: float = 0.5,
                faults: BleFaults | None = None) -> list[BleLink]:
        opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=runs,
                               minutes=0.5, stream_minutes=stream_minutes)

        @asynccontextmanager
        async def hook() -> AsyncIterator[BleBackend]:
            sensor = make_sensor(opts, say=quiet)
            async with (EmulatedRadio() as radio,
                        BleLink(sensor, radio, faults=faults or BleFaults(), realtime=False,
                                truth_dir=opts.flash / "truth") as link):
                links.append(link)
                yield BleBackend(*make_backends(radio))

        monkeypatch.setattr(cli, "ble_backend_hook", hook)
        return links

    return install


def test_cli_devices_lists_name_address_rssi_and_firmware(
        emulated_cli: Callable[..., list[BleLink]], capsys: pytest.CaptureFixture[str]) -> None:
    links = emulated_cli()
    assert cli.main(["devices", "--scan-time", "0.5"]) == 0
    out = capsys.readouterr().out
    assert links[0].address in out
    assert "imurun-0001" in out
    assert "-50 dBm" in out
    assert "firmware 1.0.0" in out
    assert "id 1d0c5e7500000001" in out


def test_cli_sync_reports_a_sensor_disconnect_and_reconnects(
        emulated_cli: Callable[..., list[BleLink]], capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=1, minutes=0.5)
    flash = make_sensor(opts, say=quiet).flash
    image = flash.read(flash.run_ids()[0])
    emulated_cli(faults=BleFaults(disconnect_after=(len(image) // 2,)))
    code = cli.main(["sync", "--ble", "imurun-0001", "--store", str(tmp_path / "store")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BLE imurun-0001 [F0:00:00:00:00:01]: disconnected by the sensor or out of range; " \
           "reconnecting" in out
    assert "reconnected to BLE imurun-0001" in out
    assert "1 reconnects" in out
    assert [p.read_bytes() for p in RunDirectory(tmp_path / "store").runs()] == [image]


LOST_LINE = ("  BLE imurun-0001 [F0:00:00:00:00:01]: disconnected by the sensor or out of range; "
             "reconnecting")


@pytest.mark.parametrize("command", ["sync", "stream"])
def test_cli_says_a_ble_disconnect_in_one_line(
        emulated_cli: Callable[..., list[BleLink]], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str) -> None:
    """Regression: a stream said the loss twice ('link lost; reconnecting' from the stream,
    then the reason from the connector), and the connector said it again on every failed
    try while the sensor was away. One line per loss, with its reason, then one when back."""
    # Reconnection tries that time out while the sensor is away (1 s): several of them. The
    # first connection keeps its full timeout (it is not retried, and a loaded machine is slow).
    real_open = BleTransport.open
    opens: list[float] = []

    async def open_(self: BleTransport, timeout_s: float) -> None:
        opens.append(timeout_s)
        await real_open(self, timeout_s if len(opens) == 1 else 0.2)

    monkeypatch.setattr(BleTransport, "open", open_)
    if command == "sync":
        opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=1,
                               minutes=0.5)
        flash = make_sensor(opts, say=quiet).flash
        size = len(flash.read(flash.run_ids()[0]))
        emulated_cli(faults=BleFaults(disconnect_after=(size // 2,), reconnect_delay_s=1.0))
        args = ["sync", "--ble", "imurun-0001", "--store", str(tmp_path / "store")]
    else:
        emulated_cli(stream_minutes=1.0,
                     faults=BleFaults(disconnect_after=(80_000,), reconnect_delay_s=1.0))
        args = ["stream", "--ble", "imurun-0001", "--out", str(tmp_path / "live.imrses")]
    code = cli.main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert [ln for ln in lines if "reconnect" in ln and "reconnects" not in ln] == [
        LOST_LINE, "  reconnected to BLE imurun-0001 [F0:00:00:00:00:01]"], out
    assert len(opens) >= 3, opens  # the case at hand: reconnecting took more than one try


def test_cli_stream_with_rsc_leaves_an_explicit_gap_after_a_sensor_disconnect(
        emulated_cli: Callable[..., list[BleLink]], capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    links = emulated_cli(stream_minutes=1.0,
                         faults=BleFaults(disconnect_after=(80_000,), reconnect_delay_s=0.3))
    out_file = tmp_path / "live.imrses"
    code = cli.main(["stream", "--ble", "imurun-0001", "--rsc", "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert LOST_LINE in out.splitlines()
    assert "reconnected to BLE imurun-0001" in out
    assert "ended by sensor; 1 reconnects" in out
    assert "RSC: " in out
    assert "(0 malformed)" in out
    link = links[0]
    assert link.stats.disconnects == 1

    # The session replays to the same recording, with the disconnect as an explicit gap.
    sf = read_session(out_file)
    builder = RecordingBuilder()
    asyncio.run(replay(SensorClient(ReplayTransport(sf)), builder))
    rec = builder.build()
    gaps = [g for g in rec.gaps if g.cause == GapCause.DISCONNECT]
    assert len(gaps) == 1
    assert gaps[0].n_missing > 0
    truth = load_truth(tmp_path / "flash" / "truth" / "stream-boot1.npz")["counts"]
    counters, counts = streamed_counts(builder)
    assert rec.n_samples + gaps[0].n_missing == len(truth)  # all accounted for
    np.testing.assert_array_equal(counts, truth[counters])
    notes = [r for r in sf.records if r.kind.name == "NOTE" and b'"rsc"' in r.data]
    assert len(link.rsc_log) - 2 <= len(notes) <= len(link.rsc_log)  # one may die with the link


def test_cli_stream_rsc_from_a_plain_footpod(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """A third-party footpod: no imurun service, only 0x1814; one notification is malformed."""
    values = [bytes.fromhex("07341256890704030201")] * 5 + [b"\x07\x00"] + [
        bytes.fromhex("00 0003 AA")] * 5

    @asynccontextmanager
    async def hook() -> AsyncIterator[BleBackend]:
        async with EmulatedRadio() as radio:
            measurement = notify_characteristic("2A53")
            subscribed = asyncio.Event()
            measurement.on(measurement.EVENT_SUBSCRIPTION,
                           lambda _bearer, notify, _indicate: notify and subscribed.set())
            pod = await radio.add_peripheral("Footpod", [gatt.Service("1814", [measurement])])

            async def feed() -> None:
                await subscribed.wait()
                for v in values:
                    await pod.notify(measurement, v)

            task = asyncio.create_task(feed())
            try:
                yield BleBackend(*make_backends(radio))
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    monkeypatch.setattr(cli, "ble_backend_hook", hook)
    code = cli.main(["stream", "--ble", "Footpod", "--rsc", "--duration", "1.0",
                     "--out", str(tmp_path / "pod.imrses")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(RSC only)" in out
    assert "RSC: 10 measurements (1 malformed), median cadence 170 /min" in out

    assert cli.main(["stream", "--ble", "Footpod", "--out", str(tmp_path / "x.imrses")]) == 2
    assert "add --rsc" in capsys.readouterr().err

    assert cli.main(["devices", "--scan-time", "0.5"]) == 0
    assert "no sensors found" in capsys.readouterr().out
    assert cli.main(["devices", "--all", "--scan-time", "0.5"]) == 0
    assert "footpod (RSC)" in capsys.readouterr().out


def test_found_sensor_str_and_flags() -> None:
    s = FoundSensor("imurun-0001", "F0:00:00:00:00:01", -50, ())
    assert str(s) == "imurun-0001 [F0:00:00:00:00:01]"
    assert not s.is_imurun
    assert not s.has_rsc


# before: a reboot that reached the host only as a new connection (BLE: the link drops with the
# sensor) showed the live analysis no Rebooted event; the new boot's sample counter, restarting
# at 0, looked like "late duplicates" and every new sample was thrown away until the counter
# passed the old boot's last value (41 s of a 90-s stream here), then the rest was glued to the
# old boot with no gap.
def test_live_analysis_keeps_every_sample_across_a_reboot_seen_as_a_reconnection(
        tmp_path: Path) -> None:
    from imurun.analysis_live import LiveStreamHook
    from imurun.signal.streaming import StreamSteps

    steps: list[StreamSteps] = []
    lines: list[str] = []
    hook = LiveStreamHook(lines.append, on_steps=steps.append)

    async def body() -> None:
        async with rig(tmp_path, stream_minutes=1.0,
                       faults=BleFaults(reboot_after_s=(30.0,), reconnect_delay_s=0.1)) as r:
            connect, _ = connector(r.link.name, r.backend)
            builder = RecordingBuilder()
            report = await stream_live(connect, builder, StreamSettings(timeout_s=5.0),
                                       on_event=hook)
        assert report.reconnects == 1
        assert [b.boot_id for b in builder.boots if b.batches] == [1, 2]
        assert hook.analyzer is not None
        assert hook.analyzer.n_seen == builder.n_samples  # every sample analysed live
        hook.flush()
        live = StreamSteps.concat(steps)
        first = sum(len(k) for _, _, k, _ in builder.boots[0].batches) / FS_HZ
        # the second boot is analysed from its start, as a new segment: steps on both sides
        assert np.any(live.running & (live.ic_s > first) & (live.ic_s < first + 30.0))
        assert np.any(live.running & (live.ic_s < first))

    run(body)


# before: a cancelled stream (Ctrl-C) sent no STREAM_STOP: the sensor went on streaming
def test_a_cancelled_stream_tells_the_sensor_to_stop(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path, stream_minutes=5.0) as r:
            connect, _ = connector(r.link.name, r.backend)
            builder = RecordingBuilder()
            task = asyncio.create_task(stream_live(connect, builder, StreamSettings()))
            while builder.n_samples < 2000:  # a condition, not a sleep: 10 s of samples in
                await asyncio.sleep(0.01)
            assert r.sensor.stream is not None
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(10.0):
                while r.sensor.stream is not None:  # the STREAM_STOP reaches the sensor
                    await asyncio.sleep(0.01)

    run(body)


# --------------------------------------------------------------------------------------------
# stream_to_file over BLE, with the sensor's Running Speed and Cadence kept in the file
# --------------------------------------------------------------------------------------------
def rsc_notes(path: Path) -> list[dict[str, object]]:
    """The RSC notes of a session file, in file order."""
    notes = [json.loads(r.data) for r in read_session(path).records if r.kind.name == "NOTE"]
    return [n for n in notes if "rsc" in n]


def test_stream_to_file_keeps_the_sensors_rsc_notifications_from_python(tmp_path: Path) -> None:
    """``stream_to_file(..., rsc_queue=q)`` with ``ble_connection(..., rsc_queue=q)``: every RSC
    measurement the sensor sent is a note of the file (none lost, in order, as sent), and
    ``on_rsc`` heard each one as it was kept."""
    from imurun.device.connect import ble_connection, stream_to_file

    heard: list[tuple[float, bytes]] = []

    async def body() -> None:
        async with rig(tmp_path, stream_minutes=0.25) as r:
            queue: NotificationQueue = asyncio.Queue()
            got = await stream_to_file(
                ble_connection(r.link.name, backend=r.backend, rsc_queue=queue),
                tmp_path / "live.imrses", StreamSettings(timeout_s=5.0), rsc_queue=queue,
                on_rsc=lambda t, data: heard.append((t, data)))
            assert got.report.ended_by == "sensor"
            assert got.recording is not None
            assert got.recording.n_samples == 3000
            assert queue.empty()  # drained into the file
            sent = [bytes(m) for _, m in r.link.rsc_log]
            notes = rsc_notes(tmp_path / "live.imrses")
            kept = [bytes.fromhex(str(n["rsc"])) for n in notes]
            assert len(kept) >= 15  # one a second of stream, at least
            assert kept == sent[:len(kept)] == [d for _, d in heard]
            assert [n["t_host_s"] for n in notes] == [t for t, _ in heard]

    run(body)


def test_imurun_stream_ble_rsc_is_stream_to_file_plus_its_printing(
        emulated_cli: Callable[..., list[BleLink]], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``imurun stream --ble --rsc`` built its own session writer, builder and RSC drain beside
    :func:`~imurun.device.connect.stream_to_file`, so the command and the function offered to
    developers could drift apart. It now calls the function (seen through a wrapper that calls
    the real one) with the RSC queue its connection fills; it prints what that returned."""
    from imurun.device import connect as dc

    calls: list[tuple[Path, dict[str, object], dc.StreamedFile]] = []
    real = dc.stream_to_file

    async def spy(connect: dc.Connect, path: str | Path, settings: StreamSettings | None = None,
                  **kw: object) -> dc.StreamedFile:
        got = await real(connect, path, settings, **kw)  # type: ignore[arg-type]
        calls.append((Path(path), kw, got))
        return got

    monkeypatch.setattr(dc, "stream_to_file", spy)
    links = emulated_cli(stream_minutes=0.25)
    out_file = tmp_path / "live.imrses"
    assert cli.main(["stream", "--ble", "imurun-0001", "--rsc", "--out", str(out_file)]) == 0
    ((path, kw, got),) = calls
    assert path == out_file
    assert isinstance(kw["progress"], dc.StreamProgress)
    assert kw["progress"].samples == got.report.samples == 3000
    assert kw["rsc_queue"] is not None
    assert got.recording is not None
    said = capsys.readouterr().out
    assert f"streamed 3000 samples ({got.recording.duration_s:.1f} s) to {out_file}; ended by " \
           "sensor" in said
    kept = [bytes.fromhex(str(n["rsc"])) for n in rsc_notes(out_file)]
    assert f"RSC: {len(kept)} measurements (0 malformed)" in said
    assert kept == [bytes(m) for _, m in links[0].rsc_log][:len(kept)]
    meta = read_session(out_file).meta
    assert meta["framing"] == "packet"
    assert meta["link"] == f"BLE imurun-0001 [{links[0].address}]"


def test_an_on_rsc_that_raises_stops_the_ble_stream_and_keeps_everything(tmp_path: Path) -> None:
    """Over the emulated radio: ``on_rsc`` raised at the first measurement. The stream went
    on to its end and raised the bare exception, skipping the measurements still queued; it
    now stops at once, keeps every measurement that came (a note each, in order), closes a
    readable file and raises :class:`~imurun.errors.CallbackError` naming ``on_rsc``."""
    from imurun.device.connect import ble_connection, stream_to_file
    from imurun.errors import CallbackError

    heard: list[bytes] = []

    def on_rsc(t_host_s: float, data: bytes) -> None:
        heard.append(data)
        raise RuntimeError("on purpose")

    async def body() -> None:
        async with rig(tmp_path, stream_minutes=0.25) as r:
            queue: NotificationQueue = asyncio.Queue()
            with pytest.raises(CallbackError, match="^on_rsc raised RuntimeError: on purpose; "
                                                    "the stream stopped") as err:
                await stream_to_file(
                    ble_connection(r.link.name, backend=r.backend, rsc_queue=queue),
                    tmp_path / "live.imrses", StreamSettings(timeout_s=5.0), rsc_queue=queue,
                    on_rsc=on_rsc)
            assert isinstance(err.value.__cause__, RuntimeError)
            assert queue.empty()  # drained into the file
            sent = [bytes(m) for _, m in r.link.rsc_log]
            kept = [bytes.fromhex(str(n["rsc"])) for n in rsc_notes(tmp_path / "live.imrses")]
            assert len(heard) == 1  # not called again
            assert heard == kept[:1]
            assert kept == sent[:len(kept)]

    run(body)
    rec = imurun.load_recording(tmp_path / "live.imrses")
    assert 0 < rec.n_samples < 3000  # stopped long before the stream's end
