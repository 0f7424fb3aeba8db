"""The local library: layout, profiles, index, rebuild from files, concurrency, sync into it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from imurun import __version__
from imurun.cli import main
from imurun.device.client import SensorClient
from imurun.device.sync import RunSink, SyncReport, SyncSettings, sync_runs
from imurun.errors import NotFoundError, StoreError, UsageError
from imurun.store import schema
from imurun.store.library import Library, RunRecord
from imurun.transport.serial import SerialTransport
from imurun.workflows import store_and_analyse
from tests.library_support import DEVICE_A, DEVICE_B, T0_MS, analysis_json, write_run
from tests.sim_support import virtual_sensor, wait_for

DAY_MS = 86_400_000


@pytest.fixture
def lib(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Library.open(tmp_path / "home") as lib:
        yield lib


def _db_files(home: Path) -> list[Path]:
    return [p for p in home.iterdir() if p.name.startswith("index.sqlite3")]


def test_athletes_and_sensor_bindings_live_in_profiles_json_too(lib: Library) -> None:
    ana = lib.add_athlete("Ana", mass_kg=58.0, leg_length_m=0.86)
    lib.add_athlete("Ben")
    with pytest.raises(UsageError, match="exists already"):
        lib.add_athlete("ana")
    with pytest.raises(UsageError, match="outside"):
        lib.add_athlete("Cy", mass_kg=2.0)
    _, n = lib.bind_sensor(DEVICE_A, "ANA")
    assert n == 0
    assert lib.athlete(ana.id[:6]) == ana
    with pytest.raises(NotFoundError, match="known: Ana, Ben"):
        lib.athlete("Dee")
    prof = json.loads((lib.root / "profiles.json").read_text())
    assert prof["schema"] == "imurun.profiles/1"
    assert {a["name"] for a in prof["athletes"]} == {"Ana", "Ben"}
    assert prof["sensors"] == [{"device_id": f"{DEVICE_A:016x}", "athlete_id": ana.id,
                                "bound_at": prof["sensors"][0]["bound_at"]}]


def test_a_run_is_stored_once_byte_exact_and_goes_to_its_sensors_athlete(lib: Library,
                                                                       tmp_path: Path) -> None:
    ana = lib.add_athlete("Ana")
    lib.bind_sensor(DEVICE_A, "Ana")
    src = write_run(tmp_path / "in", DEVICE_A, 7)
    first = lib.add_file(src)
    again = lib.add_file(src)
    assert first.added
    assert not again.added
    assert again.run == first.run
    run = first.run
    assert run.path.read_bytes() == src.read_bytes()
    assert run.rel_path == (f"runs/{DEVICE_A:016x}/20261120T070000Z-run-00000007-{run.crc32:08x}/"
                            f"run-00000007-{run.crc32:08x}.imrn")
    assert run.athlete_id == ana.id
    assert (run.sensor_run_id, run.sensor_start_ms, run.start_unix_s) == (7, T0_MS, T0_MS / 1000)
    assert run.duration_s == pytest.approx(20.0)
    meta = json.loads((run.directory / "meta.json").read_text())
    assert meta["id"] == run.id
    assert meta["athlete_id"] == ana.id
    assert len(lib.runs()) == 1


def test_two_runs_with_the_same_id_and_crc_are_different_runs(lib: Library, tmp_path: Path) -> None:
    # Same device, run id and block lengths, another day: this is what a sensor whose flash was
    # reset produces. Neither may hide the other (and their CRC-32s differ: the block CRC sits
    # before the payload, so a run's CRC depends on its content, SPEC §5.2).
    a = lib.add_file(write_run(tmp_path / "a", DEVICE_A, 1, start_unix_ms=T0_MS)).run
    b = lib.add_file(write_run(tmp_path / "b", DEVICE_A, 1, start_unix_ms=T0_MS + DAY_MS)).run
    assert a.crc32 != b.crc32
    assert a.id != b.id
    assert len(lib.runs()) == 2


def _truncated(src: Path, out: Path, n_bytes: int) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(src.read_bytes()[:n_bytes])  # `head -c`: a sync or copy that stopped early
    return out


def test_a_partial_copy_of_a_held_run_is_not_a_second_run(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    full = write_run(tmp_path / "in", DEVICE_A, 1, seconds=60.0)
    part = _truncated(full, tmp_path / "cut" / "trunc.imrn", 40_000)
    with Library.open(home) as lib:
        held = lib.add_file(full).run
        res = lib.add_file(part)
        assert not res.added
        assert res.partial_of == held
        assert res.run == held
        assert lib.runs() == [held]
    assert main(["--home", str(home), "import", str(part)]) == 0
    out = capsys.readouterr().out
    assert f"trunc.imrn is a partial copy (39 of {held.size / 1024:.0f} KiB) of run {held.short_id}" in out
    assert "0 new run(s), 1 already held" in out
    assert main(["--home", str(home), "runs"]) == 0
    assert "1 run(s), 1:00 in all" in capsys.readouterr().out


def test_a_damaged_copy_of_a_held_run_is_not_a_second_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1, seconds=30.0)
    with Library.open(home) as lib:
        held = lib.add_file(src).run
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit in a sample block
    damaged = tmp_path / "damaged.imrn"
    damaged.write_bytes(bytes(data))
    assert main(["--home", str(home), "import", str(damaged)]) == 3
    err = capsys.readouterr().err
    assert f"a damaged copy (1 damaged block(s)) of run {held.short_id}" in err
    with Library.open(home) as lib:
        assert [r.id for r in lib.runs()] == [held.id]


def test_a_complete_run_replaces_a_partial_copy_imported_first(tmp_path: Path) -> None:
    from imurun.store.attach import attach_watch_fit
    from tests.report_support import watch_fit

    full = write_run(tmp_path / "in", DEVICE_A, 1, seconds=60.0)
    part = _truncated(full, tmp_path / "cut" / "trunc.imrn", 40_000)
    with Library.open(tmp_path / "home") as lib:
        ana = lib.add_athlete("Ana")
        first = lib.add_file(part, athlete_id=ana.id).run  # no sensor binding: given by hand
        assert first.duration_s is not None
        assert first.duration_s < 30
        lib.set_analysis(first.id, analysis_json(10))
        attach_watch_fit(lib, first, watch_fit(tmp_path / "w.fit", T0_MS / 1000, 60))
        res = lib.add_file(full)
        assert res.added
        assert [r.id for r in res.replaced] == [first.id]
        run = res.run
        assert [r.id for r in lib.runs()] == [run.id]  # counted once
        assert run.athlete_id == ana.id  # nothing assigned to the partial copy is lost
        assert run.duration_s == pytest.approx(60.0)
        assert run.analysis_version is None  # the whole run is analysed again
        att = lib.db.execute("SELECT run_id, path FROM attachments").fetchall()
        assert [(r["run_id"], Path(r["path"]).parent) for r in att] == [
            (run.id, Path(run.rel_path).parent)]
        assert not first.directory.exists()
        assert json.loads((run.directory / "meta.json").read_text())["athlete_id"] == ana.id
        assert lib.check().ok


def test_check_repairs_a_replacement_interrupted_before_the_partial_copy_was_removed(
        tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "home"
    full = write_run(tmp_path / "in", DEVICE_A, 1, seconds=60.0)
    part = _truncated(full, tmp_path / "cut" / "trunc.imrn", 40_000)
    with Library.open(home) as lib:
        ana = lib.add_athlete("Ana")
        first = lib.add_file(part, athlete_id=ana.id).run
        kept = first.directory.with_name(first.directory.name + "-kept")
        shutil.copytree(first.directory, kept)
        run = lib.add_file(full).run
    kept.rename(first.directory)  # as if killed before the partial copy's directory went
    _delete_index(home)
    with Library.open(home) as lib:  # the rebuild counts the run once
        assert [r.id for r in lib.runs()] == [run.id]
        assert lib.runs()[0].athlete_id == ana.id
        assert not first.directory.exists()


def _logger_csv(path: Path, seconds: float = 12.0, fs_hz: float = 128.0) -> Path:
    """A CSV from another logger (Shimmer column names, time from zero): no sensor, no date."""
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    rows = ["Accel_LN_X,Accel_LN_Y,Accel_LN_Z,System_Timestamp_Plot_Zeroed"]
    rows += [f"{0.3 * np.sin(x):.5f},{0.2:.5f},{9.81 + 5 * np.sin(2 * np.pi * 2.8 * x):.5f},{x * 1e3:.3f}"
             for x in t]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_recording_from_another_logger_gets_its_athlete_and_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    from imurun.report.weekly import IsoWeek, weekly_summary

    home = tmp_path / "home"
    csv = _logger_csv(tmp_path / "logger.csv")
    args = ["--home", str(home)]
    assert main([*args, "athlete", "add", "Ana"]) == 0
    assert main([*args, "import", str(csv), "--athlete", "Bob"]) != 0
    assert "no athlete 'Bob' (known: Ana)" in capsys.readouterr().err
    with Library.open(home) as lib:
        assert lib.runs() == []  # a mistyped name adds nothing
    assert main([*args, "import", str(csv), "--athlete", "Ana", "--start", "2026-11-17 18:00"]) == 0
    start = dt.datetime(2026, 11, 17, 18, 0).astimezone().timestamp()
    out = capsys.readouterr().out
    assert "no athlete" not in out
    assert "no date" not in out
    with Library.open(home) as lib:
        [run] = lib.runs(athlete="Ana")
        assert (run.start_unix_s, run.start_given, run.athlete_name) == (start, True, "Ana")
        meta = json.loads((run.directory / "meta.json").read_text())
        assert (meta["athlete_id"], meta["start_unix_s"], meta["start_given"]) == (
            run.athlete_id, start, True)
        week = weekly_summary(lib, IsoWeek.parse("2026-W47"))
        assert [(a.name, a.runs) for a in week.athletes] == [("Ana", 1)]
    _delete_index(home)
    with Library.open(home) as lib:  # files are the truth: the rebuilt index keeps both
        assert lib.runs() == [run]


def test_athlete_assign_gives_a_held_run_its_athlete_and_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    args = ["--home", str(home)]
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        csv_run = lib.add_file(_logger_csv(tmp_path / "logger.csv")).run
        sensor_run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
    assert (csv_run.athlete_id, csv_run.start_unix_s) == (None, None)
    assert main([*args, "athlete", "assign", "Ana", csv_run.short_id,
                 "--start", "2026-11-17T18:00+00:00"]) == 0
    assert f"run {csv_run.short_id}" in capsys.readouterr().out
    assert main([*args, "athlete", "assign", "Ana", sensor_run.short_id,
                 "--start", "2026-11-17 18:00"]) == 2
    assert "has its own start time from the recording" in capsys.readouterr().err
    assert main([*args, "athlete", "assign", "Ana", csv_run.short_id, "--start", "yesterday"]) == 2
    assert "'yesterday' is not a start time (YYYY-MM-DD HH:MM" in capsys.readouterr().err
    assert main([*args, "athlete", "assign", "Ana", sensor_run.short_id]) == 0
    with Library.open(home) as lib:
        got = {r.id: r for r in lib.runs(athlete="Ana")}
        assert got[csv_run.id].start_unix_s == T0_MS / 1000 - 3 * 86400 + 11 * 3600
        assert got[csv_run.id].start_given
        assert got[sensor_run.id].start_unix_s == T0_MS / 1000  # its own, unchanged
        assert not got[sensor_run.id].start_given
    capsys.readouterr()
    # `show` says which start was entered by hand
    assert main([*args, "show", csv_run.short_id]) == 0
    start = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("start"))
    assert "(entered by hand)" in start
    assert main([*args, "show", sensor_run.short_id]) == 0
    start = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("start"))
    assert "by hand" not in start


def test_analysis_is_indexed_per_run_and_per_step(lib: Library, tmp_path: Path) -> None:
    run = lib.add_file(write_run(tmp_path / "in")).run
    doc = analysis_json(40, seed=1)
    rec = lib.set_analysis(run.id, doc)
    assert rec.analysis_version == "0.1.0"
    assert rec.summary == doc["summary"]  # extra keys kept
    steps = lib.steps(run.id)
    assert len(steps) == 41
    assert steps[0] == {k: doc["steps"][0][k] for k in schema.STEP_COLUMNS}
    assert steps[-1]["side"] is None
    assert steps[-1]["pelvic_drop_deg"] is None
    n_left = lib.db.execute("SELECT COUNT(*) FROM steps WHERE run_id = ? AND side = 'L' AND "
                            "activity = 'run'", (run.id,)).fetchone()[0]
    assert n_left == 20
    text = {r[1] for r in lib.db.execute("PRAGMA table_info(steps)") if r[2] == "TEXT"}
    assert text - {"run_id"} == schema.TEXT_STEP_COLUMNS  # (what the rows hold as text)
    with pytest.raises(Exception, match="not an imurun.analysis/1"):
        lib.set_analysis(run.id, {"schema": "something else"})
    assert lib.get(run.id) == rec  # a refused result changes nothing


def test_an_analysis_with_a_step_that_is_not_an_object_is_refused_and_set_aside(
        tmp_path: Path) -> None:
    """It stopped the rebuild of a lost index with an AttributeError (``step.get``): an
    untrusted analysis.json is checked before a value of it is read, so it is set aside."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in")).run
        bad = analysis_json(3)
        bad["steps"][1] = [0.5, 0.8]
        with pytest.raises(Exception, match="a step that is not an object"):
            lib.set_analysis(run.id, bad)
        assert lib.get(run.id) == run
    (run.directory / "analysis.json").write_text(json.dumps(bad))
    _delete_index(home)
    with Library.open(home) as lib:
        assert lib.notes[-1] == "index rebuilt from 1 run(s) on disk"
        assert "set aside the damaged analysis" in lib.notes[0]
        assert lib.get(run.id) == run
    assert not (run.directory / "analysis.json").exists()


def test_a_failed_transaction_leaves_nothing_behind(lib: Library) -> None:
    def crash_half_way() -> None:
        with lib.transaction() as db:
            db.execute("INSERT INTO athletes VALUES ('x', 'Ghost', NULL, NULL, '')")
            raise RuntimeError("crash half-way")

    with pytest.raises(RuntimeError):
        crash_half_way()
    assert lib.athletes() == []


def _delete_index(home: Path) -> None:
    for p in _db_files(home):
        p.unlink()


def test_deleting_the_index_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        ana = lib.add_athlete("Ana", mass_kg=60.0)
        lib.bind_sensor(DEVICE_A, "Ana")
        runs = [lib.add_file(write_run(tmp_path / "in", DEVICE_A, i, start_unix_ms=T0_MS + i * DAY_MS)).run
                for i in range(3)]
        lib.set_analysis(runs[1].id, analysis_json(30))
        before = lib.runs()
    _delete_index(home)
    with Library.open(home) as lib:
        assert lib.notes == ["index rebuilt from 3 run(s) on disk"]
        assert lib.athletes() == [ana]
        assert lib.sensors()[0].athlete_id == ana.id
        assert lib.runs() == before
        assert len(lib.steps(runs[1].id)) == 31
        assert lib.check().ok


def _index_rows(lib: Library) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables an analysis fills, in key order, with each value's SQLite type."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for table, key in (("steps", "run_id, i"), ("run_summaries", "run_id")):
        cols = [r[1] for r in lib.db.execute(f"PRAGMA table_info({table})")]
        typed = ", ".join(f"{c}, typeof({c})" for c in cols)
        out[table] = [tuple(r) for r in lib.db.execute(f"SELECT {typed} FROM {table} ORDER BY {key}")]
    out["runs"] = [tuple(r) for r in lib.db.execute(
        "SELECT id, analysis_version, analysis_error, analysis_mass_known, analysis_mass_kg "
        "FROM runs ORDER BY id")]
    return out


def test_a_rebuilt_index_holds_the_rows_indexing_made_row_for_row(tmp_path: Path) -> None:
    """The rebuild reads each analysis once and extracts its steps column by column: the rows
    are those :meth:`Library.set_analysis` wrote, NULLs included (a missing key, a boolean, a
    string where a number belongs), for runs with and without an analysis."""
    home = tmp_path / "home"
    odd = analysis_json(25, seed=3)
    odd["steps"][0] = {"ic_s": 1, "to_s": True, "side": 7, "activity": None, "contact_s": "0.2",
                       "flight_s": np.float64(0.11), "extra": [1, 2]}  # (and the rest missing)
    odd["steps"][1]["braking_mps"] = False
    odd["summary"]["cadence_spm"] = True
    odd["summary"]["impact_g"] = "2.5"
    odd["indicators"] = [{"key": "overstriding", "level": "watch"}]
    odd["parameters"] = {"mass_kg": 61}
    with Library.open(home) as lib:
        runs = [lib.add_file(write_run(tmp_path / "in", DEVICE_A, i, start_unix_ms=T0_MS + i * DAY_MS)).run
                for i in range(4)]
        lib.set_analysis(runs[0].id, analysis_json(120, seed=1))
        lib.set_analysis(runs[1].id, odd)
        lib.set_analysis(runs[2].id, {"schema": "imurun.analysis/1", "steps": [], "summary": {}})
        made = _index_rows(lib)
    assert len(made["steps"]) == 121 + 26
    _delete_index(home)
    with Library.open(home) as lib:
        assert lib.notes == ["index rebuilt from 4 run(s) on disk"]
        assert _index_rows(lib) == made
        assert lib.check(repair=True).index_rebuilt is False  # (consistent: nothing to do)
        lib.db.execute("DELETE FROM steps WHERE run_id = ?", (runs[0].id,))
        lib.db.execute("UPDATE runs SET analysis_version = NULL WHERE id = ?", (runs[0].id,))
        assert lib.check(repair=True).index_rebuilt
        assert _index_rows(lib) == made


def test_check_finds_and_repair_fixes_every_kind_of_drift(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        runs = [lib.add_file(write_run(tmp_path / "in", DEVICE_A, i)).run for i in range(3)]
        lib.set_analysis(runs[0].id, analysis_json(10))
        lib.db.execute("DELETE FROM runs WHERE id = ?", (runs[1].id,))  # unindexed run
        lib.db.execute("DELETE FROM steps")  # (its summary stays)
        lib.db.execute("UPDATE runs SET analysis_version = NULL")
        lib.db.execute("DELETE FROM athletes")  # profiles.json still has Ana
    (runs[2].directory / "meta.json").unlink()  # a run file without its metadata
    leftover = home / "runs" / f"{DEVICE_A:016x}" / "20261120T070000Z-run-00000099-00000000"
    leftover.mkdir()
    (leftover / "meta.json").write_text("{}")  # an import killed before the run file
    (runs[0].directory / ".analysis.json.tmp-999999999-0").write_bytes(b"half")
    args = ["--home", str(home), "store", "check"]
    assert main(args) == 6
    out = capsys.readouterr().out
    for what in ("not indexed", "meta.json missing", "no run file", "temporary file",
                 "athletes or sensors differ"):
        assert what in out
    assert main([*args, "--repair"]) == 0
    assert "repaired: index rebuilt from 3 run(s)" in capsys.readouterr().out
    assert main(args) == 0
    with Library.open(home) as lib:
        assert sorted(r.id for r in lib.runs()) == sorted(r.id for r in runs)
        assert len(lib.steps(runs[0].id)) == 11
        assert [a.name for a in lib.athletes()] == ["Ana"]
    assert not leftover.exists()


def test_a_lost_meta_json_is_written_again_from_what_the_index_knows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The run's athlete, where it came from, when it was added and a start given by hand
    survive in the index; the run file is there, so it is not reported as missing."""
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    assert main([*cli, "athlete", "add", "Ana", "--mass-kg", "61"]) == 0
    assert main([*cli, "import", str(_logger_csv(tmp_path / "logger.csv")), "--athlete", "Ana",
                 "--start", "2026-11-20 07:00"]) == 0
    with Library.open(home) as lib:
        run = lib.run("latest")
    meta = json.loads((run.directory / "meta.json").read_text(encoding="utf-8"))
    (run.directory / "meta.json").unlink()
    capsys.readouterr()
    assert main([*cli, "store", "check"]) == 6
    out = capsys.readouterr().out
    assert "meta.json missing" in out
    assert "has no file" not in out
    assert main([*cli, "store", "check", "--repair"]) == 0
    assert "wrote meta.json from the run file and the index" in capsys.readouterr().out
    again = json.loads((run.directory / "meta.json").read_text(encoding="utf-8"))
    assert again == meta
    with Library.open(home) as lib:
        held = lib.run(run.id)
        assert (held.athlete_name, held.source, held.start_unix_s, held.start_given) == (
            "Ana", "import", run.start_unix_s, True)
    assert main([*cli, "store", "reanalyze"]) == 0
    assert "up to date" in capsys.readouterr().out  # same athlete, same mass: nothing to redo


def test_a_damaged_index_is_set_aside_and_rebuilt(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_file(write_run(tmp_path / "in"))
    _delete_index(home)
    (home / "index.sqlite3").write_bytes(b"this is not a database" * 100)
    assert main(["--home", str(home), "runs"]) == 6
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "store check --repair" in err
    assert main(["--home", str(home), "store", "check", "--repair"]) == 0
    assert "set aside" in capsys.readouterr().out
    with Library.open(home) as lib:
        assert len(lib.runs()) == 1


def test_an_index_damaged_inside_its_pages_is_one_line_and_exit_6(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Damage that opening the library does not read shows at a later query (SQLite reports
    it then): one line naming the repair, exit 6, never "unexpected error"."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_file(write_run(tmp_path / "in"))

    def malformed(*_: object, **__: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Library, "runs", malformed)
    for argv in (["runs"], ["store", "check"]):
        assert main(["--home", str(home), *argv]) == 6, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "unexpected" not in err
        assert "database disk image is malformed" in err
        assert "store check --repair" in err


def test_migrations_bring_an_old_index_up_to_date(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = sqlite3.connect(home / "index.sqlite3", isolation_level=None)
    schema.migrate(db, target=1)
    db.execute("INSERT INTO athletes VALUES ('a1', 'Old', NULL, NULL, '')")
    db.close()
    with Library.open(home) as lib:
        assert lib.db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
        assert lib.db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0] == 0
        assert [a.name for a in lib.athletes()] == ["Old"]
        lib.db.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this imurun"):
        Library.open(home)


def test_migration_5_keeps_the_attachments_of_an_older_index(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = sqlite3.connect(home / "index.sqlite3", isolation_level=None)
    schema.migrate(db, target=4)
    db.execute("INSERT INTO runs (id, path, format, size, source, source_name, added_at) "
               "VALUES ('r1', 'runs/a/r1.imrn', 'stored-run', 1, 'sync', 'x', '')")
    db.execute("INSERT INTO attachments VALUES ('f1', 'r1', 'watch-fit', 'runs/a/watch-f1.fit', "
               "0, 60, 180.5, '')")
    schema.migrate(db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert db.execute("SELECT id, run_id, distance_m FROM attachments").fetchall() == [
        ("f1", "r1", 180.5)]
    # the same watch file may now belong to a second run
    db.execute("INSERT INTO runs (id, path, format, size, source, source_name, added_at) "
               "VALUES ('r2', 'runs/a/r2.imrn', 'stored-run', 1, 'sync', 'x', '')")
    db.execute("INSERT INTO attachments VALUES ('f1', 'r2', 'watch-fit', 'runs/b/watch-f1.fit', "
               "0, 60, 90.0, '')")
    db.close()


_WRITER = """
import sys
from collections.abc import Callable
from pathlib import Path
from imurun.store.library import Library
home, src = Path(sys.argv[1]), Path(sys.argv[2])
with Library.open(home) as lib:
    lib.add_athlete(sys.argv[3])
    for p in sorted(src.glob("*.imrn")):
        lib.add_file(p)
"""


def test_two_processes_writing_at_once_corrupt_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Library.open(home).close()
    for who, dev in (("a", DEVICE_A), ("b", DEVICE_B)):
        for i in range(12):
            write_run(tmp_path / who, dev, i, seconds=2.0)
    write_run(tmp_path / "a", DEVICE_B, 5, seconds=2.0)  # also written by b: stored once
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(home), str(tmp_path / who), name],
                              stderr=subprocess.PIPE, text=True)
             for who, name in (("a", "Ana"), ("b", "Ben"))]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with Library.open(home) as lib:
        assert len(lib.runs()) == 24
        assert [a.name for a in lib.athletes()] == ["Ana", "Ben"]
        assert lib.check().ok
        assert lib.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cli_lists_and_shows_with_json_and_clear_errors(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    assert main(["--home", home, "athlete", "add", "Ana", "--mass-kg", "58"]) == 0
    assert main(["--home", home, "sensor", "bind", f"{DEVICE_A:x}", "ana"]) == 0
    with Library.open(home) as lib:
        for i in range(3):
            run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, i, start_unix_ms=T0_MS + i * DAY_MS)).run
            lib.set_analysis(run.id, analysis_json(20, seed=i))
    capsys.readouterr()
    assert main(["runs", "--home", home, "--athlete", "Ana", "--since", "2026-11-21", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["sensor_run_id"] for r in listed] == [1, 2]
    assert listed[0]["summary"]["cadence_spm"] == 172.0
    assert main(["show", "--home", home, listed[0]["id"][:8], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == listed[0]["id"]
    assert shown["steps_indexed"] == 21
    assert main(["show", "--home", home, "latest"]) == 0
    out = capsys.readouterr().out
    assert "run 2 of sensor" in out
    assert "pelvis     drop L 4.8° R 4.0°" in out
    assert main(["athlete", "list", "--home", home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["runs"] == 3
    for argv, code, msg in (
            (["show", "--home", home, "ffff"], 7, "no run 'ffff'"),
            (["show", "--home", home, "xyz"], 2, "at least 4 hex digits"),
            (["runs", "--home", home, "--since", "21.11.2026"], 2, "not a date"),
            (["runs", "--home", home, "--athlete", "Zed"], 7, "no athlete 'Zed'"),
            (["sensor", "bind", "--home", home, "nothex", "Ana"], 2, "not hexadecimal"),
            (["import", "--home", home, str(tmp_path / "none.zip")], 3, "No such file")):
        assert main(argv) == code, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert msg in err
        assert "Traceback" not in err


# ---------------------------------------------------------------------------- sync into it
def _serial(port: Path) -> object:
    async def connect() -> SensorClient:
        t = SerialTransport(str(port))
        await t.open(10.0)
        return SensorClient(t, timeout_s=3.0)

    return connect


def _fake_analyzer(run: RunRecord) -> dict[str, object]:
    return analysis_json(25, seed=run.sensor_run_id or 0)


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_sync_stores_into_the_library_and_analyses(tmp_path: Path) -> None:
    with virtual_sensor(tmp_path, "--seed", "21", "--runs", "2", "--minutes", "1") as s:
        flash = {p.name: p.read_bytes() for p in s.flash.glob("run-*.imrn")}
        with Library.open(tmp_path / "home") as lib:
            dev = int(next(iter(flash.values()))[8:16][::-1].hex(), 16)
            ana = lib.add_athlete("Ana")
            lib.bind_sensor(dev, "Ana")

            def run_sync(sink: RunSink) -> SyncReport:
                return asyncio.run(sync_runs(_serial(s.link), sink, SyncSettings()))  # type: ignore[arg-type]

            out = store_and_analyse(lib, run_sync, analyzer=_fake_analyzer)
            again = store_and_analyse(lib, run_sync, analyzer=_fake_analyzer)
            runs = lib.runs()
    assert len(out.stored) == 2
    assert all(a.ok for a in out.analysed)
    assert again.stored == ()
    assert again.analysed == ()
    assert sorted(r.path.read_bytes() for r in runs) == sorted(flash.values())
    assert {r.athlete_id for r in runs} == {ana.id}
    assert all(r.summary is not None and r.summary["n_steps"] == 25 for r in runs)


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_sync_into_the_library_killed_with_sigkill_completes_on_rerun(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "IMURUN_HOME": str(home)}
    with virtual_sensor(tmp_path, "--seed", "22", "--runs", "2", "--minutes", "2",
                        "--rate", "40000") as s:
        flash = sorted(p.read_bytes() for p in s.flash.glob("run-*.imrn"))
        partial = home / "runs" / ".partial"
        log = tmp_path / "host.log"
        with open(log, "wb") as fh:
            host = subprocess.Popen([sys.executable, "-m", "imurun", "sync", "--port", str(s.link)],
                                    stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            def mid_run() -> bool:
                parts = list(partial.glob("*.part")) if partial.exists() else []
                return any(p.stat().st_size > 20_000 for p in parts) or host.poll() is not None
            wait_for(mid_run, 60, "the sync to be part-way through a run")
            assert host.poll() is None, log.read_text()
            os.kill(host.pid, signal.SIGKILL)
            host.wait(10)
        finally:
            if host.poll() is None:
                host.kill()
        rerun = subprocess.run([sys.executable, "-m", "imurun", "sync", "--port", str(s.link)],
                               capture_output=True, text=True, timeout=120, env=env)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "resumed at byte" in rerun.stdout
        assert "bound to no athlete" in rerun.stdout
    with Library.open(home) as lib:
        runs = lib.runs()
        assert sorted(r.path.read_bytes() for r in runs) == flash
        assert lib.check().ok
    assert not list(partial.iterdir())


def test_a_damaged_run_file_is_named_kept_and_never_repaired_away(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        runs = [lib.add_file(write_run(tmp_path / "in", DEVICE_A, i)).run for i in range(3)]
        lib.set_analysis(runs[1].id, analysis_json(10))
    with open(runs[1].path, "ab") as fh:
        fh.write(b"x")
    args = ["--home", str(home), "store", "check"]
    for repair in ([], ["--repair"], [], ["--repair"]):  # no loop: the same answer every time
        assert main([*args, *repair]) == 6
        out, err = capsys.readouterr()
        assert f"run {runs[1].short_id}'s file {runs[1].path.name} is damaged" in out
        assert "has no file" not in out
        assert "index rebuilt" not in out
        assert "3 run file(s) on disk (1 damaged), 3 indexed" in out
        assert f"imurun store set-aside {runs[1].short_id}" in out
        assert "repaired" not in out.splitlines()[-1]
        assert err.count("\n") == 1
    with Library.open(home) as lib:  # still counted, with its analysis
        assert sorted(r.id for r in lib.runs()) == sorted(r.id for r in runs)
        assert len(lib.steps(runs[1].id)) == 11
        rep = lib.check()
        assert rep.damaged == [runs[1].id]
        assert len(rep.unresolved) == 1
    # an index that an earlier version had already repaired the run out of gets it back
    with Library.open(home) as lib:
        lib.db.execute("DELETE FROM runs WHERE id = ?", (runs[1].id,))
    assert main([*args, "--repair"]) == 6
    out = capsys.readouterr().out
    assert "index rebuilt" in out
    assert "the rest repaired" in out
    with Library.open(home) as lib:
        assert len(lib.runs()) == 3
    # the documented way out: set it aside (kept on disk, out of the library)
    assert main(["--home", str(home), "store", "set-aside", runs[1].short_id]) == 0
    assert "set-aside" in capsys.readouterr().out
    moved = home / "set-aside" / runs[1].directory.relative_to(home / "runs")
    assert (moved / runs[1].path.name).read_bytes().endswith(b"x")
    assert (moved / "analysis.json").exists()
    assert main(args) == 0
    assert "2 run file(s) on disk, 2 indexed; consistent" in capsys.readouterr().out
    # ...and back, once the file is whole again (say, from a backup): where it was, as it was
    assert main(["--home", str(home), "store", "restore"]) == 0
    assert f"{runs[1].short_id}  {moved}" in capsys.readouterr().out
    aside = moved / runs[1].path.name
    aside.write_bytes(aside.read_bytes()[:-1])  # the byte appended above taken off
    assert main(["--home", str(home), "store", "restore", runs[1].short_id]) == 0
    out = capsys.readouterr().out
    assert f"restored run {runs[1].short_id}" in out
    assert "damaged" not in out
    assert not moved.exists()
    assert runs[1].path.exists()
    assert not (runs[1].directory / "set-aside.json").exists()
    with Library.open(home) as lib:
        assert sorted(r.id for r in lib.runs()) == sorted(r.id for r in runs)
        assert len(lib.steps(runs[1].id)) == 11
    assert main(args) == 0
    assert "3 run file(s) on disk, 3 indexed; consistent" in capsys.readouterr().out
    assert main(["--home", str(home), "store", "restore", runs[1].short_id]) == 7  # not found
    assert "no run" in capsys.readouterr().err


def test_sync_fetches_again_a_held_run_whose_file_was_damaged(tmp_path: Path) -> None:
    from firmware_protocol.messages import RunEntry
    from imurun.store.rundir import file_crc32
    from imurun.store.sink import LibrarySink

    with Library.open(tmp_path / "home") as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        entry = RunEntry(1, T0_MS, run.size, file_crc32(run.path))
        sink = LibrarySink(lib)
        assert sink.is_stored(DEVICE_A, entry)
        good = run.path.read_bytes()
        lib.add_athlete("Ana")
        lib.assign_run(run.id, athlete="Ana")  # by hand: the sensor is bound to nobody
        lib.set_analysis(run.id, analysis_json(12))
        data = bytearray(good)
        data[len(data) // 2] ^= 0x40  # same size, one bit flipped
        run.path.write_bytes(bytes(data))
        assert not sink.is_stored(DEVICE_A, entry)
        # fetched again: the run is whole again and keeps what the library knew about it
        sink.append(DEVICE_A, entry, 0, good)
        sink.commit(DEVICE_A, entry)
        again = lib.get(run.id)
        assert again is not None
        assert again.path.read_bytes() == good
        assert again.athlete_name == "Ana"
        assert again.added_at == run.added_at
        assert again.source_name == run.source_name
        assert len(lib.steps(run.id)) == 13
        assert lib.check().ok


def test_changing_an_athlete_keeps_their_runs_and_sensors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        lib.bind_sensor(DEVICE_A, "Ana")
        lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1))
    assert main(["--home", str(home), "athlete", "set", "Ana", "--mass-kg", "61"]) == 0
    with Library.open(home) as lib:
        ana = lib.athlete("Ana")
        assert ana.mass_kg == 61.0
        assert len(lib.runs(athlete="Ana")) == 1
        assert lib.athlete_of_sensor(DEVICE_A) == ana.id
    profiles = json.loads((home / "profiles.json").read_text())
    assert profiles["sensors"][0]["athlete_id"] == ana.id


CLEAN_RUN = Path(__file__).resolve().parents[1] / "recordings" / "clean-run.imrs"


def _stiffness(lib: Library, run_id: str) -> object:
    run = lib.get(run_id)
    assert run is not None
    assert run.summary is not None
    return run.summary.get("vertical_stiffness_kn_m")


def test_runs_are_analysed_again_when_their_athletes_body_mass_changes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Stiffness needs the body mass: a mass given (or changed) after the analysis reaches the
    runs already held, and a command that changes nothing about the mass analyses nothing."""
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    assert main([*cli, "import", str(CLEAN_RUN)]) == 0
    with Library.open(home) as lib:
        rid = lib.run("latest").id
        assert _stiffness(lib, rid) is None
    assert main([*cli, "athlete", "add", "Ana"]) == 0
    assert main([*cli, "athlete", "add", "Bo", "--mass-kg", "80"]) == 0
    capsys.readouterr()

    assert main([*cli, "athlete", "assign", "Bo", rid[:8]]) == 0  # Bo's mass reaches the run
    assert "analysed 1 run(s) again" in capsys.readouterr().out
    with Library.open(home) as lib:
        k80 = _stiffness(lib, rid)
        assert isinstance(k80, float)
        assert k80 > 0

    assert main([*cli, "athlete", "set", "Bo", "--leg-length-m", "0.9"]) == 0
    assert "again" not in capsys.readouterr().out  # the mass did not change
    assert main([*cli, "athlete", "set", "Bo", "--mass-kg", "60"]) == 0
    assert "analysed 1 run(s) again" in capsys.readouterr().out
    with Library.open(home) as lib:
        k60 = _stiffness(lib, rid)
        assert isinstance(k60, float)
        assert k60 == pytest.approx(k80 * 60 / 80, rel=1e-6)  # Morin: k is proportional to m
        doc = lib.analysis(lib.run(rid))
        assert doc is not None
        assert doc["parameters"]["mass_kg"] == 60

    # Ana has no mass of her own: the merge gives her Bo's, so the run's mass stays 60 kg.
    assert main([*cli, "athlete", "merge", "Bo", "Ana"]) == 0
    out = capsys.readouterr().out
    with Library.open(home) as lib:
        ana = lib.athlete("Ana")
        assert ana.mass_kg == 60
        assert "again" not in out
        assert _stiffness(lib, rid) == pytest.approx(k60)


def test_reports_written_before_are_rewritten_when_their_run_changes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imurun.report.run_report import report_path

    home = tmp_path / "home"
    cli = ["--home", str(home)]
    assert main([*cli, "import", str(CLEAN_RUN)]) == 0
    assert main([*cli, "report", "latest"]) == 0
    with Library.open(home) as lib:
        page = report_path(lib.root, lib.run("latest").id)
    before = page.read_text(encoding="utf-8")
    assert "your body mass is not known" in before
    assert main([*cli, "athlete", "add", "Ana", "--mass-kg", "60"]) == 0
    capsys.readouterr()
    assert main([*cli, "athlete", "assign", "Ana", "latest"]) == 0
    out = capsys.readouterr().out
    assert "analysed 1 run(s) again" in out
    assert f"rewrote 1 report(s) in {home / 'reports'}" in out
    after = page.read_text(encoding="utf-8")
    assert "your body mass is not known" not in after
    assert "Ana" in after
    assert main([*cli, "athlete", "set", "Ana", "--leg-length-m", "0.9"]) == 0
    assert "rewrote" not in capsys.readouterr().out  # nothing in the report changed
    assert main([*cli, "athlete", "rename", "Ana", "Anaïs"]) == 0  # her name is in the report
    assert f"rewrote 1 report(s) in {home / 'reports'}" in capsys.readouterr().out
    renamed = page.read_text(encoding="utf-8")
    assert "<h1>Anaïs: run of" in renamed
    assert "Ana:" not in renamed


def test_the_body_mass_an_analysis_used_is_indexed_and_read_from_older_indexes(
        lib: Library, tmp_path: Path) -> None:
    from imurun.workflows import mass_changed

    lib.add_athlete("Ana", mass_kg=61)
    run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
    lib.assign_run(run.id, athlete="Ana")
    lib.set_analysis(run.id, {**analysis_json(), "parameters": {"mass_kg": 70.0}})
    held = lib.get(run.id)
    assert held is not None
    assert held.analysis_mass_known
    assert held.analysis_mass_kg == 70.0
    assert mass_changed(lib, [held]) == [held]
    # An index from before the mass was kept: the analysis file says which mass it used.
    lib.db.execute("UPDATE runs SET analysis_mass_known = 0, analysis_mass_kg = NULL")
    older = lib.get(run.id)
    assert older is not None
    assert not older.analysis_mass_known
    assert mass_changed(lib, [older]) == [older]
    lib.set_analysis(run.id, {**analysis_json(), "parameters": {"mass_kg": 61}})
    assert mass_changed(lib, lib.runs()) == []
    lib.set_analysis(run.id, analysis_json())  # an analysis that does not say: left alone
    assert mass_changed(lib, lib.runs()) == []


def test_a_damaged_analysis_is_set_aside_by_repair_and_made_again_by_reanalyze(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    assert main([*cli, "import", str(CLEAN_RUN)]) == 0
    with Library.open(home) as lib:
        run = lib.run("latest")
    page = run.directory / "analysis.json"
    page.write_bytes(page.read_bytes()[:500])  # cut short
    _delete_index(home)
    capsys.readouterr()
    assert main([*cli, "store", "check"]) == 0  # the lost index is rebuilt on opening...
    out = capsys.readouterr().out
    assert f"set aside the damaged analysis of run {run.short_id}" in out  # ...and says so
    assert "imurun store reanalyze" in out
    page.write_bytes(b"{")  # damaged again, the index knowing no analysis of the run
    assert main([*cli, "store", "check"]) == 6
    assert f"imurun store reanalyze {run.short_id}" in capsys.readouterr().out
    assert main([*cli, "store", "check", "--repair"]) == 0
    assert main([*cli, "store", "reanalyze"]) == 0
    assert "not analysed yet" in capsys.readouterr().out
    assert main([*cli, "store", "check"]) == 0
    with Library.open(home) as lib:
        assert lib.run(run.short_id).summary is not None


def test_store_reanalyze_redoes_what_is_out_of_date_and_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    assert main([*cli, "athlete", "add", "Ana", "--mass-kg", "61"]) == 0
    assert main([*cli, "import", str(CLEAN_RUN), "--athlete", "Ana"]) == 0
    with Library.open(home) as lib:
        current = lib.run("latest")
        old = lib.add_file(CLEAN_RUN.with_name("reboot-and-gaps.imrs")).run
        failed = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 2, seconds=30)).run
        lib.set_analysis(old.id, {**analysis_json(), "imurun_version": "0.0.1"})
        lib.set_analysis_error(failed.id, "a stand-in error")
    capsys.readouterr()
    assert main([*cli, "runs"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "2 runs with an out-of-date analysis (1 analysed by imurun 0.0.1, 1 analysis failed; "
        f"this is imurun {__version__}): `imurun store reanalyze` makes them again")

    assert main([*cli, "store", "reanalyze"]) == 0
    out = capsys.readouterr().out
    why = [ln.strip() for ln in out.splitlines() if ln.startswith("  ") and ": " in ln][:2]
    assert sorted(why) == sorted([f"{old.short_id}: analysed by imurun 0.0.1 (this is {__version__})",
                                  f"{failed.short_id}: its last analysis failed (a stand-in error)"])
    assert out.splitlines()[-1] == "analysed 2 run(s) again"
    with Library.open(home) as lib:
        assert lib.get(old.id).analysis_version == __version__  # type: ignore[union-attr]
        assert lib.get(failed.id).analysis_error is None  # type: ignore[union-attr]
        assert lib.get(current.id).analysis_version == __version__  # type: ignore[union-attr]

    assert main([*cli, "store", "reanalyze", "--athlete", "Ana"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main([*cli, "store", "reanalyze", "--athlete", "Ana", "--all"]) == 0
    assert "analysed 1 run(s) again" in capsys.readouterr().out
    assert main([*cli, "store", "reanalyze", current.id[:8]]) == 0
    assert "analysed 1 run(s) again" in capsys.readouterr().out
    assert main([*cli, "store", "reanalyze", current.id[:8], "--athlete", "Ana"]) == 2


def test_run_lists_and_weekly_summaries_say_when_analyses_are_out_of_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After an upgrade of imurun the stored analyses are the old version's: what is listed
    and summarised from them says so, with the command that brings them up to date."""
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    assert main([*cli, "athlete", "add", "Ana", "--mass-kg", "61"]) == 0
    assert main([*cli, "import", str(CLEAN_RUN), "--athlete", "Ana"]) == 0
    with Library.open(home) as lib:
        run = lib.run("latest")
        lib.set_analysis(run.id, {**analysis_json(), "imurun_version": "0.0.1"})
        assert run.start_unix_s is not None
        year, week, _ = dt.datetime.fromtimestamp(run.start_unix_s).isocalendar()
    label = f"{year}-W{week:02d}"
    note = ("1 run with an out-of-date analysis (analysed by imurun 0.0.1; this is imurun "
            f"{__version__}): `imurun store reanalyze` makes it again")
    capsys.readouterr()
    assert main([*cli, "runs"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == note
    assert main([*cli, "weekly", "--week", label]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == note
    page = (home / "reports" / f"weekly-{label}.html").read_text(encoding="utf-8")
    assert "<code>imurun store reanalyze</code> makes it again" in page
    assert main([*cli, "weekly", "--week", label, "--format", "json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["outdated_runs"] == 1
    assert got.err == f"imurun: note: {note}\n"  # the JSON on standard output stays JSON

    assert main([*cli, "store", "reanalyze"]) == 0
    capsys.readouterr()
    assert main([*cli, "runs"]) == 0
    assert "out-of-date" not in capsys.readouterr().out
    assert main([*cli, "weekly", "--week", label, "--format", "json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["outdated_runs"] == 0
    assert got.err == ""


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Local time is Europe/Berlin (CET/CEST) for the test, and the machine's again after."""
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_start_in_the_daylight_saving_gap_is_refused_and_a_doubled_hour_is_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], berlin: None) -> None:
    import datetime as dt

    home = tmp_path / "home"
    args = ["--home", str(home)]
    csv = _logger_csv(tmp_path / "logger.csv")
    assert main([*args, "import", str(csv), "--start", "2026-03-29 02:30"]) == 2
    err = capsys.readouterr().err
    assert "does not exist in local time" in err
    assert err.count("\n") == 1
    with Library.open(home) as lib:
        assert lib.runs() == []  # refused before anything was added
    assert main([*args, "import", str(csv), "--start", "2026-10-25 02:30"]) == 0
    out = capsys.readouterr().out
    assert "happens twice" in out
    assert "'2026-10-25 02:30+01:00'" in out
    with Library.open(home) as lib:
        [run] = lib.runs()
        assert run.start_unix_s == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).timestamp()
    assert main([*args, "athlete", "add", "Ana"]) == 0
    assert main([*args, "athlete", "assign", "Ana", run.short_id, "--start",
                 "2026-10-25 02:30+01:00"]) == 0
    assert "happens twice" not in capsys.readouterr().out
    with Library.open(home) as lib:
        assert lib.run(run.short_id).start_unix_s == dt.datetime(
            2026, 10, 25, 1, 30, tzinfo=dt.UTC).timestamp()


def test_the_library_says_which_paths_are_its_own_files(lib: Library, tmp_path: Path) -> None:
    run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
    root = lib.root
    for p in (run.path, run.directory / "meta.json", run.directory / "analysis.json",
              run.directory / "anything-new.html", root / "index.sqlite3",
              root / "index.sqlite3-wal", root / "index.sqlite3-journal", root / "profiles.json",
              root / "runs" / ".partial" / "x.imrn", root / "set-aside" / "x" / "meta.json"):
        assert lib.manages(p) is not None, p
    for p in (root / "reports" / "run-1.html", root / "week.csv", tmp_path / "elsewhere.html"):
        assert lib.manages(p) is None, p


def test_listing_runs_parses_no_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A long run's summary is tens of kilobytes of JSON (its per-minute series): `imurun runs`
    of a coach's thousands of runs prints its columns from the index and parses none; a run's
    summary is still there when asked for, and the same as its analysis says."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        for k in (1, 2):
            run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, k)).run
            lib.set_analysis(run.id, analysis_json(seed=k))
        held = lib.runs()
    assert held[0].summary == analysis_json(seed=1)["summary"]
    assert held[0].summary_values["cadence_spm"] == 172.0
    want = None
    for parse in (True, False):
        if not parse:
            def no_parse(self: RunRecord) -> None:
                raise AssertionError("parsed a run's summary")

            monkeypatch.setattr(RunRecord, "summary", property(no_parse))
        assert main(["--home", str(home), "runs"]) == 0
        out = capsys.readouterr().out
        assert "   40   172   240 ms  8.0 cm  import" in out
        assert want is None or out == want
        want = out


def test_show_of_a_run_without_a_watch_does_not_start_the_signal_core(tmp_path: Path) -> None:
    """`imurun show RUN` answers from the index: importing the signal core (SciPy) cost more
    than a second of start-up for a run without a watch's speed."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        lib.set_analysis(run.id, analysis_json())
    code = ("import sys\nfrom imurun.cli import main\n"
            f"assert main(['--home', {str(home)!r}, 'show', {run.short_id!r}]) == 0\n"
            "assert main(['--home', " + repr(str(home)) + ", 'show', 'latest', '--json']) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'"
            " or m.startswith('imurun.signal')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.splitlines()[-1] == "[]"
    assert f"run {run.id}" in out


def test_importing_a_run_held_already_does_not_start_the_signal_core(tmp_path: Path) -> None:
    """A coach imports the same bundles again and again: with nothing to analyse, the import
    does not pay the signal core's start-up (SciPy, more than a second)."""
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1)
    with Library.open(home) as lib:
        lib.set_analysis(lib.add_file(src).run.id, analysis_json())
    code = ("import sys\nfrom imurun.cli import main\n"
            f"assert main(['--home', {str(home)!r}, 'import', {str(src)!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'"
            " or m.startswith('imurun.signal')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.splitlines()[-1] == "[]"
    assert "0 new run(s), 1 already held" in out
    assert "analysis is not available" not in out


def _three_analysed_runs(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        for k in range(3):
            lib.set_analysis(lib.add_file(write_run(tmp_path / f"in{k}", DEVICE_A, k + 1)).run.id,
                             analysis_json())
    return home


def _progress_recorder() -> tuple[dict[str, list[tuple[int, int]]],
                                  Callable[[str], Callable[[int, int], None]]]:
    """A progress factory that records every ``(done, total)`` of each phase."""
    calls: dict[str, list[tuple[int, int]]] = {}

    def progress(what: str) -> Callable[[int, int], None]:
        return lambda done, total: calls.setdefault(what, []).append((done, total))

    return calls, progress


def test_an_index_another_process_is_writing_is_busy_not_damaged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """While another process holds the index's write transaction (a rebuild of a lost index
    takes an hour for a coach), opening the library said the index was damaged and told the
    user to repair it."""
    from imurun.store import library as library_module
    from imurun.store.lock import StoreBusyError

    home = _three_analysed_runs(tmp_path)
    monkeypatch.setattr(library_module, "BUSY_TIMEOUT_S", 0.2)  # (the real wait is 30 s)
    other = sqlite3.connect(home / "index.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusyError) as e:
            Library.open(home)
        assert "damaged" not in str(e.value)
        assert "in use by another imurun process" in str(e.value)
        assert main(["--home", str(home), "runs"]) == 6
        err = capsys.readouterr().err
        assert "in use by another imurun process" in err
        assert "repair" not in err
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Library.open(home) as lib:  # nothing was changed: the library opens once it is free
        assert len(lib.runs()) == 3


def test_store_check_reports_its_progress_run_by_run(tmp_path: Path) -> None:
    """A check hashes every run file and a repair indexes every run again: minutes for a
    coach's thousands of runs, so both report ``(done, total)`` per run as they go."""
    home = _three_analysed_runs(tmp_path)
    calls, progress = _progress_recorder()

    with Library.open(home) as lib:
        assert lib.check(progress=progress).ok
    assert calls == {"checking runs": [(0, 3), (1, 3), (2, 3), (3, 3)]}
    calls.clear()
    with Library.open(home) as lib:  # a run lost from the index: the repair rebuilds it
        gone = lib.runs()[0].id
        for table, key in (("steps", "run_id"), ("run_summaries", "run_id"), ("runs", "id")):
            lib.db.execute(f"DELETE FROM {table} WHERE {key} = ?", (gone,))
        rep = lib.check(repair=True, progress=progress)
        assert rep.index_rebuilt
        assert len(lib.steps(gone)) == len(analysis_json()["steps"])
    assert calls["checking runs"][-1] == (3, 3)
    assert calls["indexing runs"] == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_the_rebuild_of_a_lost_index_on_opening_reports_its_progress(tmp_path: Path) -> None:
    """Opening a library whose index was lost rebuilds it: an hour for a coach's library, so
    :meth:`Library.open` reports its phases as ``store check`` does (it showed nothing)."""
    home = _three_analysed_runs(tmp_path)
    calls, progress = _progress_recorder()

    with Library.open(home, progress=progress) as lib:
        assert lib.notes == []
    assert calls == {}  # (an index that is whole: nothing to report)
    _delete_index(home)
    with Library.open(home, progress=progress) as lib:
        assert lib.notes == ["index rebuilt from 3 run(s) on disk"]
    assert calls == {"checking runs": [(0, 3), (1, 3), (2, 3), (3, 3)],
                     "indexing runs": [(0, 3), (1, 3), (2, 3), (3, 3)]}


def test_imurun_runs_shows_the_rebuild_of_a_lost_index_on_a_terminal_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`imurun runs` on a library whose index was lost sat silent while it was rebuilt."""
    from imurun import cli_progress

    home = tmp_path / "home"
    with Library.open(home) as lib:
        for k in range(2):
            lib.add_file(write_run(tmp_path / f"in{k}", DEVICE_A, k + 1))
    _delete_index(home)
    assert main(["--home", str(home), "runs"]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bars
    _delete_index(home)
    monkeypatch.setattr(cli_progress, "enabled", lambda: True)
    monkeypatch.setattr(cli_progress, "DELAY_S", 0.0)
    assert main(["--home", str(home), "runs"]) == 0
    out, err = capsys.readouterr()
    assert "checking runs" in err
    assert "indexing runs" in err
    assert "/2 " in err  # (of the 2 runs)
    assert "checking runs" not in out
