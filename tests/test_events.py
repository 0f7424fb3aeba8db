"""Gait event detectors on synthetic signals with known events (no data files needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.special import expit

from imurun.consts import G_MS2
from imurun.errors import SignalError
from imurun.signal.events import (
    RunningSettings,
    Side,
    SideSettings,
    StepEvents,
    WalkingSettings,
    assign_sides,
    detect_running_events,
    detect_walking_events,
)

FS = 200.0


@dataclass(frozen=True)
class Synthetic:
    acc: np.ndarray
    gyr: np.ndarray
    ic_s: np.ndarray
    to_s: np.ndarray
    side: np.ndarray  # Side codes of each step


def _logistic(x: np.ndarray, width_s: float) -> np.ndarray:
    return np.asarray(expit(x / width_s))


def synthetic_run(duration_s: float = 20.0, step_s: float = 0.33, contact_s: float = 0.24,
                  fs: float = FS, first_ic_s: float = 0.21, flight_g: float = 0.0,
                  noise_g: float = 0.02, seed: int = 1) -> Synthetic:
    """Running-like body-frame signals with known IC/TO (sacrum ≈ centre of mass).

    Vertical: a contact pulse with 10 ms ramps starting at IC and ending at TO, scaled so the
    stride mean is 1 g, plus ``flight_g`` during flight (negative values imitate raw sensors,
    which dip below 0 g in flight). Forward: braking starts with a fall centred 12 ms after IC
    (the impact), propulsion in the second half of contact. Lateral: pushes toward the midline
    (right during a left step, left during a right step). First step: left.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    ic = np.arange(first_ic_s, duration_s - contact_s, step_s)
    to = ic + contact_s
    ramp = 0.010
    contact = np.zeros_like(t)
    fwd = np.zeros_like(t)
    lat = np.zeros_like(t)
    side = np.where(np.arange(ic.size) % 2 == 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    for k, (a, b) in enumerate(zip(ic, to, strict=True)):
        rise = np.clip((t - a) / ramp, 0.0, 1.0)
        fall = np.clip((b - t) / ramp, 0.0, 1.0)
        inside = (t >= a) & (t <= b)
        shape = np.where(inside, np.sin(np.pi * np.clip((t - a) / (b - a), 0, 1)) ** 0.5, 0.0)
        contact += rise * fall * shape
        fwd += 3.0 * (-_logistic(t - a - 0.012, 0.004) + 2.0 * _logistic(t - a - contact_s / 2,
                                                                          0.02)
                      - _logistic(t - b, 0.004)) * inside
        push = -1.0 if side[k] == Side.LEFT else 1.0
        lat += push * 1.5 * inside * np.sin(np.pi * np.clip((t - a) / (b - a), 0, 1))
    mean_contact = contact.mean()
    vert = contact / mean_contact * G_MS2 * (1.0 - flight_g * (1 - contact.mean()))
    vert = np.where(contact > 0, vert, flight_g * G_MS2)
    if flight_g > 0:  # the body never leaves the ground: the force never drops below this
        vert = np.maximum(vert, flight_g * G_MS2)
    acc = np.column_stack([fwd, lat, vert]) + rng.normal(0.0, noise_g * G_MS2, (t.size, 3))
    gyr = rng.normal(0.0, 0.01, (t.size, 3))
    return Synthetic(acc, gyr, ic, to, side)


def synthetic_walk(duration_s: float = 30.0, step_s: float = 0.55, fs: float = 100.0,
                   first_ic_s: float = 0.6, seed: int = 2) -> Synthetic:
    """Walking-like signals: a loading peak 60 ms after each IC, forward peak at IC."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    ic = np.arange(first_ic_s, duration_s - 0.5, step_s)
    vert = np.full_like(t, G_MS2)
    fwd = np.zeros_like(t)
    lat = np.zeros_like(t)
    side = np.where(np.arange(ic.size) % 2 == 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    for k, a in enumerate(ic):
        vert += 3.0 * np.exp(-0.5 * ((t - a - 0.06) / 0.035) ** 2)
        vert -= 1.5 * np.exp(-0.5 * ((t - a - 0.3) / 0.08) ** 2)
        fwd += 1.5 * np.exp(-0.5 * ((t - a) / 0.03) ** 2) - 1.0 * np.exp(
            -0.5 * ((t - a - 0.1) / 0.05) ** 2)
        push = -1.0 if side[k] == Side.LEFT else 1.0
        lat += push * 0.8 * np.sin(np.pi * np.clip((t - a) / step_s, 0, 1))
    acc = np.column_stack([fwd, lat, vert]) + rng.normal(0.0, 0.1, (t.size, 3))
    return Synthetic(acc, np.zeros((t.size, 3)), ic, np.full(ic.size, np.nan), side)


def _nearest_errors(truth: np.ndarray, det: np.ndarray) -> np.ndarray:
    det = det[np.isfinite(det)]
    return np.array([det[np.argmin(np.abs(det - x))] - x for x in truth])


# ---------------------------------------------------------------------------------- running

def test_running_events_match_known_contacts() -> None:
    s = synthetic_run()
    ev = detect_running_events(s.acc, FS, s.gyr)
    assert isinstance(ev, StepEvents)
    assert ev.gait == "running"
    assert len(ev) == s.ic_s.size
    assert np.abs(_nearest_errors(s.ic_s, ev.ic_s)).max() < 0.006
    assert np.abs(_nearest_errors(s.to_s, ev.to_s)).max() < 0.008
    ct = ev.contact_time_s[np.isfinite(ev.contact_time_s)]
    assert np.allclose(ct, 0.24, atol=0.012)
    assert np.all(ev.flight)


def test_running_sides_alternate_and_start_left() -> None:
    s = synthetic_run()
    ev = detect_running_events(s.acc, FS, s.gyr)
    assert np.array_equal(ev.side, s.side)
    # the same without gyroscope (no roll correction possible) and without alternation
    ev2 = detect_running_events(s.acc, FS, None,
                                settings=RunningSettings(sides=SideSettings(use_alternation=False)))
    assert np.array_equal(ev2.side, s.side)
    assert np.all(np.sign(ev2.side_evidence) == np.where(s.side == Side.LEFT, 1, -1))


def test_accelerometer_only_vertical_and_forward_gives_timing_but_no_side() -> None:
    s = synthetic_run()
    acc = s.acc.copy()
    acc[:, 1] = np.nan  # no lateral axis, like alcantara2022
    ev = detect_running_events(acc, FS)
    assert len(ev) == s.ic_s.size
    assert np.all(ev.side == Side.UNKNOWN)
    assert np.all(np.isnan(ev.side_evidence))
    assert np.abs(_nearest_errors(s.ic_s, ev.ic_s)).max() < 0.006


def test_vertical_axis_alone_still_gives_ic_and_to() -> None:
    s = synthetic_run()
    acc = s.acc.copy()
    acc[:, :2] = np.nan
    ev = detect_running_events(acc, FS)
    assert len(ev) == s.ic_s.size
    # without the forward axis IC is the loading rise extended down to zero force
    err = _nearest_errors(s.ic_s, ev.ic_s)
    assert np.abs(err).max() < 0.003
    assert np.abs(_nearest_errors(s.to_s, ev.to_s)).max() < 0.008


def test_clipped_and_raw_signals_give_the_same_events() -> None:
    raw = synthetic_run(flight_g=-0.4, noise_g=0.0)
    clipped = raw.acc.copy()
    clipped[:, 2] = np.maximum(clipped[:, 2], 0.0)
    ev_raw = detect_running_events(raw.acc, FS)
    ev_clip = detect_running_events(clipped, FS)
    assert len(ev_raw) == len(ev_clip) == raw.ic_s.size
    # the contact level is above 0 g, so clipping only matters through the low-pass filter
    assert np.nanmax(np.abs(ev_raw.ic_s - ev_clip.ic_s)) < 0.003
    assert np.nanmax(np.abs(ev_raw.to_s - ev_clip.to_s)) < 0.003


def test_no_flight_still_gives_every_step() -> None:
    s = synthetic_run(flight_g=0.5, noise_g=0.0)  # never below the 0.3 g contact level
    ev = detect_running_events(s.acc, FS)
    assert len(ev) == s.ic_s.size
    inner = slice(1, -1)
    assert not np.any(ev.flight[inner])
    assert np.all(np.isfinite(ev.to_s[inner]))
    assert np.all(np.isfinite(ev.ic_s[inner]))
    # TO at the force minimum between steps; IC still on the braking impact
    assert np.abs(_nearest_errors(s.ic_s[1:-1], ev.ic_s)).max() < 0.006
    assert np.all(np.abs(ev.to_s[:-1][1:-1] - ev.ic_s[1:][1:-1]) < 0.1)
    vert_only = s.acc.copy()
    vert_only[:, 0] = np.nan
    ev2 = detect_running_events(vert_only, FS)
    np.testing.assert_allclose(ev2.to_s[:-1][1:-1], ev2.ic_s[1:][1:-1])


def test_partial_steps_at_segment_edges_are_kept_with_nan() -> None:
    s = synthetic_run()
    # start inside the second contact, stop inside a later contact
    a = int((s.ic_s[1] + 0.1) * FS)
    b = int((s.ic_s[-3] + 0.1) * FS)
    ev = detect_running_events(s.acc[a:b], FS)
    assert np.isnan(ev.ic_s[0])
    assert np.isfinite(ev.to_s[0])
    assert np.isfinite(ev.ic_s[-1])
    assert np.isnan(ev.to_s[-1])
    assert abs(ev.to_s[0] - (s.to_s[1] - a / FS)) < 0.008


def test_segments_are_processed_separately() -> None:
    s1 = synthetic_run(duration_s=8.0, seed=3)
    s2 = synthetic_run(duration_s=8.0, first_ic_s=0.15, seed=4)
    acc = np.vstack([s1.acc, s2.acc])
    n1 = s1.acc.shape[0]
    segs = [(0, n1), (n1, acc.shape[0])]
    ev = detect_running_events(acc, FS, segments=segs)
    one = detect_running_events(s1.acc, FS)
    two = detect_running_events(s2.acc, FS)
    assert np.array_equal(ev.segment, np.r_[np.zeros(len(one)), np.ones(len(two))])
    np.testing.assert_allclose(ev.ic_s[: len(one)], one.ic_s)
    np.testing.assert_allclose(ev.ic_s[len(one):], two.ic_s + n1 / FS)
    np.testing.assert_allclose(ev.to_s[len(one):], two.to_s + n1 / FS)
    # no step time across the boundary
    assert np.isnan(ev.step_time_s[len(one) - 1])
    # gap samples outside any segment may hold anything, even NaN
    acc_gap = np.vstack([s1.acc, np.full((50, 3), np.nan), s2.acc])
    ev_gap = detect_running_events(acc_gap, FS, segments=[(0, n1), (n1 + 50, n1 + 50 + s2.acc.shape[0])])
    np.testing.assert_allclose(ev_gap.ic_s[len(one):], two.ic_s + (n1 + 50) / FS)


def test_segment_objects_with_start_stop_are_accepted() -> None:
    @dataclass(frozen=True)
    class Seg:
        start: int
        stop: int

    s = synthetic_run(duration_s=6.0)
    ev = detect_running_events(s.acc, FS, segments=[Seg(0, s.acc.shape[0])])
    assert len(ev) == s.ic_s.size


def test_times_follow_t_s_when_given() -> None:
    s = synthetic_run(duration_s=6.0)
    t = 1000.0 + np.arange(s.acc.shape[0]) / FS
    ev = detect_running_events(s.acc, FS, t_s=t)
    ev0 = detect_running_events(s.acc, FS)
    np.testing.assert_allclose(ev.ic_s, ev0.ic_s + 1000.0)


def test_inputs_are_not_modified() -> None:
    s = synthetic_run(duration_s=6.0)
    acc = s.acc.copy()
    gyr = s.gyr.copy()
    acc.setflags(write=False)
    gyr.setflags(write=False)
    detect_running_events(acc, FS, gyr)
    detect_walking_events(acc, FS, gyr)
    np.testing.assert_array_equal(acc, s.acc)
    np.testing.assert_array_equal(gyr, s.gyr)


def test_results_are_read_only_and_carry_settings() -> None:
    s = synthetic_run(duration_s=6.0)
    cfg = RunningSettings(contact_level_g=0.25)
    ev = detect_running_events(s.acc, FS, settings=cfg)
    assert ev.settings is cfg
    with pytest.raises(ValueError, match="read-only"):
        ev.ic_s[0] = 0.0
    p = ev.parameters()
    assert p["settings"]["contact_level_g"] == 0.25
    assert p["gait"] == "running"
    assert p["fs_hz"] == FS
    assert p["version"]


def test_short_segment_gives_no_events() -> None:
    s = synthetic_run(duration_s=6.0)
    ev = detect_running_events(s.acc[:40], FS)
    assert len(ev) == 0
    assert ev.contact_time_s.shape == (0,)


def test_flat_signal_gives_no_events() -> None:
    acc = np.zeros((2000, 3))
    acc[:, 2] = G_MS2
    assert len(detect_running_events(acc, FS)) == 0
    assert len(detect_walking_events(acc, 100.0)) == 0


@pytest.mark.parametrize(
    ("acc", "match"),
    [
        (np.zeros(100), r"shape \(n, 3\)"),
        (np.zeros((100, 2)), r"shape \(n, 3\)"),
        (np.zeros((3, 100)), r"shape \(n, 3\)"),
    ],
)
def test_shape_errors_say_what_was_expected(acc: np.ndarray, match: str) -> None:
    with pytest.raises(SignalError, match=match):
        detect_running_events(acc, FS)
    with pytest.raises(SignalError, match=match):
        detect_walking_events(acc, FS)


def test_gyro_shape_must_match() -> None:
    s = synthetic_run(duration_s=4.0)
    with pytest.raises(SignalError, match=rf"bf_gyr_rads must have shape \({s.acc.shape[0]}, 3\)"):
        detect_running_events(s.acc, FS, s.gyr[:-1])


@pytest.mark.parametrize("fs", [0.0, -100.0, float("nan")])
def test_bad_rate(fs: float) -> None:
    with pytest.raises(SignalError, match="fs_hz"):
        detect_running_events(np.zeros((10, 3)), fs)


@pytest.mark.parametrize("segments", [[(0, 5000)], [(10, 5)], [(0, 100), (50, 200)], [(1, 2, 3)]])
def test_bad_segments(segments: list[tuple[int, ...]]) -> None:
    with pytest.raises(SignalError, match="segment"):
        detect_running_events(np.zeros((1000, 3)), FS, segments=segments)


def test_nan_inside_a_segment_is_an_error_not_a_silent_gap() -> None:
    s = synthetic_run(duration_s=4.0)
    acc = s.acc.copy()
    acc[300, 2] = np.nan
    with pytest.raises(SignalError, match="non-finite"):
        detect_running_events(acc, FS)


def test_missing_vertical_axis_is_an_error() -> None:
    acc = np.zeros((1000, 3))
    acc[:, 2] = np.nan
    with pytest.raises(SignalError, match="vertical"):
        detect_running_events(acc, FS)


def test_settings_are_checked() -> None:
    with pytest.raises(SignalError, match="contact_level_g"):
        RunningSettings(contact_level_g=1.2)
    with pytest.raises(SignalError, match="ic_braking_window_s"):
        RunningSettings(ic_braking_window_s=(0.02, -0.02))
    with pytest.raises(SignalError, match="to_method"):
        RunningSettings(to_method="peak")
    with pytest.raises(SignalError, match="to_pulse_width"):
        RunningSettings(to_pulse_width=3.0)
    with pytest.raises(SignalError, match="to_free_fall_g"):
        RunningSettings(to_free_fall_g=0.5)
    with pytest.raises(SignalError, match="ic_baseline_s"):
        RunningSettings(ic_baseline_s=0.0)
    with pytest.raises(SignalError, match="ic_rise_weight"):
        WalkingSettings(ic_rise_weight=1.5)
    with pytest.raises(SignalError, match="closing_prominence_ms2"):
        WalkingSettings(closing_prominence_ms2=0.8)
    with pytest.raises(SignalError, match="closing_gap"):
        WalkingSettings(closing_gap=1.0)
    with pytest.raises(SignalError, match="initiation_prominence"):
        WalkingSettings(initiation_prominence=1.0)
    with pytest.raises(SignalError, match="initiation_step_ratio"):
        WalkingSettings(initiation_step_ratio=0.0)


def spring_mass_run(duration_s: float = 12.0, step_s: float = 0.33,
                    contact_s: float | tuple[float, float] = 0.23,
                    fs: float = FS, flight_g: float = 0.0, bump_g: float = 0.0,
                    bump_width_s: float = 0.012, seed: int = 4,
                    impulse_share: tuple[float, float] = (1.0, 1.0)) -> Synthetic:
    """Vertical specific force of the spring-mass model: a half-sine over each contact whose
    mean over the step is 1 g (Fmax = pi T / (2 tc) g), ``flight_g`` in flight; optionally a
    Gaussian bump of ``bump_g`` centred on each toe-off (the pelvis moving relative to the
    centre of mass at push-off, as uphill). Forward: a braking fall starting at IC.

    A pair ``contact_s`` alternates the contacts of left and right steps; ``impulse_share``
    then scales each side's impulse (a pair averaging 1: the force still averages 1 g over a
    stride, while a short contact followed by a long flight carries less than its step's
    share, as steady asymmetric running does)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    pair = np.broadcast_to(np.asarray(contact_s, dtype=float), (2,))
    ic = np.arange(0.2, duration_s - pair.max() - 0.05, step_s)
    tc = pair[np.arange(ic.size) % 2]
    to = ic + tc
    peak = np.pi * step_s * np.asarray(impulse_share)[np.arange(ic.size) % 2] / (2.0 * tc)
    vert = np.full(t.size, flight_g)
    fwd = np.zeros(t.size)
    for a, b, c, p in zip(ic, to, tc, peak, strict=True):
        inside = (t >= a) & (t < b)
        vert[inside] = p * np.sin(np.pi * (t[inside] - a) / c)
        vert += bump_g * np.exp(-0.5 * ((t - b) / bump_width_s) ** 2)
        s = t - a
        fwd += np.where(inside, -2.0 * np.sin(np.pi * np.clip(s / 0.05, 0, 1)) *
                        (s < 0.05) + 1.0 * np.sin(np.pi * s / c) * (s >= 0.05), 0.0)
    acc = np.column_stack([fwd, np.full(t.size, np.nan), vert]) * G_MS2
    acc[:, [0, 2]] += rng.normal(0.0, 0.005 * G_MS2, (t.size, 2))
    side = np.where(np.arange(ic.size) % 2 == 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    return Synthetic(acc, np.zeros((t.size, 3)), ic, to, side)


def test_spring_mass_toe_off_on_its_own_force_model() -> None:
    s = spring_mass_run()
    cfg = RunningSettings(to_pulse_width=1.0)
    ev = detect_running_events(s.acc, FS, settings=cfg)
    assert len(ev) == s.ic_s.size
    inner = slice(1, -1)
    assert np.abs(_nearest_errors(s.ic_s, ev.ic_s)[inner]).max() < 0.004
    assert np.abs(_nearest_errors(s.to_s, ev.to_s)[inner]).max() < 0.006
    # the defaults (pulse width 1.05, for real, wider pulses) stop at free fall: still close
    ev = detect_running_events(s.acc, FS)
    assert np.abs(_nearest_errors(s.to_s, ev.to_s)[inner]).max() < 0.006


def test_unequal_left_and_right_steps_get_their_own_impulse() -> None:
    """Steady asymmetric running: the short contact (long flight after it) carries less than
    body weight times its step time. The step's own share of the measured impulse keeps its
    toe-off right; the step time alone puts the short side's toe-off early."""
    s = spring_mass_run(contact_s=(0.25, 0.20), impulse_share=(1.2, 0.8))
    inner = slice(1, -1)
    short = (np.arange(s.ic_s.size) % 2 == 1)[inner]
    own = detect_running_events(s.acc, FS, settings=RunningSettings(to_pulse_width=1.0))
    err_own = _nearest_errors(s.to_s, own.to_s)[inner]
    assert np.abs(err_own).max() < 0.002
    step_only = detect_running_events(
        s.acc, FS, settings=RunningSettings(to_pulse_width=1.0, to_step_impulse=False))
    err_step = _nearest_errors(s.to_s, step_only.to_s)[inner]
    assert err_step[short].mean() < -0.006


def test_equal_steps_give_the_same_toe_off_with_or_without_their_impulse() -> None:
    s = spring_mass_run()
    a = detect_running_events(s.acc, FS)
    b = detect_running_events(s.acc, FS, settings=RunningSettings(to_step_impulse=False))
    np.testing.assert_allclose(a.to_s, b.to_s, atol=0.002, equal_nan=True)
    scaled = detect_running_events(s.acc * 1.1, FS)  # a sensor whose gain is 10 % off
    np.testing.assert_allclose(a.to_s, scaled.to_s, atol=0.002, equal_nan=True)


def test_a_pelvis_bump_at_toe_off_does_not_delay_the_model() -> None:
    """Uphill the sacrum bumps up at push-off; a threshold rule then finds TO late."""
    s = spring_mass_run(bump_g=0.8)
    model = detect_running_events(s.acc, FS, settings=RunningSettings(to_pulse_width=1.0))
    level = detect_running_events(s.acc, FS, settings=RunningSettings(to_method="level"))
    inner = slice(1, -1)
    err_model = _nearest_errors(s.to_s, model.to_s)[inner]
    err_level = _nearest_errors(s.to_s, level.to_s)[inner]
    assert np.abs(err_model).max() < 0.006
    assert err_level.min() > 0.01  # the bump keeps the signal above the contact level


def test_raw_flight_below_zero_gives_the_same_spring_mass_events() -> None:
    clipped = spring_mass_run(flight_g=0.0)
    raw = spring_mass_run(flight_g=-0.5)
    a = detect_running_events(clipped.acc, FS)
    b = detect_running_events(raw.acc, FS)
    assert len(a) == len(b)
    np.testing.assert_allclose(a.ic_s, b.ic_s, atol=0.002)
    np.testing.assert_allclose(a.to_s, b.to_s, atol=0.002, equal_nan=True)


def test_contact_times_of_the_virtual_sensor() -> None:
    """The virtual sensor's running: exact truth, raw signals, realistic noise."""
    from imurun.sim.motion import Mounting, NoiseModel, Phase, generate

    rng = np.random.default_rng(7)
    m = generate((Phase("run", 40.0, 3.2), Phase("run", 40.0, 4.0)), None, 200.0,
                 mounting=Mounting.upright(), noise=NoiseModel(), rng=rng)
    ev = detect_running_events(m.acc_ms2, 200.0, m.gyr_rads)
    tr = m.truth
    run = tr.activity == "run"
    j = np.searchsorted(ev.ic_s, tr.ic_s[run])
    j = np.clip(j, 1, len(ev) - 1)
    j = np.where(np.abs(ev.ic_s[j] - tr.ic_s[run]) < np.abs(ev.ic_s[j - 1] - tr.ic_s[run]),
                 j, j - 1)
    ok = np.abs(ev.ic_s[j] - tr.ic_s[run]) < 0.02
    assert ok.mean() > 0.98
    err = (ev.contact_time_s[j] - tr.contact_s[run])[ok]
    err = err[np.isfinite(err)]
    assert err.size > 0.95 * ok.sum()
    assert abs(float(np.mean(err))) < 0.004
    assert float(np.sqrt(np.mean(err**2))) < 0.006


def test_contact_balance_of_an_asymmetric_runner_on_the_virtual_sensor() -> None:
    """55 % of the contact time on the left: the short right contacts used to get a toe-off
    16 ms early (balance 56.8 % for 54.9 %), as the model gave every step the impulse of
    body weight over its step time."""
    from imurun.analysis import analyze
    from imurun.ingest.recording import Recording
    from imurun.sim.motion import Mounting, NoiseModel, RunnerProfile, generate, script_default

    rng = np.random.default_rng(21)
    profile = RunnerProfile(contact_balance_left=0.55)
    m = generate(script_default(6, rng), profile, 200.0,
                 mounting=Mounting.random(np.random.default_rng([21, 1])), noise=NoiseModel(),
                 rng=rng)
    res = analyze(Recording.from_arrays(m.t_s, m.acc_ms2, m.gyr_rads, fs_hz=m.fs_hz))
    tr, st = m.truth, res.steps
    run = np.flatnonzero(tr.activity == "run")
    j = np.clip(np.searchsorted(st.ic_s, tr.ic_s[run]), 1, len(st.ic_s) - 1)
    j = np.where(np.abs(st.ic_s[j] - tr.ic_s[run]) < np.abs(st.ic_s[j - 1] - tr.ic_s[run]),
                 j, j - 1)
    ok = (np.abs(st.ic_s[j] - tr.ic_s[run]) < 0.02) & (st.activity[j] == "run")
    assert ok.mean() > 0.95
    err = st.contact_s[j[ok]] - tr.contact_s[run[ok]]
    side = tr.side[run[ok]]
    for sd in (0, 1):
        assert abs(float(np.nanmean(err[side == sd]))) < 0.008, sd
    c = tr.contact_s[run]
    truth_pct = 100.0 * float(c[tr.side[run] == 0].sum() / c.sum())
    assert res.summary.contact_balance_left_pct == pytest.approx(truth_pct, abs=1.0)


@pytest.mark.parametrize("seed", [0, 3])
def test_a_standing_pause_is_not_one_long_contact(seed: int) -> None:
    """Standing reads 1 g, above the contact level: the last step before a pause used to be
    joined to the first one after it, a "contact" of 11-15 s. Now its TO is unknown."""
    from imurun.sim.motion import Mounting, NoiseModel, Phase, generate

    fs = 200.0
    script = (Phase("stand", 3.0), Phase("run", 25.0), Phase("stand", 12.0),
              Phase("run", 25.0, speed_mps=4.0), Phase("stand", 4.0))
    m = generate(script, None, fs, mounting=Mounting.upright(), noise=NoiseModel(),
                 rng=np.random.default_rng(seed))
    ev = detect_running_events(m.acc_ms2, fs, m.gyr_rads)
    contact = ev.contact_time_s
    assert np.nanmax(contact) <= RunningSettings().max_contact_s
    pause_start = 28.0 + 0.5  # the last running step starts before it
    last = np.flatnonzero(ev.ic_s < pause_start)[-1]
    assert np.isnan(ev.to_s[last]) or ev.to_s[last] < pause_start + 0.5
    # nothing is found inside the pause, and the running steps on both sides are all there
    assert not np.any((ev.ic_s > 29.0) & (ev.ic_s < 40.0))
    truth = m.truth.ic_s[m.truth.activity == "run"]
    err = _nearest_errors(truth, ev.ic_s[np.isfinite(ev.ic_s)])
    assert truth.size > 80
    assert np.mean(np.abs(err) < 0.02) > 0.97


def test_other_sample_rates() -> None:
    for fs in (100.0, 500.0):
        s = synthetic_run(duration_s=8.0, fs=fs)
        ev = detect_running_events(s.acc, fs)
        assert len(ev) == s.ic_s.size
        assert np.abs(_nearest_errors(s.ic_s, ev.ic_s)).max() < 0.012


# ---------------------------------------------------------------------------------- walking

def test_walking_initial_contacts_and_sides() -> None:
    s = synthetic_walk()
    ev = detect_walking_events(s.acc, 100.0, s.gyr)
    assert ev.gait == "walking"
    assert len(ev) == s.ic_s.size
    assert np.abs(_nearest_errors(s.ic_s, ev.ic_s)).max() < 0.03
    assert np.all(np.isnan(ev.to_s))  # no push-off in this signal: no toe-off made up
    assert np.array_equal(ev.side, s.side)


def test_walking_toe_off_follows_the_trailing_foot_push_off() -> None:
    """After the loading peak that follows the other foot's IC, the trunk signal dips and
    rises to a small push-off peak as the trailing foot leaves: TO is the steepest point of that
    rise. Each step here has its own double support, and the detected TO follows it."""
    s = synthetic_walk()
    fs = 100.0
    rng = np.random.default_rng(7)
    t = np.arange(s.acc.shape[0]) / fs
    double_support = rng.uniform(0.14, 0.22, s.ic_s.size)
    # (a double support much shorter than this merges the push-off into the loading peak:
    # then there is no dip and TO is NaN, as on real fast walking)
    sigma = 0.02  # push-off bump: its steepest rise is one sigma before its top
    acc = s.acc.copy()
    # the TO of step k's foot comes after ic[k + 1]
    to_true = np.r_[s.ic_s[1:] + double_support[1:], np.nan]
    for k in range(s.ic_s.size - 1):
        acc[:, 2] += 2.0 * np.exp(-0.5 * ((t - to_true[k] - sigma) / sigma) ** 2)
    ev = detect_walking_events(acc, fs, s.gyr)
    assert len(ev) == s.ic_s.size
    found = np.isfinite(ev.to_s)
    assert found[:-1].mean() >= 0.9
    assert not found[-1]  # the last step: no next contact to look after
    err = ev.to_s[found] - to_true[found]
    assert np.abs(err).max() < 0.015
    # the errors do not follow the planted double support: the marker tracks the push-off
    assert np.std(err) < 0.25 * np.std(double_support[1:][found[:-1]])
    assert np.all(ev.contact_time_s[found] > ev.step_time_s[found])  # stance > a step
    assert np.all(ev.flight_time_s[:-1][found[:-1]] < 0)  # double support, not flight
    off = detect_walking_events(acc, fs, s.gyr, settings=WalkingSettings(estimate_to=False))
    assert np.all(np.isnan(off.to_s))
    np.testing.assert_array_equal(off.ic_s, ev.ic_s)


def test_walking_without_forward_axis() -> None:
    s = synthetic_walk()
    acc = s.acc.copy()
    acc[:, 0] = np.nan
    ev = detect_walking_events(acc, 100.0, settings=WalkingSettings())
    assert len(ev) == s.ic_s.size
    assert np.abs(_nearest_errors(s.ic_s, ev.ic_s)).max() < 0.05


def test_walking_steps_do_not_depend_on_the_trunk_leaning_into_a_turn() -> None:
    """The step signal is |specific force|: a roll of the trunk (leaning into a turn) changes
    the vertical and lateral components but neither the magnitude nor the forward axis."""
    s = synthetic_walk()
    t = np.arange(s.acc.shape[0]) / 100.0
    roll = np.deg2rad(20.0) * np.sin(np.pi * np.clip((t - 8.0) / 6.0, 0.0, 1.0))  # 8-14 s
    c, si = np.cos(roll), np.sin(roll)
    acc = s.acc.copy()
    acc[:, 1] = c * s.acc[:, 1] - si * s.acc[:, 2]
    acc[:, 2] = si * s.acc[:, 1] + c * s.acc[:, 2]
    level = detect_walking_events(s.acc, 100.0)
    leaning = detect_walking_events(acc, 100.0)
    np.testing.assert_allclose(leaning.ic_s, level.ic_s, atol=1e-9)
    vertical = detect_walking_events(s.acc, 100.0, settings=WalkingSettings(use_magnitude=False))
    assert len(vertical) == s.ic_s.size  # the old signal still works on level signals


def _walk_then_stand(closing_gain: float | None, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Ten steps, then (optionally) a weak closing step, then 4 s of quiet standing."""
    fs, step = 100.0, 0.55
    rng = np.random.default_rng(seed)
    t = np.arange(int(10.5 * fs)) / fs
    ics = list(np.arange(0.6, 0.6 + 10 * step, step))
    gains = [1.0] * len(ics)
    if closing_gain is not None:
        ics.append(ics[-1] + step)
        gains.append(closing_gain)
    vert = np.full_like(t, G_MS2)
    fwd = np.zeros_like(t)
    for a, g in zip(ics, gains, strict=True):
        vert += g * 3.0 * np.exp(-0.5 * ((t - a - 0.06) / 0.035) ** 2)
        vert -= g * 1.5 * np.exp(-0.5 * ((t - a - 0.3) / 0.08) ** 2)
        fwd += g * 1.5 * np.exp(-0.5 * ((t - a) / 0.03) ** 2)
    acc = np.column_stack([fwd, np.zeros_like(t), vert]) + rng.normal(0.0, 0.05, (t.size, 3))
    return acc, np.asarray(ics)


def test_the_weak_closing_step_of_a_walk_is_found() -> None:
    acc, ics = _walk_then_stand(closing_gain=0.15)
    ev = detect_walking_events(acc, 100.0)
    assert len(ev) == ics.size
    assert np.abs(_nearest_errors(ics[:-1], ev.ic_s[:-1])).max() < 0.03
    # a weak step's loading rise is hard to time (on voisard_ipol closing steps are timed
    # worse than full steps); it must stay well inside the 200 ms matching tolerance
    assert abs(ev.ic_s[-1] - ics[-1]) < 0.1
    # the same weak bump in the middle of standing is not a step, and without the rule the
    # closing step is lost
    off = detect_walking_events(acc, 100.0, settings=WalkingSettings(closing_prominence_ms2=0))
    assert len(off) == ics.size - 1


def test_quiet_standing_after_a_walk_adds_no_closing_step() -> None:
    acc, ics = _walk_then_stand(closing_gain=None)
    ev = detect_walking_events(acc, 100.0)
    assert len(ev) == ics.size
    assert np.abs(_nearest_errors(ics, ev.ic_s)).max() < 0.03


def _walk_then_gentle_stop(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten steps, then a closing foot set down gently: a small touch at its contact and its
    weight taken slowly (the trunk's weak peak 0.3 s after the contact), then standing.

    The walk decelerates: the dip of |f| in mid-stance is shallow (0.5 m/s²), so the steepest
    rise between the last step and the closing peak is the closing foot's touch."""
    fs, step = 100.0, 0.55
    rng = np.random.default_rng(seed)
    t = np.arange(int(10.5 * fs)) / fs
    ics = np.arange(0.6, 0.6 + 10 * step, step)
    vert = np.full_like(t, G_MS2)
    fwd = np.zeros_like(t)
    for a in ics:
        vert += 3.0 * np.exp(-0.5 * ((t - a - 0.06) / 0.035) ** 2)
        vert -= 0.5 * np.exp(-0.5 * ((t - a - 0.3) / 0.08) ** 2)
        fwd += 1.5 * np.exp(-0.5 * ((t - a) / 0.03) ** 2)
    c = ics[-1] + step
    vert += 0.5 * np.exp(-0.5 * ((t - c - 0.06) / 0.035) ** 2)
    vert += 0.5 * np.exp(-0.5 * ((t - c - 0.3) / 0.1) ** 2)
    fwd += 0.3 * np.exp(-0.5 * ((t - c) / 0.03) ** 2)
    acc = np.column_stack([fwd, np.zeros_like(t), vert]) + rng.normal(0.0, 0.05, (t.size, 3))
    return acc, np.r_[ics, c]


@pytest.mark.parametrize("seed", range(5))
def test_a_gently_set_closing_step_is_timed_at_its_touch(seed: int) -> None:
    # Its weak peak comes 0.3 s after the contact: the ic_search_s window before the peak
    # (0.25 s) holds only the slow weight transfer, and its IC came 40-180 ms late
    # (closing_ic_window=False); searched over the closing window it is the touch.
    acc, ics = _walk_then_gentle_stop(seed)
    ev = detect_walking_events(acc, 100.0)
    assert len(ev) == ics.size
    assert np.abs(ev.ic_s - ics).max() < 0.03
    old = detect_walking_events(acc, 100.0, settings=WalkingSettings(closing_ic_window=False))
    np.testing.assert_array_equal(old.ic_s[:-1], ev.ic_s[:-1])  # full steps: unchanged
    assert old.ic_s[-1] - ics[-1] > 0.03


def _stand_then_walk(first_gain: float, first_gap: float, seed: int = 6,
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """3 s of standing, a first trunk peak of ``first_gain`` ``first_gap`` step times
    before the first of ten full steps. Returns the signal, the full steps' ICs and the
    first peak's time."""
    fs, step = 100.0, 0.55
    rng = np.random.default_rng(seed)
    t = np.arange(int(10.0 * fs)) / fs
    first = 3.0
    ics = first + first_gap * step + step * np.arange(10)
    vert = np.full_like(t, G_MS2)
    fwd = np.zeros_like(t)
    for a, g in zip(np.r_[first, ics], np.r_[first_gain, np.ones(ics.size)], strict=True):
        vert += g * 3.0 * np.exp(-0.5 * ((t - a - 0.06) / 0.035) ** 2)
        vert -= g * 1.5 * np.exp(-0.5 * ((t - a - 0.3) / 0.08) ** 2)
        fwd += g * 1.5 * np.exp(-0.5 * ((t - a) / 0.03) ** 2)
    acc = np.column_stack([fwd, np.zeros_like(t), vert]) + rng.normal(0.0, 0.05, (t.size, 3))
    return acc, ics, first


def test_the_weight_transfer_of_gait_initiation_is_not_a_step() -> None:
    # gait initiation: the stance leg is loaded when the leading foot lifts off, one swing
    # time (~0.8 step time) before the leading foot's contact; that weak peak is not a step
    acc, ics, _ = _stand_then_walk(first_gain=0.4, first_gap=0.8)
    ev = detect_walking_events(acc, 100.0)
    assert len(ev) == ics.size
    assert np.abs(_nearest_errors(ics, ev.ic_s)).max() < 0.03
    off = detect_walking_events(acc, 100.0,
                                settings=WalkingSettings(initiation_prominence=0))
    assert len(off) == ics.size + 1


@pytest.mark.parametrize(("gain", "gap"), [(0.4, 1.1), (1.0, 0.8)])
def test_a_weak_or_early_first_step_is_kept(gain: float, gap: float) -> None:
    # a weak first step one full step before the next, or a full-strength one sooner, is a step
    acc, ics, first = _stand_then_walk(first_gain=gain, first_gap=gap)
    ev = detect_walking_events(acc, 100.0)
    assert len(ev) == ics.size + 1
    assert abs(ev.ic_s[0] - first) < 0.03


def test_refine_extremum_finds_the_vertex_between_samples() -> None:
    from imurun.signal._segments import refine_extremum

    x = np.arange(50, dtype=np.float64)
    vertex = np.array([10.3, 24.5, 31.0, 40.8])
    for v in vertex:
        y = -((x - v) ** 2)
        i = np.array([int(np.argmax(y))])
        assert refine_extremum(y, i)[0] == pytest.approx(v, abs=1e-9)
    # at the ends and on a plateau the index is kept
    assert refine_extremum(x, np.array([0, 49])).tolist() == [0.0, 49.0]
    assert refine_extremum(np.ones(5), np.array([2])).tolist() == [2.0]


# ------------------------------------------------------------------------------------ sides

def test_assign_sides_viterbi_outvotes_one_contrary_step() -> None:
    n = 400
    fs = 100.0
    ic = np.arange(20, 380, 30, dtype=np.float64)
    lat = np.zeros((n, 3))
    lat[:, 2] = G_MS2
    truth = []
    for k, a in enumerate(ic.astype(int)):
        left = k % 2 == 0
        sign = -1.0 if left else 1.0
        if k == 5:
            sign = -sign  # one step whose evidence points the wrong way
        lat[a:a + 30, 1] = sign * np.sin(np.pi * np.arange(30) / 30)
        truth.append(Side.LEFT if left else Side.RIGHT)
    side, ev = assign_sides(lat, fs, ic, np.zeros(ic.size, dtype=int))
    assert np.array_equal(side, np.asarray(truth, dtype=np.int8))
    per_step, _ = assign_sides(lat, fs, ic, np.zeros(ic.size, dtype=int),
                               settings=SideSettings(use_alternation=False))
    assert np.count_nonzero(per_step != np.asarray(truth)) == 1


def test_assign_sides_checks_shapes() -> None:
    with pytest.raises(SignalError, match="step_segment"):
        assign_sides(np.zeros((100, 3)), 100.0, [10.0, 20.0], [0])
