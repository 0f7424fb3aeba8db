"""Regression: the run report's ``m:ss`` clock showed a nonzero time under half a second as 0:00.

The bundled ``reboot-and-gaps.imrs`` lost 0.06 s to gaps it could not analyse; its report's
"Where the time went" table said ``No data (gaps)  0:00  0.1 %``. The clock follows the rule of
``imurun._timetext`` now: a nonzero time is never shown as zero (``<0:01``); zero stays
``0:00``. The one place that put the clock in the page without escaping it (the thirds' "this
run had ...") escapes it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import imurun
from imurun.report import _html as h
from imurun.report.run_report import render_run_report

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.0, "0:00"), (0.06, "<0:01"), (0.49, "<0:01"), (0.5, "<0:01"), (0.51, "0:01"),
    (59.4, "0:59"), (61.0, "1:01"), (3725.0, "1:02:05"), (None, "–"), (float("nan"), "–"),
])
def test_the_clock_never_shows_a_nonzero_time_as_zero(seconds: float | None, shown: str) -> None:
    assert h.duration(seconds) == shown  # (0.5: as time_text, Python's round, to even: "<1 s")


def test_the_gaps_row_of_the_bundled_gappy_recording() -> None:
    page = render_run_report(imurun.analyze(REPO / "recordings" / "reboot-and-gaps.imrs"))
    row = re.search(r"<tr><td>No data \(gaps\)</td><td class=\"num\">([^<]*)</td>", page)
    assert row is not None
    assert row.group(1) == "&lt;0:01"  # was 0:00


def test_a_short_running_time_in_the_thirds_is_escaped() -> None:
    res = imurun.analyze(REPO / "recordings" / "clean-run.imrs")
    res = dataclasses.replace(res, summary=dataclasses.replace(res.summary, running_s=0.3))
    page = render_run_report(res)
    assert "(this run had &lt;0:01)" in page
    assert "<0:01" not in page
