"""The virtual sensor's BLE face: a bumble peripheral on an emulated radio (SPEC.md §2.2).

:class:`BleLink` puts a link-agnostic :class:`~imurun.sim.firmware.VirtualSensor` on an
:class:`~imurun.testing.bumble_link.EmulatedRadio`, as :mod:`imurun.sim.serial_link` puts it on a
pseudo-terminal. GATT layout (UUIDs from :mod:`imurun.transport.ble`):

* imurun service: *frames* (notify, sensor -> host: one frame per notification) and *commands*
  (write and write without response, host -> sensor: one frame per write, any length).
* Running Speed and Cadence 0x1814: RSC Measurement 0x2A53 (notify, once per second of motion)
  and RSC Feature 0x2A54 (read: stride length, total distance, walking/running status).

Commands are decoded with the same :class:`~firmware_protocol.codec.PacketDecoder` the host
uses and answered through :meth:`VirtualSensor.handle`. Answers, events, stream batches and run
chunks leave as notifications of at most ATT_MTU - 3 bytes of *this connection* (the sensor sizes
from the MTU it negotiated; the host never does), larger messages fragmented by the continuation
rule. RSC values come from the motion of the stream being sent (:class:`RscModel`: for a stream
evaluated piece by piece, from its plan as its seconds complete; for another source, from the
truth file it wrote beside the flash before streaming): cadence from the last completed step,
speed and running status at the current sample, distance integrated from the true speed. The
measurement of stream second ``k`` shares the firmware's one transmit queue with the frames: it
leaves right after the batch holding the last sample of that second, from the first second on,
so every stream measurement precedes the stream-ended event on the air (a host that stops at
that event has them all). Without a stream the sensor notifies "standing" (0 m/s, 0 /min) once
per wall-clock second.

Pacing: ``realtime=True`` sends stream batches when their samples have been taken by the wall
clock; ``realtime=False`` sends them as fast as the link takes them, and the sensor's clock jumps
ahead with them to when the last sample sent was taken, as ``--speed max`` on serial
(docs/simulator.md, "The clock at --speed max"). ``rate_bytes_per_s`` optionally caps the notification
byte rate like a real radio would. Faults (:class:`BleFaults`) mirror the serial link where they
mean something on BLE; see ``docs/ble.md``. Test and developer infrastructure: production code
never imports this module (it needs bumble, a development dependency).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from bumble import gatt, hci
from bumble.core import UUID as BumbleUUID
from bumble.device import Connection, Device

from firmware_protocol.codec import Dropped, Encoder, PacketDecoder, Received
from firmware_protocol.frame import HEADER, MAX_FRAME_PAYLOAD, OVERHEAD
from firmware_protocol.messages import (
    AnyMessage,
    MessageType,
    RunChunk,
    SampleBatch,
    StreamStart,
    StreamStop,
    UnknownMessage,
)
from firmware_protocol.rsc import MAX_CADENCE_PER_MIN, MAX_SPEED_MPS, RscFeature, RscMeasurement
from imurun.sim.firmware import LiveStream, VirtualSensor
from imurun.sim.source import LazyStream, load_truth
from imurun.testing.bumble_link import (
    EmulatedPeripheral,
    EmulatedRadio,
    notify_characteristic,
    readable_characteristic,
)
from imurun.transport.ble import (
    COMMANDS_UUID,
    FRAMES_UUID,
    IMURUN_SERVICE_UUID,
)

RSC_FEATURES: Final = (RscFeature.STRIDE_LENGTH | RscFeature.TOTAL_DISTANCE
                       | RscFeature.WALKING_OR_RUNNING_STATUS)
#: RUN_CHUNK header (run_id, offset, crc32) inside the frame payload.
_CHUNK_HEADER: Final = 12
#: Below this frame payload a RUN_CHUNK spans this many notifications instead of one.
_SMALL_PAYLOAD: Final = 64
_SMALL_MTU_CHUNK_FRAMES: Final = 8
#: Notifications queued before the controller is given time to take them.
_BURST: Final = 32
#: A step counts for the instantaneous cadence for this long after it completed.
CADENCE_HOLD_S: Final = 2.0
_UNKNOWN_TYPE: Final = 0x6A


class MalformedKind(StrEnum):
    """Damaged notifications the link can inject (each is an *extra* notification)."""

    TRUNCATED = "truncated"  # the previous frame cut in half
    BAD_CRC = "bad_crc"  # the previous frame with its CRC damaged
    UNKNOWN_TYPE = "unknown_type"  # an intact frame of a type this protocol does not define
    OVERSIZED = "oversized"  # a header declaring more than MAX_FRAME_PAYLOAD bytes


@dataclass(frozen=True)
class BleFaults:
    """Fault injection. Rates are per notification of the frames characteristic."""

    drop_rate: float = 0.0  # probability a notification is not sent (firmware queue overflow)
    corrupt_rate: float = 0.0  # probability a notification has one bit flipped (firmware bug)
    disconnect_after: tuple[int, ...] = ()  # cumulative notification bytes at which the sensor disconnects
    reboot_after_s: tuple[float, ...] = ()  # stream seconds at which the sensor reboots (drops the link)
    malformed_every: int = 0  # after every N-th data notification inject a malformed one (0: never)
    reconnect_delay_s: float = 0.3  # silence before the sensor advertises again after a disconnect
    # cumulative notification bytes at which the sensor goes silent, the link up, for stall_s or
    # until the link drops (a stuck transmit queue: requests are still taken and answers queued,
    # nothing is notified, then all of it is; a new connection starts with a fresh queue)
    stall_after: tuple[int, ...] = ()
    stall_s: float = 2.0


@dataclass(frozen=True)
class _RscDue:
    """The RSC measurement of stream second ``k``, queued behind the batch that completes it."""

    k: int
    measurement: RscMeasurement


_Outgoing = AnyMessage | _RscDue


@dataclass
class BleLinkStats:
    notifications: int = 0
    bytes_sent: int = 0
    dropped: int = 0
    corrupted: int = 0
    malformed: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in MalformedKind})
    disconnects: int = 0  # initiated by the sensor (faults and reboots)
    connections: int = 0
    reboots: int = 0
    requests: int = 0
    rsc_sent: int = 0
    stalls: int = 0


Track = Callable[[int, int], tuple[npt.NDArray[np.float64], npt.NDArray[np.str_]]]


class RscModel:
    """RSC values of one stream, from its motion (see the module docstring).

    Built from a truth file (``RscModel(load_truth(path))``), or with :meth:`of_stream` from the
    live stream itself, evaluated a piece at a time as the seconds are asked for (no need to wait
    for the truth file). Both give the same values: speed and activity per sample, steps, and
    the distance as the running sum of the speed.
    """

    def __init__(self, truth: dict[str, Any], distance_offset_m: float = 0.0) -> None:
        speed = np.asarray(truth["speed_mps"], dtype=np.float64)
        labels = np.asarray(truth["activity_labels"]).astype(str)
        self._setup(float(truth["meta"]["fs_hz"]), len(speed),
                    (np.asarray(truth["ic_s"], dtype=np.float64),
                     np.asarray(truth["step_s"], dtype=np.float64),
                     np.asarray(truth["step_length_m"], dtype=np.float64)),
                    lambda a, b: (speed[a:b], labels[a:b]), distance_offset_m)

    @classmethod
    def of_stream(cls, stream: LazyStream, distance_offset_m: float = 0.0) -> RscModel:
        """The model of a live stream, from its plan, available as its first batch leaves."""
        model = cls.__new__(cls)
        model._setup(float(stream.cfg.sample_rate_hz), len(stream), stream.steps(), stream.track,
                     distance_offset_m)
        return model

    def _setup(self, fs_hz: float, n: int,
               steps: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                            npt.NDArray[np.float64]],
               track: Track, distance_offset_m: float) -> None:
        self.fs_hz = fs_hz
        self.n = n
        ic_s, self.step_s, self.step_length_m = steps
        self.step_end_s = ic_s + self.step_s
        self._track = track
        self._offset_m = distance_offset_m
        # per piece of _PIECE samples, in order: speed, running, running sum of the speed
        self._pieces: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_],
                                 npt.NDArray[np.float64]]] = []

    _PIECE: Final = 4000

    @property
    def duration_s(self) -> float:
        return self.n / self.fs_hz

    def _sample(self, i: int) -> tuple[float, bool, float]:
        """Speed, running and distance (m) of sample ``i``; pieces evaluated up to it, once."""
        while len(self._pieces) <= i // self._PIECE:
            a = len(self._pieces) * self._PIECE
            speed, labels = self._track(a, min(a + self._PIECE, self.n))
            carry = self._pieces[-1][2][-1:] if self._pieces else np.zeros(0)
            # np.cumsum over the whole run, continued: the sum so far goes first
            total = np.cumsum(np.concatenate((carry, speed)))[len(carry):]
            self._pieces.append((speed, labels == "run", total))
        speed, running, total = self._pieces[i // self._PIECE]
        j = i % self._PIECE
        return float(speed[j]), bool(running[j]), float(total[j] / self.fs_hz + self._offset_m)

    def at(self, t_s: float) -> RscMeasurement:
        """The measurement the sensor notifies ``t_s`` seconds into the stream."""
        i = min(max(int(round(t_s * self.fs_hz)) - 1, 0), self.n - 1)
        done: npt.NDArray[np.intp] = np.flatnonzero(
            (self.step_end_s <= t_s) & (self.step_end_s > t_s - CADENCE_HOLD_S))
        if len(done):
            j = int(done[-1])
            cadence = min(int(round(60.0 / self.step_s[j])), MAX_CADENCE_PER_MIN)
            stride = float(self.step_length_m[j])
        else:
            cadence, stride = 0, 0.0
        speed, running, distance = self._sample(i)
        return RscMeasurement(min(speed, MAX_SPEED_MPS), cadence, stride, distance, running)


class BleLink:
    """A virtual sensor advertising and serving on an emulated radio (``async with`` it)."""

    def __init__(self, sensor: VirtualSensor, radio: EmulatedRadio, *,
                 faults: BleFaults = BleFaults(), seed: int = 0, realtime: bool = True,
                 truth_dir: Path | None = None, rate_bytes_per_s: float | None = None,
                 rsc_interval_s: float = 1.0) -> None:
        self.sensor = sensor
        self.radio = radio
        self.faults = faults
        self.realtime = realtime
        self.truth_dir = None if truth_dir is None else Path(truth_dir)
        self.rate_bytes_per_s = rate_bytes_per_s
        self.rsc_interval_s = rsc_interval_s
        self.stats = BleLinkStats()
        #: Every RSC measurement notified: (stream second or None when idle, measurement).
        self.rsc_log: list[tuple[int | None, RscMeasurement]] = []
        self.rng = np.random.default_rng(seed)
        self.encoder = Encoder(boot_id=sensor.boot_id)
        self.decoder = PacketDecoder()
        self.peripheral: EmulatedPeripheral | None = None
        self._conn: Connection | None = None
        # Messages are encoded only when their turn comes, so sequence numbers go out in order.
        self._urgent: deque[AnyMessage] = deque()  # answers and events: sent first
        # Stream batches, the RSC measurements between them, the stream-ended event, run chunks.
        self._data: deque[_Outgoing] = deque()
        self._tx: deque[tuple[bytes, bool]] = deque()  # encoded (notification, genuine)
        self._t0 = time.monotonic()
        self._fast_forward = 0.0
        self._disconnects = sorted(faults.disconnect_after)
        self._reboots = sorted(faults.reboot_after_s)
        self._stalls = sorted(faults.stall_after)
        self._stalled_until = 0.0
        self._data_count = 0
        self._malformed_next = 0
        self._streaming = False  # the host asked for the stream on this connection
        self._rsc_stream: LiveStream | None = None
        self._rsc_model: RscModel | None = None
        self._rsc_truth: Path | None = None
        self._rsc_next_k = 1
        self._rsc_idle_at = 0.0
        self._distance_m = 0.0
        self._tokens = 0.0
        self._t_tokens = time.monotonic()
        self._wake: asyncio.Event | None = None
        self._closed_ev: asyncio.Event | None = None
        self._closed = False
        self._pump_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._frames = notify_characteristic(FRAMES_UUID)
        self._rsc = notify_characteristic(BumbleUUID.from_16_bits(0x2A53).to_hex_str("-"))
        self._commands: gatt.Characteristic[bytes] = gatt.Characteristic(
            COMMANDS_UUID,
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def name(self) -> str:
        return self.sensor.cfg.display_name

    @property
    def address(self) -> str:
        if self.peripheral is None:
            raise RuntimeError("the link is not started")
        return self.peripheral.address_str

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def now(self) -> float:
        """Simulated seconds since power-on."""
        return time.monotonic() - self._t0 + self._fast_forward

    async def start(self) -> BleLink:
        """Power on, advertise, and serve until :meth:`close`."""
        self._wake = asyncio.Event()
        self._closed_ev = asyncio.Event()
        services = [
            gatt.Service(IMURUN_SERVICE_UUID, [self._frames, self._commands]),
            gatt.Service(BumbleUUID.from_16_bits(0x1814), [
                self._rsc,
                readable_characteristic(BumbleUUID.from_16_bits(0x2A54).to_hex_str("-"),
                                        bytes(RSC_FEATURES)),
            ]),
        ]
        self.peripheral = await self.radio.add_peripheral(
            self.name, services, advertised_service_uuids=[IMURUN_SERVICE_UUID, "1814"],
            readvertise=False)
        device = self.peripheral.device
        device.on(device.EVENT_CONNECTION, self._on_connection)
        for characteristic in (self._frames, self._rsc):
            characteristic.on(characteristic.EVENT_SUBSCRIPTION, lambda *_: self._poke())
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())
        return self

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._closed_ev is not None:
            self._closed_ev.set()
        if self._wake is not None:
            self._wake.set()
        if self._pump_task is not None:
            try:
                await asyncio.wait_for(self._pump_task, 5.0)
            except TimeoutError:
                pass
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        if self.peripheral is not None:
            await self.peripheral.close()
        # the truth files of the streams served are on disk once the link is closed
        await asyncio.to_thread(self.sensor.wait_truth)

    async def __aenter__(self) -> BleLink:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # ------------------------------------------------------------------ connection events
    def _on_connection(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL:
            return
        self._conn = connection
        self._streaming = False
        self.stats.connections += 1
        connection.on(connection.EVENT_DISCONNECTION,
                      lambda _reason: self._on_disconnection(connection))
        self._poke()

    def _on_disconnection(self, connection: Connection) -> None:
        if self._conn is connection:
            self._conn = None
        # The firmware's transmit queue and pending reads die with the link.
        self._urgent.clear()
        self._data.clear()
        self._tx.clear()
        self._stalled_until = 0.0
        self.sensor.cancel_reads()
        self.decoder = PacketDecoder()
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._advertise_later())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _advertise_later(self) -> None:
        assert self._closed_ev is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed_ev.wait(), self.faults.reconnect_delay_s)
        if not self._closed and self._conn is None and self.peripheral is not None:
            await self.peripheral.start_advertising()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ host -> sensor
    def _on_write(self, _connection: Connection | None, value: bytes) -> None:
        for ev in self.decoder.feed(value):
            if isinstance(ev, Received):
                self.stats.requests += 1
                if isinstance(ev.message, StreamStart):
                    # Streaming is per connection: after a reconnect it resumes when asked to,
                    # and what was taken meanwhile is gone (a live stream does not buffer).
                    self.sensor.skip_stream(self.now())
                    self._streaming = True
                elif isinstance(ev.message, StreamStop):
                    self._streaming = False
                self._urgent.extend(self.sensor.handle(ev.message, self.now()))
            elif isinstance(ev, Dropped) and ev.msg_type is not None:
                self._urgent.extend(self.sensor.malformed(ev.msg_type))
        self._poke()

    # ------------------------------------------------------------------ sizing
    def _notification_size(self) -> int:
        conn = self._conn
        return (conn.att_mtu if conn is not None else 23) - 3

    def _packets(self, msg: AnyMessage) -> list[bytes]:
        return self.encoder.packets(msg, self._notification_size())

    def _chunk_data_size(self) -> int:
        payload = min(self._notification_size() - OVERHEAD, MAX_FRAME_PAYLOAD)
        if payload >= _SMALL_PAYLOAD:
            return payload - _CHUNK_HEADER  # one chunk per notification
        return _SMALL_MTU_CHUNK_FRAMES * payload - _CHUNK_HEADER

    # ------------------------------------------------------------------ output
    def _fill(self) -> None:
        """Queue stream batches (with their RSC measurements), else run chunks, while short."""
        s = self.sensor
        while len(self._data) < _BURST:
            st = s.stream
            if st is not None and self._streaming:
                if st is not self._rsc_stream:
                    self._switch_rsc_stream(st)
                if self.realtime:
                    msgs = s.stream_batches(self.now(), max_batches=16)
                else:
                    msgs = s.stream_batches(None, max_batches=8)
                    if s.stream is not None:  # the clock jumps to when the last sample sent was taken
                        taken = st.start_now_s + st.next_index / s.cfg.sample_rate_hz
                        self._fast_forward += max(0.0, taken - self.now())
                if msgs:
                    for msg in msgs:
                        if isinstance(msg, SampleBatch):
                            self._data.append(msg)
                            self._queue_rsc(st, (msg.sample_counter - st.counter0) % 2**32 + msg.n)
                        else:  # the stream ended: its last measurements go before the event
                            self._queue_rsc(st, st.n)
                            self._data.append(msg)
                    continue
            chunk: RunChunk | None = s.next_chunk(self._chunk_data_size())
            if chunk is None:
                break
            self._data.append(chunk)

    def _next_packet(self) -> tuple[bytes, bool] | _RscDue | None:
        """The next notification to send, encoding the next message when the last is out.

        A frames notification is ``(value, genuine)``; an RSC measurement is its ``_RscDue``.
        """
        if not self._tx:
            if self._urgent:
                self._tx.extend((p, True) for p in self._packets(self._urgent.popleft()))
            elif self._data:
                item = self._data.popleft()
                if isinstance(item, _RscDue):
                    return item
                every = self.faults.malformed_every
                for p in self._packets(item):
                    self._tx.append((p, True))
                    self._data_count += 1
                    if every and self._data_count % every == 0:
                        self._tx.append((self._malformed(p), False))
        return self._tx.popleft() if self._tx else None

    def _malformed(self, last: bytes) -> bytes:
        kinds = list(MalformedKind)
        kind = kinds[self._malformed_next % len(kinds)]
        self._malformed_next += 1
        self.stats.malformed[kind.value] += 1
        if kind == MalformedKind.TRUNCATED:
            return last[: max(len(last) // 2, 1)]
        if kind == MalformedKind.BAD_CRC:
            return last[:-1] + bytes([last[-1] ^ 0xFF])
        if kind == MalformedKind.UNKNOWN_TYPE:
            return self._packets(UnknownMessage(_UNKNOWN_TYPE, b"future"))[0]
        size = self._notification_size()
        head = HEADER.pack(1, int(MessageType.SAMPLE_BATCH), 0, self.encoder.seq,
                           self.encoder.boot_id, MAX_FRAME_PAYLOAD + 76)
        return head + bytes(max(size - len(head), 0))

    async def _pace(self, n: int) -> None:
        rate = self.rate_bytes_per_s
        if not rate:
            return
        t = time.monotonic()
        self._tokens = min(self._tokens + (t - self._t_tokens) * rate, rate * 0.05 + 4096)
        self._t_tokens = t
        if self._tokens < n:
            await asyncio.sleep((n - self._tokens) / rate)
            self._tokens = float(n)
            self._t_tokens = time.monotonic()
        self._tokens -= n

    async def _notify(self, conn: Connection, value: bytes, *, faults: bool = True) -> None:
        """Send one frames notification, with the configured faults unless ``faults`` is off."""
        f = self.faults
        if faults and f.drop_rate and self.rng.random() < f.drop_rate:
            self.stats.dropped += 1
            return
        if faults and f.corrupt_rate and self.rng.random() < f.corrupt_rate:
            buf = bytearray(value)
            buf[int(self.rng.integers(len(buf)))] ^= 1 << int(self.rng.integers(8))
            value = bytes(buf)
            self.stats.corrupted += 1
        await self._pace(len(value))
        await self.peripheral_device.notify_subscriber(conn, self._frames, value)
        self.stats.notifications += 1
        self.stats.bytes_sent += len(value)

    @property
    def peripheral_device(self) -> Device:
        assert self.peripheral is not None
        return self.peripheral.device

    async def _disconnect(self, conn: Connection, reason: int) -> None:
        self.stats.disconnects += 1
        with contextlib.suppress(Exception):
            await conn.disconnect(reason)

    def _reboot_due(self) -> bool:
        st = self.sensor.stream
        return bool(st is not None and self._reboots
                    and self.now() - st.start_now_s >= self._reboots[0])

    async def _reboot(self, conn: Connection) -> None:
        self._reboots.pop(0)
        self._urgent.clear()  # the transmit queue dies with the firmware's RAM
        self._data.clear()
        self._tx.clear()
        self.sensor.reboot(self.now())
        self.encoder = Encoder(boot_id=self.sensor.boot_id)
        self.stats.reboots += 1
        await self._disconnect(
            conn, hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR)

    # ------------------------------------------------------------------ RSC
    def _rsc_subscribed(self) -> bool:
        return self.peripheral is not None and self.peripheral.is_subscribed(self._rsc)

    def _switch_rsc_stream(self, stream: LiveStream) -> None:
        self._keep_distance()
        self._rsc_stream = stream
        self._rsc_next_k = 1
        self._rsc_model = None
        self._rsc_truth = (None if self.truth_dir is None
                           else self.truth_dir / f"stream-boot{self.sensor.boot_id}.npz")
        if isinstance(stream.samples, LazyStream):  # from the plan, as the first batch leaves
            self._rsc_model = RscModel.of_stream(stream.samples, self._distance_m)

    def _keep_distance(self) -> None:
        """The total distance stays where the last measurement of a stream left it."""
        if self._rsc_model is not None and self._rsc_next_k > 1:
            last = self._rsc_model.at(float(self._rsc_next_k - 1)).total_distance_m
            self._distance_m = float(last or 0.0)

    def _model(self) -> RscModel | None:
        """The stream's RSC model.

        A stream evaluated piece by piece (:class:`~imurun.sim.source.LazyStream`) has it from
        its first batch on. Another source's stream has it once its truth file is found in
        ``truth_dir`` (such a source writes it before the stream starts).
        """
        path = self._rsc_truth
        if self._rsc_model is None and path is not None and path.exists():
            self._rsc_model = RscModel(load_truth(path), self._distance_m)
        return self._rsc_model

    def _queue_rsc(self, st: LiveStream, end_index: int) -> None:
        """Queue the measurement of every stream second completed by sample ``end_index``.

        Called right behind the batch that ends at that sample. Seconds skipped while the link
        was down (the stream jumps ahead on a reconnect) are caught up here too.
        """
        model = self._model()
        if model is None:
            return  # no model (a source without a plan and no truth file found): no RSC
        end_s = end_index / self.sensor.cfg.sample_rate_hz
        while self._rsc_next_k <= end_s:
            k = self._rsc_next_k
            self._rsc_next_k += 1
            self._data.append(_RscDue(k, model.at(float(k))))

    async def _send_rsc(self, conn: Connection) -> None:
        """Idle ("standing") measurements; those of a stream travel with its batches."""
        st = self._rsc_stream
        if st is not None or self.sensor.stream is not None:
            if st is not None and self.sensor.stream is not st:
                self._rsc_stream = None  # ended or stopped: its seconds are all queued
                self._keep_distance()  # standing from now on
                self._rsc_model = None
            self._rsc_idle_at = time.monotonic() + self.rsc_interval_s
            return
        if self._rsc_subscribed() and time.monotonic() >= self._rsc_idle_at:
            self._rsc_idle_at = time.monotonic() + self.rsc_interval_s
            await self._notify_rsc(conn, None, RscMeasurement(0.0, 0, 0.0, self._distance_m, False))

    async def _notify_rsc(self, conn: Connection, k: int | None, m: RscMeasurement) -> None:
        await self.peripheral_device.notify_subscriber(conn, self._rsc, bytes(m))
        self.rsc_log.append((k, m))
        self.stats.rsc_sent += 1

    # ------------------------------------------------------------------ loop
    async def _idle(self, timeout_s: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout_s)
        self._wake.clear()

    async def _pump(self) -> None:
        while not self._closed:
            conn = self._conn
            if conn is None:
                await self._idle(0.05)
                continue
            if self._reboot_due():
                await self._reboot(conn)
                continue
            if self._stalls and self.stats.bytes_sent >= self._stalls[0]:
                self._stalls.pop(0)
                self.stats.stalls += 1
                self._stalled_until = time.monotonic() + self.faults.stall_s
            if time.monotonic() < self._stalled_until:  # silent, the link up
                await self._idle(min(self._stalled_until - time.monotonic(), 0.05))
                continue
            await self._send_rsc(conn)
            if self.peripheral is None or not self.peripheral.is_subscribed(self._frames):
                await self._idle(0.02)
                continue
            self._urgent.extend(self.sensor.pending_events())
            self._fill()
            if not self._urgent and not self._data and not self._tx:
                await self._idle(0.005 if self.sensor.stream is not None else 0.05)
                continue
            for _ in range(_BURST):
                if self._conn is not conn or self._closed:
                    break
                if self._disconnects and self.stats.bytes_sent >= self._disconnects[0]:
                    self._disconnects.pop(0)
                    await self._disconnect(conn, hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
                    break
                if self._stalls and self.stats.bytes_sent >= self._stalls[0]:
                    break  # the stall starts at the top of the loop
                item = self._next_packet()
                if item is None:
                    break
                if isinstance(item, _RscDue):
                    if self._rsc_subscribed():
                        await self._notify_rsc(conn, item.k, item.measurement)
                    continue
                await self._notify(conn, item[0], faults=item[1])
            if self._conn is conn:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.drain(), 2.0)
            await asyncio.sleep(0)
