"""Regression: one run held twice (the sensor's run and a CSV exported from it, or a phone's
export of the same run) was counted twice, without a word.

Since ``export --csv`` keeps the start, importing the CSV back for the same athlete adds a
second run at the same time: different bytes, so not "held already". Both count in the history
and in the weekly volume. One person runs one run at a time, so two runs of one athlete that
share at least half of the shorter one's time are said, where they come in (import, sync,
``athlete assign``) and in the weekly summary, with the way to keep one. Nothing is refused or
deleted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imurun.cli import EXIT_OK, main
from imurun.report.weekly import IsoWeek, weekly_summary
from imurun.store.library import Library
from tests.library_support import T0_MS, write_run

SAID = "was recorded at the same time as run"


def _home(tmp_path: Path) -> list[str]:
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "athlete", "add", "Ana"]) == EXIT_OK
    assert main([*home, "athlete", "add", "Ben"]) == EXIT_OK
    return home


def _week() -> IsoWeek:
    return IsoWeek.of(dt.datetime.fromtimestamp(T0_MS / 1e3).date())


def test_a_csv_of_a_run_imported_back_is_said_and_flagged_in_the_week(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    src = write_run(tmp_path / "in")
    assert main([*home, "import", str(src), "--athlete", "Ana"]) == EXIT_OK
    first = capsys.readouterr().out
    assert SAID not in first
    csv = tmp_path / "again.csv"
    assert main([*home, "export", "latest", "--csv", str(csv)]) == EXIT_OK
    capsys.readouterr()
    assert main([*home, "import", str(csv), "--athlete", "Ana"]) == EXIT_OK
    out = capsys.readouterr().out
    assert SAID in out  # before: nothing said
    assert "imurun store set-aside" in out
    with Library.open(tmp_path / "home") as lib:
        a, b = lib.runs(athlete="Ana")
        assert [r.id for r in lib.same_time_runs(a)] == [b.id]
        assert [r.id for r in lib.same_time_runs(b)] == [a.id]
        row = weekly_summary(lib, _week()).athletes
        (ana,) = [x for x in row if x.name == "Ana"]
        assert ana.quality.same_time_runs == 2
        assert any(r.key == "data_quality" and "overlap in time" in r.text for r in ana.reasons)
        # set one aside: nothing left to say
        lib.set_aside(b.id)
        (a_only,) = lib.runs(athlete="Ana")
        assert lib.same_time_runs(a_only) == []
        (ana,) = [x for x in weekly_summary(lib, _week()).athletes if x.name == "Ana"]
        assert ana.quality.same_time_runs == 0
        assert not any("overlap in time" in r.text for r in ana.reasons)


def test_runs_of_two_athletes_or_at_other_times_are_not_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = _home(tmp_path)
    a = write_run(tmp_path / "a", run_id=1)
    b = write_run(tmp_path / "b", run_id=2)  # same start, another sensor run: another file
    c = write_run(tmp_path / "c", run_id=3, start_unix_ms=T0_MS + 3_600_000)  # an hour later
    assert main([*home, "import", str(a), "--athlete", "Ana"]) == EXIT_OK
    assert main([*home, "import", str(b), "--athlete", "Ben"]) == EXIT_OK
    assert main([*home, "import", str(c), "--athlete", "Ana"]) == EXIT_OK
    assert SAID not in capsys.readouterr().out
    # given to Ana, b now shares her first run's time
    with Library.open(tmp_path / "home") as lib:
        (b_run,) = lib.runs(athlete="Ben")
    assert main([*home, "athlete", "assign", "Ana", b_run.id[:8]]) == EXIT_OK
    assert SAID in capsys.readouterr().out


def test_a_short_overlap_at_the_edges_is_not_said(tmp_path: Path) -> None:
    """Two runs back to back whose recorded times touch by less than half of the shorter."""
    home = _home(tmp_path)
    a = write_run(tmp_path / "a", run_id=1)
    assert main([*home, "import", str(a), "--athlete", "Ana"]) == EXIT_OK
    with Library.open(tmp_path / "home") as lib:
        (run,) = lib.runs(athlete="Ana")
        assert run.duration_s
        later_ms = T0_MS + int(run.duration_s * 0.6 * 1e3)  # shares 40 % of the run's time
    b = write_run(tmp_path / "b", run_id=2, start_unix_ms=later_ms)
    assert main([*home, "import", str(b), "--athlete", "Ana"]) == EXIT_OK
    with Library.open(tmp_path / "home") as lib:
        a_run, b_run = lib.runs(athlete="Ana")
        assert lib.same_time_runs(a_run) == lib.same_time_runs(b_run) == []
    # one that shares 60 % is said
    c = write_run(tmp_path / "c", run_id=3, start_unix_ms=T0_MS + int(run.duration_s * 0.4e3))
    assert main([*home, "import", str(c), "--athlete", "Ana"]) == EXIT_OK
    with Library.open(tmp_path / "home") as lib:
        first = lib.runs(athlete="Ana")[0]
        assert len(lib.same_time_runs(first)) == 1
