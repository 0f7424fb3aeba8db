"""Regression: ``imurun analyze``'s text gave gaps and pauses in tenths of a second.

Its line of what the recording held said ``running 37 s ..., other 0 min`` by the one rule of
``imurun._timetext`` (whole seconds, minutes with a decimal, whole minutes), but then
``not analysed (gaps) 75.3 s`` and ``paused 0.0 s``: another rule, and a pause of 40 ms shown
as zero. Both follow ``time_text`` now, in the recording's unit when zero, never a nonzero time
as 0 (``<1 s``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import imurun
from imurun.analysis import format_report
from imurun.signal.results import RunAnalysis, TimeBreakdown

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result() -> RunAnalysis:
    return imurun.analyze(REPO / "recordings" / "clean-run.imrs")


def _with_time(res: RunAnalysis, **seconds: float) -> RunAnalysis:
    q = res.summary.quality
    time = (*q.time, *(TimeBreakdown(k, v, k) for k, v in seconds.items()))
    q = dataclasses.replace(q, time=time, duration_s=q.duration_s + sum(seconds.values()))
    return dataclasses.replace(res, summary=dataclasses.replace(res.summary, quality=q))


def _held(res: RunAnalysis) -> str:
    return next(x for x in format_report(res).splitlines() if x.startswith("  running "))


@pytest.mark.parametrize(("gap_s", "paused_s", "said"), [
    (75.3, 0.04, ", not analysed (gaps) 1.3 min, paused <1 s"),     # was "75.3 s", "0.0 s"
    (0.3, 754.0, ", not analysed (gaps) <1 s, paused 13 min"),      # was "0.3 s", "754.0 s"
    (12.44, 30.6, ", not analysed (gaps) 12 s, paused 31 s"),       # was "12.4 s", "30.6 s"
])
def test_gaps_and_pauses_follow_the_one_rule(result: RunAnalysis, gap_s: float, paused_s: float,
                                             said: str) -> None:
    line = _held(_with_time(result, gap=gap_s, paused=paused_s))
    assert line.endswith(said), line


def test_none_of_either_says_nothing(result: RunAnalysis) -> None:
    assert "not analysed" not in _held(result)
    assert "paused" not in _held(result)
