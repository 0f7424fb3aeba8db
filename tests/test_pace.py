"""Per-step speed, step and stride length from a watch; pace bands; `show --json`, `--steps-csv`."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imurun.analysis import STEPS_CSV_COLUMNS as ANALYZE_CSV_COLUMNS
from imurun.analysis import analyze
from imurun.cli import main
from imurun.errors import SignalError
from imurun.report.steps import SPEED_COLUMNS, STEPS_CSV_COLUMNS
from imurun.signal.pace import (
    PaceSettings,
    SpeedTrack,
    pace_bands,
    speed_at,
    step_speed,
    step_speed_of,
    stride_summary,
    vertical_ratio_pct,
)
from imurun.sim.source import load_truth
from imurun.store.attach import attach_watch_fit, run_step_speed
from imurun.store.library import Library, RunRecord
from tests.library_support import DEVICE_A, T0_MS, analysis_json, write_run
from tests.report_support import simulated_runs, truth_watch_fit, watch_fit


def _linear_track(seconds: int, v0: float, slope: float) -> SpeedTrack:
    t = np.arange(seconds + 1, dtype=np.float64)
    return SpeedTrack(t, v0 + slope * t)


# ---------------------------------------------------------------------------- speed at a time
def test_speed_is_interpolated_between_close_samples_only() -> None:
    track = SpeedTrack(np.array([0.0, 1.0, 2.0, 5.0, 6.0, 7.0]),
                       np.array([3.0, 3.5, 4.0, 2.0, np.nan, 2.0]))
    got = speed_at([-0.1, 0.0, 0.5, 1.0, 1.25, 2.0, 3.0, 5.0, 5.5, 7.0, 7.1, np.nan], track)
    want = [np.nan, 3.0, 3.25, 3.5, 3.625, 4.0, np.nan, 2.0, np.nan, 2.0, np.nan, np.nan]
    np.testing.assert_array_equal(got, want)  # 2 -> 5 s is a gap; 6 s has no speed: 5 -> 7 too
    assert speed_at([5.5], track, max_gap_s=2.0)[0] == pytest.approx(2.0)
    assert speed_at(np.zeros((2, 3)), track).shape == (2, 3)


def test_speed_tracks_are_checked() -> None:
    with pytest.raises(SignalError, match="increasing"):
        SpeedTrack(np.array([0.0, 2.0, 1.0]), np.ones(3))
    with pytest.raises(SignalError, match=r"speed_mps must have shape \(2,\)"):
        SpeedTrack(np.array([0.0, 1.0]), np.ones(3))
    assert not SpeedTrack(np.arange(3.0), np.array([0.0, np.nan, 0.0])).has_speed


# ---------------------------------------------------------------------------- step and stride
def test_step_length_is_the_distance_covered_under_a_linear_speed() -> None:
    """Exact: with a speed linear in time, speed at the middle x duration is the integral."""
    rng = np.random.default_rng(3)
    step_s = 0.35 + rng.normal(0, 0.01, 40)
    ic_s = 10.0 + np.concatenate([[0.0], np.cumsum(step_s[:-1])])
    v0, slope = 2.5, 0.04
    vo_m = 0.07 + rng.normal(0, 0.004, 40)
    inputs = (ic_s.copy(), step_s.copy(), vo_m.copy())
    sp = step_speed(ic_s, step_s, vo_m, _linear_track(60, v0, slope))
    # distance from a to b under v0 + slope t
    dist = v0 * step_s + 0.5 * slope * ((ic_s + step_s) ** 2 - ic_s ** 2)
    np.testing.assert_allclose(sp.step_length_m, dist, rtol=1e-12)
    np.testing.assert_allclose(sp.speed_mps, v0 + slope * (ic_s + step_s / 2), rtol=1e-12)
    np.testing.assert_allclose(sp.stride_length_m[:-1], dist[:-1] + dist[1:], rtol=1e-12)
    assert math.isnan(sp.stride_length_m[-1])  # no next step
    np.testing.assert_allclose(sp.vertical_ratio_pct, 100 * vo_m / dist, rtol=1e-12)
    np.testing.assert_allclose(sp.pace_s_per_km, 1000 / sp.speed_mps)
    for before, after in zip(inputs, (ic_s, step_s, vo_m), strict=True):  # inputs untouched
        np.testing.assert_array_equal(before, after)
    assert ic_s.flags.writeable


def test_unknown_where_the_watch_or_the_step_says_nothing() -> None:
    ic = np.array([1.0, 1.35, 1.70, 5.0, 5.35, 30.0, 31.0])
    st = np.array([0.35, 0.35, np.nan, 0.35, 0.35, 0.35, 0.35])  # 1.70: last before a gap
    vo = np.full(7, 0.08)
    track = SpeedTrack(np.arange(0.0, 31.0), np.where(np.arange(31) < 20, 3.0, 0.0))
    sp = step_speed(ic, st, vo, track)
    np.testing.assert_allclose(sp.step_length_m[[0, 1, 3, 4]], 3.0 * 0.35)
    assert np.isnan(sp.step_length_m[2])  # no step time
    assert np.isnan(sp.stride_length_m[1])  # its next step has no length
    assert np.isnan(sp.stride_length_m[2])  # and it is not followed directly (gap)
    assert sp.stride_length_m[3] == pytest.approx(2 * 3.0 * 0.35)
    assert np.isnan(sp.stride_length_m[4])  # the next step starts 24.65 s later
    assert np.isnan(sp.speed_mps[5])  # the watch says 0 m/s: standing, not running
    assert np.isnan(sp.speed_mps[6])  # after the watch's last sample
    with pytest.raises(SignalError, match=r"step_s must have shape \(7,\)"):
        step_speed(ic, st[:3], vo, track)


def test_vertical_ratio_is_garmins_bounce_over_step_length() -> None:
    np.testing.assert_allclose(vertical_ratio_pct([0.08, 0.09, 0.08], [1.0, 1.2, 0.0]),
                               [8.0, 7.5, np.nan])


def test_stride_summary_takes_medians_over_the_chosen_steps_with_a_speed() -> None:
    ic = np.arange(10) * 0.35
    sp = step_speed(ic, np.full(10, 0.35), np.full(10, 0.07), _linear_track(2, 3.0, 0.0))
    s = stride_summary(sp, np.arange(10) < 8)
    assert s.n_steps == 6  # 6 of the first 8 steps lie within the watch's 2 s
    assert (s.speed_mps, s.step_length_m, s.stride_length_m) == pytest.approx((3.0, 1.05, 2.1))
    assert s.pace_s_per_km == pytest.approx(1000 / 3)
    assert s.to_dict()["vertical_ratio_pct"] == pytest.approx(100 * 0.07 / 1.05, abs=1e-4)
    none = stride_summary(sp, np.zeros(10, bool))
    assert none.n_steps == 0
    assert none.to_dict()["step_length_m"] is None


# ---------------------------------------------------------------------------- pace bands
def _speeds(paces_s_per_km: list[float], counts: list[int]) -> np.ndarray:
    return np.concatenate([np.full(n, 1000.0 / p) for p, n in zip(paces_s_per_km, counts,
                                                                   strict=True)])


def test_pace_bands_are_aligned_15_s_per_km_wide_slowest_first() -> None:
    v = _speeds([300.0, 299.9, 314.9, 315.0, 330.0, 240.0], [60, 70, 10, 80, 59, 60])
    v = np.concatenate([v, [np.nan, 0.0, -1.0]])
    b = pace_bands(v)
    np.testing.assert_array_equal(b.start_s_per_km, [315.0, 300.0, 285.0, 240.0])
    np.testing.assert_array_equal(b.end_s_per_km, [330.0, 315.0, 300.0, 255.0])
    np.testing.assert_array_equal(b.n_steps, [80, 70, 70, 60])  # 300 and 314.9 in 5:00-5:15
    assert b.n_outside == 59  # 5:30-5:45 has 59 < 60 steps
    assert b.band[0] == 1  # a pace on an edge goes to the slower band
    assert b.band[60] == 2
    assert (b.band[-3:] == -1).all()  # no speed, standing, nonsense
    assert b.mask(3).sum() == 60
    assert len(pace_bands(v, settings=PaceSettings(min_steps=200))) == 0
    wide = pace_bands(v, settings=PaceSettings(width_s_per_km=30.0))
    np.testing.assert_array_equal(wide.start_s_per_km, [300.0, 270.0, 240.0])
    np.testing.assert_array_equal(wide.n_steps, [150, 70, 60])  # 330 (5:30-6:00): 59 steps


def test_an_exact_pace_is_not_lost_to_rounding() -> None:
    b = pace_bands(np.full(60, 1000.0 / 300.0))  # 1000 / (1000 / 300) may be 299.99999999
    np.testing.assert_array_equal(b.start_s_per_km, [300.0])


@pytest.mark.parametrize("kw", [{"width_s_per_km": 0.0}, {"min_steps": 0}, {"max_gap_s": -1.0}])
def test_pace_settings_are_checked(kw: dict[str, Any]) -> None:
    with pytest.raises(SignalError):
        PaceSettings(**kw)


# ---------------------------------------------------------------------------- real motion
def test_step_lengths_from_a_watch_match_the_simulated_truth(tmp_path: Path) -> None:
    """A 3-minute run of the virtual sensor, its true speed as a 1 Hz watch file would hold it."""
    f = simulated_runs(tmp_path, minutes=(3.0,), start_unix_s=1_794_830_400)[0]
    result = analyze(f)
    truth = load_truth(tmp_path / "truth" / "r0.npz")
    wf = truth_watch_fit(tmp_path / "w.fit", tmp_path / "truth" / "r0.npz", 1_794_830_400)
    from imurun.ingest.watch import per_second, read_watch_fit

    t_s, v = per_second(read_watch_fit(wf), 1_794_830_400, result.source.t_end_s)
    run = result.running_steps
    sp = step_speed_of(run, SpeedTrack(t_s, v[:, 0]))
    j = np.abs(truth["ic_s"][None, :] - run.ic_s[:, None]).argmin(axis=1)
    matched = (np.abs(truth["ic_s"][j] - run.ic_s) < 0.03) & np.isfinite(sp.step_length_m)
    assert matched.sum() > 0.95 * len(run)
    rel = sp.step_length_m[matched] / truth["step_length_m"][j[matched]] - 1.0
    assert abs(float(np.median(rel))) < 0.005
    assert float(np.percentile(np.abs(rel), 95)) < 0.03
    # the paces of the script (easy, faster, slower) come out as separate bands
    b = pace_bands(sp.speed_mps)
    assert len(b) >= 3
    cadence = [60.0 / np.median(run.step_s[b.mask(k)]) for k in range(len(b))]
    assert cadence == sorted(cadence)  # faster bands, higher cadence (the simulator's rule)


def test_the_virtual_sensors_watch_file_holds_the_true_speed_per_second(tmp_path: Path) -> None:
    """`imurun simulate serial --watch`: read back with Garmin's own SDK, record i is at the
    run's start + i s with the true speed averaged over [i - 0.5, i + 0.5) s."""
    from garmin_fit_sdk import Decoder, Stream

    from imurun.sim.runner import FIRST_RUN_UNIX_MS, SimulateOptions, make_sensor

    make_sensor(SimulateOptions(link=tmp_path / "tty", flash=tmp_path / "flash", runs=1,
                                minutes=1.0, seed=3, watch=True), say=lambda _: None)
    msgs, errors = Decoder(Stream.from_file(str(tmp_path / "flash" / "watch" /
                                                 "run-00000001.fit"))).read()
    assert not errors
    recs = msgs["record_mesgs"]
    truth = load_truth(tmp_path / "flash" / "truth" / "recorded-000.npz")
    fs = int(truth["meta"]["fs_hz"])
    v = truth["speed_mps"]
    assert len(recs) == len(v) // fs == 60
    start = FIRST_RUN_UNIX_MS / 1000
    assert [r["timestamp"].timestamp() for r in recs] == [start + i for i in range(60)]
    for i in (0, 1, 30, 59):
        window = v[max(0, i * fs - fs // 2): i * fs + fs // 2]
        assert recs[i]["enhanced_speed"] == pytest.approx(window.mean(), abs=1e-3)  # mm/s
    got = np.array([r["enhanced_speed"] for r in recs])
    dist = np.array([r["distance"] for r in recs])
    np.testing.assert_allclose(dist[1:], np.cumsum(got)[:-1], atol=0.02)  # cm in FIT
    assert msgs["session_mesgs"][0]["sport"] == "running"


# ---------------------------------------------------------------------------- library and CLI
@pytest.fixture
def watched(tmp_path: Path) -> tuple[Library, RunRecord, dict[str, Any], np.ndarray]:
    """An analysed run and a watch file whose speed rises 0.01 m/s every second."""
    lib = Library.open(tmp_path / "home")
    run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1, seconds=20.0)).run
    doc = analysis_json(50, seed=3)
    run = lib.set_analysis(run.id, doc)
    speeds = 3.0 + 0.01 * np.arange(25)  # whole mm/s: FIT stores speed in mm/s
    attach_watch_fit(lib, run, watch_fit(tmp_path / "w.fit", T0_MS / 1000, 25,
                                         speeds_mps=speeds.tolist()))
    return lib, run, doc, speeds


def _expected(doc: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ic = np.array([s["ic_s"] for s in doc["steps"]])
    st = np.array([s["step_s"] for s in doc["steps"]])
    step_m = (3.0 + 0.01 * (ic + st / 2)) * st  # the run starts with the watch: same time base
    running = np.array([s["activity"] == "run" for s in doc["steps"]])
    return step_m, running, st


def test_library_steps_get_the_watch_speed(
        watched: tuple[Library, RunRecord, dict[str, Any], np.ndarray]) -> None:
    lib, run, doc, _ = watched
    got = run_step_speed(lib, run.id)
    assert got is not None
    sp, running = got
    step_m, want_running, _ = _expected(doc)
    np.testing.assert_allclose(sp.step_length_m, step_m, rtol=1e-9)
    np.testing.assert_array_equal(running, want_running)


def test_show_json_has_stride_medians_or_null(
        watched: tuple[Library, RunRecord, dict[str, Any], np.ndarray], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    lib, run, doc, _ = watched
    home = ["--home", str(lib.root)]
    assert main([*home, "show", run.id[:8], "--json"]) == 0
    stride = json.loads(capsys.readouterr().out)["stride"]
    step_m, running, _ = _expected(doc)
    assert stride["n_steps"] == int(running.sum())
    assert stride["step_length_m"] == pytest.approx(np.median(step_m[running]), abs=1e-4)
    strides = (step_m[:-1] + step_m[1:])[running[:-1]]
    assert stride["stride_length_m"] == pytest.approx(np.median(strides), abs=1e-4)
    assert stride["pace_s_per_km"] == pytest.approx(1000 / stride["speed_mps"], abs=1e-3)
    assert main([*home, "show", run.id[:8]]) == 0
    assert f"stride     step {np.median(step_m[running]):.2f} m" in capsys.readouterr().out
    other = lib.add_file(write_run(tmp_path / "in2", DEVICE_A, 2, seconds=20.0)).run
    lib.set_analysis(other.id, analysis_json(50, seed=4))
    assert main([*home, "show", other.id[:8], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stride"] is None


@pytest.mark.parametrize(("pace_s_per_km", "shown"), [(359.6, "6:00"), (340.5, "5:41"),
                                                     (340.4, "5:40")])
def test_show_writes_a_pace_as_the_reports_do(
        watched: tuple[Library, RunRecord, dict[str, Any], np.ndarray],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        pace_s_per_km: float, shown: str) -> None:
    """`imurun show` wrote a pace of 359.6 s/km as "5:60 /km" (minutes and rounded seconds
    apart), and 340.5 s/km as "5:40" (half to even) where the run report and the weekly
    summary wrote "5:41"."""
    import imurun.store.attach as attach
    from imurun.signal.pace import StrideSummary

    lib, run, _, _ = watched
    monkeypatch.setattr(attach, "run_stride_summary", lambda *_a, **_k: StrideSummary(
        100, 1000.0 / pace_s_per_km, 1.0, 2.0, 6.0))
    assert main(["--home", str(lib.root), "show", run.id[:8]]) == 0
    assert f"pace {shown} /km (100 running steps" in capsys.readouterr().out
    from imurun._timetext import pace_text

    assert pace_text(pace_s_per_km) == shown  # the reports' rule


def test_steps_csv_export_has_the_speed_columns(
        watched: tuple[Library, RunRecord, dict[str, Any], np.ndarray], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    lib, run, doc, _ = watched
    home = ["--home", str(lib.root)]
    out = tmp_path / "steps.csv"
    assert main([*home, "export", run.id[:8], "--steps-csv", str(out)]) == 0
    assert f"wrote {out}: 51 steps, 51 with the watch's speed" in capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == STEPS_CSV_COLUMNS == (*ANALYZE_CSV_COLUMNS, *SPEED_COLUMNS)
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    step_m, _, _ = _expected(doc)
    np.testing.assert_allclose([float(r["step_length_m"]) for r in body], step_m, rtol=1e-5)
    assert float(body[0]["stride_length_m"]) == pytest.approx(step_m[0] + step_m[1], rel=1e-5)
    assert float(body[3]["vertical_ratio_pct"]) == pytest.approx(
        100 * doc["steps"][3]["vertical_oscillation_m"] / step_m[3], rel=1e-5)
    assert body[-1]["stride_length_m"] == ""  # the last step: unknown is empty
    assert body[5]["contact_s"] == f"{doc['steps'][5]['contact_s']:.6g}"
    # without a watch: the same columns, empty
    other = lib.add_file(write_run(tmp_path / "in2", DEVICE_A, 2, seconds=20.0)).run
    lib.set_analysis(other.id, analysis_json(50, seed=4))
    assert main([*home, "export", other.id[:8], "--steps-csv", str(out)]) == 0
    assert "attach a watch file" in capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == STEPS_CSV_COLUMNS
    assert all(r[-4:] == ["", "", "", ""] for r in rows[1:])
    # not analysed: one clear line
    bare = lib.add_file(write_run(tmp_path / "in3", DEVICE_A, 3, seconds=20.0)).run
    assert main([*home, "export", bare.id[:8], "--steps-csv", str(out)]) == 2
    assert "not analysed yet" in capsys.readouterr().err
