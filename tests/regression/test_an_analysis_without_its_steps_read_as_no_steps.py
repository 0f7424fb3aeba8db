"""Regression: an analysis JSON without its ``steps`` was read as an analysis of no steps.

``imurun.load_analysis`` (and ``imurun report FILE.json``, ``--baseline``, a library run's kept
analysis, its report and its ``export --steps-csv``) took a missing ``steps`` for an empty list; a missing ``indicators`` for none raised,
``summary.n_steps`` for 0 running steps, a missing count of ``summary.quality`` (``n_gaps``,
``frames_lost``...) for 0. A file edited by hand or written by a faulty tool gave wrong numbers
without a word. The keys whose absence would read as 0, false or empty are required now
(docs/analysis-json.md, "Required keys"): a missing one is a ``FileFormatError`` naming it, one
line and exit 3 at the command line. Keys that may be absent (documented so, or added to the
schema later, so that older files still load) still load, and a missing value reads as
``null`` (unknown), as before.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import imurun
from imurun.cli import EXIT_FILE
from imurun.errors import FileFormatError
from imurun.store.library import Library
from imurun.workflows import import_path
from tests.cli_support import one_line, run

REPO = Path(__file__).resolve().parents[2]
SESSION = REPO / "recordings" / "clean-run.imrs"
STORED_RUN = REPO / "recordings" / "stored-run.imrn"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return imurun.analyze(SESSION).to_dict()


def _without(doc: dict[str, Any], path: str) -> dict[str, Any]:
    d = copy.deepcopy(doc)
    *parents, key = path.split(".")
    o: Any = d
    for p in parents:
        o = o[int(p)] if p.isdigit() else o[p]
    del o[key]
    return d


REQUIRED = {"steps": "'steps'", "indicators": "'indicators'", "summary": "'summary'",
            "summary.n_steps": "'summary.n_steps'",
            "summary.spread": "'summary.spread'",
            "summary.quality.n_gaps": "'summary.quality.n_gaps'",
            "summary.quality.frames_lost": "'summary.quality.frames_lost'",
            "summary.quality.time": "'summary.quality.time'",
            "steps.0.ic_s": "'steps[0].ic_s'", "steps.5.activity": "'steps[5].activity'"}
OPTIONAL = ("activity", "unavailable", "notes", "source", "parameters", "imurun_version",
            "summary.units", "summary.impact_clipped_pct", "summary.impact_at_least_g",
            "summary.quality.analysed_fs_hz", "summary.quality.notes")
# a missing value is unknown, as null: never a wrong number
AS_NULL = ("summary.cadence_spm", "summary.quality.duration_s", "steps.3.contact_s",
           "steps.4.side")


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_a_missing_key_that_carries_numbers_is_named(doc: dict[str, Any], tmp_path: Path,
                                                     key: str) -> None:
    f = tmp_path / "run.json"
    f.write_text(json.dumps(_without(doc, key)), encoding="utf-8")
    with pytest.raises(FileFormatError) as e:
        imurun.load_analysis(f)
    assert str(e.value) == f"{f}: not an imurun analysis (missing key {REQUIRED[key]})"


def test_keys_that_may_be_absent_still_load(doc: dict[str, Any], tmp_path: Path) -> None:
    d = doc
    for key in OPTIONAL:
        d = _without(d, key)
    f = tmp_path / "old.json"
    f.write_text(json.dumps(d), encoding="utf-8")
    back = imurun.load_analysis(f)
    assert len(back.steps) == len(doc["steps"]) > 100
    assert back.summary.n_steps == doc["summary"]["n_steps"]
    for key in AS_NULL:
        f.write_text(json.dumps(_without(doc, key)), encoding="utf-8")
        imurun.load_analysis(f)


def test_the_commands_say_it_in_one_line_exit_3(doc: dict[str, Any], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "run.json"
    f.write_text(json.dumps(_without(doc, "steps")), encoding="utf-8")
    code, out, err = run(capsys, "report", str(f))
    assert code == EXIT_FILE, err
    one_line(err, str(f), "missing key 'steps'")
    assert out == ""
    assert not (tmp_path / "run.report.html").exists()
    code, _, err = run(capsys, "analyze", str(SESSION), "--baseline", str(f))
    assert code == EXIT_FILE, err
    one_line(err, str(f), "cannot be the baseline", "missing key 'steps'")


def test_a_library_run_whose_kept_analysis_lost_its_steps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        import_path(lib, STORED_RUN)
        run_dir = lib.run("latest").directory
    kept = run_dir / "analysis.json"
    d = json.loads(kept.read_text(encoding="utf-8"))
    del d["steps"]
    kept.write_text(json.dumps(d), encoding="utf-8")
    with Library.open(home) as lib, pytest.raises(FileFormatError, match="missing key 'steps'"):
        lib.run_analysis("latest")
    code, _, err = run(capsys, "--home", str(home), "report", "latest")
    assert code == EXIT_FILE, err
    one_line(err, "analysis.json", "missing key 'steps'")
    out = tmp_path / "steps.csv"
    code, _, err = run(capsys, "--home", str(home), "export", "latest", "--steps-csv", str(out))
    assert code == EXIT_FILE, err  # (was a CSV of no steps)
    one_line(err, "analysis.json", "missing key 'steps'")
    assert not out.exists()
