"""Watch files attached to runs: kept byte for byte beside the run, indexed per second.

In a run's directory, ``watch-<sha>.fit`` is the watch's file and ``watch-<sha>.json`` its
alignment (written last: it marks the attachment complete). The index holds one row per second of
the run the watch covered (``watch_samples``), in the run's time base, so step and stride length
and per-pace views can join them with the steps (:func:`speed_track`, :func:`run_step_speed`;
the arithmetic is :mod:`imurun.signal.pace`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from imurun.errors import FileFormatError, StoreError, UsageError
from imurun.store._files import atomic_copy, atomic_write_json, read_json, sha256_file

if TYPE_CHECKING:
    from imurun.signal.pace import PaceSettings, SpeedTrack, StepSpeed, StrideSummary
    from imurun.store.library import CheckReport, Library, RunRecord

ATTACHMENT_SCHEMA = "imurun.attachment/1"
MIN_OVERLAP_S = 30.0  # (or half the run, if shorter)


@dataclass(frozen=True)
class Attachment:
    id: str
    run_id: str
    path: Path
    offset_s: float
    overlap_s: float
    distance_m: float | None
    added: bool = True  # False: the same file was attached already
    replaced: str | None = None  # the name of the earlier watch file this one replaced


def attach_watch_fit(lib: Library, run: RunRecord | str, fit_path: str | os.PathLike[str], *,
                     offset_s: float = 0.0) -> Attachment:
    """Attach a watch's FIT activity to ``run``, aligned by wall-clock time (+ ``offset_s``).

    ``run``: a :class:`~imurun.store.library.RunRecord` or its id, as ``imurun attach`` takes
    it (:meth:`~imurun.store.library.Library.resolve_run`). ``offset_s`` is how far the watch's
    clock is ahead of the sensor's. A run holds one watch file: attaching another replaces it.
    Attaching the same file again changes nothing.
    """
    from imurun.ingest.watch import read_watch_fit
    from imurun.store.library import utc_now

    run = lib.resolve_run(run)
    src = Path(fit_path)
    track = read_watch_fit(src)  # refuse a bad file before anything is written
    if run.start_unix_s is None or run.duration_s is None:
        raise UsageError(f"run {run.short_id} has no wall-clock start time: a watch file cannot be "
                         "aligned with it; give it its start first with `imurun athlete assign "
                         f"{_quoted(run.athlete_name) if run.athlete_name else 'NAME'} "
                         f"{run.short_id} --start \"YYYY-MM-DD HH:MM\"`")
    sha = sha256_file(src)
    name = f"watch-{sha[:16]}"
    old = lib.db.execute("SELECT id, offset_s FROM attachments WHERE run_id = ?", (run.id,)).fetchall()
    if any(r["id"] == sha and r["offset_s"] == offset_s for r in old):
        row = lib.db.execute("SELECT * FROM attachments WHERE run_id = ?", (run.id,)).fetchone()
        return Attachment(sha, run.id, lib.root / row["path"], offset_s, row["overlap_s"],
                          row["distance_m"], added=False)
    _overlap_or_raise(track.start_unix_s - offset_s, track.end_unix_s - offset_s, run)
    fit_target = run.directory / f"{name}.fit"
    doc_target = run.directory / f"{name}.json"
    new_files = [p for p in (fit_target, doc_target) if not p.exists()]
    try:
        with open(src, "rb") as fh:
            _, got = atomic_copy(fh, fit_target)
        if got != sha:
            raise StoreError(f"{src} changed while it was being copied")
        doc = {"schema": ATTACHMENT_SCHEMA, "kind": "watch-fit", "id": sha,
               "file": fit_target.name, "offset_s": offset_s, "source_name": src.name,
               "added_at": utc_now()}
        with lib.transaction():
            atomic_write_json(doc_target, doc)
            att = index_attachment(lib, run, run.directory, doc)
    except BaseException:
        for p in new_files:  # nothing of a refused attachment stays beside the run
            p.unlink(missing_ok=True)
        raise
    replaced: str | None = None
    for r in old:  # the replaced attachment's files go once the new one is committed
        if r["id"] != sha:
            doc_path = run.directory / f"watch-{r['id'][:16]}.json"
            try:
                replaced = str(read_json(doc_path).get("source_name") or f"watch-{r['id'][:16]}.fit")
            except (StoreError, AttributeError):
                replaced = f"watch-{r['id'][:16]}.fit"
            for ext in (".json", ".fit"):
                (run.directory / f"watch-{r['id'][:16]}{ext}").unlink(missing_ok=True)
    return dataclasses.replace(att, replaced=replaced)


def _quoted(name: str) -> str:
    return f'"{name}"' if any(c.isspace() for c in name) else name


def _overlap_or_raise(w0: float, w1: float, run: RunRecord) -> float:
    from imurun.store.library import iso_utc

    assert run.start_unix_s is not None
    assert run.duration_s is not None
    r0, r1 = run.start_unix_s, run.start_unix_s + run.duration_s
    overlap = min(w1, r1) - max(w0, r0)
    need = min(MIN_OVERLAP_S, 0.5 * run.duration_s)
    if overlap < need:
        raise UsageError(f"the watch file covers {iso_utc(w0)} to {iso_utc(w1)} and run "
                         f"{run.short_id} {iso_utc(r0)} to {iso_utc(r1)}: "
                         f"{max(overlap, 0):.0f} s in common, {need:.0f} s needed "
                         "(a clock offset? see --offset-s)")
    return overlap


def index_attachment(lib: Library, run: RunRecord, directory: Path, doc: dict[str, Any]) -> Attachment:
    """Parse the attached file and index it (inside the caller's transaction).

    ``run`` is a :class:`~imurun.store.library.RunRecord` (a run id: ``UsageError`` at once).
    """
    from imurun.ingest.watch import per_second, read_watch_fit
    from imurun.store.library import require_run

    require_run(run, "run")
    assert run.start_unix_s is not None
    assert run.duration_s is not None
    fit = directory / str(doc["file"])
    offset = float(doc.get("offset_s", 0.0))
    track = read_watch_fit(fit)
    overlap = _overlap_or_raise(track.start_unix_s - offset, track.end_unix_s - offset, run)
    t_s, v = per_second(track, run.start_unix_s + offset, run.duration_s)
    keep = ~np.all(np.isnan(v), axis=1)
    dist = v[keep, 1]
    distance = float(np.nanmax(dist)) if np.any(~np.isnan(dist)) else None
    rel = fit.relative_to(lib.root).as_posix()
    db = lib.db
    db.execute("DELETE FROM watch_samples WHERE run_id = ?", (run.id,))
    db.execute("DELETE FROM attachments WHERE run_id = ?", (run.id,))
    db.execute("INSERT INTO attachments VALUES (?, ?, 'watch-fit', ?, ?, ?, ?, ?)",
               (doc["id"], run.id, rel, offset, overlap, distance, doc["added_at"]))

    def val(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    db.executemany("INSERT INTO watch_samples VALUES (?, ?, ?, ?, ?, ?)",
                   ((run.id, float(t), *(val(x) for x in row))
                    for t, row in zip(t_s[keep], v[keep], strict=True)))
    return Attachment(str(doc["id"]), run.id, fit, offset, overlap, distance)


def watch_samples(lib: Library, run_id: RunRecord | str) -> list[dict[str, float | None]]:
    """The attached watch's values per second of the run (run time base), in time order.

    ``run_id``: a :class:`~imurun.store.library.RunRecord` or its id
    (:meth:`~imurun.store.library.Library.resolve_run`), as for the functions below.
    """
    run_id = lib._run_id_of(run_id)
    cols = ("t_s", "speed_mps", "distance_m", "heart_rate_bpm", "cadence_spm")
    rows = lib.db.execute(f"SELECT {', '.join(cols)} FROM watch_samples WHERE run_id = ? "
                          "ORDER BY t_s", (run_id,))
    return [dict(zip(cols, r, strict=True)) for r in rows]


def speed_track(lib: Library, run_id: RunRecord | str) -> SpeedTrack | None:
    """The attached watch's speed over the run (run time base); ``None`` without any speed."""
    run_id = lib._run_id_of(run_id)
    rows = lib.db.execute("SELECT t_s, speed_mps FROM watch_samples WHERE run_id = ? AND "
                          "speed_mps IS NOT NULL ORDER BY t_s", (run_id,)).fetchall()
    if not rows:
        return None
    # (imported only now: the signal core pulls in SciPy, seconds of start-up that a run
    # without a watch's speed, in `imurun show`, does not need)
    from imurun.signal.pace import SpeedTrack

    a = np.array([(r[0], r[1]) for r in rows], dtype=np.float64)
    track = SpeedTrack(a[:, 0], a[:, 1])
    return track if track.has_speed else None


def run_step_speed(lib: Library, run_id: RunRecord | str, *,
                   settings: PaceSettings | None = None,
                   ) -> tuple[StepSpeed, npt.NDArray[np.bool_]] | None:
    """Per-step speed, step and stride length of the run's indexed steps, and which are running.

    Steps in their index order (the analysis'); ``None`` without watch speed or steps.
    """
    run_id = lib._run_id_of(run_id)
    track = speed_track(lib, run_id)
    steps = lib.steps(run_id) if track is not None else []
    if track is None or not steps:
        return None
    from imurun.signal.pace import step_speed

    def col(key: str) -> npt.NDArray[np.float64]:
        return np.array([np.nan if s[key] is None else float(s[key]) for s in steps])

    running = np.array([s["activity"] == "run" for s in steps], dtype=bool)
    return step_speed(col("ic_s"), col("step_s"), col("vertical_oscillation_m"), track,
                      settings=settings), running


def run_stride_summary(lib: Library, run_id: RunRecord | str) -> StrideSummary | None:
    """Medians of speed, step and stride length and vertical ratio over the running steps."""
    got = run_step_speed(lib, run_id)
    if got is None:
        return None
    from imurun.signal.pace import stride_summary

    return stride_summary(got[0], got[1])


def attachment_of(lib: Library, run_id: RunRecord | str) -> dict[str, Any] | None:
    """The run's watch attachment as the index holds it (``None`` without one)."""
    run_id = lib._run_id_of(run_id)
    r = lib.db.execute("SELECT * FROM attachments WHERE run_id = ?", (run_id,)).fetchone()
    return None if r is None else {k: r[k] for k in r.keys()}


def check_attachments(lib: Library, run_dirs: Sequence[Path], report: CheckReport, *,
                      repair: bool) -> None:
    """Compare attachments on disk with the index.

    With ``repair``, index them (in the caller's transaction) and remove watch files whose
    attachment never completed.
    """
    indexed = {(r["run_id"], r["id"]) for r in lib.db.execute("SELECT run_id, id FROM attachments")}
    for d in run_dirs:
        docs = sorted(d.glob("watch-*.json"))
        done = {p.stem for p in docs}
        for fit in sorted(d.glob("watch-*.fit")):
            if fit.stem not in done:
                rel = fit.relative_to(lib.root)
                if not repair:
                    report.problems.append(f"{rel}: attachment never completed")
                else:
                    fit.unlink()
                    report.repaired.append(f"{rel}: removed (attachment never completed)")
        for p in docs:
            try:
                doc = read_json(p)
                if doc.get("schema") != ATTACHMENT_SCHEMA:
                    raise StoreError(f"{p.name}: not an {ATTACHMENT_SCHEMA} file")
            except (StoreError, AttributeError) as e:
                report.problems.append(f"{p.relative_to(lib.root)}: {e}")
                continue
            try:
                meta = read_json(d / "meta.json")
                run_id = str(meta["id"])
            except (StoreError, KeyError, TypeError):
                continue  # a run directory without its meta is reported by the run scan
            if not repair:
                if (run_id, doc["id"]) not in indexed:
                    report.problems.append(f"index: attachment {p.relative_to(lib.root)} not indexed")
                continue
            run = lib.get(run_id)
            if run is None:
                continue
            try:
                index_attachment(lib, run, d, doc)
            except (FileFormatError, UsageError) as e:
                report.problems.append(f"{p.relative_to(lib.root)}: {e}")
