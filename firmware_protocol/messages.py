"""Every message of protocol v1 as a frozen dataclass (see SPEC.md §3).

Each message class has ``TYPE`` (its frame type byte), ``payload()`` -> bytes and
``from_payload(bytes)``. Decoding follows the versioning rule: trailing bytes after the fields a
type defines are ignored (a newer sender may have appended fields); fewer bytes than required is a
:class:`MessageError`. Unknown types decode to :class:`UnknownMessage` rather than failing.

Sample values stay raw int16 counts here; :class:`Scale` turns them into SI units (m/s², rad/s),
the only place in the project where that conversion happens.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Final, Protocol, Self

import numpy as np
import numpy.typing as npt

from firmware_protocol.errors import MessageError

SAMPLE_CHANNELS: Final = 6
SAMPLE_BYTES: Final = 2 * SAMPLE_CHANNELS
MAX_NAME_BYTES: Final = 32
MAX_TEXT_BYTES: Final = 200


class MessageType(IntEnum):
    DEVICE_INFO_REQUEST = 0x01
    DEVICE_INFO = 0x02
    SAMPLE_BATCH = 0x10
    TIME_SYNC_REQUEST = 0x11
    TIME_SYNC = 0x12
    STATUS_REQUEST = 0x13
    STATUS = 0x14
    CATALOGUE_REQUEST = 0x20
    CATALOGUE = 0x21
    RUN_READ = 0x22
    RUN_CHUNK = 0x23
    RUN_ERASE = 0x25
    RUN_ERASED = 0x26
    CONFIG_GET = 0x30
    CONFIG_SET = 0x31
    CONFIG_VALUE = 0x32
    STREAM_START = 0x40
    STREAM_STOP = 0x41
    RECORD_START = 0x42
    RECORD_STOP = 0x43
    EVENT = 0x50
    ACK = 0x7E
    ERROR = 0x7F


class MountingHint(IntEnum):
    """How the firmware believes it is worn (a hint; the signal layer estimates the truth)."""

    UNKNOWN = 0
    SACRUM_CLIP = 1  # clipped to the waistband at the sacrum, label facing out
    SACRUM_BELT = 2  # in a belt pocket at the sacrum


class RecordingState(IntEnum):
    IDLE = 0
    RECORDING = 1
    STREAMING = 2
    SYNCING = 3


class EventCode(IntEnum):
    BUTTON = 1
    LOW_BATTERY = 2
    STORAGE_FULL = 3
    RECORDING_STARTED = 4
    RECORDING_STOPPED = 5
    BOOT = 6
    STREAM_ENDED = 7  # the sensor stopped streaming on its own


#: Host -> sensor message types (SPEC §3, "→S"): a sensor answers each, with ERROR if need be.
REQUEST_TYPES: frozenset[int] = frozenset({
    MessageType.DEVICE_INFO_REQUEST, MessageType.TIME_SYNC_REQUEST, MessageType.STATUS_REQUEST,
    MessageType.CATALOGUE_REQUEST, MessageType.RUN_READ, MessageType.RUN_ERASE,
    MessageType.CONFIG_GET, MessageType.CONFIG_SET, MessageType.STREAM_START,
    MessageType.STREAM_STOP, MessageType.RECORD_START, MessageType.RECORD_STOP})


class ErrorCode(IntEnum):
    UNKNOWN_REQUEST = 1
    BAD_REQUEST = 2
    UNKNOWN_RUN = 3
    OUT_OF_RANGE = 4
    ERASE_REFUSED = 5
    BUSY = 6
    STORAGE_FULL = 7
    INVALID_CONFIG = 8
    INTERNAL = 9


class ConfigKey(IntEnum):
    SAMPLE_RATE_HZ = 1  # u16
    ACC_RANGE_G = 2  # u8
    GYR_RANGE_DPS = 3  # u16
    DEVICE_NAME = 4  # utf-8, <= 32 bytes
    AUTO_RECORD = 5  # u8 (0/1)
    RTC_UNIX_MS = 6  # u64


class Message(Protocol):
    TYPE: ClassVar[MessageType]

    def payload(self) -> bytes: ...


def _need(data: bytes, n: int, what: str) -> None:
    if len(data) < n:
        raise MessageError(f"{what} payload is {len(data)} bytes, needs at least {n}")


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise MessageError(f"{name}={value} outside {lo}..{hi}")


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MessageError(f"{what} is not valid UTF-8") from e


@dataclass(frozen=True)
class _Empty:
    """Base for requests without fields."""

    TYPE: ClassVar[MessageType]

    def payload(self) -> bytes:
        return b""

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        return cls()


@dataclass(frozen=True)
class DeviceInfoRequest(_Empty):
    TYPE: ClassVar = MessageType.DEVICE_INFO_REQUEST


@dataclass(frozen=True)
class StatusRequest(_Empty):
    TYPE: ClassVar = MessageType.STATUS_REQUEST


@dataclass(frozen=True)
class CatalogueRequest(_Empty):
    TYPE: ClassVar = MessageType.CATALOGUE_REQUEST


@dataclass(frozen=True)
class StreamStart(_Empty):
    TYPE: ClassVar = MessageType.STREAM_START


@dataclass(frozen=True)
class StreamStop(_Empty):
    TYPE: ClassVar = MessageType.STREAM_STOP


@dataclass(frozen=True)
class RecordStart(_Empty):
    TYPE: ClassVar = MessageType.RECORD_START


@dataclass(frozen=True)
class RecordStop(_Empty):
    TYPE: ClassVar = MessageType.RECORD_STOP


@dataclass(frozen=True)
class Scale:
    """Raw count -> SI factors: ``acc_ms2 = counts * acc_lsb_ms2`` (likewise for gyro)."""

    acc_lsb_ms2: float
    gyr_lsb_rads: float

    def __post_init__(self) -> None:
        for name in ("acc_lsb_ms2", "gyr_lsb_rads"):
            v = getattr(self, name)
            # Checked as it travels (float32), so what passes here also decodes on the other side.
            with np.errstate(over="ignore"):
                v32 = np.float32(v) if np.isfinite(v) else np.float32(np.nan)
            if not (np.isfinite(v32) and v32 > 0):
                raise MessageError(f"{name} must be a positive number representable as float32, got {v}")

    def to_si(self, counts: npt.NDArray[np.int16]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(n, 6)`` int16 counts -> ``(acc_ms2 (n, 3), gyr_rads (n, 3))`` float64."""
        c = np.asarray(counts)
        if c.ndim != 2 or c.shape[1] != SAMPLE_CHANNELS:
            raise MessageError(f"counts must have shape (n, 6), got {c.shape}")
        # Scale factors travel as float32; widen exactly so every decoder agrees.
        acc = c[:, :3] * np.float64(np.float32(self.acc_lsb_ms2))
        gyr = c[:, 3:] * np.float64(np.float32(self.gyr_lsb_rads))
        return acc, gyr


_DEVINFO = struct.Struct("<QBBBBHBHffB")


@dataclass(frozen=True)
class DeviceInfo:
    TYPE: ClassVar = MessageType.DEVICE_INFO
    device_id: int
    firmware: tuple[int, int, int]
    protocol_version: int
    sample_rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    acc_lsb_ms2: float
    gyr_lsb_rads: float
    mounting_hint: int = MountingHint.UNKNOWN
    name: str = ""

    def __post_init__(self) -> None:
        _check_range("device_id", self.device_id, 0, 2**64 - 1)
        if len(self.firmware) != 3:
            raise MessageError("firmware must be (major, minor, patch)")
        for part in self.firmware:
            _check_range("firmware part", part, 0, 255)
        _check_range("protocol_version", self.protocol_version, 0, 255)
        _check_range("sample_rate_hz", self.sample_rate_hz, 1, 65535)
        _check_range("acc_range_g", self.acc_range_g, 1, 255)
        _check_range("gyr_range_dps", self.gyr_range_dps, 1, 65535)
        _check_range("mounting_hint", int(self.mounting_hint), 0, 255)
        if len(self.name.encode("utf-8")) > MAX_NAME_BYTES:
            raise MessageError(f"device name longer than {MAX_NAME_BYTES} bytes")
        Scale(self.acc_lsb_ms2, self.gyr_lsb_rads)

    @property
    def scale(self) -> Scale:
        return Scale(self.acc_lsb_ms2, self.gyr_lsb_rads)

    @property
    def firmware_version(self) -> str:
        return ".".join(str(p) for p in self.firmware)

    def payload(self) -> bytes:
        name = self.name.encode("utf-8")
        return _DEVINFO.pack(self.device_id, *self.firmware, self.protocol_version,
                             self.sample_rate_hz, self.acc_range_g, self.gyr_range_dps,
                             self.acc_lsb_ms2, self.gyr_lsb_rads, int(self.mounting_hint),
                             ) + bytes([len(name)]) + name

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, _DEVINFO.size + 1, "DEVICE_INFO")
        (dev, ma, mi, pa, proto, rate, arange, grange, alsb, glsb, mount) = _DEVINFO.unpack_from(data)
        n = data[_DEVINFO.size]
        start = _DEVINFO.size + 1
        _need(data, start + n, "DEVICE_INFO name")
        if n > MAX_NAME_BYTES:
            raise MessageError(f"device name of {n} bytes exceeds {MAX_NAME_BYTES}")
        name = _utf8(data[start:start + n], "device name")
        return cls(dev, (ma, mi, pa), proto, rate, arange, grange, alsb, glsb, mount, name)


_BATCH = struct.Struct("<QIH")


@dataclass(frozen=True, eq=False)
class SampleBatch:
    """``counts`` is ``(n, 6)`` int16: acc x, y, z then gyr x, y, z, sensor frame, raw counts."""

    TYPE: ClassVar = MessageType.SAMPLE_BATCH
    device_time_us: int
    sample_counter: int
    counts: npt.NDArray[np.int16] = field(repr=False)

    def __post_init__(self) -> None:
        # SPEC §3.2: values >= 2**63 are invalid (292,000 years after boot: garbage)
        _check_range("device_time_us", self.device_time_us, 0, 2**63 - 1)
        _check_range("sample_counter", self.sample_counter, 0, 2**32 - 1)
        c = np.ascontiguousarray(self.counts, dtype="<i2")
        if c.ndim != 2 or c.shape[1] != SAMPLE_CHANNELS:
            raise MessageError(f"counts must have shape (n, 6), got {c.shape}")
        if c.shape[0] > 0xFFFF:
            raise MessageError("a batch holds at most 65535 samples")
        c.setflags(write=False)
        object.__setattr__(self, "counts", c)

    @property
    def n(self) -> int:
        return int(self.counts.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SampleBatch):
            return NotImplemented
        return (self.device_time_us == other.device_time_us
                and self.sample_counter == other.sample_counter
                and np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]

    def payload(self) -> bytes:
        return _BATCH.pack(self.device_time_us, self.sample_counter, self.n) + self.counts.tobytes()

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, _BATCH.size, "SAMPLE_BATCH")
        t, counter, n = _BATCH.unpack_from(data)
        end = _BATCH.size + n * SAMPLE_BYTES
        _need(data, end, "SAMPLE_BATCH samples")
        counts = np.frombuffer(data, dtype="<i2", count=n * SAMPLE_CHANNELS,
                               offset=_BATCH.size).reshape(n, SAMPLE_CHANNELS)
        return cls(t, counter, counts)


@dataclass(frozen=True)
class TimeSyncRequest:
    """Host -> sensor. ``host_time_us`` is opaque to the sensor and echoed back."""

    TYPE: ClassVar = MessageType.TIME_SYNC_REQUEST
    host_time_us: int

    def __post_init__(self) -> None:
        _check_range("host_time_us", self.host_time_us, 0, 2**64 - 1)

    def payload(self) -> bytes:
        return struct.pack("<Q", self.host_time_us)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 8, "TIME_SYNC_REQUEST")
        return cls(*struct.unpack_from("<Q", data))


@dataclass(frozen=True)
class TimeSync:
    """Sensor -> host: the request's host time echoed, and the device clock when handled."""

    TYPE: ClassVar = MessageType.TIME_SYNC
    host_time_us: int
    device_time_us: int

    def __post_init__(self) -> None:
        _check_range("host_time_us", self.host_time_us, 0, 2**64 - 1)
        _check_range("device_time_us", self.device_time_us, 0, 2**64 - 1)

    def payload(self) -> bytes:
        return struct.pack("<QQ", self.host_time_us, self.device_time_us)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 16, "TIME_SYNC")
        return cls(*struct.unpack_from("<QQ", data))


_STATUS = struct.Struct("<BHIIBHQ")


@dataclass(frozen=True)
class Status:
    TYPE: ClassVar = MessageType.STATUS
    battery_pct: int
    battery_mv: int
    storage_used_bytes: int
    storage_free_bytes: int
    state: int
    n_runs: int
    device_time_us: int

    def __post_init__(self) -> None:
        _check_range("battery_pct", self.battery_pct, 0, 100)
        _check_range("battery_mv", self.battery_mv, 0, 65535)
        _check_range("storage_used_bytes", self.storage_used_bytes, 0, 2**32 - 1)
        _check_range("storage_free_bytes", self.storage_free_bytes, 0, 2**32 - 1)
        _check_range("state", self.state, 0, 255)
        _check_range("n_runs", self.n_runs, 0, 65535)
        _check_range("device_time_us", self.device_time_us, 0, 2**64 - 1)

    def payload(self) -> bytes:
        return _STATUS.pack(self.battery_pct, self.battery_mv, self.storage_used_bytes,
                            self.storage_free_bytes, self.state, self.n_runs, self.device_time_us)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, _STATUS.size, "STATUS")
        return cls(*_STATUS.unpack_from(data))


_ENTRY = struct.Struct("<IQII")


@dataclass(frozen=True)
class RunEntry:
    """One stored run in the catalogue. ``crc32`` covers the run's whole file."""

    run_id: int
    start_unix_ms: int
    size: int
    crc32: int

    def __post_init__(self) -> None:
        _check_range("run_id", self.run_id, 0, 2**32 - 1)
        _check_range("start_unix_ms", self.start_unix_ms, 0, 2**64 - 1)
        _check_range("size", self.size, 0, 2**32 - 1)
        _check_range("crc32", self.crc32, 0, 2**32 - 1)


@dataclass(frozen=True)
class Catalogue:
    TYPE: ClassVar = MessageType.CATALOGUE
    runs: tuple[RunEntry, ...] = ()

    def __post_init__(self) -> None:
        if len(self.runs) > 0xFFFF:
            raise MessageError("a catalogue lists at most 65535 runs")
        object.__setattr__(self, "runs", tuple(self.runs))

    def payload(self) -> bytes:
        return struct.pack("<H", len(self.runs)) + b"".join(
            _ENTRY.pack(r.run_id, r.start_unix_ms, r.size, r.crc32) for r in self.runs)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 2, "CATALOGUE")
        (n,) = struct.unpack_from("<H", data)
        _need(data, 2 + n * _ENTRY.size, "CATALOGUE entries")
        return cls(tuple(RunEntry(*_ENTRY.unpack_from(data, 2 + i * _ENTRY.size)) for i in range(n)))


@dataclass(frozen=True)
class RunRead:
    """Ask for ``length`` bytes of run ``run_id`` from ``offset``; answered by RUN_CHUNKs."""

    TYPE: ClassVar = MessageType.RUN_READ
    run_id: int
    offset: int
    length: int

    def __post_init__(self) -> None:
        _check_range("run_id", self.run_id, 0, 2**32 - 1)
        _check_range("offset", self.offset, 0, 2**32 - 1)
        _check_range("length", self.length, 0, 2**32 - 1)

    def payload(self) -> bytes:
        return struct.pack("<III", self.run_id, self.offset, self.length)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 12, "RUN_READ")
        return cls(*struct.unpack_from("<III", data))


@dataclass(frozen=True)
class RunChunk:
    """Bytes ``[offset, offset + len(data))`` of a run, with their own CRC-32."""

    TYPE: ClassVar = MessageType.RUN_CHUNK
    run_id: int
    offset: int
    crc32: int
    data: bytes

    def __post_init__(self) -> None:
        _check_range("run_id", self.run_id, 0, 2**32 - 1)
        _check_range("offset", self.offset, 0, 2**32 - 1)
        _check_range("crc32", self.crc32, 0, 2**32 - 1)
        object.__setattr__(self, "data", bytes(self.data))

    @classmethod
    def make(cls, run_id: int, offset: int, data: bytes) -> RunChunk:
        from firmware_protocol.crc import crc32

        return cls(run_id, offset, crc32(data), data)

    @property
    def intact(self) -> bool:
        from firmware_protocol.crc import crc32

        return crc32(self.data) == self.crc32

    def payload(self) -> bytes:
        return struct.pack("<III", self.run_id, self.offset, self.crc32) + self.data

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        # The chunk's data runs to the end of the payload, so RUN_CHUNK cannot grow trailing
        # fields; a future version would add a new message type instead.
        _need(data, 12, "RUN_CHUNK")
        run_id, offset, crc = struct.unpack_from("<III", data)
        return cls(run_id, offset, crc, data[12:])


@dataclass(frozen=True)
class RunErase:
    """Erase a run. ``crc32`` must equal the run's CRC-32: proof the host holds a verified copy."""

    TYPE: ClassVar = MessageType.RUN_ERASE
    run_id: int
    crc32: int

    def __post_init__(self) -> None:
        _check_range("run_id", self.run_id, 0, 2**32 - 1)
        _check_range("crc32", self.crc32, 0, 2**32 - 1)

    def payload(self) -> bytes:
        return struct.pack("<II", self.run_id, self.crc32)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 8, "RUN_ERASE")
        return cls(*struct.unpack_from("<II", data))


@dataclass(frozen=True)
class RunErased:
    TYPE: ClassVar = MessageType.RUN_ERASED
    run_id: int

    def __post_init__(self) -> None:
        _check_range("run_id", self.run_id, 0, 2**32 - 1)

    def payload(self) -> bytes:
        return struct.pack("<I", self.run_id)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 4, "RUN_ERASED")
        return cls(*struct.unpack_from("<I", data))


@dataclass(frozen=True)
class ConfigGet:
    TYPE: ClassVar = MessageType.CONFIG_GET
    key: int

    def __post_init__(self) -> None:
        _check_range("key", self.key, 0, 255)

    def payload(self) -> bytes:
        return bytes([self.key])

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 1, "CONFIG_GET")
        return cls(data[0])


@dataclass(frozen=True)
class _ConfigKV:
    TYPE: ClassVar[MessageType]
    key: int
    value: bytes

    def __post_init__(self) -> None:
        _check_range("key", self.key, 0, 255)
        if len(self.value) > 64:
            raise MessageError("config values are at most 64 bytes")
        object.__setattr__(self, "value", bytes(self.value))

    def payload(self) -> bytes:
        return bytes([self.key]) + self.value

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 1, cls.TYPE.name)
        if len(data) > 65:
            raise MessageError(f"{cls.TYPE.name} value of {len(data) - 1} bytes exceeds 64")
        return cls(data[0], data[1:])


@dataclass(frozen=True)
class ConfigSet(_ConfigKV):
    TYPE: ClassVar = MessageType.CONFIG_SET


@dataclass(frozen=True)
class ConfigValue(_ConfigKV):
    TYPE: ClassVar = MessageType.CONFIG_VALUE


@dataclass(frozen=True)
class Event:
    TYPE: ClassVar = MessageType.EVENT
    code: int
    device_time_us: int
    value: int = 0

    def __post_init__(self) -> None:
        _check_range("code", self.code, 0, 255)
        _check_range("device_time_us", self.device_time_us, 0, 2**64 - 1)
        _check_range("value", self.value, 0, 2**32 - 1)

    def payload(self) -> bytes:
        return struct.pack("<BQI", self.code, self.device_time_us, self.value)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 13, "EVENT")
        return cls(*struct.unpack_from("<BQI", data))


@dataclass(frozen=True)
class Ack:
    """Positive answer to a request that has no data of its own (stream/record start/stop...)."""

    TYPE: ClassVar = MessageType.ACK
    request_type: int

    def __post_init__(self) -> None:
        _check_range("request_type", self.request_type, 0, 255)

    def payload(self) -> bytes:
        return bytes([self.request_type])

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 1, "ACK")
        return cls(data[0])


@dataclass(frozen=True)
class Error:
    TYPE: ClassVar = MessageType.ERROR
    code: int
    request_type: int
    text: str = ""

    def __post_init__(self) -> None:
        _check_range("code", self.code, 0, 65535)
        _check_range("request_type", self.request_type, 0, 255)
        if len(self.text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise MessageError(f"error text longer than {MAX_TEXT_BYTES} bytes")

    def payload(self) -> bytes:
        return struct.pack("<HB", self.code, self.request_type) + self.text.encode("utf-8")

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        _need(data, 3, "ERROR")
        code, req = struct.unpack_from("<HB", data)
        text = data[3:3 + MAX_TEXT_BYTES].decode("utf-8", errors="replace")
        # Each bad byte became a 3-byte U+FFFD: clip so the lenient decode still fits the limit.
        text = text.encode("utf-8")[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
        return cls(code, req, text)


@dataclass(frozen=True)
class UnknownMessage:
    """An intact frame of a type this version does not know (skipped, but counted)."""

    type: int
    data: bytes

    def payload(self) -> bytes:
        return self.data


AnyMessage = (
    DeviceInfoRequest | DeviceInfo | SampleBatch | TimeSyncRequest | TimeSync | StatusRequest
    | Status | CatalogueRequest | Catalogue | RunRead | RunChunk | RunErase | RunErased | ConfigGet
    | ConfigSet | ConfigValue | StreamStart | StreamStop | RecordStart | RecordStop | Event | Ack
    | Error | UnknownMessage
)

class _Decodable(Protocol):
    @classmethod
    def from_payload(cls, data: bytes) -> AnyMessage: ...


MESSAGE_CLASSES: Final[dict[int, type[_Decodable]]] = {
    cls.TYPE: cls
    for cls in (
        DeviceInfoRequest, DeviceInfo, SampleBatch, TimeSyncRequest, TimeSync, StatusRequest,
        Status, CatalogueRequest, Catalogue, RunRead, RunChunk, RunErase, RunErased, ConfigGet,
        ConfigSet, ConfigValue, StreamStart, StreamStop, RecordStart, RecordStop, Event, Ack, Error,
    )
}


def decode_message(mtype: int, payload: bytes) -> AnyMessage:
    """Decode a (reassembled) payload of type ``mtype``; unknown types are not an error."""
    cls = MESSAGE_CLASSES.get(mtype)
    if cls is None:
        return UnknownMessage(mtype, bytes(payload))
    msg: AnyMessage = cls.from_payload(bytes(payload))
    return msg


def message_type(msg: AnyMessage) -> int:
    """The frame type byte for ``msg``."""
    if isinstance(msg, UnknownMessage):
        return msg.type
    return int(msg.TYPE)
