"""Frames: the unit every link carries (see SPEC.md §2).

::

    off size field
    0   1    version        protocol version of the sender (1)
    1   1    type           message type (messages.MessageType)
    2   1    flags          FrameFlags
    3   2    seq            sender's frame counter, u16, wraps 65535 -> 0
    5   2    boot_id        sender's boot id, changes on every restart
    7   2    length         payload length L, 0..MAX_FRAME_PAYLOAD
    9   L    payload
    9+L 2    crc            CRC-16/CCITT-FALSE over bytes 0 .. 9+L-1

All integers little-endian. On byte streams a frame is COBS-encoded and followed by one 0x00.
Over BLE one notification (or one write) carries exactly one frame, unencoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag
from typing import Final

from cobs import cobs as _cobs

from firmware_protocol.crc import crc16_ccitt_false
from firmware_protocol.errors import FrameError

PROTOCOL_VERSION: Final = 1
HEADER: Final = struct.Struct("<BBBHHH")
HEADER_SIZE: Final = HEADER.size  # 9
CRC_SIZE: Final = 2
OVERHEAD: Final = HEADER_SIZE + CRC_SIZE  # 11
#: Largest payload one frame may carry. Longer messages are fragmented (FrameFlags.MORE).
MAX_FRAME_PAYLOAD: Final = 1024
MAX_FRAME_SIZE: Final = OVERHEAD + MAX_FRAME_PAYLOAD
#: Largest COBS-encoded frame on a byte stream, delimiter excluded.
MAX_ENCODED_FRAME: Final = MAX_FRAME_SIZE + MAX_FRAME_SIZE // 254 + 1
SEQ_MODULO: Final = 1 << 16


class FrameFlags(IntFlag):
    """Bits of the flags byte. Reserved bits are sent as 0 and ignored on receipt."""

    NONE = 0
    #: This frame is a fragment and more fragments of the same message follow.
    MORE = 0x01
    #: This frame continues a message begun by an earlier fragment (set on all but the first).
    CONT = 0x02


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``payload`` is the raw message body (possibly a fragment)."""

    type: int
    payload: bytes
    seq: int = 0
    boot_id: int = 0
    flags: FrameFlags = FrameFlags.NONE
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        if not 0 <= self.type <= 0xFF:
            raise FrameError(f"message type {self.type} outside 0..255")
        if not 0 <= self.seq < SEQ_MODULO:
            raise FrameError(f"seq {self.seq} outside 0..65535")
        if not 0 <= self.boot_id < SEQ_MODULO:
            raise FrameError(f"boot_id {self.boot_id} outside 0..65535")
        if not 1 <= self.version <= 0xFF:
            raise FrameError(f"version {self.version} outside 1..255")
        if len(self.payload) > MAX_FRAME_PAYLOAD:
            raise FrameError(f"payload of {len(self.payload)} bytes exceeds {MAX_FRAME_PAYLOAD}")
        object.__setattr__(self, "payload", bytes(self.payload))
        object.__setattr__(self, "flags", FrameFlags(self.flags))

    def __bytes__(self) -> bytes:
        head = HEADER.pack(self.version, self.type, int(self.flags), self.seq, self.boot_id,
                           len(self.payload))
        body = head + self.payload
        return body + crc16_ccitt_false(body).to_bytes(2, "little")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Frame:
        """Decode one whole frame; raise :class:`FrameError` on any violation."""
        data = bytes(data)
        if len(data) < OVERHEAD:
            raise FrameError(f"frame of {len(data)} bytes is shorter than the {OVERHEAD}-byte minimum")
        version, mtype, flags, seq, boot_id, length = HEADER.unpack_from(data)
        if length > MAX_FRAME_PAYLOAD:
            raise FrameError(f"declared payload length {length} exceeds {MAX_FRAME_PAYLOAD}", seq=seq)
        if len(data) != OVERHEAD + length:
            raise FrameError(
                f"frame is {len(data)} bytes but its header declares {OVERHEAD + length}", seq=seq)
        crc_rx = int.from_bytes(data[-2:], "little")
        crc = crc16_ccitt_false(data[:-2])
        if crc != crc_rx:
            raise FrameError(f"CRC mismatch (got 0x{crc_rx:04X}, computed 0x{crc:04X})", seq=seq)
        if version == 0:
            raise FrameError("protocol version 0 is invalid", seq=seq)
        return cls(mtype, data[HEADER_SIZE:-2], seq, boot_id, FrameFlags(flags), version)

    def encode_stream(self) -> bytes:
        """COBS-encode this frame and append the 0x00 delimiter (byte-stream links)."""
        return cobs_encode(bytes(self)) + b"\x00"


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter added)."""
    return bytes(_cobs.encode(data))


def cobs_decode(data: bytes) -> bytes:
    """COBS-decode ``data`` (no delimiter); raise :class:`FrameError` when invalid."""
    try:
        return bytes(_cobs.decode(data))
    except _cobs.DecodeError as e:
        raise FrameError(f"invalid COBS encoding: {e}") from e


def seq_distance(prev: int, new: int) -> int:
    """Frames missing between ``prev`` and ``new`` (0 when consecutive), modulo 2**16."""
    return (new - prev - 1) % SEQ_MODULO
