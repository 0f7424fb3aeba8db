"""FIT: the export read back with Garmin's official SDK; watch files (written by Garmin's SDK) attached."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from garmin_fit_sdk import Decoder, Encoder, Profile, Stream

from imurun.cli import main
from imurun.store.attach import watch_samples
from imurun.store.library import Library, RunRecord
from tests.library_support import DEVICE_A, T0_MS, analysis_json, write_run

T0 = dt.datetime.fromtimestamp(T0_MS / 1000, dt.UTC)


def _read(path: Path) -> dict[str, Any]:
    d = Decoder(Stream.from_file(str(path)))
    assert d.is_fit()
    assert d.check_integrity()
    msgs, errors = Decoder(Stream.from_file(str(path))).read()
    assert errors == []
    return msgs


def _watch_fit(path: Path, start: dt.datetime, seconds: int, speed: float = 3.2) -> None:
    """A watch's activity as Garmin's own SDK writes it: one record per second."""
    e = Encoder()
    e.write_mesg({"mesg_num": Profile["mesg_num"]["FILE_ID"], "type": "activity",
                  "manufacturer": "garmin", "product": 1, "serial_number": 42, "time_created": start})
    for i in range(seconds):
        e.write_mesg({"mesg_num": Profile["mesg_num"]["RECORD"], "timestamp": start + dt.timedelta(seconds=i),
                      "heart_rate": 140 + i % 10, "enhanced_speed": speed, "distance": speed * i,
                      "cadence": 86, "fractional_cadence": 0.5})
    path.write_bytes(e.close())


@pytest.fixture
def analysed(tmp_path: Path) -> tuple[Library, RunRecord, dict[str, Any]]:
    lib = Library.open(tmp_path / "home")
    run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1, seconds=20.0)).run
    doc = analysis_json(50, seed=3)
    return lib, lib.set_analysis(run.id, doc), doc


def _window_mean(doc: dict[str, Any], t: float, key: str, side: str | None = None) -> float:
    vals = [s[key] for s in doc["steps"] if s["activity"] == "run" and abs(s["ic_s"] - t) <= 1.5
            and s["ic_s"] < t + 1.5 and (side is None or s["side"] == side)]
    return float(np.mean(vals))


def test_export_carries_running_dynamics_the_official_sdk_reads(
        analysed: tuple[Library, RunRecord, dict[str, Any]], tmp_path: Path) -> None:
    lib, run, doc = analysed
    out = tmp_path / "run.fit"
    assert main(["--home", str(lib.root), "export", run.id[:8], "--fit", str(out)]) == 0
    msgs = _read(out)
    assert msgs["file_id_mesgs"][0]["type"] == "activity"
    names = {f["field_definition_number"]: f["field_name"] for f in msgs["field_description_mesgs"]}
    assert names == {0: "pelvic_drop", 1: "pelvic_tilt_range", 2: "pelvic_rotation_range",
                     3: "braking", 4: "impact"}
    records = msgs["record_mesgs"]
    assert len(records) >= 15
    for rec in records:
        t = (rec["timestamp"] - T0).total_seconds()
        contact = _window_mean(doc, t, "contact_s")
        step = _window_mean(doc, t, "step_s")
        assert rec["stance_time"] == pytest.approx(contact * 1000, abs=0.1)  # 0.1 ms resolution
        assert rec["stance_time_percent"] == pytest.approx(100 * contact / (2 * step), abs=0.01)
        assert rec["vertical_oscillation"] == pytest.approx(
            _window_mean(doc, t, "vertical_oscillation_m") * 1000, abs=0.1)
        left, right = (_window_mean(doc, t, "contact_s", s) for s in "LR")
        assert rec["stance_time_balance"] == pytest.approx(100 * left / (left + right), abs=0.01)
        assert rec["cadence"] + rec["fractional_cadence"] == pytest.approx(30 / step, abs=1 / 128)
        dev = rec["developer_fields"]
        assert dev[0] == pytest.approx(_window_mean(doc, t, "pelvic_drop_deg"), rel=1e-6)
        assert dev[3] == pytest.approx(_window_mean(doc, t, "braking_mps"), rel=1e-6)
        assert "step_length" not in rec  # unknown without a watch's speed
    session = msgs["session_mesgs"][0]
    assert session["sport"] == "running"
    assert session["total_elapsed_time"] == pytest.approx(20.0)
    assert session["avg_stance_time"] == pytest.approx(240.0)


def test_a_watch_file_is_aligned_by_time_and_feeds_step_length(
        analysed: tuple[Library, RunRecord, dict[str, Any]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    lib, run, doc = analysed
    watch = tmp_path / "watch.fit"
    _watch_fit(watch, T0 - dt.timedelta(seconds=5), 40)  # started 5 s before the sensor
    home = ["--home", str(lib.root)]
    assert main([*home, "attach", run.id[:8], str(watch)]) == 0
    assert "20 s overlap" in capsys.readouterr().out
    assert main([*home, "attach", run.id[:8], str(watch)]) == 0
    assert "already" in capsys.readouterr().out
    samples = watch_samples(lib, run.id)
    assert [s["t_s"] for s in samples] == [float(t) for t in range(21)]
    assert samples[0]["distance_m"] == 0.0  # from the start of the run
    assert samples[10]["distance_m"] == pytest.approx(32.0)
    assert samples[3]["heart_rate_bpm"] == 148.0  # record 8 of the watch
    assert samples[3]["cadence_spm"] == 173.0
    out = tmp_path / "run.fit"
    assert main([*home, "export", run.id[:8], "--fit", str(out)]) == 0
    records = _read(out)["record_mesgs"]
    rec = records[5]
    t = (rec["timestamp"] - T0).total_seconds()
    step_mm = 3.2 * _window_mean(doc, t, "step_s") * 1000
    assert rec["enhanced_speed"] == pytest.approx(3.2)
    assert rec["step_length"] == pytest.approx(step_mm, abs=0.1)
    assert rec["vertical_ratio"] == pytest.approx(
        100 * _window_mean(doc, t, "vertical_oscillation_m") * 1000 / step_mm, abs=0.01)
    assert rec["heart_rate"] == 140 + (int(t) + 5) % 10
    # The index is rebuilt with the attachment (it lives in the run's directory).
    lib.db.execute("DELETE FROM watch_samples")
    lib.db.execute("DELETE FROM attachments")
    assert not lib.check().ok
    assert lib.check(repair=True).index_rebuilt
    assert watch_samples(lib, run.id) == samples


def test_watch_files_that_do_not_fit_are_refused_clearly(
        analysed: tuple[Library, RunRecord, dict[str, Any]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    lib, run, _ = analysed
    home = ["--home", str(lib.root)]
    other_day = tmp_path / "other.fit"
    _watch_fit(other_day, T0 + dt.timedelta(days=1), 60)
    assert main([*home, "attach", run.id[:8], str(other_day)]) == 2
    err = capsys.readouterr().err
    assert "0 s in common" in err
    assert "--offset-s" in err
    assert main([*home, "attach", run.id[:8], str(other_day), "--offset-s", "86400"]) == 0
    capsys.readouterr()
    junk = tmp_path / "junk.fit"
    junk.write_bytes(b"\x0e\x10" + b"\x00" * 6 + b".FIT" + b"\xff" * 40)
    for path in (junk, tmp_path / "in" / f"run-{DEVICE_A:x}-1.imrn"):
        assert main([*home, "attach", run.id[:8], str(path)]) == 3
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "Traceback" not in err
    assert main([*home, "import", str(other_day)]) == 3
    assert "imurun attach" in capsys.readouterr().err
    lib.close()


def test_records_average_the_steps_around_their_own_time_when_the_start_is_fractional(
        tmp_path: Path) -> None:
    """A record at whole second ``T`` is run time ``T - start``: the steps around it, with the
    start 0.4 s past a whole second (the window moves 0.4 s earlier, not later)."""
    from imurun.report.fit import fit_bytes

    doc = analysis_json(50, seed=5)
    rng = np.random.default_rng(1)
    for s in doc["steps"]:  # contact times far apart, so a misplaced window shows
        s["contact_s"] = round(0.2 + 0.1 * rng.random(), 4)
    start = T0_MS / 1000 + 0.4
    out = tmp_path / "run.fit"
    speeds = {float(t): {"speed_mps": 3.0 + 0.1 * t} for t in range(21)}
    out.write_bytes(fit_bytes(doc, start, 20.0, speeds).data)
    records = _read(out)["record_mesgs"]
    checked = 0
    for rec in records:
        t = rec["timestamp"].timestamp() - start  # run time of the record
        vals = [s for s in doc["steps"] if s["activity"] == "run" and t - 1.5 <= s["ic_s"] < t + 1.5]
        if not vals:
            continue
        assert rec["stance_time"] == pytest.approx(
            1000 * np.mean([s["contact_s"] for s in vals]), abs=0.1)
        # step length: the mean of the steps' own (speed at the step's middle x step time)
        steps_mm = [1000 * (3.0 + 0.1 * (s["ic_s"] + s["step_s"] / 2)) * s["step_s"] for s in vals]
        assert rec["step_length"] == pytest.approx(np.mean(steps_mm), abs=0.1)
        checked += 1
    assert checked >= 15


def test_attach_says_how_to_give_a_start_and_that_it_replaces_a_watch_file(
        analysed: tuple[Library, RunRecord, dict[str, Any]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_library import _logger_csv

    lib, run, _ = analysed
    home = ["--home", str(lib.root)]
    first, second = tmp_path / "first.fit", tmp_path / "second.fit"
    _watch_fit(first, T0, 40)
    _watch_fit(second, T0, 40, speed=3.0)
    assert main([*home, "attach", run.id[:8], str(first)]) == 0
    assert "replaces" not in capsys.readouterr().out
    assert main([*home, "attach", run.id[:8], str(second)]) == 0
    out = capsys.readouterr().out
    assert "replaces the watch file attached before (first.fit)" in out
    assert [p.name for p in run.directory.glob("watch-*.fit")] != []
    assert len(list(run.directory.glob("watch-*.fit"))) == 1
    assert main([*home, "import", str(_logger_csv(tmp_path / "logger.csv"))]) == 0
    undated = lib.runs()[-1]
    assert undated.start_unix_s is None
    capsys.readouterr()
    assert main([*home, "attach", undated.short_id, str(first)]) == 2
    err = capsys.readouterr().err
    assert "no wall-clock start time" in err
    assert f'imurun athlete assign NAME {undated.short_id} --start "YYYY-MM-DD HH:MM"' in err


def test_one_watch_file_covers_both_runs_of_a_sensor_that_rebooted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A reboot during the run makes two runs of the sensor and one of the watch: the watch file
    attaches to both, and the library can still be checked and rebuilt."""
    from imurun.sim.runner import SimulateOptions, make_sensor

    flash = tmp_path / "flash"
    make_sensor(SimulateOptions(link=tmp_path / "tty", flash=flash, runs=1, minutes=3.0, seed=4,
                                watch=True, reboot_in_run=True), say=lambda _: None)
    watch = flash / "watch" / "run-00000001.fit"
    home = ["--home", str(tmp_path / "home")]
    for k in (1, 2):
        assert main([*home, "import", str(flash / f"run-{k:08d}.imrn")]) == 0
        assert main([*home, "attach", "latest", str(watch)]) == 0, capsys.readouterr().err
    assert main([*home, "store", "check"]) == 0, capsys.readouterr().out
    with Library.open(tmp_path / "home") as lib:
        runs = lib.runs()
        assert len(runs) == 2
        samples = {r.id: len(watch_samples(lib, r.id)) for r in runs}
    assert all(n > 60 for n in samples.values())
    (tmp_path / "home" / "index.sqlite3").unlink()  # the index is rebuilt from the files
    assert main([*home, "store", "check", "--repair"]) == 0, capsys.readouterr()
    with Library.open(tmp_path / "home") as lib:
        assert {r.id: len(watch_samples(lib, r.id)) for r in lib.runs()} == samples
    assert main([*home, "store", "check"]) == 0


def test_a_refused_attachment_leaves_no_file_beside_the_run(
        analysed: tuple[Library, RunRecord, dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from imurun.store import attach

    lib, run, _ = analysed
    _watch_fit(tmp_path / "w.fit", T0, 40)

    def broken(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(attach, "index_attachment", broken)
    with pytest.raises(OSError, match="disk full"):
        attach.attach_watch_fit(lib, run, tmp_path / "w.fit")
    assert list(run.directory.glob("watch-*")) == []
    assert lib.check().ok


def test_a_restored_run_comes_back_whole_to_the_athlete_it_now_belongs_to(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Set aside, its athlete merged into another (with another body mass), then restored: the
    run keeps its watch file and goes to the merged athlete, analysed with their mass."""
    from tests.test_library import CLEAN_RUN

    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "athlete", "add", "Cara", "--mass-kg", "50"]) == 0
    assert main([*home, "athlete", "add", "Ana", "--mass-kg", "60"]) == 0
    assert main([*home, "import", str(CLEAN_RUN), "--athlete", "Cara"]) == 0
    with Library.open(tmp_path / "home") as lib:
        run = lib.run("latest")
        assert run.start_unix_s is not None
        start = dt.datetime.fromtimestamp(round(run.start_unix_s), dt.UTC)
    _watch_fit(tmp_path / "w.fit", start, 60)
    assert main([*home, "attach", run.short_id, str(tmp_path / "w.fit")]) == 0
    assert main([*home, "store", "set-aside", run.short_id]) == 0
    assert main([*home, "athlete", "merge", "Cara", "Ana"]) == 0
    capsys.readouterr()
    assert main([*home, "store", "restore", run.short_id]) == 0
    out = capsys.readouterr().out
    assert f"restored run {run.short_id}" in out
    assert "Ana" in out
    assert "analysed 1 run(s) again" in out  # 50 kg before, Ana's 60 kg now
    assert main([*home, "store", "check"]) == 0, capsys.readouterr().out
    with Library.open(tmp_path / "home") as lib:
        back = lib.run(run.short_id)
        assert back.athlete_name == "Ana"
        assert back.analysis_mass_kg == 60
        assert len(watch_samples(lib, back.id)) > 30
    (tmp_path / "home" / "index.sqlite3").unlink()  # and so after a rebuild from the files
    with Library.open(tmp_path / "home") as lib:
        assert lib.run(run.short_id).athlete_name == "Ana"
