"""Importers: generic CSV and Xsens MT Manager text exports -> Recording; format sniffing.

The Xsens tests run on every lower-back file of the Voisard et al. data set (the
``Acquisition frequency: N Hz`` dialect) and on a fixture in the ``//``-comment dialect that MT
Manager writes (``// Start Time``, ``// Update Rate: 100.0Hz``, ``// Filter Profile``, ``// Option
Flags``, ``// Firmware Version``, then ``PacketCounter``, ``SampleTimeFine``, ``Acc_X``...).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.runfile import RunHeader, RunWriter
from imurun.consts import DEG2RAD, G_MS2
from imurun.errors import FileFormatError
from imurun.ingest.files import load_csv, load_recording, load_xsens, sniff
from imurun.ingest.recording import GapCause, Recording
from tests.ingest_support import (
    FS,
    MT_COLUMNS,
    MT_HEADER,
    clean_script,
    motion,
    mt_export,
    write_csv,
    write_session,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMURUN_SHARED_DATA", REPO.parent / "shared" / "data"))
VOISARD = sorted((SHARED / "voisard_ipol").glob("*_lb.txt"))

def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- CSV
def test_csv_with_gyroscope(tmp_path: Path) -> None:
    t, acc, gyr = motion()
    rec = load_recording(write_csv(tmp_path / "a.csv", t, acc, gyr))
    assert rec.meta.source_format == "csv"
    assert rec.n_samples == len(t)
    assert rec.fs_hz == pytest.approx(FS)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-12)
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-9)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, rtol=1e-9)
    assert rec.gaps == ()
    assert len(rec.segments) == 1


def test_csv_accelerometer_only_is_valid(tmp_path: Path) -> None:
    t, acc, _ = motion()
    rec = load_recording(write_csv(tmp_path / "a.csv", t, acc))
    assert not rec.has_gyro
    assert rec.gyr_rads is None
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-9)


def test_csv_extra_columns_any_order_any_case(tmp_path: Path) -> None:
    t, acc, gyr = motion(50)
    lines = ["Label,GYR_Z,Time_S,acc_y,Acc_X,temp_c,gyr_x,ACC_Z,gyr_y"]
    for i in range(len(t)):
        v = [repr(float(x)) for x in (gyr[i, 2], t[i], acc[i, 1], acc[i, 0], gyr[i, 0],
                                      acc[i, 2], gyr[i, 1])]
        lines.append(f"s{i},{v[0]},{v[1]},{v[2]},{v[3]},21.5,{v[4]},{v[5]},{v[6]}")
    p = write_text(tmp_path / "x.csv", "\n".join(lines) + "\n")
    assert sniff(p) == "csv"
    rec = load_recording(p)
    np.testing.assert_array_equal(rec.t_s, t)
    np.testing.assert_array_equal(rec.acc_ms2, acc)
    assert rec.gyr_rads is not None
    np.testing.assert_array_equal(rec.gyr_rads, gyr)


def test_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    t, acc, _ = motion(20)
    body = "".join(f"{a},{b},{c},{d}\r\n" for a, (b, c, d) in zip(t, acc, strict=True))
    p = tmp_path / "w.csv"
    p.write_bytes(("\ufefftime_s,acc_x,acc_y,acc_z\r\n" + body).encode())
    rec = load_recording(p)
    assert rec.n_samples == 20
    np.testing.assert_allclose(rec.acc_ms2, acc)


def test_csv_unit_options_convert(tmp_path: Path) -> None:
    t, acc, gyr = motion()
    p = write_csv(tmp_path / "u.csv", t, acc / G_MS2, gyr / DEG2RAD)
    rec = load_recording(p, acc_unit="g", gyr_unit="deg/s")
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-9)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, rtol=1e-9)
    only_acc = load_csv(write_csv(tmp_path / "g.csv", t, acc / G_MS2), acc_unit="g")
    np.testing.assert_allclose(only_acc.acc_ms2, acc, rtol=1e-9)


@pytest.mark.parametrize(("acc_scale", "gyr_scale", "kwargs", "option"), [
    (1 / G_MS2, 1.0, {}, "pass --acc-unit g"),  # g declared as m/s²
    (1.0, 1.0, {"acc_unit": "g"}, "drop --acc-unit g"),  # m/s² declared as g
    (1.0, 1 / DEG2RAD, {}, "pass --gyr-unit deg/s"),  # deg/s declared as rad/s
])
def test_wrong_units_are_refused_naming_the_option(tmp_path: Path, acc_scale: float,
                                                   gyr_scale: float, kwargs: dict,
                                                   option: str) -> None:
    t, acc, gyr = motion()
    p = write_csv(tmp_path / "w.csv", t, acc * acc_scale, gyr * gyr_scale)
    with pytest.raises(FileFormatError, match=option) as e:
        load_recording(p, **kwargs)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("body", "reason"), [
    ("0,0,0,9.8\n0.01,abc,0,9.8\n0.02,0,0,9.8\n", "not all numbers"),
    ("0,0,0,9.8\n0.01,,0,9.8\n0.02,0,0,9.8\n", "not all numbers"),
    ("0,0,0,9.8\n0.01,0\n0.02,0,0,9.8\n", "not all numbers"),
    ("0,0,0,9.8\n0.01,nan,0,9.8\n0.02,0,0,9.8\n", "1 row\\(s\\) hold NaN"),
    ("0,0,0,9.8\n0.01,0,inf,9.8\n0.02,nan,0,9.8\n", "2 row\\(s\\) hold NaN"),
    ("0,0,0,9.8\n0.02,0,0,9.8\n0.01,0,0,9.8\n", "not increasing"),
    ("0,0,0,9.8\n", "fewer than two samples"),
    ("", "no samples"),
    ("\n\n", "no samples"),
])
def test_bad_csv_content_is_a_one_line_file_format_error(tmp_path: Path, body: str,
                                                         reason: str) -> None:
    p = write_text(tmp_path / "b.csv", "time_s,acc_x,acc_y,acc_z\n" + body)
    with pytest.raises(FileFormatError, match=reason) as e:
        load_recording(p)
    assert e.value.path == str(p)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty file"),
    ("time_s,acc_x,acc_y\n0,0,0\n", "lacks acc_z"),
    ("time_s,acc_x,acc_y,acc_z,gyr_x\n0,0,0,9.8,0\n0.01,0,0,9.8,0\n", "some but not all"),
])
def test_bad_csv_structure(tmp_path: Path, text: str, reason: str) -> None:
    p = write_text(tmp_path / "s.csv", text)
    with pytest.raises(FileFormatError, match=reason):
        load_csv(p)


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "l.csv"
    p.write_bytes(b"time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,0,0,9.8\xe9\n")
    with pytest.raises(FileFormatError, match="UTF-8"):
        load_recording(p)


def test_csv_time_jumps_become_source_gaps(tmp_path: Path) -> None:
    t, acc, gyr = motion(400)
    keep = np.r_[0:100, 103:250, 260:400]  # 3 then 10 samples missing
    rec = load_recording(write_csv(tmp_path / "j.csv", t[keep], acc[keep], gyr[keep]))
    assert [(g.cause, g.n_missing) for g in rec.gaps] == [(GapCause.SOURCE, 3),
                                                         (GapCause.SOURCE, 10)]
    assert [(s.start, s.stop) for s in rec.segments] == [(0, 100), (100, 247), (247, 387)]
    assert rec.fs_hz == pytest.approx(FS)
    assert rec.gaps[1].duration_s == pytest.approx(0.11)


# --------------------------------------------------------------------------- Xsens MT Manager
def test_mt_manager_comment_dialect_with_sample_time_fine(tmp_path: Path) -> None:
    t, acc, gyr = motion(300)
    pc = np.arange(300) + 1200
    stf = 48_000_000 + np.arange(300) * 100  # 10 kHz ticks at 100 Hz
    p = mt_export(tmp_path / "mt.txt", pc, acc, gyr, stf=stf)
    assert sniff(p) == "xsens"
    rec = load_recording(p)
    assert rec.meta.source_format == "xsens"
    assert rec.n_samples == 300
    assert rec.fs_hz == 100.0
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, atol=1e-6)
    assert rec.gaps == ()


def test_mt_manager_missing_packets_become_gaps(tmp_path: Path) -> None:
    _, acc, gyr = motion(300)
    keep = np.r_[0:120, 124:300]
    pc = np.arange(300)[keep] + 7
    stf = (4_294_967_296 - 15_000 + np.arange(300) * 100)[keep] % 2**32  # wraps as well
    rec = load_recording(mt_export(tmp_path / "mt.txt", pc, acc[keep], gyr[keep], stf=stf))
    assert [(g.cause, g.n_missing) for g in rec.gaps] == [(GapCause.SOURCE, 4)]
    assert rec.gaps[0].duration_s == pytest.approx(0.05)
    assert rec.t_s[-1] == pytest.approx(2.99)


def test_mt_manager_packet_counter_wraps_at_65536(tmp_path: Path) -> None:
    _, acc, gyr = motion(200)
    counter = (65_436 + np.arange(200)) % 65536
    keep = np.r_[0:150, 152:200]  # and two packets lost after the wrap
    p = mt_export(tmp_path / "w.txt", counter[keep], acc[keep], gyr[keep], empty_stf=True)
    rec = load_recording(p)
    assert rec.n_samples == 198
    assert [(g.cause, g.n_missing) for g in rec.gaps] == [(GapCause.SOURCE, 2)]
    assert rec.t_s[-1] == pytest.approx(1.99)
    assert rec.fs_hz == 100.0


def test_mt_manager_comma_separated_and_blank_lines(tmp_path: Path) -> None:
    t, acc, gyr = motion(100)
    header = "// Start Time: Unknown\n\n// Update Rate: 100.0Hz\n\n// Firmware Version: 4.0.2\n\n"
    p = mt_export(tmp_path / "c.txt", np.arange(100), acc, gyr,
                  stf=np.arange(100) * 100, sep=",", header=header)
    rec = load_recording(p)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-6)


def test_mt_manager_units_and_unit_options(tmp_path: Path) -> None:
    _, acc, gyr = motion(200)
    p = mt_export(tmp_path / "g.txt", np.arange(200), acc / G_MS2, gyr / DEG2RAD, empty_stf=True)
    with pytest.raises(FileFormatError, match="pass --acc-unit g"):
        load_recording(p)
    with pytest.raises(FileFormatError, match="pass --gyr-unit deg/s"):
        load_recording(p, acc_unit="g")
    rec = load_xsens(p, acc_unit="g", gyr_unit="deg/s")
    np.testing.assert_allclose(rec.acc_ms2, acc, atol=1e-5)
    assert rec.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, gyr, atol=1e-7)


@pytest.mark.parametrize(("text", "reason"), [
    (MT_HEADER, "no column header"),
    (MT_HEADER + "\t".join(MT_COLUMNS) + "\n", "no samples"),
    (MT_HEADER + "PacketCounter\tGyr_X\tGyr_Y\tGyr_Z\n1\t0\t0\t0\n", "without Acc_X"),
    (MT_HEADER + "PacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n1\t0\tx\t9.8\n2\t0\t0\t9.8\n", "not all numbers"),
    ("// Start Time: Unknown\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n1\t0\t0\t9.8\n2\t0\t0\t9.8\n",
     "no sample rate"),
])
def test_bad_mt_manager_files(tmp_path: Path, text: str, reason: str) -> None:
    p = write_text(tmp_path / "bad.txt", text)
    assert sniff(p) == "xsens"
    with pytest.raises(FileFormatError, match=reason):
        load_recording(p)


def _voisard_rows(path: Path) -> tuple[float, np.ndarray]:
    lines = path.read_text().splitlines()
    fs = float(lines[0].split(":")[1].split()[0])
    data = np.array([[float(v) for v in ln.split("\t")] for ln in lines[2:] if ln.strip()])
    return fs, data


@pytest.mark.parametrize("path", VOISARD or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"Voisard IPOL data not found under {SHARED} (set IMURUN_SHARED_DATA)"))],
    ids=[p.stem for p in VOISARD] or ["voisard-missing"])
def test_voisard_acquisition_frequency_dialect(path: Path) -> None:
    fs, data = _voisard_rows(path)
    rec = load_recording(path)
    assert rec.meta.source_format == "xsens"
    assert rec.fs_hz == fs
    assert rec.n_samples == len(data)
    np.testing.assert_array_equal(rec.acc_ms2, data[:, 1:4])
    assert rec.gyr_rads is not None
    np.testing.assert_array_equal(rec.gyr_rads, data[:, 4:7])
    np.testing.assert_allclose(rec.t_s, (data[:, 0] - data[0, 0]) / fs, atol=1e-9)
    # Every jump of the packet counter is a gap with exactly the missing packets.
    steps = np.diff(data[:, 0]).astype(int)
    assert [g.n_missing for g in rec.gaps] == [s - 1 for s in steps if s != 1]
    assert all(g.cause == GapCause.SOURCE for g in rec.gaps)
    assert 8.0 < float(np.median(np.linalg.norm(rec.acc_ms2, axis=1))) < 11.5


# --------------------------------------------------------------------------- sniffing
def test_sniff_recognises_every_supported_format(tmp_path: Path) -> None:
    t, acc, gyr = motion(50)
    session = write_session(tmp_path / "s.imrs", clean_script(1.0).bursts())
    run = tmp_path / "r.imrn"
    w = RunWriter(RunHeader(1, 1, 1, 200, 0, 0, 16, 2000, 0.0048, 0.001))
    run.write_bytes(w.start() + w.samples(np.zeros((10, 6), np.int16), 0) + w.end())
    csv = write_csv(tmp_path / "a.csv", t, acc, gyr)
    mt = mt_export(tmp_path / "m.txt", np.arange(50), acc, gyr, stf=np.arange(50) * 100)
    acq = write_text(tmp_path / "v.txt", "Acquisition frequency: 100 Hz\n"
                     "PacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n0.0\t1\t2\t9\n1.0\t1\t2\t9\n")
    kinds = {p.name: sniff(p) for p in (session, run, csv, mt, acq)}
    assert kinds == {"s.imrs": "session", "r.imrn": "stored-run", "a.csv": "csv",
                     "m.txt": "xsens", "v.txt": "xsens"}
    for p in (session, run, csv, mt, acq):
        assert isinstance(load_recording(p), Recording)


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty file"),
    (bytes(range(256)) * 8, "not a supported format"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "not a supported format"),
    (b"hello,world\n1,2\n", "not a supported format"),
    (b"\x00" * 100, "not a supported format"),
])
def test_sniff_refuses_unsupported_files(tmp_path: Path, content: bytes, reason: str) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(content)
    with pytest.raises(FileFormatError, match=reason):
        sniff(p)
    with pytest.raises(FileFormatError, match=reason):
        load_recording(p)


def test_sniff_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot read"):
        sniff(tmp_path / "nope.csv")
    with pytest.raises(FileFormatError, match="cannot read"):
        load_recording(tmp_path)
