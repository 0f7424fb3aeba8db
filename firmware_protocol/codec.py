"""Encoders and incremental decoders: bytes in, typed messages out, no I/O (SPEC.md §2, §4).

One :class:`FrameAssembler` holds the state common to every link (sequence tracking, reboot
detection, fragment reassembly); :class:`StreamDecoder` (COBS byte streams: serial, files) and
:class:`PacketDecoder` (one frame per BLE notification) put frames into it. Both are fed with
``feed(data) -> list[ParseEvent]`` and never raise on bad input: damage becomes a
:class:`Dropped` event and decoding carries on at the next frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from firmware_protocol.errors import FrameError, MessageError
from firmware_protocol.frame import (
    MAX_ENCODED_FRAME,
    MAX_FRAME_PAYLOAD,
    OVERHEAD,
    SEQ_MODULO,
    Frame,
    FrameFlags,
    cobs_decode,
    seq_distance,
)
from firmware_protocol.messages import AnyMessage, UnknownMessage, decode_message, message_type

#: Largest reassembled message. Bounded so hostile fragments cannot exhaust memory.
MAX_MESSAGE_SIZE: Final = 64 * 1024


# --------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Received:
    """A complete message. ``seq`` is its (last) frame's sequence number."""

    message: AnyMessage
    seq: int
    boot_id: int
    version: int
    n_frames: int = 1


@dataclass(frozen=True)
class Dropped:
    """Bytes that did not form a valid frame or message; decoding resumed after them."""

    reason: str
    offset: int
    n_bytes: int
    #: the message type of a frame that was whole but whose message was malformed or too long
    #: (``None`` for damage below the message layer): a sensor answers such a request with
    #: ERROR 2, and a message of a type that is no request with ERROR 1 (SPEC §2, versioning)
    msg_type: int | None = None


@dataclass(frozen=True)
class Lost:
    """Sequence numbers show ``n_frames`` frames that never arrived before ``seq``."""

    n_frames: int
    seq: int
    boot_id: int


@dataclass(frozen=True)
class Rebooted:
    """The sender's boot id changed: it restarted. Sequence tracking starts over."""

    old_boot_id: int
    new_boot_id: int


ParseEvent = Received | Dropped | Lost | Rebooted


@dataclass
class DecoderStats:
    """Running totals of what a decoder saw (readable, resettable by making a new decoder)."""

    bytes_in: int = 0
    frames_ok: int = 0
    frames_corrupt: int = 0
    frames_lost: int = 0
    messages: int = 0
    messages_unknown: int = 0
    messages_malformed: int = 0
    fragments_discarded: int = 0
    frames_duplicate: int = 0
    reboots: int = 0


# --------------------------------------------------------------------------- encoding
@dataclass
class Encoder:
    """Turns messages into frames for one sender (owns its sequence counter and boot id)."""

    boot_id: int = 0
    seq: int = 0
    version: int = 1

    def frames(self, msg: AnyMessage, max_payload: int = MAX_FRAME_PAYLOAD) -> list[Frame]:
        """Frames for ``msg``: one, or several fragments of at most ``max_payload`` bytes each."""
        if not 1 <= max_payload <= MAX_FRAME_PAYLOAD:
            raise ValueError(f"max_payload must be 1..{MAX_FRAME_PAYLOAD}, got {max_payload}")
        body = msg.payload()
        if len(body) > MAX_MESSAGE_SIZE:
            raise MessageError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE_SIZE}")
        mtype = message_type(msg)
        parts = [body[i:i + max_payload] for i in range(0, len(body), max_payload)] or [b""]
        out = []
        for i, part in enumerate(parts):
            flags = FrameFlags.NONE
            if i < len(parts) - 1:
                flags |= FrameFlags.MORE
            if i > 0:
                flags |= FrameFlags.CONT
            out.append(Frame(mtype, part, self.seq, self.boot_id, flags, self.version))
            self.seq = (self.seq + 1) % SEQ_MODULO
        return out

    def stream_bytes(self, msg: AnyMessage) -> bytes:
        """COBS-framed bytes for a byte-stream link (serial, files)."""
        return b"".join(f.encode_stream() for f in self.frames(msg))

    def packets(self, msg: AnyMessage, max_packet: int) -> list[bytes]:
        """One frame per packet, none longer than ``max_packet`` bytes (BLE notifications)."""
        if max_packet <= OVERHEAD:
            raise ValueError(f"max_packet must exceed the {OVERHEAD}-byte frame overhead")
        return [bytes(f) for f in self.frames(msg, min(max_packet - OVERHEAD, MAX_FRAME_PAYLOAD))]


# --------------------------------------------------------------------------- decoding
@dataclass
class FrameAssembler:
    """Link-independent state: sequence gaps, reboots, fragment reassembly."""

    stats: DecoderStats = field(default_factory=DecoderStats)
    _boot_id: int | None = None
    _last_seq: int | None = None
    _frag_type: int | None = None
    _frag_parts: list[bytes] = field(default_factory=list)
    _frag_size: int = 0

    def _discard_fragments(self) -> None:
        if self._frag_type is not None:
            self.stats.fragments_discarded += len(self._frag_parts)
        self._frag_type = None
        self._frag_parts = []
        self._frag_size = 0

    def push(self, frame: Frame, offset: int, n_bytes: int) -> list[ParseEvent]:
        out: list[ParseEvent] = []
        if self._boot_id is not None and frame.boot_id != self._boot_id:
            out.append(Rebooted(self._boot_id, frame.boot_id))
            self.stats.reboots += 1
            self._last_seq = None
            self._discard_fragments()
        elif self._last_seq is not None:
            if frame.seq == self._last_seq:
                self.stats.frames_duplicate += 1  # delivered twice by the link: keep the first
                return out
            missing = seq_distance(self._last_seq, frame.seq)
            if missing:
                out.append(Lost(missing, frame.seq, frame.boot_id))
                self.stats.frames_lost += missing
                self._discard_fragments()
        self.stats.frames_ok += 1
        self._boot_id = frame.boot_id
        self._last_seq = frame.seq

        more = bool(frame.flags & FrameFlags.MORE)
        cont = bool(frame.flags & FrameFlags.CONT)
        if cont:
            if self._frag_type is None or frame.type != self._frag_type:
                # A continuation whose beginning was lost (or dropped as oversized): not a message.
                self._discard_fragments()
                self.stats.fragments_discarded += 1
                return out
        else:
            self._discard_fragments()  # a new message begins: an unfinished one is lost
        if more or cont:
            self._frag_type = frame.type
            self._frag_parts.append(frame.payload)
            self._frag_size += len(frame.payload)
            if self._frag_size > MAX_MESSAGE_SIZE:
                out.append(Dropped(f"reassembled message exceeds {MAX_MESSAGE_SIZE} bytes",
                                   offset, n_bytes, frame.type))
                self.stats.messages_malformed += 1
                self._discard_fragments()  # its remaining fragments become orphans
                return out
            if more:
                return out
            payload = b"".join(self._frag_parts)
            n_frames = len(self._frag_parts)
            self._frag_type = None
            self._frag_parts = []
            self._frag_size = 0
        else:
            payload, n_frames = frame.payload, 1
        try:
            msg = decode_message(frame.type, payload)
        except MessageError as e:
            self.stats.messages_malformed += 1
            out.append(Dropped(f"type 0x{frame.type:02X}: {e}", offset, n_bytes, frame.type))
            return out
        self.stats.messages += 1
        if isinstance(msg, UnknownMessage):
            self.stats.messages_unknown += 1
        out.append(Received(msg, frame.seq, frame.boot_id, frame.version, n_frames))
        return out


class StreamDecoder:
    """Incremental decoder for COBS-framed byte streams. State = the unfinished frame's bytes.

    Memory is bounded: a run of bytes without a delimiter longer than the largest legal encoded
    frame is dropped, and decoding resynchronises at the next 0x00.
    """

    def __init__(self) -> None:
        self.assembler = FrameAssembler()
        self._buf = bytearray()
        self._buf_start = 0  # stream offset of _buf[0]
        self._overflow = False  # discarding until the next delimiter
        self._offset = 0  # stream offset of the next byte fed

    @property
    def stats(self) -> DecoderStats:
        return self.assembler.stats

    @property
    def pending_bytes(self) -> int:
        """Bytes held while waiting for a delimiter."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[ParseEvent]:
        data = bytes(data)
        self.stats.bytes_in += len(data)
        out: list[ParseEvent] = []
        pos = 0
        while pos < len(data):
            end = data.find(b"\x00", pos)
            piece = data[pos:] if end < 0 else data[pos:end]
            if not self._buf:
                self._buf_start = self._offset + pos
            if self._overflow:
                pass
            elif len(self._buf) + len(piece) > MAX_ENCODED_FRAME:
                self._overflow = True
                # Report the bytes that proved the overflow, not however many happened to
                # arrive in this chunk: the event must not depend on how the stream is cut.
                out.append(Dropped(f"no delimiter within {MAX_ENCODED_FRAME} bytes",
                                   self._buf_start, MAX_ENCODED_FRAME + 1))
                self.stats.frames_corrupt += 1
                self._buf.clear()
            else:
                self._buf += piece
            if end < 0:
                break
            if not self._overflow and self._buf:
                out.extend(self._frame(bytes(self._buf), self._buf_start))
            self._buf.clear()
            self._overflow = False
            pos = end + 1
        self._offset += len(data)
        return out

    def _frame(self, encoded: bytes, offset: int) -> list[ParseEvent]:
        try:
            frame = Frame.from_bytes(cobs_decode(encoded))
        except FrameError as e:
            self.stats.frames_corrupt += 1
            return [Dropped(e.reason, offset, len(encoded) + 1)]
        return self.assembler.push(frame, offset, len(encoded) + 1)


class PacketDecoder:
    """Decoder for links that keep message boundaries (BLE): one frame per packet, any length."""

    def __init__(self) -> None:
        self.assembler = FrameAssembler()
        self._offset = 0

    @property
    def stats(self) -> DecoderStats:
        return self.assembler.stats

    def feed(self, packet: bytes | bytearray | memoryview) -> list[ParseEvent]:
        packet = bytes(packet)
        offset = self._offset
        self._offset += len(packet)
        self.stats.bytes_in += len(packet)
        try:
            frame = Frame.from_bytes(packet)
        except FrameError as e:
            self.stats.frames_corrupt += 1
            return [Dropped(e.reason, offset, len(packet))]
        return self.assembler.push(frame, offset, len(packet))


def decode_stream(data: bytes) -> list[ParseEvent]:
    """Decode a whole COBS byte stream at once (convenience for files and tests)."""
    return StreamDecoder().feed(data)


def messages(events: Iterable[ParseEvent]) -> list[AnyMessage]:
    """Just the messages from a list of parse events."""
    return [e.message for e in events if isinstance(e, Received)]
