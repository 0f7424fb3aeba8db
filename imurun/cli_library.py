"""The library's commands of ``imurun`` (athletes, sensors, runs, sharing, FIT): parse, call, print.

Registered by :func:`add_library_commands`; errors and exit codes are those of
:mod:`imurun.cli`. Every list and show command takes ``--json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imurun._timetext import pace_text
from imurun.errors import SyncError, UsageError

if TYPE_CHECKING:
    from imurun.device.sync import RunSink, SyncReport
    from imurun.store.library import Library, RunRecord
    from imurun.workflows import Analysed

EXIT_OK = 0


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def _json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False))


def _open(a: argparse.Namespace, *, create: bool = False) -> Library:
    """The library of ``--home``; the rebuild of a lost index shows its progress on a terminal.

    Only the commands that bring runs or athletes in (``sync``, ``import``, ``athlete add``)
    create a library; the others refuse a path that is none (exit 7) and write nothing there.
    """
    from imurun.store.library import Library

    return Library.open(getattr(a, "home", None), create=create, progress=_progress)


def _progress(what: str) -> Callable[[int, int], None]:
    """A progress bar on a terminal (once the task takes over a second), silent otherwise."""
    from imurun.cli_progress import counter

    return counter(what)


# ---------------------------------------------------------------------------- formatting
def _local(unix_s: float | None) -> str:
    if unix_s is None:
        return "no date"
    return dt.datetime.fromtimestamp(unix_s).astimezone().strftime("%Y-%m-%d %H:%M")


def _mmss(s: float | None) -> str:
    if s is None:
        return "-"
    m, sec = divmod(int(round(s)), 60)
    return f"{m // 60}:{m % 60:02d}:{sec:02d}" if m >= 60 else f"{m}:{sec:02d}"


def _v(d: Mapping[str, Any] | None, key: str, fmt: str = ".0f", unit: str = "") -> str:
    v = None if d is None else d.get(key)
    return "-" if not isinstance(v, int | float) else f"{v:{fmt}}{unit}"


def impact_text(s: Mapping[str, Any]) -> str:
    """The run's median impact for ``show``, with how clipping counted in it.

    A median over steps that clipped the sensor counts them as at least its limit; when half or
    more clipped, the median is unknown and ``impact_at_least_g`` bounds it from below.
    """
    pct = s.get("impact_clipped_pct")
    clipped = (f"{pct:.0f} % of the steps clipped the sensor"
               if isinstance(pct, int | float) and pct > 0 else "")
    if isinstance(s.get("impact_g"), int | float):
        return _v(s, "impact_g", ".1f", " g") + (f" ({clipped}: counted as at least its limit)"
                                                 if clipped else "")
    if isinstance(s.get("impact_at_least_g"), int | float):
        # (two decimals: a lower bound rounded up to one would overstate it)
        return f"at least {_v(s, 'impact_at_least_g', '.2f', ' g')}" + (
            f" ({clipped})" if clipped else "")
    return "-"


def summary_line(run: RunRecord) -> str:
    """Cadence, contact, bounce, braking and pelvic drop of a run, on one line."""
    s = run.summary
    if s is None:
        return f"not analysed ({run.analysis_error})" if run.analysis_error else "not analysed"
    if s.get("n_steps") == 0:  # (not a row of dashes: "contact - (-), bounce -, ...")
        walked = s.get("n_walking_steps")
        return ("no running found" + (f" ({walked} walking steps)" if isinstance(walked, int)
                                      else "") + ": no running metrics")
    return (f"{_v(s, 'n_steps')} steps, cadence {_v(s, 'cadence_spm')} /min, "
            f"contact {_v(s, 'contact_ms', unit=' ms')} "
            f"({_v(s, 'contact_balance_left_pct', '.1f', ' % L')}), "
            f"bounce {_v(s, 'vertical_oscillation_cm', '.1f', ' cm')}, "
            f"braking {_v(s, 'braking_mps', '.2f', ' m/s')}, "
            f"pelvic drop L {_v(s, 'pelvic_drop_stance_left_deg', '.1f', '°')} "
            f"R {_v(s, 'pelvic_drop_stance_right_deg', '.1f', '°')}")


def _run_title(run: RunRecord) -> str:
    who = run.athlete_name or "no athlete"
    return f"{run.short_id}  {_local(run.start_unix_s)}  {who}  {_mmss(run.duration_s)}"


def same_time_lines(lib: Library, runs: Sequence[RunRecord]) -> list[str]:
    """What to say about ``runs`` that share their time with another run of their athlete.

    One person runs one run at a time: such a pair is most likely one run held twice (the
    sensor's run and a phone's export of it, or a run and a CSV exported from it), and both
    would count in the history and the weekly summaries (:meth:`Library.same_time_runs`).
    """
    lines: list[str] = []
    said: set[frozenset[str]] = set()
    for given in runs:
        run = lib.get(given.id) or given
        for other in lib.same_time_runs(run):
            pair = frozenset((run.id, other.id))
            if pair in said:
                continue
            said.add(pair)
            lines.append(f"  run {run.short_id} was recorded at the same time as run "
                         f"{_run_title(other)}: one run held twice? Both count in the history "
                         f"and the weekly summaries; keep one with `imurun store set-aside "
                         f"{run.short_id}` (nothing is deleted)")
    return lines


def _print_analysed(analysed: Sequence[Analysed], available: bool,
                    reports: dict[str, Path | str] | None = None) -> None:
    for x in analysed:
        _say(f"  {_run_title(x.run)}: {summary_line(x.run) if x.ok else 'analysis failed: ' + str(x.error)}")
        rep = (reports or {}).get(x.run.id)
        if rep is not None:
            _say(f"    report {rep}" if isinstance(rep, Path) else f"    no report: {rep}")
    if not available:
        _say("  (analysis is not available in this version of imurun: the runs are stored and "
             "will be analysed by a later version)")


def _analyse_again_for_mass(lib: Library, runs: Sequence[RunRecord],
                            moved: Sequence[RunRecord] = ()) -> None:
    """Analyse again those of ``runs`` whose body mass changed (their stiffness depends on it).

    The reports written before of those runs, and of ``moved`` (runs that changed athlete),
    are rewritten to match.
    """
    from imurun.workflows import analyse_runs, mass_changed

    todo = mass_changed(lib, runs)
    if todo:
        analysed = analyse_runs(lib, todo, progress=_progress("analysed"))
        ok = sum(x.ok for x in analysed)
        _say(f"analysed {ok} run(s) again with the athlete's body mass as it is now"
             + (f" ({len(analysed) - ok} failed, see `imurun show RUN`)"
                if ok < len(analysed) else ""))
    _refresh_reports(lib, list({r.id: r for r in (*todo, *moved)}.values()))


def _refresh_reports(lib: Library, runs: Sequence[RunRecord]) -> None:
    """Rewrite the reports already written (at their default place) of ``runs``."""
    from imurun.report.run_report import report_path, write_reports

    stale = [r for r in (lib.get(x.id) for x in runs)
             if r is not None and report_path(lib.root, r.id).exists()]
    if not stale:
        return
    done = write_reports(lib, stale, progress=_progress("reports"))
    ok = [p for p in done.values() if isinstance(p, Path)]
    _say(f"rewrote {len(ok)} report(s) in {lib.root / 'reports'} to match"
         + "".join(f"\n  no report for a run: {p}" for p in done.values() if not isinstance(p, Path)))


# ---------------------------------------------------------------------------- sync
def cmd_sync_library(a: argparse.Namespace) -> int:
    """``imurun sync`` without ``--store``: into the library, then analyse the new runs."""
    import asyncio

    from imurun import cli
    from imurun.device.sync import SyncSettings, sync_runs
    from imurun.workflows import store_and_analyse

    ble = getattr(a, "ble", None)
    if not a.port and not ble:
        raise UsageError("give --port PATH (serial); BLE sync is --ble NAME_OR_ADDRESS")
    if a.port and ble:
        raise UsageError("give either --port or --ble, not both")
    settings = SyncSettings(erase=not a.keep)
    from imurun.cli_progress import SyncBars

    progress = SyncBars()

    def run_sync(sink: RunSink) -> SyncReport:
        if ble:
            return cli._run_ble(lambda backend: sync_runs(
                cli._ble_connect(a, backend), sink, settings, progress=progress,
                on_status=cli._link_status))
        return asyncio.run(sync_runs(cli._serial_connect(a.port, a.timeout), sink, settings,
                                     progress=progress, on_status=cli._link_status))

    with _open(a, create=True) as lib:
        out = store_and_analyse(lib, run_sync, progress=_progress("analysed"))
        report = out.report
        for r in report.runs:
            extra = f" (resumed at byte {r.resumed_from})" if r.resumed_from else ""
            err = f": {r.error}" if r.error else ""
            erased = ", erased on sensor" if r.erased else ""
            _say(f"run {r.run_id}: {r.status}{extra}{erased}{err}")
        if out.healed:
            from imurun.store.bundle import healed_note

            new = {(r.device_id, r.sensor_run_id, r.sensor_start_ms): r for r in out.stored}
            for old, aside in out.healed:
                run = new.get((old.device_id, old.sensor_run_id, old.sensor_start_ms), old)
                _say(f"  {healed_note(run, old, aside)}")
        who = lib.athlete_of_sensor(report.device_id)
        _say(f"synced {len(report.stored)} new run(s) from sensor {report.device_id:016x} in "
             f"{report.duration_s:.1f} s into {lib.root}: {report.bytes_fetched} bytes fetched, "
             f"{report.reconnects} reconnects, {report.chunks_rejected + report.frames_corrupt} "
             f"damaged chunks/frames re-requested")
        for line in same_time_lines(lib, out.stored):
            _say(line)
        if who is None and out.stored:
            _say(f"  sensor {report.device_id:016x} is bound to no athlete: "
                 f"`imurun sensor bind {report.device_id:016x} NAME` gives it (and these runs) one")
        reports = None
        if getattr(a, "report", True):
            from imurun.report.run_report import write_reports

            # every run this sync analysed: the new ones and any an interrupted sync left
            reports = write_reports(lib, [x.run for x in out.analysed if x.ok],
                                    progress=_progress("reports"))
        _print_analysed(out.analysed, out.analysis_available, reports)
    if not report.ok:
        raise SyncError("some runs could not be synced (see above); run sync again to resume")
    return EXIT_OK


# ---------------------------------------------------------------------------- athletes, sensors
def cmd_athlete_add(a: argparse.Namespace) -> int:
    with _open(a, create=True) as lib:
        ath = lib.add_athlete(a.name, mass_kg=a.mass_kg, leg_length_m=a.leg_length_m)
    _say(f"added athlete {ath.name} ({ath.id[:8]})")
    return EXIT_OK


def cmd_athlete_set(a: argparse.Namespace) -> int:
    if a.mass_kg is None and a.leg_length_m is None:
        raise UsageError("give --mass-kg and/or --leg-length-m")
    with _open(a) as lib:
        ath = lib.update_athlete(a.name, mass_kg=a.mass_kg, leg_length_m=a.leg_length_m)
        _say(f"{ath.name}: body mass {_opt(ath.mass_kg, 'kg')}, leg length "
             f"{_opt(ath.leg_length_m, 'm')}")
        _analyse_again_for_mass(lib, lib.runs(athlete=ath.id))
    return EXIT_OK


def cmd_athlete_rename(a: argparse.Namespace) -> int:
    with _open(a) as lib:
        old = lib.athlete(a.name)
        ath = lib.rename_athlete(old.id, a.new_name)
        _say(f"athlete {old.name} ({ath.id[:8]}) is now called {ath.name}")
        if ath.name != old.name:  # their reports written before carry the old name
            _refresh_reports(lib, lib.runs(athlete=ath.id))
    return EXIT_OK


def cmd_athlete_merge(a: argparse.Namespace) -> int:
    with _open(a) as lib:
        src = lib.athlete(a.source)
        moved = lib.runs(athlete=src.id)
        ath, n = lib.merge_athletes(src.id, a.into)
        _say(f"merged athlete {src.name} ({src.id[:8]}) into {ath.name} ({ath.id[:8]}): "
             f"{n} run(s) and their sensors now belong to {ath.name}")
        _analyse_again_for_mass(lib, lib.runs(athlete=ath.id), moved)
    return EXIT_OK


def cmd_athlete_assign(a: argparse.Namespace) -> int:
    from imurun.store.library import local_time_note, parse_local_time

    start = None if a.start is None else parse_local_time(a.start)
    with _open(a) as lib:
        run = lib.assign_run(lib.run(a.run).id, athlete=a.name, start_unix_s=start)
        _say(f"run {_run_title(run)}")
        note = None if a.start is None else local_time_note(a.start)
        if note:
            _say(f"  {note}")
        for line in same_time_lines(lib, [run]):
            _say(line)
        _analyse_again_for_mass(lib, [run], [run])
    return EXIT_OK


def _opt(v: float | None, unit: str) -> str:
    return "-" if v is None else f"{v:g} {unit}"


def cmd_athlete_list(a: argparse.Namespace) -> int:
    with _open(a) as lib:
        athletes = lib.athletes()
        sensors = lib.sensors()
        counts = {x.id: 0 for x in athletes}
        for r in lib.runs():
            if r.athlete_id in counts:
                counts[r.athlete_id] += 1
    by_athlete: dict[str, list[str]] = {}
    for s in sensors:
        if s.athlete_id:
            by_athlete.setdefault(s.athlete_id, []).append(s.device_id)
    if a.json:
        _json([{**x.to_json(), "sensors": by_athlete.get(x.id, []), "runs": counts[x.id]}
               for x in athletes])
        return EXIT_OK
    if not athletes:
        _say("no athletes yet: `imurun athlete add NAME [--mass-kg X] [--leg-length-m Y]`")
        return EXIT_OK
    _say(f"{'athlete':<20} {'id':<8}  {'mass':>7}  {'leg':>6}  {'runs':>4}  sensors")
    for x in athletes:
        _say(f"{x.name:<20} {x.id[:8]}  {_opt(x.mass_kg, 'kg'):>7}  {_opt(x.leg_length_m, 'm'):>6}"
             f"  {counts[x.id]:>4}  {', '.join(by_athlete.get(x.id, [])) or '-'}")
    return EXIT_OK


def cmd_sensor_bind(a: argparse.Namespace) -> int:
    from imurun.store.library import device_hex

    dev = device_hex(a.device_id)
    with _open(a) as lib:
        ath, n = lib.bind_sensor(dev, a.athlete)
        _say(f"sensor {dev} -> {ath.name}"
             + (f"; {n} earlier run(s) of it now belong to {ath.name}" if n else ""))
        # (also when no run moved now: a bind killed while it analysed them is finished so)
        theirs = [r for r in lib.runs(athlete=ath.id) if r.device_id == dev]
        _analyse_again_for_mass(lib, theirs, theirs if n else ())
    return EXIT_OK


def cmd_sensor_list(a: argparse.Namespace) -> int:
    with _open(a) as lib:
        names = {x.id: x.name for x in lib.athletes()}
        sensors = lib.sensors()
    if a.json:
        _json([{**s.to_json(), "athlete": names.get(s.athlete_id or "")} for s in sensors])
        return EXIT_OK
    if not sensors:
        _say("no sensors bound yet: `imurun sensor bind DEVICE_ID ATHLETE`")
    for s in sensors:
        _say(f"{s.device_id}  {names.get(s.athlete_id or '', '-'):<20}  since {s.bound_at}")
    return EXIT_OK


# ---------------------------------------------------------------------------- runs
def _date_range(a: argparse.Namespace) -> tuple[float | None, float | None]:
    from imurun.store.library import local_day_start, parse_date

    since = local_day_start(parse_date(a.since)) if a.since else None
    until = local_day_start(parse_date(a.until) + dt.timedelta(days=1)) if a.until else None
    if since is not None and until is not None and until <= since:
        raise UsageError("--until is before --since")
    return since, until


def cmd_runs(a: argparse.Namespace) -> int:
    from imurun.workflows import outdated_note

    since, until = _date_range(a)
    with _open(a) as lib:
        runs = lib.runs(athlete=a.athlete, since_unix_s=since, until_unix_s=until)
        root = lib.root
        note = None if a.json else outdated_note(lib, runs)[1]
    if a.json:
        _json([r.to_json() for r in runs])
        return EXIT_OK
    if not runs:
        _say(f"no runs{' matching' if a.athlete or a.since or a.until else ''} in {root}")
        return EXIT_OK
    _say(f"{'run':<10}  {'start':<16}  {'athlete':<12}  {'time':>7}  {'steps':>5}  {'cad':>4}  "
         f"{'contact':>7}  {'bounce':>6}  source")
    for r in runs:
        s = r.summary_values  # (index columns: no summary is parsed)
        _say(f"{r.short_id:<10}  {_local(r.start_unix_s):<16}  {(r.athlete_name or '-')[:12]:<12}  "
             f"{_mmss(r.duration_s):>7}  {_v(s, 'n_steps'):>5}  {_v(s, 'cadence_spm'):>4}  "
             f"{_v(s, 'contact_ms', unit=' ms'):>7}  {_v(s, 'vertical_oscillation_cm', '.1f', ' cm'):>6}  "
             f"{r.source}")
    _say(f"{len(runs)} run(s), {_mmss(sum(r.duration_s or 0 for r in runs))} in all")
    if note:
        _say(note)
    return EXIT_OK


def cmd_show(a: argparse.Namespace) -> int:
    from imurun.store.attach import attachment_of, run_stride_summary

    with _open(a) as lib:
        run = lib.run(a.run)
        att = attachment_of(lib, run.id)
        stride = run_stride_summary(lib, run.id)
        if a.json:
            d = run.to_json()
            d["attachment"] = att
            d["steps_indexed"] = len(lib.steps(run.id))
            d["stride"] = None if stride is None else stride.to_dict()
            _json(d)
            return EXIT_OK
    origin = (f"run {run.sensor_run_id} of sensor {run.device_id}" if run.sensor_run_id is not None
              else f"imported {run.format} file")
    _say(f"run {run.id}")
    _say(f"  origin     {origin}")
    _say(f"  athlete    {run.athlete_name or '-'}")
    given = " (entered by hand)" if run.start_given else ""
    _say(f"  start      {_local(run.start_unix_s)}{given}, {_mmss(run.duration_s)} long")
    crc = f", CRC-32 {run.crc32:08x}" if run.crc32 is not None else ""
    _say(f"  file       {run.path} ({run.size / 1024:.0f} KiB{crc})")
    _say(f"  added      {run.added_at} by {run.source} ({run.source_name})")
    if run.summary is None:
        _say(f"  analysis   {'failed: ' + run.analysis_error if run.analysis_error else 'none yet'}")
    else:
        s = run.summary
        _say(f"  analysis   imurun {run.analysis_version}")
        _say(f"  running    {_mmss(s.get('running_s'))}, {_v(s, 'n_steps')} steps, "
             f"cadence {_v(s, 'cadence_spm')} /min")
        _say(f"  contact    {_v(s, 'contact_ms', unit=' ms')}, flight {_v(s, 'flight_ms', unit=' ms')}, "
             f"balance {_v(s, 'contact_balance_left_pct', '.1f', ' % left')}")
        _say(f"  bounce     {_v(s, 'vertical_oscillation_cm', '.1f', ' cm')}, braking "
             f"{_v(s, 'braking_mps', '.2f', ' m/s')}, impact {impact_text(s)}")
        _say(f"  pelvis     drop L {_v(s, 'pelvic_drop_stance_left_deg', '.1f', '°')} "
             f"R {_v(s, 'pelvic_drop_stance_right_deg', '.1f', '°')}, tilt range "
             f"{_v(s, 'pelvic_tilt_range_deg', '.1f', '°')}, rotation range "
             f"{_v(s, 'pelvic_rotation_range_deg', '.1f', '°')}")
    if att is not None:
        dist = "-" if att["distance_m"] is None else f"{att['distance_m'] / 1000:.2f} km"
        _say(f"  watch      {Path(att['path']).name}: {dist}, {att['overlap_s']:.0f} s overlap, "
             f"clock offset {att['offset_s']:+g} s")
    if stride is not None and stride.n_steps:
        pace = stride.pace_s_per_km
        _say(f"  stride     step {stride.step_length_m:.2f} m, stride {stride.stride_length_m:.2f} m, "
             f"vertical ratio {stride.vertical_ratio_pct:.1f} %, pace "
             f"{pace_text(pace)} /km ({stride.n_steps} running steps "
             "with the watch's speed)")
    return EXIT_OK


# ---------------------------------------------------------------------------- store
def cmd_store_check(a: argparse.Namespace) -> int:
    from imurun.errors import StoreError
    from imurun.store.library import Library

    with Library.open(getattr(a, "home", None), create=False, recover=a.repair,
                      progress=_progress) as lib:
        rep = lib.check(repair=a.repair, progress=_progress)
        root = lib.root
        n = len(lib.runs())
    fixable = len(rep.problems) - len(rep.unresolved)
    if a.json:
        _json({"root": str(root), "runs_ok": rep.runs_ok, "problems": rep.problems,
               "repaired": rep.repaired, "index_rebuilt": rep.index_rebuilt, "ok": rep.ok,
               "unresolved": rep.unresolved, "damaged": rep.damaged})
    else:
        for p in rep.problems:
            _say(f"problem: {p}")
        for r in rep.repaired:
            _say(f"repaired: {r}")
        damaged = f" ({len(rep.damaged)} damaged)" if rep.damaged else ""
        if rep.ok:
            state = "consistent"
        elif a.repair and not rep.unresolved:
            state = "repaired"
        elif a.repair:
            state = (f"{len(rep.unresolved)} problem(s) a repair cannot fix (see above)"
                     + ("; the rest repaired" if fixable else ""))
        else:
            state = f"{len(rep.problems)} problem(s)" + (
                ": run `imurun store check --repair`" if fixable and not rep.unresolved else
                "; `imurun store check --repair` fixes the index, the rest needs you (see above)"
                if fixable else ", which a repair cannot fix (see above)")
        _say(f"{root}: {rep.runs_ok} run file(s) on disk{damaged}, {n} indexed; {state}")
    if not rep.ok and (not a.repair or rep.unresolved):
        left = rep.unresolved if a.repair else rep.problems
        raise StoreError(f"{len(left)} problem(s) in {root}")
    return EXIT_OK


def cmd_store_set_aside(a: argparse.Namespace) -> int:
    with _open(a) as lib:
        run = lib.run(a.run)
        dst = lib.set_aside(run.id)
    _say(f"set run {_run_title(run)} aside: its files are in {dst}, and it is no longer in the "
         f"library (`imurun store restore {run.short_id}` brings it back)")
    return EXIT_OK


def cmd_store_restore(a: argparse.Namespace) -> int:
    with _open(a) as lib:
        if a.run is None:
            aside = lib.set_aside_entries()
            if not aside:
                _say(f"no runs are set aside in {lib.root}")
            for e in aside:
                _say(f"{e.short_id}  {e.directory}")
                _say(f"  {e.describe()}")
            return EXIT_OK
        from imurun.store._files import sha256_file
        from imurun.store.bundle import healed_note, replaced_note

        res = lib.restore(a.run)
        run = res.run
        damaged = not run.path.exists() or sha256_file(run.path) != run.id
        _say(f"restored run {_run_title(run)} into the library"
             + ("; its file is still damaged (see `imurun store check`)" if damaged else ""))
        for old in res.replaced:
            _say(f"  {replaced_note(run, old)}")
        for old, kept in res.healed:
            _say(f"  {healed_note(run, old, kept)}")
        if not damaged:
            _analyse_again_for_mass(lib, [run], [run])
    return EXIT_OK


def cmd_store_reanalyze(a: argparse.Namespace) -> int:
    from imurun.workflows import analyse_runs, default_analyzer, outdated

    with _open(a) as lib:
        if a.runs:
            if a.athlete is not None:
                raise UsageError("give run ids or --athlete, not both")
            chosen = list({r.id: r for r in (lib.run(x) for x in a.runs)}.values())
            todo = [(r, "asked for") for r in chosen]
        else:
            chosen = lib.runs(athlete=a.athlete)
            todo = [(r, "asked for") for r in chosen] if a.all else outdated(lib, chosen)
        if default_analyzer(lib) is None:
            raise UsageError("analysis is not available in this version of imurun")
        if not todo:
            _say(f"all {len(chosen)} analysed run(s) are up to date (`--all` analyses them again "
                 "all the same)")
            return EXIT_OK
        if not a.runs and not a.all:
            for r, why in todo:
                _say(f"  {r.short_id}: {why}")
        analysed = analyse_runs(lib, [r for r, _ in todo], progress=_progress("analysed"))
        _print_analysed(analysed, True)
        _refresh_reports(lib, [x.run for x in analysed if x.ok])
    failed = sum(not x.ok for x in analysed)
    _say(f"analysed {len(analysed) - failed} run(s) again"
         + (f"; {failed} could not be analysed" if failed else ""))
    return EXIT_OK


# ---------------------------------------------------------------------------- sharing
def cmd_share(a: argparse.Namespace) -> int:
    from imurun.cli import check_output, writing
    from imurun.store.bundle import share

    since, until = _date_range(a)
    check_output(a.out, option="--out", home=getattr(a, "home", None))
    with _open(a) as lib, writing(a.out):
        res = share(lib, a.athlete, a.out, since_unix_s=since, until_unix_s=until)
    _say(f"wrote {res.path}: {len(res.runs)} run(s) of {res.runs[0].athlete_name}, "
         f"{res.size / 1024:.0f} KiB")
    return EXIT_OK


def cmd_import(a: argparse.Namespace) -> int:
    from imurun.cli_analysis import file_options
    from imurun.store.library import parse_local_time
    from imurun.workflows import import_path

    with _open(a, create=True) as lib:
        out = import_path(lib, a.file, progress=_progress("imported"),
                          file_options=file_options(a), athlete=a.athlete,
                          start_unix_s=None if a.start is None else parse_local_time(a.start))
        root = lib.root
        r = out.result
        given = a.athlete is not None or a.start is not None
        same_time = same_time_lines(lib, [*r.added, *(r.already if given else ())])
    for ath in r.athletes_added:
        _say(f"new athlete {ath.name} ({ath.id[:8]})")
    for theirs, ours in r.athletes_matched if a.athlete is not None else ():
        _say(f"athlete {theirs.name} ({theirs.id[:8]}) of {r.source} is taken as {ours.name} "
             f"({ours.id[:8]}), as --athlete says: their runs go to {ours.name}")
    for theirs, ours in r.athletes_matched if a.athlete is None else ():
        _say(f"athlete {theirs.name} ({theirs.id[:8]}) of {r.source} is taken as this library's "
             f"{ours.name} ({ours.id[:8]}), who has the same name: their runs go to {ours.name} "
             "(two people? `imurun athlete add OTHER_NAME`, then `imurun athlete assign "
             "OTHER_NAME RUN` for each of these runs)")
    for run in r.added:
        _say(f"added {_run_title(run)}")
    if (a.athlete is not None or a.start is not None) and r.already:
        _say(f"held already, now {_run_title(r.already[0])}")
    for line in same_time:
        _say(line)
    _print_analysed(out.analysed, out.analysis_available or not r.added)
    for note in r.notes:
        _say(note)
    if a.start is not None and (r.added or r.already):
        from imurun.store.library import local_time_note

        when = local_time_note(a.start)
        if when:
            _say(when)
    for p in r.problems:
        _say(f"problem: {p}")
    _say(f"imported {r.source} into {root}: {len(r.added)} new run(s), {len(r.already)} already held"
         + (f", {len(r.completed)} completed" if r.completed else "")
         + (f", {len(r.repaired)} repaired" if r.repaired else "")
         + (f", {len(r.problems)} problem(s)" if r.problems else ""))
    if r.problems:
        from imurun.errors import FileFormatError

        raise FileFormatError(str(a.file), f"{len(r.problems)} item(s) could not be imported (see above)")
    return EXIT_OK


# ---------------------------------------------------------------------------- FIT
def cmd_export_fit(a: argparse.Namespace) -> int:
    from imurun.cli import check_output, writing
    from imurun.report.fit import export_fit

    with _open(a) as lib:
        run = lib.run(a.file)
        check_output(a.fit, option="--fit", inputs=[run.path], home=lib.root)
        with writing(a.fit):
            res = export_fit(lib, run, a.fit)
    _say(f"wrote {res.path}: {res.records} records ({res.kind}), {res.size / 1024:.0f} KiB")
    return EXIT_OK


def cmd_export_csv(a: argparse.Namespace) -> int:
    """``imurun export RUN --csv OUT``: a library run as imurun's CSV, with its start.

    The start is the library's: the recording's own, or the one ``--start`` gave it, so that
    the CSV imported elsewhere lands on the same day of the athlete's history.
    """
    from imurun.cli import check_output, writing
    from imurun.cli_analysis import file_options
    from imurun.ingest.export import write_csv
    from imurun.ingest.files import load_recording

    given = [f"--{k.replace('_', '-')}" for k, v in file_options(a).items() if v]
    if given:
        raise UsageError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to a "
                         f"file, not to library run {a.file}: the library reads its runs "
                         "without them")
    with _open(a) as lib:
        run = lib.run(a.file)
        check_output(a.csv, option="--csv", inputs=[run.path], home=lib.root)
        rec = load_recording(run.path)
        with writing(a.csv):
            write_csv(rec, Path(a.csv), start_unix_s=run.start_unix_s)
    _say(f"wrote {rec.n_samples} samples of run {run.short_id} to {a.csv}")
    return EXIT_OK


def cmd_export_steps(a: argparse.Namespace) -> int:
    from imurun.cli import check_output, writing
    from imurun.report.steps import export_steps_csv

    with _open(a) as lib:
        run = lib.run(a.file)
        check_output(a.steps_csv, option="--steps-csv", inputs=[run.path], home=lib.root)
        with writing(a.steps_csv):
            res = export_steps_csv(lib, run, a.steps_csv)
    speed = (f", {res.with_speed} with the watch's speed" if res.watch
             else " (attach a watch file for speed, step and stride length)")
    _say(f"wrote {res.path}: {res.rows} steps{speed}")
    return EXIT_OK


def cmd_attach(a: argparse.Namespace) -> int:
    from imurun.store.attach import attach_watch_fit

    with _open(a) as lib:
        run = lib.run(a.run)
        att = attach_watch_fit(lib, run, a.file, offset_s=a.offset_s)
        n = lib.db.execute("SELECT COUNT(*) FROM watch_samples WHERE run_id = ?", (run.id,)).fetchone()[0]
    if not att.added:
        _say(f"{Path(a.file).name} is attached to run {run.short_id} already")
        return EXIT_OK
    dist = "no distance" if att.distance_m is None else f"{att.distance_m / 1000:.2f} km"
    _say(f"attached {Path(a.file).name} to run {run.short_id}: {att.overlap_s:.0f} s overlap, "
         f"{n} seconds with watch data, {dist}")
    if att.replaced is not None:
        _say(f"  it replaces the watch file attached before ({att.replaced}): a run holds one")
    return EXIT_OK


# ---------------------------------------------------------------------------- parser
def add_library_commands(sub: Any) -> None:
    """Add the library's subcommands to ``imurun``'s subparsers."""
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", default=argparse.SUPPRESS, metavar="DIR",
                      help="library directory (default: $IMURUN_HOME or the user data directory)")

    s = sub.add_parser("athlete", help="athlete profiles")
    ss = s.add_subparsers(dest="athlete_command", required=True, metavar="ACTION")
    x = ss.add_parser("add", parents=[home], help="add an athlete")
    x.add_argument("name", help="the athlete's name (unique in the library, any case)")
    x.add_argument("--mass-kg", type=float, default=None, help="body mass, kg")
    x.add_argument("--leg-length-m", type=float, default=None, help="leg length, m")
    x.set_defaults(func=cmd_athlete_add)
    x = ss.add_parser("set", parents=[home], help="change an athlete's body mass or leg length")
    x.add_argument("name", help="athlete name or id")
    x.add_argument("--mass-kg", type=float, default=None,
                   help="body mass, kg (the runs are analysed again with it)")
    x.add_argument("--leg-length-m", type=float, default=None, help="leg length, m")
    x.set_defaults(func=cmd_athlete_set)
    x = ss.add_parser("rename", parents=[home], help="give an athlete another name")
    x.add_argument("name", help="athlete name or id")
    x.add_argument("new_name", help="the name to give")
    x.set_defaults(func=cmd_athlete_rename)
    x = ss.add_parser("merge", parents=[home],
                      help="make two profiles of one person one: runs and sensors move")
    x.add_argument("source", help="the athlete to merge away (name or id)")
    x.add_argument("into", help="the athlete to keep (name or id)")
    x.set_defaults(func=cmd_athlete_merge)
    x = ss.add_parser("assign", parents=[home],
                      help="give a run its athlete (and a start time, if its recording has none)")
    x.add_argument("name", help="athlete name or id")
    x.add_argument("run", help="run id (4+ leading hex digits, see `imurun runs`) or 'latest'")
    x.add_argument("--start", metavar="'YYYY-MM-DD HH:MM'", default=None,
                   help="when the run started, local time (for recordings without a date; a time "
                        "the clocks pass twice is taken as the first)")
    x.set_defaults(func=cmd_athlete_assign)

    x = ss.add_parser("list", parents=[home], help="list athletes")
    x.add_argument("--json", action="store_true", help="print JSON")
    x.set_defaults(func=cmd_athlete_list)

    s = sub.add_parser("sensor", help="sensor bindings (a sensor's runs go to its athlete)")
    ss = s.add_subparsers(dest="sensor_command", required=True, metavar="ACTION")
    x = ss.add_parser("bind", parents=[home], help="bind a sensor to an athlete")
    x.add_argument("device_id", help="sensor id, hex (as `imurun sync` prints it)")
    x.add_argument("athlete", help="athlete name or id")
    x.set_defaults(func=cmd_sensor_bind)
    x = ss.add_parser("list", parents=[home], help="list sensor bindings")
    x.add_argument("--json", action="store_true", help="print JSON")
    x.set_defaults(func=cmd_sensor_list)

    s = sub.add_parser("runs", parents=[home], help="list runs in the library")
    s.add_argument("--athlete", help="name or id")
    s.add_argument("--since", help="first day, YYYY-MM-DD (local time)")
    s.add_argument("--until", help="last day, YYYY-MM-DD (included)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_runs)

    s = sub.add_parser("show", parents=[home], help="one run of the library")
    s.add_argument("run", help="run id (4+ leading hex digits) or 'latest'")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("store", help="the library itself")
    ss = s.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    x = ss.add_parser("check", parents=[home], help="compare the index with the files")
    x.add_argument("--repair", action="store_true", help="rebuild the index from the files")
    x.add_argument("--json", action="store_true", help="print JSON")
    x.set_defaults(func=cmd_store_check)
    x = ss.add_parser("set-aside", parents=[home],
                      help="move a run whose file is damaged out of the library (kept in "
                           "HOME/set-aside/)")
    x.add_argument("run", help="run id (4+ leading hex digits, see `imurun runs`)")
    x.set_defaults(func=cmd_store_set_aside)
    x = ss.add_parser("restore", parents=[home],
                      help="bring a run set aside back into the library (without RUN: list "
                           "what is set aside, with where from, when and why)")
    x.add_argument("run", nargs="?", default=None,
                   help="id of a run set aside (4+ leading hex digits)")
    x.set_defaults(func=cmd_store_restore)
    x = ss.add_parser("reanalyze", parents=[home],
                      help="analyse runs again: by default those whose analysis is out of date "
                           "(failed, older imurun, or the athlete's body mass changed)")
    x.add_argument("runs", nargs="*", metavar="RUN",
                   help="run ids (4+ leading hex digits) or 'latest'; default: every run that "
                        "is out of date")
    x.add_argument("--athlete", default=None, metavar="NAME", help="only this athlete's runs")
    x.add_argument("--all", action="store_true", help="every run (of --athlete), up to date or not")
    x.set_defaults(func=cmd_store_reanalyze)

    s = sub.add_parser("share", parents=[home], help="write a bundle of an athlete's runs")
    s.add_argument("--athlete", required=True, help="whose runs (name or id)")
    s.add_argument("--since", help="first day, YYYY-MM-DD")
    s.add_argument("--until", help="last day, YYYY-MM-DD (included)")
    s.add_argument("--out", required=True, help="bundle file to write (.zip)")
    s.set_defaults(func=cmd_share)

    s = sub.add_parser("import", parents=[home],
                       help="import a bundle, a shared library folder, or a recording")
    s.add_argument("file", help="a bundle (imurun share), another library's folder, or one "
                                "recording (any supported file)")
    s.add_argument("--athlete", default=None, metavar="NAME",
                   help="the athlete the recording belongs to (for recordings from other "
                        "loggers); for a bundle or library of one athlete, this library's NAME "
                        "for them")
    s.add_argument("--start", metavar="'YYYY-MM-DD HH:MM'", default=None,
                   help="when the run started, local time (for a recording without a date; a time "
                        "the clocks pass twice is taken as the first)")
    from imurun.cli_analysis import add_file_options

    add_file_options(s)
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("attach", parents=[home], help="attach a watch's FIT file to a run")
    s.add_argument("run", help="run id (4+ leading hex digits) or 'latest'")
    s.add_argument("file", help="FIT activity file from a watch")
    s.add_argument("--offset-s", type=float, default=0.0,
                   help="how far the watch's clock is ahead of the sensor's, s")
    s.set_defaults(func=cmd_attach)
