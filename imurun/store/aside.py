"""Runs set aside: kept under ``HOME/set-aside/``, out of the index, listed and restorable.

Layout (``docs/library.md``)::

    HOME/set-aside/<device>/<run dir>/                  a run set aside whole: by hand
                                                        (``store set-aside``), or a damaged copy
                                                        an intact copy took the place of
    HOME/set-aside/<device>/<run dir>.damaged-<time>/   the damaged file of a run an intact copy
                                                        healed in place (the run stays held)
    HOME/set-aside/imported/<sha>[.damaged-<time>]/     the same for an imported recording
        <run file>        the bytes, as the library held them
        meta.json         the run as the library held it (written last: it makes the entry)
        set-aside.json    the note: where it was, which run, when, why, replaced by what

Every directory with a readable ``meta.json`` is one entry of ``imurun store restore``. A
file under ``set-aside/`` in no entry is one :func:`unlisted_files` finds for ``store check``:
the damaged files earlier versions kept alone (``<file>.damaged-<time>`` in a directory named
after the run's), or an entry whose writer was killed before its ``meta.json``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imurun.errors import StoreError
from imurun.store._files import read_json, stale_temp_files

SET_ASIDE = "set-aside"  # runs set aside (damaged files): kept, out of the index
SET_ASIDE_NOTE = "set-aside.json"  # in a directory set aside: where it came from, when, why
_RUN_META = "meta.json"  # (library.RUN_META; this module is below the library)

BY_HAND = "set aside by hand (`imurun store set-aside`)"
REPLACED = "a damaged copy replaced by an intact one"
NO_REASON = "set aside by an earlier imurun, which kept no reason"

#: ``<run file>.damaged-<UTC time>[-n]``: the name earlier versions kept a healed file under
_KEPT_ALONE = re.compile(r"^(?P<name>.+)\.damaged-(?P<stamp>\d{8}T\d{6}Z)(?:-\d+)?$")


@dataclass(frozen=True)
class SetAsideRun:
    """One run (or one damaged copy of a run) set aside, as ``imurun store restore`` lists it."""

    directory: Path
    meta: dict[str, Any]  # its meta.json: the run as the library held it
    origin: str  # where it was, relative to HOME (``runs/...``)
    at: str | None  # when it was set aside (UTC, ISO 8601); None: not kept
    reason: str  # why, in words
    replaced_by: str | None = None  # id of the intact run that took its place, if one did

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def short_id(self) -> str:
        return self.id[:10]

    @property
    def path(self) -> Path:
        """Its run file."""
        return self.directory / str(self.meta.get("file"))

    def describe(self) -> str:
        """Where from, when and why, in one line."""
        why = self.reason if self.replaced_by is None else f"{self.reason} (run {self.replaced_by[:10]})"
        return f"from {self.origin}, set aside {self.at or 'at a time not kept'}: {why}"


def note(origin: str, run_id: str, reason: str, *, replaced_by: str | None = None,
         at: str | None = None) -> dict[str, Any]:
    """The ``set-aside.json`` of a directory set aside."""
    d: dict[str, Any] = {"from": origin, "run_id": run_id, "reason": reason,
                         "at": at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if replaced_by is not None:
        d["replaced_by"] = replaced_by
    return d


def read_note(directory: Path) -> dict[str, Any]:
    """A directory's ``set-aside.json`` ({} when it has none, or an unreadable one)."""
    p = directory / SET_ASIDE_NOTE
    try:
        d = read_json(p) if p.is_file() else {}
    except StoreError:  # a damaged note is no note: the entry stays listed
        return {}
    return d if isinstance(d, dict) else {}


def origin_of(base: Path, directory: Path, note: Mapping[str, Any]) -> str:
    """Where ``directory`` (under ``base``) was under ``runs/``: its ``note``, else its name."""
    origin = note.get("from")
    if isinstance(origin, str):
        return origin
    rel = directory.relative_to(base)
    alone = kept_alone(directory)  # (``<run dir>.damaged-<time>``: a damaged file kept)
    return (Path("runs") / (rel if alone is None else rel.parent / alone[0])).as_posix()


def run_files_in(directory: Path) -> list[Path]:
    """The run files in ``directory`` (not what is kept beside them, nor hidden files)."""
    return [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")
            and is_run_file(p)]


def entry(base: Path, directory: Path, meta: dict[str, Any]) -> SetAsideRun:
    """The entry for ``directory`` (under ``base``, the ``set-aside/`` folder) and its meta."""
    n = read_note(directory)
    origin = origin_of(base, directory, n)
    alone = kept_alone(directory)
    by = n.get("replaced_by")
    by = by if isinstance(by, str) else None
    reason = n.get("reason")
    if not isinstance(reason, str):
        reason = REPLACED if by is not None or alone is not None else NO_REASON
    at = n.get("at", None if alone is None else alone[1])
    return SetAsideRun(directory, meta, origin, at if isinstance(at, str) else None, reason, by)


def kept_alone(path: Path) -> tuple[str, str] | None:
    """(name, when as ISO 8601) of ``<name>.damaged-<time>``: damaged bytes kept.

    A file an earlier version kept alone (``name``: the run file's), or a directory kept now
    (``name``: the run directory's).
    """
    m = _KEPT_ALONE.match(path.name)
    if m is None:
        return None
    t = dt.datetime.strptime(m["stamp"], "%Y%m%dT%H%M%SZ")
    return m["name"], t.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_stamp(at: str) -> str:
    """``2026-11-20T08:00:00Z`` -> ``20261120T080000Z`` (for directory names)."""
    return at.replace("-", "").replace(":", "")


def unlisted_files(base: Path, listed: Mapping[Path, Any]) -> Iterator[Path]:
    """Files under ``base`` (``set-aside/``) in no listed directory (nor temporary files)."""
    if not base.is_dir():
        return
    temps = set(stale_temp_files(base))
    for p in sorted(base.rglob("*")):
        if not p.is_file() or p in temps or p.name.startswith("."):
            continue
        if any(d in listed for d in p.parents):
            continue
        yield p


def is_run_file(p: Path) -> bool:
    """Whether ``p`` is a run's own file, not what sits beside it (metadata, analysis, note)."""
    return p.name not in (_RUN_META, SET_ASIDE_NOTE, "analysis.json") and not p.name.startswith(
        ("watch-", "analysis.json.damaged-"))
