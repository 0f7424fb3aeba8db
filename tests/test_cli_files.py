"""The file commands of ``imurun``: ``info``, ``export``, ``replay``; errors and exit codes.

Run in-process (``imurun.cli.main``) with captured output, plus one real subprocess. A bad file
must give exit code 3 and exactly one line on stderr, never a traceback (unless ``--debug``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.runfile import RunHeader, RunWriter
from imurun.cli import EXIT_FILE, EXIT_OK, main
from imurun.consts import G_MS2
from imurun.ingest.files import load_recording
from imurun.ingest.recording import GapCause
from tests.ingest_support import LinkScript, motion, mt_export, write_csv, write_session

REPO = Path(__file__).resolve().parents[1]

#: Keys of ``imurun info --json`` (imurun.ingest.summary.describe).
JSON_KEYS = {"source", "format", "device_id", "firmware", "start_utc", "samples",
             "sample_rate_hz", "duration_s", "gyroscope", "segments", "gaps", "gap_s",
             "samples_missing", "frames_ok", "frames_corrupt", "frames_lost", "blocks_damaged",
             "reboots", "disconnects", "notes", "acc_norm_median_ms2", "lines"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *, expect: str = "") -> None:
    assert code == EXIT_FILE, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("imurun: error: ")
    assert "Traceback" not in err
    assert expect in lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of every supported format."""
    d = tmp_path_factory.mktemp("formats")
    s = LinkScript(seed=12)
    s.info(0.0)
    s.syncs(0.0, 5.0)
    counts = np.random.default_rng(12).integers(-1000, 1000, (800, 6)).astype(np.int16)
    counts[:, 2] += 2048  # gravity on z, as a worn sensor reads (16 g range: 2048 counts per g)
    s.stream(800, fates={30: "drop", 31: "drop"}, counts=counts)
    session = write_session(d / "live.imrs", s.bursts())
    counts = np.random.default_rng(1).integers(-2000, 2000, (600, 6)).astype(np.int16)
    counts[:, 2] += 2048  # gravity on z (16 g range: 2048 counts per g)
    w = RunWriter(RunHeader(0xBEEF, 2, 5, 200, 1_790_000_000_000, 1_000_000, 16, 2000,
                            16 * G_MS2 / 32768, 2000 * np.pi / 180 / 32768))
    run_file = d / "run.imrn"
    run_file.write_bytes(w.start() + w.samples(counts, 1_000_000) + w.end())
    t, acc, gyr = motion(400)
    csv = write_csv(d / "generic.csv", t, acc, gyr)
    mt = mt_export(d / "mt.txt", np.arange(400), acc, gyr, stf=np.arange(400) * 100)
    acq = d / "acq.txt"
    acq.write_text("Acquisition frequency: 100 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n"
                   + "".join(f"{i}.0\t{a:.6f}\t{b:.6f}\t{c:.6f}\n" for i, (a, b, c) in enumerate(acc)))
    return {"session": session, "stored-run": run_file, "csv": csv, "xsens": mt, "xsens-acq": acq}


@pytest.mark.parametrize("kind", ["session", "stored-run", "csv", "xsens", "xsens-acq"])
def test_info_on_every_supported_format(capsys: pytest.CaptureFixture[str],
                                        files: dict[str, Path], kind: str) -> None:
    code, out, err = run(capsys, "info", str(files[kind]))
    assert code == EXIT_OK, err
    assert err == ""
    fmt = kind.removesuffix("-acq")
    assert out.splitlines()[0] == f"{files[kind]} ({fmt})"
    assert "samples" in out


@pytest.mark.parametrize("kind", ["session", "stored-run", "csv", "xsens", "xsens-acq"])
def test_info_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str],
                                           files: dict[str, Path], kind: str) -> None:
    code, out, _ = run(capsys, "info", str(files[kind]), "--json")
    assert code == EXIT_OK
    d = json.loads(out)
    assert set(d) == JSON_KEYS
    rec = load_recording(files[kind])
    assert d["samples"] == rec.n_samples
    assert d["format"] == rec.meta.source_format
    assert d["gyroscope"] == rec.has_gyro
    assert sum(d["gaps"].values()) == len(rec.gaps)


def test_info_json_of_a_session_with_lost_frames(capsys: pytest.CaptureFixture[str],
                                                 files: dict[str, Path]) -> None:
    _, out, _ = run(capsys, "info", str(files["session"]), "--json")
    d = json.loads(out)
    assert d["samples"] == 780
    assert d["gaps"] == {"lost_frames": 1}
    assert d["samples_missing"] == 20
    assert d["frames_lost"] == 2
    assert d["device_id"] == "1d0c5e7500000001"
    assert d["start_utc"] is not None


@pytest.mark.parametrize("kind", ["session", "stored-run", "csv", "xsens"])
def test_export_csv_then_info_round_trips(capsys: pytest.CaptureFixture[str],
                                          files: dict[str, Path], tmp_path: Path,
                                          kind: str) -> None:
    out_csv = tmp_path / "out" / "export.csv"
    code, out, err = run(capsys, "export", str(files[kind]), "--csv", str(out_csv))
    assert code == EXIT_OK, err
    original = load_recording(files[kind])
    assert out.strip() == f"wrote {original.n_samples} samples to {out_csv}"
    code, out, _ = run(capsys, "info", str(out_csv), "--json")
    assert code == EXIT_OK
    d = json.loads(out)
    assert d["samples"] == original.n_samples
    assert d["format"] == "csv"
    assert d["gyroscope"] == original.has_gyro
    back = load_recording(out_csv)
    # Values written with 9 significant digits, times to the ns: equal within that precision.
    np.testing.assert_allclose(back.t_s, original.t_s, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(back.acc_ms2, original.acc_ms2, rtol=1e-8, atol=1e-12)
    if original.gyr_rads is not None:
        assert back.gyr_rads is not None
        np.testing.assert_allclose(back.gyr_rads, original.gyr_rads, rtol=1e-8, atol=1e-12)
    assert back.fs_hz == pytest.approx(original.fs_hz, rel=1e-6)
    assert back.meta.start_unix_s == original.meta.start_unix_s  # (a comment line says it)
    assert d["start_utc"] == json.loads(run(capsys, "info", str(files[kind]), "--json")[1])[
        "start_utc"]
    # Gaps survive as holes in the time column.
    assert [g.n_missing for g in back.gaps] == [g.n_missing for g in original.gaps]
    assert all(g.cause == GapCause.SOURCE for g in back.gaps)


def test_exported_times_round_trip_to_well_under_a_microsecond(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Times were written with 9 significant digits: 10 µs apart at 1000 s and 100 µs near the
    end of a day-long run, so a CSV round trip moved the samples of a 200 Hz run in time (by up
    to 50 µs here)."""
    from imurun.ingest.recording import Recording

    rng = np.random.default_rng(3)
    n = 2000
    # the last 10 s of a 24-hour run, on a sensor clock 30 ppm fast, with jitter
    t = 86_390.0 + np.arange(n) / 200.0 * (1.0 + 30e-6) + rng.normal(0.0, 2e-6, n)
    acc = np.column_stack([rng.normal(0.0, 2.0, n), rng.normal(0.0, 2.0, n),
                           G_MS2 + rng.normal(0.0, 2.0, n)])
    gyr = rng.normal(0.0, 1.0, (n, 3))
    original = Recording.from_arrays(t, acc, gyr, fs_hz=200.0)
    from imurun.ingest.export import write_csv as export_csv

    export_csv(original, tmp_path / "in.csv")
    back = load_recording(tmp_path / "in.csv")
    assert np.max(np.abs(back.t_s - t)) < 1e-6  # before: 5e-5 s
    np.testing.assert_allclose(back.acc_ms2, acc, rtol=1e-8, atol=1e-12)
    # and through the command: exported again, still the same times
    out_csv = tmp_path / "out.csv"
    code, _, err = run(capsys, "export", str(tmp_path / "in.csv"), "--csv", str(out_csv))
    assert code == EXIT_OK, err
    again = load_recording(out_csv)
    assert np.max(np.abs(again.t_s - t)) < 1e-6


def test_replay_command(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    code, out, err = run(capsys, "replay", str(files["session"]), "--speed", "max", "--json")
    assert code == EXIT_OK, err
    assert json.loads(out)["samples"] == 780
    code, out, _ = run(capsys, "replay", str(files["session"]))
    assert code == EXIT_OK
    assert "780 at" in out


# --------------------------------------------------------------------------- errors
def _bad_files(d: Path, session: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (path, extra args, text the error line must contain)."""
    full = session.read_bytes()
    out: dict[str, tuple[Path, list[str], str]] = {}

    def put(name: str, data: bytes, args: list[str] | None = None, expect: str = "") -> None:
        p = d / name
        p.write_bytes(data)
        out[name] = (p, args or [], expect)

    put("empty.csv", b"", expect="empty file")
    put("garbage.bin", bytes(range(256)) * 4, expect="not a supported format")
    put("image.png", b"\x89PNG\r\n\x1a\n" + bytes(200), expect="not a supported format")
    put("header-only.csv", b"time_s,acc_x,acc_y,acc_z\n", expect="no samples")
    put("header-only.txt", b"// Update Rate: 100.0Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n",
        expect="no samples")
    put("text-cell.csv", b"time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,x,0,9.8\n",
        expect="not all numbers")
    put("backwards.csv", b"time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.02,0,0,9.8\n0.01,0,0,9.8\n",
        expect="not increasing")
    put("in-g.csv", b"time_s,acc_x,acc_y,acc_z\n0,0,0,1\n0.01,0,0,1\n0.02,0,0,1.01\n",
        expect="--acc-unit g")
    put("ms2-as-g.csv", b"time_s,acc_x,acc_y,acc_z\n0,0,0,9.8\n0.01,0,0,9.8\n",
        ["--acc-unit", "g"], expect="--acc-unit g")
    put("deg.csv", b"time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n"
        + b"".join(b"%g,0,0,9.8,120,-80,40\n" % (i / 100) for i in range(20)),
        expect="--gyr-unit deg/s")
    put("session-cut-in-header.imrs", full[:20], expect="session")
    put("session-no-device-info.imrs", full[:full.index(b"\xd5\x5d")], expect="")
    put("run-cut.imrn", b"IMRN" + bytes(40), expect="")
    out["missing.csv"] = (d / "missing.csv", [], "cannot read")
    out["directory"] = (d, [], "cannot read")
    return out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory,
              files: dict[str, Path]) -> dict[str, tuple[Path, list[str], str]]:
    return _bad_files(tmp_path_factory.mktemp("bad"), files["session"])


BAD = ["empty.csv", "garbage.bin", "image.png", "header-only.csv", "header-only.txt",
       "text-cell.csv", "backwards.csv", "in-g.csv", "ms2-as-g.csv", "deg.csv",
       "session-cut-in-header.imrs", "session-no-device-info.imrs", "run-cut.imrn",
       "missing.csv", "directory"]


@pytest.mark.parametrize("name", BAD)
@pytest.mark.parametrize("command", ["info", "export"])
def test_bad_files_exit_3_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        bad_files: dict[str, tuple[Path, list[str], str]],
                                        name: str, command: str) -> None:
    path, extra, expect = bad_files[name]
    args = [command, str(path), *extra]
    if command == "export":
        args += ["--csv", str(tmp_path / "x.csv")]
    code, out, err = run(capsys, *args)
    assert_one_line_error(code, err, expect=expect)
    assert out == ""
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("name", ["session-cut-in-header.imrs", "session-no-device-info.imrs",
                                  "garbage.bin", "missing.csv"])
def test_replay_of_a_bad_file_exits_3_with_one_line(
        capsys: pytest.CaptureFixture[str],
        bad_files: dict[str, tuple[Path, list[str], str]], name: str) -> None:
    code, _, err = run(capsys, "replay", str(bad_files[name][0]))
    assert_one_line_error(code, err)


def test_a_session_cut_mid_record_is_recovered_and_noted(capsys: pytest.CaptureFixture[str],
                                                         files: dict[str, Path],
                                                         tmp_path: Path) -> None:
    p = tmp_path / "cut.imrs"
    p.write_bytes(files["session"].read_bytes()[:-7])
    code, out, err = run(capsys, "info", str(p))
    assert code == EXIT_OK, err
    assert "truncated" in out


HEADER_DAMAGED = ("session header damaged (metadata is not valid JSON); framing inferred as "
                  "'stream' from the records")


def _header_flipped(src: Path, out: Path) -> Path:
    buf = bytearray(src.read_bytes())
    buf[len(b"IMRSES01") + 4] ^= 0x01  # the metadata's opening brace
    out.write_bytes(bytes(buf))
    return out


@pytest.mark.parametrize("command", ["info", "replay"])
def test_a_session_with_a_damaged_header_is_recovered_and_noted(
        capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path,
        command: str) -> None:
    p = _header_flipped(files["session"], tmp_path / "header.imrs")
    code, out, err = run(capsys, command, str(p))
    assert code == EXIT_OK, err
    assert f"  note        {HEADER_DAMAGED}" in out.splitlines()
    assert "780 at" in out
    code, out, _ = run(capsys, command, str(p), "--json")
    assert code == EXIT_OK
    d = json.loads(out)
    assert d["samples"] == 780
    assert d["device_id"] == "1d0c5e7500000001"
    assert d["notes"] == [HEADER_DAMAGED]


def test_analyze_of_a_session_with_a_damaged_header(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    p = _header_flipped(REPO / "recordings" / "clean-run.imrs", tmp_path / "run.imrs")
    code, out, err = run(capsys, "analyze", str(p))
    assert code == EXIT_OK, err
    assert f"  note: {HEADER_DAMAGED}" in out.splitlines()


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str],
                                   bad_files: dict[str, tuple[Path, list[str], str]]) -> None:
    code, _, err = run(capsys, "--debug", "info", str(bad_files["in-g.csv"][0]))
    assert code == EXIT_FILE
    assert "Traceback (most recent call last)" in err
    assert "FileFormatError" in err
    assert err.splitlines()[-1].startswith("imurun: error: ")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["info", str(files["csv"]), "--acc-unit", "kg"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["replay", str(files["session"]), "--speed", "0"])
    assert e.value.code == 2
    capsys.readouterr()


def test_subprocess_bad_file_exit_code_and_single_stderr_line(tmp_path: Path) -> None:
    bad = tmp_path / "in-g.csv"
    bad.write_text("time_s,acc_x,acc_y,acc_z\n0,0,0,1\n0.01,0,0,1\n")
    proc = subprocess.run([sys.executable, "-m", "imurun", "info", str(bad)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == EXIT_FILE
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"imurun: error: {bad}: acceleration looks like it is in g (median |a| = 1.00); "
        "pass --acc-unit g"]
