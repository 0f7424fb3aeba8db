"""Regression: a CSV or Xsens export whose last line was cut short was refused whole.

A logger that stops while writing (power lost, the app killed) leaves a last line with fewer
fields than the others. The whole file was refused ("line N has 3 field(s), so no acc_z
value"), losing every sample before it. Now that last line is left out with a note; a short
line anywhere else is still refused, naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imurun.cli import EXIT_OK, main
from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording

N = 300


def _rows(with_gyr: bool) -> list[str]:
    t = np.arange(N) / 100.0
    z = 9.81 + 3.0 * np.sin(2 * np.pi * 2.8 * t)
    return [f"{x:.2f},0.1,0.2,{v:.4f}" + (",0.01,0.02,0.03" if with_gyr else "")
            for x, v in zip(t, z, strict=True)]


@pytest.mark.parametrize("with_gyr", [False, True])
def test_a_csv_cut_in_its_last_line_keeps_the_samples_before(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], with_gyr: bool) -> None:
    head = "time_s,acc_x,acc_y,acc_z" + (",gyr_x,gyr_y,gyr_z" if with_gyr else "")
    rows = _rows(with_gyr)
    cut = rows[-1][: rows[-1].index(",", rows[-1].index(",") + 1) + 2]  # "2.99,0.1,0."
    p = tmp_path / "cut.csv"
    p.write_text("\n".join([head, *rows[:-1], cut]))  # no line end: the writer stopped
    rec = load_recording(p)  # before: FileFormatError, line 301 has 3 field(s)
    assert rec.n_samples == N - 1
    assert any(f"the last line ({N + 1}) is cut short" in n for n in rec.meta.notes)
    assert main(["info", str(p)]) == EXIT_OK
    assert "cut short" in capsys.readouterr().out


def test_a_short_line_inside_the_file_is_still_refused(tmp_path: Path) -> None:
    rows = _rows(False)
    rows[100] = "1.00,0.1"
    p = tmp_path / "short.csv"
    p.write_text("\n".join(["time_s,acc_x,acc_y,acc_z", *rows]) + "\n")
    with pytest.raises(FileFormatError, match=r"line 102 has 2 field\(s\)"):
        load_recording(p)


def test_an_xsens_export_cut_in_its_last_line_keeps_the_samples_before(tmp_path: Path) -> None:
    t = np.arange(N)
    lines = ["// Start Time: Unknown", "// Update Rate: 100.0Hz",
             "PacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\tGyr_Z"]
    lines += [f"{k}\t0.1\t0.2\t{9.81 + np.sin(k / 10):.4f}\t0.01\t0.02\t0.03" for k in t[:-1]]
    lines.append(f"{t[-1]}\t0.1\t0.2")
    p = tmp_path / "MT_cut.txt"
    p.write_text("\n".join(lines))
    rec = load_recording(p)
    assert rec.n_samples == N - 1
    assert any("cut short" in n for n in rec.meta.notes)
