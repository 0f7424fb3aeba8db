"""The runner's and coach's workflows, one function each; the CLI (and the demo) call these.

* :func:`store_and_analyse`: a sync straight into the library, then the analysis of every new run.
* :func:`import_path`: a bundle, a shared store directory or a single recording, then analyses.
* :func:`analyse_runs`: (re)analyse runs and keep the results in the library.
* :func:`outdated`, :func:`mass_changed`: which kept analyses should be made again, and why.

Transports stay outside: :func:`store_and_analyse` takes a function that runs a sync into a
:class:`~imurun.device.sync.RunSink`, so serial and BLE (and tests) go through the same code.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from imurun.errors import FileFormatError, ImurunError, MissingFileError, UsageError
from imurun.store.library import Library, RunRecord, require_run, require_runs

if TYPE_CHECKING:
    from imurun.device.sync import RunSink, SyncReport
    from imurun.store.bundle import ImportResult

Analyzer = Callable[[RunRecord], dict[str, Any]]
Progress = Callable[[int, int], None]  # done, total


@dataclass(frozen=True)
class Analysed:
    """The outcome of analysing one run."""

    run: RunRecord  # as indexed afterwards (with its summary when the analysis succeeded)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SyncOutcome:
    report: SyncReport
    stored: tuple[RunRecord, ...]  # runs this sync stored
    analysed: tuple[Analysed, ...]  # includes earlier runs of the sensor left unanalysed
    analysis_available: bool
    #: damaged copies the stored runs replaced: (the run as it was held, where it is now)
    healed: tuple[tuple[RunRecord, Path], ...] = ()


@dataclass(frozen=True)
class ImportOutcome:
    result: ImportResult
    analysed: tuple[Analysed, ...]
    analysis_available: bool


def default_analyzer(lib: Library) -> Analyzer | None:
    """``imurun.analyze`` applied to a library run, or ``None`` while the signal core is absent.

    The athlete's body mass goes along when it is known.
    """
    if importlib.util.find_spec("imurun.analysis") is None:
        return None
    analyze = getattr(importlib.import_module("imurun.analysis"), "analyze", None)
    if analyze is None:
        return None
    takes_mass = "mass_kg" in inspect.signature(analyze).parameters

    def run_analysis(run: RunRecord) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if takes_mass and run.athlete_id is not None:
            mass = next((a.mass_kg for a in lib.athletes() if a.id == run.athlete_id), None)
            if mass is not None:
                params["mass_kg"] = mass
        result = analyze(str(run.path), **params)
        doc = result.to_json() if hasattr(result, "to_json") else result
        d = json.loads(doc) if isinstance(doc, str | bytes) else doc
        if not isinstance(d, dict):
            raise TypeError(f"imurun.analyze returned {type(d).__name__}, not an analysis document")
        return d

    return run_analysis


def analysis_available() -> bool:
    """Whether this imurun has its signal core, found without importing it (SciPy: seconds)."""
    return importlib.util.find_spec("imurun.analysis") is not None


def analyse_runs(lib: Library, runs: Sequence[RunRecord], *, analyzer: Analyzer | None = None,
                 progress: Progress | None = None) -> list[Analysed]:
    """Analyse ``runs`` and keep each result (or its error) in the library.

    A run that cannot be analysed (too short, no running, a damaged file) gets its error recorded
    and the others go on. Each of ``runs`` is a ``RunRecord`` (``lib.run(ref)`` gives the one
    a run id names; :class:`~imurun.errors.UsageError` at once otherwise).
    """
    require_runs(runs, "runs")
    fn = analyzer or default_analyzer(lib)
    if fn is None:
        return []
    out = []
    for i, run in enumerate(runs):
        t0 = time.monotonic()
        try:
            rec = lib.set_analysis(run.id, fn(run))
            out.append(Analysed(rec, None, time.monotonic() - t0))
        except (ImurunError, ValueError, TypeError) as e:
            # ImurunError: the signal core refused the input; ValueError/TypeError: the input or the
            # result was not what was expected. Either way this run only.
            msg = str(e) or type(e).__name__
            lib.set_analysis_error(run.id, msg)
            out.append(Analysed(lib.get(run.id) or run, msg, time.monotonic() - t0))
        if progress is not None:
            progress(i + 1, len(runs))
    return out


def analysed_mass(lib: Library, run: RunRecord | str) -> tuple[bool, float | None]:
    """(whether the run's kept analysis says which body mass it used, that mass).

    ``run``: a ``RunRecord`` or its id (:meth:`~imurun.store.library.Library.resolve_run`).
    """
    run = lib.resolve_run(run)
    if run.analysis_version is None:
        return False, None
    if run.analysis_mass_known:
        return True, run.analysis_mass_kg
    # Indexed before the index kept the mass (or the analysis does not say): ask the file.
    try:
        doc = lib.analysis(run)
    except (OSError, ValueError):
        return False, None
    params = (doc or {}).get("parameters")
    if not isinstance(params, dict) or "mass_kg" not in params:
        return False, None
    m = params["mass_kg"]
    return True, (float(m) if isinstance(m, int | float) else None)


def mass_changed(lib: Library, runs: Sequence[RunRecord]) -> list[RunRecord]:
    """Runs analysed with another body mass than their athlete's (or none) as the library has it now.

    Vertical stiffness needs the body mass, so these runs' stiffness is missing or out of date
    until they are analysed again. Each of ``runs`` is a ``RunRecord``
    (:class:`~imurun.errors.UsageError` at once otherwise).
    """
    require_runs(runs, "runs")
    masses = {a.id: a.mass_kg for a in lib.athletes()}
    out = []
    for r in runs:
        known, used = analysed_mass(lib, r)
        now = masses.get(r.athlete_id or "")
        same = used is now if used is None or now is None else abs(used - now) <= 1e-9
        if known and not same:
            out.append(r)
    return out


def outdated(lib: Library, runs: Sequence[RunRecord]) -> list[tuple[RunRecord, str]]:
    """The runs of ``runs`` whose analysis should be made again, each with the reason.

    A run is out of date when it was never analysed, when its last analysis failed, when it was
    analysed by another version of imurun, or with another body mass than its athlete's, a
    paused phyphox export whose analysis counts its pause as lost data
    (:func:`pause_counted_as_lost`), and a recording sampled below 95 Hz analysed at its own
    rate (:func:`slow_rate_not_interpolated`). Each of ``runs`` is a ``RunRecord``
    (:class:`~imurun.errors.UsageError` at once otherwise).
    """
    return [(r, why) for r, _, why in _outdated(lib, runs)]


def _outdated(lib: Library, runs: Sequence[RunRecord]) -> list[tuple[RunRecord, str, str]]:
    """:func:`outdated`, each run also with a short label of its reason (shared by a kind)."""
    from imurun import __version__

    require_runs(runs, "runs")

    changed = {r.id for r in mass_changed(lib, runs)}
    out: list[tuple[RunRecord, str, str]] = []
    for r in runs:
        if r.analysis_error is not None:
            out.append((r, "analysis failed", f"its last analysis failed ({r.analysis_error})"))
        elif r.analysis_version is None:
            out.append((r, "not analysed", "not analysed yet"))
        elif r.id in changed:
            out.append((r, "analysed with another body mass",
                        "analysed with another body mass than the athlete's"))
        elif r.analysis_version != __version__:
            out.append((r, f"analysed by imurun {r.analysis_version}",
                        f"analysed by imurun {r.analysis_version} (this is {__version__})"))
        elif pause_counted_as_lost(r):
            out.append((r, "a pause counted as lost data",
                        "paused phyphox export analysed before imurun told a pause from lost "
                        "data: its pause counts as lost data ('no data')"))
        elif slow_rate_not_interpolated(r):
            out.append((r, "a slow recording not interpolated",
                        "sampled below 95 Hz and analysed at that rate, before imurun "
                        "interpolated slow recordings for the step detection: its contact "
                        "times are less precise"))
    return out


#: The note the first phyphox reader gave a paused export ("paused 1 time(s) (7.5 s): a gap
#: each, start from meta/time.csv"); the analysis keeps the recording's notes in its quality.
_PAUSE_AS_GAP_NOTE: Final = "): a gap each, start from meta/time.csv"


def pause_counted_as_lost(run: RunRecord) -> bool:
    """Whether ``run``'s analysis counts a phyphox pause as lost data.

    The first phyphox reader made each pause of an export a gap of lost data (and said so in a
    note of the recording, which the analysis keeps); since then a pause is its own kind of
    gap, with a ``paused`` line in the time breakdown, and no data counted lost. An analysis
    with that note and no such line was made before: analysing it again puts it right. Only
    phyphox runs that were paused are concerned, and from the index alone (``imurun runs`` and
    the weekly summary ask this of every run they show). ``run`` is a ``RunRecord``
    (:class:`~imurun.errors.UsageError` at once otherwise: a run id text was answered False).
    """
    require_run(run, "run")
    if run.format != "phyphox" or run.summary_json is None \
            or _PAUSE_AS_GAP_NOTE not in run.summary_json:  # no need to parse the rest
        return False
    quality = (run.summary or {}).get("quality")
    if not isinstance(quality, dict):
        return False
    noted = any(isinstance(n, str) and n.startswith("paused ") and n.endswith(_PAUSE_AS_GAP_NOTE)
                for n in quality.get("notes") or ())
    paused = any(isinstance(t, dict) and t.get("reason") == "paused"
                 for t in quality.get("time") or ())
    return noted and not paused


def slow_rate_not_interpolated(run: RunRecord) -> bool:
    """Whether ``run``'s analysis read a recording sampled below 95 Hz at its own rate.

    Since the clean-up interpolates such recordings for the step detection
    (:class:`~imurun.signal.cleanup.CleanupSettings`), an analysis gives the rate it ran at
    (``quality.analysed_fs_hz``); one of a slow recording without it was made before, by the
    same version of imurun. From the index alone, as :func:`pause_counted_as_lost`. ``run``
    is a ``RunRecord`` (:class:`~imurun.errors.UsageError` at once otherwise).
    """
    require_run(run, "run")
    if run.summary_json is None or '"analysed_fs_hz"' in run.summary_json:
        return False
    # the recording's rate, read without parsing the summary (listings ask this of every run)
    m = _FS_KEY.search(run.summary_json)
    if m is None:
        return False
    try:
        fs = float(m.group(1))
    except ValueError:
        return False
    return 0 < fs < INTERPOLATED_BELOW_HZ


#: ``quality.fs_hz`` in a summary's JSON text (the only ``fs_hz`` key of a summary).
_FS_KEY: Final = re.compile(r'"fs_hz": *(-?[0-9][0-9.eE+-]*)')
#: Below this rate the clean-up interpolates a recording (the default of
#: ``CleanupSettings.interpolate_below_hz`` since analyses give ``analysed_fs_hz``; written
#: here so that listing runs does not load the signal core).
INTERPOLATED_BELOW_HZ: Final = 95.0


def outdated_note(lib: Library, runs: Sequence[RunRecord]) -> tuple[int, str | None]:
    """How many of ``runs`` have an out-of-date analysis, and one line saying so and what to do.

    The line is None when every analysis is up to date. Shown under run lists and weekly
    summaries: their numbers come from the stored analyses, which ``imurun store reanalyze``
    brings up to date (after an upgrade of imurun, say); the reasons are those of
    :func:`outdated`. Each of ``runs`` is a ``RunRecord`` (:class:`~imurun.errors.UsageError`
    at once otherwise).
    """
    from imurun import __version__

    todo = _outdated(lib, runs)
    if not todo:
        return 0, None
    counts: dict[str, int] = {}
    for _, label, _ in todo:
        counts[label] = counts.get(label, 0) + 1
    n = len(todo)
    parts = [label if n == 1 else f"{c} {label}"
             for label, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    older = any(label.startswith("analysed by imurun") for label in counts)
    this = f"; this is imurun {__version__}" if older else ""
    return n, (f"{n} run{'s' if n != 1 else ''} with an out-of-date analysis ({', '.join(parts)}"
               f"{this}): `imurun store reanalyze` makes {'it' if n == 1 else 'them'} again")


def unanalysed(lib: Library, *, device_id: str | None = None) -> list[RunRecord]:
    """Runs with neither an analysis nor a recorded analysis error."""
    return [r for r in lib.runs() if r.analysis_version is None and r.analysis_error is None
            and (device_id is None or r.device_id == device_id)]


def store_and_analyse(lib: Library, sync: Callable[[RunSink], SyncReport], *,
                      analyse: bool = True, analyzer: Analyzer | None = None,
                      progress: Progress | None = None) -> SyncOutcome:
    """Run ``sync`` into the library, then analyse the runs it stored.

    Runs of the same sensor that an interrupted earlier sync stored but did not analyse are
    analysed too, so running the sync again completes everything.

    The library's lock is held throughout, taken before ``sync`` can reach the sensor: a second
    sync (or an import, or a repair) meanwhile is refused at once with
    :class:`~imurun.store.lock.StoreBusyError`, and this one with it when another holds the lock.
    """
    from imurun.store.sink import LibrarySink

    sink = LibrarySink(lib)
    with sink.lock("sync"):
        report = sync(sink)
        todo = {r.id: r for r in sink.stored}
        if analyse:
            todo.update({r.id: r for r in unanalysed(lib, device_id=f"{report.device_id:016x}")})
        # (the signal core is imported only when there is a run to analyse: a sync with nothing
        # new does not pay its start-up)
        fn = (analyzer or default_analyzer(lib)) if analyse and todo else None
        analysed: list[Analysed] = []
        if fn is not None:
            analysed = analyse_runs(lib, list(todo.values()), analyzer=fn, progress=progress)
        available = fn is not None if analyse and todo else analyse and analysis_available()
    stored = tuple(lib.get(r.id) or r for r in sink.stored)
    return SyncOutcome(report, stored, tuple(analysed), available, tuple(sink.healed))


def _add_converted(lib: Library, p: Path, opts: Mapping[str, Any]) -> Any:
    """Read ``p`` with ``opts``, store it as imurun's CSV (named after ``p``)."""
    import tempfile

    from imurun.ingest.export import write_csv
    from imurun.ingest.files import load_recording, sniff

    if "columns" not in opts and sniff(p) not in ("csv", "xsens"):
        raise UsageError(f"{p}: --acc-unit, --gyr-unit, --columns and --time-unit apply to CSV "
                         "and Xsens files only")
    rec = load_recording(p, **opts)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{p.stem}.csv"
        write_csv(rec, out)
        return lib.add_file(out, source="import")


def _phone_export(p: Path) -> str | None:
    """``"sensorlogger"`` or ``"phyphox"`` when ``p`` is (a file of) such an export, else ``None``."""
    from imurun.ingest.files import sniff

    try:
        kind = sniff(p)
    except FileFormatError:
        return None
    return kind if kind in ("sensorlogger", "phyphox") else None


def _add_phone_export(lib: Library, p: Path, kind: str, opts: Mapping[str, Any]) -> Any:
    """Store the phone-app export ``p`` is, or is a file of, as one zip of the files read.

    The library keeps one file per run: the export's own folder (or a file of it, without its
    siblings) would not read again, nor would a zip of a whole recording with photos and audio
    be worth keeping.
    """
    import tempfile

    from imurun.ingest import phyphox, sensorlogger
    from imurun.ingest.files import load_recording

    load_recording(p, **opts)  # (refuses options that do not apply, and unreadable exports)
    if kind == "sensorlogger" and sensorlogger.is_json(p):  # one file already: kept as it is
        return lib.add_file(p, source="import")
    pack = sensorlogger.pack if kind == "sensorlogger" else phyphox.pack
    with tempfile.TemporaryDirectory() as tmp:
        return lib.add_file(pack(p, tmp), source="import")


def import_path(lib: Library, path: str | os.PathLike[str], *, analyse: bool = True,
                analyzer: Analyzer | None = None, progress: Progress | None = None,
                file_options: Mapping[str, Any] | None = None, athlete: str | None = None,
                start_unix_s: float | None = None) -> ImportOutcome:
    """Import a bundle, a shared store directory, or one recording; analyse what came unanalysed.

    ``file_options`` (``acc_unit``, ``gyr_unit``, ``columns``, ``time_unit`` of
    :func:`imurun.ingest.files.load_recording`) read a CSV or Xsens file that needs them; the
    library then keeps it converted to imurun's own CSV (SI units, named columns), so that it
    reads the same without the options later.

    ``athlete`` (name or id) and ``start_unix_s`` apply to one recording (new or held already):
    they give a recording from another logger, which names no bound sensor and often no date,
    its athlete and its start (:meth:`Library.assign_run`), before it is analysed. For a bundle
    or library of one athlete, ``athlete`` takes that athlete as this library's one named.

    Imports hold the library's lock shared: they run beside one another, not beside a sync or a
    repair (:class:`~imurun.store.lock.StoreBusyError`).
    """
    with lib.lock("import", shared=True):
        return _import_path(lib, path, analyse=analyse, analyzer=analyzer, progress=progress,
                            file_options=file_options, athlete=athlete, start_unix_s=start_unix_s)


def _import_path(lib: Library, path: str | os.PathLike[str], *, analyse: bool,
                 analyzer: Analyzer | None, progress: Progress | None,
                 file_options: Mapping[str, Any] | None, athlete: str | None,
                 start_unix_s: float | None) -> ImportOutcome:
    from imurun.store.bundle import (
        ImportResult,
        healed_note,
        import_bundle,
        is_bundle,
        partial_copy_note,
        replaced_note,
    )

    p = Path(path)
    if not p.exists():
        raise MissingFileError(str(p), "cannot read: No such file or directory")
    phone = _phone_export(p)
    if phone is not None:  # a folder or zip of CSVs, not a bundle: one recording
        if athlete is not None:
            lib.athlete(athlete)  # an unknown name is refused before anything is added
        add = _add_phone_export(lib, p, phone,
                                {k: v for k, v in (file_options or {}).items() if v})
        run = add.run
        if athlete is not None or start_unix_s is not None:
            run = lib.assign_run(run.id, athlete=athlete, start_unix_s=start_unix_s)
        result = ImportResult(p.name)
        (result.added if add.added else result.already).append(run)
    elif p.is_dir() or is_bundle(p):
        if start_unix_s is not None:
            raise UsageError(f"{p}: --start applies to a single recording; the runs of a bundle "
                             "or library have their own start times")
        result = import_bundle(lib, p, progress=progress, athlete=athlete)
    else:
        with open(p, "rb") as fh:
            head = fh.read(12)
        if head.startswith(b"PK\x03\x04"):  # a zip, yet not a readable one
            raise FileFormatError(str(p), "a damaged or incomplete zip file (a bundle cut short "
                                          "in the download or copy?): get the bundle again")
        if len(head) >= 12 and head[8:12] == b".FIT":
            raise FileFormatError(str(p), "a FIT file: attach it to its run with "
                                          "`imurun attach RUN FILE`")
        if athlete is not None:
            lib.athlete(athlete)  # an unknown name is refused before anything is added
        opts = {k: v for k, v in (file_options or {}).items() if v}
        if opts:
            add = _add_converted(lib, p, opts)
        else:
            add = lib.add_file(p, source="import")
        run = add.run
        if athlete is not None or start_unix_s is not None:
            run = lib.assign_run(run.id, athlete=athlete, start_unix_s=start_unix_s)
        result = ImportResult(p.name)
        (result.added if add.added else result.repaired if add.healed else result.already
         ).append(run)
        result.notes.extend(healed_note(run, old, aside) for old, aside in add.healed)
        if add.partial_of is not None:
            result.notes.append(partial_copy_note(p.name, p.stat().st_size, add.partial_of))
        result.notes.extend(replaced_note(add.run, old) for old in add.replaced)
    # Held already, but not analysed: an import of them killed before their analysis was
    # kept. Running it again completes it, as a sync does.
    held = {r.id: lib.get(r.id) or r for r in (*result.added, *result.already, *result.completed)}
    added = [r for r in held.values() if r.analysis_error is None]
    # unanalysed, or analysed elsewhere with another body mass than this library's athlete has
    todo = [r for r in added if r.analysis_version is None]
    # (body mass: only the runs this import added; checking the held ones would read the
    # analysis.json of every run of a bundle imported again, and a change of an athlete's
    # mass analyses their runs again where it is made)
    new = {r.id for r in result.added}
    todo += mass_changed(lib, [r for r in added if r.analysis_version is not None
                               and r.id in new])
    todo += [lib.get(r.id) or r for r in result.repaired]  # its analysis was of damaged bytes
    todo = list({r.id: r for r in todo}.values())
    # (the signal core is imported only when there is a run to analyse: importing a bundle
    # held already, or one whose runs come analysed, does not pay its start-up)
    fn = (analyzer or default_analyzer(lib)) if analyse and todo else None
    analysed = analyse_runs(lib, todo, analyzer=fn) if fn is not None else []
    available = fn is not None if analyse and todo else analyse and analysis_available()
    return ImportOutcome(result, tuple(analysed), available)
