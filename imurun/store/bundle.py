"""Sharing runs between libraries: bundles (one zip file) and shared store directories.

A bundle is a zip file::

    manifest.json                        imurun.bundle/1: athletes, sensors, runs with SHA-256s
    runs/<device>/run-<id>-<crc>/...     the run directories, as in the library
    runs/imported/<sha>/...

Importing is idempotent and safe to interrupt: runs are keyed by the SHA-256 of their file, each
file is verified against the manifest before it is published (atomically), and a run enters the
index only after all its files are in place. Destinations are computed from the manifest's
metadata, never taken from names inside the zip. A shared store directory (another athlete's
``IMURUN_HOME``, read through a synced or network folder) is imported the same way, from its
files only: its database is never opened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from imurun import __version__
from imurun.errors import FileFormatError, StoreError, UsageError
from imurun.store._files import atomic_copy, atomic_write_json, fsync_dir, read_json, sha256_file
from imurun.store.attach import ATTACHMENT_SCHEMA
from imurun.store.library import (
    ANALYSIS,
    PROFILES,
    PROFILES_SCHEMA,
    RUN_META,
    RUN_SCHEMA,
    Athlete,
    FileFacts,
    Library,
    RunRecord,
    check_analysis,
    name_key,
    run_location,
    utc_now,
)

BUNDLE_SCHEMA = "imurun.bundle/1"
MANIFEST = "manifest.json"


# ---------------------------------------------------------------------------- share
@dataclass(frozen=True)
class ShareResult:
    path: Path
    runs: tuple[RunRecord, ...]
    size: int


def share(lib: Library, athlete_ref: str, out: str | os.PathLike[str], *,
          since_unix_s: float | None = None, until_unix_s: float | None = None) -> ShareResult:
    """Write a bundle of one athlete's runs (with analyses and attachments) to ``out``."""
    athlete = lib.athlete(athlete_ref)
    runs = lib.runs(athlete=athlete.id, since_unix_s=since_unix_s, until_unix_s=until_unix_s)
    if not runs:
        raise UsageError(f"{athlete.name} has no runs in that period: nothing to share")
    entries: list[dict[str, Any]] = []
    files: list[tuple[str, Path, int]] = []
    for run in runs:
        e = _run_entry(lib, run, files)
        entries.append(e)
    manifest = {
        "schema": BUNDLE_SCHEMA, "created_at": utc_now(), "imurun_version": __version__,
        "athletes": [athlete.to_json()],
        "sensors": [s.to_json() for s in lib.sensors() if s.athlete_id == athlete.id],
        "runs": entries,
    }
    import json

    target = Path(out)
    if target.is_dir():
        raise UsageError(f"{target} is a directory; give the bundle's file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True),
                        compress_type=zipfile.ZIP_DEFLATED)
            for arc, src, ctype in files:
                zf.write(src, arc, compress_type=ctype)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as e:
        raise StoreError(f"cannot write {target}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    return ShareResult(target, tuple(runs), target.stat().st_size)


def _run_entry(lib: Library, run: RunRecord, files: list[tuple[str, Path, int]]) -> dict[str, Any]:
    d = run.directory
    meta = read_json(d / RUN_META)
    entry: dict[str, Any] = {"id": run.id, "file": run.rel_path, "size": run.size,
                             "sha256": run.id, "meta": meta, "analysis": None, "attachments": []}
    files.append((run.rel_path, run.path, zipfile.ZIP_STORED))
    rel_dir = Path(run.rel_path).parent.as_posix()
    if (d / ANALYSIS).exists():
        entry["analysis"] = {"file": f"{rel_dir}/{ANALYSIS}", "sha256": sha256_file(d / ANALYSIS)}
        files.append((f"{rel_dir}/{ANALYSIS}", d / ANALYSIS, zipfile.ZIP_DEFLATED))
    for doc_path in sorted(d.glob("watch-*.json")):
        doc = read_json(doc_path)
        fit = d / str(doc["file"])
        entry["attachments"].append({"doc": doc, "file": f"{rel_dir}/{fit.name}",
                                     "sha256": sha256_file(fit)})
        files.append((f"{rel_dir}/{fit.name}", fit, zipfile.ZIP_STORED))
    return entry


# ---------------------------------------------------------------------------- sources
class _Source(Protocol):
    name: str
    kind: str  # "bundle" or "store": the ``source`` of the runs it brings

    def manifest(self) -> dict[str, Any]: ...

    def open(self, member: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...


class _ZipSource:
    kind = "bundle"

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise FileFormatError(str(path), f"not a readable bundle: {e}") from e

    def manifest(self) -> dict[str, Any]:
        import json

        try:
            d = json.loads(self.zf.read(MANIFEST))
        except KeyError as e:
            raise FileFormatError(str(self.path), f"a zip file without {MANIFEST}: not an imurun bundle") from e
        except (ValueError, zipfile.BadZipFile) as e:
            raise FileFormatError(str(self.path), f"damaged {MANIFEST}: {e}") from e
        if not isinstance(d, dict) or d.get("schema") != BUNDLE_SCHEMA:
            raise FileFormatError(str(self.path), f"not an {BUNDLE_SCHEMA} bundle")
        return d

    @contextlib.contextmanager
    def open(self, member: str) -> Iterator[IO[bytes]]:
        try:
            with self.zf.open(member) as fh:
                yield fh
        except KeyError as e:
            raise FileFormatError(str(self.path), f"{member} is listed but missing") from e
        except (zipfile.BadZipFile, OSError) as e:  # a CRC error of a damaged member
            raise FileFormatError(str(self.path), f"{member}: {e}") from e

    def close(self) -> None:
        self.zf.close()


class _StoreSource:
    """Another library's directory, read from its files (never its database)."""

    kind = "store"

    def __init__(self, root: Path) -> None:
        self.name = root.name
        self.root = root

    def manifest(self) -> dict[str, Any]:
        athletes: list[dict[str, Any]] = []
        sensors: list[dict[str, Any]] = []
        p = self.root / PROFILES
        if p.exists():
            d = read_json(p)
            if isinstance(d, dict) and d.get("schema") == PROFILES_SCHEMA:
                athletes, sensors = list(d.get("athletes", [])), list(d.get("sensors", []))
        runs = []
        for meta_path in sorted(self.root.glob(f"runs/*/*/{RUN_META}")):
            d = meta_path.parent
            try:
                meta = read_json(meta_path)
            except StoreError:
                continue
            if not isinstance(meta, dict) or meta.get("schema") != RUN_SCHEMA:
                continue
            run_file = d / str(meta.get("file", ""))
            if not run_file.is_file():
                continue  # that library is still writing this run
            rel_dir = d.relative_to(self.root).as_posix()
            entry: dict[str, Any] = {"id": meta["id"], "file": f"{rel_dir}/{run_file.name}",
                                     "size": meta["size"], "sha256": meta["id"], "meta": meta,
                                     "analysis": None, "attachments": []}
            if (d / ANALYSIS).exists():
                entry["analysis"] = {"file": f"{rel_dir}/{ANALYSIS}", "sha256": None}
            for doc_path in sorted(d.glob("watch-*.json")):
                with contextlib.suppress(StoreError, KeyError, TypeError):
                    doc = read_json(doc_path)
                    entry["attachments"].append({"doc": doc, "file": f"{rel_dir}/{doc['file']}",
                                                 "sha256": doc["id"]})
            runs.append(entry)
        return {"schema": BUNDLE_SCHEMA, "athletes": athletes, "sensors": sensors, "runs": runs}

    @contextlib.contextmanager
    def open(self, member: str) -> Iterator[IO[bytes]]:
        p = (self.root / member).resolve()
        if not p.is_relative_to(self.root.resolve()):
            raise FileFormatError(member, "outside the shared store")
        try:
            with open(p, "rb") as fh:
                yield fh
        except OSError as e:
            raise FileFormatError(str(p), f"cannot read: {e.strerror or e}") from e

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    source: str
    added: list[RunRecord] = field(default_factory=list)
    already: list[RunRecord] = field(default_factory=list)
    completed: list[RunRecord] = field(default_factory=list)  # held, but missing parts were added
    #: held damaged: the file imported took the damaged copy's place (analysed again)
    repaired: list[RunRecord] = field(default_factory=list)
    athletes_added: list[Athlete] = field(default_factory=list)
    #: (the source's athlete, this library's athlete of the same name it was taken as)
    athletes_matched: list[tuple[Athlete, Athlete]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the user: partial copies met, replaced


def partial_copy_note(name: str, size: int, held: RunRecord) -> str:
    return (f"{name} is a partial copy ({size / 1024:.0f} of {held.size / 1024:.0f} KiB) of run "
            f"{held.short_id}, which the library holds complete: not added, so the run counts once")


def healed_note(new: RunRecord, old: RunRecord, aside: Path) -> str:
    now = "" if new.id == old.id else f" (now run {new.short_id}, the id of its intact bytes)"
    return (f"replaced the damaged copy of run {old.short_id}{now} with this intact one; the "
            f"damaged file is in {aside}")


def replaced_note(new: RunRecord, old: RunRecord) -> str:
    return (f"run {new.short_id} replaces {old.short_id}, a partial copy of the same sensor run "
            f"({old.size / 1024:.0f} of {new.size / 1024:.0f} KiB): its athlete and watch file, "
            "if it had any, are now those of the complete run")


Progress = Callable[[int, int], None]  # runs done, runs in all


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file that could be a bundle (a zip: :func:`import_bundle` checks it)."""
    path = Path(path)
    return path.is_file() and zipfile.is_zipfile(path)


def import_bundle(lib: Library, path: str | os.PathLike[str], *,
                  progress: Progress | None = None, athlete: str | None = None) -> ImportResult:
    """Import a bundle file, or a shared store directory; idempotent.

    ``athlete`` (a name or id of this library) takes the source's one athlete as that athlete,
    whatever name the source gives them; a source of several athletes is refused.
    """
    p = Path(path)
    src: _ZipSource | _StoreSource
    if p.is_dir():
        if not (p / "runs").is_dir():
            raise FileFormatError(str(p), "a directory, but not an imurun library (no runs/ folder)")
        if p.resolve() == lib.root.resolve():
            raise UsageError(f"{p} is this library itself")
        src = _StoreSource(p)
    else:
        src = _ZipSource(p)
    try:
        return _import(lib, src, progress, athlete)
    finally:
        src.close()


def _import(lib: Library, src: _Source, progress: Progress | None,
            athlete: str | None = None) -> ImportResult:
    manifest = src.manifest()
    res = ImportResult(src.name)
    ours = None if athlete is None else lib.athlete(athlete)
    if ours is None:
        athletes = _import_athletes(lib, manifest.get("athletes", []), res)
    else:
        athletes = _as_athlete(lib, manifest.get("athletes", []), ours, res)
    known_sensors = {s.device_id for s in lib.sensors()}
    for s in manifest.get("sensors", []):
        aid = athletes.get(str(s.get("athlete_id")))
        if s.get("device_id") not in known_sensors and aid:
            with contextlib.suppress(StoreError, UsageError):
                lib.bind_sensor(str(s["device_id"]), aid)
    runs = manifest.get("runs", [])
    for i, entry in enumerate(runs):
        try:
            _import_run(lib, src, entry, res, athletes, None if ours is None else ours.id)
        except (FileFormatError, StoreError, KeyError, TypeError, ValueError) as e:
            res.problems.append(f"run {str(entry.get('id', '?'))[:10]}: {e}")
        if progress is not None:
            progress(i + 1, len(runs))
    return res


def _athletes_of(entries: list[Any], res: ImportResult) -> list[Athlete]:
    """The source's athlete entries that are athletes; the others go to ``res.problems``."""
    out = []
    for a in entries:
        try:
            out.append(Athlete.from_json(a))
        except (KeyError, TypeError, ValueError, UsageError) as e:
            res.problems.append(f"athlete entry {a!r}: {e}")
    return out


def _import_athletes(lib: Library, entries: list[Any], res: ImportResult) -> dict[str, str]:
    """Add the source's athletes; returns their ids -> this library's ids.

    An athlete is known by id across libraries. One with a new id but the name of an athlete
    this library has is taken as that athlete (a library never holds two athletes of one
    name, which no command could tell apart): said in ``res.athletes_matched``.
    """
    ids: dict[str, str] = {}
    local = {x.id: x for x in lib.athletes()}
    for athlete in _athletes_of(entries, res):
        known_as = lib.resolve_athlete_id(athlete.id)  # ours, merged, or imported with --athlete
        if known_as is not None:
            ids[athlete.id] = known_as
            continue
        same = [x for x in local.values() if name_key(x.name) == name_key(athlete.name)]
        if same:
            ids[athlete.id] = same[0].id
            res.athletes_matched.append((athlete, same[0]))
            continue
        if lib.merge_athlete(athlete):
            res.athletes_added.append(athlete)
        local[athlete.id] = athlete
        ids[athlete.id] = athlete.id
    return ids


def _as_athlete(lib: Library, entries: list[Any], ours: Athlete, res: ImportResult) -> dict[str, str]:
    """The source's one athlete taken as ``ours``; returns their id -> ``ours.id``."""
    theirs = _athletes_of(entries, res)
    if len(theirs) > 1:
        raise UsageError(f"{res.source!r} holds the runs of {len(theirs)} athletes ("
                         + ", ".join(sorted(t.name for t in theirs)) + "); --athlete applies to the runs "
                         "of one athlete: import without it, then `imurun athlete merge`")
    for t in theirs:
        if t.id != ours.id:
            res.athletes_matched.append((t, ours))
            if lib.resolve_athlete_id(t.id) is None:  # their next bundle finds ours without it
                lib.add_alias(t.id, ours.id)
    return {t.id: ours.id for t in theirs}


def _valid_meta(entry: dict[str, Any]) -> dict[str, Any]:
    meta = entry["meta"]
    if not isinstance(meta, dict) or meta.get("schema") != RUN_SCHEMA or meta.get("id") != entry["id"]:
        raise FileFormatError(str(entry.get("file")), "run metadata does not match its entry")
    sha = str(meta["id"])
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise FileFormatError(str(entry.get("file")), "run id is not a SHA-256")
    return meta


def _import_run(lib: Library, src: _Source, entry: dict[str, Any], res: ImportResult,
                athletes: dict[str, str], athlete_id: str | None = None) -> None:
    """Import one run of ``src``; ``athlete_id``: this library's athlete it goes to, if given."""
    meta = _valid_meta(entry)
    sha = str(meta["id"])
    held = lib.get(sha)
    if held is not None and held.path.exists():
        lib.remove_replaced_copies(held)  # (a replacement killed half-way: finished)
        if sha256_file(held.path) != sha:  # damaged on disk: the bundle holds its own bytes
            with src.open(str(entry["file"])) as fh:
                aside = lib.heal_in_place(held, fh)
            _complete(lib, src, entry, held)
            res.repaired.append(held)
            res.notes.append(healed_note(held, held, aside))
        elif _complete(lib, src, entry, held):
            res.completed.append(held)
        else:
            res.already.append(held)
        return
    dev = meta.get("device_id")
    if dev is not None:
        dev = f"{int(str(dev), 16):016x}"
    crc = meta.get("crc32")
    start_ms = meta.get("sensor_start_ms")
    facts = FileFacts(str(meta["format"]), int(meta["size"]), dev,
                      None if meta.get("sensor_run_id") is None else int(meta["sensor_run_id"]),
                      None if crc is None else int(str(crc), 16),
                      sensor_start_ms=None if start_ms is None else int(start_ms))
    rel = run_location(facts, sha, str(meta.get("file") or "run"))
    target = lib.root / rel
    aid = athlete_id or athletes.get(str(meta.get("athlete_id")), meta.get("athlete_id"))
    local = {**meta, "file": target.name, "device_id": dev,
             "athlete_id": lib.resolve_athlete_id(aid),
             "source": src.kind,
             "source_name": f"{src.name}:{meta.get('source_name', target.name)}"}
    lib.write_run_meta(target.parent, local)
    if not (target.exists() and sha256_file(target) == sha):
        try:
            with src.open(str(entry["file"])) as fh:
                atomic_copy(fh, target, expect_sha256=sha)
        except BaseException:
            (target.parent / RUN_META).unlink(missing_ok=True)  # no leftover of a refused run
            with contextlib.suppress(OSError):
                target.parent.rmdir()
            raise
    longer, shorter = lib.sensor_run_copies(target, local)
    if longer is not None:  # held complete already: this partial copy would count twice
        shutil.rmtree(target.parent, ignore_errors=True)
        res.already.append(longer)
        res.notes.append(partial_copy_note(str(local["source_name"]), int(meta["size"]), longer))
        return
    _copy_analysis(src, entry, target.parent)
    rec = lib.index_run(target.parent, local, replaces=shorter)
    res.notes.extend(replaced_note(rec, old) for old in shorter)
    for att in entry.get("attachments") or ():
        _copy_attachment(lib, src, att, rec)
    # a damaged copy of this sensor run, held before under the id of its damaged bytes: this
    # intact one takes its place (its athlete and watch file), so the run counts once
    healed = lib.replace_damaged_copies(rec)
    res.notes.extend(healed_note(rec, old, aside) for old, aside in healed)
    res.added.append(lib.get(rec.id) or rec)


def _copy_analysis(src: _Source, entry: dict[str, Any], directory: Path) -> bool:
    a = entry.get("analysis")
    if not a or (directory / ANALYSIS).exists():
        return False
    with src.open(str(a["file"])) as fh:
        atomic_copy(fh, directory / ANALYSIS, expect_sha256=a.get("sha256"))
    try:
        check_analysis(read_json(directory / ANALYSIS), str(a["file"]))
    except (FileFormatError, StoreError):
        (directory / ANALYSIS).unlink()
        raise
    return True


def _copy_attachment(lib: Library, src: _Source, att: dict[str, Any], run: RunRecord) -> bool:
    from imurun.store import attach as attach_mod

    doc = att["doc"]
    if not isinstance(doc, dict) or doc.get("schema") != ATTACHMENT_SCHEMA:
        raise FileFormatError(str(att.get("file")), "not an attachment description")
    if lib.db.execute("SELECT 1 FROM attachments WHERE id = ? AND run_id = ?",
                      (doc["id"], run.id)).fetchone():
        return False
    name = f"watch-{str(doc['id'])[:16]}"
    doc = {**doc, "file": f"{name}.fit"}
    fit = run.directory / f"{name}.fit"
    if not (fit.exists() and sha256_file(fit) == doc["id"]):
        with src.open(str(att["file"])) as fh:
            atomic_copy(fh, fit, expect_sha256=str(doc["id"]))
    with lib.transaction():
        atomic_write_json(run.directory / f"{name}.json", doc)
        attach_mod.index_attachment(lib, run, run.directory, doc)
    return True


def _complete(lib: Library, src: _Source, entry: dict[str, Any], held: RunRecord) -> bool:
    """Add what an earlier, interrupted import of this run did not: analysis, attachments."""
    changed = False
    if held.analysis_version is None and entry.get("analysis"):
        if _copy_analysis(src, entry, held.directory) or (held.directory / ANALYSIS).exists():
            lib.set_analysis(held.id, read_json(held.directory / ANALYSIS))
            changed = True
    for att in entry.get("attachments") or ():
        changed |= _copy_attachment(lib, src, att, held)
    return changed
