"""Regression: ``weekly_summary(lib, "2026-W47")`` failed with an ``AttributeError``.

``imurun weekly --week 2026-W47`` takes text, but the function took only an ``IsoWeek``: text
failed with ``AttributeError: 'str' object has no attribute 'monday'``. It takes the text the
command takes now (a week of another type is a ``UsageError``). (``write_run_report`` takes a
run id as ``imurun report RUN`` does: tests/regression/test_public_api_took_no_text.py.)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from imurun.errors import UsageError
from imurun.report.weekly import IsoWeek, to_json, weekly_summary
from imurun.store.library import Library
from imurun.workflows import import_path

RUN = Path(__file__).resolve().parents[2] / "recordings" / "stored-run.imrn"


def test_a_week_given_as_text(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        lib.add_athlete("Ana", mass_kg=58)
        lib.bind_sensor("1d0c5e7500000001", "Ana")
        import_path(lib, RUN)
        as_text = weekly_summary(lib, "2026-W45", today=dt.date(2026, 11, 20))
        as_week = weekly_summary(lib, IsoWeek(2026, 45), today=dt.date(2026, 11, 20))
        assert as_text.athletes[0].runs == 1
        assert to_json(as_text).split('"generated_at"')[0] == \
            to_json(as_week).split('"generated_at"')[0]
        last = weekly_summary(lib, "last", today=dt.date(2026, 11, 11))
        assert last.week == IsoWeek(2026, 45)


def test_a_week_of_another_type_is_named(tmp_path: Path) -> None:
    wrong: Any = 47
    with Library.open(tmp_path / "home") as lib, pytest.raises(
            UsageError, match=r"^week must be an IsoWeek or a week such as '2026-W47', got int$"):
        weekly_summary(lib, wrong)
