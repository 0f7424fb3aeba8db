"""One error root for the whole project, with one subclass family per layer.

Each subclass also inherits the builtin it refines, so ``except ValueError`` still works for
callers who do not know this project. Third-party exceptions are converted at the layer boundary
with ``raise ... from e``.
"""

from __future__ import annotations

import errno

from firmware_protocol.errors import (
    FrameError,
    ImurunError,
    MessageError,
    ProtocolError,
    RunFormatError,
)

__all__ = [
    "CallbackError",
    "DeviceError",
    "DeviceTimeoutError",
    "FileFormatError",
    "FrameError",
    "ImurunError",
    "IngestError",
    "MessageError",
    "MissingFileError",
    "NotFoundError",
    "ProtocolError",
    "RunFormatError",
    "SignalError",
    "StoreError",
    "SyncError",
    "TransportError",
    "UnknownNameError",
    "UsageError",
]


class TransportError(ImurunError, OSError):
    """A link could not be opened, read or written."""


class DeviceTimeoutError(TransportError, TimeoutError):
    """An operation on a device did not complete within its timeout."""

    def __init__(self, operation: str, timeout_s: float) -> None:
        self.operation = operation
        self.timeout_s = timeout_s
        super().__init__(f"{operation} timed out after {timeout_s:g} s")


class DeviceError(ImurunError, RuntimeError):
    """The sensor answered with an error message."""

    def __init__(self, code: int, text: str, *, operation: str = "") -> None:
        self.code = code
        self.text = text
        self.operation = operation
        prefix = f"{operation}: " if operation else ""
        super().__init__(f"{prefix}sensor error {code}: {text}")


class CallbackError(ImurunError, RuntimeError):
    """A function the caller gave (``on_rsc``, ``progress``...) raised: the operation stopped.

    ``callback`` names the argument; the callback's own exception is ``__cause__`` (the error
    is raised ``from`` it). What happened to the operation's data is in the message.
    """

    def __init__(self, callback: str, error: BaseException, consequence: str = "") -> None:
        self.callback = callback
        self.error = error
        tail = f"; {consequence}" if consequence else ""
        super().__init__(f"{callback} raised {type(error).__name__}: {error}{tail}")


class SyncError(ImurunError, RuntimeError):
    """A sync could not complete (after its retries)."""


class IngestError(ImurunError, ValueError):
    """Decoded messages cannot form a recording."""


class FileFormatError(ImurunError, ValueError):
    """A file is not in a supported format or is damaged beyond recovery."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class MissingFileError(FileFormatError, FileNotFoundError):
    """The file to read does not exist.

    A :class:`FileFormatError` (so the CLI reports it as every unreadable input) that is also
    a :class:`FileNotFoundError`, so ``except FileNotFoundError`` (or ``OSError``) catches it;
    ``errno`` is ``ENOENT``. The path is ``path``; ``filename`` stays ``None`` so that the
    message keeps the ``PATH: REASON`` form of every :class:`FileFormatError`.
    """

    def __init__(self, path: str, reason: str = "cannot read: No such file or directory") -> None:
        super().__init__(path, reason)
        self.errno = errno.ENOENT
        self.strerror = "No such file or directory"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"  # not OSError's "[Errno 2] ..." form


class SignalError(ImurunError, ValueError):
    """Arrays passed to the signal layer have the wrong shape, units or content."""


class StoreError(ImurunError, RuntimeError):
    """The local store is inconsistent or an entry is missing."""


class NotFoundError(ImurunError, LookupError):
    """A run, athlete or library the user named does not exist."""


class UsageError(ImurunError, ValueError):
    """The user asked for something that cannot be done as asked."""


class UnknownNameError(ImurunError, KeyError, ValueError):
    """A result was asked for a name it does not hold (an indicator key, a metric, an activity).

    A :class:`KeyError` (what ``RunAnalysis.indicator`` and ``RunSummary.get_spread`` raised
    before) and a :class:`ValueError` (what ``PerMinute.series`` and ``ActivityBouts.seconds``
    raised before), so either ``except`` keeps working. ``name`` is the name asked for,
    ``known`` the names the result holds; the message lists them.
    """

    def __init__(self, what: str, name: object, known: tuple[str, ...]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"no {what} {name!r}; known: {', '.join(known)}")

    def __str__(self) -> str:
        return str(self.args[0])  # not KeyError's repr() of the message
