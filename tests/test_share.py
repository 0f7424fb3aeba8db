"""Sharing: bundles and shared store directories between two libraries, killed imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store.bundle import import_bundle, share
from imurun.store.library import Library
from imurun.workflows import import_path
from tests.library_support import DEVICE_A, DEVICE_B, T0_MS, analysis_json, write_run
from tests.sim_support import wait_for

DAY_MS = 86_400_000


def _athlete_library(home: Path, tmp: Path, n: int = 4, seconds: float = 20.0) -> Library:
    lib = Library.open(home)
    lib.add_athlete("Ana", mass_kg=58.0, leg_length_m=0.86)
    lib.add_athlete("Ben")
    lib.bind_sensor(DEVICE_A, "Ana")
    lib.bind_sensor(DEVICE_B, "Ben")
    for i in range(n):
        run = lib.add_file(write_run(tmp / "in", DEVICE_A, i, start_unix_ms=T0_MS + i * DAY_MS,
                                     seconds=seconds)).run
        lib.set_analysis(run.id, analysis_json(20, seed=i))
    lib.add_file(write_run(tmp / "in", DEVICE_B, 0))
    return lib


def _snapshot(lib: Library) -> dict[str, tuple[bytes, object, object, int]]:
    return {r.id: (r.path.read_bytes(), r.summary, r.athlete_name, len(lib.steps(r.id)))
            for r in lib.runs()}


def test_bundle_round_trip_between_two_stores(tmp_path: Path) -> None:
    with _athlete_library(tmp_path / "athlete", tmp_path) as src:
        ana = src.athlete("Ana")
        res = share(src, "Ana", tmp_path / "ana.zip",
                    since_unix_s=(T0_MS + DAY_MS) / 1000, until_unix_s=(T0_MS + 3 * DAY_MS) / 1000)
        assert [r.sensor_run_id for r in res.runs] == [1, 2]
        want = {k: v for k, v in _snapshot(src).items() if k in {r.id for r in res.runs}}
    with zipfile.ZipFile(tmp_path / "ana.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["schema"] == "imurun.bundle/1"
    assert [a["name"] for a in manifest["athletes"]] == ["Ana"]  # Ben stays private
    assert all(len(r["sha256"]) == 64 for r in manifest["runs"])
    with Library.open(tmp_path / "coach") as coach:
        first = import_bundle(coach, tmp_path / "ana.zip")
        second = import_bundle(coach, tmp_path / "ana.zip")
        assert [a.id for a in first.athletes_added] == [ana.id]
        assert len(first.added) == 2
        assert first.problems == []
        assert (len(second.added), len(second.already), second.athletes_added) == (2 - 2, 2, [])
        assert _snapshot(coach) == want
        assert coach.athlete("Ana") == ana  # the profile travels with the runs
        assert coach.check().ok
        assert {r.rel_path for r in coach.runs()} == {r.rel_path for r in res.runs}


def test_a_shared_store_directory_imports_like_a_bundle(tmp_path: Path) -> None:
    with _athlete_library(tmp_path / "athlete", tmp_path, n=2) as src:
        want = _snapshot(src)
    # The coach reads the athlete's folder (synced or on a network share) and never its database.
    for p in (tmp_path / "athlete").glob("index.sqlite3*"):
        p.unlink()
    with Library.open(tmp_path / "coach") as coach:
        res = import_path(coach, tmp_path / "athlete", analyse=False)
        assert len(res.result.added) == 3
        assert _snapshot(coach) == want
        assert {a.name for a in coach.athletes()} == {"Ana", "Ben"}
        again = import_path(coach, tmp_path / "athlete", analyse=False)
        assert len(again.result.already) == 3
    assert not list((tmp_path / "athlete").glob("index.sqlite3*"))


def test_a_damaged_bundle_member_is_refused_and_the_rest_imported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _athlete_library(tmp_path / "athlete", tmp_path, n=3) as src:
        share(src, "Ana", tmp_path / "ana.zip")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(tmp_path / "ana.zip") as zin, zipfile.ZipFile(bad, "w") as zout:
        m = json.loads(zin.read("manifest.json"))
        victim = m["runs"][1]["file"]
        m["runs"][2]["meta"]["device_id"] = "../../../../escape"
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == victim:
                data = data[:500] + bytes([data[500] ^ 1]) + data[501:]
            if info.filename == "manifest.json":
                data = json.dumps(m).encode()
            zout.writestr(info.filename, data)
    home = tmp_path / "coach"
    assert main(["--home", str(home), "import", str(bad)]) == 3
    out = capsys.readouterr().out
    assert "SHA-256" in out
    assert "1 new run(s)" in out
    assert "2 problem(s)" in out
    with Library.open(home) as coach:
        assert len(coach.runs()) == 1
        assert coach.check().ok
    assert not (tmp_path / "escape").exists()
    assert not list(tmp_path.glob("**/escape"))
    (tmp_path / "notzip.zip").write_bytes(b"PK\x03\x04 but not really")
    assert main(["--home", str(home), "import", str(tmp_path / "notzip.zip")]) == 3


def test_share_and_import_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _athlete_library(tmp_path / "athlete", tmp_path, n=2).close()
    out_zip = tmp_path / "ana.zip"
    assert main(["--home", str(tmp_path / "athlete"), "share", "--athlete", "Ana", "--since",
                 "2026-11-01", "--out", str(out_zip)]) == 0
    assert "2 run(s) of Ana" in capsys.readouterr().out
    assert main(["--home", str(tmp_path / "coach"), "import", str(out_zip)]) == 0
    out = capsys.readouterr().out
    assert "new athlete Ana" in out
    assert "2 new run(s), 0 already held" in out
    assert main(["--home", str(tmp_path / "coach"), "import", str(out_zip)]) == 0
    assert "0 new run(s), 2 already held" in capsys.readouterr().out
    assert main(["--home", str(tmp_path / "athlete"), "share", "--athlete", "Ana", "--since",
                 "2030-01-01", "--out", str(out_zip)]) == 2
    assert "nothing to share" in capsys.readouterr().err


def test_import_killed_with_sigkill_completes_on_rerun(tmp_path: Path) -> None:
    n = 40
    with _athlete_library(tmp_path / "athlete", tmp_path, n=n, seconds=4.0) as src:
        share(src, "Ana", tmp_path / "ana.zip")
        want = {k: v for k, v in _snapshot(src).items() if v[2] == "Ana"}
    home = tmp_path / "coach"
    cmd = [sys.executable, "-m", "imurun", "--home", str(home), "import", str(tmp_path / "ana.zip")]
    runs_dir = home / "runs" / f"{DEVICE_A:016x}"
    kills = 0
    for k in (3, 12, 25):  # kill it three times, further along each time
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def far_enough(k: int = k, proc: subprocess.Popen[bytes] = proc) -> bool:
                return (runs_dir.exists() and len(list(runs_dir.iterdir())) >= k) or proc.poll() is not None
            wait_for(far_enough, 60, f"{k} runs to be imported")
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert kills >= 1  # at least one import was really interrupted
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with Library.open(home) as coach:
        assert coach.check().ok
        assert _snapshot(coach) == want  # nothing lost, nothing twice
    assert len(list(runs_dir.iterdir())) == n
    assert not list(home.rglob(".*.tmp-*"))


def test_import_a_recording_that_needs_file_options(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV in g with unnamed columns: refused with the way out, then imported with the
    options, stored converted (it reads the same later without them), once."""
    import numpy as np

    from tests.ingest_support import motion

    t, acc, gyr = motion(3000)
    rows = np.column_stack([t * 1e3, acc / 9.80665])
    src = tmp_path / "logger.csv"
    src.write_text("t,a1,a2,a3\n" + "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows)
                   + "\n")
    home = ["--home", str(tmp_path / "lib")]
    assert main([*home, "import", str(src)]) == 3  # a file imurun cannot read
    assert "--columns" in capsys.readouterr().err
    opts = ["--columns", "time=t,acc_x=a1,acc_y=a2,acc_z=a3", "--time-unit", "ms",
            "--acc-unit", "g"]
    assert main([*home, "import", str(src), *opts]) == 0
    assert "1 new run(s)" in capsys.readouterr().out
    assert main([*home, "import", str(src), *opts]) == 0
    assert "0 new run(s), 1 already held" in capsys.readouterr().out
    with Library.open(tmp_path / "lib") as lib:
        (run,) = lib.runs()
        from imurun.ingest.files import load_recording

        rec = load_recording(run.path)
        np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(rec.t_s, t, atol=1e-9)


def test_file_options_do_not_apply_to_sensor_files(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A stored run keeps its raw bytes: it is never converted to CSV on import."""
    lib = Library.open(tmp_path / "lib")
    run_file = write_run(tmp_path, DEVICE_A, 1)
    lib.close()
    assert main(["--home", str(tmp_path / "lib"), "import", str(run_file), "--acc-unit", "g"]) == 2
    assert "CSV and Xsens files only" in capsys.readouterr().err


def _anas_bundle(tmp_path: Path) -> tuple[Path, list[str]]:
    """Ana's bundle (2 runs) from her library, and the CLI prefix of a coach's empty library."""
    _athlete_library(tmp_path / "athlete", tmp_path, n=2).close()
    out_zip = tmp_path / "ana.zip"
    assert main(["--home", str(tmp_path / "athlete"), "share", "--athlete", "Ana",
                 "--out", str(out_zip)]) == 0
    return out_zip, ["--home", str(tmp_path / "coach")]


def test_a_bundles_athlete_is_taken_as_the_local_athlete_of_the_same_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_zip, coach = _anas_bundle(tmp_path)
    assert main([*coach, "athlete", "add", "ana", "--mass-kg", "60"]) == 0
    capsys.readouterr()
    assert main([*coach, "import", str(out_zip)]) == 0
    out = capsys.readouterr().out
    assert "new athlete" not in out
    assert "is taken as this library's ana" in out
    assert "imurun athlete assign OTHER_NAME RUN" in out
    with Library.open(tmp_path / "coach") as lib:
        (only,) = lib.athletes()
        assert only.name == "ana"
        assert only.mass_kg == 60.0
        assert len(lib.runs(athlete="Ana")) == 2
        assert lib.athlete_of_sensor(DEVICE_A) == only.id
    for argv in (["runs", "--athlete", "Ana"], ["athlete", "set", "Ana", "--mass-kg", "61"],
                 ["share", "--athlete", "Ana", "--out", str(tmp_path / "again.zip")]):
        assert main([*coach, *argv]) == 0, capsys.readouterr().err
    assert main([*coach, "import", str(out_zip)]) == 0  # again: nothing new, still one Ana
    with Library.open(tmp_path / "coach") as lib:
        assert len(lib.athletes()) == 1


def test_import_athlete_takes_a_bundles_athlete_as_one_of_this_library(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_zip, coach = _anas_bundle(tmp_path)
    assert main([*coach, "athlete", "add", "Ana Silva"]) == 0
    capsys.readouterr()
    assert main([*coach, "import", str(out_zip), "--start", "2026-11-20 07:00"]) == 2
    assert "--start applies to a single recording" in capsys.readouterr().err
    assert main([*coach, "import", str(out_zip), "--athlete", "Nobody"]) == 7
    assert main([*coach, "import", str(out_zip), "--athlete", "Ana Silva"]) == 0
    out = capsys.readouterr().out
    assert "new athlete" not in out
    assert "is taken as Ana Silva" in out
    assert "as --athlete says" in out
    with Library.open(tmp_path / "coach") as lib:
        (only,) = lib.athletes()
        assert only.name == "Ana Silva"
        assert len(lib.runs(athlete="Ana Silva")) == 2
        assert lib.athlete_of_sensor(DEVICE_A) == only.id
    # the next bundle of the same athlete finds Ana Silva without being told
    with Library.open(tmp_path / "athlete") as lib:
        lib.add_file(write_run(tmp_path / "in", DEVICE_A, 9, start_unix_ms=T0_MS + 9 * DAY_MS))
    assert main(["--home", str(tmp_path / "athlete"), "share", "--athlete", "Ana",
                 "--out", str(tmp_path / "ana2.zip")]) == 0
    capsys.readouterr()
    assert main([*coach, "import", str(tmp_path / "ana2.zip")]) == 0
    assert "new athlete" not in capsys.readouterr().out
    with Library.open(tmp_path / "coach") as lib:
        (only,) = lib.athletes()
        assert len(lib.runs(athlete="Ana Silva")) == 3
    # a library of two athletes: which would be "the" athlete? Refused, nothing imported.
    assert main([*coach, "import", str(tmp_path / "athlete"), "--athlete", "Ana Silva"]) == 2
    assert "holds the runs of 2 athletes (Ana, Ben)" in capsys.readouterr().err
    with Library.open(tmp_path / "coach") as lib:
        assert len(lib.runs()) == 3
        assert len(lib.athletes()) == 1


def test_two_profiles_of_one_athlete_can_be_merged_or_renamed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imurun.store.library import Athlete

    home = tmp_path / "coach"
    with _athlete_library(home, tmp_path, n=2) as lib:  # as an earlier version left it
        ana = lib.athlete("Ana")
        other = Athlete("cad26e7a" + "0" * 24, "Ana", None, 0.9, "2026-11-01T00:00:00Z")
        assert lib.merge_athlete(other)
        first = lib.runs(athlete=ana.id)[0]
        lib.assign_run(first.id, athlete=other.id)
    h = ["--home", str(home)]
    assert main([*h, "runs", "--athlete", "Ana"]) == 2
    assert "2 athletes are called 'Ana'" in capsys.readouterr().err
    assert main([*h, "athlete", "rename", "cad26e7a", "Ben"]) == 2  # taken
    assert "exists already" in capsys.readouterr().err
    assert main([*h, "athlete", "merge", "cad26e7a", ana.id[:8]]) == 0
    assert "1 run(s)" in capsys.readouterr().out
    with Library.open(home) as lib:
        kept = lib.athlete("Ana")
        assert kept.id == ana.id
        assert kept.mass_kg == 58.0
        assert len(lib.runs(athlete="Ana")) == 2
        assert json.loads((first.directory / "meta.json").read_text())["athlete_id"] == ana.id
    assert main([*h, "athlete", "rename", "Ana", "Ana K"]) == 0
    assert main([*h, "runs", "--athlete", "Ana K"]) == 0
    assert main([*h, "store", "check"]) == 0, capsys.readouterr().out


def test_imported_runs_are_analysed_with_this_librarys_body_mass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_library import CLEAN_RUN

    runner = ["--home", str(tmp_path / "runner")]
    assert main([*runner, "athlete", "add", "Ana", "--mass-kg", "65"]) == 0
    assert main([*runner, "import", str(CLEAN_RUN), "--athlete", "Ana"]) == 0
    assert main([*runner, "share", "--athlete", "Ana", "--out", str(tmp_path / "a.zip")]) == 0
    coach = ["--home", str(tmp_path / "coach")]
    assert main([*coach, "athlete", "add", "Anna", "--mass-kg", "55"]) == 0
    capsys.readouterr()
    assert main([*coach, "import", str(tmp_path / "a.zip"), "--athlete", "Anna"]) == 0
    assert "Anna  1:00: " in capsys.readouterr().out  # the analysis line of the run
    with Library.open(tmp_path / "coach") as lib:
        (run,) = lib.runs()
        assert run.analysis_mass_kg == 55
    assert main([*coach, "store", "reanalyze"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_bundle_cut_short_is_named_as_one(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out_zip, coach = _anas_bundle(tmp_path)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(out_zip.read_bytes()[: out_zip.stat().st_size // 2])
    assert main([*coach, "import", str(cut)]) == 3
    err = capsys.readouterr().err
    assert "damaged or incomplete zip file" in err
    assert "not a supported format" not in err
