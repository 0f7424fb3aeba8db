"""The generated section of docs/validation.md on mobgap's published detectors.

The benchmark's result is given as a JSON entry; no mobgap, no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imurun.validation.peers import (
    TITLE,
    load_walking_peers,
    walking_peers_limits,
    walking_peers_section,
)


def _peer(f1: float, mae: float, lr: float, **extra: Any) -> dict[str, Any]:
    return {"n_ref": 100, "n_det": 100, "tp": 90, "fp": 10, "fn": 10, "precision_pct": f1,
            "recall_pct": f1, "f1_pct": f1, "bias_ms": -31.5, "mae_ms": mae, "sd_ms": 20.0,
            "input": "reference windows", "wall_s": 0.2, "time_ratio_peer_over_imurun": 4.5,
            "failed_pieces": 0, "lr": {"LrcMcCamley": {"lr_pct": lr - 1, "lr_n": 90},
                                       "LrcUllrich": {"lr_pct": lr, "lr_n": 90}}, **extra}


def _entry(peer_f1: float = 81.3, peer_mae: float = 66.6, peer_lr: float = 84.2,
           ) -> dict[str, Any]:
    ours = {"n_ref": 100, "n_det": 100, "tp": 95, "fp": 5, "fn": 5, "precision_pct": 95.0,
            "recall_pct": 95.0, "f1_pct": 95.0, "bias_ms": -2.0, "mae_ms": 30.0,
            "sd_ms": 15.0, "lr_pct": 97.0, "lr_n": 95, "input": "whole recording",
            "wall_s": 0.05}
    ds = {"trials": 3, "imurun": ours,
          "mobgap": {"mobgap_version": "9.9.9", "numpy": "2", "where": "here"},
          "peers": {"IcdIonescu": _peer(peer_f1, peer_mae, peer_lr),
                    "MobilisedPipeline": {**_peer(77.7, 70.0, 0.0), "lr": {
                        "pipeline": {"lr_pct": 79.9, "lr_n": 80}}}}}
    return {"datasets": {"mobgap_lab": ds, "voisard_ipol": ds}, "in_sample": "NOTE-XYZ",
            "measured": {"utc": "2026-01-02T03:04:05Z", "imurun_version": "0.1.0"}}


def test_section_shows_the_entry_and_says_when_and_with_what() -> None:
    text = walking_peers_section(_entry())
    assert text.startswith(f"### {TITLE}")
    assert "2026-01-02T03:04:05Z" in text
    assert "mobgap 9.9.9" in text
    assert "make bench" in text
    rows = [r for r in text.splitlines() if r.startswith("| IcdIonescu |")]
    assert len(rows) == 2  # one per data set
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells == ["IcdIonescu", "reference windows", "81.3", "81.3", "81.3", "-31.5", "20.0",
                     "66.6", "–", "83.2", "84.2", "4.5"]
    pipe = [r for r in text.splitlines() if r.startswith("| MobilisedPipeline |")][0]
    assert "| 79.9 |" in pipe  # its own (LrcUllrich) sides
    assert "| imurun | whole recording | 95.0 |" in text
    assert "NOTE-XYZ" in text
    assert ("On mobgap_lab, mobgap's best: IC F1 81.3 % (IcdIonescu) against 95.0 %; IC MAE "
            "66.6 ms (IcdIonescu) against 30.0 ms; L/R 84.2 % (IcdIonescu + LrcUllrich) "
            "against 97.0 %. No mobgap method is better than imurun") in text
    assert "Better than imurun" not in text


def test_section_says_plainly_where_a_peer_is_better() -> None:
    text = walking_peers_section(_entry(peer_f1=96.0, peer_mae=25.0, peer_lr=98.5))
    assert "Better than imurun: IC F1 of IcdIonescu (96.0 against 95.0)" in text
    assert "IC MAE of IcdIonescu (25.0 against 30.0)" in text
    assert "L/R of IcdIonescu + LrcUllrich (98.5 against 97.0 %)" in text
    assert "No mobgap method is better" not in text


@pytest.mark.parametrize("entry", [None, {"datasets": {}},
                                   {"datasets": {"mobgap_lab": {"imurun": {}, "peers": {
                                       "skipped": "mobgap not importable here"}}}}])
def test_section_says_not_measured_without_an_entry(entry: dict[str, Any] | None) -> None:
    text = walking_peers_section(entry)
    assert "**Not measured**" in text
    assert "|" not in text  # no table, no number
    if entry and entry["datasets"]:
        assert "mobgap not importable here" in text
    assert "not measured" in walking_peers_limits(entry)


def test_limits_say_whether_a_peer_meets_a_target() -> None:
    assert "None of mobgap's published" in walking_peers_limits(_entry())
    met = walking_peers_limits(_entry(peer_f1=98.5, peer_mae=24.0))
    assert met.startswith("* Some walking targets are met")
    assert "IC F1 on mobgap_lab (IcdIonescu)" in met
    assert "IC mean absolute error on voisard_ipol (IcdIonescu)" in met
    assert "left/right" not in met


def test_load_takes_the_entry_and_its_stamp(tmp_path: Path) -> None:
    p = tmp_path / "latest.json"
    assert load_walking_peers(p) is None  # no file
    p.write_text(json.dumps({"utc": "HEAD-UTC", "imurun_version": "0.0.1", "results": {}}))
    assert load_walking_peers(p) is None  # no entry
    entry = {"datasets": {}}
    p.write_text(json.dumps({"utc": "HEAD-UTC", "imurun_version": "0.0.1",
                             "results": {"walking_peers": entry}}))
    got = load_walking_peers(p)
    assert got is not None
    assert got["measured"]["utc"] == "HEAD-UTC"
    entry["measured"] = {"utc": "OWN-UTC", "imurun_version": "0.0.2"}
    p.write_text(json.dumps({"utc": "HEAD-UTC", "results": {"walking_peers": entry}}))
    got = load_walking_peers(p)
    assert got is not None
    assert got["measured"]["utc"] == "OWN-UTC"
