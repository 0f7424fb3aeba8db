"""Regression: an analysis with an activity name this imurun does not know could not be read.

The activity timeline's names only grow (``"paused"`` was appended to ``ACTIVITIES``), and an
analysis made by a newer imurun (synced into a shared library, or sent as JSON) may name a bout
this version has never heard of. ``ActivityBouts.from_records`` mapped names with
``ACTIVITIES.index``, so ``imurun.load_analysis``, the library's kept analysis and the run
report of it all refused the whole file, "not an imurun analysis (tuple.index(x): x not in
tuple)". Now such a bout reads as ``other``, and one note says so (docs/analysis-json.md,
"Unknown activity names").
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import imurun
from imurun.analysis import format_report
from imurun.cli import EXIT_OK, main

REPO = Path(__file__).resolve().parents[2]
CLEAN = REPO / "recordings" / "clean-run.imrs"
FUTURE = "swimming"  # no such activity (yet)


@cache
def _doc() -> str:
    return imurun.analyze(CLEAN).to_json()


def _from_the_future() -> tuple[dict[str, Any], int]:
    """The analysis of clean-run with its longest standing bout named ``FUTURE``: (doc, index)."""
    doc = json.loads(_doc())
    bouts = doc["activity"]
    stand = [i for i, b in enumerate(bouts) if b["activity"] == "stand"]
    assert stand, "the recording starts standing"
    i = max(stand, key=lambda k: bouts[k]["end_s"] - bouts[k]["start_s"])
    bouts[i]["activity"] = FUTURE
    bouts.append({"start_s": bouts[-1]["end_s"], "end_s": bouts[-1]["end_s"] + 1.0,
                  "activity": FUTURE})  # a second bout of it: said once all the same
    return doc, i


def _said_once(notes: list[str] | tuple[str, ...]) -> str:
    said = [n for n in notes if f"'{FUTURE}'" in n]
    assert len(said) == 1, notes
    assert "read as 'other'" in said[0]
    assert f"imurun {imurun.__version__}" in said[0]  # which imurun made it (here: this one)
    return said[0]


def test_a_json_file_with_an_unknown_activity_loads_and_reports(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    doc, i = _from_the_future()
    path = tmp_path / "future.analysis.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    result = imurun.load_analysis(path)  # before: ValueError from ACTIVITIES.index
    labels = result.activity.labels()
    assert labels[i] == labels[-1] == "other"
    assert len(labels) == len(doc["activity"])
    known = json.loads(_doc())["activity"]
    assert [lab for k, lab in enumerate(labels[:-1]) if k != i] == \
        [b["activity"] for k, b in enumerate(known) if k != i]  # the rest as written
    note = _said_once(result.notes)
    assert f"note: {note}" in format_report(result)
    assert result.summary.to_dict() == json.loads(_doc())["summary"]  # the rest as written

    out = tmp_path / "future.html"
    assert main(["report", str(path), "--out", str(out)]) == EXIT_OK  # before: exit 1, traceback
    assert out.read_text(encoding="utf-8").count(f"&#x27;{FUTURE}&#x27;") == 1
    capsys.readouterr()


def test_a_kept_analysis_with_an_unknown_activity_shows_and_reports(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imurun.store.library import Library

    home = tmp_path / "home"
    assert main(["--home", str(home), "import", str(CLEAN)]) == EXIT_OK
    doc, i = _from_the_future()
    with Library.open(home) as lib:
        (run,) = lib.runs()
        run = lib.set_analysis(run.id, doc)  # as a newer imurun kept it
        result = lib.run_analysis(run)  # before: ValueError
        assert result is not None
        assert result.activity.labels()[i] == "other"
        _said_once(result.notes)
    capsys.readouterr()
    assert main(["--home", str(home), "show", "latest"]) == EXIT_OK
    assert "running" in capsys.readouterr().out
    out = tmp_path / "kept.html"
    assert main(["--home", str(home), "report", "latest", "--out", str(out)]) == EXIT_OK
    html = out.read_text(encoding="utf-8")
    assert html.count(f"&#x27;{FUTURE}&#x27;") == 1  # before: the report failed
    # the kept file is left as the newer imurun wrote it
    with Library.open(home) as lib:
        kept = lib.analysis(lib.runs()[0])
        assert kept is not None
        assert kept["activity"][i]["activity"] == FUTURE
