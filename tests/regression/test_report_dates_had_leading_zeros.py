"""Regression: dates in the pages' prose were written with a leading zero ("from 03 Nov",
"Mon 02 Nov – Sun 08 Nov 2026"), as ``strftime("%d")`` writes them and people do not.
One helper writes them now, ``imurun.report._html.day``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from imurun.report import _html as h
from imurun.report.weekly import IsoWeek, render_html, weekly_summary
from imurun.store.library import Library


def test_a_date_has_no_leading_zero() -> None:
    d = dt.date(2026, 11, 2)
    assert h.day(d) == "Mon 2 Nov"
    assert h.day(d, weekday=False) == "2 Nov"
    assert h.day(d, year=True) == "Mon 2 Nov 2026"
    assert h.day(dt.date(2026, 11, 23), weekday=False, year=True) == "23 Nov 2026"


def test_the_weekly_pages_week_is_written_without_leading_zeros(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        page = render_html(weekly_summary(lib, IsoWeek(2026, 45)))
    assert "Mon 2 Nov – Sun 8 Nov 2026" in page
    assert " 02 Nov" not in page
