"""Regression: ``imurun analyze``'s text named gap causes by the analysis JSON's keys.

A stream with damaged and lost frames and a reboot read ``38 (2.10 s): 31 corrupt, 6
lost_frames, 1 reboot``, while the run report (since it was fixed) says "damaged frames",
"frames lost on the link", "sensor restart". Both read one table now,
``imurun.ingest.recording.GAP_CAUSE_WORDS`` (``GapCause.words``); the JSON keeps its keys.
"""

from __future__ import annotations

from pathlib import Path

import imurun
from imurun.analysis import format_report
from imurun.ingest.recording import GAP_CAUSE_WORDS, GapCause

REPO = Path(__file__).resolve().parents[2]


def test_every_gap_cause_has_words() -> None:
    assert set(GAP_CAUSE_WORDS) == {c.value for c in GapCause}
    assert GapCause.LOST_FRAMES.words == "frames lost on the link"


def test_analyze_text_names_gap_causes_in_words() -> None:
    res = imurun.analyze(REPO / "recordings" / "reboot-and-gaps.imrs")
    assert {c for c, _, _ in res.summary.quality.gaps_by_cause} == {
        "corrupt", "lost_frames", "reboot"}
    line = next(x for x in format_report(res).splitlines() if x.startswith("  gaps "))
    assert "31 damaged frames, 6 frames lost on the link, 1 sensor restart" in line
    assert "lost_frames" not in line
    assert res.to_dict()["summary"]["quality"]["gaps_by_cause"][0]["cause"] == "corrupt"
