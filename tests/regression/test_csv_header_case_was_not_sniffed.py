"""Regression: a CSV whose header was not lower case was "not a supported format".

docs/formats.md says CSV header names are case-insensitive, and ``load_csv`` lower-cases them,
but ``sniff`` looked for ``time_s`` and ``acc_x`` case-sensitively, so ``Time_s,Acc_X,...`` was
refused before ``load_csv`` could read it.
"""

from __future__ import annotations

from pathlib import Path

from imurun.ingest.files import load_recording, sniff


def test_upper_case_csv_header(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text("TIME_S,ACC_X,ACC_Y,ACC_Z\n0,0,0,9.8\n0.01,0,0,9.8\n0.02,0,0,9.8\n")
    assert sniff(p) == "csv"
    assert load_recording(p).n_samples == 3
