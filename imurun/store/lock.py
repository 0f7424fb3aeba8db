"""One writer at a time where it matters: an OS file lock on a store, released when its process dies.

``imurun sync`` (into the library or a plain ``--store DIR``) and ``imurun store check --repair``
hold the lock of the store they write for their whole run (:func:`hold`); imports (and
``store restore``) hold it shared, so they still run together but never beside a sync or a repair. A second process asking
for it is refused at once with :class:`StoreBusyError`, which names the holder read from the
lock file (pid, what, since when). The lock is ``flock`` (``msvcrt.locking`` on Windows) on
``.lock`` at the top of the store: the kernel drops it with the process that held it, so a sync
that was killed (``SIGKILL``, a power cut) never leaves the store locked; the text left in the
file by a dead holder is only read while a live process holds the lock again.

Inside one process the lock is re-entrant: the command that holds it may open the library
again (an import inside a sync, a repair inside ``Library.open``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imurun.errors import StoreError
from imurun.store._files import process_alive

LOCK_NAME = ".lock"


class StoreBusyError(StoreError):
    """Another process holds the store's lock (``pid`` and ``holder`` when it said who it is)."""

    def __init__(self, root: Path, what: str, pid: int | None, holder: str) -> None:
        self.root = root
        self.pid = pid
        self.holder = holder
        who = f"another imurun process ({holder})" if holder else "another imurun process"
        super().__init__(f"{root} is in use by {who}; {what} needs it to itself, so nothing was "
                         "done: run it again when that has finished")


@dataclass
class _Held:
    fd: int
    shared: bool
    depth: int


_held: dict[Path, _Held] = {}  # locks this process holds, by lock file (re-entrancy)


def _try_lock(fd: int, shared: bool) -> bool:
    if sys.platform == "win32":  # pragma: no cover - no shared mode: one holder at a time
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> tuple[int | None, str]:
    """(pid, description) the current holder wrote into the lock file; (None, "") if unknown."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 512).decode("utf-8", "replace").strip()
    except OSError:
        return None, ""
    first = text.split(" ", 1)[0] if text else ""
    if not first.isdigit() or not process_alive(int(first)):
        return None, ""  # (a line left by a holder that has gone)
    pid = int(first)
    return pid, f"pid {pid}: {text.split(' ', 1)[1]}" if " " in text else f"pid {pid}"




@contextlib.contextmanager
def hold(root: Path, what: str, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock of the store at ``root`` while the block runs; :class:`StoreBusyError` if taken.

    ``what`` (``"sync"``, ``"import"``...) is written into the lock file for a refused process to
    name. ``shared``: other shared holders are welcome, an exclusive one is not.
    """
    path = (root / LOCK_NAME).absolute()
    mine = _held.get(path)
    if mine is not None:  # re-entered by the process that holds it
        mine.depth += 1
        try:
            yield
        finally:
            mine.depth -= 1
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"cannot lock {root}: {e.strerror or e}") from e
    try:
        if not _try_lock(fd, shared):
            pid, holder = _holder(fd)
            raise StoreBusyError(root, what, pid, holder)
        if not shared or _holder(fd)[0] is None:
            # Who holds it, for a refused process to name: of shared holders, the first one
            # still alive.
            since = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()} {what} since {since}\n".encode())
        _held[path] = _Held(fd, shared, 1)
        try:
            yield
        finally:
            del _held[path]
    finally:
        os.close(fd)  # closing the descriptor releases the lock
