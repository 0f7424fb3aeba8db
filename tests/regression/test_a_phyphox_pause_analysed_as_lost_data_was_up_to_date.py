"""Regression: a paused phyphox run analysed before pauses were told apart stayed "up to date".

The first phyphox reader (commit 4fc2650) made a pause of the export a gap of lost data: in the
analysis, no samples ('no data') in the timeline, the pause's seconds lost in the time breakdown
and in the weekly summary. A pause is now its own kind of gap, but such a kept analysis, made by
the same imurun version, was not out of date: ``imurun store reanalyze`` left it, and nothing
said it should be made again. Now it is out of date (and only such runs: a phyphox run with a
pause the analysis counts as lost data).

``data/phyphox-pause-analysed-by-4fc2650.analysis.json.gz`` is what imurun at 4fc2650 wrote for
the export below (``imurun.analyze`` of it, unchanged).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from imurun.cli import EXIT_OK, main
from imurun.ingest.files import load_recording
from imurun.store.library import Library
from imurun.workflows import outdated, pause_counted_as_lost
from tests.phyphox_support import Export

REPO = Path(__file__).resolve().parents[2]
OLD = Path(__file__).parent / "data" / "phyphox-pause-analysed-by-4fc2650.analysis.json.gz"


def _paused_export(tmp_path: Path) -> Path:
    """clean-run as a phyphox export paused once, 7.5 s at 20 s (as tests/test_phyphox.py)."""
    rec = load_recording(REPO / "recordings" / "clean-run.imrs")
    assert rec.gyr_rads is not None
    t = rec.t_s - rec.t_s[0]
    return Export(t_acc=t, acc=rec.acc_ms2.copy(), t_gyr=t, gyr=rec.gyr_rads.copy(),
                  pauses=[(20.0, 7.5)]).write_zip(tmp_path / "paused.zip")


def _old() -> dict[str, Any]:
    return json.loads(gzip.decompress(OLD.read_bytes()))


def test_the_fixture_is_an_analysis_that_counts_the_pause_as_lost() -> None:
    old = _old()
    q = old["summary"]["quality"]
    assert {b["activity"] for b in old["activity"]} >= {"gap"}
    assert "paused" not in {b["activity"] for b in old["activity"]}
    assert [g["cause"] for g in q["gaps_by_cause"]] == ["source"]
    assert "paused" not in {t["reason"] for t in q["time"]}


def test_a_paused_phyphox_run_analysed_by_the_first_reader_is_out_of_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(_paused_export(tmp_path))]) == EXIT_OK
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert run.format == "phyphox"
        assert outdated(lib, [run]) == []  # analysed now: the pause is a pause
        run = lib.set_analysis(run.id, _old())  # as the first phyphox reader left it
        ((late, why),) = outdated(lib, [run])  # before: [], "up to date"
        assert late.id == run.id
        assert "pause" in why
        assert "lost data" in why
        # narrowly: the same analysis without the pause's note (an export never paused) is not
        no_pause = _old()
        no_pause["summary"]["quality"]["notes"] = [
            n for n in no_pause["summary"]["quality"]["notes"] if not n.startswith("paused ")]
        assert not pause_counted_as_lost(lib.set_analysis(run.id, no_pause))
        lib.set_analysis(run.id, _old())
    capsys.readouterr()
    assert main(["--home", str(home), "runs"]) == EXIT_OK
    assert "1 run with an out-of-date analysis (a pause counted as lost data)" in \
        capsys.readouterr().out
    assert main(["--home", str(home), "store", "reanalyze"]) == EXIT_OK
    said = capsys.readouterr().out
    assert "paused phyphox export analysed before imurun told a pause from lost data" in said
    assert "analysed 1 run(s) again" in said
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert outdated(lib, [run]) == []  # put right once, not again and again
        result = lib.run_analysis(run)
        assert result is not None
        assert "paused" in result.activity.labels()
        assert "gap" not in result.activity.labels()


def test_other_runs_are_not_concerned(tmp_path: Path) -> None:
    """A recording that is not a phyphox export is never out of date for this, nor is a
    phyphox run analysed now, paused or not."""
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(REPO / "recordings" / "reboot-and-gaps.imrs")]
                ) == EXIT_OK
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert not pause_counted_as_lost(run)
        # even with the old phyphox analysis kept for it: the rule is about phyphox exports
        assert not pause_counted_as_lost(lib.set_analysis(run.id, _old()))
