"""What a sensor sends over a serial link, scripted frame by frame with host arrival times.

:class:`LinkScript` plays the firmware's side of a live stream with full control over what goes
wrong: clock drift, lost frames (sequence numbers consumed, bytes never sent), corrupt frames,
reboots, disconnects, duplicated and reordered batches. It keeps the counts it sent, so a test
can compare what the ingest made of them with the truth.

The script yields :class:`Burst` objects: the bytes that arrived at one host time. Splitting a
burst into chunks in any way keeps every event's host time, which is what "any chunking gives
the same recording" means for a link (a serial read returns bytes that arrived together).

The text-file helpers at the end write generic CSV and Xsens MT Manager exports of sacrum-like
signals for the importer and CLI tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_protocol.codec import Encoder, StreamDecoder
from firmware_protocol.messages import AnyMessage, SampleBatch, TimeSync
from imurun.consts import G_MS2
from imurun.ingest.builder import RecordingBuilder
from imurun.ingest.recording import Recording
from imurun.sim.firmware import SensorConfig, VirtualSensor
from imurun.transport.base import Chunk
from imurun.transport.session import RecordKind, SessionWriter

HOST_T0 = 1_790_000_000.0  # host wall clock at the script's time 0


@dataclass(frozen=True)
class Burst:
    """Bytes that arrived together at ``t_host_s``; ``disconnect`` marks a dropped link."""

    t_host_s: float
    data: bytes = b""
    disconnect: bool = False


@dataclass
class _Item:
    t: float  # script time of arrival (seconds after HOST_T0)
    boot_id: int
    msg: AnyMessage | None
    fate: str = "send"  # "send", "drop" (seq consumed, never sent), "corrupt", "disconnect"
    order: int = 0


def flip_inside(frame: bytes, at: int | None = None) -> bytes:
    """``frame`` (COBS + delimiter) with one byte changed, never into or out of a 0x00."""
    b = bytearray(frame)
    i = len(b) // 2 if at is None else at
    i = min(max(i, 1), len(b) - 2)
    b[i] = b[i] ^ 0x55 if b[i] ^ 0x55 else b[i] ^ 0xAA
    return bytes(b)


@dataclass
class LinkScript:
    """The firmware side of a live stream. Times are seconds after :data:`HOST_T0`."""

    cfg: SensorConfig = field(default_factory=SensorConfig)
    drift_ppm: float = 0.0
    # the crystal also times the samples (a real sensor's): they come drift_ppm fast, each
    # 1/fs apart on the device clock; else they come at the nominal rate (the virtual sensor's)
    samples_on_crystal: bool = False
    latency_s: float = 0.004  # sample taken -> its batch arrives at the host
    seed: int = 0
    boot_id: int = field(init=False)
    boot_t: float = 0.0  # script time of the current boot
    counter: int = 0  # sample counter of the next sample (u32 on the wire)
    t_next: float = 0.01  # script time the next sample is taken
    sent: list[np.ndarray] = field(default_factory=list)  # counts that reached the host
    _items: list[_Item] = field(default_factory=list)
    _rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.boot_id = self.cfg.boot_id
        self._rng = np.random.default_rng(self.seed)

    @property
    def fs(self) -> int:
        return self.cfg.sample_rate_hz

    def duration_s(self, n: int) -> float:
        """Script seconds ``n`` samples take."""
        if self.samples_on_crystal:
            return n / (self.fs * (1 + self.drift_ppm * 1e-6))
        return n / self.fs

    def dev_us(self, t: float) -> int:
        """The device clock (µs since boot) at script time ``t``."""
        return int(round((t - self.boot_t) * 1e6 * (1 + self.drift_ppm * 1e-6)))

    def _add(self, t: float, msg: AnyMessage | None, fate: str = "send") -> None:
        self._items.append(_Item(t, self.boot_id, msg, fate, len(self._items)))

    # ------------------------------------------------------------------ what the sensor does
    def info(self, t: float) -> None:
        """DEVICE_INFO as the firmware answers it (its flash plays no part in that)."""
        self._add(t, VirtualSensor(self.cfg, None).info())  # type: ignore[arg-type]

    def sync(self, t: float, rtt_s: float = 0.002, *, answer_s: float | None = None,
             wrong_by_us: int = 0) -> None:
        """The host asks at ``t``; the sensor answers half-way; the answer arrives at ``t+rtt``.

        ``answer_s``: the sensor answers ``answer_s`` after ``t`` instead (one still booting
        answers late, just before its answer arrives); ``wrong_by_us``: the answer's device
        time is off by that much (a clock that is wrong).
        """
        host_us = int(round((HOST_T0 + t) * 1e6))
        answered = t + (rtt_s / 2 if answer_s is None else answer_s)
        self._add(t + rtt_s, TimeSync(host_us, self.dev_us(answered) + wrong_by_us))

    def syncs(self, t0: float, t1: float, every_s: float = 1.0, jitter_s: float = 0.0) -> None:
        for t in np.arange(t0, t1, every_s):
            rtt = 0.002 + (float(self._rng.uniform(0, jitter_s)) if jitter_s else 0.0)
            self.sync(float(t), rtt)

    def counts(self, n: int) -> np.ndarray:
        return self._rng.integers(-4000, 4000, size=(n, 6)).astype(np.int16)

    def stream(self, n: int, *, fates: dict[int, str] | None = None,
               counts: np.ndarray | None = None) -> list[SampleBatch]:
        """Send ``n`` samples in batches; ``fates`` maps batch number -> "drop"/"corrupt"."""
        fates = fates or {}
        c = self.counts(n) if counts is None else np.asarray(counts, np.int16)
        bs = self.cfg.batch_size
        out = []
        for j, k in enumerate(range(0, n, bs)):
            part = c[k:k + bs]
            b = SampleBatch(self.dev_us(self.t_next), self.counter % 2**32, part)
            t_arrive = self.t_next + self.duration_s(len(part)) + self.latency_s
            fate = fates.get(j, "send")
            self._add(t_arrive, b, fate)
            if fate == "send":
                self.sent.append(part)
            self.counter += len(part)
            self.t_next += self.duration_s(len(part))
            out.append(b)
        return out

    def skip(self, n: int) -> None:
        """``n`` samples are taken but never sent (the link was down)."""
        self.counter += n
        self.t_next += self.duration_s(n)

    def resend(self, batch: SampleBatch, t: float) -> None:
        """A batch sent again (a retransmission: new frame, same content)."""
        self._add(t, batch)

    def disconnect(self, t: float) -> None:
        self._add(t, None, "disconnect")

    def reboot(self, t: float, new_boot_id: int | None = None) -> None:
        """Power cycle at ``t``: new boot id, counter and device clock restart."""
        self.boot_id = (self.boot_id + 1) % 65536 if new_boot_id is None else new_boot_id
        self.boot_t = t
        self.counter = 0
        self.t_next = t + 0.25

    # ------------------------------------------------------------------ what the host sees
    def bursts(self) -> list[Burst]:
        encoders: dict[int, Encoder] = {}
        out: list[Burst] = []
        for it in sorted(self._items, key=lambda i: (i.t, i.order)):
            t_host = HOST_T0 + it.t
            if it.fate == "disconnect":
                out.append(Burst(t_host, disconnect=True))
                continue
            assert it.msg is not None
            enc = encoders.setdefault(it.boot_id, Encoder(boot_id=it.boot_id))
            data = enc.stream_bytes(it.msg)
            if it.fate == "drop":
                continue
            if it.fate == "corrupt":
                data = flip_inside(data)
            out.append(Burst(t_host, data))
        return out

    def sent_counts(self) -> np.ndarray:
        return np.concatenate(self.sent) if self.sent else np.zeros((0, 6), np.int16)


def chunk_bursts(bursts: list[Burst], mode: str, seed: int = 0) -> Iterator[Burst]:
    """Split each burst's bytes: "whole", "bytes" (one at a time) or "random" pieces."""
    rng = np.random.default_rng(seed)
    for b in bursts:
        if b.disconnect or mode == "whole" or len(b.data) <= 1:
            yield b
            continue
        if mode == "bytes":
            cuts = list(range(1, len(b.data)))
        else:
            k = int(rng.integers(0, min(len(b.data), 8)))
            cuts = sorted(set(rng.integers(1, len(b.data), size=k).tolist()))
        edges = [0, *cuts, len(b.data)]
        for a, z in zip(edges[:-1], edges[1:], strict=True):
            yield Burst(b.t_host_s, b.data[a:z])


def build(bursts: list[Burst] | Iterator[Burst], *, source: str = "script") -> Recording:
    """Decode bursts as a live link does (new decoder after a disconnect) and build."""
    builder = feed(bursts, source=source)
    return builder.build()


def feed(bursts: list[Burst] | Iterator[Burst], *, source: str = "script") -> RecordingBuilder:
    builder = RecordingBuilder(source=source)
    dec = StreamDecoder()
    for b in bursts:
        if b.disconnect:
            builder.mark_disconnect(b.t_host_s)
            stats = dec.stats
            dec = StreamDecoder()
            dec.assembler.stats = stats
            continue
        for ev in dec.feed(b.data):
            builder.feed(b.t_host_s, ev)
    builder.decoder_stats = dec.stats
    return builder


def write_session(path: Path, bursts: list[Burst], meta: dict | None = None) -> Path:
    """A session file holding ``bursts`` as a live ``imurun stream`` would have written them."""
    with SessionWriter(path, {"framing": "stream", "link": "script", **(meta or {})}) as w:
        for b in bursts:
            if b.disconnect:
                w.write(RecordKind.DISCONNECT, b.t_host_s, b"link lost")
                w.write(RecordKind.CONNECT, b.t_host_s, b"")
            else:
                w.rx(Chunk(b.t_host_s, b.data))
    return path


def clean_script(seconds: float = 5.0, *, syncs: bool = True, **kw: object) -> LinkScript:
    """Device info, a time sync per second and ``seconds`` of samples."""
    s = LinkScript(**kw)  # type: ignore[arg-type]
    s.info(0.0)
    if syncs:
        s.syncs(0.0, seconds + 1.0)
    s.stream(int(seconds * s.fs))
    return s


def assert_same_recording(a: Recording, b: Recording, *, atol_s: float = 0.0) -> None:
    np.testing.assert_allclose(a.t_s, b.t_s, rtol=0, atol=atol_s)
    np.testing.assert_array_equal(a.acc_ms2, b.acc_ms2)
    if a.gyr_rads is None or b.gyr_rads is None:
        assert a.gyr_rads is None
        assert b.gyr_rads is None
    else:
        np.testing.assert_array_equal(a.gyr_rads, b.gyr_rads)
    assert a.fs_hz == b.fs_hz
    assert a.segments == b.segments
    assert a.gaps == b.gaps
    assert a.meta == b.meta
    assert a.stats == b.stats


# --------------------------------------------------------------------------- text files
FS = 100.0


def motion(n: int = 600, fs: float = FS, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sacrum-like signals: gravity plus a 2.8 Hz bounce (m/s²), a pelvis rotation (rad/s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    ph = 2 * np.pi * 2.8 * t
    acc = np.column_stack([1.5 * np.sin(ph), 0.8 * np.cos(ph / 2), G_MS2 + 6.0 * np.sin(ph)])
    gyr = np.column_stack([0.6 * np.sin(ph / 2), 1.8 * np.cos(ph / 2), 0.9 * np.sin(ph)])
    return t, acc + rng.normal(0, 0.05, acc.shape), gyr + rng.normal(0, 0.01, gyr.shape)


def write_csv(path: Path, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None = None, *,
              header: str | None = None) -> Path:
    cols = [t[:, None], acc] + ([gyr] if gyr is not None else [])
    head = header or ("time_s,acc_x,acc_y,acc_z" + (",gyr_x,gyr_y,gyr_z" if gyr is not None else ""))
    np.savetxt(path, np.hstack(cols), delimiter=",", header=head, comments="", fmt="%.10g")
    return path


MT_HEADER = ("// Start Time: Unknown\n"
             "// Update Rate: 100.0Hz\n"
             "// Filter Profile: human (46.1)\n"
             "// Option Flags: AHS Disabled ICC Disabled\n"
             "// Firmware Version: 4.0.2\n")
MT_COLUMNS = ["PacketCounter", "SampleTimeFine", "Year", "Month", "Day", "Second", "UTC_Valid",
              "Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z", "Mag_X", "Mag_Y", "Mag_Z",
              "Quat_q0", "Quat_q1", "Quat_q2", "Quat_q3"]


def mt_export(path: Path, counters: np.ndarray, acc: np.ndarray, gyr: np.ndarray, *,
              stf: np.ndarray | None = None, sep: str = "\t", header: str = MT_HEADER,
              empty_stf: bool = False) -> Path:
    """An MT Manager text export: zero-padded counters, empty UTC cells, extra columns."""
    lines = [header.rstrip("\n"), sep.join(MT_COLUMNS)]
    for i, pc in enumerate(counters):
        ticks = "" if empty_stf or stf is None else str(int(stf[i]))
        lines.append(sep.join([f"{int(pc):05d}", ticks, "", "", "", "", "",
                               *(f"{v:.6f}" for v in acc[i]), *(f"{v:.6f}" for v in gyr[i]),
                               "-0.045410", "-0.266113", "0.897217",
                               "0.609684", "0.730843", "0.306845", "0.519480"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
