"""Regression: walks counted as runs of the history a single-run spike needs.

A run is judged for a spike once the athlete has ``SPIKE_MIN_HISTORY_RUNS`` runs recorded before
it, the first ``SPIKE_MIN_HISTORY_DAYS`` days before it; the spike itself ignores walks
(recordings without running: ``no_running``), but the history counted them, in the week's runs
and in the runs before its window alike, and took a walk for the athlete's first run. So a new
athlete's second run, after two walks, was judged "+50 %" (moderate) and a reason to check in,
where their second run after no walks is "not enough history yet"; and a walk with a watch's
distance could be the "longest run" a run was compared with. Only runs with running count now,
in the weekly summary and in ``run_spike`` (the run report's box) alike.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from imurun.report.history import RunLength
from imurun.report.weekly import (
    SPIKE_MIN_HISTORY_DAYS,
    SPIKE_MIN_HISTORY_RUNS,
    IsoWeek,
    _spike,
    run_spike,
    weekly_summary,
)
from imurun.store.library import Library
from tests.report_support import DAY_S, W47_MONDAY_NOON, History, analysis_doc

W47 = IsoWeek(2026, 47)
M = W47_MONDAY_NOON
WALK = {"running_s": 0.0, "n_steps": 0}


@pytest.mark.parametrize(("walks", "runs"), [
    ((-20, -18), (-2, 0)),  # walks in the history window, one run two days before the last
    ((-60, -50), (-2, 0)),  # walks before the window (counted by the index's query), the same
    ((-40, -20), (0, 2)),   # a history of walks only before the week, two runs in it
], ids=["walks-in-the-window", "walks-before-the-window", "walks-only-before-the-week"])
def test_walks_are_no_history_for_a_spike(tmp_path: Path, walks: tuple[int, ...],
                                          runs: tuple[int, int]) -> None:
    """Each was a "+50 %" spike (moderate), a reason to check in: the walks made the run's
    history 3 runs and 18 days or more."""
    assert (SPIKE_MIN_HISTORY_RUNS, SPIKE_MIN_HISTORY_DAYS) == (2, 14)
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for d in walks:
            h.run("Walker", M + d * DAY_S, analysis_doc(**WALK), device=0xC1)
        h.run("Walker", M + runs[0] * DAY_S, analysis_doc(running_s=1200), device=0xC1)
        last = h.run("Walker", M + runs[1] * DAY_S, analysis_doc(running_s=1800), device=0xC1)
        (a,) = weekly_summary(lib, W47).athletes
        assert (a.spike.category, a.spike.history_runs) == ("not_enough_history", 1)
        assert a.spike.run_id == last.id
        assert not [r for r in a.reasons if r.key.startswith("spike_")]
        assert a.attention == "ok"
        one = run_spike(lib, last)  # the run report's box: the same rule
        assert (one.category, one.history_runs) == ("not_enough_history", 1)


def test_the_first_run_of_the_history_is_the_first_with_running(tmp_path: Path) -> None:
    """A walk 20 days before made two runs of the last 5 days a history of 20 days."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Walker", M - 20 * DAY_S, analysis_doc(**WALK), device=0xC2)
        h.run("Walker", M - 5 * DAY_S, analysis_doc(running_s=1200), device=0xC2)
        h.run("Walker", M - 3 * DAY_S, analysis_doc(running_s=1200), device=0xC2)
        last = h.run("Walker", M, analysis_doc(running_s=1800), device=0xC2)
        (a,) = weekly_summary(lib, W47).athletes
        assert (a.spike.category, a.spike.history_runs) == ("not_enough_history", 2)
        assert a.spike.history_days == pytest.approx(5.0)
        assert run_spike(lib, last).category == "not_enough_history"


def test_a_known_runner_s_walks_are_not_counted_among_the_runs_before(tmp_path: Path) -> None:
    """With enough runs, a run is judged against the runs; its history counted 6 runs."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for d in (40, 26, 12):
            h.run("Runner", M - d * DAY_S, analysis_doc(running_s=1200), device=0xC3)
            h.run("Runner", M - (d - 1) * DAY_S, analysis_doc(**WALK), device=0xC3)
        last = h.run("Runner", M, analysis_doc(running_s=1800), device=0xC3)
        (a,) = weekly_summary(lib, W47).athletes
        assert (a.spike.category, a.spike.history_runs) == ("moderate", 3)
        assert a.spike.pct == pytest.approx(50.0)
        assert run_spike(lib, last).pct == pytest.approx(50.0)


def test_a_walk_with_a_distance_is_not_the_longest_run() -> None:
    """A walk with a watch's distance (8 km) was the "longest run of the 30 days before": a run
    of 6 km, 20 % longer than the longest run, read as 25 % shorter ("none")."""
    hist = [SimpleNamespace(id=i, start_unix_s=M + d * DAY_S)
            for i, d in (("a", -10), ("walk", -3), ("b", 0))]
    lengths = {"a": RunLength(1200.0, 1200.0, 3000, 5000.0, True),
               "walk": RunLength(0.0, 5400.0, 0, 8000.0, True),
               "b": RunLength(1500.0, 1500.0, 3600, 6000.0, True)}
    s = _spike([hist[2]], hist, lengths,  # type: ignore[arg-type]
               first_run_unix_s=M - 400 * DAY_S, earlier_runs=50)
    assert (s.measure, s.category) == ("distance", "small")
    assert s.pct == pytest.approx(20.0)
    assert s.previous_longest == pytest.approx(5.0)
