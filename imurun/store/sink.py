"""The library as a :class:`~imurun.device.sync.RunSink`: ``imurun sync`` stores straight into it.

Partial files and the verified-prefix protocol are those of :class:`RunDirectory` (under
``HOME/runs/.partial``); a committed run lands in its own directory
``HOME/runs/<device>/run-<id>-<crc>/`` with its ``meta.json`` written first, then the atomic
rename of the run file, then the index row. A sync killed between any two of these steps leaves
something :meth:`LibrarySink.is_stored` or ``imurun store check --repair`` completes, and the
sensor erases a run only after all three.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from firmware_protocol.messages import RunEntry
from imurun.errors import FileFormatError, StoreError
from imurun.store.library import (
    RUN_META,
    FileFacts,
    Library,
    RunRecord,
    file_facts,
    run_location,
    utc_now,
)
from imurun.store.rundir import RunDirectory, file_crc32


class LibrarySink(RunDirectory):
    """Stores synced runs into ``library``, each to the athlete its sensor is bound to."""

    def __init__(self, library: Library) -> None:
        super().__init__(library.root / "runs")
        self.library = library
        self.stored: list[RunRecord] = []  # runs committed by this sink, in order
        #: damaged copies of runs this sink stored, set aside: (the run as held, where it is now)
        self.healed: list[tuple[RunRecord, Path]] = []

    def lock(self, what: str) -> contextlib.AbstractContextManager[None]:
        """The library's lock, not one of its ``runs/`` folder: one lock for all its writers."""
        return self.library.lock(what)

    def run_path(self, device_id: int, entry: RunEntry) -> Path:
        facts = FileFacts("stored-run", entry.size, f"{device_id:016x}", entry.run_id, entry.crc32,
                          sensor_start_ms=entry.start_unix_ms)
        return self.library.root / run_location(facts, "", "")

    def is_stored(self, device_id: int, entry: RunEntry) -> bool:
        run = self.library.find_sensor_run(device_id, entry.run_id, entry.start_unix_ms, entry.crc32)
        if run is not None and run.path.exists() and run.path.stat().st_size == entry.size \
                and file_crc32(run.path) == entry.crc32:
            self.library.remove_replaced_copies(run)  # (a replacement killed half-way: finished)
            return True  # (a held file that was damaged since is fetched again: that repairs it)
        if not super().is_stored(device_id, entry):
            return False
        # The file was committed but the process stopped before indexing it: finish that now.
        self._index(device_id, entry)
        return True

    def commit(self, device_id: int, entry: RunEntry) -> str:
        part = self._partial(device_id, entry)
        if part.exists() and part.stat().st_size == entry.size and file_crc32(part) == entry.crc32:
            self._write_meta(device_id, entry, part)
        location = super().commit(device_id, entry)
        self.stored.append(self._index(device_id, entry))
        return location

    def _write_meta(self, device_id: int, entry: RunEntry, data: Path) -> dict[str, Any]:
        from imurun.store._files import read_json, sha256_file

        sha = sha256_file(data)
        final = self.run_path(device_id, entry)
        held = final.parent / RUN_META
        try:
            old = read_json(held) if held.exists() else None
        except StoreError:  # unreadable: written anew below
            old = None
        if isinstance(old, dict) and old.get("id") == sha:
            # The same bytes again (a held run whose file was damaged, fetched again): what the
            # library knew about the run (an athlete given by hand, when it was added) stays.
            return old
        try:
            facts = file_facts(data)
        except FileFormatError:
            # Stored all the same: these are the sensor's bytes, and they are all we have.
            facts = FileFacts("stored-run", entry.size, start_unix_s=entry.start_unix_ms / 1000 or None)
        facts = FileFacts(facts.format, entry.size, f"{device_id:016x}", entry.run_id, entry.crc32,
                          facts.start_unix_s, facts.duration_s, entry.start_unix_ms)
        rel = final.relative_to(self.library.root).as_posix()
        meta = self.library.new_run_meta(sha, rel, facts,
                                      self.library.athlete_of_sensor(device_id), "sync",
                                      final.name, utc_now())
        self.library.write_run_meta(final.parent, meta)
        return meta

    def _index(self, device_id: int, entry: RunEntry) -> RunRecord:
        from imurun.store._files import read_json, sha256_file

        final = self.run_path(device_id, entry)
        mp = final.parent / RUN_META
        meta = read_json(mp) if mp.exists() else None
        if not isinstance(meta, dict) or meta.get("id") != sha256_file(final):
            meta = self._write_meta(device_id, entry, final)
        rec = self.library.index_run(final.parent, meta)
        # A copy of this run imported damaged before it was synced: the synced run replaces it.
        healed = self.library.replace_damaged_copies(rec)
        self.healed.extend(healed)
        return self.library.get(rec.id) or rec if healed else rec
