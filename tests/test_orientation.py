"""Pelvis orientation (imurun.signal.orientation): exactness, accuracy on the virtual sensor's
truth, per-step pelvic metrics, turns, segments, streaming, and a real-data cross-check."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from imurun.consts import G_MS2
from imurun.errors import SignalError
from imurun.signal import _quat
from imurun.signal import orientation as ori
from imurun.signal.mounting import Mounting, estimate_mounting
from imurun.signal.orientation import (
    OrientationSettings,
    PelvisOrientationStream,
    pelvic_drop_deg,
    pelvic_rotation_range_deg,
    pelvic_tilt_range_deg,
    pelvis_orientation,
)
from imurun.sim import motion as sim
from imurun.sim.rotations import rot_x, rot_y, rot_z

FS = 100.0

#: Target of the issue: ≤ 1° RMS for every angle. What is reached is asserted (tighter).
TARGET_DEG = 1.0
REACHED_DEG = 0.5

HARSH = sim.NoiseModel(acc_density_ms2_rthz=3e-3, gyr_density_rads_rthz=3e-4,
                       acc_bias_sigma_ms2=0.3, gyr_bias_sigma_rads=0.02,
                       acc_scale_sigma=0.01, gyr_scale_sigma=0.01)

MOUNTINGS: dict[str, sim.Mounting] = {
    "upright": sim.Mounting.upright(),
    "upside_down": sim.Mounting.upside_down(),
    "yaw_90": sim.Mounting(rot_z(np.pi / 2), "yaw_90"),
    "axis_perm_19": sim.Mounting(sim._SIGNED_PERMUTATIONS[19], "perm19"),
    "tilt_+30_-30": sim.Mounting(rot_y(np.radians(30)) @ rot_x(np.radians(-30)), "tilt"),
    "random_a": sim.Mounting.random(np.random.default_rng(101)),
    "random_b": sim.Mounting.random(np.random.default_rng(202)),
}


def _rms(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x**2)))


@lru_cache(maxsize=16)
def _motion(name: str, seed: int = 21, noise: str = "default", fs: float = FS,
            minutes: float = 8.0) -> sim.Motion:
    rng = np.random.default_rng(seed)
    nm = {"default": sim.NoiseModel(), "harsh": HARSH, "clean": sim.NoiseModel.clean()}[noise]
    return sim.generate(sim.script_default(minutes, rng), None, fs, mounting=MOUNTINGS[name],
                        noise=nm, rng=rng)


@lru_cache(maxsize=16)
def _analysis(name: str, seed: int = 21, noise: str = "default", fs: float = FS,
              ) -> tuple[sim.Motion, Mounting, ori.PelvisAngles]:
    mo = _motion(name, seed, noise, fs)
    m = estimate_mounting(mo.acc_ms2, fs, gyr_rads=mo.gyr_rads)
    return mo, m, pelvis_orientation(mo.acc_ms2, mo.gyr_rads, fs, m)


# ------------------------------------------------------------------------ exact integration
@pytest.mark.parametrize(("n", "block"), [(1, None), (2, None), (64, None), (65, None),
                                          (1000, None), (4097, 16), (20000, None), (20001, 333)])
def test_blocked_prefix_product_equals_sequential(n: int, block: int | None) -> None:
    rng = np.random.default_rng(n)
    dq = _quat.from_rotvec(rng.normal(0.0, 0.05, (n, 3)))
    fast = _quat.cumprod(dq, block)
    ref = _quat.cumprod_sequential(dq)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)


def test_strapdown_reproduces_truth_orientation() -> None:
    """Integrating the clean body-frame gyroscope reproduces the truth's rotation to < 0.02°."""
    mo = _motion("upright", noise="clean", fs=200.0, minutes=2.0)
    r_wb = mo.truth.r_wb()
    i0 = int(np.flatnonzero(mo.truth.activity_labels == "run")[0]) + 2000
    sl = slice(i0, i0 + 800)  # 4 s of running
    q = ori._strapdown(np.asarray(mo.truth.bf_gyr_rads[sl]), 1.0 / 200.0,
                       np.array([1.0, 0.0, 0.0, 0.0]), None)
    r_est = r_wb[i0] @ _quat.matrix(q)
    err = [np.degrees(np.arccos(np.clip((np.trace(a @ b.T) - 1) / 2, -1, 1)))
           for a, b in zip(r_est, r_wb[sl], strict=True)]
    assert max(err) < 0.02


def test_fast_batch_path_equals_generic_path() -> None:
    """The fused batch arrangement computes the same maths as the generic (streaming) path."""
    mo = _motion("random_a", minutes=3.0)
    r_sb = estimate_mounting(mo.acc_ms2, FS).r_sb
    s = OrientationSettings()
    block = int(s.block_s * FS)
    yaw_f, obl_f, tilt_f, bias_f, _ = ori._segment(np.asarray(mo.acc_ms2), np.asarray(mo.gyr_rads),
                                                   FS, block, r_sb, s)
    wb, fb = mo.gyr_rads @ r_sb.T, mo.acc_ms2 @ r_sb.T
    n = wb.shape[0]
    q = ori._strapdown(wb, 1.0 / FS, np.array([1.0, 0.0, 0.0, 0.0]), None)
    blk = ori._block_stats(q, fb, wb, ori._block_starts(n, block), 0, FS)
    bias, _, k_mid = ori._corrections(blk, s)
    q_wb = _quat.mul(ori._interp_quat(np.arange(n) / FS, blk.t_s, k_mid), q)
    yaw, obl, tilt = ori._angles(q_wb, np.array([1.0, 0.0, 0.0, 0.0]))
    # the fused path does its per-sample work in float32 (rounding ~1e-5 rad = 0.0006°)
    np.testing.assert_allclose(tilt, tilt_f, rtol=0, atol=2e-5)
    np.testing.assert_allclose(obl, obl_f, rtol=0, atol=2e-5)
    assert np.abs(np.unwrap(yaw) - np.unwrap(yaw_f)).max() < 1e-3  # slow yaw drift: removed by the heading
    np.testing.assert_allclose(r_sb.T @ bias, bias_f, rtol=0, atol=5e-6)


# ------------------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("name", list(MOUNTINGS))
def test_angle_rmse_vs_truth_per_mounting(name: str) -> None:
    """Realistic noise (gyro bias ~0.3°/s, accelerometer offset ~15 mg), estimated mounting."""
    mo, _, pa = _analysis(name)
    tr = mo.truth
    for est, true in ((pa.tilt_deg, tr.tilt_deg), (pa.obliquity_deg, tr.obliquity_deg),
                      (pa.rotation_deg, tr.rotation_deg)):
        assert _rms(est - true) <= TARGET_DEG
        assert _rms(est - true) <= REACHED_DEG


@pytest.mark.parametrize(("noise", "fs"), [("harsh", 100.0), ("default", 200.0), ("clean", 100.0)])
def test_angle_rmse_other_noise_and_rates(noise: str, fs: float) -> None:
    """Harsh: gyro bias σ 1.1°/s, offsets 30 mg, 1 % scale errors, 3× white noise."""
    mo, _, pa = _analysis("random_b", seed=33, noise=noise, fs=fs)
    tr = mo.truth
    assert _rms(pa.tilt_deg - tr.tilt_deg) <= REACHED_DEG
    assert _rms(pa.obliquity_deg - tr.obliquity_deg) <= REACHED_DEG
    assert _rms(pa.rotation_deg - tr.rotation_deg) <= REACHED_DEG


def test_per_step_pelvic_metrics_vs_truth() -> None:
    """Per-step ranges and drop from the estimated angles at the true events: RMSE ≤ 1°."""
    for name in ("random_a", "upside_down"):
        mo, _, pa = _analysis(name)
        tr = mo.truth
        end = tr.ic_s + tr.step_s
        tilt_r = pelvic_tilt_range_deg(pa.tilt_deg, mo.t_s, tr.ic_s, end)
        rot_r = pelvic_rotation_range_deg(pa.rotation_deg, mo.t_s, tr.ic_s, end)
        drop = pelvic_drop_deg(pa.obliquity_deg, mo.t_s, tr.ic_s, tr.to_s, tr.side)
        for kind in ("run", "walk"):
            sel = tr.activity == kind
            assert _rms(tilt_r[sel] - tr.pelvic_tilt_range_deg[sel]) <= 0.5
            assert _rms(rot_r[sel] - tr.pelvic_rotation_range_deg[sel]) <= 0.5
            assert _rms(drop[sel] - tr.pelvic_drop_deg[sel]) <= 0.5
        assert np.isfinite(drop).mean() > 0.99


def test_turns_do_not_leak_into_rotation() -> None:
    """Running U-turn over 5 s and a 90° turn over 4 s: rotation and lean stay within 1° RMS."""
    script = (sim.Phase("stand", 20.0), sim.Phase("run", 60.0),
              sim.Phase("run", 12.0, turn_deg=180.0, turn_s=5.0), sim.Phase("run", 40.0),
              sim.Phase("run", 10.0, turn_deg=-90.0, turn_s=4.0), sim.Phase("run", 40.0),
              sim.Phase("stand", 10.0))
    rng = np.random.default_rng(5)
    mo = sim.generate(script, None, FS, mounting=MOUNTINGS["random_b"], noise=sim.NoiseModel(), rng=rng)
    m = estimate_mounting(mo.acc_ms2, FS, gyr_rads=mo.gyr_rads)
    pa = pelvis_orientation(mo.acc_ms2, mo.gyr_rads, FS, m)
    turning = np.abs(np.gradient(mo.truth.heading_deg) * FS) > 5.0  # > 5°/s
    assert turning.sum() > 5 * FS
    assert np.ptp(pa.heading_deg) > 150.0  # the heading took the turn ...
    assert _rms((pa.rotation_deg - mo.truth.rotation_deg)[turning]) <= TARGET_DEG  # ... not rotation
    assert _rms((pa.obliquity_deg - mo.truth.obliquity_deg)[turning]) <= TARGET_DEG  # lean kept
    assert np.abs(mo.truth.obliquity_deg[turning]).max() > 10.0  # (there was a real lean)


def test_sharp_pivot_does_not_leak_into_rotation() -> None:
    """A 180° pivot in 2.5 s while walking (beyond 1° with a 0.5 Hz, 4th-order heading)."""
    script = (sim.Phase("stand", 10.0), sim.Phase("walk", 30.0),
              sim.Phase("walk", 10.0, turn_deg=-180.0, turn_s=2.5), sim.Phase("walk", 30.0),
              sim.Phase("stand", 10.0))
    rng = np.random.default_rng(78)
    mo = sim.generate(script, None, FS, mounting=MOUNTINGS["random_a"], noise=sim.NoiseModel(), rng=rng)
    m = estimate_mounting(mo.acc_ms2, FS, gyr_rads=mo.gyr_rads)
    pa = pelvis_orientation(mo.acc_ms2, mo.gyr_rads, FS, m)
    turning = np.abs(np.gradient(mo.truth.heading_deg) * FS) > 5.0
    assert _rms((pa.rotation_deg - mo.truth.rotation_deg)[turning]) <= TARGET_DEG


# ------------------------------------------------------------------------- per-step helpers
def test_step_helpers_reproduce_truth_definitions() -> None:
    mo = _motion("upright", noise="clean", minutes=3.0)
    tr = mo.truth
    end = tr.ic_s + tr.step_s
    np.testing.assert_allclose(pelvic_tilt_range_deg(tr.tilt_deg, mo.t_s, tr.ic_s, end),
                               tr.pelvic_tilt_range_deg, atol=1e-9)
    np.testing.assert_allclose(pelvic_rotation_range_deg(tr.rotation_deg, mo.t_s, tr.ic_s, end),
                               tr.pelvic_rotation_range_deg, atol=1e-9)
    np.testing.assert_allclose(pelvic_drop_deg(tr.obliquity_deg, mo.t_s, tr.ic_s, tr.to_s, tr.side),
                               tr.pelvic_drop_deg, atol=1e-9)


def test_drop_sign_convention() -> None:
    """Left stance: the right hip drops, obliquity (+ = left hip up) rises: positive drop."""
    t = np.arange(200) / 100.0
    obl = np.zeros(200)
    obl[10:40] = np.linspace(0.0, 4.0, 30)  # left stance 0.1-0.4 s: rises by 4°
    obl[40:110] = np.linspace(4.0, 1.0, 70)  # right stance 1.1-1.4 s: falls by 3° more
    obl[110:140] = np.linspace(1.0, -2.0, 30)
    obl[140:] = -2.0
    drop = pelvic_drop_deg(obl, t, [0.1, 1.1, 1.5], [0.4, 1.4, 1.8], [0, 1, -1])
    assert drop[0] == pytest.approx(obl[39] - 0.0)
    assert drop[1] == pytest.approx(1.0 - obl[139])
    assert np.isnan(drop[2])  # unknown side
    # wrong direction counts as no drop (the IC level is included)
    assert pelvic_drop_deg(obl, t, [0.1], [0.4], [1])[0] == pytest.approx(0.0)


def test_step_helpers_nan_handling() -> None:
    t = np.arange(1000) / 100.0
    x = np.sin(t)
    ic = np.array([1.0, 2.0, 3.0, 9.5])
    r = pelvic_tilt_range_deg(x, t, ic)
    assert np.all(np.isfinite(r[:2]))
    assert np.isnan(r[-1])  # last step has no next IC
    # a gap in the time base inside a step
    t_gap = t.copy()
    t_gap[250:] += 5.0
    r_gap = pelvic_rotation_range_deg(x, t_gap, [1.0, 2.0, 8.5], [2.0, 3.0, 9.5])
    assert np.isfinite(r_gap[0])
    assert np.isnan(r_gap[1])
    # NaN samples (unanalysed segment), events outside the series, NaN events
    x_nan = x.copy()
    x_nan[150] = np.nan
    assert np.isnan(pelvic_tilt_range_deg(x_nan, t, [1.0], [2.0])[0])
    assert np.isnan(pelvic_tilt_range_deg(x, t, [-1.0], [0.5])[0])
    assert np.isnan(pelvic_tilt_range_deg(x, t, [9.0], [11.0])[0])
    assert np.isnan(pelvic_drop_deg(x, t, [np.nan], [2.0], [0])[0])
    with pytest.raises(SignalError, match="same length"):
        pelvic_tilt_range_deg(x, t[:-1], ic)
    with pytest.raises(SignalError, match="same length"):
        pelvic_drop_deg(x, t, ic, ic[:-1], np.zeros(4))
    with pytest.raises(SignalError, match="increasing"):
        pelvic_tilt_range_deg(x, t[::-1], ic)


# ------------------------------------------------------------------------- segments, errors
def test_segments_are_independent_and_gaps_nan() -> None:
    mo = _motion("yaw_90", minutes=3.0)
    acc, gyr = np.array(mo.acc_ms2), np.array(mo.gyr_rads)
    n = acc.shape[0]
    a, b = n // 2, n // 2 + 300
    acc[a:b] = np.nan  # lost samples inside the gap are never read
    gyr[a:b] = np.nan
    acc_before, gyr_before = acc.copy(), gyr.copy()
    m = Mounting.from_matrix(MOUNTINGS["yaw_90"].r_sb)
    short = (n - 50, n)  # too short to analyse
    pa = pelvis_orientation(acc, gyr, FS, m, segments=[(0, a), (b, n - 50), short])
    np.testing.assert_array_equal(acc, acc_before)
    np.testing.assert_array_equal(gyr, gyr_before)
    assert pa.segments == ((0, a), (b, n - 50))
    assert np.all(np.isnan(pa.tilt_deg[a:b]))
    assert np.all(np.isnan(pa.tilt_deg[n - 50:]))
    second = pelvis_orientation(acc[b:n - 50], gyr[b:n - 50], FS, m)
    np.testing.assert_array_equal(pa.tilt_deg[b:n - 50], second.tilt_deg)
    np.testing.assert_array_equal(pa.rotation_deg[b:n - 50], second.rotation_deg)
    assert pa.gyr_bias_rads.shape == (2, 3)
    with pytest.raises(SignalError, match="non-finite"):
        pelvis_orientation(acc, gyr, FS, m)


def test_orientation_input_errors() -> None:
    acc = np.zeros((500, 3))
    acc[:, 2] = G_MS2
    with pytest.raises(SignalError, match="gyroscope"):
        pelvis_orientation(acc, None, FS, np.eye(3))
    with pytest.raises(SignalError, match=r"shape \(n, 3\)"):
        pelvis_orientation(acc[:, :2], np.zeros((500, 3)), FS, np.eye(3))
    with pytest.raises(SignalError, match="like the acceleration"):
        pelvis_orientation(acc, np.zeros((400, 3)), FS, np.eye(3))
    with pytest.raises(SignalError, match="mounting"):
        pelvis_orientation(acc, np.zeros((500, 3)), FS, np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(SignalError, match="fs_hz"):
        pelvis_orientation(acc, np.zeros((500, 3)), -1.0, np.eye(3))
    with pytest.raises(SignalError):
        OrientationSettings(gravity_window_s=0.0)
    # at rest: level, and read-only inputs are fine
    acc.setflags(write=False)
    pa = pelvis_orientation(acc, np.zeros((500, 3)), FS, np.eye(3))
    assert np.abs(pa.tilt_deg).max() < 1e-9
    assert np.abs(pa.obliquity_deg).max() < 1e-9


# ------------------------------------------------------------------------------ streaming
def _stream(mo: sim.Motion, m: Mounting, seed: int, latency_s: float = 10.0,
            ) -> tuple[list[ori.PelvisAngles], PelvisOrientationStream]:
    st = PelvisOrientationStream(FS, m, latency_s=latency_s)
    rng = np.random.default_rng(seed)
    outs, i, n = [], 0, mo.acc_ms2.shape[0]
    while i < n:
        k = int(rng.integers(1, 400))
        out = st.update(mo.acc_ms2[i:i + k], mo.gyr_rads[i:i + k])
        i += k
        outs.append(out)
        assert st.n_emitted <= max(st.n_seen - int(latency_s * FS), 0)  # bounded latency
        assert st.n_emitted >= st.n_seen - int(latency_s * FS) - 1
    outs.append(st.flush())
    return outs, st


def test_stream_strapdown_is_exact_across_chunks() -> None:
    mo = _motion("random_a", minutes=2.0)
    m = estimate_mounting(mo.acc_ms2, FS)
    _, st = _stream(mo, m, seed=1)
    q = ori._strapdown(np.asarray(mo.gyr_rads), 1.0 / FS, np.array([1.0, 0.0, 0.0, 0.0]), None)
    np.testing.assert_allclose(st.q_last, q[-1] / np.linalg.norm(q[-1]), atol=1e-11)


def test_stream_bounded_difference_from_batch() -> None:
    """Fixed lag 10 s: after a 60 s warm-up the stream stays close to the batch smoother.

    The stream cannot know the gyroscope bias and the accelerometer offset before it has seen
    enough motion (the offset only after the first turns), so its start differs most. Measured
    over 5 development runs: max |stream − batch| after the first minute 1.4-1.8°, RMS
    difference < 0.2°, stream RMS error vs truth 0.27° (tilt) / 0.18° (obliquity).
    """
    mo, m, pa = _analysis("random_a")
    outs, st = _stream(mo, m, seed=2)
    assert st.n_emitted == st.n_seen == mo.acc_ms2.shape[0]
    assert [o.segments[0][0] for o in outs if o.n_samples] == \
        list(np.cumsum([0] + [o.n_samples for o in outs if o.n_samples])[:-1])
    tilt = np.concatenate([o.tilt_deg for o in outs])
    obl = np.concatenate([o.obliquity_deg for o in outs])
    rot = np.concatenate([o.rotation_deg for o in outs])
    warm = int(60 * FS)
    for s_, b_ in ((tilt, pa.tilt_deg), (obl, pa.obliquity_deg), (rot, pa.rotation_deg)):
        assert np.abs(s_ - b_)[warm:].max() <= 2.5
        assert _rms((s_ - b_)[warm:]) <= 0.3
    tr = mo.truth
    assert _rms(tilt - tr.tilt_deg) <= REACHED_DEG
    assert _rms(obl - tr.obliquity_deg) <= REACHED_DEG
    assert _rms(rot - tr.rotation_deg) <= REACHED_DEG
    # another chunking gives nearly the same answer
    outs2, _ = _stream(mo, m, seed=3)
    tilt2 = np.concatenate([o.tilt_deg for o in outs2])
    assert _rms((tilt2 - tilt)[warm:]) <= 0.1


def test_stream_reset_and_errors() -> None:
    mo = _motion("upright", minutes=2.0)
    m = Mounting.identity()
    st = PelvisOrientationStream(FS, m, latency_s=5.0)
    first = st.update(mo.acc_ms2[:3000], mo.gyr_rads[:3000])
    assert first.n_samples == 3000 - 500
    st.reset()
    assert st.n_seen == 0
    assert st.n_emitted == 0
    again = st.update(mo.acc_ms2[:3000], mo.gyr_rads[:3000])
    np.testing.assert_allclose(again.tilt_deg, first.tilt_deg)
    with pytest.raises(SignalError, match="non-finite"):
        st.update(np.full((3, 3), np.nan), np.zeros((3, 3)))
    with pytest.raises(SignalError):
        PelvisOrientationStream(FS, m, latency_s=10.0, history_s=5.0)


# ------------------------------------------------------------------------------ real data
def test_real_walking_agrees_with_imufusion() -> None:
    """Lower-back walking (mobgap_lab, voisard_ipol; body frame from the loaders).

    Reference: x-io's imufusion (revised Madgwick filter, gain 0.5, 10° acceleration rejection),
    first 5 s of each segment skipped (its start-up); see
    :mod:`imurun.validation.orientation_check`. Neither is ground truth: this checks that both
    see the same motion. The measured figures are in docs/validation.md (``make validate``).
    """
    pytest.importorskip("imufusion")
    from imurun.validation.datasets import shared_data_root
    from imurun.validation.orientation_check import DATASETS, run_agreement

    missing = [n for n in DATASETS if not (shared_data_root() / n).is_dir()]
    if missing:
        pytest.skip(f"shared data not available: {', '.join(missing)} under {shared_data_root()}")
    rows = run_agreement(skip_missing=False)
    res = np.array([(r.tilt_sd_deg, r.obliquity_sd_deg, r.tilt_offset_deg,
                     r.obliquity_offset_deg) for r in rows])
    assert len(rows) >= 20
    assert np.median(res[:, 0]) <= 2.5  # tilt, dynamic
    assert np.median(res[:, 1]) <= 1.0  # obliquity, dynamic
    assert np.percentile(res[:, 0], 90) <= 4.0
    assert np.median(np.abs(res[:, 2])) <= 2.5  # tilt offset
    assert np.median(np.abs(res[:, 3])) <= 1.5  # obliquity offset
