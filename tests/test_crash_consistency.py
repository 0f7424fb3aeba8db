"""imurun killed inside a state-changing command, then run again: nothing received is lost,
the re-run completes, and the library is the one an uninterrupted command makes.

Each test kills a real ``imurun`` process at one point found by killing it at every durable
write (``tests/crash_support.py``): the windows that matter, not random delays.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store import aside
from imurun.store.library import Library
from tests.crash_support import KILLED, run_killed
from tests.library_support import DEVICE_A, analysis_json, write_run


def test_an_import_killed_before_its_analysis_was_kept_is_analysed_when_run_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Killed after the run was indexed, while its analysis.json was being written: the
    re-run found the run held and said so, leaving it unanalysed and the writer's temporary
    file beside it (`store check` then not clean). An uninterrupted import analyses it."""
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1)
    killed = run_killed(["--home", str(home), "import", str(src)], call="replace",
                        match="analysis.json")
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert main(["--home", str(home), "import", str(src)]) == 0
    out = capsys.readouterr().out
    assert "0 new run(s), 1 already held" in out
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert run.analysis_version is not None
        assert run.summary is not None
        rep = lib.check()
        assert rep.ok, rep.problems
    assert not list(home.rglob(".*.tmp-*"))


@pytest.mark.parametrize(("call", "match"), [
    ("unlink", ".imrn"),  # the partial copy's run file about to go (its meta.json may be gone)
    ("unlink", "meta.json"),  # its meta.json about to go (its run file may be gone)
    ("rmdir", "Z-run-00000001-"),  # its files gone, the directory left
])
def test_an_import_killed_while_it_removed_the_partial_copy_it_replaced_is_finished_again(
        tmp_path: Path, call: str, match: str) -> None:
    """The complete run was indexed in place of its partial copy, then the process was killed
    while the partial copy's directory was being removed: the re-run said "already held" and
    left the partial copy (or its meta.json alone) on disk, so `store check` was not clean
    until a repair."""
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1)
    part = tmp_path / "part.imrn"
    part.write_bytes(src.read_bytes()[:9000])
    assert main(["--home", str(home), "import", str(part)]) == 0
    killed = run_killed(["--home", str(home), "import", str(src)], call=call, match=match)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert main(["--home", str(home), "import", str(src)]) == 0
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert run.path.read_bytes() == src.read_bytes()
        rep = lib.check()
        assert rep.ok, rep.problems
    assert [p.name for p in run.directory.parent.iterdir()] == [run.directory.name]


@pytest.mark.skipif(sys.platform != "linux", reason="names a file descriptor through /proc")
def test_every_directory_a_run_is_written_into_or_moved_to_is_durable_in_its_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file fsynced and renamed into a directory made just before is lost with it on a power
    cut unless the new directory's own entry is fsynced in its parent; a sensor erases a synced
    run once it is stored. Only the run's own directory was fsynced, not runs/ and
    runs/<device>/ that were made for it, and a run set aside was moved without an fsync."""
    synced: list[Path] = []
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        p = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if p.is_dir():
            synced.append(p)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        for made in (home / "runs", run.directory.parent, run.directory):
            assert made.parent in synced, f"{made.relative_to(home)} made, its parent never fsynced"
        synced.clear()
        moved = lib.set_aside(run.id)
        for d in (home / "set-aside", moved.parent, run.directory.parent):
            assert d in synced, f"{d.relative_to(home)} changed, never fsynced"


@pytest.mark.parametrize(("call", "match", "nth"), [
    ("COMMIT", "COMMIT", 2),  # the directory moved, the index not yet told (1: opening)
    ("replace", "set-aside.json", 1),  # the note of where it was, when and why
])
def test_a_set_aside_killed_half_way_is_finished_by_running_it_again_with_its_reason(
        tmp_path: Path, call: str, match: str, nth: int) -> None:
    """Killed after the run's directory moved but before the index commit, the re-run
    refused ("no directory of its own to set aside") and `store check` said the run had no
    file; killed after the commit, the note was lost and `store restore` listed the run as
    "set aside by an earlier imurun, which kept no reason"."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
    args = ["--home", str(home), "store", "set-aside", run.short_id]
    killed = run_killed(args, call=call, match=match, nth=nth)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    with Library.open(home) as lib:
        held = lib.get(run.id) is not None
    if held:  # (the command did not get to say it was done: it is run again)
        assert main(args) == 0
    with Library.open(home) as lib:
        assert lib.runs() == []
        (e,) = lib.set_aside_entries()
        assert e.reason == aside.BY_HAND
        assert e.origin == run.directory.relative_to(home).as_posix()
        assert e.path.read_bytes() == (tmp_path / "in" / "run-1d0c5e75000000a1-1.imrn").read_bytes()
        rep = lib.check()
        assert rep.ok, rep.problems
        assert lib.restore(run.short_id).run.id == run.id


@pytest.mark.parametrize(("call", "match", "nth"), [
    ("unlink", "set-aside.json", 1),  # moved back, its note not yet removed
    ("COMMIT", "COMMIT", 2),  # moved back, the index not yet told (1: opening)
])
def test_a_restore_killed_before_its_index_commit_is_finished_by_running_it_again(
        tmp_path: Path, call: str, match: str, nth: int,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The run's directory was back under runs/ but not indexed: the re-run said "no run ...
    is set aside (set aside: none)" (exit 7) and only `store check --repair` brought it back."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        lib.set_aside(run.id)
    args = ["--home", str(home), "store", "restore", run.short_id]
    killed = run_killed(args, call=call, match=match, nth=nth)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert main(args) == 0
    capsys.readouterr()
    with Library.open(home) as lib:
        (back,) = lib.runs()
        assert back.id == run.id
        assert back.path.read_bytes() == (tmp_path / "in" / "run-1d0c5e75000000a1-1.imrn").read_bytes()
        assert lib.set_aside_entries() == []
        rep = lib.check()
        assert rep.ok, rep.problems
    assert not (back.directory / "set-aside.json").exists()


def test_an_athlete_merge_killed_before_its_index_commit_leaves_the_runs_with_the_athlete(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """profiles.json (the source athlete gone, its id an alias) and the runs' meta.json were
    written, the index not committed: the next command reloaded profiles.json, deleted the
    source athlete and with it the athlete of its runs, and `store check` called that
    consistent although every meta.json named the athlete."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_athlete("Ana", mass_kg=60.0)
        lib.add_athlete("Bob", mass_kg=60.0)
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        lib.assign_run(run.id, athlete="Bob")
    killed = run_killed(["--home", str(home), "athlete", "merge", "Bob", "Ana"],
                        call="COMMIT", match="COMMIT", nth=2)  # (1: opening the index)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    with Library.open(home) as lib:
        assert [a.name for a in lib.athletes()] == ["Ana"]
        assert lib.get(run.id).athlete_name == "Ana"  # type: ignore[union-attr]
        rep = lib.check()
        assert rep.ok, rep.problems


def test_check_names_a_run_whose_athlete_in_the_index_is_not_its_meta_json_s(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        lib.assign_run(run.id, athlete="Ana")
        lib.db.execute("UPDATE runs SET athlete_id = NULL")
        rep = lib.check()
        assert rep.problems == [f"index: the athlete of run {run.short_id} differs from its "
                                "meta.json"]
        assert lib.check(repair=True).index_rebuilt
        assert lib.get(run.id).athlete_name == "Ana"  # type: ignore[union-attr]
        assert lib.check().ok


def test_a_sensor_bind_killed_while_it_analysed_the_runs_again_is_finished_by_running_it_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runs had their athlete, their analysis was still without the athlete's body mass:
    the re-run found no run without an athlete and analysed nothing, so the run stayed out of
    date (and the killed writer's temporary file beside it kept `store check` from clean)."""
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1)
    assert main(["--home", str(home), "athlete", "add", "Ana", "--mass-kg", "60"]) == 0
    assert main(["--home", str(home), "import", str(src)]) == 0
    args = ["--home", str(home), "sensor", "bind", f"{DEVICE_A:016x}", "Ana"]
    killed = run_killed(args, call="replace", match="analysis.json")
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert main(args) == 0
    assert "analysed 1 run(s) again" in capsys.readouterr().out
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert run.athlete_name == "Ana"
        assert run.analysis_mass_kg == 60.0
        rep = lib.check()
        assert rep.ok, rep.problems


@pytest.mark.parametrize("match", ["set-aside.json", "meta.json", ".imrn"])
def test_a_heal_killed_half_way_keeps_the_damaged_bytes_once(
        tmp_path: Path, match: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The damaged file was kept under set-aside/ but not yet listed (its note or meta.json
    not written): the re-run kept the damaged bytes a second time, and the first copy stayed
    unlisted, so `store check` was not clean until a repair, which listed them twice. Killed
    once they were listed, before the intact file took their place: listed twice."""
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1)
    with Library.open(home) as lib:
        run = lib.add_file(src).run
    damaged = bytearray(src.read_bytes())
    damaged[5000] ^= 0xFF
    run.path.write_bytes(bytes(damaged))
    killed = run_killed(["--home", str(home), "import", str(src)], call="replace",
                        match=match)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert main(["--home", str(home), "import", str(src)]) == 0
    capsys.readouterr()
    with Library.open(home) as lib:
        assert lib.get(run.id).path.read_bytes() == src.read_bytes()  # type: ignore[union-attr]
        (e,) = lib.set_aside_entries()
        assert e.reason == aside.REPLACED
        assert e.path.read_bytes() == bytes(damaged)
        rep = lib.check()
        assert rep.ok, rep.problems
    assert len(list((home / "set-aside").rglob("*.imrn"))) == 1


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_the_rebuild_of_a_lost_index_killed_before_its_commit_is_begun_again_on_opening(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], nth: int) -> None:
    """Opening a library whose index was lost rebuilds it (hours for a coach's library, so it
    may well be stopped): killed as it created the index (COMMIT 1), as it loaded profiles.json
    (COMMIT 2) or before the rebuild's commit (COMMIT 3), it left an index without runs that
    the next opening took for whole, so `imurun runs` listed none. The new index says it
    awaits its rebuild until it has had it."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        lib.bind_sensor(DEVICE_A, "Ana")
        runs = [lib.add_file(write_run(tmp_path / f"in{k}", DEVICE_A, k + 1)).run
                for k in range(2)]
        lib.set_analysis(runs[0].id, analysis_json(30))
        before = lib.runs()
    for p in home.glob("index.sqlite3*"):
        p.unlink()
    killed = run_killed(["--home", str(home), "runs"], call="COMMIT", match="COMMIT", nth=nth)
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    assert main(["--home", str(home), "runs"]) == 0
    assert capsys.readouterr().out.count("Ana") == 2
    with Library.open(home) as lib:
        assert lib.notes == []  # (rebuilt once, by the run above)
        assert lib.runs() == before
        assert len(lib.steps(runs[0].id)) == 31
        rep = lib.check()
        assert rep.ok, rep.problems
