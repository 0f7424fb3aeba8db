"""Session files: the raw bytes of a link exactly as they arrived, with host times (docs/formats.md).

::

    file    := magic "IMRSES01" meta_len u32 meta(JSON, UTF-8) record*
    record  := sync D5 5D, kind u8, t_host_s f64, length u32, data, crc32 u32
                (the CRC covers kind .. data)

Kinds: RX bytes from the sensor, TX bytes to it, NOTE (JSON), CONNECT and DISCONNECT markers.
Writers append and flush every record, so a killed process loses at most the record being written;
readers stop cleanly at a truncated tail and skip damaged records (resynchronising on the next
sync word whose CRC passes). A damaged header (metadata that does not parse, a metadata length
that points past the end or into the records) is recovered from the records: the first intact
record is found by its sync word and CRC, and the framing is inferred by decoding the received
bytes both ways (the only metadata a reader needs; the rest stays unknown). A replay feeds the RX
records through the same decoder as a live link (habit 16 of STYLE.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO, Final

from firmware_protocol.codec import PacketDecoder, StreamDecoder
from firmware_protocol.crc import crc32
from imurun.errors import DeviceTimeoutError, FileFormatError, MissingFileError, TransportError
from imurun.transport.base import Chunk, EndOfData, Framing, LinkLost

MAGIC: Final = b"IMRSES01"
SYNC: Final = b"\xd5\x5d"
_REC: Final = struct.Struct("<2sBdI")
MAX_RECORD: Final = 1 << 20
MAX_META: Final = 1 << 20
_META_START: Final = len(MAGIC) + 4
#: Frames one decoder must decode before the framing of a session with a damaged header is
#: decided (fewer if the session holds fewer).
_FRAMING_EVIDENCE: Final = 32


class RecordKind(IntEnum):
    RX = 1
    TX = 2
    NOTE = 3
    CONNECT = 4
    DISCONNECT = 5


@dataclass(frozen=True)
class SessionRecord:
    kind: RecordKind
    t_host_s: float
    data: bytes


@dataclass(frozen=True)
class SessionFile:
    """A whole session read back. ``damaged`` counts skipped bytes regions; ``truncated`` a cut tail.

    ``recovered`` says, in plain words, how a damaged header was got round (``None``: the header
    was intact). The metadata of such a file is empty, or what could be read of it, and
    ``inferred_framing`` is the framing the received bytes decode with (``None`` if neither
    decoder found a frame in them; they are then read as a byte stream).
    """

    path: str
    meta: dict[str, Any]
    records: tuple[SessionRecord, ...]
    damaged: int = 0
    truncated: bool = False
    recovered: str | None = None
    inferred_framing: Framing | None = None

    @property
    def framing(self) -> Framing:
        if self.inferred_framing is not None:
            return self.inferred_framing
        return Framing(self.meta.get("framing", Framing.STREAM))

    @property
    def notes(self) -> list[str]:
        """What the reader recovered from or skipped, for the notes of a recording."""
        out = [self.recovered] if self.recovered else []
        if self.damaged:
            out.append(f"{self.damaged} damaged region(s) of the session file skipped")
        if self.truncated:
            out.append("session file ends in a truncated record (writer was interrupted)")
        return out

    def rx_chunks(self) -> Iterator[Chunk]:
        for r in self.records:
            if r.kind == RecordKind.RX:
                yield Chunk(r.t_host_s, r.data)


@dataclass
class SessionWriter:
    """Append-only session writer; every record is flushed to the OS as it is written.

    With ``defer=True`` the records go to a hidden file beside ``path`` until the first data
    arrives (an RX record, or a note such as a footpod measurement); that file then takes the
    place of ``path`` (replacing any file there) and is appended to as before. A session that
    received nothing leaves no file and leaves an existing file at ``path`` as it was
    (``published`` tells which happened). With ``publish_on_rx=False`` received bytes do not
    count as data until :meth:`publish` is called (the caller knows when a sensor has answered:
    bytes from something else on the port are no reason to replace a recording).
    """

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    fsync: bool = False
    defer: bool = False
    publish_on_rx: bool = True
    _fh: BinaryIO | None = None
    _pending: Path | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"format": "imurun.session/1", "created_unix_s": time.time(), **self.meta},
                          sort_keys=True).encode()
        target = self.path
        if self.defer:
            target = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
            self._pending = target
        fh = open(target, "wb")  # noqa: SIM115 - kept open for appending records
        fh.write(MAGIC + struct.pack("<I", len(meta)) + meta)
        fh.flush()
        self._fh = fh

    @property
    def published(self) -> bool:
        """Whether the session is at ``path`` (always, unless deferred and nothing arrived)."""
        return self._pending is None

    def write(self, kind: RecordKind, t_host_s: float, data: bytes) -> None:
        if self._fh is None:
            raise TransportError(f"session {self.path} is closed")
        if self._pending is not None and (
                kind == RecordKind.NOTE or (kind == RecordKind.RX and self.publish_on_rx)):
            self.publish()
        if len(data) > MAX_RECORD:
            for i in range(0, len(data), MAX_RECORD):
                self.write(kind, t_host_s, data[i:i + MAX_RECORD])
            return
        head = _REC.pack(SYNC, int(kind), t_host_s, len(data))
        self._fh.write(head + data + crc32(head[2:] + data).to_bytes(4, "little"))
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def publish(self) -> None:
        """Put a deferred session at ``path`` now (replacing any file there); idempotent."""
        if self._pending is not None and self._fh is not None:
            os.replace(self._pending, self.path)  # the open file keeps its place in the file
            self._pending = None

    def rx(self, chunk: Chunk) -> None:
        self.write(RecordKind.RX, chunk.t_host_s, chunk.data)

    def tx(self, data: bytes, t_host_s: float | None = None) -> None:
        self.write(RecordKind.TX, time.time() if t_host_s is None else t_host_s, data)

    def note(self, **fields: Any) -> None:
        self.write(RecordKind.NOTE, time.time(), json.dumps(fields, sort_keys=True).encode())

    def marker(self, kind: RecordKind, reason: str = "") -> None:
        self.write(kind, time.time(), reason.encode())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._pending is not None:  # deferred and nothing received: no file
            self._pending.unlink(missing_ok=True)

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_session(head: bytes) -> bool:
    return head.startswith(MAGIC)


def read_session(path: str | os.PathLike[str]) -> SessionFile:
    """Read a session file; damaged records are skipped, a truncated tail is tolerated.

    A damaged header is recovered from the records (see the module docstring); a header that
    cannot be read with no intact record after it is a :class:`FileFormatError` naming both.
    """
    p = str(path)
    try:
        buf = Path(p).read_bytes()
    except FileNotFoundError as e:
        raise MissingFileError(p, f"cannot read: {e.strerror or e}") from e
    except OSError as e:
        raise FileFormatError(p, f"cannot read: {e.strerror or e}") from e
    if not buf.startswith(MAGIC):
        raise FileFormatError(p, "not an imurun session file")
    if len(buf) < _META_START:
        raise FileFormatError(p, "session header truncated")
    (mlen,) = struct.unpack_from("<I", buf, len(MAGIC))
    if mlen > MAX_META or _META_START + mlen > len(buf):
        return _recover(p, buf, "session metadata truncated or oversized")
    meta, fault, detail = _parse_meta(buf[_META_START:_META_START + mlen])
    if fault is not None:
        return _recover(p, buf, fault, detail)
    records, damaged, truncated = _read_records(buf, _META_START + mlen)
    # Every writer names the framing: without it (a flipped bit in the key, say), ask the
    # records rather than assume a byte stream; keep the default if they cannot tell.
    framing = None if "framing" in meta else _infer_framing(records)
    note = (None if framing is None else
            f"session metadata names no framing; framing inferred as {framing.value!r} from "
            "the records")
    return SessionFile(p, meta, records, damaged, truncated, note, framing)


def _recover(p: str, buf: bytes, fault: str, detail: str = "") -> SessionFile:
    """Read a session whose header is damaged (``fault`` says how) from its first intact record."""
    first = _first_record(buf, _META_START)
    if first is None:
        raise FileFormatError(p, f"{fault}{detail}; no intact record follows it")
    records, damaged, truncated = _read_records(buf, first)
    meta, unreadable, _ = _parse_meta(buf[_META_START:first])  # intact metadata, its length damaged
    if unreadable is None and "framing" in meta:
        return SessionFile(p, meta, records, damaged, truncated,
                           "session header damaged (metadata length); the metadata was read up "
                           "to the first record")
    framing = _infer_framing(records)
    how = (f"framing inferred as {framing.value!r} from the records" if framing is not None
           else "no frame decodes either way, read as 'stream'")
    return SessionFile(p, meta, records, damaged, truncated,
                       f"session header damaged ({fault.removeprefix('session ')}); {how}",
                       framing)


def _parse_meta(raw: bytes) -> tuple[dict[str, Any], str | None, str]:
    """The metadata object, or ``{}``, what is wrong with it and the parser's details."""
    try:
        meta = json.loads(raw)
    except ValueError as e:  # (bad UTF-8 too)
        return {}, "session metadata is not valid JSON", f": {e}"
    if not isinstance(meta, dict):
        return {}, "session metadata is not valid JSON", ": not an object"
    framing = meta.get("framing", Framing.STREAM)
    if not isinstance(framing, str) or framing not in Framing._value2member_map_:
        return {}, f"session metadata names an unknown framing {framing!r}", ""
    return meta, None, ""


def _check_record(buf: bytes, pos: int) -> tuple[str | None, int, int]:
    """Whether an intact record starts at ``pos``: (why not, its end, CRC bytes spent failing).

    ``why`` is ``None`` for an intact record, else "damaged" or "cut" (the file ends inside it).
    """
    if buf[pos:pos + 2] != SYNC[:len(buf) - pos]:  # (a lone first sync byte may be a cut tail)
        return "damaged", pos, 0
    if pos + _REC.size + 4 > len(buf):
        return "cut", pos, 0
    _, kind, _, n = _REC.unpack_from(buf, pos)
    end = pos + _REC.size + n + 4
    if n > MAX_RECORD or kind not in RecordKind._value2member_map_:
        return "damaged", end, 0
    if end > len(buf):
        return "cut", end, 0  # a truncated tail, unless a good record follows (a damaged length)
    if crc32(buf[pos + 2:end - 4]) != int.from_bytes(buf[end - 4:end], "little"):
        return "damaged", end, n
    return None, end, 0


def _crc_budget(buf: bytes) -> int:
    """CRC work allowed on candidate records that fail.

    Bounds the time hostile input can cost (each sync word in the data may declare up to
    MAX_RECORD bytes).
    """
    return 4 * len(buf) + 4 * MAX_RECORD


def _first_record(buf: bytes, start: int) -> int | None:
    """Where the first intact record at or after ``start`` begins (``None``: there is none)."""
    budget = _crc_budget(buf)
    pos = buf.find(SYNC, start)
    while pos >= 0 and budget >= 0:
        why, _, spent = _check_record(buf, pos)
        if why is None:
            return pos
        budget -= spent
        pos = buf.find(SYNC, pos + 1)
    return None


def _read_records(buf: bytes, pos: int) -> tuple[tuple[SessionRecord, ...], int, bool]:
    """The records from ``pos`` on, the damaged regions skipped and whether the tail is cut."""
    records: list[SessionRecord] = []
    damaged = 0
    skipping: str | None = None  # why the bytes since the last good record are being skipped
    budget = _crc_budget(buf)
    while pos < len(buf):
        why, end, spent = _check_record(buf, pos)
        if why is None:
            if skipping is not None:
                damaged += 1
                skipping = None
            _, kind, t, _ = _REC.unpack_from(buf, pos)
            records.append(SessionRecord(RecordKind(kind), t, buf[pos + _REC.size:end - 4]))
            pos = end
            continue
        budget -= spent
        skipping = skipping or why
        nxt = buf.find(SYNC, pos + 1)
        if nxt < 0 or budget < 0:
            break
        pos = nxt
    if skipping == "damaged":
        damaged += 1
    return tuple(records), damaged, skipping == "cut"


def _infer_framing(records: tuple[SessionRecord, ...]) -> Framing | None:
    """The framing the received bytes decode with: the decoder that finds more intact frames.

    Stops once one decoder has found ``_FRAMING_EVIDENCE`` frames. ``None`` if neither finds one.
    """
    stream, packet = StreamDecoder(), PacketDecoder()
    for r in records:
        if r.kind != RecordKind.RX:
            continue
        stream.feed(r.data)
        packet.feed(r.data)
        if max(stream.stats.frames_ok, packet.stats.frames_ok) >= _FRAMING_EVIDENCE:
            break
    n_stream, n_packet = stream.stats.frames_ok, packet.stats.frames_ok
    if n_stream == n_packet == 0:
        return None
    return Framing.STREAM if n_stream >= n_packet else Framing.PACKET


class ReplayTransport:
    """Plays a session's received bytes back as a transport, at recorded pace or flat out.

    ``speed`` 1.0 reproduces the original timing; ``None`` (``--speed max``) does not wait.
    The chunks keep their original host times, so downstream timing is identical to live.
    """

    def __init__(self, session: SessionFile, *, speed: float | None = None) -> None:
        self.session = session
        self.framing = session.framing
        self.description = f"replay {session.path}"
        self.speed = speed
        self._records = list(session.records)
        self._pos = 0
        self._open = False
        self._t0_wall = 0.0
        self._t0_rec: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    async def open(self, timeout_s: float = 0.0) -> None:
        self._open = True
        self._t0_wall = time.monotonic()

    async def close(self) -> None:
        self._open = False

    async def write(self, data: bytes) -> None:
        """A replay cannot talk back: writes are accepted and ignored."""

    async def read(self, timeout_s: float) -> Chunk:
        if not self._open:
            raise TransportError(f"{self.description} is not open")
        while self._pos < len(self._records):
            rec = self._records[self._pos]
            self._pos += 1
            if rec.kind == RecordKind.DISCONNECT:
                raise LinkLost(self.description, rec.data.decode(errors="replace") or "recorded disconnect",
                               t_host_s=rec.t_host_s)
            if rec.kind != RecordKind.RX:
                continue
            if self.speed:
                if self._t0_rec is None:
                    self._t0_rec = rec.t_host_s
                due = self._t0_wall + (rec.t_host_s - self._t0_rec) / self.speed
                delay = due - time.monotonic()
                if delay > timeout_s:
                    await asyncio.sleep(timeout_s)
                    self._pos -= 1
                    raise DeviceTimeoutError(f"reading from {self.description}", timeout_s)
                if delay > 0:
                    await asyncio.sleep(delay)
            return Chunk(rec.t_host_s, rec.data)
        raise EndOfData(f"{self.description}: end of recording")
