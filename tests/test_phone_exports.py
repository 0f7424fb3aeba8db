"""Files from phones and generic loggers, written in the layouts their apps document.

Each test builds its file from ``recordings/clean-run.imrs`` (a minute of standing, walking and
running from the virtual sensor), converted to the app's columns, units and conventions, and
checks that imurun reads it to the same samples, or refuses it with a message that names the
problem and the fix. Layouts:

* phyphox CSV export: ``"Time (s)","Acceleration x (m/s^2)",...`` ('Acceleration with g') or
  ``"Linear Acceleration x (m/s^2)"`` ('Linear Acceleration', gravity removed);
* Sensor Logger export (folder or zip): ``time,seconds_elapsed,z,y,x`` per sensor file, time in
  ns since the epoch; ``Accelerometer.csv`` without gravity, ``Gravity.csv``,
  ``TotalAcceleration.csv`` (Android), ``Gyroscope.csv``, ``Metadata.csv`` (platform,
  standardisation); on iOS, unless standardised, accelerations with the opposite sign.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from imurun.analysis import analyze
from imurun.errors import FileFormatError, SignalError
from imurun.ingest.files import load_recording
from imurun.ingest.recording import Recording

REPO = Path(__file__).resolve().parents[1]
CLEAN = REPO / "recordings" / "clean-run.imrs"


@cache
def _clean() -> Recording:
    return load_recording(CLEAN)


def _signals() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, acc_ms2, gyr_rads, gravity_ms2)`` of the clean run; gravity a 1-s moving mean."""
    rec = _clean()
    assert rec.gyr_rads is not None
    k = int(rec.fs_hz)
    grav = np.column_stack([np.convolve(rec.acc_ms2[:, j], np.ones(k) / k, mode="same")
                            for j in range(3)])
    return rec.t_s - rec.t_s[0], rec.acc_ms2.copy(), rec.gyr_rads.copy(), grav


def _phyphox(path: Path, t: np.ndarray, acc: np.ndarray, *, linear: bool = False) -> Path:
    name = "Linear Acceleration" if linear else "Acceleration"
    head = ",".join(f'"{h}"' for h in ["Time (s)", *(f"{name} {a} (m/s^2)" for a in "xyz"),
                                       "Absolute acceleration (m/s^2)"])
    absolute = np.linalg.norm(acc, axis=1)
    rows = np.column_stack([t, acc, absolute])
    path.write_text(head + "\n" + "\n".join(",".join(f"{v:.9E}" for v in r) for r in rows)
                    + "\n", encoding="utf-8")
    return path


def test_phyphox_acceleration_with_g_is_read_as_it_is(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    rec = load_recording(_phyphox(tmp_path / "Raw Data.csv", t, acc))
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-8)
    assert rec.gyr_rads is None


def test_linear_acceleration_is_refused_naming_what_to_export(tmp_path: Path) -> None:
    t, acc, _, grav = _signals()
    p = _phyphox(tmp_path / "Raw Data.csv", t, acc - grav, linear=True)
    # before: read as it was, and analysed to "walking 0.8 min (93 steps)", no running, the
    # sensor's "up" taken as +y: a wrong result without a word
    with pytest.raises(FileFormatError, match=r"holds no gravity .*linear acceleration "
                                              r".*'Acceleration with g'") as e:
        load_recording(p)
    assert "\n" not in str(e.value)


def test_acceleration_of_zeros_is_refused(tmp_path: Path) -> None:
    t = np.arange(2000) / 200.0
    p = tmp_path / "z.csv"
    p.write_text("time_s,acc_x,acc_y,acc_z\n"
                 + "\n".join(f"{v:.3f},0,0,0" for v in t) + "\n", encoding="utf-8")
    # before: "standing 0.2 min", the mounting assumed upright
    with pytest.raises(FileFormatError, match="holds no gravity"):
        load_recording(p)


def test_analyze_refuses_a_recording_of_linear_acceleration() -> None:
    t, acc, gyr, grav = _signals()
    with pytest.raises(SignalError, match=r"holds no gravity .*add the gravity vector back"):
        analyze(Recording.from_arrays(t, acc - grav, gyr))


# ------------------------------------------------------------- time columns of other loggers
def _generic(path: Path, head: str, times: list[str], acc: np.ndarray) -> Path:
    rows = (",".join([tt, *(f"{v:.6f}" for v in a)]) for tt, a in zip(times, acc, strict=True))
    path.write_text(head + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("fmt", "zoned"), [
    ("%Y-%m-%dT%H:%M:%S.%f+00:00", True),
    ("%Y-%m-%dT%H:%M:%S.%fZ", True),
    ("%Y-%m-%d %H:%M:%S.%f", False),  # a spreadsheet's; no zone: only differences are used
])
def test_iso_dates_and_times_in_the_time_column(tmp_path: Path, fmt: str, zoned: bool) -> None:
    import datetime

    t, acc, _, _ = _signals()
    t0 = datetime.datetime(2024, 11, 19, 8, 0, tzinfo=datetime.UTC)
    times = [(t0 + datetime.timedelta(seconds=float(s))).strftime(fmt) for s in t]
    # before: "CSV values are not all numbers: line 4 ... holds '2024-11-19T08:00:00.010...'",
    # the first two rows having been skipped as units rows
    rec = load_recording(_generic(tmp_path / "iso.csv", "timestamp,acc_x,acc_y,acc_z", times,
                                  acc))
    np.testing.assert_allclose(rec.t_s, t, atol=2e-6)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    assert rec.meta.start_unix_s == (t0.timestamp() if zoned else None)
    assert any("ISO 8601" in n for n in rec.meta.notes)


def test_a_date_that_breaks_the_pattern_is_named_at_its_line(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    times = [f"2024-11-19T08:{int(s) // 60:02d}:{s % 60:06.3f}Z" for s in t[:400]]
    times[5] = "19.11.2024 08:00:00"
    p = _generic(tmp_path / "iso.csv", "timestamp,acc_x,acc_y,acc_z", times, acc[:400])
    with pytest.raises(FileFormatError, match=r"line 7, column 1 \(timestamp\) holds "
                                              r"'19\.11\.2024 08:00:00', not an ISO 8601"):
        load_recording(p)
    with pytest.raises(FileFormatError, match="dates and times .*--time-unit does not apply"):
        load_recording(p, time_unit="ms")


def test_a_data_row_is_not_skipped_as_a_units_row(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    times = [f"{s:.6f}" for s in t[:400]]
    times[0] = "n/a"
    p = _generic(tmp_path / "u.csv", "time_s,acc_x,acc_y,acc_z", times, acc[:400])
    # before: the row was skipped as a units row, and the file read from its second sample on
    with pytest.raises(FileFormatError, match=r"line 2, column 1 \(time_s\) holds 'n/a'"):
        load_recording(p)


def test_time_in_nanoseconds(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    ns = [str(1_732_000_000_000_000_000 + int(round(s * 1e9))) for s in t]
    p = _generic(tmp_path / "ns.csv", "time,acc_x,acc_y,acc_z", ns, acc)
    # before: "cannot tell the unit of the time column (median step 5e+06); pass --time-unit
    # s, ms or us", none of which fits
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s - rec.t_s[0], t, atol=1e-6)
    assert any("time in ns" in n for n in rec.meta.notes)
    np.testing.assert_allclose(load_recording(p, time_unit="ns").t_s, rec.t_s)
    with pytest.raises(FileFormatError, match="pass --time-unit ns"):
        load_recording(p, time_unit="us")


# ------------------------------------------------------------------ Sensor Logger exports
T0_NS = 1_732_000_000_000_000_000
META_HEAD = ("version,device name,recording epoch time,recording time,recording timezone,"
             "platform,appVersion,device id,sensors,sampleRateMs,standardisation,"
             "platform version")


def _sl_file(path: Path, t: np.ndarray, xyz: np.ndarray) -> None:
    rows = (f"{T0_NS + round(s * 1e9)},{s:.9f},{v[2]:.9f},{v[1]:.9f},{v[0]:.9f}"
            for s, v in zip(t, xyz, strict=True))
    path.write_text("time,seconds_elapsed,z,y,x\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _sensor_logger(d: Path, platform: str, *, total: bool, gyro_shift_s: float = 0.0,
                   metadata: bool = True, gravity: bool = True) -> Path:
    """An export as the app writes it: Android with TotalAcceleration, or iOS without."""
    d.mkdir()
    t, acc, gyr, grav = _signals()
    sign = -1.0 if platform == "ios" else 1.0
    _sl_file(d / "Accelerometer.csv", t, sign * (acc - grav))
    if gravity:
        _sl_file(d / "Gravity.csv", t, sign * grav)
    if total:
        _sl_file(d / "TotalAcceleration.csv", t, acc)
    tg = t + gyro_shift_s
    _sl_file(d / "Gyroscope.csv", tg, np.column_stack([np.interp(tg, t, gyr[:, k])
                                                        for k in range(3)]))
    if metadata:
        (d / "Metadata.csv").write_text(
            META_HEAD + f"\n3,phone,{T0_NS // 10**6},2024-11-19_08-06-40,UTC,{platform},1.40,"
            "id,Accelerometer|Gravity|Gyroscope,5|5|5,false,17\n", encoding="utf-8")
    return d


@pytest.mark.parametrize(("platform", "total"), [("android", True), ("ios", False)])
def test_sensor_logger_export_folder(tmp_path: Path, platform: str, total: bool) -> None:
    t, acc, gyr, _ = _signals()
    d = _sensor_logger(tmp_path / "2024-11-19_08-06-40", platform, total=total)
    # before: "cannot read: Is a directory"
    rec = load_recording(d)
    assert rec.meta.source_format == "sensorlogger"
    np.testing.assert_allclose(rec.t_s, t, atol=1e-8)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)  # iOS signs turned back
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, atol=1e-6)
    assert rec.meta.start_unix_s == pytest.approx(T0_NS * 1e-9)
    # one of its files names the export too
    np.testing.assert_array_equal(load_recording(d / "Gyroscope.csv").acc_ms2, rec.acc_ms2)


def test_sensor_logger_zip_and_analysis(tmp_path: Path) -> None:
    import zipfile

    d = _sensor_logger(tmp_path / "export", "ios", total=False, gyro_shift_s=0.0025)
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(d.iterdir()):
            zf.write(f, f"2024-11-19_08-06-40/{f.name}")
    # before: "not a supported format"
    rec = load_recording(z)
    assert any("Gyroscope.csv interpolated" in n for n in rec.meta.notes)
    ours = analyze(_clean())
    theirs = analyze(z)
    assert theirs.summary.n_steps == ours.summary.n_steps > 50
    assert theirs.summary.cadence_spm == pytest.approx(ours.summary.cadence_spm, rel=0.01)


def test_sensor_logger_without_gravity_or_platform_is_refused(tmp_path: Path) -> None:
    d = _sensor_logger(tmp_path / "nograv", "ios", total=False, gravity=False)
    with pytest.raises(FileFormatError, match=r"Accelerometer\.csv holds no gravity .*Gravity"):
        load_recording(d)
    d = _sensor_logger(tmp_path / "nometa", "ios", total=False, metadata=False)
    with pytest.raises(FileFormatError, match=r"Metadata\.csv.* is missing"):
        load_recording(d)


def test_sensor_logger_repeated_rows_are_dropped_other_repeats_refused(tmp_path: Path) -> None:
    d = _sensor_logger(tmp_path / "rep", "android", total=True)
    f = d / "TotalAcceleration.csv"
    lines = f.read_text(encoding="utf-8").splitlines()
    f.write_text("\n".join([*lines[:100], lines[99], *lines[100:]]) + "\n", encoding="utf-8")
    rec = load_recording(d)
    assert rec.n_samples == len(lines) - 1
    assert any("1 repeated row(s)" in n for n in rec.meta.notes)
    other = lines[99].rsplit(",", 1)[0] + ",0.5"  # the same time, another value
    f.write_text("\n".join([*lines[:100], other, *lines[100:]]) + "\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"TotalAcceleration\.csv: time column is not "
                                              r"increasing: line 101"):
        load_recording(d)


def test_a_directory_that_is_no_export_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot read a directory as a recording"):
        load_recording(tmp_path)


def test_sensor_logger_export_is_imported_once_as_one_recording(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    from imurun.cli import EXIT_OK, main

    d = _sensor_logger(tmp_path / "2024-11-19_08-06-40", "android", total=True)
    z = tmp_path / "phone.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(d.iterdir()):
            zf.write(f, f"2024-11-19_08-06-40/{f.name}")
    home = str(tmp_path / "home")
    assert main(["--home", home, "athlete", "add", "Ana"]) == EXIT_OK
    # before: "a directory, but not an imurun library"; "a zip file without manifest.json";
    # one sensor file was copied alone, and its analysis failed in the library
    assert main(["--home", home, "import", str(d), "--athlete", "Ana"]) == EXIT_OK
    assert "1 new run(s)" in capsys.readouterr().out
    for again in (z, d / "TotalAcceleration.csv"):
        assert main(["--home", home, "import", str(again)]) == EXIT_OK
        assert "0 new run(s), 1 already held" in capsys.readouterr().out
    assert main(["--home", home, "runs"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2024-11-19" in out
    assert "Ana" in out
    assert "1 run(s)" in out


@pytest.mark.parametrize("delim", [";", "\t"])
def test_phyphox_decimal_comma_export(tmp_path: Path, delim: str) -> None:
    t, acc, _, _ = _signals()
    head = delim.join(f'"{h}"' for h in ["Time (s)", *(f"Acceleration {a} (m/s^2)" for a in "xyz"),
                                         "Absolute acceleration (m/s^2)"])
    rows = (delim.join(f"{v:.9E}".replace(".", ",") for v in (s, *a, np.linalg.norm(a)))
            for s, a in zip(t, acc, strict=True))
    p = tmp_path / "Raw Data.csv"
    p.write_text(head + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    # before: "line 2 ... holds '0,000000000E+00', a number with a decimal comma: export it
    # with a decimal point"
    rec = load_recording(p)
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-8)


def test_decimal_comma_only_in_the_values_not_the_time(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    rows = (";".join([str(i), *(f"{v:.5f}".replace(".", ",") for v in a)])
            for i, a in enumerate(acc))
    p = tmp_path / "eu.csv"
    p.write_text("sample time (ms);acc_x;acc_y;acc_z\n" + "\n".join(rows) + "\n",
                 encoding="utf-8")
    rec = load_recording(p, time_unit="ms")  # (an integer time at 1 kHz: names no comma)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-5)


def test_the_loading_api_is_at_the_top_level(tmp_path: Path) -> None:
    import subprocess
    import sys

    import imurun

    t, acc, gyr, _ = _signals()
    # before: AttributeError: module 'imurun' has no attribute 'load_recording' / 'Recording'
    rec = imurun.load_recording(_phyphox(tmp_path / "p.csv", t, acc))
    assert isinstance(rec, imurun.Recording)
    mine = imurun.Recording.from_arrays(t, acc, gyr)
    assert imurun.analyze(mine).summary.n_steps > 50
    assert {"Recording", "load_recording"} <= set(imurun.__all__)
    # and `import imurun` stays light: NumPy is loaded on first use only
    code = "import sys, imurun; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_comment_lines_before_the_header(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    rows = "\n".join(f"{s:.6f},{a[0]:.6f},{a[1]:.6f},{a[2]:.6f}" for s, a in zip(t, acc, strict=True))
    p = tmp_path / "log.csv"
    p.write_text("# logger 2.1, sacrum\n# rate 200 Hz\ntime_s,acc_x,acc_y,acc_z\n" + rows + "\n",
                 encoding="utf-8")
    # before: "not a supported format (session, stored run, CSV with a time_s,acc_x,... header"
    np.testing.assert_allclose(load_recording(p).acc_ms2, acc, atol=1e-6)


def test_a_file_in_another_encoding_names_the_line_and_the_fix(tmp_path: Path) -> None:
    p = tmp_path / "latin1.csv"
    p.write_bytes("# Gerät: Gürtel\ntime_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n".encode("latin-1"))
    # before: "not a supported format" (the comment hid the header), and without the comment
    # "cannot read as UTF-8 text: 'utf-8' codec can't decode byte 0xe4 in position 5: ..."
    with pytest.raises(FileFormatError, match=r"line 1 holds the byte 0xe4.*save it as UTF-8"):
        load_recording(p)


def test_nan_rows_say_what_to_do(tmp_path: Path) -> None:
    p = tmp_path / "nan.csv"
    p.write_text("time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,nan,nan,nan\n0.02,0,0,9.8\n",
                 encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"on line 3\): delete those rows, and imurun marks "
                                              r"a gap"):
        load_recording(p)


def test_a_recording_too_short_for_the_mounting_says_so() -> None:
    rec = _clean()
    assert rec.gyr_rads is not None
    i = int(30 * rec.fs_hz)  # 3 s in the middle of the running
    part = slice(i, i + int(3 * rec.fs_hz))
    short = Recording.from_arrays(rec.t_s[part] - rec.t_s[i], rec.acc_ms2[part],
                                  rec.gyr_rads[part])
    # before: "no walking or running found" beside "running 0.0 min (9 steps)", and no reason
    notes = analyze(short).notes
    assert any("longest stretch without a gap is 3.0 s, shorter than the 4-s windows" in n
               for n in notes), notes


def test_a_low_sample_rate_is_noted() -> None:
    t, acc, gyr, _ = _signals()
    # before: 25 Hz analysed without a word (its median contact time 25 ms longer than at 200 Hz)
    low = analyze(Recording.from_arrays(t[::8], acc[::8], gyr[::8]))
    assert any("sampled at 25 Hz, below the rates the step detection was validated at (100 Hz" in n for n in low.notes), low.notes
    full = analyze(Recording.from_arrays(t, acc, gyr))
    assert not any("sampled at" in n for n in full.notes)


def test_a_zip_of_something_else_says_to_unzip_it(tmp_path: Path) -> None:
    import zipfile

    t, acc, _, _ = _signals()
    p = _phyphox(tmp_path / "Raw Data.csv", t, acc)
    z = tmp_path / "phyphox export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(p, p.name)
    # before: "not a supported format (session, stored run, CSV with a time_s,acc_x,... header,
    # or Xsens MT Manager text export)"
    with pytest.raises(FileFormatError, match="a zip file, but not a Sensor Logger export .*nor "
                                              "a phyphox one .*unzip"):
        load_recording(z)
    # with phyphox's meta folder it is a phyphox export (tests/test_phyphox.py), here without
    # the time file that says when it started and paused
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("meta/device.csv", "property,value\n")
    with pytest.raises(FileFormatError, match=r"meta/time\.csv, which says when the experiment "
                                              r"started and when it was paused, is missing"):
        load_recording(z)



@pytest.mark.parametrize(("unit", "per_s"), [("ns", 10**9), ("us", 10**6), ("ms", 10**3),
                                             ("s", 1)])
def test_unix_times_give_the_start_and_exact_steps(tmp_path: Path, unit: str, per_s: int) -> None:
    t, acc, _, _ = _signals()
    t0_s = 1_732_000_000
    if unit == "s":  # microseconds as decimals
        ticks = np.array([t0_s * 10**6 + round(s * 1e6) for s in t], dtype=np.int64)
        times = [f"{k // 10**6}.{k % 10**6:06d}" for k in ticks]
        expected = (ticks - ticks[0]) * 1e-6
    else:  # integers, as loggers write them
        ticks = np.array([t0_s * per_s + round(s * per_s) for s in t], dtype=np.int64)
        times = [str(k) for k in ticks]
        expected = (ticks - ticks[0]) / per_s
    p = _generic(tmp_path / "epoch.csv", f"timestamp ({unit}),acc_x,acc_y,acc_z", times, acc)
    rec = load_recording(p)
    # before: t_s kept the Unix time (ns: 256 ns apart as float64, the rate 200.005 Hz, and a
    # "not analysed (gaps) 0.0 s" bout at the end); no start
    assert rec.meta.start_unix_s == pytest.approx(t0_s)
    assert rec.t_s[0] == 0.0
    np.testing.assert_allclose(rec.t_s, expected, rtol=0, atol=5e-7 if unit == "s" else 1e-12)


def test_an_unknown_file_lists_what_is_read(tmp_path: Path) -> None:
    p = tmp_path / "export.json"  # (Sensor Logger's JSON is read: tests/test_sensor_logger_json.py)
    p.write_text('{"samples": [{"t": 0.0, "a": [0.1, 0.2, 9.8]}]}', encoding="utf-8")
    # before: the list left out the phone exports and named no document
    with pytest.raises(FileFormatError, match=r"Sensor Logger export folder or zip; "
                                              r"docs/formats\.md"):
        load_recording(p)


def test_gravity_is_judged_on_the_axes_that_were_measured() -> None:
    t, acc, _, grav = _signals()
    two = acc.copy()
    two[:, 1] = np.nan  # an axis the sensor did not measure (alcantara2022 has no lateral one)
    # before (this session's gravity check): every row dropped for its NaN, the recording
    # refused as holding no gravity ("Mean of empty slice" under filterwarnings=error)
    assert analyze(Recording.from_arrays(t, two), mounting=np.eye(3)).summary.n_steps > 50
    linear = acc - grav
    linear[:, 1] = np.nan
    with pytest.raises(SignalError, match="holds no gravity"):
        analyze(Recording.from_arrays(t, linear), mounting=np.eye(3))
