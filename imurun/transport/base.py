"""What every transport is: something that moves bytes, stamped with the host time they arrived.

Transports do no decoding. ``framing`` tells the layer above which decoder to use: a COBS byte
stream (serial, files) or one frame per packet (BLE notifications).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from imurun.errors import TransportError


class Framing(StrEnum):
    STREAM = "stream"  # COBS frames delimited by 0x00 (SPEC §2.1)
    PACKET = "packet"  # one frame per packet (SPEC §2.2)


@dataclass(frozen=True)
class Chunk:
    """Bytes as they arrived and the host wall-clock time (Unix seconds) they arrived."""

    t_host_s: float
    data: bytes


class LinkLost(TransportError):
    """The link dropped (cable pulled, peripheral disconnected, port vanished)."""

    def __init__(self, description: str, reason: str = "", *, t_host_s: float | None = None) -> None:
        self.description = description
        self.reason = reason
        self.t_host_s = t_host_s  # when it happened, if known (replays know it)
        super().__init__(f"{description}: link lost" + (f" ({reason})" if reason else ""))


class EndOfData(TransportError):
    """A finite source (a replayed file) has nothing more to give."""


@runtime_checkable
class Transport(Protocol):
    """An open-able, byte-moving link. All methods raise :class:`TransportError` subclasses."""

    framing: Framing
    description: str

    async def open(self, timeout_s: float) -> None:
        """Connect; raise :class:`~imurun.errors.DeviceTimeoutError` after ``timeout_s``."""
        ...

    async def close(self) -> None:
        """Disconnect; safe to call twice and after a lost link."""
        ...

    async def write(self, data: bytes) -> None:
        """Send one frame (packet framing) or any bytes (stream framing)."""
        ...

    async def read(self, timeout_s: float) -> Chunk:
        """Next bytes; :class:`LinkLost` on disconnect, ``DeviceTimeoutError`` on timeout."""
        ...

    @property
    def is_open(self) -> bool: ...
