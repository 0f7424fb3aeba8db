"""The virtual sensor's firmware: the same state machine a real sensor runs, minus the radio.

:class:`VirtualSensor` answers requests (``handle``), produces live sample batches
(``stream_batches``, evaluating the motion piece by piece when its source can) and serves stored runs out of a :class:`Flash` directory, one file per run
holding exactly the bytes the firmware wrote. It is link-agnostic: :mod:`imurun.sim.serial_link`
and the BLE face put it on a pseudo-terminal or an emulated radio.

Time is explicit: every method takes ``now_s``, the sensor's seconds since power-on, which its
clock (``device_time_us``) reads. The link decides what ``now_s`` is: the wall clock in real
time, or the wall clock plus the lead a stream sent flat out has gained ("--speed max": the
clock keeps pace with the samples sent, docs/simulator.md).
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from firmware_protocol.crc import crc32
from firmware_protocol.messages import (
    REQUEST_TYPES,
    Ack,
    AnyMessage,
    Catalogue,
    CatalogueRequest,
    ConfigGet,
    ConfigKey,
    ConfigSet,
    ConfigValue,
    DeviceInfo,
    DeviceInfoRequest,
    Error,
    ErrorCode,
    Event,
    EventCode,
    MessageType,
    MountingHint,
    RecordingState,
    RecordStart,
    RecordStop,
    RunChunk,
    RunEntry,
    RunErase,
    RunErased,
    RunRead,
    SampleBatch,
    Status,
    StatusRequest,
    StreamStart,
    StreamStop,
    TimeSync,
    TimeSyncRequest,
    UnknownMessage,
)
from firmware_protocol.runfile import RunHeader, RunWriter, sample_time_us
from imurun.consts import DEG2RAD, G_MS2

FIRMWARE_VERSION = (1, 0, 0)
MAX_QUEUED_READS = 8
FLASH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SensorConfig:
    device_id: int = 0x1D0C_5E75_0000_0001
    name: str = ""
    sample_rate_hz: int = 200
    acc_range_g: int = 16
    gyr_range_dps: int = 2000
    batch_size: int = 10
    block_samples: int = 256
    clock_drift_ppm: float = 0.0  # the sensor crystal's error (device clock runs fast if > 0)
    boot_id: int = 1

    @property
    def acc_lsb_ms2(self) -> float:
        return float(np.float32(self.acc_range_g * G_MS2 / 32768.0))

    @property
    def gyr_lsb_rads(self) -> float:
        return float(np.float32(self.gyr_range_dps * DEG2RAD / 32768.0))

    @property
    def display_name(self) -> str:
        return self.name or f"imurun-{self.device_id & 0xFFFF:04X}"


def to_counts(acc_ms2: npt.NDArray[np.float64], gyr_rads: npt.NDArray[np.float64],
              cfg: SensorConfig) -> npt.NDArray[np.int16]:
    """SI signals -> the int16 counts the sensor's ADC would give (rounded, saturating)."""
    a = np.rint(np.asarray(acc_ms2) / np.float64(np.float32(cfg.acc_lsb_ms2)))
    g = np.rint(np.asarray(gyr_rads) / np.float64(np.float32(cfg.gyr_lsb_rads)))
    return np.clip(np.concatenate((a, g), axis=1), -32768, 32767).astype(np.int16)


class Flash:
    """The sensor's run storage: a directory, one file per run (``run-<id>.imrn``)."""

    def __init__(self, directory: str | os.PathLike[str], capacity_bytes: int = FLASH_BYTES) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.capacity_bytes = capacity_bytes

    def path(self, run_id: int) -> Path:
        return self.dir / f"run-{run_id:08d}.imrn"

    def run_ids(self) -> list[int]:
        out = []
        for p in self.dir.glob("run-*.imrn"):
            try:
                out.append(int(p.stem.split("-")[1]))
            except ValueError:
                continue
        return sorted(out)

    def read(self, run_id: int) -> bytes:
        return self.path(run_id).read_bytes()

    def entry(self, run_id: int) -> RunEntry:
        data = self.read(run_id)
        start = struct.unpack_from("<Q", data, 24)[0] if len(data) >= 32 else 0
        return RunEntry(run_id, start, len(data), crc32(data))

    def write(self, run_id: int, data: bytes) -> None:
        tmp = self.path(run_id).with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.path(run_id))

    def erase(self, run_id: int) -> None:
        self.path(run_id).unlink()

    def used_bytes(self) -> int:
        return sum(self.path(r).stat().st_size for r in self.run_ids())

    def next_run_id(self) -> int:
        ids = self.run_ids()
        marker = self.dir / ".last_run_id"
        last = int(marker.read_text()) if marker.exists() else 0
        nxt = max([last, *ids]) + 1
        marker.write_text(str(nxt))
        return nxt


#: Produces (counts (n, 6) int16) for ``seconds`` of motion, and saves its truth next to ``tag``.
#: A source that also has ``stream(seconds, tag) -> StreamSamples`` (``imurun.sim.source``)
#: serves live streams piece by piece; otherwise the whole stream is generated at its start.
MotionSource = Callable[[float, str], npt.NDArray[np.int16]]


class StreamSamples(Protocol):
    """A live stream's samples, produced as they are sent."""

    def __len__(self) -> int: ...

    def counts(self, a: int, b: int) -> npt.NDArray[np.int16]:
        """Counts of samples ``a..b``, shape ``(b - a, 6)``."""
        ...

    def wait(self, timeout_s: float | None = None) -> None:
        """Return once what the source writes beside the samples (its truth) is written."""
        ...


@dataclass(frozen=True)
class _AllAtOnce:
    """The samples of a source that generates a whole stream in one call."""

    all_counts: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.all_counts)

    def counts(self, a: int, b: int) -> npt.NDArray[np.int16]:
        return self.all_counts[a:b]

    def wait(self, timeout_s: float | None = None) -> None:
        return None


@dataclass
class LiveStream:
    samples: StreamSamples
    n: int  # samples in the stream
    next_index: int  # index of the next sample to send
    start_now_s: float  # the sensor's now_s when sample 0 was taken
    counter0: int  # sample_counter of counts[0]


@dataclass
class VirtualSensor:
    """Firmware state machine. ``handle`` requests; poll ``due_output`` for unsolicited output."""

    cfg: SensorConfig
    flash: Flash
    motion: MotionSource | None = None
    stream_seconds: float = 600.0
    rtc_unix_ms: int = 1_790_000_000_000  # wall clock at power-on (set by CONFIG_SET)
    boot_id: int = field(init=False)
    boot_now_s: float = 0.0  # the sensor's now_s at the last boot
    state: RecordingState = RecordingState.IDLE
    erased: list[int] = field(default_factory=list)
    stream: LiveStream | None = None  # the live stream in progress, if any
    _reads: deque[list[int]] = field(default_factory=deque)  # [run_id, offset, end]
    _samples_since_boot: int = 0
    _events: list[AnyMessage] = field(default_factory=list)
    _writing: list[StreamSamples] = field(default_factory=list)  # truths being written

    def __post_init__(self) -> None:
        self.boot_id = self.cfg.boot_id

    # ------------------------------------------------------------------ clock
    def device_time_us(self, now_s: float) -> int:
        return int(round((now_s - self.boot_now_s) * 1e6 * self._clock_rate))

    def info(self) -> DeviceInfo:
        c = self.cfg
        return DeviceInfo(c.device_id, FIRMWARE_VERSION, 1, c.sample_rate_hz, c.acc_range_g,
                          c.gyr_range_dps, c.acc_lsb_ms2, c.gyr_lsb_rads, MountingHint.SACRUM_CLIP,
                          c.display_name)

    def reboot(self, now_s: float) -> None:
        """Power-cycle: new boot id, clock and counters restart, live state is lost."""
        self.boot_id = (self.boot_id + 1) % 65536
        self.boot_now_s = now_s
        self.state = RecordingState.IDLE
        self.stream = None
        self._reads.clear()
        self._samples_since_boot = 0
        self._events.append(Event(EventCode.BOOT, 0, self.boot_id))

    # ------------------------------------------------------------------ requests
    def handle(self, msg: AnyMessage, now_s: float) -> list[AnyMessage]:
        """Answer one request, as the firmware's command dispatcher does."""
        try:
            return self._handle(msg, now_s)
        except (ValueError, OSError) as e:
            t = msg.type if isinstance(msg, UnknownMessage) else int(msg.TYPE)
            return [Error(ErrorCode.INTERNAL, t, str(e)[:200])]

    @staticmethod
    def malformed(msg_type: int) -> list[AnyMessage]:
        """Answer a message that could not be taken in: malformed, or too long to reassemble.

        SPEC §2 (versioning): a request gets ERROR 2 (bad request), a message of a type that
        is no request ERROR 1 (unknown request), as it would if it could be decoded.
        """
        if msg_type not in REQUEST_TYPES:
            return [Error(ErrorCode.UNKNOWN_REQUEST, msg_type,
                          f"request type 0x{msg_type:02X} not supported")]
        return [Error(ErrorCode.BAD_REQUEST, msg_type,
                      f"{MessageType(msg_type).name} request malformed or too long")]

    def _handle(self, msg: AnyMessage, now_s: float) -> list[AnyMessage]:
        if isinstance(msg, DeviceInfoRequest):
            return [self.info()]
        if isinstance(msg, TimeSyncRequest):
            return [TimeSync(msg.host_time_us, self.device_time_us(now_s))]
        if isinstance(msg, StatusRequest):
            used = self.flash.used_bytes()
            return [Status(87, 3950, used, max(self.flash.capacity_bytes - used, 0), int(self.state),
                           len(self.flash.run_ids()), self.device_time_us(now_s))]
        if isinstance(msg, CatalogueRequest):
            return [Catalogue(tuple(self.flash.entry(r) for r in self.flash.run_ids()))]
        if isinstance(msg, RunRead):
            if msg.run_id not in self.flash.run_ids():
                return [Error(ErrorCode.UNKNOWN_RUN, MessageType.RUN_READ, f"no run {msg.run_id}")]
            size = self.flash.path(msg.run_id).stat().st_size
            if msg.offset >= size or msg.length == 0:  # nothing to send is beyond the end
                return [Error(ErrorCode.OUT_OF_RANGE, MessageType.RUN_READ,
                              f"offset {msg.offset} beyond run of {size} bytes")]
            if len(self._reads) >= MAX_QUEUED_READS:
                return [Error(ErrorCode.BUSY, MessageType.RUN_READ, "read queue full")]
            self._reads.append([msg.run_id, msg.offset, min(msg.offset + msg.length, size)])
            return []
        if isinstance(msg, RunErase):
            if msg.run_id not in self.flash.run_ids():
                return [Error(ErrorCode.UNKNOWN_RUN, MessageType.RUN_ERASE, f"no run {msg.run_id}")]
            if crc32(self.flash.read(msg.run_id)) != msg.crc32:
                return [Error(ErrorCode.ERASE_REFUSED, MessageType.RUN_ERASE,
                              "CRC-32 does not match the stored run")]
            self.flash.erase(msg.run_id)
            self.erased.append(msg.run_id)
            return [RunErased(msg.run_id)]
        if isinstance(msg, StreamStart):
            self.start_stream(now_s)
            return [Ack(MessageType.STREAM_START)]
        if isinstance(msg, StreamStop):
            self.stream = None
            self.state = RecordingState.IDLE
            return [Ack(MessageType.STREAM_STOP)]
        if isinstance(msg, RecordStart | RecordStop):
            return [Error(ErrorCode.BUSY, int(msg.TYPE), "recording is driven by the button")]
        if isinstance(msg, ConfigGet):
            return [self._config(msg.key)]
        if isinstance(msg, ConfigSet):
            if msg.key == ConfigKey.RTC_UNIX_MS and len(msg.value) >= 8:
                self.rtc_unix_ms = struct.unpack_from("<Q", msg.value)[0] - int(now_s * 1000)
                return [self._config(msg.key, now_s)]
            return [Error(ErrorCode.INVALID_CONFIG, MessageType.CONFIG_SET, "read-only key")]
        t = msg.type if isinstance(msg, UnknownMessage) else int(msg.TYPE)
        return [Error(ErrorCode.UNKNOWN_REQUEST, t, f"request type 0x{t:02X} not supported")]

    def _config(self, key: int, now_s: float = 0.0) -> AnyMessage:
        c = self.cfg
        values = {
            ConfigKey.SAMPLE_RATE_HZ: struct.pack("<H", c.sample_rate_hz),
            ConfigKey.ACC_RANGE_G: struct.pack("<B", c.acc_range_g),
            ConfigKey.GYR_RANGE_DPS: struct.pack("<H", c.gyr_range_dps),
            ConfigKey.DEVICE_NAME: c.display_name.encode(),
            ConfigKey.AUTO_RECORD: b"\x00",
            ConfigKey.RTC_UNIX_MS: struct.pack("<Q", self.rtc_unix_ms + int(now_s * 1000)),
        }
        if key not in values:
            return Error(ErrorCode.INVALID_CONFIG, MessageType.CONFIG_GET, f"unknown key {key}")
        return ConfigValue(key, values[ConfigKey(key)])

    # ------------------------------------------------------------------ output
    def start_stream(self, now_s: float) -> None:
        if self.stream is None:
            if self.motion is None:
                raise ValueError("this sensor has no motion source to stream")
            tag = f"stream-boot{self.boot_id}"
            opener = getattr(self.motion, "stream", None)
            # piece by piece when the source can: the first batches leave at once, however long
            # the stream (generating an hour took longer than a host waits for data)
            samples: StreamSamples = (opener(self.stream_seconds, tag) if opener is not None
                                      else _AllAtOnce(self.motion(self.stream_seconds, tag)))
            self._writing.append(samples)
            self.stream = LiveStream(samples, len(samples), 0, now_s, self._samples_since_boot)
        self.state = RecordingState.STREAMING

    def wait_truth(self, timeout_s: float | None = None) -> None:
        """Return once the truth of every stream started so far is written beside the flash."""
        while self._writing:
            self._writing[0].wait(timeout_s)
            self._writing.pop(0)

    def cancel_reads(self) -> None:
        """Forget queued run reads (the link they came over is gone)."""
        self._reads.clear()

    def pending_events(self) -> list[AnyMessage]:
        ev, self._events = self._events, []
        return ev

    def next_chunk(self, max_data: int) -> RunChunk | None:
        """The next chunk of the oldest queued read, or ``None`` when no read is pending."""
        while self._reads:
            run_id, off, end = self._reads[0]
            if off >= end or run_id not in self.flash.run_ids():
                self._reads.popleft()
                continue
            n = min(max_data, end - off)
            with open(self.flash.path(run_id), "rb") as fh:
                fh.seek(off)
                data = fh.read(n)
            self._reads[0][1] = off + len(data)
            if not data:
                self._reads.popleft()
                continue
            return RunChunk.make(run_id, off, data)
        return None

    def stream_batches(self, now_s: float | None, max_batches: int = 1) -> list[AnyMessage]:
        """Batches whose samples have been taken by ``now_s`` (``None``: the next ones at once).

        Sample ``k`` of the stream is taken at ``start + k / fs``; when the source is exhausted
        the stream ends with an ``EVENT`` (stream ended).
        """
        s = self.stream
        if s is None:
            return []
        out: list[AnyMessage] = []
        fs = self.cfg.sample_rate_hz
        bs = self.cfg.batch_size
        for _ in range(max_batches):
            if s.next_index >= s.n:
                # the stream's truth is on disk before the sensor says the stream ended
                s.samples.wait()
                self.stream = None
                self.state = RecordingState.IDLE
                end_t = s.start_now_s + s.n / fs
                out.append(Event(EventCode.STREAM_ENDED, self.device_time_us(end_t), s.n))
                break
            k = s.next_index
            n = min(bs, s.n - k)
            taken_by = s.start_now_s + (k + n) / fs
            if now_s is not None and taken_by > now_s:
                break
            t_first = s.start_now_s + k / fs
            counter = (s.counter0 + k) % 2**32
            out.append(SampleBatch(self.device_time_us(t_first), counter, s.samples.counts(k, k + n)))
            s.next_index = k + n
            self._samples_since_boot = s.counter0 + k + n
        return out

    def skip_stream(self, now_s: float) -> None:
        """Samples taken while the link was down are never sent (a live stream does not buffer)."""
        s = self.stream
        if s is None:
            return
        fs = self.cfg.sample_rate_hz
        due = int((now_s - s.start_now_s) * fs)
        if due > s.next_index:
            s.next_index = min(due - due % self.cfg.batch_size, s.n)

    # ------------------------------------------------------------------ recording runs
    @property
    def _clock_rate(self) -> float:
        """Device seconds per true second (the crystal's error, ``clock_drift_ppm``)."""
        return 1 + self.cfg.clock_drift_ppm * 1e-6

    def _sample_blocks(self, w: RunWriter, counts: npt.NDArray[np.int16], t0_us: int) -> list[bytes]:
        """Sample blocks of ``counts`` (the first taken at ``t0_us``).

        Each block is stamped with the device clock when its first sample was taken, as live
        batches are: the samples are taken at the nominal rate, the clock that stamps them
        drifts (``clock_drift_ppm``).
        """
        fs, bs = self.cfg.sample_rate_hz, self.cfg.block_samples
        out = []
        for k in range(0, len(counts), bs):
            drift_us = round(k * 1e6 / fs * self.cfg.clock_drift_ppm * 1e-6)
            out.append(w.samples(counts[k:k + bs], sample_time_us(t0_us, k, fs) + drift_us))
        return out

    def record_run(self, counts: npt.NDArray[np.int16], start_unix_ms: int, *,
                   reboot_at: int | None = None) -> list[int]:
        """Write a run to flash as the firmware would while recording. Returns the run ids.

        ``reboot_at`` cuts the run at that sample as a power loss would (no END block); after
        the reboot the firmware starts a new run (new boot id) with the remaining samples.
        """
        fs = self.cfg.sample_rate_hz
        parts = [(0, len(counts))] if reboot_at is None else [(0, reboot_at), (reboot_at + fs // 2, len(counts))]
        ids = []
        for i, (a, b) in enumerate(parts):
            if b <= a:
                continue
            if i > 0:
                self.boot_id = (self.boot_id + 1) % 65536
            run_id = self.flash.next_run_id()
            header = RunHeader(self.cfg.device_id, run_id, self.boot_id, fs,
                               start_unix_ms + int(a * 1000 / fs), 1_000_000,
                               self.cfg.acc_range_g, self.cfg.gyr_range_dps, self.cfg.acc_lsb_ms2,
                               self.cfg.gyr_lsb_rads, firmware=FIRMWARE_VERSION,
                               mounting_hint=MountingHint.SACRUM_CLIP)
            w = RunWriter(header, block_samples=self.cfg.block_samples)
            blob = [w.start(), w.time_anchor(1_000_000, header.start_unix_ms),
                    w.event(Event(EventCode.RECORDING_STARTED, 1_000_000, run_id)),
                    *self._sample_blocks(w, counts[a:b], 1_000_000)]
            if i == len(parts) - 1:
                t_end = 1_000_000 + int((b - a) * 1e6 * self._clock_rate / fs)
                blob += [w.event(Event(EventCode.RECORDING_STOPPED, t_end, run_id)), w.end()]
            else:
                blob.append(w.flush())  # power lost: the last block is written, no END
            self.flash.write(run_id, b"".join(blob))
            ids.append(run_id)
        return ids
