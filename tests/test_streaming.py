"""Streaming running events: chunked processing finds the same events as batch processing."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from imurun.analysis_live import LiveAnalyzer, LiveStreamHook, format_live
from imurun.device.client import SensorClient
from imurun.device.stream import replay
from imurun.errors import SignalError
from imurun.ingest.builder import RecordingBuilder
from imurun.signal.events import detect_running_events
from imurun.signal.streaming import LiveMetrics, StreamingEvents, StreamingSettings, StreamSteps
from imurun.sim.motion import Motion, Mounting, NoiseModel, Phase, generate
from imurun.transport.session import ReplayTransport, read_session

REC = Path(__file__).parents[1] / "recordings"
FS = 200.0


@pytest.fixture(scope="module")
def motion() -> Motion:
    rng = np.random.default_rng(77)
    script = (Phase("stand", 4.0), Phase("walk", 8.0), Phase("run", 40.0, turn_deg=90.0),
              Phase("run", 20.0, speed_mps=4.2), Phase("walk", 6.0), Phase("stand", 4.0))
    return generate(script, None, FS, mounting=Mounting.upright(), noise=NoiseModel(), rng=rng)


def _stream(acc: np.ndarray, gyr: np.ndarray | None, chunks: list[int],
            settings: StreamingSettings | None = None) -> StreamSteps:
    se = StreamingEvents(FS, settings)
    out = []
    pos = 0
    for c in chunks:
        out.append(se.update(acc[pos:pos + c], None if gyr is None else gyr[pos:pos + c]))
        pos += c
    assert pos == acc.shape[0]
    out.append(se.flush())
    return StreamSteps.concat(out)


def _random_chunks(n: int, seed: int, hi: int) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(1, hi)))
    sizes[-1] -= sum(sizes) - n
    return [s for s in sizes if s > 0]


def _assert_same(a: StreamSteps, b: StreamSteps) -> None:
    np.testing.assert_array_equal(a.ic_index, b.ic_index)
    np.testing.assert_array_equal(a.to_index, b.to_index)
    np.testing.assert_array_equal(a.side, b.side)
    np.testing.assert_array_equal(a.running, b.running)
    np.testing.assert_array_equal(a.vertical_oscillation_m, b.vertical_oscillation_m)


def test_output_does_not_depend_on_chunking(motion: Motion) -> None:
    acc, gyr = motion.acc_ms2, motion.gyr_rads
    n = acc.shape[0]
    whole = _stream(acc, gyr, [n])
    assert len(whole) > 150
    _assert_same(whole, _stream(acc, gyr, _random_chunks(n, 1, 400)))
    _assert_same(whole, _stream(acc, gyr, _random_chunks(n, 2, 37)))
    one_by_one = _stream(acc[: 30 * int(FS)], gyr[: 30 * int(FS)], [1] * (30 * int(FS)))
    _assert_same(_stream(acc[: 30 * int(FS)], gyr[: 30 * int(FS)], [30 * int(FS)]), one_by_one)


def test_chunked_finds_the_same_events_as_batch(motion: Motion) -> None:
    acc, gyr = motion.acc_ms2, motion.gyr_rads
    batch = detect_running_events(acc, FS, gyr)
    stream = _stream(acc, gyr, _random_chunks(acc.shape[0], 3, 300))
    ic_b = batch.ic_index[np.isfinite(batch.ic_index)]
    # every batch step with an IC is emitted exactly once, in order, at the same sample
    np.testing.assert_allclose(stream.ic_index, ic_b, rtol=0, atol=1e-9)
    to_b = batch.to_index[np.isfinite(batch.ic_index)]
    np.testing.assert_allclose(stream.to_index, to_b, rtol=0, atol=1e-9)
    # the sides emitted live come from a decoder over the window: they agree on nearly every
    # step (the final ones, after flush, on every step: test_final_sides_equal_batch)
    side_b = batch.side[np.isfinite(batch.ic_index)]
    assert np.mean(stream.side == side_b) >= 0.99


def _session(script: str, seed: int) -> Motion:
    """The fixture's session ("A"), or two runs around a standing pause ("B")."""
    phases = {
        "A": (Phase("stand", 4.0), Phase("walk", 8.0), Phase("run", 40.0, turn_deg=90.0),
              Phase("run", 20.0, speed_mps=4.2), Phase("walk", 6.0), Phase("stand", 4.0)),
        "B": (Phase("stand", 3.0), Phase("run", 25.0), Phase("stand", 12.0),
              Phase("run", 25.0, speed_mps=4.0), Phase("walk", 5.0), Phase("stand", 6.0)),
    }[script]
    return generate(phases, None, FS, mounting=Mounting.upright(), noise=NoiseModel(),
                    rng=np.random.default_rng(seed))


# before: the sides emitted live were the only ones, and on these sessions 1-17 steps had
# another side than batch (standing noise at the start, in a pause, in the last window)
@pytest.mark.parametrize(("script", "seed"), [("A", 2), ("A", 10), ("A", 77), ("B", 2)])
def test_final_sides_equal_batch(script: str, seed: int) -> None:
    m = _session(script, seed)
    acc, gyr = m.acc_ms2, m.gyr_rads
    n = acc.shape[0]
    batch = detect_running_events(acc, FS, gyr)
    has_ic = np.isfinite(batch.ic_index)
    for chunks in ([n], _random_chunks(n, seed, 37), _random_chunks(n, seed + 1, 1500)):
        se = StreamingEvents(FS)
        ends = np.cumsum(chunks)
        parts = [se.update(acc[b - c:b], gyr[b - c:b]) for b, c in zip(ends, chunks, strict=True)]
        flushed = se.flush()
        live = StreamSteps.concat([*parts, flushed])
        final = se.segment_steps()
        np.testing.assert_allclose(final.ic_index, batch.ic_index[has_ic], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(final.side, batch.side[has_ic])
        # only the sides can change after emission; flush() returns its steps final
        np.testing.assert_array_equal(final.ic_index, live.ic_index)
        np.testing.assert_array_equal(final.running, live.running)
        np.testing.assert_array_equal(flushed.side, final.side[len(final) - len(flushed):])


def test_final_sides_per_segment() -> None:
    m = _session("A", 10)
    acc, gyr = m.acc_ms2, m.gyr_rads
    n = acc.shape[0]
    cut = n // 2
    batch = detect_running_events(acc, FS, gyr, segments=((0, cut), (cut, n)))
    se = StreamingEvents(FS)
    finals = []
    for a, b in ((0, cut), (cut, n)):
        se.reset(t0_s=a / FS)
        for c0 in range(a, b, 700):
            se.update(acc[c0:min(c0 + 700, b)], gyr[c0:min(c0 + 700, b)])
        se.flush()
        finals.append(se.segment_steps())
    final = StreamSteps.concat(finals)
    has_ic = np.isfinite(batch.ic_index)
    np.testing.assert_allclose(final.ic_s, batch.ic_s[has_ic], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(final.side, batch.side[has_ic])


def test_accelerometer_only_stream(motion: Motion) -> None:
    acc = motion.acc_ms2
    batch = detect_running_events(acc, FS)
    stream = _stream(acc, None, _random_chunks(acc.shape[0], 4, 500))
    np.testing.assert_allclose(stream.ic_index, batch.ic_index[np.isfinite(batch.ic_index)],
                               atol=1e-9)
    se = StreamingEvents(FS)
    for a in range(0, acc.shape[0], 500):
        se.update(acc[a:a + 500])
    se.flush()
    np.testing.assert_array_equal(se.segment_steps().side,
                                  batch.side[np.isfinite(batch.ic_index)])


def test_live_metrics_follow_the_truth(motion: Motion) -> None:
    se = StreamingEvents(FS)
    tr = motion.truth
    reports: list[LiveMetrics] = []
    step = int(5 * FS)
    for a in range(0, motion.acc_ms2.shape[0], step):
        se.update(motion.acc_ms2[a:a + step], motion.gyr_rads[a:a + step])
        reports.append(se.live())
    during = [r for r in reports if 30.0 <= r.t_s <= 50.0]
    assert during
    assert all(r.n_steps > 10 for r in during)
    run = (tr.activity == "run") & (tr.ic_s > 20) & (tr.ic_s < 50)
    for r in during:
        assert r.cadence_spm == pytest.approx(60 / np.median(tr.step_s[run]), rel=0.04)
        assert r.contact_ms == pytest.approx(1e3 * np.median(tr.contact_s[run]), abs=25)
        assert r.vertical_oscillation_cm == pytest.approx(
            100 * np.median(tr.vertical_oscillation_m[run]), abs=1.0)
    assert "cadence" in format_live(during[0])


def test_reset_starts_a_new_segment(motion: Motion) -> None:
    acc = motion.acc_ms2
    n = acc.shape[0]
    cut = n // 2
    se = StreamingEvents(FS)
    first = StreamSteps.concat([se.update(acc[:cut]), se.flush()])
    se.reset(t0_s=cut / FS)
    second = StreamSteps.concat([se.update(acc[cut:]), se.flush()])
    a = detect_running_events(acc[:cut], FS)
    b = detect_running_events(acc[cut:], FS)
    np.testing.assert_allclose(first.ic_index, a.ic_index[np.isfinite(a.ic_index)], atol=1e-9)
    np.testing.assert_allclose(second.ic_s, cut / FS + b.ic_s[np.isfinite(b.ic_s)], atol=1e-9)


def test_settings_are_checked() -> None:
    with pytest.raises(SignalError):
        StreamingSettings(window_s=8.0, hop_s=4.0, margin_s=4.0)
    se = StreamingEvents(FS)
    se.update(np.zeros((10, 3)), np.zeros((10, 3)))
    with pytest.raises(SignalError):
        se.update(np.zeros((10, 3)))


def test_live_analyzer_estimates_the_mounting() -> None:
    rng = np.random.default_rng(8)
    script = (Phase("stand", 3.0), Phase("run", 50.0))
    mnt = Mounting.random(np.random.default_rng(9))
    m = generate(script, None, FS, mounting=mnt, noise=NoiseModel(), rng=rng)
    reports: list[LiveMetrics] = []
    live = LiveAnalyzer(FS, reports.append, report_every_s=5.0)
    for a in range(0, m.acc_ms2.shape[0], 100):
        live.add(m.acc_ms2[a:a + 100], m.gyr_rads[a:a + 100])
    assert live.mounting is not None
    assert np.degrees(np.arccos((np.trace(live.mounting.r_sb @ mnt.r_sb.T) - 1) / 2)) < 5.0
    assert reports[-1].n_steps > 10
    assert reports[-1].cadence_spm == pytest.approx(170, abs=10)


@pytest.mark.parametrize("name", ["clean-run.imrs", "reboot-and-gaps.imrs"])
def test_live_hook_on_a_replayed_stream(name: str) -> None:
    lines: list[str] = []
    hook = LiveStreamHook(lines.append, report_every_s=5.0)
    client = SensorClient(ReplayTransport(read_session(REC / name), speed=None))
    asyncio.run(replay(client, RecordingBuilder(), on_event=hook))
    with_running = [ln for ln in lines if "cadence" in ln]
    assert len(lines) >= 10
    assert len(with_running) >= 4
    cadences = [float(ln.split("cadence")[1].split()[0]) for ln in with_running]
    assert all(150 < c < 190 for c in cadences)


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_stream_live_on_the_virtual_sensor(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``imurun stream --live`` against the virtual sensor on a real pseudo-terminal."""
    from imurun.cli import main as cli
    from tests.sim_support import virtual_sensor

    with virtual_sensor(tmp_path, "--seed", "21", "--stream-minutes", "1", "--speed", "max") as s:
        assert cli(["stream", "--port", str(s.link), "--out", str(tmp_path / "s.imrs"),
                    "--live", "--live-every", "5"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("live")]
    assert len(lines) >= 10
    running = [ln for ln in lines if "cadence" in ln]
    assert len(running) >= 5
    assert all(150 < float(ln.split("cadence")[1].split()[0]) < 190 for ln in running)
    assert "streamed 12000 samples" in out


def test_live_analyzer_checks_what_it_is_given() -> None:
    # before: an (m, 2) block was buffered and NumPy failed later, at the mounting estimate;
    # a list of rows raised AttributeError("'list' object has no attribute 'shape'")
    la = LiveAnalyzer(FS, lambda m: None)
    with pytest.raises(SignalError, match=r"sf_acc_ms2 must have shape \(n, 3\)"):
        la.add(np.zeros((5, 2)), None)
    with pytest.raises(SignalError, match=r"sf_gyr_rads must have shape \(5, 3\)"):
        la.add(np.zeros((5, 3)), np.zeros((4, 3)))
    assert la.n_seen == 0
    la.add([[0.0, 0.0, 9.81]] * 5, [[0.0, 0.0, 0.0]] * 5)
    assert la.n_seen == 5


# before: the live hook ended a segment at every lost or damaged frame where the batch analysis
# bridges it (and, before the mounting was known, glued the samples across a gap and shifted
# every later time by the samples missing): on this file 133 running steps live against 138.
def test_live_steps_on_a_replayed_stream_with_lost_frames_equal_batch() -> None:
    import imurun

    steps: list[StreamSteps] = []
    hook = LiveStreamHook(lambda line: None, on_steps=steps.append)
    client = SensorClient(ReplayTransport(read_session(REC / "reboot-and-gaps.imrs"), speed=None))
    builder = RecordingBuilder()
    asyncio.run(replay(client, builder, on_event=hook))
    hook.flush()
    assert hook.analyzer is not None
    assert hook.analyzer.mounting is not None
    assert hook.bridged_samples == 370  # the 37 lost or damaged frames, as batch bridges them
    live = StreamSteps.concat(steps)
    live_ic = live.ic_s[live.running]
    batch = imurun.analyze(builder.build(), mounting=hook.analyzer.mounting).steps
    batch_ic = batch.ic_s[batch.activity == "run"]
    assert live_ic.size == batch_ic.size > 100
    # the same times, before and after the reboot (tests/test_live_time_base.py)
    np.testing.assert_allclose(live_ic, batch_ic, rtol=0, atol=1e-3)


# before: a gap in the first 20 s (before the mounting was known) was not a gap at all: the
# samples on both sides were analysed as contiguous and every time after it was early
def test_a_gap_before_the_mounting_is_known_still_ends_a_segment(motion: Motion) -> None:
    acc, gyr = motion.acc_ms2, motion.gyr_rads
    n = acc.shape[0]
    cut, resume = int(10 * FS), int(12 * FS)  # 2 s missing, 8 s before the mounting is known
    steps: list[StreamSteps] = []
    la = LiveAnalyzer(FS, lambda m: None, mounting_window_s=20.0, on_steps=steps.append)
    for a in range(0, cut, 100):
        la.add(acc[a:min(a + 100, cut)], gyr[a:min(a + 100, cut)])
    la.gap(resume / FS)
    for a in range(resume, n, 100):
        la.add(acc[a:a + 100], gyr[a:a + 100])
    la.flush()
    assert la.mounting is not None
    live = StreamSteps.concat(steps)
    r = la.mounting.r_sb
    bf_acc, bf_gyr = acc @ r.T, gyr @ r.T
    batch = detect_running_events(bf_acc, FS, bf_gyr, segments=((0, cut), (resume, n)))
    has_ic = np.isfinite(batch.ic_s)
    np.testing.assert_allclose(live.ic_s, batch.ic_s[has_ic], rtol=0, atol=1e-9)


# before: report_every_s=0 raised ZeroDivisionError at the first report, and blocks with and
# without a gyroscope were buffered together until the mounting estimate dropped the gyroscope
# (or StreamingEvents refused them later, far from the call that mixed them)
def test_live_analyzer_checks_its_settings_and_a_consistent_gyroscope() -> None:
    for bad in (0, -5.0, float("nan")):
        with pytest.raises(SignalError, match="report_every_s must be a positive number"):
            LiveAnalyzer(FS, lambda m: None, report_every_s=bad)
        with pytest.raises(SignalError, match="report_every_s must be a positive number"):
            LiveStreamHook(lambda line: None, report_every_s=bad)
    with pytest.raises(SignalError, match="fs_hz must be a positive number"):
        LiveAnalyzer(0.0, lambda m: None)
    for bad in (-1.0, float("nan")):
        with pytest.raises(SignalError, match="mounting_early_s must be a number of seconds"):
            LiveAnalyzer(FS, lambda m: None, mounting_early_s=bad)
    la = LiveAnalyzer(FS, lambda m: None)
    la.add(np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(SignalError, match="with a gyroscope"):
        la.add(np.zeros((5, 3)), None)
    assert la.n_seen == 5


# before: acceleration in g (or angular rate in deg/s) was taken as m/s² (rad/s) by the live
# analysis: no steps and no error, where analyze() of the same arrays refuses them
@pytest.mark.parametrize("wrong", ["acc in g", "gyr in deg/s"])
def test_live_analyzer_refuses_samples_that_are_not_si(wrong: str) -> None:
    m = generate((Phase("stand", 3.0), Phase("run", 25.0)), None, FS,
                 mounting=Mounting.upright(), noise=NoiseModel(), rng=np.random.default_rng(4))
    acc, gyr = m.acc_ms2, m.gyr_rads
    if wrong == "acc in g":
        acc = acc / 9.80665
    else:
        gyr = np.degrees(gyr)
    la = LiveAnalyzer(FS, lambda _: None)
    window = int(la.mounting_early_s * FS)  # the first try of the mounting: held, then checked
    assert window == int(12.0 * FS)
    la.add(acc[:window - 1], gyr[:window - 1])
    with pytest.raises(SignalError, match="g .*multiply" if wrong == "acc in g" else "deg/s"):
        la.add(acc[window - 1:window + 200], gyr[window - 1:window + 200])
    assert la.mounting is None  # refused at the first window, before anything was analysed


def test_the_live_hook_stops_its_analysis_not_the_stream(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Samples the live analysis refuses end the live lines with the reason; every sample
    still reaches the recording."""
    import imurun.analysis

    def refuse(*_: object) -> None:
        raise SignalError("acceleration looks like it is in g")

    monkeypatch.setattr(imurun.analysis, "check_si_units", refuse)
    lines: list[str] = []
    hook = LiveStreamHook(lines.append, report_every_s=5.0)
    builder = RecordingBuilder()
    client = SensorClient(ReplayTransport(read_session(REC / "clean-run.imrs"), speed=None))
    asyncio.run(replay(client, builder, on_event=hook))
    hook.flush()
    stopped = [ln for ln in lines if ln.startswith("live: stopped")]
    assert len(stopped) == 1
    assert "looks like it is in g" in stopped[0]
    assert not any("cadence" in ln for ln in lines)
    whole = RecordingBuilder()
    asyncio.run(replay(SensorClient(ReplayTransport(read_session(REC / "clean-run.imrs"),
                                                    speed=None)), whole))
    assert builder.build().acc_ms2.shape == whole.build().acc_ms2.shape


# before: `imurun replay` had no --live: the live lines of a recorded session could only be seen
# from Python
def test_cli_replay_live_prints_the_lines_the_live_stream_printed(
        capsys: pytest.CaptureFixture[str]) -> None:
    from imurun.cli import main as cli

    expected: list[str] = []
    hook = LiveStreamHook(expected.append, report_every_s=5.0)
    client = SensorClient(ReplayTransport(read_session(REC / "clean-run.imrs"), speed=None))
    asyncio.run(replay(client, RecordingBuilder(), on_event=hook))
    assert cli(["replay", str(REC / "clean-run.imrs"), "--live", "--live-every", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    live = [ln.strip() for ln in out if ln.strip().startswith("live")]
    assert live == expected
    assert len(live) >= 10
    assert out[len(live)].endswith("clean-run.imrs (session)")  # then the summary
    assert cli(["replay", str(REC / "clean-run.imrs"), "--live", "--json"]) == 2


# before: the first pass waited for a full window (16 s), so nothing was emitted before 16 s of
# a segment: a run starting at 3 s had its first numbers at 20 s
def test_first_steps_do_not_wait_for_a_full_window() -> None:
    m = _session("B", 2)
    acc, gyr = m.acc_ms2, m.gyr_rads
    s = StreamingSettings()
    n = int(round((s.hop_s + s.margin_s + s.hop_s) * FS))  # a few passes of the grid
    assert n < s.window_s * FS
    se = StreamingEvents(FS, s)
    got = se.update(acc[:n], gyr[:n])
    batch = detect_running_events(acc, FS, gyr)
    ic_b = batch.ic_index[np.isfinite(batch.ic_index)]
    # every step more than margin_s before the last pass of the grid, exactly as batch finds it
    last_pass = np.floor(n / (s.hop_s * FS)) * s.hop_s * FS
    expect = ic_b[ic_b < last_pass - s.margin_s * FS]
    assert expect.size > 5
    np.testing.assert_allclose(got.ic_index, expect, rtol=0, atol=1e-9)


def _live_reports(acc: np.ndarray, gyr: np.ndarray | None, fs: float,
                  every_s: float, settings: StreamingSettings | None = None) -> list[LiveMetrics]:
    reports: list[LiveMetrics] = []
    la = LiveAnalyzer(fs, reports.append, report_every_s=every_s, settings=settings)
    for a in range(0, acc.shape[0], 10):  # 10 samples at a time, as the sensor's frames
        la.add(acc[a:a + 10], None if gyr is None else gyr[a:a + 10])
    return reports


def _running_cases() -> list[tuple[str, int]]:
    return [("stored-run.imrn", 0), ("clean-run.imrs", 0), ("B", 2), ("B", 5)]


def _samples_and_batch(name: str, seed: int) -> tuple[np.ndarray, np.ndarray | None, float,
                                                      np.ndarray]:
    """Sensor-frame samples and the batch analysis' running initial contacts (s)."""
    import imurun
    from imurun.ingest.recording import Recording

    if name.endswith((".imrn", ".imrs")):
        rec = imurun.load_recording(REC / name)
    else:
        m = _session(name, seed)
        n = m.acc_ms2.shape[0]
        rec = Recording.from_arrays(np.arange(n) / FS, m.acc_ms2, m.gyr_rads, fs_hz=FS)
    steps = imurun.analyze(rec).steps
    return rec.acc_ms2, rec.gyr_rads, rec.fs_hz, steps.ic_s[steps.activity == "run"]


# before: a live line said "no running in the last seconds" while the runner ran: the running
# steps of the last 4-8 s are not final yet, and before 16 s no step was emitted at all (on
# stored-run.imrn, batch running from 12.3 s, the 15-s line said no running; the first line
# that said running came 7.7 s after the first running step, with a line every 0.5 s)
@pytest.mark.parametrize(("name", "seed"), _running_cases())
def test_live_lines_never_say_no_running_while_running(name: str, seed: int) -> None:
    acc, gyr, fs, run_ic = _samples_and_batch(name, seed)
    s = StreamingSettings()
    span_s = s.rolling_s + s.margin_s + s.hop_s  # the initial contacts a line's numbers cover
    # a running step is labelled once its next initial contact is in (a step time of at most
    # run_step_s[1]); allow two of them before the line
    settle_s = 2 * s.activity.run_step_s[1]
    every_s = 0.5
    lines = [(r.t_s, format_live(r)) for r in _live_reports(acc, gyr, fs, every_s)]
    assert run_ic.size > 50
    for t, line in lines:
        if "no running" in line:
            seen = run_ic[(run_ic >= t - span_s) & (run_ic <= t - settle_s)]
            assert seen.size == 0, (line, seen)
    # the first line that says running (numbers or settling) comes within a line interval of
    # the batch's first running step + settle_s
    first = next(t for t, line in lines if "no running" not in line)
    assert run_ic[0] <= first + 1e-9
    assert first <= run_ic[0] + settle_s + every_s
    assert any("running, settling: first numbers in ~" in line for _, line in lines)


# min_steps 1: numbers from the first running step (as before min_steps); the default: from
# the min_steps-th
@pytest.mark.parametrize("min_steps", [1, StreamingSettings().min_steps])
def test_settling_says_when_the_first_numbers_come(min_steps: int) -> None:
    acc, gyr, fs, run_ic = _samples_and_batch("stored-run.imrn", 0)
    s = StreamingSettings(min_steps=min_steps)
    reports = _live_reports(acc, gyr, fs, 0.5, s)
    settling = [r for r in reports if r.n_steps == 0 and np.isfinite(r.settling_s)]
    assert settling
    r = settling[0]
    # the min_steps-th running step is final at the first pass of the grid (every hop_s) at
    # least margin_s after it; the first report at or after that has numbers, on that many
    final_at = (np.floor((run_ic[min_steps - 1] + s.margin_s) / s.hop_s) + 1) * s.hop_s
    assert r.t_s + r.settling_s == pytest.approx(final_at, abs=2 / fs)
    numbers = next(m for m in reports if m.n_steps)
    assert final_at <= numbers.t_s < final_at + 0.5 + 1e-9
    assert numbers.n_steps >= min_steps
    assert all(np.isnan(m.settling_s) or m.t_s < final_at for m in reports if m.n_steps == 0)


# before: the first line with numbers could rest on 1-2 running steps, the first of the run,
# often unlike the next ones (stored-run.imrn, a line every 5 s: 2 steps, contact 294 ms, where
# the one-pass steps of its span up to then give 264 ms); the first numbers now wait for
# min_steps (6) final running steps, and the line before says it is settling
@pytest.mark.parametrize(("name", "seed"), _running_cases())
def test_the_first_numbers_rest_on_min_steps_running_steps(name: str, seed: int) -> None:
    acc, gyr, fs, _ = _samples_and_batch(name, seed)
    min_steps = StreamingSettings().min_steps
    assert min_steps == 6
    for every_s in (0.5, 5.0):
        reports = _live_reports(acc, gyr, fs, every_s)
        k = next(i for i, r in enumerate(reports) if r.n_steps)
        assert reports[k].n_steps >= min_steps
        assert k > 0
        assert format_live(reports[k - 1]).endswith(
            f"running, settling: first numbers in ~{math.ceil(reports[k - 1].settling_s):.0f} s")
    if name == "stored-run.imrn":  # numbers from the first running step: on 2 of them
        first = next(r for r in _live_reports(acc, gyr, fs, 5.0, StreamingSettings(min_steps=1))
                     if r.n_steps)
        assert first.n_steps == 2


def test_min_steps_is_a_whole_number_of_steps() -> None:
    for bad in (0, -1, 2.5):
        with pytest.raises(SignalError, match="min_steps must be an integer >= 1"):
            StreamingSettings(min_steps=bad)  # type: ignore[arg-type]


# before: nothing at all was said until the mounting was known (20 s of samples, up to 60 s when
# the estimate needs more motion); the lines due by then came together afterwards
def test_the_live_hook_says_it_is_settling_while_the_mounting_is_estimated() -> None:
    said: list[tuple[int, str]] = []
    hook = LiveStreamHook(lambda line: said.append((hook.analyzer.n_seen, line)),
                          report_every_s=5.0)
    client = SensorClient(ReplayTransport(read_session(REC / "clean-run.imrs"), speed=None))
    asyncio.run(replay(client, RecordingBuilder(), on_event=hook))
    assert hook.analyzer is not None
    frame = 10  # samples per SAMPLE_BATCH of the bundled sessions
    n_first, first = said[0]
    assert first == ("live: settling: estimating the sensor placement once 12 s of walking or "
                     "running are in, else on the first 20 s of samples; their lines come then")
    assert n_first <= 5.0 * hook.analyzer.fs_hz + frame  # when the first line is due
    assert sum("settling: estimating" in line for _, line in said) == 1
    assert said[1][1].startswith("live     5.0 s:")
    # the held lines come once the mounting is known, as the line said: between the two
    fs = hook.analyzer.fs_hz
    assert 12.0 * fs <= said[1][0] <= 20.0 * fs + frame


# before: hop_s 4 s and margin_s 4 s: a step became final 4-8 s after its initial contact (the
# runner's first numbers waited as long); 3-s margins give the one-pass steps on every session
# measured, so a step is final 3-5 s after its initial contact
def test_steps_are_final_3_to_5_s_after_their_initial_contact(motion: Motion) -> None:
    acc, gyr = motion.acc_ms2, motion.gyr_rads
    se = StreamingEvents(FS)
    delays = []
    for a in range(0, acc.shape[0], 10):  # 10 samples at a time, as the sensor's frames
        got = se.update(acc[a:a + 10], gyr[a:a + 10])
        delays += list(se.n_seen / FS - got.ic_s[got.running])
    assert len(delays) > 100
    assert min(delays) >= 3.0
    assert max(delays) <= 5.0 + 10 / FS


def _mounting_known_at(acc: np.ndarray, gyr: np.ndarray | None, **kw: float,
                       ) -> tuple[LiveAnalyzer, float]:
    la = LiveAnalyzer(FS, lambda m: None, **kw)
    for a in range(0, acc.shape[0], 10):
        la.add(acc[a:a + 10], None if gyr is None else gyr[a:a + 10])
        if la.mounting is not None:
            return la, la.n_seen / FS
    return la, float("nan")


# before: the mounting waited for 20 s of samples whatever they showed, and no live line could
# come before it (running from the first second, the first numbers came at 20 s); an estimate
# on 12 s of walking or running is as close to the true placement as one on 20 s (within 1
# degree on the sessions measured, contact times within 1 ms, bounce within 2 mm)
@pytest.mark.parametrize("gyro", [True, False])
def test_the_mounting_is_known_after_12_s_of_running(gyro: bool) -> None:
    mnt = Mounting.random(np.random.default_rng(31))
    m = generate((Phase("run", 30.0, speed_mps=3.5),), None, FS, mounting=mnt,
                 noise=NoiseModel(), rng=np.random.default_rng(32))
    gyr = m.gyr_rads if gyro else None
    la, known_s = _mounting_known_at(m.acc_ms2, gyr)
    assert known_s == pytest.approx(12.0)
    assert la.mounting is not None
    assert np.degrees(np.arccos((np.trace(la.mounting.r_sb @ mnt.r_sb.T) - 1) / 2)) < 5.0
    # its steps are still the batch steps on the samples turned by that mounting
    steps: list[StreamSteps] = []
    la = LiveAnalyzer(FS, lambda r: None, on_steps=steps.append)
    for a in range(0, m.acc_ms2.shape[0], 10):
        la.add(m.acc_ms2[a:a + 10], None if gyr is None else gyr[a:a + 10])
    la.flush()
    assert la.mounting is not None
    r = la.mounting.r_sb
    batch = detect_running_events(m.acc_ms2 @ r.T, FS, None if gyr is None else gyr @ r.T)
    has_ic = np.isfinite(batch.ic_s)
    np.testing.assert_allclose(StreamSteps.concat(steps).ic_s, batch.ic_s[has_ic], rtol=0,
                               atol=1e-9)


# before: the early tries of the mounting (12 and 16 s) laid their 4-s windows from the first
# sample: after 3 s of standing the window at 0-4 s holds the start of the running and is
# neither standing nor running, so 12 s of running windows (three) came only with the fallback
# on 20 s of samples, and so did the first numbers. The windows now end at the newest sample
# and the tries come every 2 s: at 18 s, the windows at 6-18 s are running.
def test_after_standing_the_mounting_and_the_first_numbers_come_sooner() -> None:
    mnt = Mounting.random(np.random.default_rng(41))
    m = generate((Phase("stand", 3.0), Phase("run", 30.0, speed_mps=3.5)), None, FS,
                 mounting=mnt, noise=NoiseModel(), rng=np.random.default_rng(51))
    acc, gyr = m.acc_ms2, m.gyr_rads
    reports: list[tuple[float, LiveMetrics]] = []
    steps: list[StreamSteps] = []
    la = LiveAnalyzer(FS, lambda r: reports.append((la.n_seen / FS, r)), on_steps=steps.append)
    known_s = float("nan")
    for a in range(0, acc.shape[0], 10):
        la.add(acc[a:a + 10], gyr[a:a + 10])
        if np.isnan(known_s) and la.mounting is not None:
            known_s = la.n_seen / FS
    la.flush()
    assert known_s == pytest.approx(18.0)
    assert la.mounting is not None
    assert la.mounting.quality is not None
    assert la.mounting.quality.n_running_windows == 3
    assert np.degrees(np.arccos((np.trace(la.mounting.r_sb @ mnt.r_sb.T) - 1) / 2)) < 5.0
    # the first numbers are printed then (the lines due before come at once)
    assert next(t for t, r in reports if r.n_steps) == pytest.approx(18.0)
    # and the steps are the batch steps on the samples turned by that mounting
    r = la.mounting.r_sb
    batch = detect_running_events(acc @ r.T, FS, gyr @ r.T)
    np.testing.assert_allclose(StreamSteps.concat(steps).ic_s,
                               batch.ic_s[np.isfinite(batch.ic_s)], rtol=0, atol=1e-9)


def test_too_little_motion_waits_for_the_mounting_window() -> None:
    # 10 s standing: 12 s of samples hold one 4-s window of running, 16 s two; at 20 s the
    # estimate is taken on what there is, as before
    m = generate((Phase("stand", 10.0), Phase("run", 20.0)), None, FS,
                 mounting=Mounting.random(np.random.default_rng(33)), noise=NoiseModel(),
                 rng=np.random.default_rng(34))
    _, known_s = _mounting_known_at(m.acc_ms2, m.gyr_rads)
    assert known_s == pytest.approx(20.0)
    # without the early estimate: at 20 s too, and with a running start as well
    _, known_s = _mounting_known_at(m.acc_ms2[int(10 * FS):], m.gyr_rads[int(10 * FS):],
                                    mounting_early_s=0.0)
    assert known_s == pytest.approx(20.0)


# before: a line that said "first numbers in ~1 s" was followed by the next regular line only
# (with a line every 5 s, up to 5 s after the numbers were there: on stored-run.imrn they were
# final at 16 s and shown at 20 s)
@pytest.mark.parametrize(("name", "seed"), _running_cases())
def test_the_numbers_come_when_the_settling_line_says(name: str, seed: int) -> None:
    acc, gyr, fs, run_ic = _samples_and_batch(name, seed)
    reports = _live_reports(acc, gyr, fs, 5.0)
    k = next(i for i, r in enumerate(reports) if r.n_steps == 0 and np.isfinite(r.settling_s))
    r, nxt = reports[k], reports[k + 1]
    # the next line has the numbers, and comes when the settling line said (within a frame)
    assert nxt.n_steps > 0
    assert r.t_s + r.settling_s - 0.5 / fs <= nxt.t_s <= r.t_s + r.settling_s + 10 / fs
    # the regular lines go on: every 5 s of samples, the one extra line between two of them
    # (at the first frame of 10 samples that ends at or after each multiple of 5 s)
    regular = [m.t_s for m in reports if m.t_s % 5.0 <= 10.5 / fs]
    assert 0 < len(reports) - len(regular) <= len(regular)
    np.testing.assert_allclose(regular, 5.0 * np.arange(1, len(regular) + 1), rtol=0,
                               atol=10.5 / fs)


# before: a sensor below 95 Hz was analysed live at its own rate, while imurun.analyze
# interpolates such a recording (the clean-up): live steps were not the batch ones
def test_a_slow_sensor_is_interpolated_live_as_in_batch() -> None:
    from imurun.signal.cleanup import CleanupSettings, interpolate_segments

    fs = 52.0
    m = generate((Phase("stand", 3.0), Phase("run", 50.0, 3.3)), None, fs,
                 mounting=Mounting.random(np.random.default_rng(5)), noise=NoiseModel(),
                 rng=np.random.default_rng(52))
    acc, gyr = m.acc_ms2, m.gyr_rads
    n = acc.shape[0]
    cut, resume = int(30 * fs), int(31 * fs)  # 1 s missing
    steps: list[StreamSteps] = []
    la = LiveAnalyzer(fs, lambda _: None, on_steps=steps.append)
    k = CleanupSettings().interpolate_factor(fs)
    assert (la.source_fs_hz, la.fs_hz) == (fs, fs * k)
    rng = np.random.default_rng(0)
    for a, b in ((0, cut), (resume, n)):
        if a:
            la.gap(resume / fs)
        i = a
        while i < b:  # blocks of any size, as frames arrive
            j = min(i + int(rng.integers(1, 40)), b)
            la.add(acc[i:j], gyr[i:j])
            i = j
    la.flush()
    assert la.mounting is not None
    live = StreamSteps.concat(steps)
    # batch: the clean-up's interpolation of each segment, on the same time base
    segs = ((0, cut), (resume, n))
    fine_segs = tuple((a * k, (b - 1) * k + 1) for a, b in segs)
    bf = []
    for x in (acc, gyr):
        y, parts = interpolate_segments(x, segs, k)
        full = np.zeros(((n - 1) * k + 1, 3))
        for (c, d), (e, _) in zip(parts, fine_segs, strict=True):
            full[e:e + d - c] = y[c:d]
        bf.append(full @ la.mounting.r_sb.T)
    batch = detect_running_events(bf[0], fs * k, bf[1], segments=fine_segs)
    has_ic = np.isfinite(batch.ic_s)
    assert live.ic_s.size > 100
    np.testing.assert_allclose(live.ic_s, batch.ic_s[has_ic], rtol=0, atol=1e-9)
    np.testing.assert_allclose(live.to_s, batch.to_s[has_ic], rtol=0, atol=1e-9)


def test_a_slow_sensors_gap_is_checked_against_its_last_sample_before_anything_changes() -> None:
    fs = 50.0
    la = LiveAnalyzer(fs, lambda _: None)
    rng = np.random.default_rng(1)
    acc = np.column_stack([rng.normal(0, 0.1, (100, 2)), 9.81 + rng.normal(0, 0.1, 100)])
    la.add(acc, None)
    last = 99 / fs  # the last sample's time; its interpolated neighbours are still held
    with pytest.raises(SignalError, match="cannot start before"):
        la.gap(last)
    assert la._interp is not None
    assert la._interp.n_in == 100  # nothing changed
    la.gap(last + 1 / fs)  # right after it: fine
    assert la._interp.n_in == 0
    assert la.n_seen == 99 * 4 + 1
