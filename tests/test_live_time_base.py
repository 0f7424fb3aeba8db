"""Live step times are the recording's, before and after a sensor reboot.

What docs/api.md ("Live analysis") and ``LiveStreamHook``'s docstring say: the live path counts
samples (lost ones included, from the sample counter) and places a new boot as the recording
places it (``imurun.ingest.clock``, the same code), so a replay's live steps fall on the batch
analysis' steps everywhere: before the reboot of ``recordings/reboot-and-gaps.imrs`` and after
it. Before, they ran behind after a reboot by its duration (64 ms there).

The other tests script what the sensor sends (``tests/ingest_support.LinkScript``, running
motion from the virtual sensor's generator) into a session file, replayed through the live
path: time syncs that come late or never, two reboots, a reboot right at the start, a boot the
clocks place inside the one before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.analysis_live import BootStart, LiveStreamHook, StreamSteps, replay_session
from imurun.ingest.recording import GapCause, Recording
from imurun.sim.firmware import SensorConfig, to_counts
from imurun.sim.motion import Mounting, NoiseModel, Phase, generate
from tests.ingest_support import LinkScript, write_session

SESSION = Path(__file__).resolve().parent.parent / "recordings" / "reboot-and-gaps.imrs"
FS = 200


def _replay(path: Path, **hook_kw: float) -> tuple[Recording, LiveStreamHook, StreamSteps,
                                                   list[str]]:
    lines: list[str] = []
    found: list[StreamSteps] = []
    hook = LiveStreamHook(lines.append, on_steps=found.append, **hook_kw)
    rec = replay_session(path, hook)
    hook.flush()
    return rec, hook, StreamSteps.concat(found), lines


def _running_ic(path: Path, live: StreamSteps, hook: LiveStreamHook,
                same_mounting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The live and the batch running steps' initial contacts, one for one."""
    assert hook.analyzer is not None
    mounting = hook.analyzer.mounting if same_mounting else None
    batch = imurun.analyze(path, mounting=mounting).steps
    live_ic, batch_ic = live.ic_s[live.running], batch.ic_s[batch.is_running]
    # a recording that starts mid-run: the batch table has its first step, whose IC is not in
    live_ic, batch_ic = live_ic[np.isfinite(live_ic)], batch_ic[np.isfinite(batch_ic)]
    assert live_ic.size == batch_ic.size  # no step lost or found twice
    return live_ic, batch_ic


def test_live_steps_fall_on_the_batch_steps_before_and_after_a_reboot() -> None:
    rec, hook, live, _ = _replay(SESSION)
    (reboot,) = [g for g in rec.gaps if g.cause == GapCause.REBOOT]
    assert 0.05 < reboot.end_s - reboot.start_s - 1.0 / rec.fs_hz < 0.08  # the boot: 64 ms
    live_ic, batch_ic = _running_ic(SESSION, live, hook)
    for part in (live_ic < reboot.start_s, live_ic > reboot.end_s):
        assert part.sum() > 30
        error = np.abs(live_ic[part] - batch_ic[part])
        assert np.median(error) < 1e-3
        # the live mounting comes from the first seconds, the batch one from the whole
        # recording: the first running step of each segment moves by under a sample
        assert error.max() < 1.0 / FS
    # with the same mounting, the same steps to the clock's residue (the new boot's time syncs
    # so far against all of them; the rate of the sensor's clock)
    live_ic, batch_ic = _running_ic(SESSION, live, hook, same_mounting=True)
    assert np.abs(live_ic - batch_ic).max() < 0.2e-3
    assert [_placed(b) for b in hook.boot_starts] == [
        (1, "start", False), (2, "time sync", False)]
    assert hook.boot_starts[1].t_s == pytest.approx(reboot.end_s, abs=0.1e-3)


def test_the_live_lines_do_not_change() -> None:
    """Only the time stamps moved: the rolling numbers are those the docs show."""
    *_, lines = _replay(SESSION, report_every_s=20)
    assert lines == [
        "live    20.0 s: cadence 165.1 steps/min, contact  273 ms, bounce  6.0 cm (14 steps)",
        "live    40.0 s: running, settling: first numbers in ~3 s",
        "live    43.0 s: cadence 166.1 steps/min, contact  261 ms, bounce  6.1 cm (7 steps)",
        "live    60.0 s: cadence 169.8 steps/min, contact  253 ms, bounce  6.2 cm (31 steps)",
        "live    80.0 s: cadence 166.3 steps/min, contact  266 ms, bounce  6.0 cm (25 steps)"]


# --------------------------------------------------------------------------- scripted sessions
_MOTION = generate((Phase("run", 80.0, speed_mps=3.5),), None, FS, mounting=Mounting.upright(),
                   noise=NoiseModel(), rng=np.random.default_rng(5))
_COUNTS = to_counts(_MOTION.acc_ms2, _MOTION.gyr_rads, SensorConfig())


def _run(s: LinkScript, seconds: float) -> None:
    """Stream the motion of the script's present for ``seconds`` (the runner runs on while the
    sensor reboots)."""
    i = int(round((s.t_next - 0.01) * FS))
    s.stream(int(round(seconds * FS)), counts=_COUNTS[i:i + int(round(seconds * FS))])


def _boot(s: LinkScript, t: float, seconds: float, *, syncs_from: float | None = 0.0,
          first_syncs_rtt_s: float | None = None) -> None:
    """A boot's stream from script time ``t``: device info, time syncs every second from
    ``t + syncs_from`` (none: ``None``), ``seconds`` of running. ``first_syncs_rtt_s``: three
    time syncs first, answered at once but whose answers reach the host that much later (as in
    the bundled session, whose link delivered nothing for 192 ms across the reboot)."""
    s.info(t)
    if first_syncs_rtt_s is not None:
        for _ in range(3):  # asked at the reboot
            s.sync(t, first_syncs_rtt_s, answer_s=0.001)
    if syncs_from is not None:
        s.syncs(t + syncs_from, s.t_next + seconds)
    _run(s, seconds)


def _replayed(tmp_path: Path, s: LinkScript) -> tuple[Recording, LiveStreamHook, StreamSteps,
                                                     list[str]]:
    """The script's session replayed through the live path, its live running steps checked to
    fall on the batch ones (:func:`_assert_on_batch`)."""
    path = write_session(tmp_path / "scripted.imrs", s.bursts())
    rec, hook, live, lines = _replay(path)
    _assert_on_batch(path, live, hook)
    return rec, hook, live, lines


def _assert_on_batch(path: Path, live: StreamSteps, hook: LiveStreamHook) -> None:
    live_ic, batch_ic = _running_ic(path, live, hook, same_mounting=True)
    assert live_ic.size > 100
    np.testing.assert_allclose(live_ic, batch_ic, rtol=0, atol=0.5e-3)


def _placed(b: BootStart) -> tuple[int, str, bool]:
    return b.boot_id, b.placed_by, b.provisional


def _reboot_gaps(rec: Recording) -> list[tuple[float, float]]:
    return [(g.start_s, g.end_s) for g in rec.gaps if g.cause == GapCause.REBOOT]


@pytest.mark.parametrize(("seed", "before_s", "after_s"), [
    (1, 30.0, 40.0),
    (5, 0.5, 60.0),  # a reboot right at the start: half a second, the mounting not known yet
], ids=["after 30 s", "right at the start"])
def test_a_boot_whose_first_time_syncs_come_back_late_waits_for_a_good_one(
        tmp_path: Path, seed: int, before_s: float, after_s: float) -> None:
    """The bundled session's case, scripted: the three time syncs sent at the reboot are
    answered at once, but the answers arrive 0.3 s later (the round trip 150 times the usual);
    placed by them the new boot would be 0.15 s late. Its samples wait for the next time sync."""
    s = LinkScript(seed=seed)
    _boot(s, 0.0, before_s)
    s.reboot(s.t_next + 0.05)
    _boot(s, s.boot_t, after_s, syncs_from=1.0, first_syncs_rtt_s=0.3)
    rec, hook, live, lines = _replayed(tmp_path, s)
    ((_, end_s),) = _reboot_gaps(rec)
    assert _placed(hook.boot_starts[1]) == (2, "time sync", False)
    assert hook.boot_starts[1].t_s == pytest.approx(end_s, abs=0.2e-3)
    assert not [ln for ln in lines if "provisional" in ln]


@pytest.mark.parametrize(("late_syncs", "by"), [
    (False, "arrival times"), (True, "time sync")])
def test_a_boot_not_paired_in_time_is_placed_provisionally(tmp_path: Path, late_syncs: bool,
                                                           by: str) -> None:
    """A new boot with no time sync of a usual round trip: after ``place_wait_s`` of its
    samples it is placed as the recording places it on what has arrived (the earliest arrival
    of its batches; the slow answers to the time syncs sent at the reboot), and the hook says
    so; the steps are neither held back longer nor lost."""
    s = LinkScript(seed=2)
    _boot(s, 0.0, 30.0)
    s.reboot(s.t_next + 0.05)
    _boot(s, s.boot_t, 40.0, syncs_from=None, first_syncs_rtt_s=0.3 if late_syncs else None)
    # the recording has nothing else to go by either: the same place (a steady link's earliest
    # arrival is right; late answers put the boot 0.15 s late, live and in the recording alike)
    rec, hook, live, lines = _replayed(tmp_path, s)
    start = hook.boot_starts[1]
    assert _placed(start) == (2, by, True)
    what = "time syncs with long round trips" if late_syncs else "the arrival times of its samples"
    assert lines.count(f"live: the sensor restarted and no time sync placed its clock in 3 s: "
                       f"its times from {start.t_s:.1f} s on are provisional (placed by "
                       f"{what})") == 1
    assert ("no time-sync pairs" in " ".join(rec.meta.notes)) != late_syncs


def test_a_stream_that_ends_before_the_new_boot_is_placed_loses_no_step(tmp_path: Path) -> None:
    """The stream ends 2.5 s after a reboot, before a time sync and before ``place_wait_s``:
    ``flush`` places the boot on all its data, as the recording does, and hands out its steps."""
    s = LinkScript(seed=3)
    _boot(s, 0.0, 60.0)
    s.reboot(s.t_next + 0.05)
    _boot(s, s.boot_t, 2.5, syncs_from=None)
    rec, hook, live, lines = _replayed(tmp_path, s)
    ((_, end_s),) = _reboot_gaps(rec)
    assert _placed(hook.boot_starts[1]) == (2, "arrival times", False)
    assert hook.boot_starts[1].t_s == pytest.approx(end_s, abs=1e-6)
    assert live.ic_s[-1] > end_s  # the new boot's steps came out
    assert not [ln for ln in lines if "provisional" in ln]


def test_two_reboots(tmp_path: Path) -> None:
    s = LinkScript(seed=4)
    _boot(s, 0.0, 25.0)
    for seconds in (25.0, 25.0):
        s.reboot(s.t_next + 0.07)
        _boot(s, s.boot_t, seconds, syncs_from=0.5, first_syncs_rtt_s=0.2)
    rec, hook, live, _ = _replayed(tmp_path, s)
    ends = [end for _, end in _reboot_gaps(rec)]
    assert [b.boot_id for b in hook.boot_starts] == [1, 2, 3]
    np.testing.assert_allclose([b.t_s for b in hook.boot_starts[1:]], ends, rtol=0, atol=0.2e-3)
    for boot, (start, end) in zip(hook.boot_starts[1:], _reboot_gaps(rec), strict=True):
        assert boot.placed_by == "time sync"
        assert end - start > 0.07  # the boots' durations are in the live times too


def test_a_boot_the_clocks_place_inside_the_one_before_starts_after_it(tmp_path: Path) -> None:
    """A new boot's time syncs that put it before the end of the boot before (a clock that
    cannot be right): the recording starts it one sample after that end, and so do the live
    times, which never go back."""
    s = LinkScript(seed=6)
    _boot(s, 0.0, 30.0)
    s.reboot(s.t_next + 0.05)
    s.info(s.boot_t)
    for k in range(45):  # answers that put the device clock 2 s ahead of the samples'
        s.sync(s.boot_t + k, wrong_by_us=2_000_000)
    _run(s, 40.0)
    rec, hook, live, _ = _replayed(tmp_path, s)
    assert any("overlaps the previous one in time; shifted" in n for n in rec.meta.notes)
    ((start_s, end_s),) = _reboot_gaps(rec)
    assert end_s - start_s == pytest.approx(1.0 / FS, abs=1e-6)
    assert hook.boot_starts[1].t_s == pytest.approx(end_s, abs=1e-6)


# --------------------------------------------------------------------------- a drifting crystal
#: A crystal 500 ppm fast (half the most the recording corrects): over the minute of each boot
#: below, the declared rate parts from the sensor's clock by 30 ms, six sample periods, so the
#: old live times (counting samples at the declared rate) fail by far, while a minute of time
#: syncs is what the live times need to follow the fit however noisy its time syncs are
#: (``FIT_AFTER_S``). Two boots of a minute: the shortest session that shows both the drift and
#: a new boot taking the crystal's rate from the boot before.
DRIFT_PPM = 500.0
_DRIFT_MOTION = generate((Phase("run", 130.0, speed_mps=3.5),), None, FS,
                         mounting=Mounting.upright(), noise=NoiseModel(),
                         rng=np.random.default_rng(7))
_DRIFT_COUNTS = to_counts(_DRIFT_MOTION.acc_ms2, _DRIFT_MOTION.gyr_rads, SensorConfig())


def _drifting_session(tmp_path: Path, *, jitter_s: float) -> Path:
    """A crystal ``DRIFT_PPM`` fast that times the samples too (a real sensor's), a time sync
    a second whose round trips vary by up to ``jitter_s``, a reboot after a minute. The first
    boot loses a frame (bridged live) and, later, half a second of samples (a gap)."""
    s = LinkScript(seed=8, drift_ppm=DRIFT_PPM, samples_on_crystal=True)
    n = 60 * FS
    s.info(0.0)
    s.syncs(0.0, 61.0, jitter_s=jitter_s)
    s.stream(n // 2, counts=_DRIFT_COUNTS[:n // 2], fates={300: "drop"})
    s.skip(FS // 2)
    s.stream(n // 2 - FS // 2, counts=_DRIFT_COUNTS[n // 2 + FS // 2:n])
    s.reboot(s.t_next + 0.05)
    s.info(s.boot_t)
    s.syncs(s.boot_t, s.boot_t + 61.0, jitter_s=jitter_s)
    first = n + FS // 2  # the runner runs on while the sensor reboots
    s.stream(n, counts=_DRIFT_COUNTS[first:first + n])
    return write_session(tmp_path / "scripted.imrs", s.bursts())


@pytest.mark.parametrize("jitter_s", [0.0, 0.002])
def test_live_step_times_follow_a_drifting_crystal(tmp_path: Path, jitter_s: float) -> None:
    """Within a boot the recording times the samples by the sensor's clock, fitted on the time
    syncs; the live times follow the same fit, on the data so far, and so stay on the batch
    steps (before, they counted samples at the declared rate: 30 ms off after each minute)."""
    path = _drifting_session(tmp_path, jitter_s=jitter_s)
    rec, hook, live, _ = _replay(path)
    assert rec.fs_hz == pytest.approx(FS * (1 + DRIFT_PPM * 1e-6), rel=2e-6)
    live_ic, batch_ic = _running_ic(path, live, hook, same_mounting=True)
    assert live_ic.size > 200
    error = np.abs(live_ic - batch_ic)
    print(f"|live - batch|: max {error.max() * 1e3:.3f} ms, median {np.median(error) * 1e3:.3f} ms")
    assert np.median(error) < 0.2e-3
    assert error.max() < 2e-3
    # never back, and no jump: a step time differs from the next as the batch ones do
    assert (np.diff(live_ic) > 0).all()
    np.testing.assert_allclose(np.diff(live_ic), np.diff(batch_ic), rtol=0, atol=0.5e-3)
    ((_, end_s),) = _reboot_gaps(rec)
    assert _placed(hook.boot_starts[1]) == (2, "time sync", False)
    assert hook.boot_starts[1].t_s == pytest.approx(end_s, abs=0.5e-3)
    assert hook.bridged_samples == 10
    assert [g.cause for g in rec.gaps] == [GapCause.LOST_FRAMES] * 2 + [GapCause.REBOOT]


class _NoDeviceClock(LinkScript):
    """A sensor that stamps its batches with a device time of 0 (and has no time syncs)."""

    def dev_us(self, t: float) -> int:
        return 0


def test_a_sensor_without_device_time_counts_at_the_declared_rate(tmp_path: Path) -> None:
    """Without a device clock the recording counts samples at the declared rate within a boot
    (with a note; each boot placed by its batches' arrival), and so do the live times."""
    s = _NoDeviceClock(seed=9)
    _boot(s, 0.0, 30.0, syncs_from=None)
    s.reboot(s.t_next + 0.05)
    _boot(s, s.boot_t, 40.0, syncs_from=None)
    path = write_session(tmp_path / "scripted.imrs", s.bursts())
    rec, hook, live, _ = _replay(path)
    assert any("disagree with the declared rate" in n for n in rec.meta.notes)
    assert rec.fs_hz == FS
    _assert_on_batch(path, live, hook)
    assert [_placed(b) for b in hook.boot_starts] == [
        (1, "start", False), (2, "arrival times", True)]
