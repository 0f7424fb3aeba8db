"""The damaged bytes an intact copy replaced were kept under ``HOME/set-aside/`` but not listed.

When an intact copy of a run healed a held run damaged on disk, its damaged file was kept as a
bare file (no ``meta.json``): ``imurun store restore`` did not list it and could not restore it,
the user only saw its path once. And a damaged copy that came in first (set aside whole when
the intact copy took its place) was listed without saying why, and restoring it put it back
beside the intact run: the sensor run counted twice.

Now every copy kept under ``set-aside/`` is listed with where it came from, when and why; a
damaged copy is not restored while the library holds the run (the command names the run and
says where the bytes stay); ``store check`` names kept files ``store restore`` cannot list
(left by an earlier imurun) and ``--repair`` gives each its own listed directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store.library import Library
from tests.library_support import DEVICE_A, damaged_copy, flip_sample_bit, write_run


def test_a_copy_healed_in_place_is_listed_and_not_restored_over_the_intact_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    src = write_run(tmp_path / "in", DEVICE_A, 4, seconds=30.0)
    good = src.read_bytes()
    with Library.open(home) as lib:
        run = lib.add_file(src).run
    run.path.write_bytes(flip_sample_bit(good))  # damaged on disk
    assert main([*cli, "import", str(src)]) == 0  # the intact copy heals it
    out = capsys.readouterr().out
    assert "1 repaired" in out
    assert main([*cli, "store", "restore"]) == 0  # (it said "no runs are set aside")
    listing = capsys.readouterr().out
    assert f"a damaged copy replaced by an intact one (run {run.short_id}" in listing

    with Library.open(home) as lib:
        (entry,) = lib.set_aside_entries()
        assert [d for d, _ in lib.set_aside_runs()] == [entry.directory]
    assert f"the damaged file is in {entry.directory / run.path.name}" in out
    assert (entry.directory / run.path.name).read_bytes() == flip_sample_bit(good)
    assert entry.meta["id"] == run.id  # the run it was, as the library held it
    assert entry.meta["file"] == run.path.name
    assert entry.origin == run.directory.relative_to(home).as_posix()
    assert entry.replaced_by == run.id
    assert entry.at is not None
    assert "replaced by an intact" in entry.reason
    assert json.loads((entry.directory / "set-aside.json").read_text())["replaced_by"] == run.id
    assert f"{run.short_id}  {entry.directory}" in listing
    assert f"from {entry.origin}" in listing
    assert entry.at in listing

    # restoring it beside (or over) the intact run is refused, and says why and where it stays
    assert main([*cli, "store", "restore", run.short_id]) == 2
    err = capsys.readouterr().err
    assert f"holds run {run.short_id} intact" in err
    assert str(entry.directory) in err
    assert run.path.read_bytes() == good
    assert (entry.directory / run.path.name).read_bytes() == flip_sample_bit(good)
    assert main([*cli, "store", "check"]) == 0
    assert "1 run file(s) on disk, 1 indexed; consistent" in capsys.readouterr().out

    # both set aside: the run's id names the intact one, which comes back whole
    assert main([*cli, "store", "set-aside", run.short_id]) == 0
    capsys.readouterr()
    assert main([*cli, "store", "restore", run.short_id]) == 0
    out = capsys.readouterr().out
    assert f"restored run {run.short_id}" in out
    assert "damaged" not in out
    assert run.path.read_bytes() == good
    with Library.open(home) as lib:
        assert [e.directory for e in lib.set_aside_entries()] == [entry.directory]
        assert [r.id for r in lib.runs()] == [run.id]


def test_a_damaged_copy_replaced_by_an_intact_one_is_not_restored_beside_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    src = write_run(tmp_path / "in", DEVICE_A, 5, seconds=30.0)
    bad = damaged_copy(src, tmp_path / "copy" / "bad.imrn")
    with Library.open(home) as lib:
        first = lib.add_file(bad).run  # nothing better held then: kept
    assert main([*cli, "import", str(src)]) == 0  # the intact copy takes its place
    with Library.open(home) as lib:
        (run,) = lib.runs()
    capsys.readouterr()
    assert main([*cli, "store", "restore", first.short_id]) == 2  # (it came back: two runs)
    err = capsys.readouterr().err
    assert f"holds run {run.short_id} intact" in err
    with Library.open(home) as lib:
        assert [r.id for r in lib.runs()] == [run.id]  # one run, not two
        (entry,) = lib.set_aside_entries()
    assert str(entry.directory) in err
    assert (entry.meta["id"], entry.replaced_by) == (first.id, run.id)
    assert entry.origin == first.directory.relative_to(home).as_posix()
    assert "replaced by an intact" in entry.reason
    capsys.readouterr()
    assert main([*cli, "store", "restore"]) == 0
    assert f"a damaged copy replaced by an intact one (run {run.short_id}" in capsys.readouterr().out
    assert (entry.directory / first.path.name).read_bytes() == bad.read_bytes()
    assert main([*cli, "store", "check"]) == 0


def test_a_run_set_aside_by_hand_says_so(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 2)).run
    assert main(["--home", str(home), "store", "set-aside", run.short_id]) == 0
    with Library.open(home) as lib:
        (entry,) = lib.set_aside_entries()
    assert (entry.meta["id"], entry.replaced_by) == (run.id, None)
    assert entry.origin == run.directory.relative_to(home).as_posix()
    assert "store set-aside" in entry.reason
    capsys.readouterr()
    assert main(["--home", str(home), "store", "restore"]) == 0
    assert "store set-aside" in capsys.readouterr().out


def test_store_check_names_damaged_files_kept_by_an_earlier_imurun_and_repair_lists_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An earlier imurun kept a healed run's damaged bytes as ``<file>.damaged-<time>`` in
    ``set-aside/<run's directory>/``, alone: ``store check`` says so, ``--repair`` gives them
    a listed directory of their own (nothing read, moved or lost but that file)."""
    home = tmp_path / "home"
    cli = ["--home", str(home)]
    src = write_run(tmp_path / "in", DEVICE_A, 3, seconds=30.0)
    with Library.open(home) as lib:
        run = lib.add_file(src).run
    rel = run.directory.relative_to(home / "runs")
    legacy = home / "set-aside" / rel / f"{run.path.name}.damaged-20261120T080000Z"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(flip_sample_bit(src.read_bytes()))
    stray = home / "set-aside" / "notes.txt"  # not something imurun keeps: named, left alone
    stray.write_text("mine\n")

    assert main([*cli, "store", "check"]) == 6
    out = capsys.readouterr().out
    assert f"set-aside/{rel.as_posix()}/{legacy.name}" in out
    assert "store restore" in out
    assert main([*cli, "store", "check", "--repair"]) == 6  # the stray file needs the user
    out = capsys.readouterr().out
    assert "set-aside/notes.txt" in out
    with Library.open(home) as lib:
        (entry,) = lib.set_aside_entries()
        assert [r.id for r in lib.runs()] == [run.id]
    assert not legacy.exists()
    assert stray.read_text() == "mine\n"
    assert entry.directory.name == f"{rel.name}.damaged-20261120T080000Z"
    assert (entry.directory / run.path.name).read_bytes() == flip_sample_bit(src.read_bytes())
    assert entry.origin == run.directory.relative_to(home).as_posix()
    assert entry.at == "2026-11-20T08:00:00Z"
    assert entry.replaced_by == run.id
    assert "replaced by an intact" in entry.reason
    assert main([*cli, "store", "restore", entry.meta["id"][:10]]) == 2
    assert f"holds run {run.short_id} intact" in capsys.readouterr().err
    stray.unlink()
    assert main([*cli, "store", "check"]) == 0


def test_a_kept_copy_whose_writer_was_killed_before_its_meta_is_completed_by_repair(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``meta.json`` is written last (it makes the entry): killed before it, the copy is not
    listed yet; ``store check`` names it and ``--repair`` writes it from the note."""
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 6, seconds=30.0)
    with Library.open(home) as lib:
        run = lib.add_file(src).run
        run.path.write_bytes(flip_sample_bit(src.read_bytes()))
        with open(src, "rb") as fh:
            kept = lib.heal_in_place(run, fh)
        (kept.parent / "meta.json").unlink()  # as if killed just before writing it
        assert lib.set_aside_entries() == []
    assert main(["--home", str(home), "store", "check"]) == 6
    assert f"{kept.relative_to(home).as_posix()}: damaged bytes kept" in capsys.readouterr().out
    assert main(["--home", str(home), "store", "check", "--repair"]) == 0
    with Library.open(home) as lib:
        (entry,) = lib.set_aside_entries()
        assert [r.id for r in lib.runs()] == [run.id]
    assert (entry.path, entry.id, entry.replaced_by) == (kept, run.id, run.id)
    assert main(["--home", str(home), "store", "check"]) == 0
