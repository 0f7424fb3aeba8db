"""Physical consistency of the motion generator (imurun.sim.motion).

Every check here can fail: signals are integrated, rotated and compared with the truth the
generator recorded, not with the generator's own intermediate values.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import pytest

from imurun.consts import DEG2RAD, G_MS2
from imurun.errors import UsageError
from imurun.sim import rotations as rot
from imurun.sim.motion import (
    Motion,
    Mounting,
    NoiseModel,
    Phase,
    RunnerProfile,
    generate,
    script_default,
)

FS = 200.0
CLEAN = NoiseModel.clean()

# stand, walk (with a curve), run with a pace change, a turnaround while running, walk, stand
SCRIPT = (
    Phase("stand", 6.0),
    Phase("walk", 14.0, 1.4, turn_deg=30.0),
    Phase("run", 20.0, 3.3),
    Phase("run", 12.0, 4.0, turn_deg=-40.0),
    Phase("run", 12.0, 2.8, turn_deg=180.0, turn_s=5.0),
    Phase("walk", 12.0, 1.3, turn_deg=-90.0, turn_s=4.0),
    Phase("stand", 6.0),
)


@pytest.fixture(scope="module")
def clean() -> Motion:
    return generate(SCRIPT, RunnerProfile(stand_sway_deg=0.0), FS, noise=CLEAN, rng=np.random.default_rng(7))


@pytest.fixture(scope="module")
def mounted() -> Motion:
    """Same motion (same seed), random mounting, still clean."""
    mounting = Mounting.random(np.random.default_rng(3))
    return generate(
        SCRIPT, RunnerProfile(stand_sway_deg=0.0), FS, mounting=mounting, noise=CLEAN,
        rng=np.random.default_rng(7),
    )


def _r_wb(m: Motion) -> np.ndarray:
    return m.truth.r_wb()


def _wf_specific_force(m: Motion) -> np.ndarray:
    """Sensor reading -> body (through the mounting) -> world (through the truth orientation)."""
    f_bf = m.acc_ms2 @ m.mounting.r_sb.T
    return np.einsum("nij,nj->ni", _r_wb(m), f_bf)


def _steady_run_steps(m: Motion) -> np.ndarray:
    """Running steps between running steps, at a steady pace, 3 s away from phase boundaries."""
    tr = m.truth
    edges = np.concatenate([tr.phase_start_s, tr.phase_end_s])
    far = np.min(np.abs(tr.ic_s[:, None] - edges[None, :]), axis=1) > 3.0
    v_ic = np.interp(tr.ic_s, m.t_s, tr.speed_mps)
    steady = np.abs(np.diff(v_ic, append=v_ic[-1])) < 0.02
    run = tr.activity == "run"
    neighbours = np.r_[False, run[:-1]] & np.r_[run[1:], False]
    return np.flatnonzero(run & neighbours & far & steady)


# ----------------------------------------------------------------------------- rotations
def test_rotation_conventions_signs() -> None:
    a = 10 * DEG2RAD
    # + tilt: the body z axis leans forward (+x in W)
    assert rot.r_wb_from_angles(0.0, 0.0, a)[:, 2][0] > 0.1
    # + obliquity: the body y axis (left hip) goes up
    assert rot.r_wb_from_angles(0.0, a, 0.0)[:, 1][2] > 0.1
    # + yaw: the body x axis turns left (+y in W)
    assert rot.r_wb_from_angles(a, 0.0, 0.0)[:, 0][1] > 0.1


def test_angles_round_trip_and_fast_rotations() -> None:
    rng = np.random.default_rng(0)
    yaw, obl, tilt = rng.uniform(-3, 3, 500), rng.uniform(-1.2, 1.2, 500), rng.uniform(-3, 3, 500)
    r = rot.r_wb_from_angles(yaw, obl, tilt)
    np.testing.assert_allclose(np.einsum("nji,njk->nik", r, r), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    y2, o2, t2 = rot.angles_from_r_wb(r)
    np.testing.assert_allclose(rot.r_wb_from_angles(y2, o2, t2), r, atol=1e-12)
    v = rng.normal(size=(500, 3))
    np.testing.assert_allclose(rot.wf_from_bf(v, yaw, obl, tilt), np.einsum("nij,nj->ni", r, v), atol=1e-12)
    np.testing.assert_allclose(rot.bf_from_wf(v, yaw, obl, tilt), np.einsum("nji,nj->ni", r, v), atol=1e-12)


def test_body_rate_matches_matrix_derivative() -> None:
    t = np.linspace(0.0, 2.0, 2001)
    yaw, obl, tilt = 0.8 * np.sin(2 * t), 0.3 * np.cos(3 * t), 0.5 * np.sin(5 * t + 1)
    d = (1.6 * np.cos(2 * t), -0.9 * np.sin(3 * t), 2.5 * np.cos(5 * t + 1))
    w = rot.bf_rate_from_angle_rates(obl, tilt, *d)
    r = rot.r_wb_from_angles(yaw, obl, tilt)
    dr = np.gradient(r, t, axis=0, edge_order=2)
    skew = np.einsum("nji,njk->nik", r, dr)  # R^T dR/dt = [omega]x
    w_fd = np.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], axis=-1)
    np.testing.assert_allclose(w[5:-5], w_fd[5:-5], atol=2e-5)


def test_rotation_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        rot.bf_from_wf(np.zeros(3), 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="3, 3"):
        rot.angles_from_r_wb(np.zeros((4, 2)))


# ----------------------------------------------------------------------------- (a) gyroscope
def _quat_mul(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = q
    w2, x2, y2, z2 = r
    return np.array([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _matrix_to_quat(r: np.ndarray) -> np.ndarray:
    w = 0.5 * np.sqrt(1.0 + np.trace(r))
    return np.array([w, (r[2, 1] - r[1, 2]) / (4 * w), (r[0, 2] - r[2, 0]) / (4 * w), (r[1, 0] - r[0, 1]) / (4 * w)])


def _integrate_gyro(w_bf: np.ndarray, dt: float, r0: np.ndarray) -> np.ndarray:
    """RK4 on q' = q (x) [0, w]/2, body rate at mid-interval by 4-point cubic interpolation."""
    q = _matrix_to_quat(r0)
    out = [r0]
    n = len(w_bf)
    for k in range(n - 1):
        w0, w1 = w_bf[k], w_bf[k + 1]
        wm = (-w_bf[k - 1] + 9 * w0 + 9 * w1 - w_bf[k + 2]) / 16 if 1 <= k < n - 2 else (w0 + w1) / 2
        k1 = 0.5 * _quat_mul(q, np.r_[0.0, w0])
        k2 = 0.5 * _quat_mul(q + 0.5 * dt * k1, np.r_[0.0, wm])
        k3 = 0.5 * _quat_mul(q + 0.5 * dt * k2, np.r_[0.0, wm])
        k4 = 0.5 * _quat_mul(q + dt * k3, np.r_[0.0, w1])
        q = q + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        q /= np.linalg.norm(q)
        out.append(_quat_to_matrix(q))
    return np.array(out)


@pytest.mark.parametrize("t0_s", [24.0, 53.0, 61.0])  # straight run, turning run, walking turn
def test_gyro_integration_reproduces_truth_orientation(mounted: Motion, t0_s: float) -> None:
    m = mounted
    i0 = int(t0_s * FS)
    sl = slice(i0, i0 + int(4 * FS))
    r_true = m.truth.r_wb()[sl]
    w_bf = m.mounting.bf_from_sf(m.gyr_rads[sl])  # through the mounting into the body frame
    r_int = _integrate_gyro(w_bf, 1.0 / FS, r_true[0])
    cos_err = (np.einsum("nij,nij->n", r_int, r_true) - 1.0) / 2.0
    err_deg = np.degrees(np.arccos(np.clip(cos_err, -1.0, 1.0)))
    assert err_deg.max() < 0.05
    # and the motion in the window is not trivial
    assert np.degrees(np.abs(m.gyr_rads[sl]).max()) > 20.0


# ----------------------------------------------------------------------------- (b) accelerometer
def test_specific_force_rotated_to_world_is_truth_acceleration(mounted: Motion) -> None:
    a_wf = _wf_specific_force(mounted)
    a_wf[:, 2] -= G_MS2
    np.testing.assert_allclose(a_wf, mounted.truth.wf_acc_ms2, atol=1e-9)


def test_double_integration_over_each_step_matches_truth(mounted: Motion) -> None:
    m, tr = mounted, mounted.truth
    a_wf = _wf_specific_force(m)
    a_wf[:, 2] -= G_MS2
    t = m.t_s
    steps = _steady_run_steps(m)
    assert steps.size > 50
    dvz, dz, dspeed, dvh = [], [], [], []
    for k in steps:
        i0 = np.searchsorted(t, tr.ic_s[k])
        i1 = np.searchsorted(t, tr.ic_s[k] + tr.step_s[k])
        sl = slice(i0, i1 + 1)
        dt = np.diff(t[sl])[:, None]
        v = tr.wf_vel_mps[i0] + np.concatenate([np.zeros((1, 3)), np.cumsum(0.5 * (a_wf[sl][1:] + a_wf[sl][:-1]) * dt, axis=0)])
        z = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:, 2] + v[:-1, 2]) * dt[:, 0])])
        dvz.append(abs(v[-1, 2] - tr.wf_vel_mps[i1, 2]))
        dz.append(np.abs(z - (tr.height_m[sl] - tr.height_m[i0])).max())
        dvh.append(np.abs(v[:, :2] - tr.wf_vel_mps[sl, :2]).max())
        if abs(tr.heading_deg[i1] - tr.heading_deg[i0]) < 1e-9:  # straight: forward speed change
            psi = tr.heading_deg[i0] * DEG2RAD
            fwd = v[:, 0] * np.cos(psi) + v[:, 1] * np.sin(psi)
            dspeed.append(abs((fwd[-1] - fwd[0]) - (tr.speed_mps[i1] - tr.speed_mps[i0])))
    assert len(dspeed) > 20
    # one step of a 200 Hz trapezoid on a signal with kinks at contact events
    assert max(dvz) < 4e-3  # m/s, against a vertical velocity swing of ~1.2 m/s
    assert max(dz) < 2e-3  # m, against a vertical oscillation of ~60 mm
    assert max(dvh) < 4e-3
    assert max(dspeed) < 4e-3  # against a braking of ~0.25 m/s


def test_vertical_integration_converges_with_sampling_rate() -> None:
    """The residual above is sampling error only: it shrinks ~fs^-2 at 1 kHz."""
    script = (Phase("stand", 1.0), Phase("run", 6.0, 3.3), Phase("stand", 1.0))
    errs = []
    for fs in (200.0, 1000.0):
        m = generate(script, fs_hz=fs, noise=CLEAN, rng=np.random.default_rng(1))
        tr = m.truth
        a = _wf_specific_force(m)[:, 2] - G_MS2
        k = int(np.flatnonzero(tr.activity == "run")[5])
        i0, i1 = np.searchsorted(m.t_s, [tr.ic_s[k], tr.ic_s[k] + 3 * tr.step_s[k]])
        v = tr.wf_vel_mps[i0, 2] + np.concatenate([[0.0], np.cumsum(0.5 * (a[i0 + 1 : i1 + 1] + a[i0:i1]) / fs)])
        errs.append(abs(v[-1] - tr.wf_vel_mps[i1, 2]))
    assert errs[1] < errs[0] / 8


# ----------------------------------------------------------------------------- (c) flight, standing
def test_flight_is_ballistic_and_standing_reads_gravity(mounted: Motion) -> None:
    m, tr = mounted, mounted.truth
    t = m.t_s
    k = tr.step_index
    in_step = k >= 0
    flight = np.zeros(t.size, dtype=bool)
    flight[in_step] = (tr.activity[k[in_step]] == "run") & (t[in_step] > tr.to_s[k[in_step]] + 1e-9)
    assert flight.sum() > 500
    assert np.linalg.norm(m.acc_ms2[flight], axis=1).max() < 1e-9
    # still standing, well away from any step: |f| = g and no rotation
    first, last = tr.ic_s[0], tr.ic_s[-1] + tr.step_s[-1]
    still = (t < first - 1.0) | (t > last + 1.0)
    assert still.sum() > 1.5 * FS
    np.testing.assert_allclose(np.linalg.norm(m.acc_ms2[still], axis=1), G_MS2, atol=1e-9)
    assert np.abs(m.gyr_rads[still]).max() < 1e-12
    # gravity is seen along the sensor's own reading of body "up"
    np.testing.assert_allclose(m.acc_ms2[still], np.broadcast_to(m.mounting.r_sb[2] * G_MS2, (still.sum(), 3)), atol=1e-9)


def test_standing_with_postural_sway_still_reads_one_g() -> None:
    m = generate((Phase("stand", 20.0),), noise=CLEAN, rng=np.random.default_rng(2))
    np.testing.assert_allclose(np.linalg.norm(m.acc_ms2, axis=1), G_MS2, atol=1e-9)
    assert 0.0 < np.abs(m.gyr_rads).max() < np.radians(3.0)
    assert np.abs(m.truth.tilt_deg).max() < 1.5
    assert m.truth.n_steps == 0
    assert (m.truth.activity_labels == "stand").all()


# ----------------------------------------------------------------------------- (d) per-step metrics
def test_step_metrics_equal_recomputation_from_series(clean: Motion) -> None:
    m, tr = clean, clean.truth
    t = m.t_s
    a_up = (tr.wf_acc_ms2[:, 2] + G_MS2) / G_MS2
    for k in range(tr.n_steps):
        step = (t >= tr.ic_s[k]) & (t < tr.ic_s[k] + tr.step_s[k])
        stance = (t >= tr.ic_s[k]) & (t < tr.to_s[k])
        assert tr.vertical_oscillation_m[k] == pytest.approx(np.ptp(tr.height_m[step]), abs=1e-12)
        assert tr.pelvic_tilt_range_deg[k] == pytest.approx(np.ptp(tr.tilt_deg[step]), abs=1e-12)
        assert tr.pelvic_rotation_range_deg[k] == pytest.approx(np.ptp(tr.rotation_deg[step]), abs=1e-12)
        speed_ic = np.interp(tr.ic_s[k], t, tr.speed_mps)  # "at IC": interpolated at ic_s
        assert tr.braking_mps[k] == pytest.approx(speed_ic - min(speed_ic, tr.speed_mps[stance].min()), abs=1e-12)
        assert tr.impact_g[k] == pytest.approx(a_up[stance].max(), abs=1e-12)
        swing_up = tr.obliquity_deg[stance] - np.interp(tr.ic_s[k], t, tr.obliquity_deg)  # + = right hip drops
        drop = max(swing_up.max() if tr.side[k] == 0 else (-swing_up).max(), 0.0)
        assert tr.pelvic_drop_deg[k] == pytest.approx(drop, abs=1e-12)
        assert (tr.step_index[step] == k).all()
    np.testing.assert_allclose(tr.step_s, tr.contact_s + tr.flight_s, atol=1e-12)
    np.testing.assert_allclose(tr.to_s, tr.ic_s + tr.contact_s, atol=1e-12)
    np.testing.assert_allclose(tr.step_length_m, np.interp(tr.ic_s + tr.step_s, t, tr.distance_m) - np.interp(tr.ic_s, t, tr.distance_m), atol=2e-3)


def test_sides_alternate_and_events_are_ordered(clean: Motion) -> None:
    tr = clean.truth
    bout_start = np.r_[True, np.abs(tr.ic_s[1:] - (tr.ic_s[:-1] + tr.step_s[:-1])) > 1e-9]
    same_bout = ~bout_start[1:]
    assert (tr.side[1:][same_bout] != tr.side[:-1][same_bout]).all()
    assert (np.diff(tr.ic_s) > 0).all()
    run = tr.activity == "run"
    assert (tr.flight_s[run] > 0).all()
    # walking: double support (negative flight), except into a running contact (no overlap)
    into_run = np.r_[run[1:] & same_bout, False]
    assert (tr.flight_s[~run & ~into_run] < 0).all()
    assert into_run[~run].any()
    np.testing.assert_array_equal(tr.flight_s[~run & into_run], 0.0)


def test_morin_peak_force_without_impact_transient() -> None:
    """With no impact bump and no variability, the contact force is Morin's sine:
    Fmax / (m g) = pi/2 (tf/tc + 1) (Morin et al. 2005, J Appl Biomech 21:167)."""
    prof = RunnerProfile(impact_g=0.0, step_time_cv=0.0, contact_cv=0.0, amplitude_cv=0.0, contact_balance_left=0.5)
    m = generate((Phase("stand", 1.0), Phase("run", 12.0, 3.3), Phase("stand", 1.0)), prof, 1000.0, noise=CLEAN, rng=np.random.default_rng(0))
    tr = m.truth
    k = np.flatnonzero(tr.activity == "run")[10:-10]
    expected = np.pi / 2 * (tr.flight_s[k] / tr.contact_s[k] + 1.0)
    np.testing.assert_allclose(tr.impact_g[k], expected, rtol=1e-4)


def test_configured_drop_and_asymmetry_show_in_truth() -> None:
    prof = RunnerProfile(amplitude_cv=0.0, drop_left_stance_deg=4.0, drop_right_stance_deg=8.0, contact_balance_left=0.53)
    m = generate((Phase("stand", 2.0), Phase("run", 30.0, 3.3), Phase("stand", 2.0)), prof, noise=CLEAN, rng=np.random.default_rng(5))
    tr = m.truth
    k = _steady_run_steps(m)
    left, right = k[tr.side[k] == 0], k[tr.side[k] == 1]
    np.testing.assert_allclose(tr.pelvic_drop_deg[left], 4.0, atol=0.05)
    np.testing.assert_allclose(tr.pelvic_drop_deg[right], 8.0, atol=0.05)
    balance = tr.contact_s[left].sum() / (tr.contact_s[left].sum() + tr.contact_s[right].sum())
    assert balance == pytest.approx(0.53, abs=0.01)
    np.testing.assert_allclose(tr.pelvic_tilt_range_deg[k], prof.tilt_range_deg, atol=0.1)
    np.testing.assert_allclose(tr.pelvic_rotation_range_deg[k], prof.rotation_range_deg, atol=0.05)


# ----------------------------------------------------------------------------- (e) determinism
def test_deterministic_by_seed_and_truth_independent_of_noise() -> None:
    script = (Phase("stand", 2.0), Phase("walk", 6.0), Phase("run", 8.0), Phase("stand", 2.0))
    a = generate(script, rng=np.random.default_rng(11))
    b = generate(script, rng=np.random.default_rng(11))
    c = generate(script, rng=np.random.default_rng(12))
    d = generate(script, noise=CLEAN, mounting=Mounting.upside_down(), rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a.acc_ms2, b.acc_ms2)
    np.testing.assert_array_equal(a.gyr_rads, b.gyr_rads)
    np.testing.assert_array_equal(a.truth.ic_s, b.truth.ic_s)
    assert not np.array_equal(a.truth.ic_s, c.truth.ic_s)
    # same motion whatever the sensor's noise and mounting
    np.testing.assert_array_equal(a.truth.ic_s, d.truth.ic_s)
    np.testing.assert_array_equal(a.truth.bf_acc_ms2, d.truth.bf_acc_ms2)
    assert script_default(5, np.random.default_rng(3)) == script_default(5, np.random.default_rng(3))


# ----------------------------------------------------------------------------- (f) mounting
def test_mounting_only_rotates_the_signals(clean: Motion, mounted: Motion) -> None:
    for x, y in ((clean.acc_ms2, mounted.acc_ms2), (clean.gyr_rads, mounted.gyr_rads)):
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1), atol=1e-9)
        np.testing.assert_allclose(mounted.mounting.sf_from_bf(x), y, atol=1e-9)  # clean is upright
    np.testing.assert_array_equal(clean.truth.tilt_deg, mounted.truth.tilt_deg)


def test_mounting_helpers_and_random_coverage() -> None:
    up = Mounting.upside_down()
    v = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(up.sf_from_bf(v), [[0, 0, -1], [0, -1, 0]])
    np.testing.assert_allclose(up.bf_from_sf(up.sf_from_bf(v)), v)
    rng = np.random.default_rng(0)
    axes = []
    for _ in range(300):
        mt = Mounting.random(rng)
        r = mt.r_sb
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        axes.append(r[:, 2])  # sensor z in body coordinates
    zs = np.array(axes)
    assert (zs[:, 2] < -0.8).any()
    assert (zs[:, 2] > 0.8).any()  # upside-down and upright
    assert (np.abs(zs[:, 0]) > 0.8).any()  # lying on its side
    tilt = np.degrees(np.arccos(np.clip(np.abs(zs).max(axis=1), -1, 1)))
    assert tilt.max() > 15.0
    assert tilt.max() < 45.0
    with pytest.raises(UsageError):
        Mounting(np.diag([1.0, 1.0, -1.0]))  # a reflection
    with pytest.raises(UsageError):
        Mounting(np.eye(2))


# ----------------------------------------------------------------------------- (g) realism
@pytest.fixture(scope="module")
def session() -> Motion:
    return generate(script_default(12, np.random.default_rng(4)), rng=np.random.default_rng(4))


def test_default_session_is_in_realistic_ranges(session: Motion) -> None:
    m, tr = session, session.truth
    k = _steady_run_steps(m)
    w = np.flatnonzero((tr.activity == "walk") & (tr.speed_mps[np.searchsorted(m.t_s, tr.ic_s)] > 1.2))
    assert k.size > 1000
    assert w.size > 100
    cadence = 60.0 / tr.step_s[k]
    assert 150 <= cadence.min()
    assert cadence.max() <= 200
    assert 0.18 <= tr.contact_s[k].min()
    assert tr.contact_s[k].max() <= 0.32
    assert 0.04 <= tr.vertical_oscillation_m[k].min()
    assert tr.vertical_oscillation_m[k].max() <= 0.12
    assert 2.0 <= tr.impact_g[k].min()
    assert tr.impact_g[k].max() <= 4.0
    assert 0.1 <= np.median(tr.braking_mps[k]) <= 0.4
    assert 3.0 <= np.median(tr.pelvic_drop_deg[k]) <= 8.0
    assert 4.0 <= np.median(tr.pelvic_tilt_range_deg[k]) <= 8.0
    assert 6.0 <= np.median(tr.pelvic_rotation_range_deg[k]) <= 14.0
    assert 0.8 <= np.median(tr.step_length_m[k]) <= 1.5
    cad_w = 60.0 / tr.step_s[w]
    assert 100 <= np.median(cad_w) <= 125
    assert 0.55 <= np.median(tr.contact_s[w]) <= 0.75
    assert 0.02 <= np.median(tr.vertical_oscillation_m[w]) <= 0.06
    # the session has every activity, a turnaround, and a plausible length
    assert {"stand", "walk", "run"} <= set(np.unique(tr.activity_labels).tolist())
    assert np.ptp(tr.heading_deg) >= 180.0
    assert m.duration_s == pytest.approx(12 * 60.0)
    assert 1500 < tr.distance_m[-1] < 3500


def test_noise_model_statistics(session: Motion) -> None:
    m = session
    e = m.sensor_errors
    tr = m.truth
    still = tr.activity_labels == "stand"
    first = np.flatnonzero(still & (m.t_s < tr.ic_s[0] - 1.0))
    assert first.size > 10 * FS
    # the exact reading, through the drawn scale and bias, plus white noise of the stated density
    ideal_acc = m.mounting.sf_from_bf(tr.bf_acc_ms2[first])
    res = m.acc_ms2[first] - (ideal_acc * (1 + e.acc_scale) + e.acc_bias_ms2)
    sigma = m.noise.acc_density_ms2_rthz * np.sqrt(FS / 2)
    np.testing.assert_allclose(res.std(axis=0), sigma, rtol=0.1)
    assert np.abs(res.mean(axis=0)).max() < 5 * sigma / np.sqrt(first.size)
    ideal_gyr = m.mounting.sf_from_bf(tr.bf_gyr_rads[first])
    res_g = m.gyr_rads[first] - (ideal_gyr * (1 + e.gyr_scale) + e.gyr_bias_rads)
    np.testing.assert_allclose(res_g.std(axis=0), m.noise.gyr_density_rads_rthz * np.sqrt(FS / 2), rtol=0.1)
    assert np.abs(e.gyr_bias_rads).max() > 0.0
    assert NoiseModel.clean().is_clean
    assert not NoiseModel().is_clean


def test_walk_run_stand_labels_follow_steps(session: Motion) -> None:
    tr = session.truth
    k = tr.step_index
    inside = k >= 0
    np.testing.assert_array_equal(tr.activity_labels[inside], tr.activity[k[inside]])
    assert (tr.activity_labels[~inside] == "stand").all()
    assert (tr.speed_mps[~inside] == 0.0).all()


# ----------------------------------------------------------------------------- API, validation, speed
def test_outputs_are_read_only(clean: Motion) -> None:
    with pytest.raises(ValueError, match="read-only"):
        clean.acc_ms2[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        clean.truth.ic_s[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        clean.truth.fs_hz = 1.0  # type: ignore[misc]
    assert clean.t_s[0] == 0.0
    assert clean.acc_ms2.shape == (clean.t_s.size, 3)
    assert clean.truth.tilt_deg.shape == clean.t_s.shape
    assert clean.version


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Phase("jog", 10.0), "kind"),  # type: ignore[arg-type]
        (lambda: Phase("run", 0.0), "duration"),
        (lambda: Phase("walk", 10.0, 4.0), "speed"),
        (lambda: Phase("run", 10.0, turn_s=0.0), "turn_s"),
        (lambda: RunnerProfile(contact_s=0.0), "contact_s"),
        (lambda: RunnerProfile(contact_balance_left=0.9), "balance"),
        (lambda: NoiseModel(acc_bias_sigma_ms2=-1.0), "acc_bias"),
        (lambda: generate((), rng=np.random.default_rng(0)), "non-empty"),
        (lambda: generate((Phase("stand", 1.0),), fs_hz=5.0, rng=np.random.default_rng(0)), "fs_hz"),
        (lambda: generate((Phase("run", 5.0, 1.8),), rng=np.random.default_rng(0)), "run_min_speed"),
        (lambda: script_default(0.5, np.random.default_rng(0)), "minutes"),
        (lambda: generate((Phase("walk", 5.0, turn_deg=180.0, turn_s=1.0),), rng=np.random.default_rng(0)), "deg/s"),
        (lambda: generate((Phase("run", 9.0, 5.0, turn_deg=180.0, turn_s=3.0),), rng=np.random.default_rng(0)), "m/s"),
        (lambda: generate((Phase("walk", 0.5),), rng=np.random.default_rng(0)), "no step"),
    ],
)
def test_invalid_inputs_raise_usage_error(make: Callable[[], object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        make()


@pytest.mark.parametrize("minutes", [1.0, 3.0, 7.9, 8.0, 45.0])
def test_script_default_durations(minutes: float) -> None:
    script = script_default(minutes, np.random.default_rng(int(minutes * 10)))
    assert sum(p.duration_s for p in script) == pytest.approx(minutes * 60.0, abs=1e-6)
    assert script[0].kind == "stand"
    assert script[-1].kind == "stand"
    kinds = {p.kind for p in script}
    assert kinds == {"stand", "walk", "run"}
    assert any(abs(p.turn_deg) == 180.0 for p in script)
    if minutes < 4:  # short sessions still generate a run with every activity
        m = generate(script, rng=np.random.default_rng(0))
        assert {"stand", "walk", "run"} == set(np.unique(m.truth.activity_labels).tolist())


def test_generation_is_fast() -> None:
    script = script_default(10, np.random.default_rng(1))
    t0 = time.perf_counter()
    m = generate(script, rng=np.random.default_rng(1))
    elapsed = time.perf_counter() - t0
    assert m.t_s.size == 10 * 60 * 200
    assert elapsed < 3.0  # ~0.25 s on a 2-core machine; 1 h takes ~1.5 s
