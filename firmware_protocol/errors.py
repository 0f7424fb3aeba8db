"""Error types of the wire layer.

Every error raised by :mod:`firmware_protocol` derives from :class:`ProtocolError`, which also
derives from :class:`ValueError` (the input bytes were wrong). The library above re-exports them
under its own root, :class:`imurun.errors.ImurunError`, which :class:`ProtocolError` subclasses
structurally: ``firmware_protocol`` stays importable on its own, so the root lives here.
"""

from __future__ import annotations


class ImurunError(Exception):
    """Root of every error this project raises on purpose."""


class ProtocolError(ImurunError, ValueError):
    """Bytes that do not follow the wire contract."""

    def __init__(self, reason: str, *, offset: int | None = None, seq: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.seq = seq
        where = []
        if offset is not None:
            where.append(f"offset {offset}")
        if seq is not None:
            where.append(f"seq {seq}")
        super().__init__(f"{reason} ({', '.join(where)})" if where else reason)


class FrameError(ProtocolError):
    """A frame failed its length, version or CRC check."""


class MessageError(ProtocolError):
    """A frame was intact but its payload does not decode as its message type."""


class RunFormatError(ProtocolError):
    """A stored-run file (header or block) is damaged or not a stored run."""
