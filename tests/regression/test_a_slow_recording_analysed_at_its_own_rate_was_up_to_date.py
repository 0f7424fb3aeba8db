"""Regression: a slow recording analysed before the clean-up interpolated it stayed "up to date".

Recordings sampled below 95 Hz are now interpolated for the step detection (their contact times
are much more precise: docs/validation.md, "Slow sensors"), and the analysis gives the rate it
ran at (``quality.analysed_fs_hz``). A library run of such a recording analysed before, by the
same imurun version, was not out of date: ``imurun store reanalyze`` left it with the less
precise numbers, and nothing said it should be made again. Such a run is out of date now, and
only such runs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imurun.cli import EXIT_OK, main
from imurun.ingest.files import load_recording
from imurun.signal.cleanup import CleanupSettings
from imurun.store.library import Library
from imurun.workflows import INTERPOLATED_BELOW_HZ, outdated, slow_rate_not_interpolated

REPO = Path(__file__).resolve().parents[2]


def _csv_at_50_hz(tmp_path: Path) -> Path:
    """clean-run (200 Hz) as a 50-Hz CSV, every 4th sample."""
    rec = load_recording(REPO / "recordings" / "clean-run.imrs")
    assert rec.gyr_rads is not None
    keep = slice(None, None, 4)
    rows = np.column_stack([rec.t_s[keep] - rec.t_s[0], rec.acc_ms2[keep], rec.gyr_rads[keep]])
    path = tmp_path / "slow.csv"
    with path.open("w") as fh:
        fh.write("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n")
        for r in rows:
            fh.write(",".join(f"{v:.9g}" for v in r) + "\n")
    return path


def _as_before(analysis: dict[str, Any]) -> dict[str, Any]:
    """The analysis as it was written before the interpolation: no ``analysed_fs_hz``."""
    old = copy.deepcopy(analysis)
    del old["summary"]["quality"]["analysed_fs_hz"]
    return old


def test_a_slow_run_analysed_at_its_own_rate_is_out_of_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(_csv_at_50_hz(tmp_path))]) == EXIT_OK
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert outdated(lib, [run]) == []  # analysed now: interpolated
        result = lib.run_analysis(run)
        assert result is not None
        q = result.summary.quality
        assert (round(q.fs_hz), q.analysed_fs_hz) == (50, pytest.approx(4 * q.fs_hz))
        assert any("sampled at 50 Hz" in n and "interpolated to 200 Hz" in n
                   for n in result.notes)
        run = lib.set_analysis(run.id, _as_before(result.to_dict()))
        ((late, why),) = outdated(lib, [run])  # before: [], "up to date"
        assert late.id == run.id
        assert "below 95 Hz" in why
    capsys.readouterr()
    assert main(["--home", str(home), "store", "reanalyze"]) == EXIT_OK
    assert "analysed 1 run(s) again" in capsys.readouterr().out
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert outdated(lib, [run]) == []  # put right once


def test_other_runs_are_not_concerned(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(REPO / "recordings" / "clean-run.imrs")]
                ) == EXIT_OK
    with Library.open(home) as lib:
        (run,) = lib.runs()
        assert not slow_rate_not_interpolated(run)
        # a 200-Hz run analysed before analysed_fs_hz was written is not concerned either
        result = lib.run_analysis(run)
        assert result is not None
        assert not slow_rate_not_interpolated(lib.set_analysis(run.id, _as_before(
            result.to_dict())))


def test_the_rule_uses_the_clean_ups_rate() -> None:
    assert INTERPOLATED_BELOW_HZ == CleanupSettings().interpolate_below_hz
