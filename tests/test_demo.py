"""``make demo`` end to end: virtual sensors, sync over pseudo-terminals, reports, weekly summary.

Runs the demo exactly as ``make demo`` does (its own process, into a temporary directory), then
checks what a runner and a coach get, and opens both pages in headless Chromium (screenshots in
``test-artifacts/``). One test, so the demo runs once whichever worker takes it (pytest-xdist's
``xdist_group`` does not keep a module together under pytest 9).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imurun.report.run_report import PLOTS, SECTIONS
from imurun.store.library import Library
from tests.report_support import ARTIFACTS, check_page

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]


def test_make_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "imurun.demo", str(out)], capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    print(f"demo took {took:.0f} s")  # noqa: T201 - shown with -s
    demo = (out, p.stdout)
    _prints_where_everything_is(demo)
    _every_run_was_synced_analysed_shared_and_imported(demo)
    _the_coach_sees_who_needs_a_check_in_first(demo)
    _pages_in_chromium(demo)


def _prints_where_everything_is(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    assert "$ imurun --home" in stdout  # every step is the command a person would type
    assert "Demo done in" in stdout
    for name in ("ana-latest-run.html", "weekly-2026-W47.html", "weekly-2026-W47.csv",
                 "weekly-2026-W47.json"):
        assert (out / name).is_file()
        assert str((out / name).resolve()) in stdout
    assert "\x1b[" not in stdout  # no progress bars when the output is not a terminal
    # the runner's sync prints, per run, its summary and the path of its report
    reports = sorted((out / "runners" / "ana" / "reports").glob("run-*.html"))
    assert len(reports) == 9
    for r in reports:
        assert f"    report {r}" in stdout


def _every_run_was_synced_analysed_shared_and_imported(demo: tuple[Path, str]) -> None:
    out, _ = demo
    for who in ("ana", "ben", "chloe"):
        with Library.open(out / "runners" / who, create=False) as lib:
            runs = lib.runs()
            assert len(runs) == 9
            assert all(r.source == "sync" and r.summary is not None for r in runs)
            assert len({r.athlete_id for r in runs}) == 1
        assert not list((out / "sensors" / who / "flash").glob("run-*.imrn"))  # erased
    with Library.open(out / "coach", create=False) as lib:
        assert sorted(a.name for a in lib.athletes()) == ["Ana", "Ben", "Chloé"]
        assert len(lib.runs()) == 27
        assert lib.check().ok


def _the_coach_sees_who_needs_a_check_in_first(demo: tuple[Path, str]) -> None:
    out, _ = demo
    doc = json.loads((out / "weekly-2026-W47.json").read_text(encoding="utf-8"))
    names = [a["athlete"] for a in doc["athletes"]]
    assert names == ["Chloé", "Ben", "Ana"]
    chloe, ben, ana = doc["athletes"]
    assert chloe["spike"]["category"] == "large"
    assert chloe["indicators"]["overstriding"]["raised_runs"] == 3
    assert ben["attention"] == "check_in"
    assert ben["indicators"]["pelvic_drop_left"]["level"] == "strongly_raised"
    assert ben["form"]["pelvic_drop_stance_left_deg"]["flagged"]
    assert ana["attention"] == "ok"
    assert all(a["runs"] == 3 for a in doc["athletes"])
    with (out / "weekly-2026-W47.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["athlete"] for r in rows] == names


def _pages_in_chromium(demo: tuple[Path, str]) -> None:
    out, _ = demo
    report = check_page(out / "ana-latest-run.html", list(SECTIONS + PLOTS),
                        ARTIFACTS / "demo-run-report.png")
    weekly = check_page(out / "weekly-2026-W47.html",
                        ["roster", "athletes", "how-to-read", "athlete-1", "athlete-2",
                         "athlete-3", "plot-load-1", "plot-load-2", "plot-load-3"],
                        ARTIFACTS / "demo-weekly.png")
    phone = check_page(out / "weekly-2026-W47.html", ["roster", "athlete-1"],
                       ARTIFACTS / "demo-weekly-phone.png", width=390)
    for res in (report, weekly, phone):
        assert res.errors == []
        assert [m for m in res.console if m[0] in ("error", "warning")] == []
        assert res.missing == []
        assert res.broken_images == []
        assert all(u.startswith(("file:", "data:")) for u in res.requests)
    assert report.title.startswith("Ana: run of ")
    assert weekly.title == "Team week 2026-W47"
