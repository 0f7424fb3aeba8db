"""CSV files from other loggers: columns found from their header names, units from names,
a units row or the data; explicit ``columns``/``time_unit`` when the header says too little."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from imurun.consts import G_MS2
from imurun.errors import FileFormatError
from imurun.ingest.columns import ColumnError, map_columns, parse_mapping, words
from imurun.ingest.files import load_recording, sniff

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMURUN_SHARED_DATA", REPO.parent / "shared" / "data"))


def _signals(n: int = 600, fs: float = 200.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(n) / fs
    acc = np.column_stack([0.3 * np.sin(t), 0.2 * np.cos(t), G_MS2 + np.sin(2 * np.pi * 2.8 * t)])
    gyr = np.column_stack([0.5 * np.sin(2 * np.pi * 1.4 * t), 0.2 * np.cos(t), 0.1 * np.sin(t)])
    return t, acc, gyr


def _write(path: Path, header: list[str], rows: np.ndarray, delim: str = ",",
           extra_rows: tuple[str, ...] = ()) -> Path:
    lines = [delim.join(header), *extra_rows]
    lines += [delim.join(f"{v:.9g}" for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "expected"), [
    ("Accel_LN_X", ["accel", "ln", "x"]),
    ("AccX (g)", ["acc", "x", "g"]),
    ("System_Timestamp_Plot_Zeroed", ["system", "timestamp", "plot", "zeroed"]),
    ("gyroZ[deg/s]", ["gyro", "z", "deg", "s"]),
])
def test_words(name: str, expected: list[str]) -> None:
    assert words(name) == expected


def test_shimmer_export_loads_with_time_in_ms(tmp_path: Path) -> None:
    t, acc, _ = _signals(fs=512.0)
    p = _write(tmp_path / "shimmer.csv",
               ["Accel_LN_X", "Accel_LN_Y", "Accel_LN_Z", "System_Timestamp_Plot_Zeroed"],
               np.column_stack([acc, (t + 1 / 512) * 1e3]))
    assert sniff(p) == "csv"
    rec = load_recording(p)
    assert rec.fs_hz == pytest.approx(512.0, rel=1e-6)
    np.testing.assert_allclose(rec.t_s, t + 1 / 512, atol=1e-9)  # the file's own time base
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    assert rec.gyr_rads is None
    assert any("acc_x=Accel_LN_X" in n and "time in ms" in n for n in rec.meta.notes)


def test_units_in_the_names_are_applied(tmp_path: Path) -> None:
    t, acc, gyr = _signals()
    header = ["Timestamp (ms)", "AccX (g)", "AccY (g)", "AccZ (g)", "GyroX (deg/s)",
              "GyroY (deg/s)", "GyroZ (deg/s)"]
    p = _write(tmp_path / "u.csv", header,
               np.column_stack([t * 1e3, acc / G_MS2, np.degrees(gyr)]))
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, atol=1e-6)


def test_units_row_under_the_header_and_semicolons(tmp_path: Path) -> None:
    t, acc, gyr = _signals()
    header = ["Shimmer_Timestamp_CAL", "Shimmer_Accel_WR_X_CAL", "Shimmer_Accel_WR_Y_CAL",
              "Shimmer_Accel_WR_Z_CAL", "Shimmer_Gyro_X_CAL", "Shimmer_Gyro_Y_CAL",
              "Shimmer_Gyro_Z_CAL"]
    p = _write(tmp_path / "s.csv", header,
               np.column_stack([t * 1e3, acc, np.degrees(gyr)]), delim=";",
               extra_rows=(";".join(["CAL"] * 7),
                           ";".join(["ms"] + ["m/(s^2)"] * 3 + ["deg/s"] * 3)))
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, atol=1e-6)


@pytest.mark.parametrize(("before", "delim"), [
    ("sep=;\n", ";"), ("sep=;\n\n", ";"), ("\nsep=;\n\n\n", ";"), ("sep=\t\n", "\t"),
    ('"sep=\t"\n', "\t"), ('"sep=;"\r\n\r\n', ";")])
def test_a_spreadsheets_sep_line_names_the_delimiter_blank_lines_or_not(
        tmp_path: Path, before: str, delim: str) -> None:
    """Excel writes ``sep=;`` first (Shimmer's export a quoted ``"sep=\t"``); an edited file
    may have blank lines around it. The names hold commas, so only the ``sep=`` line tells the
    delimiter."""
    t, acc, gyr = _signals()
    header = ["time (s)", "acc x, m/s2", "acc y, m/s2", "acc z, m/s2", "gyr x, rad/s",
              "gyr y, rad/s", "gyr z, rad/s"]
    p = _write(tmp_path / "x.csv", header, np.column_stack([t, acc, gyr]), delim=delim)
    p.write_text(before + p.read_text(encoding="utf-8"), encoding="utf-8")
    assert sniff(p) == "csv"
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, atol=1e-6)


def test_decimal_commas_are_read_not_skipped_as_units_rows(tmp_path: Path) -> None:
    """A spreadsheet in a decimal-comma locale: every row is read, none skipped as units rows.

    (Refused before, naming the line: "export it with a decimal point".)
    """
    t, acc, _ = _signals(20)
    rows = [";".join(f"{v:.6f}".replace(".", ",") for v in r) for r in np.column_stack([t, acc])]
    p = tmp_path / "comma.csv"
    p.write_text("sep=;\ntime_s;acc_x;acc_y;acc_z\n" + "\n".join(rows) + "\n", encoding="utf-8")
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-6)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    assert "decimal commas read as decimal points" in rec.meta.notes


@pytest.mark.parametrize(("scale", "unit"), [(1.0, "s"), (1e3, "ms"), (1e6, "us")])
def test_time_unit_inferred_from_a_plausible_rate(tmp_path: Path, scale: float,
                                                  unit: str) -> None:
    t, acc, _ = _signals()
    p = _write(tmp_path / "t.csv", ["timestamp", "acc_x", "acc_y", "acc_z"],
               np.column_stack([t * scale, acc]))
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    assert any(f"time in {unit}" in n for n in rec.meta.notes)


def test_unreadable_header_says_how_to_name_the_columns(tmp_path: Path) -> None:
    t, acc, _ = _signals()
    p = _write(tmp_path / "x.csv", ["t", "a1", "a2", "a3"], np.column_stack([t, acc]))
    with pytest.raises(FileFormatError, match="not a supported format: .* name them with "
                       "--columns time=NAME"):
        load_recording(p)
    rec = load_recording(p, columns=parse_mapping("time=t,acc_x=a1,acc_y=a2,acc_z=a3"))
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    with pytest.raises(FileFormatError, match="no column named 'nope'"):
        load_recording(p, columns={"time": "nope"})


@pytest.mark.parametrize("names", [("ax", "ay", "az", "gx", "gy", "gz"),
                                   ("Ax", "Ay", "Az", "wx", "wy", "wz"),
                                   ("ax (m/s^2)", "ay (m/s^2)", "az (m/s^2)",
                                    "gx (rad/s)", "gy (rad/s)", "gz (rad/s)")])
def test_short_axis_names_are_read(tmp_path: Path, names: tuple[str, ...]) -> None:
    """``ax, ay, az`` and ``gx``/``wx``... (many loggers' names) were "not a supported format"."""
    t, acc, gyr = _signals()
    p = _write(tmp_path / "x.csv", ["t", *names], np.column_stack([t, acc, gyr]))
    rec = load_recording(p)
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-6)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, rtol=1e-6, atol=1e-9)


def test_time_unit_option_and_impossible_rates(tmp_path: Path) -> None:
    t, acc, _ = _signals()
    p = _write(tmp_path / "tu.csv", ["time", "acc_x", "acc_y", "acc_z"],
               np.column_stack([t * 1e3, acc]))
    rec = load_recording(p, time_unit="ms")
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    slow = _write(tmp_path / "slow.csv", ["time", "acc_x", "acc_y", "acc_z"],
                  np.column_stack([t * 1e11, acc]))  # 2 nHz, 2 µHz, 2 mHz or 2 Hz: none fits
    with pytest.raises(FileFormatError, match="pass --time-unit"):
        load_recording(slow)


def test_mapping_errors() -> None:
    with pytest.raises(ColumnError, match="KEY=COLUMN"):
        parse_mapping("time")
    with pytest.raises(ColumnError, match="unknown column key 'mag_x'"):
        parse_mapping("mag_x=M")
    assert parse_mapping("time_s=T, acc_x = A X") == {"time": "T", "acc_x": "A X"}
    with pytest.raises(ColumnError, match="some but not all"):
        map_columns(["time", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y"])
    with pytest.raises(ColumnError, match="no time column"):
        map_columns(["acc_x", "acc_y", "acc_z", "other"])


def test_cli_info_with_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imurun.cli import main

    t, acc, _ = _signals()
    p = _write(tmp_path / "c.csv", ["t", "ax", "ay", "az"], np.column_stack([t, acc]))
    assert main(["info", str(p), "--columns", "time=t,acc_x=ax,acc_y=ay,acc_z=az"]) == 0
    assert "200" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["info", str(p), "--columns", "time"])
    assert e.value.code == 2


def test_real_shimmer_log_is_analysed() -> None:
    """alcantara2022's raw Shimmer log (512 Hz, m/s², time in ms): ~6 s of running at 3 m/s."""
    path = SHARED / "alcantara2022" / "Sample_test_data.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent (set IMURUN_SHARED_DATA)")
    from imurun import analyze

    res = analyze(path)
    assert res.summary.n_steps >= 10
    assert 150.0 <= res.summary.cadence_spm <= 185.0
    assert 0.15 <= res.summary.contact_ms / 1e3 <= 0.35
    # a few seconds of running: too few steps per foot for a balance, and the text says why
    from imurun.analysis import format_report

    assert res.reason_unavailable("contact_balance_left_pct").startswith(
        "too few running steps of each foot")
    line = next(x for x in format_report(res).splitlines() if "contact balance" in x)
    assert "too few running steps of each foot" in line
