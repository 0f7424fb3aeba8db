"""The local library: run files plus a SQLite index, under ``IMURUN_HOME``.

Layout (``docs/library.md``)::

    HOME/profiles.json                      athletes and sensor bindings (the truth)
    HOME/index.sqlite3                      the index (derived: rebuilt from the files)
    HOME/runs/<device>/run-<id>-<crc>/      one directory per sensor run:
        run-<id>-<crc>.imrn                 the synced bytes, exactly as the sensor held them
        meta.json                           athlete, source, when added, facts about the file
        analysis.json                       the ``imurun.analysis/1`` result, once analysed
        watch-<sha>.fit, watch-<sha>.json   attached watch files and their alignment
    HOME/runs/imported/<sha>/<name>         other imported recordings (CSV, Xsens, sessions)
    HOME/runs/.partial/                     syncs in progress (resumable)
    HOME/set-aside/                         runs set aside, listed by ``store restore`` (aside.py)

Files are the truth and are written atomically (temp + fsync + rename), ``meta.json`` before the
run file, so a process killed at any point leaves either a complete run or a leftover that
:meth:`Library.check` recognises and a re-run completes. Index writes are transactions; the
database runs in WAL mode with a busy timeout, and writers take the write lock up front
(``BEGIN IMMEDIATE``), so two processes may use one library at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import glob
import itertools
import json
import numbers
import os
import shutil
import sqlite3
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from imurun.errors import FileFormatError, ImurunError, NotFoundError, StoreError, UsageError
from imurun.store import aside, schema
from imurun.store._files import (
    atomic_write_json,
    fsync_dir,
    make_dirs,
    read_json,
    remove_stale_temp_files,
    safe_name,
    sha256_file,
    stale_temp_files,
)
from imurun.store.aside import SET_ASIDE, SET_ASIDE_NOTE, SetAsideRun
from imurun.store.lock import LOCK_NAME, StoreBusyError, hold
from imurun.store.schema import STEP_COLUMNS, SUMMARY_COLUMNS, TEXT_STEP_COLUMNS

if TYPE_CHECKING:
    from imurun.signal.results import RunAnalysis

ENV_HOME = "IMURUN_HOME"
DB_NAME = "index.sqlite3"
PROFILES = "profiles.json"
RUN_META = "meta.json"
ANALYSIS = "analysis.json"
PROFILES_SCHEMA = "imurun.profiles/1"
RUN_SCHEMA = "imurun.run/1"
ANALYSIS_SCHEMA = "imurun.analysis/1"
BUSY_TIMEOUT_S = 30.0
#: The ``meta`` key of an index created where one was lost, until a rebuild has filled it.
REBUILD_AWAITED = "rebuild_awaited"


def default_home() -> Path:
    """``$IMURUN_HOME``, else the platform's user data directory (e.g. ``~/.local/share/imurun``)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("imurun", appauthor=False)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_utc(unix_s: float | None) -> str | None:
    if unix_s is None:
        return None
    return dt.datetime.fromtimestamp(unix_s, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def device_hex(device_id: int | str) -> str:
    if isinstance(device_id, int):
        return f"{device_id:016x}"
    s = device_id.strip().lower().removeprefix("0x")
    try:
        v = int(s, 16)
    except ValueError as e:
        raise UsageError(f"device id {device_id!r} is not hexadecimal (16 hex digits, as "
                         "`imurun sync` and `imurun sensor list` print them)") from e
    if not 0 <= v < 2**64:
        raise UsageError(f"device id {device_id!r} has more than 16 hex digits")
    return f"{v:016x}"


# ---------------------------------------------------------------------------- records
def name_key(name: str) -> str:
    """What two athlete names are compared by: the same name in any case is one name.

    Unicode's caseless matching (case folded, in one normal form): "Chloé", "CHLOÉ" and a
    "Chloé" whose "é" is an "e" plus a combining accent (as some keyboards, macOS file names
    and copied text give it) are one name. SQLite's ``COLLATE NOCASE`` folds ASCII letters
    only, so it took "Chloé" and "CHLOÉ" for two athletes.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name.strip()).casefold())


def name_sort_key(name: str) -> tuple[str, str]:
    """Where a name goes in a list sorted by name: accents aside, so "Émile" comes before "Zoë".

    By code point an accented first letter sorted after "Z". Names that differ only in their
    accents keep an order of their own (the second part).
    """
    key = name_key(name)
    plain = "".join(c for c in unicodedata.normalize("NFD", key) if not unicodedata.combining(c))
    return plain, key


@dataclass(frozen=True)
class Athlete:
    id: str
    name: str
    mass_kg: float | None = None
    leg_length_m: float | None = None
    created_at: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise UsageError("an athlete needs a name")
        # one spelling of each letter ("é", not "e" + a combining accent): see name_key
        object.__setattr__(self, "name", unicodedata.normalize("NFC", self.name))
        for name, what, unit in (("mass_kg", "body mass", "kg"),
                                 ("leg_length_m", "leg length", "m")):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise UsageError(f"{what} must be a number of {unit} ({name}), got {v!r}")
            # a plain float: a NumPy scalar would be stored by SQLite as bytes
            object.__setattr__(self, name, float(v))
        if self.mass_kg is not None and not 20.0 <= self.mass_kg <= 250.0:
            raise UsageError(f"body mass {self.mass_kg:g} kg is outside 20..250 kg")
        if self.leg_length_m is not None and not 0.4 <= self.leg_length_m <= 1.4:
            raise UsageError(f"leg length {self.leg_length_m:g} m is outside 0.4..1.4 m")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "mass_kg": self.mass_kg,
                "leg_length_m": self.leg_length_m, "created_at": self.created_at}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Athlete:
        return cls(str(d["id"]), str(d["name"]), _opt_float(d.get("mass_kg")),
                   _opt_float(d.get("leg_length_m")), str(d.get("created_at") or ""))


@dataclass(frozen=True)
class SensorBinding:
    device_id: str
    athlete_id: str | None
    bound_at: str

    def to_json(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "athlete_id": self.athlete_id, "bound_at": self.bound_at}


@dataclass(frozen=True)
class FileFacts:
    """What a run file says about itself (derived again on every rebuild)."""

    format: str
    size: int
    device_id: str | None = None
    sensor_run_id: int | None = None
    crc32: int | None = None
    start_unix_s: float | None = None
    duration_s: float | None = None
    sensor_start_ms: int | None = None  # start_unix_ms of a stored run's header (its identity)
    damaged_blocks: int = 0  # blocks of a stored run whose CRC failed


#: Two runs of one athlete are at the same time when they share at least this share of the
#: shorter one's time (:meth:`Library.same_time_runs`).
SAME_TIME_SHARE = 0.5


def require_run(run: object, param: str) -> None:
    """Refuse at once what is not a :class:`RunRecord` (:class:`~imurun.errors.UsageError`).

    For the functions that take a run but no library to look an id up in: an untyped caller's
    run id would otherwise fail deep inside as an ``AttributeError``, or be answered wrongly.
    """
    if isinstance(run, RunRecord):
        return
    hint = (f": Library.run({run!r}) gives the RunRecord a run id names" if isinstance(run, str)
            else "")
    raise UsageError(f"{param} takes a RunRecord (a run of the library), not "
                     f"{type(run).__name__}{hint}")


def require_runs(runs: Sequence[RunRecord], param: str) -> None:
    """:func:`require_run` for each of ``runs`` (one text is refused whole, not per letter)."""
    if isinstance(runs, str):
        require_run(runs, param)
    for r in runs:
        require_run(r, f"each of {param}")


@dataclass(frozen=True)
class RunRecord:
    """One run of the library, as the index knows it."""

    id: str  # SHA-256 of the run file
    path: Path  # absolute
    rel_path: str
    format: str
    size: int
    athlete_id: str | None
    athlete_name: str | None
    device_id: str | None
    sensor_run_id: int | None
    sensor_start_ms: int | None
    crc32: int | None
    start_unix_s: float | None
    duration_s: float | None
    source: str
    source_name: str
    added_at: str
    analysis_version: str | None
    analysis_error: str | None = None
    #: The ``summary`` object of its analysis as the index keeps it (JSON text, parsed by
    #: :attr:`summary` on first use: a long run's is tens of kilobytes, and a list of thousands
    #: of runs needs few of them); ``None``: no analysis.
    summary_json: str | None = field(default=None, repr=False)
    start_given: bool = False  # the recording has no date: the start was given by hand
    analysis_mass_known: bool = False  # the kept analysis says which body mass it used...
    analysis_mass_kg: float | None = None  # ...this one (None: none)
    #: The summary values the index keeps as columns (``schema.SUMMARY_COLUMNS``; None: null)
    summary_values: Mapping[str, float | None] = field(default_factory=dict, repr=False,
                                                       compare=False)

    @functools.cached_property
    def summary(self) -> dict[str, Any] | None:
        """The ``summary`` object of the run's analysis; ``None`` without one."""
        return None if self.summary_json is None else json.loads(self.summary_json)

    @property
    def analysed(self) -> bool:
        """Whether the run has an analysis (a summary), without parsing it."""
        return self.summary_json is not None

    @property
    def short_id(self) -> str:
        """The first 10 hex digits of :attr:`id`, as the CLI prints it (a run reference)."""
        return self.id[:10]

    @property
    def directory(self) -> Path:
        """The run's folder in the library (its file, ``meta.json`` and analysis)."""
        return self.path.parent

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "path": str(self.path), "format": self.format, "size": self.size,
                "athlete_id": self.athlete_id, "athlete": self.athlete_name,
                "device_id": self.device_id, "sensor_run_id": self.sensor_run_id,
                "crc32": None if self.crc32 is None else f"{self.crc32:08x}",
                "start_unix_s": self.start_unix_s, "start_utc": iso_utc(self.start_unix_s),
                "start_given": self.start_given, "duration_s": self.duration_s, "source": self.source,
                "source_name": self.source_name, "added_at": self.added_at,
                "analysis_version": self.analysis_version, "analysis_error": self.analysis_error,
                "summary": self.summary}


@dataclass(frozen=True)
class AddResult:
    run: RunRecord
    added: bool  # False: the library already held this run (nothing was written)
    #: The file was a partial copy (a byte prefix) of this held run: nothing was written
    partial_of: RunRecord | None = None
    #: Partial copies of the same sensor run that the new, longer file replaced
    replaced: tuple[RunRecord, ...] = ()
    #: Damaged held copies of the same run that the file replaced: (the run as it was held,
    #: where its damaged bytes are now, under ``HOME/set-aside/``). Their analysis is stale.
    healed: tuple[tuple[RunRecord, Path], ...] = ()


@dataclass
class CheckReport:
    """What :meth:`Library.check` found, and what it repaired."""

    runs_ok: int = 0  # run files on disk (damaged ones included)
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    index_rebuilt: bool = False
    #: Problems a repair cannot fix (each says what the user can do); the runs stay indexed
    unresolved: list[str] = field(default_factory=list)
    #: Ids of the runs whose file no longer matches its ``meta.json`` (kept in the index)
    damaged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


# ---------------------------------------------------------------------------- file facts
def file_facts(path: str | os.PathLike[str]) -> FileFacts:
    """Read a supported recording and describe it; :class:`FileFormatError` if it is not one."""
    from firmware_protocol.runfile import MAGIC, RunHeader
    from imurun.ingest.files import load_recording, sniff
    from imurun.store.rundir import file_crc32

    path = Path(path)
    kind = sniff(path)
    size = path.stat().st_size
    rec = load_recording(path)
    start = rec.meta.start_unix_s
    start = start if start is not None and start > 1e8 else None  # a relative clock is no date
    if kind == "stored-run":
        with open(path, "rb") as fh:
            head = fh.read(256)
        assert head.startswith(MAGIC)
        h = RunHeader.from_bytes(head)
        return FileFacts(kind, size, f"{h.device_id:016x}", h.run_id, file_crc32(path), start,
                         round(rec.duration_s, 3), h.start_unix_ms,
                         damaged_blocks=rec.stats.blocks_damaged)
    return FileFacts(kind, size, rec.meta.device_id, None, None, start, round(rec.duration_s, 3))


def is_prefix_of(short: str | os.PathLike[str], long: str | os.PathLike[str],
                 block: int = 1 << 20) -> bool:
    """True when ``short`` holds fewer bytes than ``long`` and they are its first bytes."""
    short, long = Path(short), Path(long)
    if short.stat().st_size >= long.stat().st_size:
        return False
    with open(short, "rb") as a, open(long, "rb") as b:
        while chunk := a.read(block):
            if b.read(len(chunk)) != chunk:
                return False
    return True


def _sensor_key(meta: Mapping[str, Any]) -> tuple[str, int, int | None] | None:
    """(device, run id, start) of a stored run: what the sensor calls one run."""
    if meta.get("format") != "stored-run" or meta.get("device_id") is None \
            or meta.get("sensor_run_id") is None:
        return None
    start = meta.get("sensor_start_ms")
    return (str(meta["device_id"]), int(meta["sensor_run_id"]), None if start is None else int(start))


def run_location(facts: FileFacts, sha256: str, name: str) -> str:
    """Where a run file lives, relative to the library root (the same in every library).

    A sensor run is named by its device, start time, run id and CRC-32: run ids restart when a
    sensor's flash is reset, and a whole-file CRC-32 of blocks that each end in their own CRC
    depends on the block lengths only, so neither is unique alone.
    """
    if facts.format == "stored-run" and facts.device_id is not None and facts.sensor_run_id is not None:
        stem = f"run-{facts.sensor_run_id:08d}-{facts.crc32 or 0:08x}"
        return f"runs/{facts.device_id}/{_stamp(facts.sensor_start_ms)}-{stem}/{stem}.imrn"
    return f"runs/imported/{sha256[:16]}/{safe_name(name)}"


def _stamp(start_ms: int | None) -> str:
    d = dt.datetime.fromtimestamp((start_ms or 0) / 1000, dt.UTC)
    return d.strftime("%Y%m%dT%H%M%SZ")


def analysis_version(analysis: Mapping[str, Any]) -> str:
    """The version of imurun (and schema) that produced an analysis result."""
    for key in ("imurun_version", "library_version", "version"):
        v = analysis.get(key)
        if isinstance(v, str) and v:
            return v
    return str(analysis.get("schema", "?"))


def check_analysis(analysis: Any, what: str) -> dict[str, Any]:
    if not isinstance(analysis, dict) or analysis.get("schema") != ANALYSIS_SCHEMA:
        raise FileFormatError(what, f"not an {ANALYSIS_SCHEMA} result")
    steps = analysis.get("steps", [])
    if not isinstance(steps, list) or not isinstance(analysis.get("summary", {}), dict):
        raise FileFormatError(what, "analysis result without a steps list and a summary object")
    if not all(isinstance(s, dict) for s in steps):
        raise FileFormatError(what, "analysis result with a step that is not an object")
    return analysis


# ---------------------------------------------------------------------------- managed files
def is_library_root(d: str | os.PathLike[str]) -> bool:
    """Whether ``d`` looks like a library: an index, or athlete profiles beside a runs/ folder."""
    d = Path(d)
    return (d / DB_NAME).is_file() or ((d / PROFILES).is_file() and (d / "runs").is_dir())


def _is_library(d: Path) -> bool:
    """Whether ``d`` holds any of a library's own files (a library to open, not to create)."""
    return (d / DB_NAME).is_file() or (d / PROFILES).is_file() or (d / "runs").is_dir()


def _role(rel: Sequence[str]) -> str | None:
    if not rel:
        return "the directory"
    top = rel[0]
    if top == "runs":
        if len(rel) >= 3 and rel[-1] == RUN_META:
            return "a run's metadata (meta.json)"
        if len(rel) >= 3 and rel[-1] == ANALYSIS:
            return "a run's analysis (analysis.json)"
        if len(rel) >= 3 and rel[-1].startswith("watch-"):
            return "a run's attached watch file"
        if len(rel) >= 3:
            return "a run's own file"
        return "part of the runs/ folder"
    if top == SET_ASIDE:
        return "part of the set-aside runs"
    if len(rel) == 1 and (top.startswith(DB_NAME) or top.startswith(f".{DB_NAME}")):
        return "the index (or a file SQLite keeps beside it)"
    if len(rel) == 1 and (top == PROFILES or top.startswith(f".{PROFILES}.tmp-")):
        return "the athletes and sensor bindings (profiles.json)"
    if len(rel) == 1 and top == LOCK_NAME:
        return "the library's lock (.lock)"
    return None


def managed_file(path: str | os.PathLike[str],
                 home: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """(library root, what it is) when ``path`` names a file a library manages; else ``None``.

    Managed: the run files and everything beside them under ``runs/`` (meta.json,
    analysis.json, watch files, syncs in progress), runs set aside, ``index.sqlite3`` with its
    ``-wal``/``-shm``/``-journal`` and damaged copies, and ``profiles.json``. Reports (under
    ``reports/``) are derived files and are not. The library at ``home`` (``None``: the
    default one) is checked, and any library found in a directory above ``path``; symlinks
    are followed, so another spelling of a managed file is one too.
    """
    p = Path(path).expanduser().absolute()
    try:
        real = p.resolve()
    except (OSError, RuntimeError):
        real = p
    roots: list[Path] = []
    root = Path(home).expanduser() if home is not None else default_home()
    with contextlib.suppress(OSError, RuntimeError):
        roots.append(root.resolve())
    roots.extend(d for d in real.parents if d not in roots and is_library_root(d))
    for r in roots:
        if real == r or r in real.parents:
            role = _role(real.relative_to(r).parts)
            if role is not None:
                return r, role
    return None


# ---------------------------------------------------------------------------- the library
class Library:
    """A library rooted at ``home``; open with :meth:`open` (a context manager)."""

    def __init__(self, root: Path, db: sqlite3.Connection) -> None:
        self.root = root
        self.db = db
        self.notes: list[str] = []  # what opening it repaired (a damaged or deleted index)

    # -------------------------------------------------------------- opening
    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None, *, create: bool = True,
             recover: bool = False,
             progress: Callable[[str], Callable[[int, int], None]] | None = None) -> Library:
        """Open (creating if need be) the library at ``home``.

        ``create=False`` (the commands that only read or change what a library holds) opens only
        a library: a path that does not exist, or a directory holding none of a library's files
        (``index.sqlite3``, ``profiles.json``, ``runs/``), is :class:`NotFoundError`, and nothing
        is written there (a mistyped ``--home`` must not become an empty library).

        A lost index is rebuilt from the files on opening (as ``imurun store check --repair``
        does), reporting its phases to ``progress`` as :meth:`check` does: hours for a coach's
        thousands of long runs. A rebuild interrupted (killed, or Ctrl-C) is begun again by the
        next opening: the new index says it awaits one from its creation.

        ``recover``: a damaged index is renamed ``index.sqlite3.damaged-<time>`` and rebuilt from
        the files (``imurun store check --repair``).
        """
        root = Path(home).expanduser() if home is not None else default_home()
        if not create and (not root.exists() or root.is_dir() and not _is_library(root)):
            make = "`imurun athlete add`, `imurun sync` or `imurun import` creates one"
            if not root.exists():
                raise NotFoundError(f"no library at {root} ({make})")
            raise NotFoundError(f"{root} is not an imurun library: no {DB_NAME}, {PROFILES} or "
                                f"runs/ in it ({make})")
        if not root.exists():
            try:
                root.mkdir(parents=True)
            except OSError as e:
                raise StoreError(f"cannot create library {root}: {e.strerror or e}") from e
        elif not root.is_dir():
            raise StoreError(f"{root} is not a directory")
        aside = cls._set_aside_if_damaged(root / DB_NAME) if recover else None
        db = cls._connect(root / DB_NAME)
        lib = cls(root, db)
        if aside is not None:
            lib.notes.append(f"the damaged index was set aside as {aside.name}")
        try:
            schema.migrate(db, created=_await_rebuild)  # (a new index: lost, or never made)
            lib._load_profiles_if_changed()
            if lib._rebuild_awaited():
                if any(lib._run_files()):  # the index was lost: rebuild it from the files
                    rep = lib.check(repair=True, progress=progress)
                    lib.notes.extend(n for n in rep.repaired if not n.startswith("index rebuilt"))
                    lib.notes.append(f"index rebuilt from {rep.runs_ok} run(s) on disk")
                with lib.transaction() as tx:  # (a rebuild did already)
                    tx.execute(f"DELETE FROM meta WHERE key = '{REBUILD_AWAITED}'")
        except sqlite3.DatabaseError as e:
            db.close()
            if index_busy(e):  # another process is writing it (a long rebuild, a repair)
                raise StoreBusyError(root, "this command", None, "") from e
            raise StoreError(f"the library index {root / DB_NAME} is damaged ({e}); "
                             "run `imurun store check --repair`") from e
        except BaseException:
            db.close()
            raise
        return lib

    def _rebuild_awaited(self) -> bool:
        return self.db.execute(f"SELECT 1 FROM meta WHERE key = '{REBUILD_AWAITED}'"
                               ).fetchone() is not None

    @staticmethod
    def _set_aside_if_damaged(path: Path) -> Path | None:
        if not path.exists():
            return None
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
            try:
                ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            finally:
                db.close()
        except sqlite3.DatabaseError:
            ok = False
        if ok:
            return None
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        for suffix in ("", "-wal", "-shm"):
            p = path.with_name(path.name + suffix)
            if p.exists():
                os.replace(p, path.with_name(f"{path.name}.damaged-{stamp}{suffix}"))
        return path.with_name(f"{path.name}.damaged-{stamp}")

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.row_factory = sqlite3.Row
        except sqlite3.DatabaseError as e:
            if index_busy(e):
                raise StoreBusyError(path.parent, "this command", None, "") from e
            raise StoreError(f"cannot open the library index {path} ({e}); "
                             "run `imurun store check --repair`") from e
        return db

    def close(self) -> None:
        """Close the index (what leaving ``with Library.open(...)`` does)."""
        self.db.close()

    def manages(self, path: str | os.PathLike[str]) -> str | None:
        """What ``path`` is, when it names a file this library (or one above it) manages."""
        hit = managed_file(path, self.root)
        return None if hit is None else hit[1]

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lock(self, what: str, *, shared: bool = False) -> contextlib.AbstractContextManager[None]:
        """Hold the library's lock while the block runs (:mod:`imurun.store.lock`).

        A sync and a repair hold it alone; imports hold it ``shared``. Another process holding
        it refuses the block at once with :class:`~imurun.store.lock.StoreBusyError`.
        """
        return hold(self.root, what, shared=shared)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its start."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -------------------------------------------------------------- athletes and sensors
    def add_athlete(self, name: str, *, mass_kg: float | None = None,
                    leg_length_m: float | None = None) -> Athlete:
        """Add an athlete; ``mass_kg`` (20..250) enables the vertical stiffness.

        :class:`~imurun.errors.UsageError` for a name another athlete has (case ignored) or a
        value out of range; ``leg_length_m`` is 0.4..1.4.
        """
        a = Athlete(uuid.uuid4().hex, name.strip(), mass_kg, leg_length_m, utc_now())
        with self.transaction():
            if any(name_key(x.name) == name_key(a.name) for x in self.athletes()):
                raise UsageError(f"an athlete named {a.name!r} exists already")
            self._put_athlete(a)
            self._save_profiles()
        return a

    def update_athlete(self, ref: Athlete | str, *, mass_kg: float | None = None,
                       leg_length_m: float | None = None) -> Athlete:
        """Set an athlete's (name or id) mass (kg) or leg length (m); ``None`` keeps it."""
        with self.transaction():
            old = self.athlete(ref)
            a = Athlete(old.id, old.name, old.mass_kg if mass_kg is None else mass_kg,
                        old.leg_length_m if leg_length_m is None else leg_length_m, old.created_at)
            self._put_athlete(a)
            self._save_profiles()
        return a

    def rename_athlete(self, ref: Athlete | str, name: str) -> Athlete:
        """Give an athlete (name or id) another name, one no other athlete has."""
        with self.transaction():
            old = self.athlete(ref)
            a = Athlete(old.id, name.strip(), old.mass_kg, old.leg_length_m, old.created_at)
            if any(name_key(x.name) == name_key(a.name) and x.id != a.id
                   for x in self.athletes()):
                raise UsageError(f"an athlete named {a.name!r} exists already (to make them one, "
                                 "`imurun athlete merge`)")
            self._put_athlete(a)
            self._save_profiles()
        return a

    def merge_athletes(self, source_ref: Athlete | str,
                       into_ref: Athlete | str) -> tuple[Athlete, int]:
        """Make the athlete ``source_ref`` one with ``into_ref``: runs and sensors move to it.

        For two profiles of one person (e.g. from an earlier version that imported a bundle's
        athlete beside a local one of the same name). ``into_ref`` keeps its name, body mass
        and leg length (taking the source's where it has none); the source is removed.
        Returns (the athlete kept, the number of runs moved).
        """
        with self.transaction() as db:
            src, dst = self.athlete(source_ref), self.athlete(into_ref)
            if src.id == dst.id:
                said = [r if isinstance(r, str) else r.name for r in (source_ref, into_ref)]
                raise UsageError(f"{said[0]!r} and {said[1]!r} are the same athlete")
            kept = Athlete(dst.id, dst.name, dst.mass_kg if dst.mass_kg is not None else src.mass_kg,
                           dst.leg_length_m if dst.leg_length_m is not None else src.leg_length_m,
                           dst.created_at)
            runs = [self._record(r) for r in db.execute(self._RUNS_SQL + " WHERE r.athlete_id = ?",
                                                        (src.id,)).fetchall()]
            for run in runs:
                self.write_run_meta(run.directory, {**self._meta_of(run), "athlete_id": dst.id})
            db.execute("UPDATE runs SET athlete_id = ? WHERE athlete_id = ?", (dst.id, src.id))
            db.execute("UPDATE sensors SET athlete_id = ? WHERE athlete_id = ?", (dst.id, src.id))
            db.execute("UPDATE athlete_aliases SET athlete_id = ? WHERE athlete_id = ?",
                       (dst.id, src.id))
            db.execute("DELETE FROM athletes WHERE id = ?", (src.id,))
            self._put_athlete(kept)
            # runs set aside, bundles and shared libraries still name the source's id
            self._put_alias(src.id, dst.id)
            self._save_profiles()
        return kept, len(runs)

    def add_alias(self, alias_id: str, athlete_ref: Athlete | str) -> Athlete:
        """Know ``alias_id`` (another library's id of this person) as the athlete ``athlete_ref``."""
        with self.transaction():
            a = self.athlete(athlete_ref)
            if alias_id != a.id:
                self._put_alias(alias_id, a.id)
                self._save_profiles()
        return a

    def _put_alias(self, alias_id: str, athlete_id: str) -> None:
        self.db.execute("INSERT INTO athlete_aliases VALUES (?, ?) ON CONFLICT (id) DO UPDATE "
                        "SET athlete_id = excluded.athlete_id", (alias_id, athlete_id))

    def resolve_athlete_id(self, athlete_id: str | None) -> str | None:
        """The library's own id of the athlete ``athlete_id`` names (an own id or an alias)."""
        if athlete_id is None:
            return None
        if self.db.execute("SELECT 1 FROM athletes WHERE id = ?", (athlete_id,)).fetchone():
            return athlete_id
        r = self.db.execute("SELECT athlete_id FROM athlete_aliases WHERE id = ?",
                            (athlete_id,)).fetchone()
        return None if r is None else str(r["athlete_id"])

    def merge_athlete(self, a: Athlete) -> bool:
        """Add ``a`` (from another library) unless its id is known; True when it was added."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM athletes WHERE id = ?", (a.id,)).fetchone():
                return False
            self._put_athlete(a)
            self._save_profiles()
        return True

    def _put_athlete(self, a: Athlete) -> None:
        # An upsert, not INSERT OR REPLACE: a replace deletes the row first, and the foreign
        # keys' ON DELETE SET NULL would take the athlete's runs and sensors from them.
        self.db.execute("INSERT INTO athletes VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                        "SET name = excluded.name, mass_kg = excluded.mass_kg, "
                        "leg_length_m = excluded.leg_length_m, created_at = excluded.created_at",
                        (a.id, a.name, a.mass_kg, a.leg_length_m, a.created_at))

    def athletes(self) -> list[Athlete]:
        """Every athlete, by name (:func:`name_sort_key`)."""
        rows = self.db.execute("SELECT * FROM athletes ORDER BY id")
        return sorted((Athlete(r["id"], r["name"], r["mass_kg"], r["leg_length_m"],
                               r["created_at"]) for r in rows),
                      key=lambda a: (name_sort_key(a.name), a.id))

    def athlete(self, ref: Athlete | str) -> Athlete:
        """By name (any case) or by id or id prefix (at least 4 hex digits), or an ``Athlete``.

        An :class:`Athlete` is looked up by its id (as the library holds it now). The methods
        that take an athlete (``ref``, ``athlete_ref``, ``athlete=``) take any of these.
        """
        if isinstance(ref, Athlete):
            ref = ref.id
        elif not isinstance(ref, str):
            raise UsageError(f"an athlete is named by their name or id (or an Athlete), not "
                             f"{type(ref).__name__}")
        ref = ref.strip()
        all_ = self.athletes()
        hits = [a for a in all_ if name_key(a.name) == name_key(ref)]
        if not hits and len(ref) >= 4:
            hits = [a for a in all_ if a.id.startswith(ref.lower())]
        if not hits:
            known = ", ".join(a.name for a in all_) or "none yet; add one with `imurun athlete add NAME`"
            raise NotFoundError(f"no athlete {ref!r} (known: {known})")
        if len(hits) > 1:
            raise UsageError(f"{len(hits)} athletes are called {ref!r}; name one by id: "
                             + ", ".join(a.id[:8] for a in hits))
        return hits[0]

    def bind_sensor(self, device_id: int | str, athlete_ref: Athlete | str) -> tuple[Athlete, int]:
        """Bind a sensor to an athlete; its runs without an athlete go to them. Returns (athlete, n)."""
        dev = device_hex(device_id)
        with self.transaction() as db:
            a = self.athlete(athlete_ref)
            db.execute("INSERT OR REPLACE INTO sensors VALUES (?, ?, ?)", (dev, a.id, utc_now()))
            self._save_profiles()
            orphans = [self._record(r) for r in db.execute(
                self._RUNS_SQL + " WHERE r.device_id = ? AND r.athlete_id IS NULL", (dev,))]
            for run in orphans:
                self.write_run_meta(run.path.parent, {**self._meta_of(run), "athlete_id": a.id})
                db.execute("UPDATE runs SET athlete_id = ? WHERE id = ?", (a.id, run.id))
        return a, len(orphans)

    def sensors(self) -> list[SensorBinding]:
        """Every sensor bound to an athlete (:meth:`bind_sensor`), by device id."""
        return [SensorBinding(r["device_id"], r["athlete_id"], r["bound_at"])
                for r in self.db.execute("SELECT * FROM sensors ORDER BY device_id")]

    def athlete_of_sensor(self, device_id: int | str) -> str | None:
        """The id of the athlete the sensor is bound to (``None``: not bound)."""
        r = self.db.execute("SELECT athlete_id FROM sensors WHERE device_id = ?",
                            (device_hex(device_id),)).fetchone()
        return None if r is None else r["athlete_id"]

    def _profiles_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": PROFILES_SCHEMA,
            "athletes": [a.to_json() for a in sorted(self.athletes(), key=lambda a: a.id)],
            "sensors": [s.to_json() for s in self.sensors()]}
        aliases = [{"id": r["id"], "athlete_id": r["athlete_id"]} for r in self.db.execute(
            "SELECT id, athlete_id FROM athlete_aliases ORDER BY id")]
        if aliases:
            d["aliases"] = aliases
        return d

    def _save_profiles(self) -> None:
        """Write profiles.json from the index (inside the caller's transaction)."""
        d = self._profiles_json()
        atomic_write_json(self.root / PROFILES, d)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('profiles_sha256', ?)",
                        (sha256_file(self.root / PROFILES),))

    def _load_profiles_if_changed(self) -> None:
        p = self.root / PROFILES
        row = self.db.execute("SELECT value FROM meta WHERE key = 'profiles_sha256'").fetchone()
        if not p.exists():
            if row is not None or self.db.execute("SELECT 1 FROM athletes").fetchone():
                with self.transaction():
                    self._save_profiles()  # profiles.json was deleted: the index still knows
            return
        if row is not None and row["value"] == sha256_file(p):
            return
        with self.transaction():
            self._load_profiles(p)

    def _load_profiles(self, p: Path) -> None:
        d = read_json(p)
        if not isinstance(d, dict) or d.get("schema") != PROFILES_SCHEMA:
            raise StoreError(f"{p}: not an {PROFILES_SCHEMA} file")
        athletes = [Athlete.from_json(a) for a in d.get("athletes", [])]
        ids = {a.id for a in athletes}
        merged = {str(al["id"]): str(al["athlete_id"]) for al in d.get("aliases", [])
                  if isinstance(al, dict) and al.get("athlete_id") in ids and al.get("id")}
        for a in athletes:
            self._put_athlete(a)
        for (old,) in self.db.execute("SELECT id FROM athletes").fetchall():
            if old not in ids:
                if old in merged:  # merged into another (the index did not commit it): its
                    # runs are that athlete's, as their meta.json say, not nobody's
                    self.db.execute("UPDATE runs SET athlete_id = ? WHERE athlete_id = ?",
                                    (merged[old], old))
                self.db.execute("DELETE FROM athletes WHERE id = ?", (old,))
        self.db.execute("DELETE FROM athlete_aliases")
        for al in d.get("aliases", []):
            if isinstance(al, dict) and al.get("athlete_id") in ids and al.get("id"):
                self._put_alias(str(al["id"]), str(al["athlete_id"]))
        self.db.execute("DELETE FROM sensors")
        for s in d.get("sensors", []):
            aid = s.get("athlete_id")
            self.db.execute("INSERT INTO sensors VALUES (?, ?, ?)",
                            (device_hex(str(s["device_id"])), aid if aid in ids else None,
                             str(s.get("bound_at") or "")))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('profiles_sha256', ?)", (sha256_file(p),))

    # -------------------------------------------------------------- runs
    _RUNS_SQL = ("SELECT r.*, a.name AS athlete_name, s.summary_json, "
                 + ", ".join(f"s.{c}" for c in SUMMARY_COLUMNS) + " FROM runs r "
                 "LEFT JOIN athletes a ON a.id = r.athlete_id "
                 "LEFT JOIN run_summaries s ON s.run_id = r.id")

    def _record(self, r: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=r["id"], path=self.root / r["path"], rel_path=r["path"], format=r["format"],
            size=r["size"], athlete_id=r["athlete_id"], athlete_name=r["athlete_name"],
            device_id=r["device_id"], sensor_run_id=r["sensor_run_id"],
            sensor_start_ms=r["sensor_start_ms"], crc32=r["crc32"],
            start_unix_s=r["start_unix_s"], duration_s=r["duration_s"], source=r["source"],
            source_name=r["source_name"], added_at=r["added_at"],
            analysis_version=r["analysis_version"], analysis_error=r["analysis_error"],
            summary_json=r["summary_json"],
            start_given=bool(r["start_given"]),
            analysis_mass_known=bool(r["analysis_mass_known"]),
            analysis_mass_kg=r["analysis_mass_kg"],
            summary_values={} if r["summary_json"] is None else {c: r[c] for c in SUMMARY_COLUMNS})

    def runs(self, *, athlete: Athlete | str | None = None, since_unix_s: float | None = None,
             until_unix_s: float | None = None) -> list[RunRecord]:
        """Runs in start order; ``until_unix_s`` is exclusive. Runs without a date sort last."""
        where: list[str] = []
        args: list[object] = []
        if athlete is not None:
            where.append("r.athlete_id = ?")
            args.append(self.athlete(athlete).id)
        if since_unix_s is not None:
            where.append("r.start_unix_s >= ?")
            args.append(since_unix_s)
        if until_unix_s is not None:
            where.append("r.start_unix_s < ?")
            args.append(until_unix_s)
        sql = self._RUNS_SQL + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY r.start_unix_s IS NULL, r.start_unix_s, r.added_at, r.id"
        return [self._record(r) for r in self.db.execute(sql, args)]

    def run(self, ref: str) -> RunRecord:
        """By id prefix (at least 4 hex digits), or ``latest``."""
        ref = ref.strip().lower()
        if ref == "latest":
            r = self.db.execute(self._RUNS_SQL + " ORDER BY r.start_unix_s IS NULL, "
                                "r.start_unix_s DESC, r.added_at DESC LIMIT 1").fetchone()
            if r is None:
                raise NotFoundError("the library holds no runs yet")
            return self._record(r)
        if len(ref) < 4 or any(c not in "0123456789abcdef" for c in ref):
            raise UsageError(f"a run is named by at least 4 hex digits of its id (see `imurun runs`), "
                             f"not {ref!r}")
        rows = self.db.execute(self._RUNS_SQL + " WHERE r.id >= ? AND r.id < ? ORDER BY r.id LIMIT 3",
                               (ref, ref + "g")).fetchall()
        if not rows:
            raise NotFoundError(f"no run {ref!r} in {self.root} (see `imurun runs`)")
        if len(rows) > 1:
            raise UsageError(f"run {ref!r} is ambiguous: " + ", ".join(r["id"][:12] for r in rows))
        return self._record(rows[0])

    def resolve_run(self, run: RunRecord | str, *, param: str = "run") -> RunRecord:
        """``run`` itself, or the run a reference names as :meth:`run` (and the CLI) reads it.

        The library's methods that take a run take either: a :class:`RunRecord` or its id as
        text (at least 4 leading hex digits, or ``latest``). An unknown id is a
        :class:`~imurun.errors.NotFoundError`, an ambiguous one a
        :class:`~imurun.errors.UsageError`, as for ``imurun show``; anything else is a
        :class:`~imurun.errors.UsageError` naming ``param``.
        """
        if isinstance(run, RunRecord):
            return run
        if isinstance(run, str):
            return self.run(run)
        raise UsageError(f"{param} takes a RunRecord or a run id (at least 4 hex digits, or "
                         f"'latest'), not {type(run).__name__}")

    def _run_id_of(self, run_id: RunRecord | str) -> str:
        """The full id of ``run_id``.

        A full id as it is (an unknown one is for the caller to say), anything else through
        :meth:`resolve_run`.
        """
        if isinstance(run_id, str) and len(run_id) == 64:
            return run_id
        return self.resolve_run(run_id, param="run_id").id

    def same_time_runs(self, run: RunRecord | str) -> list[RunRecord]:
        """The other runs of ``run``'s athlete recorded at the same time as it.

        One person runs one run at a time, so two runs of one athlete that share at least
        :data:`SAME_TIME_SHARE` of the shorter one's time are most likely one run held twice
        (the sensor's run and a phone's export of it, or a run and a CSV exported from it): both
        count in the history and in weekly summaries until one is set aside. Runs without an
        athlete, a start or a duration have no time to share. ``run``: a :class:`RunRecord` or
        its id (:meth:`resolve_run`).
        """
        run = self.resolve_run(run)
        if run.athlete_id is None or run.start_unix_s is None or not run.duration_s:
            return []
        a0 = run.start_unix_s
        a1 = a0 + run.duration_s
        rows = self.db.execute(
            self._RUNS_SQL + " WHERE r.athlete_id = ? AND r.id != ? AND r.start_unix_s < ? "
            "AND r.start_unix_s + r.duration_s > ? ORDER BY r.start_unix_s, r.id",
            (run.athlete_id, run.id, a1, a0)).fetchall()
        out = []
        for row in rows:
            other = self._record(row)
            b0 = other.start_unix_s or 0.0
            b1 = b0 + (other.duration_s or 0.0)
            shared = min(a1, b1) - max(a0, b0)
            if shared >= SAME_TIME_SHARE * min(a1 - a0, b1 - b0):
                out.append(other)
        return out

    def find_sensor_run(self, device_id: int | str, sensor_run_id: int, start_ms: int,
                        crc32: int) -> RunRecord | None:
        r = self.db.execute(self._RUNS_SQL + " WHERE r.device_id = ? AND r.sensor_run_id = ? "
                            "AND r.sensor_start_ms = ? AND r.crc32 = ?",
                            (device_hex(device_id), sensor_run_id, start_ms, crc32)).fetchone()
        return None if r is None else self._record(r)

    def get(self, run_id: str) -> RunRecord | None:
        """The run of full id ``run_id`` (SHA-256 hex), ``None`` when not held.

        :meth:`run` takes any reference (short id, ``latest``...) and raises when not found.
        """
        r = self.db.execute(self._RUNS_SQL + " WHERE r.id = ?", (run_id,)).fetchone()
        return None if r is None else self._record(r)

    def add_file(self, path: str | os.PathLike[str], *, source: str = "import",
                 athlete_id: str | None = None, source_name: str | None = None,
                 added_at: str | None = None) -> AddResult:
        """Copy a supported recording into the library (idempotent: keyed by its SHA-256)."""
        from imurun.store._files import atomic_copy

        src = Path(path)
        sha = sha256_file(src)
        known = self.get(sha)
        if known is not None and known.path.exists():
            if sha256_file(known.path) == sha:  # (completes a replacement that was cut short)
                self.remove_replaced_copies(known)
                return AddResult(known, False, healed=tuple(self.replace_damaged_copies(known)))
            # The library's copy was damaged on disk (`store check` names it): this file is the
            # run's own bytes (its id is their SHA-256), so it takes the damaged file's place.
            with open(src, "rb") as fh:
                aside = self.heal_in_place(known, fh)
            return AddResult(known, False, healed=((known, aside),))
        facts = file_facts(src)
        identity = {"format": facts.format, "device_id": facts.device_id,
                    "sensor_run_id": facts.sensor_run_id, "sensor_start_ms": facts.sensor_start_ms}
        longer, shorter = self.sensor_run_copies(src, identity)
        if longer is not None:  # a partial copy of a run held complete: it would count twice
            return AddResult(longer, False, partial_of=longer)
        held = self._held_copies(identity) if facts.damaged_blocks and not shorter else []
        if held:  # a damaged copy of a held run: a second run that is not one
            raise FileFormatError(
                str(src), f"a damaged copy ({facts.damaged_blocks} damaged block(s)) of run "
                          f"{held[0].short_id}, which the library holds intact: not imported")
        # An intact file of a sensor run the library holds only damaged (a copy that came in
        # damaged, so its id and name are those of the damaged bytes): this copy becomes the
        # run, in the place its own bytes name; the damaged one is set aside, not counted twice.
        damaged = [] if facts.damaged_blocks else self._damaged_copies(src, identity, shorter)
        rel = run_location(facts, sha, source_name or src.name)
        target = self.root / rel
        if athlete_id is None and facts.device_id is not None:
            athlete_id = self.athlete_of_sensor(facts.device_id)
        meta = self.new_run_meta(sha, rel, facts, athlete_id, source, source_name or src.name,
                              added_at or utc_now())
        healed: list[tuple[RunRecord, Path]] = []
        for old in damaged:
            if old.path == target:  # held where this copy goes: its bytes are kept first
                _inherit(meta, self._meta_of(old))
                healed.append((old, self._keep_damaged_file(old, replaced_by=sha)))
        self.write_run_meta(target.parent, meta)
        if not (target.exists() and sha256_file(target) == sha):
            with open(src, "rb") as fh:
                _, got = atomic_copy(fh, target)
            if got != sha:
                raise StoreError(f"{src} changed while it was being copied")
        rec = self.index_run(target.parent, meta, replaces=shorter)
        healed += self._take_over_damaged(rec, [old for old in damaged if old.path != target])
        if not healed:
            return AddResult(rec, True, replaced=tuple(shorter))
        return AddResult(self.get(rec.id) or rec, False, replaced=tuple(shorter),
                         healed=tuple(healed))

    def heal_in_place(self, run: RunRecord, intact: IO[bytes]) -> Path:
        """Replace ``run``'s file, damaged on disk, by ``intact`` (the run's own bytes).

        The damaged bytes are kept under ``HOME/set-aside/`` first, listed by ``store restore``
        as a damaged copy the run replaced; returns their file. ``intact`` must hash to the
        run's id (else :class:`StoreError` and nothing is replaced).
        """
        from imurun.store._files import atomic_copy

        kept = self._keep_damaged_file(run, replaced_by=run.id)
        atomic_copy(intact, run.path, expect_sha256=run.id)
        return kept

    def replace_damaged_copies(self, run: RunRecord) -> list[tuple[RunRecord, Path]]:
        """Set aside the held copies of ``run``'s sensor run that are damaged, ``run`` being intact.

        ``run`` takes their athlete, start given by hand and watch file; their directories move
        to ``HOME/set-aside/``. Returns (each damaged run as it was held, where it is now). For
        a run just synced or imported: the damaged copy had come in first, so its id and name
        are those of its damaged bytes, and the two would count as two runs.
        """
        damaged = self._damaged_copies(run.path, self._meta_of(run), ())
        if not damaged:
            return []
        try:
            if file_facts(run.path).damaged_blocks:
                return []
        except FileFormatError:
            return []
        return self._take_over_damaged(run, damaged)

    def _take_over_damaged(self, run: RunRecord,
                           damaged: Sequence[RunRecord]) -> list[tuple[RunRecord, Path]]:
        if not damaged:
            return []
        meta = self._meta_of(run)
        for old in damaged:  # what the library knew about the run (files first, then meta)
            _inherit(meta, self._meta_of(old))
            _move_watch_files(old.directory, run.directory)
        self.write_run_meta(run.directory, meta)
        self.index_run(run.directory, meta, replaces=())
        return [(old, self.set_aside(old.id, reason=aside.REPLACED, replaced_by=run.id))
                for old in damaged]

    def _damaged_copies(self, path: Path, identity: Mapping[str, Any],
                        partial: Sequence[RunRecord]) -> list[RunRecord]:
        """Held copies of the sensor run ``identity`` names whose file is damaged.

        Damaged: blocks whose CRC fails, or bytes that no longer match the run's id. Copies in
        ``partial`` (byte prefixes of ``path``) are not: they give way as partial copies.
        """
        out = []
        skip = {r.id for r in partial}
        for run in self._held_copies(identity):
            if run.id in skip or not run.path.exists() or run.path.resolve() == path.resolve():
                continue
            if sha256_file(run.path) != run.id:
                out.append(run)
                continue
            try:
                if file_facts(run.path).damaged_blocks:
                    out.append(run)
            except FileFormatError:
                out.append(run)
        return out

    def _keep_damaged_file(self, run: RunRecord, *, replaced_by: str) -> Path:
        """Keep the damaged bytes of ``run``'s file under ``HOME/set-aside/`` (never deleted).

        In a directory of their own, ``<run dir>.damaged-<time>``, with the run as the library
        held it (``meta.json``) and a note naming the intact run ``replaced_by``, so ``store
        restore`` lists them. The file is a hard link when the file system allows (nothing
        copied; the run's own name is then replaced atomically), else a durable copy; the
        ``meta.json`` is written last. Returns the file.
        """
        from imurun.store._files import atomic_copy

        rel = run.directory.relative_to(self.root / "runs")
        at = utc_now()
        name = f"{rel.name or run.id[:16]}.damaged-{aside.iso_stamp(at)}"
        first = self.root / SET_ASIDE / rel.parent / name
        unfinished = self._unfinished_keep(first.parent, rel.name or run.id[:16], run.path)
        d, n = unfinished or first, 1
        while unfinished is None and d.exists():
            n += 1
            d = first.with_name(f"{first.name}-{n}")
        dst = d / run.path.name
        if unfinished is not None:  # a heal killed half-way: finished, the bytes kept once
            alone = aside.kept_alone(d)
            at = at if alone is None else alone[1]
        try:
            make_dirs(d.parent)
            d.mkdir(exist_ok=unfinished is not None)
            if not dst.exists():
                try:
                    os.link(run.path, dst)
                except OSError:
                    with open(run.path, "rb") as fh:
                        atomic_copy(fh, dst)
            fsync_dir(d)
            fsync_dir(d.parent)
        except OSError as e:
            raise StoreError(f"cannot keep the damaged {run.path} in {d}: "
                             f"{e.strerror or e}") from e
        atomic_write_json(d / SET_ASIDE_NOTE, aside.note(
            (Path("runs") / rel).as_posix(), run.id, aside.REPLACED, replaced_by=replaced_by, at=at))
        atomic_write_json(d / RUN_META, self._meta_of(run))
        return dst

    @staticmethod
    def _unfinished_keep(parent: Path, stem: str, damaged: Path) -> Path | None:
        """A ``<stem>.damaged-<time>`` directory a killed heal of ``damaged`` left.

        Holding nothing yet, or these very bytes: unlisted (killed before its ``meta.json``), or
        listed (killed before the intact file took the damaged one's place).
        """
        if not parent.is_dir():
            return None
        for d in sorted(parent.glob(f"{glob.escape(stem)}.damaged-*")):
            if not d.is_dir():
                continue
            kept = [p for p in d.iterdir() if not p.name.startswith(".")
                    and p.name not in (SET_ASIDE_NOTE, RUN_META)]
            if not kept:
                return d
            f = d / damaged.name
            if kept == [f] and f.is_file() and (os.path.samefile(f, damaged)
                                                 or sha256_file(f) == sha256_file(damaged)):
                return d
        return None

    def assign_run(self, run_id: RunRecord | str, *, athlete: Athlete | str | None = None,
                   start_unix_s: float | None = None) -> RunRecord:
        """Give a run its athlete (name or id) and, for a recording without a date, its start.

        For recordings from other loggers, which name no sensor bound to an athlete and often
        carry no date: with both, the run counts in the athlete's history and weekly summary.
        A run whose recording has its own start time keeps it (:class:`UsageError`).
        ``run_id``: a :class:`RunRecord` or its id (:meth:`resolve_run`).
        """
        run_id = self._run_id_of(run_id)
        with self.transaction() as db:
            run = self.get(run_id)
            if run is None:
                raise NotFoundError(f"no run {run_id[:12]}")
            meta = self._meta_of(run)
            if athlete is not None:
                meta["athlete_id"] = self.athlete(athlete).id
            if start_unix_s is not None:
                if run.start_unix_s is not None and not run.start_given:
                    raise UsageError(
                        f"run {run.short_id} has its own start time from the recording "
                        f"({_local_text(run.start_unix_s)}); --start is for recordings without a date")
                if not 1e8 < start_unix_s < 4e9:
                    raise UsageError("the start time given is not a plausible date (1973-2096)")
                meta["start_unix_s"] = float(start_unix_s)
                meta["start_given"] = True
            self.write_run_meta(run.directory, meta)
            db.execute("UPDATE runs SET athlete_id = ?, start_unix_s = ?, start_given = ? "
                       "WHERE id = ?", (meta.get("athlete_id"), meta.get("start_unix_s"),
                                        int(bool(meta.get("start_given"))), run.id))
        rec = self.get(run.id)
        assert rec is not None
        return rec

    def set_aside(self, run_id: RunRecord | str, *, reason: str = aside.BY_HAND,
                  replaced_by: str | None = None) -> Path:
        """Move a run's directory to ``HOME/set-aside/`` and take it out of the index.

        For a run whose file is damaged and cannot be restored: nothing is deleted (the
        directory keeps its files, to be examined or restored by hand), but the run no longer
        counts anywhere and ``store check`` no longer reports it. Its note says where it was,
        when and ``reason`` (and, for a damaged copy an intact one replaced, ``replaced_by``);
        ``store restore`` lists it. Returns the new directory. ``run_id``: a
        :class:`RunRecord` or its id (:meth:`resolve_run`).
        """
        run_id = self._run_id_of(run_id)
        run = self.get(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id[:12]}")
        src = run.directory
        rel = src.relative_to(self.root / "runs")
        if not src.is_dir():
            # moved already by a set-aside killed before its index commit: finish it
            for e in self.set_aside_entries():
                if e.id == run.id and e.origin == f"runs/{rel.as_posix()}":
                    with self.transaction() as db:
                        db.execute("DELETE FROM runs WHERE id = ?", (run.id,))
                    return e.directory
        if src.resolve() == (self.root / "runs").resolve() or not src.is_dir():
            raise StoreError(f"run {run.short_id} has no directory of its own to set aside")
        dst = self.root / SET_ASIDE / rel
        n = 1
        while dst.exists():
            n += 1
            dst = self.root / SET_ASIDE / f"{rel}-{n}"
        # where it came from, when and why, for `restore`: written first, it moves with the run
        note = src / SET_ASIDE_NOTE
        with contextlib.suppress(StoreError):
            atomic_write_json(note, aside.note(f"runs/{rel.as_posix()}", run.id, reason,
                                               replaced_by=replaced_by, at=utc_now()))
        with self.transaction() as db:
            try:
                make_dirs(dst.parent)
                os.replace(src, dst)
                fsync_dir(dst.parent)
                fsync_dir(src.parent)
            except OSError as e:
                with contextlib.suppress(OSError):
                    note.unlink()
                raise StoreError(f"cannot move {src} to {dst}: {e.strerror or e}") from e
            db.execute("DELETE FROM runs WHERE id = ?", (run.id,))
        return dst

    def set_aside_runs(self) -> list[tuple[Path, dict[str, Any]]]:
        """(directory, its ``meta.json``) of every run set aside, in path order."""
        base = self.root / SET_ASIDE
        out = []
        for mp in sorted(base.glob(f"**/{RUN_META}")) if base.is_dir() else ():
            try:
                meta = read_json(mp)
            except StoreError:
                continue
            if isinstance(meta, dict) and isinstance(meta.get("id"), str):
                out.append((mp.parent, meta))
        return out

    def set_aside_entries(self) -> list[SetAsideRun]:
        """Every run set aside with where it came from, when and why (``store restore``)."""
        base = self.root / SET_ASIDE
        return [aside.entry(base, d, m) for d, m in self.set_aside_runs()]

    def restore(self, ref: str) -> AddResult:
        """Bring a run set aside (named by 4+ leading hex digits of its id) back into the library.

        Its directory moves back to where it was under ``runs/`` and the run is indexed again,
        with its analysis and watch file; an athlete merged into another meanwhile is found as
        that one. A file still damaged is named so by ``store check``, as before.

        The run counts once, as with an import: a damaged copy does not come back while the
        library holds the run (its id, or another copy of its sensor run), nor a partial copy
        of a run held complete (:class:`UsageError` naming the run held; the copy stays set
        aside, listed). An intact copy takes the place of held partial or damaged copies of its
        sensor run (``replaced``, ``healed``). When copies set aside share the id (a run and
        the damaged copy it replaced), the intact one comes back. Like an import, it holds the
        library's lock shared: not beside a sync or a repair.
        """
        with self.lock("store restore", shared=True):
            return self._restore(ref)

    def _restore(self, ref: str) -> AddResult:
        ref = ref.strip().lower()
        if len(ref) < 4 or any(c not in "0123456789abcdef" for c in ref):
            raise UsageError(f"a run is named by at least 4 hex digits of its id, not {ref!r}")
        entries = self.set_aside_entries()
        hits = [e for e in entries if e.id.startswith(ref)]
        if not hits:
            back = self._moved_back(ref)
            if back is not None:  # a restore killed before its index commit: finished now
                (back[0] / SET_ASIDE_NOTE).unlink(missing_ok=True)
                rec = self.index_run(*back)
                healed = tuple(self.replace_damaged_copies(rec))
                return AddResult(self.get(rec.id) or rec, True, healed=healed)
            again = self._restored_unfinished(ref)
            if again is not None:  # killed after its index commit, before its copies went
                return again
            held = ", ".join(e.short_id for e in entries) or "none"
            raise NotFoundError(f"no run {ref!r} is set aside in {self.root / SET_ASIDE} "
                                f"(set aside: {held})")
        if len({e.id for e in hits}) > 1:
            raise UsageError(f"run {ref!r} is ambiguous: "
                             + ", ".join(sorted({e.id[:12] for e in hits})))
        whole = [e for e in hits if not _damaged_file(e.path, e.id, e.meta.get("format"))]
        if len(hits) > 1 and not whole:
            raise UsageError(f"run {hits[0].short_id} is set aside {len(hits)} times, each copy "
                             "damaged: " + ", ".join(str(e.directory) for e in hits)
                             + "; none is restored (the one you want can be moved back by hand)")
        e = whole[0] if whole else hits[0]
        damaged = not whole
        same = self.get(e.id)
        if same is not None:
            same_damaged = _damaged_file(same.path, same.id, same.format)
            if damaged and not same_damaged:
                raise UsageError(_counts_twice(e, same))
            raise UsageError(
                f"run {same.short_id} is in the library again (fetched or imported since); the "
                f"copy set aside stays in {e.directory}"
                + (f" (the library's file is damaged: `imurun import {e.path}` heals it with "
                   "these bytes)" if same_damaged and not damaged else ""))
        others = [r for r in self._held_copies(e.meta) if r.path.exists()]
        if others and damaged:
            intact = [r for r in others if not _damaged_file(r.path, r.id, r.format)]
            raise UsageError(_counts_twice(e, (intact or others)[0], intact=bool(intact)))
        longer, shorter = self.sensor_run_copies(e.path, e.meta) if others else (None, [])
        if longer is not None:
            raise UsageError(
                f"run {e.short_id} set aside in {e.directory} is a partial copy of run "
                f"{longer.short_id}, which the library holds complete: restoring it would count "
                "the run twice, so it stays set aside")
        rel = Path(e.origin)
        dst = self.root / rel
        if rel.parts[:1] != ("runs",) or ".." in rel.parts or dst.exists():
            raise StoreError(f"cannot restore {e.directory} to {dst}: "
                             + ("something is there already" if dst.exists() else "not a run place"))
        try:
            make_dirs(dst.parent)
            os.replace(e.directory, dst)
            fsync_dir(dst.parent)
            fsync_dir(e.directory.parent)
        except OSError as err:
            raise StoreError(f"cannot move {e.directory} to {dst}: {err.strerror or err}") from err
        with contextlib.suppress(OSError):
            (dst / SET_ASIDE_NOTE).unlink()
        rec = self.index_run(dst, e.meta, replaces=shorter)
        healed = tuple(self.replace_damaged_copies(rec)) if others else ()
        return AddResult(self.get(rec.id) or rec, True, replaced=tuple(shorter), healed=healed)

    def _restored_unfinished(self, ref: str) -> AddResult | None:
        """Finish a restore of the held run ``ref`` killed after its index commit.

        Its damaged copies still held are set aside, and what is left of the partial copies
        it replaced is removed, as an import of the run would; ``None`` when there was nothing
        to finish (``ref`` names no held run, or one whose copies are gone already).
        """
        rows = self.db.execute(self._RUNS_SQL + " WHERE r.id LIKE ? || '%'", (ref,)).fetchall()
        if len(rows) != 1:
            return None
        run = self._record(rows[0])
        if not run.path.is_file() or _damaged_file(run.path, run.id, run.format):
            return None
        removed = self.remove_replaced_copies(run)
        healed = tuple(self.replace_damaged_copies(run))
        if not removed and not healed:
            return None
        return AddResult(self.get(run.id) or run, True, healed=healed)

    def _moved_back(self, ref: str) -> tuple[Path, dict[str, Any]] | None:
        """(directory, meta) of the one run under ``runs/`` named by ``ref`` and not indexed.

        What a restore killed after it moved the run back, before the index commit, leaves.
        """
        found = []
        for d, mp in self._run_files():
            if mp is None:
                continue
            try:
                meta = read_json(mp)
            except StoreError:
                continue
            if isinstance(meta, dict) and isinstance(meta.get("id"), str) \
                    and meta["id"].startswith(ref) and self.get(meta["id"]) is None \
                    and (d / str(meta.get("file"))).is_file():
                found.append((d, meta))
        return found[0] if len(found) == 1 else None

    def sensor_run_copies(self, path: Path, meta: Mapping[str, Any],
                          ) -> tuple[RunRecord | None, list[RunRecord]]:
        """Held copies of the same sensor run as the stored-run file ``path`` (described by ``meta``).

        Returns (the held run ``path`` is a partial copy of, the held runs that are partial
        copies of ``path``). A partial copy is a byte prefix: a sync or a copy that stopped
        early. Copies that are not prefixes of one another are different runs (a sensor whose
        clock and run ids were reset).
        """
        longer: RunRecord | None = None
        shorter: list[RunRecord] = []
        for run in self._held_copies(meta):
            if not run.path.exists() or run.path.resolve() == path.resolve():
                continue
            if is_prefix_of(path, run.path):
                longer = run
            elif is_prefix_of(run.path, path):
                shorter.append(run)
        return longer, shorter

    def _held_copies(self, meta: Mapping[str, Any]) -> list[RunRecord]:
        """Held stored runs with the identity (device, run id, start) of the run ``meta`` describes."""
        key = _sensor_key(meta)
        if key is None:
            return []
        rows = self.db.execute(self._RUNS_SQL + " WHERE r.device_id = ? AND r.sensor_run_id = ? "
                               "AND r.sensor_start_ms IS ? AND r.format = 'stored-run'", key)
        return [self._record(r) for r in rows.fetchall()]

    def new_run_meta(self, sha: str, rel: str, facts: FileFacts, athlete_id: str | None,
                  source: str, source_name: str, added_at: str) -> dict[str, Any]:
        return {"schema": RUN_SCHEMA, "id": sha, "file": Path(rel).name, "format": facts.format,
                "size": facts.size, "device_id": facts.device_id,
                "sensor_run_id": facts.sensor_run_id, "sensor_start_ms": facts.sensor_start_ms,
                "crc32": None if facts.crc32 is None else f"{facts.crc32:08x}",
                "start_unix_s": facts.start_unix_s, "duration_s": facts.duration_s,
                "athlete_id": athlete_id, "source": source, "source_name": source_name,
                "added_at": added_at}

    def _meta_of(self, run: RunRecord) -> dict[str, Any]:
        p = run.directory / RUN_META
        if p.exists():
            d = read_json(p)
            if isinstance(d, dict):
                return d
        facts = FileFacts(run.format, run.size, run.device_id, run.sensor_run_id, run.crc32,
                          run.start_unix_s, run.duration_s, run.sensor_start_ms)
        meta = self.new_run_meta(run.id, run.rel_path, facts, run.athlete_id, run.source,
                                 run.source_name, run.added_at)
        if run.start_given:
            meta["start_given"] = True
        return meta

    def write_run_meta(self, directory: Path, meta: Mapping[str, Any]) -> None:
        """Write a run's ``meta.json`` (first of its files; clears what a killed writer left)."""
        remove_stale_temp_files(directory)
        atomic_write_json(directory / RUN_META, dict(meta))

    def index_run(self, directory: Path, meta: Mapping[str, Any], *,
                  replaces: Sequence[RunRecord] | None = None) -> RunRecord:
        """Index the run held in ``directory`` (described by its ``meta.json``), and its analysis.

        Held partial copies of the same sensor run (``replaces``; found here when ``None``) give
        way to it: their athlete (when this run has none) and watch files move to it, then they
        leave the index and the disk, so the run is counted once. Watch files in ``directory``
        (its own, or taken over) are indexed with it.
        """
        if replaces is None:
            _, replaces = self.sensor_run_copies(directory / str(meta["file"]), meta)
        if replaces:
            meta = self._take_over(directory, meta, replaces)
        with self.transaction() as db:
            self._index_run(directory, meta)
            for old in replaces:
                db.execute("DELETE FROM runs WHERE id = ?", (old.id,))
            if any(directory.glob("watch-*.json")):
                self._index_attachments(directory, str(meta["id"]))
        for old in replaces:
            shutil.rmtree(old.directory, ignore_errors=True)
        rec = self.get(str(meta["id"]))
        assert rec is not None
        return rec

    def remove_replaced_copies(self, run: RunRecord) -> list[Path]:
        """Remove what a replacement of partial copies by ``run`` killed half-way left on disk.

        :meth:`index_run` takes the index rows of the partial copies out in the transaction that
        indexes ``run`` (after ``run`` took their athlete and watch files), then removes their
        directories: killed between the two, a partial copy's directory (or what is left of it)
        stays beside ``run``, indexed no more. Running the import or sync again ends here.
        Returns the directories removed.
        """
        key = _sensor_key(self._meta_of(run))
        parent = run.directory.parent
        if key is None or not run.path.is_file() or not parent.is_dir():
            return []
        stem = run.directory.name.rsplit("-", 1)[0]  # <start>-run-<run id>: this sensor run's
        gone = []
        for d in sorted(parent.glob(f"{glob.escape(stem)}-*")):
            if d == run.directory or not d.is_dir() or stale_temp_files(d) != sorted(
                    d.glob(".*.tmp-*")):  # (a live writer is at work in it)
                continue
            meta: Any = None
            if (d / RUN_META).is_file():
                try:
                    meta = read_json(d / RUN_META)
                except StoreError:
                    continue
                if not isinstance(meta, dict) or _sensor_key(meta) != key \
                        or not isinstance(meta.get("id"), str) or self.get(meta["id"]) is not None \
                        or int(meta.get("size") or 0) >= run.size:
                    continue
            files = aside.run_files_in(d)
            if any(not is_prefix_of(f, run.path) or self.db.execute(
                    "SELECT 1 FROM runs WHERE path = ?",
                    (f.relative_to(self.root).as_posix(),)).fetchone() for f in files):
                continue  # another run of the sensor, or one still indexed
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
        if gone:
            fsync_dir(parent)
        return gone

    def _take_over(self, directory: Path, meta: Mapping[str, Any],
                   partials: Sequence[RunRecord]) -> dict[str, Any]:
        """Give the run in ``directory`` what its partial copies held (files first, then meta)."""
        meta = dict(meta)
        for old in partials:
            _inherit(meta, self._meta_of(old))
            _move_watch_files(old.directory, directory)
        self.write_run_meta(directory, meta)
        return meta

    def _index_attachments(self, directory: Path, run_id: str) -> None:
        from imurun.store.attach import index_attachment

        run = self.get(run_id)
        assert run is not None
        for p in sorted(directory.glob("watch-*.json")):
            with contextlib.suppress(FileFormatError, UsageError, StoreError):
                index_attachment(self, run, directory, read_json(p))

    def _index_run(self, directory: Path, meta: Mapping[str, Any]) -> None:
        self._index_run_row(directory, meta)
        ap = directory / ANALYSIS
        if ap.exists():
            self._index_analysis(str(meta["id"]), check_analysis(read_json(ap), str(ap)))

    def _index_run_row(self, directory: Path, meta: Mapping[str, Any]) -> None:
        rel = (directory / str(meta["file"])).relative_to(self.root).as_posix()
        crc = meta.get("crc32")
        db = self.db
        aid = self.resolve_athlete_id(meta.get("athlete_id"))
        db.execute("DELETE FROM runs WHERE path = ? AND id != ?", (rel, meta["id"]))
        db.execute(
            "INSERT OR REPLACE INTO runs (id, path, format, size, athlete_id, device_id, "
            "sensor_run_id, sensor_start_ms, crc32, start_unix_s, duration_s, source, "
            "source_name, added_at, start_given) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (meta["id"], rel, meta["format"], meta["size"], aid, meta.get("device_id"),
             meta.get("sensor_run_id"), meta.get("sensor_start_ms"),
             None if crc is None else int(str(crc), 16),
             meta.get("start_unix_s"), meta.get("duration_s"), meta["source"],
             meta["source_name"], meta["added_at"], int(bool(meta.get("start_given")))))

    # -------------------------------------------------------------- analysis
    def set_analysis(self, run_id: RunRecord | str, analysis: Mapping[str, Any]) -> RunRecord:
        """Keep an ``imurun.analysis/1`` result of a run: its file, its summary and its steps.

        ``run_id``: a :class:`RunRecord` or its id (:meth:`resolve_run`). Returns the run as
        the index now holds it.
        """
        run_id = self._run_id_of(run_id)
        run = self.get(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id[:12]}")
        d = check_analysis(dict(analysis), f"analysis of run {run.short_id}")
        with self.transaction():
            atomic_write_json(run.directory / ANALYSIS, d)
            self._index_analysis(run.id, d)
        rec = self.get(run.id)
        assert rec is not None
        return rec

    def set_analysis_error(self, run_id: RunRecord | str, error: str) -> None:
        """Record why a run's analysis failed (``imurun runs`` and its report say it).

        ``run_id``: a :class:`RunRecord` or its id (:meth:`resolve_run`); a run the library
        does not hold is a :class:`~imurun.errors.NotFoundError` (it was silently nothing).
        """
        run_id = self._run_id_of(run_id)
        with self.transaction() as db:
            cur = db.execute("UPDATE runs SET analysis_error = ? WHERE id = ?", (error, run_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"no run {run_id[:12]}")

    def _index_analysis(self, run_id: str, d: Mapping[str, Any]) -> None:
        db = self.db
        db.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))
        db.execute("DELETE FROM run_summaries WHERE run_id = ?", (run_id,))
        summary = d.get("summary") or {}
        indicators = d.get("indicators")
        db.execute(f"INSERT INTO run_summaries (run_id, {', '.join(SUMMARY_COLUMNS)}, summary_json, "
                   f"indicators_json) VALUES ({', '.join('?' * (len(SUMMARY_COLUMNS) + 3))})",
                   (run_id, *(_num(summary.get(c)) for c in SUMMARY_COLUMNS),
                    json.dumps(summary, sort_keys=True),
                    json.dumps(indicators if isinstance(indicators, list) else [])))
        db.executemany(f"INSERT INTO steps (run_id, i, {', '.join(STEP_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * (len(STEP_COLUMNS) + 2))})",
                       _step_rows(run_id, d.get("steps") or ()))
        params = d.get("parameters")
        params = params if isinstance(params, dict) else {}
        known = "mass_kg" in params
        mass = _num(params.get("mass_kg"))
        db.execute("UPDATE runs SET analysis_version = ?, analysis_error = NULL, "
                   "analysis_mass_known = ?, analysis_mass_kg = ? WHERE id = ?",
                   (analysis_version(d), int(known), mass, run_id))

    def analysis(self, run: RunRecord | str) -> dict[str, Any] | None:
        """The run's kept analysis document as plain JSON data (``None`` without one).

        :meth:`run_analysis` gives it as a :class:`~imurun.signal.results.RunAnalysis`.
        ``run``: a :class:`RunRecord` or its id (:meth:`resolve_run`).
        """
        run = self.resolve_run(run)
        p = run.directory / ANALYSIS
        return read_json(p) if p.exists() else None

    def run_analysis(self, run: RunRecord | str) -> RunAnalysis | None:
        """The run's kept analysis as what :func:`imurun.analyze` returned (``None`` without).

        Raises :class:`~imurun.errors.FileFormatError` naming the file when it is not an
        ``imurun.analysis/1`` document. ``run``: a :class:`RunRecord` or its id
        (:meth:`resolve_run`).
        """
        from imurun.signal.results import RunAnalysis

        run = self.resolve_run(run)
        doc = self.analysis(run)
        if doc is None:
            return None
        try:
            return RunAnalysis.from_dict(doc)
        except (ImurunError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise FileFormatError(str(run.directory / ANALYSIS),
                                  f"not an imurun analysis ({e})") from e

    def indicators(self, run: RunRecord | str) -> list[Any]:
        """The ``indicators`` list of a run's kept analysis (empty without one).

        From the index; from the analysis file only for an analysis indexed before the index
        kept them (reading and parsing a long run's file takes far longer than the query),
        which the index then keeps (derived data: an index that cannot be written is read
        from the files again next time). ``run``: a :class:`RunRecord` or its id
        (:meth:`resolve_run`).
        """
        run = self.resolve_run(run)
        r = self.db.execute("SELECT indicators_json FROM run_summaries WHERE run_id = ?",
                            (run.id,)).fetchone()
        if r is not None and r["indicators_json"] is not None:
            got = json.loads(r["indicators_json"])
            return got if isinstance(got, list) else []
        doc = self.analysis(run) if run.analysis_version is not None else None
        got = (doc or {}).get("indicators")
        got = got if isinstance(got, list) else []
        if r is not None and doc is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("UPDATE run_summaries SET indicators_json = ? WHERE run_id = ? "
                                "AND indicators_json IS NULL", (json.dumps(got), run.id))
        return got

    def steps(self, run_id: RunRecord | str) -> list[dict[str, Any]]:
        """The indexed steps of a run (a :class:`RunRecord` or its id), in time order.

        One dict per step with the columns of :data:`~imurun.store.schema.STEP_COLUMNS`, as the
        analysis JSON's ``steps`` (SI units: ``ic_s`` seconds from the start of the recording,
        ``contact_s``, ``vertical_oscillation_m``...; ``side`` ``"L"``/``"R"``, ``None`` for an
        unknown value). Empty without an analysis. :meth:`run_analysis` gives them as a
        :class:`~imurun.signal.results.StepTable` of NumPy arrays (NaN for unknown).
        """
        # (the keyword keeps its first name: run_id). A full id is taken as it is (an unknown
        # one has no steps); a shorter reference is resolved, as :meth:`run` reads it.
        run_id = self._run_id_of(run_id)
        rows = self.db.execute(f"SELECT {', '.join(STEP_COLUMNS)} FROM steps WHERE run_id = ? "
                               "ORDER BY i", (run_id,))
        return [dict(zip(STEP_COLUMNS, r, strict=True)) for r in rows]

    # -------------------------------------------------------------- check and rebuild
    def _run_files(self) -> Iterator[tuple[Path, Path | None]]:
        """(run directory, its meta.json or None) for every run directory on disk."""
        runs = self.root / "runs"
        if not runs.is_dir():
            return
        for group in sorted(runs.iterdir()):
            if not group.is_dir() or group.name.startswith("."):
                continue
            for d in sorted(group.iterdir()):
                if d.is_dir() and not d.name.startswith("."):
                    m = d / RUN_META
                    yield d, (m if m.exists() else None)

    def _scan(self, report: CheckReport, repair: bool,
              progress: Callable[[int, int], None] | None = None,
              ) -> list[tuple[Path, dict[str, Any]]]:
        """Every complete run on disk with its metadata; notes (and repairs) what is not."""
        found: list[tuple[Path, dict[str, Any]]] = []
        dirs = list(self._run_files())
        for k, (d, m) in enumerate(dirs):
            if progress is not None:
                progress(k, len(dirs))
            run_files = aside.run_files_in(d)  # (not what is kept beside it)
            rel_dir = d.relative_to(self.root).as_posix()
            meta: dict[str, Any] | None = None
            if m is not None:
                try:
                    meta = read_json(m)
                except StoreError as e:
                    report.problems.append(f"{rel_dir}: unreadable {RUN_META} ({e})")
            target = d / str(meta["file"]) if meta and "file" in meta else (
                run_files[0] if len(run_files) == 1 else None)
            if target is None or not target.exists():
                report.problems.append(f"{rel_dir}: no run file (an import or sync was interrupted)")
                if repair and not run_files:
                    for p in d.iterdir():
                        p.unlink()
                    d.rmdir()
                    report.repaired.append(f"{rel_dir}: removed the leftover")
                continue
            sha = sha256_file(target)
            if meta is None or meta.get("id") != sha:
                if meta is not None and isinstance(meta.get("id"), str):
                    # Its meta.json still says which run this is: the run is kept (and indexed)
                    # as what it was, and named damaged until the user restores or sets it aside.
                    rid = str(meta["id"])
                    msg = (f"{rel_dir}: run {rid[:10]}'s file {target.name} is damaged (it no "
                           f"longer matches the SHA-256 in its {RUN_META}); it stays in the "
                           "index. Restore the file from a backup, sync it again if the sensor "
                           "still holds it, or set the run aside with "
                           f"`imurun store set-aside {rid[:10]}`")
                    report.problems.append(msg)
                    report.unresolved.append(msg)
                    report.damaged.append(rid)
                    found.append((d, meta))
                    continue
                report.problems.append(f"{rel_dir}: {RUN_META} missing")
                if not repair:
                    continue
                held = self.get(sha)
                if held is not None and held.path == target:
                    # the index still knows this very file: whose run it is, and how it came
                    meta, origin = self._meta_of(held), "the run file and the index"
                else:
                    try:
                        facts = file_facts(target)
                    except FileFormatError as e:
                        report.problems.append(f"{rel_dir}: {e.reason}")
                        continue
                    meta = self.new_run_meta(
                        sha, target.relative_to(self.root).as_posix(), facts,
                        self.athlete_of_sensor(facts.device_id) if facts.device_id else None,
                        "store", target.name, utc_now())
                    origin = "the run file"
                self.write_run_meta(d, meta)
                report.repaired.append(f"{rel_dir}: wrote {RUN_META} from {origin}")
            found.append((d, meta))
        if progress is not None:
            progress(len(dirs), len(dirs))
        return found

    def _without_partial_copies(self, found: list[tuple[Path, dict[str, Any]]], report: CheckReport,
                                repair: bool) -> list[tuple[Path, dict[str, Any]]]:
        """Drop runs on disk that are partial copies of another copy of the same sensor run.

        They are what a replacement interrupted before it removed the old copy left; with
        ``repair`` the longer copy takes their athlete and watch files and they are removed.
        """
        groups: dict[tuple[str, int, int | None], list[tuple[Path, dict[str, Any]]]] = {}
        for d, meta in found:
            key = _sensor_key(meta)
            if key is not None:
                groups.setdefault(key, []).append((d, meta))
        partial: set[Path] = set()
        for copies in groups.values():
            if len(copies) < 2:
                continue
            copies.sort(key=lambda c: int(c[1].get("size") or 0), reverse=True)
            for i, (d, meta) in enumerate(copies):
                for d_long, meta_long in copies[:i]:
                    if d_long in partial or not is_prefix_of(d / str(meta["file"]),
                                                             d_long / str(meta_long["file"])):
                        continue
                    partial.add(d)
                    rel = d.relative_to(self.root).as_posix()
                    report.problems.append(f"{rel}: a partial copy of the run in "
                                           f"{d_long.relative_to(self.root).as_posix()}")
                    if repair:
                        keep = dict(meta_long)
                        _inherit(keep, meta)
                        _move_watch_files(d, d_long)
                        self.write_run_meta(d_long, keep)
                        meta_long.update(keep)
                        shutil.rmtree(d, ignore_errors=True)
                        report.repaired.append(f"{rel}: removed (the longer copy keeps the run)")
                    break
        return [(d, meta) for d, meta in found if d not in partial]

    def check(self, *, repair: bool = False,
              progress: Callable[[str], Callable[[int, int], None]] | None = None) -> CheckReport:
        """Compare the index with the files; with ``repair``, rebuild the index from the files.

        A repair holds the library's lock: a sync or import running meanwhile would have its
        run half-written under the scan, and lose its index row to the rebuild.
        ``progress(what)`` gives the ``(done, total)`` callback of each long phase (every run
        file is hashed; a rebuild indexes every run's steps): minutes for thousands of runs.
        """
        if repair:
            with self.lock("store repair"):
                return self._check(repair=True, progress=progress)
        return self._check(repair=False, progress=progress)

    def _check(self, *, repair: bool,
               progress: Callable[[str], Callable[[int, int], None]] | None = None,
               ) -> CheckReport:
        report = CheckReport(repaired=list(self.notes))
        temps = stale_temp_files(self.root)
        if temps:
            report.problems.append(f"{len(temps)} temporary file(s) left by interrupted writes")
            if repair:
                for t in temps:
                    t.unlink(missing_ok=True)
                report.repaired.append(f"removed {len(temps)} temporary file(s)")
        ok = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            report.problems.append(f"index: {ok}")
        p = self.root / PROFILES
        if p.exists():
            try:
                want = read_json(p)
                if want.get("athletes") is not None and want != self._profiles_json():
                    report.problems.append(f"index: athletes or sensors differ from {PROFILES}")
            except (StoreError, AttributeError) as e:
                report.problems.append(f"{PROFILES}: {e}")
        self._check_set_aside(report, repair)
        scanned = self._scan(report, repair, None if progress is None else progress("checking runs"))
        found = self._without_partial_copies(scanned, report, repair)
        on_disk = {str(meta["id"]): (d, meta) for d, meta in found}
        indexed = {r.id: r for r in self.runs()}
        for rid, r in indexed.items():
            meta_lost = r.path.exists() and not (r.directory / RUN_META).exists()  # (the scan
            if rid not in on_disk and not meta_lost:                             # said that)
                report.problems.append(f"index: run {rid[:10]} ({r.rel_path}) has no file")
        for rid, (d, meta) in on_disk.items():
            held = indexed.get(rid)
            if held is None:
                report.problems.append(f"index: run {rid[:10]} ({d.relative_to(self.root)}) not indexed")
            elif self.resolve_athlete_id(meta.get("athlete_id")) != held.athlete_id:
                report.problems.append(f"index: the athlete of run {rid[:10]} differs from its "
                                       f"{RUN_META}")
            elif (d / ANALYSIS).exists() and held.analysis_version is None:
                damage = _read_analysis(d / ANALYSIS)[1]
                report.problems.append(
                    f"index: analysis of run {rid[:10]} not indexed" if damage is None else
                    f"run {rid[:10]}'s analysis.json is damaged ({damage}): `imurun store check "
                    f"--repair` sets it aside, then `imurun store reanalyze {rid[:10]}` makes it "
                    "again")
        from imurun.store.attach import check_attachments

        check_attachments(self, [d for d, _ in found], report, repair=False)
        report.runs_ok = len(on_disk)
        if repair and len(report.problems) > len(report.unresolved):
            self._rebuild(found, report,
                          None if progress is None else progress("indexing runs"))
        return report

    def _check_set_aside(self, report: CheckReport, repair: bool) -> None:
        """Name files under ``set-aside/`` that ``store restore`` does not list (nothing deleted).

        A damaged file an earlier version kept alone (``<file>.damaged-<time>``), or an entry a
        killed writer left without its ``meta.json``: with ``repair`` each gets a listed
        directory of its own. Anything else is the user's, named and left as it is.
        """
        base = self.root / SET_ASIDE
        listed = dict(self.set_aside_runs())
        plans: list[tuple[Path, Callable[[Path, Path], Path] | None]] = []
        for p in aside.unlisted_files(base, listed):  # (all looked at before any is moved)
            no_meta = p.parent != base and not (p.parent / RUN_META).exists()
            unfinished = no_meta and (aside.kept_alone(p.parent) is not None
                                      or (p.parent / SET_ASIDE_NOTE).exists())
            kept = aside.run_files_in(p.parent) if unfinished else []
            if unfinished and kept == [p]:
                plans.append((p, self._adopt_in_place))
            elif unfinished and len(kept) == 1 and p.name == SET_ASIDE_NOTE:
                continue  # (its run file is named, and listed with it)
            elif no_meta and aside.kept_alone(p) is not None:
                plans.append((p, self._adopt_kept_alone))
            else:
                plans.append((p, None))
        for p, plan in plans:
            rel = p.relative_to(self.root).as_posix()
            if plan is None:
                msg = (f"{rel}: under set-aside/ but not part of a run `imurun store restore` "
                       "lists; left as it is (move it out if it is yours)")
                report.problems.append(msg)
                report.unresolved.append(msg)
                continue
            report.problems.append(f"{rel}: damaged bytes kept, which `imurun store restore` "
                                   "does not list: `imurun store check --repair` lists them")
            if repair:
                try:
                    d = plan(base, p)
                except (StoreError, FileFormatError) as err:
                    msg = f"{rel}: not listed ({err})"
                    report.problems.append(msg)
                    report.unresolved.append(msg)
                    continue
                report.repaired.append(f"{rel}: listed by `imurun store restore` now, in "
                                       f"{d.relative_to(self.root).as_posix()}")

    def _adopt_kept_alone(self, base: Path, p: Path) -> Path:
        """Give ``p``, damaged bytes kept alone by an earlier version, a listed directory."""
        alone = aside.kept_alone(p)
        assert alone is not None
        name, at = alone
        rel = p.parent.relative_to(base)
        first = base / rel.parent / f"{rel.name}.damaged-{aside.iso_stamp(at)}"
        d, n = first, 1
        while d.exists():
            n += 1
            d = first.with_name(f"{first.name}-{n}")
        origin = (Path("runs") / rel).as_posix()
        meta, held = self._adopted_meta(p, origin, name, None)
        try:
            make_dirs(d.parent)
            d.mkdir()
            fsync_dir(d.parent)
            os.replace(p, d / name)  # the same file system: renamed, never copied
            fsync_dir(d)
            fsync_dir(p.parent)
        except OSError as e:
            raise StoreError(f"cannot move {p} to {d}: {e.strerror or e}") from e
        atomic_write_json(d / SET_ASIDE_NOTE, aside.note(
            origin, str(meta["id"]), aside.REPLACED, replaced_by=held, at=at))
        atomic_write_json(d / RUN_META, meta)
        with contextlib.suppress(OSError):
            p.parent.rmdir()  # (when nothing else is left in it)
        return d

    def _adopt_in_place(self, base: Path, p: Path) -> Path:
        """Write the ``meta.json`` an entry's killed writer did not (its note, else its name)."""
        d = p.parent
        n = aside.read_note(d)
        origin = aside.origin_of(base, d, n)
        rid = n.get("run_id")
        meta, held = self._adopted_meta(p, origin, p.name, rid if isinstance(rid, str) else None)
        if not n:
            alone = aside.kept_alone(d)
            atomic_write_json(d / SET_ASIDE_NOTE, aside.note(
                origin, str(meta["id"]), aside.REPLACED, replaced_by=held,
                at=None if alone is None else alone[1]))
        atomic_write_json(d / RUN_META, meta)
        return d

    def _adopted_meta(self, p: Path, origin: str, name: str,
                      run_id: str | None) -> tuple[dict[str, Any], str | None]:
        """The ``meta.json`` of the damaged bytes ``p`` kept from the run at ``origin``/``name``.

        The run held there (``run_id``, else the run at that place) as the library holds it,
        and its id (which replaced the bytes); else the facts of the bytes themselves.
        """
        held = self.get(run_id) if run_id is not None else None
        if held is None:
            r = self.db.execute(self._RUNS_SQL + " WHERE r.path = ?",
                                (f"{origin}/{name}",)).fetchone()
            held = None if r is None else self._record(r)
        if held is not None:
            return {**self._meta_of(held), "file": name}, held.id
        facts = file_facts(p)
        meta = self.new_run_meta(
            sha256_file(p), f"{origin}/{name}", facts,
            self.athlete_of_sensor(facts.device_id) if facts.device_id else None, "store", name,
            utc_now())
        return meta, None

    def _rebuild(self, found: Sequence[tuple[Path, Mapping[str, Any]]], report: CheckReport,
                 progress: Callable[[int, int], None] | None = None) -> None:
        from imurun.store.attach import check_attachments

        with self.transaction() as db:
            for table in ("watch_samples", "attachments", "steps", "run_summaries", "runs",
                          "sensors", "athlete_aliases", "athletes"):
                db.execute(f"DELETE FROM {table}")
            db.execute(f"DELETE FROM meta WHERE key = '{REBUILD_AWAITED}'")  # (made whole now)
            if (self.root / PROFILES).exists():
                self._load_profiles(self.root / PROFILES)
            for k, (d, meta) in enumerate(found):
                if progress is not None:
                    progress(k, len(found))
                self._reindex_run(d, meta, report)
            if progress is not None:
                progress(len(found), len(found))
            check_attachments(self, [d for d, _ in found], report, repair=True)
        report.index_rebuilt = True
        report.repaired.append(f"index rebuilt from {len(found)} run(s) on disk")

    def _reindex_run(self, d: Path, meta: Mapping[str, Any], report: CheckReport) -> None:
        """Index the run in ``d`` as a rebuild does; a damaged analysis of it is set aside.

        Its analysis.json is read and checked once, then indexed as read (the longest part
        of a long run's indexing is parsing the file).
        """
        analysis, damage = _read_analysis(d / ANALYSIS)
        if damage is not None:  # derived data: set aside, to be made again
            aside = d / f"{ANALYSIS}.damaged-{dt.datetime.now():%Y%m%dT%H%M%S}"
            os.replace(d / ANALYSIS, aside)
            report.repaired.append(
                f"set aside the damaged analysis of run {str(meta['id'])[:10]} "
                f"({aside.name}); `imurun store reanalyze` analyses the run again")
        try:
            self._index_run_row(d, meta)
            if analysis is not None:
                self._index_analysis(str(meta["id"]), analysis)
        except (StoreError, FileFormatError) as e:
            report.problems.append(f"{d.relative_to(self.root)}: {e}")
            report.unresolved.append(f"{d.relative_to(self.root)}: not indexed ({e})")


def index_busy(e: sqlite3.DatabaseError) -> bool:
    """Whether ``e`` says another connection holds the index (not that it is damaged)."""
    return isinstance(e, sqlite3.OperationalError) and any(
        w in str(e).lower() for w in ("database is locked", "database is busy"))


def _await_rebuild(db: sqlite3.Connection) -> None:
    db.execute(f"INSERT OR REPLACE INTO meta VALUES ('{REBUILD_AWAITED}', '1')")


def _damaged_file(path: Path, run_id: str, fmt: Any) -> bool:
    """Whether a run's file is missing, is no longer the bytes its id names, or is damaged.

    Damaged: a stored run with blocks whose CRC fails.
    """
    if not path.is_file() or sha256_file(path) != run_id:
        return True
    if fmt != "stored-run":
        return False
    try:
        return file_facts(path).damaged_blocks > 0
    except FileFormatError:
        return True


def _counts_twice(e: SetAsideRun, held: RunRecord, *, intact: bool = True) -> str:
    """Why the damaged copy ``e`` set aside is not restored beside (or over) the run ``held``."""
    what = "intact" if intact else "(another copy of its sensor run)"
    return (f"run {e.short_id} set aside in {e.directory} is a damaged copy, and the library "
            f"holds run {held.short_id} {what}: restoring it would count the run twice"
            + (" and replace its intact file" if held.id == e.id else "")
            + f", so it stays set aside (its bytes are in {e.path})")


def _inherit(meta: dict[str, Any], partial: Mapping[str, Any]) -> None:
    """Give the longer copy of a run (``meta``) what it lacks that a partial copy holds.

    That is the athlete, and a start time given by hand.
    """
    if meta.get("athlete_id") is None:
        meta["athlete_id"] = partial.get("athlete_id")
    if meta.get("start_unix_s") is None and partial.get("start_unix_s") is not None:
        meta["start_unix_s"] = partial["start_unix_s"]
        meta["start_given"] = bool(partial.get("start_given"))


def _read_analysis(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The analysis in the file ``path``, checked, and why it cannot be used.

    ``(None, None)``: there is none; ``(None, why)``: it is damaged.
    """
    if not path.exists():
        return None, None
    try:
        return check_analysis(read_json(path), str(path)), None
    except (StoreError, FileFormatError) as e:
        return None, str(e).replace(f"cannot read {path}: ", "")


def _move_watch_files(src: Path, dst: Path) -> None:
    """Copy a run's watch attachment to another copy of the run, unless that has its own."""
    from imurun.store._files import atomic_copy

    if any(dst.glob("watch-*.json")):
        return
    docs = sorted(src.glob("watch-*.json"))
    for doc in docs:  # the .fit first: a .json marks an attachment complete
        fit = doc.with_suffix(".fit")
        if fit.exists():
            with open(fit, "rb") as fh:
                atomic_copy(fh, dst / fit.name)
    for doc in docs:
        with open(doc, "rb") as fh:
            atomic_copy(fh, dst / doc.name)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _step_rows(run_id: str, steps: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The ``steps`` rows of a run: ``(run_id, i, *STEP_COLUMNS)`` of each of its ``steps``.

    Text columns hold ``str(value)``, the others ``float(value)`` of a number (a boolean is
    none); a missing key or any other value is NULL. Made column by column, with the values
    that are already what the column holds (nearly all) passed as they are: a long run has
    ~10,000 steps, and a rebuild indexes thousands of runs.
    """
    columns: list[list[Any]] = []
    for c in STEP_COLUMNS:
        values = [s.get(c) for s in steps]
        if c in TEXT_STEP_COLUMNS:
            columns.append([v if type(v) is str else _text(v) for v in values])
        else:
            columns.append([v if type(v) is float else _num(v) for v in values])
    return list(zip(itertools.repeat(run_id), range(len(steps)), *columns))


def _local_text(unix_s: float) -> str:
    return dt.datetime.fromtimestamp(unix_s).astimezone().strftime("%Y-%m-%d %H:%M")


def parse_local_time(s: str) -> float:
    """Unix time of ``YYYY-MM-DD HH:MM`` (local time; an ISO 8601 offset is honoured).

    A local time the clocks skip (the spring-forward gap) is refused; one they pass twice (the
    fall-back hour) is taken as the first, daylight-saving one (:func:`local_time_note` says
    so); an offset (``+01:00``) chooses either.
    """
    return _parse_local_time(s)[0]


def local_time_note(s: str) -> str | None:
    """What the user should know about how ``s`` was read (a fall-back hour), else ``None``."""
    return _parse_local_time(s)[1]


def _parse_local_time(s: str) -> tuple[float, str | None]:
    try:
        t = dt.datetime.fromisoformat(s.strip())
    except ValueError as e:
        raise UsageError(f"{s!r} is not a start time (YYYY-MM-DD HH:MM, local time)") from e
    if t.tzinfo is not None:
        return t.timestamp(), None
    first, second = t.replace(fold=0), t.replace(fold=1)
    ts = first.timestamp()
    if dt.datetime.fromtimestamp(ts).replace(fold=0) != first \
            and dt.datetime.fromtimestamp(second.timestamp()).replace(fold=0) != first:
        raise UsageError(f"{s!r} does not exist in local time (the clocks skip that hour when "
                         "daylight saving time starts): give the time the run really started, "
                         "or its UTC offset, e.g. 'YYYY-MM-DD HH:MM+02:00'")
    note = None
    if second.timestamp() != ts:
        a, b = first.astimezone(), second.astimezone()
        note = (f"{t:%Y-%m-%d %H:%M} happens twice (the clocks go back): taken as the first, "
                f"{a:%H:%M %Z} ({a:%z}); for the second give '{t:%Y-%m-%d %H:%M}{_iso_offset(b)}'")
    return ts, note


def _iso_offset(t: dt.datetime) -> str:
    z = t.strftime("%z")
    return f"{z[:3]}:{z[3:]}" if z else ""


def parse_date(s: str) -> dt.date:
    try:
        return dt.date.fromisoformat(s)
    except ValueError as e:
        raise UsageError(f"{s!r} is not a date (YYYY-MM-DD)") from e


def local_day_start(day: dt.date) -> float:
    """Unix time of local midnight starting ``day`` (runners think in local dates)."""
    return dt.datetime.combine(day, dt.time()).astimezone().timestamp()

