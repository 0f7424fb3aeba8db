"""A directory of synced runs: the byte-exact files the sensor held, written atomically.

Layout::

    ROOT/<device_id as 16 hex digits>/run-<run_id as 8 digits>-<crc32 as 8 hex>.imrn
    ROOT/.partial/<device>-<run>-<crc>.part      verified prefix of a run being synced

Appends to the partial file are fsynced, so a killed sync resumes where it stopped; a run is
published by an atomic rename only after its whole-file CRC-32 matched the sensor's catalogue.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from firmware_protocol.crc import crc32
from firmware_protocol.messages import RunEntry
from imurun.errors import StoreError, SyncError
from imurun.store._files import fsync_dir, make_dirs


def file_crc32(path: str | os.PathLike[str], block: int = 1 << 20) -> int:
    """The CRC-32 of the file at ``path`` (the sensor's checksum of a run)."""
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            crc = crc32(chunk, crc)
    return crc


class RunDirectory:
    """A :class:`~imurun.device.sync.RunSink` on a plain directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / ".partial").mkdir(exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create store {self.root}: {e.strerror or e}") from e

    def lock(self, what: str) -> contextlib.AbstractContextManager[None]:
        """Hold this store alone while the block runs (a second sync into it is refused at once).

        Two syncs into one store would append to the same partial files and commit each
        other's runs half-way.
        """
        from imurun.store.lock import hold

        return hold(self.root, what)

    def run_path(self, device_id: int, entry: RunEntry) -> Path:
        return self.root / f"{device_id:016x}" / f"run-{entry.run_id:08d}-{entry.crc32:08x}.imrn"

    def _partial(self, device_id: int, entry: RunEntry) -> Path:
        return self.root / ".partial" / f"{device_id:016x}-{entry.run_id:08d}-{entry.crc32:08x}.part"

    def is_stored(self, device_id: int, entry: RunEntry) -> bool:
        """Held already: same device, run id, size and CRC-32 (SPEC §3.3)."""
        p = self.run_path(device_id, entry)
        return p.exists() and p.stat().st_size == entry.size and file_crc32(p) == entry.crc32

    def verified_prefix(self, device_id: int, entry: RunEntry) -> int:
        p = self._partial(device_id, entry)
        return min(p.stat().st_size, entry.size) if p.exists() else 0

    def append(self, device_id: int, entry: RunEntry, offset: int, data: bytes) -> None:
        p = self._partial(device_id, entry)
        with open(p, "ab") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size != offset:
                if size < offset:
                    raise StoreError(f"{p.name}: append at {offset} but only {size} bytes held")
                fh.truncate(offset)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def commit(self, device_id: int, entry: RunEntry) -> str:
        p = self._partial(device_id, entry)
        if not p.exists() or p.stat().st_size != entry.size:
            raise SyncError(f"run {entry.run_id}: incomplete ({p.stat().st_size if p.exists() else 0}"
                            f" of {entry.size} bytes)")
        got = file_crc32(p)
        if got != entry.crc32:
            raise SyncError(f"run {entry.run_id}: CRC-32 0x{got:08x} != catalogue 0x{entry.crc32:08x}")
        final = self.run_path(device_id, entry)
        make_dirs(final.parent)
        os.replace(p, final)
        fsync_dir(final.parent)
        fsync_dir(p.parent)
        return str(final)

    def discard(self, device_id: int, entry: RunEntry) -> None:
        self._partial(device_id, entry).unlink(missing_ok=True)

    def runs(self) -> list[Path]:
        return sorted(self.root.glob("*/run-*.imrn"))
