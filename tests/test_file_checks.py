"""What the text-file loaders refuse, and how the refusal points into the file.

Each test here began as a defect report: error positions that did not match the file, duplicate
timestamps that failed late without the file's name, a time unit that gave an impossible sample
rate, a gyroscope unit checked in one direction only, and Xsens packet loss not counted as
missing samples. The loaders are exercised directly and through the commands that read files
(``info``, ``analyze``, ``export``, ``import``), which must all refuse the same file the same
way: exit code 3 and one line naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from imurun.cli import EXIT_FILE, main
from imurun.consts import G_MS2
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
    # numbers Python reads but numpy does not are found too
    ("time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,1_0,0,9.8\n",
     "line 3, column 2 (acc_x) holds '1_0'"),
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


# --------------------------------------------------------------------------- sample rate
SHIMMER = SHARED / "alcantara2022" / "Sample_test_data.csv"
needs_shimmer = pytest.mark.skipif(not SHIMMER.exists(),
                                   reason=f"{SHIMMER} not found (set IMURUN_SHARED_DATA)")


def _shimmer_like(path: Path, time_name: str = "System_Timestamp_Plot_Zeroed") -> Path:
    """A Shimmer-style log: 512 Hz, time in milliseconds, acceleration in m/s²."""
    t, acc, _ = motion(1024, fs=512.0)
    rows = [",".join(["Accel_LN_X", "Accel_LN_Y", "Accel_LN_Z", time_name])]
    rows += [f"{a:.6f},{b:.6f},{c:.6f},{ti * 1e3:.6f}" for (a, b, c), ti in zip(acc, t, strict=True)]
    return _text(path, "\n".join(rows) + "\n")


@pytest.mark.parametrize(("unit", "rate"), [("s", "0.512 Hz"), ("us", "512000 Hz")])
def test_a_time_unit_giving_an_implausible_rate_is_refused(tmp_path: Path, unit: str,
                                                           rate: str) -> None:
    p = _shimmer_like(tmp_path / "shimmer.csv")
    assert load_recording(p).fs_hz == pytest.approx(512.0)
    with pytest.raises(FileFormatError) as e:
        load_recording(p, time_unit=unit)  # type: ignore[arg-type]
    assert e.value.path == str(p)
    assert e.value.reason == (f"time column System_Timestamp_Plot_Zeroed read in {unit} gives "
                              f"{rate}, not a plausible sample rate (5 to 5000 Hz); pass "
                              "--time-unit ms (512 Hz)")


def test_a_header_unit_giving_an_implausible_rate_is_refused(tmp_path: Path) -> None:
    p = _shimmer_like(tmp_path / "shimmer.csv", time_name="Time (s)")  # says s, holds ms
    with pytest.raises(FileFormatError, match=r"read in s gives 0\.512 Hz.*--time-unit ms"):
        load_recording(p)
    assert load_recording(p, time_unit="ms").fs_hz == pytest.approx(512.0)


def test_an_implausible_rate_in_no_unit_says_to_check_the_time_column(tmp_path: Path) -> None:
    text = "time_s,acc_x,acc_y,acc_z\n" + "".join(f"{i * 1e11:.0f},0,0,9.8\n" for i in range(20))
    p = _text(tmp_path / "slow.csv", text)
    with pytest.raises(FileFormatError, match="check the time column, or pass --time-unit s, "
                                              "ms, us or ns"):
        load_recording(p, time_unit="ms")


@pytest.mark.parametrize(("text", "reason"), [
    ("Acquisition frequency: 0.5 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n"
     "1\t0\t0\t9.8\n2\t0\t0\t9.8\n", "the sample rate line says 0.5 Hz"),
    ("PacketCounter\tSampleTimeFine\tAcc_X\tAcc_Y\tAcc_Z\n"
     + "".join(f"{i}\t{i}\t0\t0\t9.8\n" for i in range(20)),  # 1 tick apart: 10 kHz
     "a sample rate of 10000 Hz is not plausible"),
])
def test_an_implausible_xsens_rate_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    p = _text(tmp_path / "x.txt", text)
    with pytest.raises(FileFormatError, match=reason):
        load_recording(p)


@needs_shimmer
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("unit", "rate"), [("s", "0.512 Hz"), ("us", "512000 Hz")])
def test_every_command_refuses_the_shimmer_log_in_a_wrong_time_unit(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, unit: str,
        rate: str) -> None:
    msg = _refused(capsys, tmp_path, command, SHIMMER, "--time-unit", unit)
    assert f"read in {unit} gives {rate}, not a plausible sample rate" in msg
    assert msg.endswith("pass --time-unit ms (512 Hz)")


# --------------------------------------------------------------------------- gyroscope unit
VOISARD = sorted((SHARED / "voisard_ipol").glob("*_lb.txt"))
MOBGAP = sorted((SHARED / "mobgap_lab").glob("*/*/data.mat"))


def _standing(n: int = 1000, fs: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sensor on a standing body: gravity, sway and noise; angular rate in rad/s."""
    rng = np.random.default_rng(3)
    t = np.arange(n) / fs
    acc = np.column_stack([0.2 * np.sin(0.3 * t), 0.1 * np.cos(0.2 * t), np.full(n, G_MS2)])
    gyr = np.column_stack([0.03 * np.sin(0.3 * t), 0.02 * np.cos(0.2 * t), np.zeros(n)])
    return t, acc + rng.normal(0, 0.05, acc.shape), gyr + rng.normal(0, 0.01, gyr.shape)


def test_rad_per_s_of_a_moving_body_declared_deg_per_s_is_refused(tmp_path: Path) -> None:
    t, acc, gyr = motion()  # bounce of 6 m/s², pelvis turning at up to 1.8 rad/s
    p = write_csv(tmp_path / "rad.csv", t, acc, gyr)
    with pytest.raises(FileFormatError, match=r"angular rate looks like it is in rad/s .*; pass "
                                              r"--gyr-unit rad/s$") as e:
        load_recording(p, gyr_unit="deg/s")
    assert "\n" not in str(e.value)
    # the same numbers in deg/s (x 57.3), and acceleration in g, are what was declared
    deg = write_csv(tmp_path / "deg.csv", t, acc / G_MS2, np.degrees(gyr))
    rec = load_recording(deg, acc_unit="g", gyr_unit="deg/s")
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, rtol=1e-6, atol=1e-9)
    with pytest.raises(FileFormatError, match="pass --gyr-unit rad/s"):  # also with g
        load_recording(write_csv(tmp_path / "g.csv", t, acc / G_MS2, gyr), acc_unit="g",
                       gyr_unit="deg/s")


def test_a_standing_recording_is_never_refused_for_its_gyroscope_unit(tmp_path: Path) -> None:
    t, acc, gyr = _standing()
    for unit, values in (("deg/s", gyr), ("deg/s", np.degrees(gyr)), ("rad/s", gyr)):
        rec = load_recording(write_csv(tmp_path / "s.csv", t, acc, values), gyr_unit=unit)  # type: ignore[arg-type]
        assert rec.n_samples == len(t)


def test_a_gyroscope_unit_named_in_the_header_is_checked_too(tmp_path: Path) -> None:
    t, acc, gyr = motion()
    p = write_csv(tmp_path / "h.csv", t, acc, gyr,
                  header="time_s,acc_x,acc_y,acc_z,Gyro_X (deg/s),Gyro_Y (deg/s),Gyro_Z (deg/s)")
    with pytest.raises(FileFormatError, match="pass --gyr-unit rad/s"):
        load_recording(p)
    rec = load_recording(p, gyr_unit="rad/s")
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("path", VOISARD or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"Voisard IPOL data not found under {SHARED} (set IMURUN_SHARED_DATA)"))],
    ids=[p.stem for p in VOISARD] or ["voisard-missing"])
def test_real_walking_in_rad_per_s_declared_deg_per_s_is_refused(path: Path) -> None:
    with pytest.raises(FileFormatError, match="looks like it is in rad/s"):
        load_recording(path, gyr_unit="deg/s")


@pytest.mark.skipif(not MOBGAP, reason=f"mobgap lab data not found under {SHARED}")
def test_real_walking_in_deg_per_s_is_accepted_and_refused_in_rad_per_s(tmp_path: Path) -> None:
    """McRoberts lower-back recordings (acceleration in g, angular rate in deg/s), every trial."""
    from scipy.io import loadmat

    n = 0
    for mat in MOBGAP:
        tm = loadmat(mat, squeeze_me=True, struct_as_record=False)["data"].TimeMeasure1
        for test in tm._fieldnames:
            for trial in getattr(tm, test)._fieldnames:
                su = getattr(getattr(tm, test), trial).SU.LowerBack
                fs = float(su.Fs.Acc if hasattr(su.Fs, "Acc") else su.Fs)
                acc, gyr = np.asarray(su.Acc, float), np.asarray(su.Gyr, float)
                ok = np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
                t, acc, gyr = (np.arange(len(ok)) / fs)[ok], acc[ok], gyr[ok]
                p = write_csv(tmp_path / f"{n}.csv", t, acc, gyr)
                rec = load_recording(p, acc_unit="g", gyr_unit="deg/s")
                assert rec.gyr_rads is not None
                np.testing.assert_allclose(rec.gyr_rads, np.radians(gyr), rtol=1e-6, atol=1e-9)
                p = write_csv(tmp_path / f"{n}r.csv", t, acc, np.radians(gyr))
                with pytest.raises(FileFormatError, match="looks like it is in rad/s"):
                    load_recording(p, acc_unit="g", gyr_unit="deg/s")
                n += 1
    assert n >= 4


@pytest.mark.skipif(not VOISARD, reason=f"Voisard IPOL data not found under {SHARED}")
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_xsens_rad_per_s_declared_deg_per_s(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    path = SHARED / "voisard_ipol" / "1-1_lb.txt"
    msg = _refused(capsys, tmp_path, command, path, "--gyr-unit", "deg/s")
    assert msg.endswith("pass --gyr-unit rad/s")


# --------------------------------------------------------------------------- missing samples
def test_csv_time_gaps_count_their_missing_samples(tmp_path: Path) -> None:
    t, acc, gyr = motion(400)
    keep = np.r_[0:100, 103:250, 260:400]  # 3 then 10 samples missing
    rec = load_recording(write_csv(tmp_path / "j.csv", t[keep], acc[keep], gyr[keep]))
    assert rec.stats.samples_missing == 13 == sum(g.n_missing for g in rec.gaps)


def test_xsens_packet_loss_counts_its_missing_samples(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, acc, gyr = motion(300)
    keep = np.r_[0:120, 124:200, 201:300]  # packets 120-123 and 200 lost
    p = mt_export(tmp_path / "mt.txt", np.arange(300)[keep], acc[keep], gyr[keep],
                  empty_stf=True)
    assert load_recording(p).stats.samples_missing == 5
    assert main(["info", str(p)]) == 0
    assert "gaps        2 (0.07 s, 5 samples missing)" in capsys.readouterr().out


@pytest.mark.parametrize("path", VOISARD or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"Voisard IPOL data not found under {SHARED} (set IMURUN_SHARED_DATA)"))],
    ids=[p.stem for p in VOISARD] or ["voisard-missing"])
def test_voisard_samples_missing_is_what_the_packet_counter_skips(
        path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counter = np.loadtxt(path, skiprows=2, usecols=0, ndmin=1)
    skipped = int(np.unwrap(counter, period=65536)[-1] - counter[0] + 1) - len(counter)
    assert main(["info", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["samples_missing"] == skipped
    if path.name == "1-1_lb.txt":  # the file of the report: 82 gaps, 2.06 s
        assert (sum(d["gaps"].values()), d["gap_s"], skipped) == (82, 2.06, 124)


def test_a_stored_run_without_samples_names_the_file_once(tmp_path: Path) -> None:
    from firmware_protocol.runfile import RunHeader, RunWriter
    from imurun.sim.firmware import SensorConfig

    cfg = SensorConfig()
    h = RunHeader(1, 1, 1, 200, 1_795_158_000_000, 1_000_000, cfg.acc_range_g,
                  cfg.gyr_range_dps, cfg.acc_lsb_ms2, cfg.gyr_lsb_rads)
    p = tmp_path / "header-only.imrn"
    p.write_bytes(RunWriter(h).start())
    with pytest.raises(FileFormatError) as e:
        load_recording(p)
    assert str(e.value).count("header-only.imrn") == 1
    assert "no intact sample blocks" in str(e.value)
