"""Importing an intact copy of a run the library holds damaged heals the held run.

The damaged bytes are kept under ``HOME/set-aside/`` (never deleted), the run keeps what the
library knew about it (athlete, watch file), is analysed again, and ``store check`` is clean.
A damaged copy of a run held intact stays refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store.library import Library
from tests.library_support import (
    DEVICE_A,
    T0_MS,
    analysis_json,
    damaged_copy,
    flip_sample_bit,
    write_run,
)


def test_an_intact_copy_heals_a_held_run_damaged_on_disk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    src = write_run(tmp_path / "in", DEVICE_A, 4, seconds=30.0)
    good = src.read_bytes()
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        run = lib.add_file(src).run
        lib.assign_run(run.id, athlete="Ana")  # by hand: the sensor is bound to nobody
        lib.set_analysis(run.id, analysis_json(12))  # (fake: made again after the heal)
    run.path.write_bytes(flip_sample_bit(good))
    assert main([*cli, "store", "check"]) == 6
    assert f"run {run.short_id}'s file {run.path.name} is damaged" in capsys.readouterr().out

    assert main([*cli, "import", str(src)]) == 0
    out = capsys.readouterr().out
    assert f"replaced the damaged copy of run {run.short_id} with this intact one" in out
    assert "0 new run(s), 0 already held, 1 repaired" in out
    kept = [p for p in (home / "set-aside").rglob("*")
            if p.is_file() and p.name not in ("meta.json", "set-aside.json")]
    assert len(kept) == 1
    assert sorted(p.name for p in kept[0].parent.iterdir()) == sorted(
        [kept[0].name, "meta.json", "set-aside.json"])  # listed by `store restore`
    assert f"the damaged file is in {kept[0]}" in out
    assert kept[0].read_bytes() == flip_sample_bit(good)  # the damaged bytes, kept
    assert run.path.read_bytes() == good  # the run's own file, in its own place
    with Library.open(home) as lib:
        (again,) = lib.runs()
        assert (again.id, again.path, again.athlete_name) == (run.id, run.path, "Ana")
        assert again.added_at == run.added_at
        # analysed again (the real analysis, not the 12 fake steps kept before)
        doc = lib.analysis(again)
        assert doc is not None
        assert len(doc["steps"]) != 13
        assert "extra_metric_from_the_future" not in doc["summary"]
        # the run is in the library; only its damaged copy is set aside (listed as such)
        assert [r.id for r in lib.runs()] == [run.id]
        (entry,) = lib.set_aside_entries()
        assert (entry.path, entry.id, entry.replaced_by) == (kept[0], run.id, run.id)
    assert main([*cli, "store", "check"]) == 0
    assert "1 run file(s) on disk, 1 indexed; consistent" in capsys.readouterr().out

    # the other way round is still refused: a damaged copy of the run now held intact
    damaged = tmp_path / "damaged.imrn"
    damaged.write_bytes(flip_sample_bit(good))
    assert main([*cli, "import", str(damaged)]) == 3
    assert f"a damaged copy (1 damaged block(s)) of run {run.short_id}" in capsys.readouterr().err
    assert run.path.read_bytes() == good


def test_an_intact_copy_replaces_a_damaged_copy_imported_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imurun.store.attach import attach_watch_fit
    from tests.report_support import watch_fit

    home = tmp_path / "home"
    cli = ["--home", str(home)]
    src = write_run(tmp_path / "in", DEVICE_A, 5, seconds=60.0)
    bad = damaged_copy(src, tmp_path / "copy" / "bad.imrn")
    with Library.open(home) as lib:
        ana = lib.add_athlete("Ana")
        first = lib.add_file(bad, athlete_id=ana.id).run  # nothing better held then: kept
        attach_watch_fit(lib, first, watch_fit(tmp_path / "w.fit", T0_MS / 1000, 60))
    old_dir = first.directory
    assert main([*cli, "import", str(src)]) == 0
    out = capsys.readouterr().out
    with Library.open(home) as lib:
        (run,) = lib.runs()  # one run, not two
        assert run.id != first.id  # the id of the intact bytes
        assert run.path.read_bytes() == src.read_bytes()
        assert run.athlete_id == ana.id
        assert run.analysis_version is not None
        assert lib.db.execute("SELECT COUNT(*) FROM attachments WHERE run_id = ?",
                              (run.id,)).fetchone()[0] == 1
        (aside, meta), = lib.set_aside_runs()
    assert (f"replaced the damaged copy of run {first.short_id} (now run {run.short_id}, the id "
            f"of its intact bytes) with this intact one; the damaged file is in {aside}") in out
    assert "0 new run(s), 0 already held, 1 repaired" in out
    assert not old_dir.exists()
    assert meta["id"] == first.id
    assert (aside / first.path.name).read_bytes() == bad.read_bytes()
    assert json.loads((aside / "set-aside.json").read_text())["run_id"] == first.id
    assert main([*cli, "store", "check"]) == 0
    assert "1 run file(s) on disk, 1 indexed; consistent" in capsys.readouterr().out


def test_syncing_a_run_held_only_as_a_damaged_copy_replaces_that_copy(tmp_path: Path) -> None:
    """The sensor's own bytes, synced after a damaged copy was imported: one run, not two."""
    from firmware_protocol.messages import RunEntry
    from imurun.store.rundir import file_crc32
    from imurun.store.sink import LibrarySink

    src = write_run(tmp_path / "in", DEVICE_A, 6, seconds=30.0)
    good = src.read_bytes()
    bad = tmp_path / "bad.imrn"
    bad.write_bytes(flip_sample_bit(good))
    with Library.open(tmp_path / "home") as lib:
        ana = lib.add_athlete("Ana")
        first = lib.add_file(bad, athlete_id=ana.id).run
        entry = RunEntry(6, T0_MS, len(good), file_crc32(src))
        sink = LibrarySink(lib)
        assert not sink.is_stored(DEVICE_A, entry)
        sink.append(DEVICE_A, entry, 0, good)
        sink.commit(DEVICE_A, entry)
        (run,) = lib.runs()
        assert run.path.read_bytes() == good
        assert run.athlete_id == ana.id
        assert sink.stored == [run]
        ((old, aside),) = sink.healed
        assert old.id == first.id
        assert (aside / first.path.name).read_bytes() == bad.read_bytes()
        assert lib.check().ok
        assert sink.is_stored(DEVICE_A, entry)


def test_a_bundle_heals_held_runs_damaged_on_disk_or_imported_damaged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The coach's library: a run's file damaged on disk, another run held only as a damaged
    copy; the runner's next bundle holds both intact."""
    runner = ["--home", str(tmp_path / "runner")]
    coach = ["--home", str(tmp_path / "coach")]
    srcs = [write_run(tmp_path / "in", DEVICE_A, k, seconds=30.0) for k in (7, 8)]
    assert main([*runner, "athlete", "add", "Ana"]) == 0
    for s in srcs:
        assert main([*runner, "import", str(s), "--athlete", "Ana"]) == 0
    bundle = tmp_path / "ana.zip"
    assert main([*runner, "share", "--athlete", "Ana", "--out", str(bundle)]) == 0
    # the coach holds run 7 (then damaged on disk) and a damaged copy of run 8
    assert main([*coach, "import", str(srcs[0])]) == 0
    bad = damaged_copy(srcs[1], tmp_path / "copy" / "run8.imrn")
    assert main([*coach, "import", str(bad)]) == 0
    with Library.open(tmp_path / "coach") as lib:
        held7 = next(r for r in lib.runs() if r.sensor_run_id == 7)
        held8 = next(r for r in lib.runs() if r.sensor_run_id == 8)
    held7.path.write_bytes(flip_sample_bit(srcs[0].read_bytes()))
    capsys.readouterr()

    assert main([*coach, "import", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"replaced the damaged copy of run {held7.short_id} with this intact one" in out
    assert f"replaced the damaged copy of run {held8.short_id} (now run " in out
    with Library.open(tmp_path / "coach") as lib:
        runs = sorted(lib.runs(), key=lambda r: r.sensor_run_id or 0)
        assert [r.sensor_run_id for r in runs] == [7, 8]  # one of each, not two of run 8
        assert [r.path.read_bytes() for r in runs] == [s.read_bytes() for s in srcs]
        assert all(r.analysis_version is not None for r in runs)
    kept = sorted(p.read_bytes() for p in (tmp_path / "coach" / "set-aside").rglob("*.imrn*"))
    assert kept == sorted([flip_sample_bit(srcs[0].read_bytes()), bad.read_bytes()])
    assert main([*coach, "store", "check"]) == 0
    assert "2 run file(s) on disk, 2 indexed; consistent" in capsys.readouterr().out
