"""What the text-file loaders refuse, and how the refusal points into the file.

Each test here began as a defect report: error positions that did not match the file, duplicate
timestamps that failed late without the file's name, a time unit that gave an impossible sample
rate, a gyroscope unit checked in one direction only, and Xsens packet loss not counted as
missing samples. The loaders are exercised directly and through the commands that read files
(``info``, ``analyze``, ``export``, ``import``), which must all refuse the same file the same
way: exit code 3 and one line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from imurun.cli import EXIT_FILE, main
from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording
from tests.ingest_support import MT_HEADER, motion, mt_export, write_csv

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMURUN_SHARED_DATA", REPO.parent / "shared" / "data"))


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, path: Path,
             *extra: str) -> str:
    """Run ``command`` on ``path`` (``tmp_path`` for its outputs); its one error line."""
    args = [command, str(path), *extra]
    if command == "export":
        args += ["--csv", str(tmp_path / "out.csv")]
    elif command == "import":
        args += ["--home", str(tmp_path / "lib")]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == EXIT_FILE, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"imurun: error: {path}: "), err
    return lines[0]


COMMANDS = ["info", "analyze", "export", "import"]


# --------------------------------------------------------------------------- positions
@pytest.mark.parametrize(("text", "where"), [
    ("time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,abc,0,9.8\n",
     "line 3, column 2 (acc_x) holds 'abc'"),
    ("time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,,0,9.8\n", "line 3, column 2 (acc_x) holds ''"),
    # a spreadsheet hint, blank and comment lines all count as lines of the file
    ("\nsep=;\ntime_s;acc_x;acc_y;acc_z\n# comment\n0;0;0;9.8\n\n0.01;0;x;9.8\n",
     "line 7, column 3 (acc_y) holds 'x'"),
    ("time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,0\n",
     "line 3 has 2 field(s), so no acc_y value (column 3)"),
    # the position is the file's, whatever the order of the columns
    ("acc_z,time_s,acc_x,acc_y\n9.8,0,0,0\n9.8,0.01,0,0\n9.8,0.02,0,1e\n",
     "line 4, column 4 (acc_y) holds '1e'"),
    # Shimmer: two non-numeric rows under the header
    ("Accel_LN_X,Accel_LN_Y,Accel_LN_Z,Timestamp\nCAL,CAL,CAL,CAL\nm/(s^2),m/(s^2),m/(s^2),ms\n"
     "0,0,9.8,0\n0,0,9.8,10\n0,0,9.8,2O\n", "line 6, column 4 (Timestamp) holds '2O'"),
    ("time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n\n0.01,0,nan,9.8\n", "(the first on line 4)"),
])
def test_csv_errors_give_the_line_and_column_an_editor_shows(tmp_path: Path, text: str,
                                                             where: str) -> None:
    p = _text(tmp_path / "bad.csv", text)
    with pytest.raises(FileFormatError) as e:
        load_recording(p)
    assert where in e.value.reason
    assert "row 0" not in e.value.reason


def test_xsens_errors_give_the_line_and_column_an_editor_shows(tmp_path: Path) -> None:
    text = (MT_HEADER + "PacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n"
            "1\t0\t0\t9.8\n2\t0\t0\t9.8\n3\t0\t-\t9.8\n")
    p = _text(tmp_path / "bad.txt", text)  # 5 comment lines, the header on line 6
    with pytest.raises(FileFormatError, match=r"line 9, column 3 \(Acc_Y\) holds '-'"):
        load_recording(p)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reports_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        command: str) -> None:
    t, acc, gyr = motion(300)
    p = write_csv(tmp_path / "run.csv", t, acc, gyr)
    lines = p.read_text().splitlines()
    lines[100] = lines[100].replace(",", ",oops", 1)  # line 101 of the file, column 2
    p.write_text("\n".join(lines) + "\n")
    msg = _refused(capsys, tmp_path, command, p)
    assert "line 101, column 2 (acc_x)" in msg


# --------------------------------------------------------------------------- time order
def _with_line(path: Path, k: int, edit: str) -> Path:
    """``path`` with its line ``k`` (from 1) replaced by ``edit``."""
    lines = path.read_text().splitlines()
    lines[k - 1] = edit
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_repeated_time_is_refused_at_its_line(tmp_path: Path) -> None:
    t, acc, gyr = motion(300)
    p = write_csv(tmp_path / "dup.csv", t, acc, gyr)
    lines = p.read_text().splitlines()
    # line 102 holds the time of line 101 (the row after it otherwise unchanged)
    cells = lines[101].split(",")
    cells[0] = lines[100].split(",")[0]
    _with_line(p, 102, ",".join(cells))
    with pytest.raises(FileFormatError, match=r"time column is not increasing: line 102 has "
                       r"time_s 0\.99, the same as line 101$"):
        load_recording(p)


def test_an_exact_duplicate_row_is_refused_too(tmp_path: Path) -> None:
    t, acc, _ = motion(300)
    p = write_csv(tmp_path / "dup.csv", t, acc)
    lines = p.read_text().splitlines()
    p.write_text("\n".join([*lines[:51], lines[50], *lines[51:]]) + "\n")
    with pytest.raises(FileFormatError, match="line 52 has time_s 0.49, the same as line 51"):
        load_recording(p)


def test_time_going_back_names_the_line_and_counts_the_rows(tmp_path: Path) -> None:
    text = "time_s,acc_x,acc_y,acc_z\n" + "".join(
        f"{v},0,0,9.8\n" for v in (0, 0.01, 0.02, 0.015, 0.03, 0.025, 0.04))
    p = _text(tmp_path / "back.csv", text)
    with pytest.raises(FileFormatError, match=r"line 5 has time_s 0\.015, less than 0\.02 on "
                                              r"line 4 \(2 rows in all"):
        load_recording(p)


def test_a_repeated_xsens_packet_counter_is_refused_at_its_line(tmp_path: Path) -> None:
    _, acc, gyr = motion(50)
    counters = np.arange(50)
    counters[20] = counters[19]  # on line 6 (header) + 21
    p = mt_export(tmp_path / "dup.txt", counters, acc, gyr, empty_stf=True)
    with pytest.raises(FileFormatError, match="line 27 has PacketCounter 19, the same as line 26"):
        load_recording(p)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_repeated_time_at_load(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path, command: str) -> None:
    t, acc, gyr = motion(600)
    p = write_csv(tmp_path / "dup.csv", t, acc, gyr)
    lines = p.read_text().splitlines()
    p.write_text("\n".join([*lines[:301], lines[300], *lines[301:]]) + "\n")
    msg = _refused(capsys, tmp_path, command, p)
    assert "line 302 has time_s 2.99, the same as line 301" in msg
