"""Pelvis orientation (tilt, obliquity, rotation) from a sacrum-worn IMU, and per-step pelvic metrics.

Verbs:

* :func:`pelvis_orientation` — batch: sensor-frame accelerometer + gyroscope and a
  :class:`~imurun.signal.mounting.Mounting` in, :class:`PelvisAngles` (degrees, per sample) out.
* :class:`PelvisOrientationStream` — the same maths with explicit state and a bounded latency
  (``update()`` / ``flush()`` / ``reset()``), for live use.
* :func:`pelvic_tilt_range_deg`, :func:`pelvic_rotation_range_deg`, :func:`pelvic_drop_deg` —
  per-step metrics from angle series and gait events (pure functions).

Angles (see ``docs/conventions.md`` and ``docs/metrics.md``): the body frame B is x forward,
y left, z up in the mounting's reference posture; the orientation of B in the world is
``R_wb = Rz(yaw) · Rx(obliquity) · Ry(tilt)`` (intrinsic z-x-y, Baker 2001), tilt + = anterior,
obliquity + = left hip up, yaw + = facing left. ``rotation = yaw - heading`` where the heading is
the yaw low-passed below stride frequency, so turns are removed from the rotation.

Method: a smoother, not a filter
--------------------------------
Textbook complementary filters and Madgwick's gradient-descent filter (Madgwick, Harrison &
Vaidyanathan 2011, IEEE ICORR, doi:10.1109/ICORR.2011.5975346) correct the gyroscope towards the
*instantaneous* accelerometer, which in running carries 2-3 g impacts, ±1 g braking and ~0 g in
flight: they either follow it (large errors) or reject it and drift (see ``PEERS.md``; on sacral
running data a complementary filter had a 3.4° pelvic-angle bias against motion capture where a
Kalman filter had 0.3°: Asgari & Heller 2025, Sensors 25:315). The pelvis, however, returns to
the same velocity every stride: averaged over whole strides its acceleration is nearly zero,
so the stride-averaged specific force is gravity. Using the gait cycle to remove drift is the
idea of the zero-velocity corrections of foot-mounted inertial gait analysis (e.g. Rebula,
Ojeda, Adamczyk & Kuo 2013, Gait Posture 38:974, which corrects drift at every ground contact).
Here it is applied offline, as a smoother, to the attitude itself:

1. **Strapdown integration** of the gyroscope, exactly and vectorised: per sample a rotation
   vector ``θ_k = (ω_k + ω_{k+1}) dt / 2 + (ω_k × ω_{k+1}) dt² / 12`` (the second-order
   solution of Bortz's rotation-vector equation, Bortz 1971, IEEE Trans Aerosp Electron Syst
   7:61, for a rate varying linearly over the sample interval: trapezoid plus the two-sample
   coning term), its quaternion, and the running product ``Q_k = Q_{k-1} ⊗ dq_k`` as a blocked
   prefix product (:func:`imurun.signal._quat.cumprod`, tested equal to the sequential
   recursion). ``Q`` maps the sensor frame to a "gyro world" frame that drifts slowly because
   of gyroscope bias and noise.
2. **Block statistics** over 1-s blocks: mean orientation, mean specific force rotated into
   the gyro world, mean and variance of the rates. Everything after this runs on one block
   per second, so its cost is negligible.
3. **Gyroscope bias and accelerometer offset.** A residual gyroscope bias ``δb`` makes the
   gyro world rotate at ``-R(t) δb``; the apparent vertical ``u`` (the smoothed, normalised
   block mean specific force) then moves as ``du/dt = (R δb) × u``; a constant accelerometer
   offset ``b`` (sensor frame) shows as ``R b / g`` on ``u`` and changes direction in the world
   whenever the runner turns. Both are estimated by one weighted linear least-squares fit of
   ``u_k ≈ a + C_k δb + L_k β`` over the segment (``C_k`` the integral of ``-[u]× R``, ``L_k``
   the smoothed block rotation, ``β = b/g``; Gaussian priors keep unobservable directions at
   zero), iterated twice from the median rate over still periods (when there are any); the
   bias correction is applied as an exact block-level product of rotations.
4. **Gravity smoother.** The apparent vertical in the corrected frame is smoothed with a
   Gaussian of 20 s (normalised convolution, Knutsson & Westin 1993, IEEE CVPR, so segment
   edges and down-weighted blocks are handled), after removing the body-fixed offset
   ``R b`` and adding it back per block (an offset fixed to the body must not be blurred across
   a turn). Blocks during turns (stride-averaged yaw rate above ~1°/s) are down-weighted,
   because centripetal acceleration is not gravity. The correction ``K = rot(u → z) ⊗ E`` is
   interpolated to every sample and applied: ``R_ws = K · Q``, ``R_wb = R_ws · r_sbᵀ``.
   The correction fixes tilt and obliquity; yaw keeps a slow drift that the heading removes.
5. **Angles and heading.** z-x-y angles of ``R_wb``; the heading is the unwrapped yaw
   low-passed at 0.6 Hz (6th-order Butterworth, forward-backward): it keeps the fraction
   ``1 / (1 + (f / 0.6 Hz)^12)`` of a rotation at stride frequency ``f``, negligible in running
   (≥ 1.2 Hz) and a few percent in slow walking (≥ 0.8 Hz; pelvic metrics are computed for
   running steps only), and it follows fast turns closely enough that a 180° pivot in 2.5 s
   stays within the 1° target (``tests/test_orientation.py``; 0.5 Hz and 4th order, the
   earlier choice, did not).

Accuracy on the virtual sensor (exact truth; realistic noise, gyroscope bias ~0.3°/s,
accelerometer offset ~15 mg, random mountings estimated by :mod:`imurun.signal.mounting`) is
asserted in ``tests/test_orientation.py`` and documented in ``docs/metrics.md``.

Validity: needs a gyroscope (accelerometer-only input raises :class:`SignalError`); segments
shorter than ``min_segment_s`` are NaN. Sustained acceleration over many seconds (sprint
starts, long curves at high speed) biases tilt/obliquity by ``atan(a / g)`` averaged over the
gravity window; the errors of the stride-averaged gravity stay below ~1° for the velocity changes
of a 180° turn at running speed (they are spread over ± the gravity window around the turn).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d
from scipy.signal import butter

from imurun.consts import G_MS2, RAD2DEG
from imurun.errors import SignalError
from imurun.signal import _quat
from imurun.signal._segments import as_signal, check_fs, normalise_segments, zero_phase

#: Precision of the batch path's per-sample arrays (block-level work is always float64).
_WORK: type[np.floating[Any]] = np.float32

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]

__all__ = [
    "OrientationSettings",
    "PelvicStepMetrics",
    "PelvisAngles",
    "PelvisOrientationStream",
    "pelvic_drop_deg",
    "pelvic_rotation_range_deg",
    "pelvic_step_metrics",
    "pelvic_tilt_range_deg",
    "pelvis_orientation",
]


def _version() -> str:
    from imurun import __version__

    return __version__


class _HasRsb(Protocol):
    @property
    def r_sb(self) -> FloatArray: ...


@dataclass(frozen=True)
class OrientationSettings:
    """Parameters of :func:`pelvis_orientation` (the defaults are the product).

    Attributes:
        block_s: block length of the drift estimation (shorter than any drift, longer than
            nothing else matters).
        gravity_window_s: standard deviation of the Gaussian that smooths the apparent vertical.
            Longer = less sensitive to speed changes and turns, slower to follow gyroscope drift.
        bias_window_s: smoothing of the apparent vertical used to fit the gyroscope bias.
        bias_iterations: re-linearisations of the bias / offset fit.
        turn_rate_rads: stride-averaged yaw rate at which a block's weight in the gravity
            estimate falls to 1/2 (weight ``1 / (1 + (rate / turn_rate)²)``).
        turn_smooth_s: smoothing of the yaw rate used for the turn weights.
        gyr_bias_prior_rads, acc_offset_prior_ms2: standard deviations of the Gaussian priors
            (ridge) on the gyroscope bias and the accelerometer offset, per axis.
        vertical_noise: effective noise of one block's smoothed apparent vertical (rad), which
            sets the strength of those priors against the data.
        estimate_acc_offset: fit the accelerometer offset (horizontal, sensor frame).
        heading_cutoff_hz, heading_order: low-pass of the yaw that defines the heading.
        min_segment_s: shorter segments are not analysed (NaN).
        quiet_gyr_rads, quiet_acc_ms2, min_quiet_s: blocks whose angular rate and specific
            force vary less than this (RMS) are still; with at least ``min_quiet_s`` of them
            their median rate starts the bias estimate.

    """

    block_s: float = 1.0
    gravity_window_s: float = 20.0
    bias_window_s: float = 3.0
    bias_iterations: int = 2
    turn_rate_rads: float = 0.02
    turn_smooth_s: float = 2.0
    gyr_bias_prior_rads: float = 0.1
    acc_offset_prior_ms2: float = 0.1
    vertical_noise: float = 0.015
    estimate_acc_offset: bool = True
    heading_cutoff_hz: float = 0.6
    heading_order: int = 6
    min_segment_s: float = 2.0
    quiet_gyr_rads: float = 0.02
    quiet_acc_ms2: float = 0.1
    min_quiet_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("block_s", "gravity_window_s", "bias_window_s", "turn_rate_rads",
                     "turn_smooth_s", "heading_cutoff_hz", "min_segment_s"):
            if not getattr(self, name) > 0:
                raise SignalError(f"OrientationSettings.{name} must be > 0, got {getattr(self, name)}")
        if self.bias_iterations < 0 or self.heading_order < 1:
            raise SignalError("bias_iterations >= 0 and heading_order >= 1 required")
        for name in ("gyr_bias_prior_rads", "acc_offset_prior_ms2", "vertical_noise"):
            if not getattr(self, name) > 0:
                raise SignalError(f"OrientationSettings.{name} must be > 0")


@dataclass(frozen=True, eq=False)
class PelvisAngles:
    """Per-sample pelvis angles, degrees (NaN outside analysed segments).

    Attributes:
        tilt_deg: about body y, + = anterior, relative to ``reference`` posture.
        obliquity_deg: about body x, + = left hip up (includes the lean into turns).
        rotation_deg: ``yaw - heading``, + = facing left of the direction of travel.
        yaw_deg: unwrapped yaw in the estimated world frame (arbitrary origin per segment,
            slow drift from the unobservable vertical gyroscope bias).
        heading_deg: low-passed yaw (the smooth facing direction).
        fs_hz: sample rate.
        reference: posture in which tilt and obliquity are zero (from the mounting).
        segments: analysed ``[start, stop)`` sample ranges.
        gyr_bias_rads: estimated gyroscope bias per analysed segment, sensor frame ``(k, 3)``.
        acc_offset_ms2: estimated accelerometer offset (horizontal part), sensor frame ``(k, 3)``.
        settings, version: how the result was made.

    """

    tilt_deg: FloatArray
    obliquity_deg: FloatArray
    rotation_deg: FloatArray
    yaw_deg: FloatArray
    heading_deg: FloatArray
    fs_hz: float
    reference: str
    segments: tuple[tuple[int, int], ...]
    gyr_bias_rads: FloatArray
    acc_offset_ms2: FloatArray
    settings: OrientationSettings
    version: str = field(default_factory=_version)

    def __post_init__(self) -> None:
        n = self.tilt_deg.shape[0]
        for name in ("tilt_deg", "obliquity_deg", "rotation_deg", "yaw_deg", "heading_deg"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise SignalError(f"PelvisAngles.{name} must have shape ({n},), got {arr.shape}")
            arr.setflags(write=False)
        self.gyr_bias_rads.setflags(write=False)
        self.acc_offset_ms2.setflags(write=False)

    @property
    def n_samples(self) -> int:
        return int(self.tilt_deg.shape[0])


# ============================================================================ maths (shared)
def _increments(gyr: FloatArray, dt: float, w_before: FloatArray | None) -> FloatArray:
    """Quaternion increments between consecutive rate samples (trapezoid + coning)."""
    w = gyr if w_before is None else np.concatenate([w_before[None, :], gyr], axis=0)
    w0, w1 = w[:-1], w[1:]
    theta = (0.5 * dt) * (w0 + w1) + (dt * dt / 12.0) * np.cross(w0, w1)
    return _quat.from_rotvec(theta)


def _strapdown(gyr: FloatArray, dt: float, q_start: FloatArray,
               w_before: FloatArray | None) -> FloatArray:
    """Orientation at every sample of ``gyr``.

    Without ``w_before`` (start of a segment) the first sample has orientation ``q_start``;
    with it (continuing a stream) the first sample is one increment after ``q_start``.
    """
    m = gyr.shape[0]
    dq = _increments(gyr, dt, w_before)
    if w_before is None:
        out = np.empty((m, 4))
        out[0] = q_start
        if m > 1:
            dq[0] = _quat.mul(q_start, dq[0])
            out[1:] = _quat.cumprod(dq)
        return out
    dq[0] = _quat.mul(q_start, dq[0])
    return _quat.cumprod(dq)


@dataclass(frozen=True)
class _Blocks:
    """Block statistics (one row per block) on the gyro-world frame of the strapdown."""

    q_mean: FloatArray  # (k, 4) normalised mean orientation (sensor -> gyro world)
    f_w: FloatArray  # (k, 3) mean specific force in the gyro world, m/s²
    wz: FloatArray  # (k,) mean world-vertical rotation rate, rad/s
    w_mean: FloatArray  # (k, 3) mean angular rate in the integration frame, rad/s
    w_var: FloatArray  # (k,) variance of the angular rate (sum over axes), rad²/s²
    f_var: FloatArray  # (k,) variance of the specific force (sum over axes), m²/s⁴
    dur_s: FloatArray  # (k,) block duration
    t_s: FloatArray  # (k,) block centre, s from the segment start

    @staticmethod
    def concat(parts: list[_Blocks]) -> _Blocks:
        return _Blocks(*(np.concatenate([getattr(p, f.name) for p in parts], axis=0)
                         for f in fields(_Blocks)))

    def select(self, sl: slice) -> _Blocks:
        return _Blocks(*(getattr(self, f.name)[sl] for f in fields(_Blocks)))

    @property
    def size(self) -> int:
        return int(self.dur_s.shape[0])


def _blocks_from_means(qm: FloatArray, f_w: FloatArray, w_mean: FloatArray, w_sq: FloatArray,
                       f_mean: FloatArray, f_sq: FloatArray, counts: FloatArray, t_c: FloatArray,
                       fs: float) -> _Blocks:
    qm = qm / np.linalg.norm(qm, axis=1, keepdims=True)
    # world-vertical rotation rate (mean rate turned by the mean orientation; weights turns)
    wz = _quat.rotate(qm, w_mean)[:, 2]
    w_var = np.maximum(w_sq - np.einsum("ki,ki->k", w_mean, w_mean), 0.0)
    f_var = np.maximum(f_sq - np.einsum("ki,ki->k", f_mean, f_mean), 0.0)
    return _Blocks(qm, f_w, wz, w_mean, w_var, f_var, counts / fs, t_c)


def _block_stats(q: FloatArray, acc: FloatArray, gyr: FloatArray, starts: IntArray,
                 t0_index: int, fs: float) -> _Blocks:
    """Statistics of the blocks ``[starts[i], starts[i+1])`` (the last runs to the end)."""
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    ax, ay, az = acc[:, 0], acc[:, 1], acc[:, 2]
    # specific force in the gyro world: v + 2w(u×v) + 2u×(u×v), with t = 2 u×v
    tx = 2.0 * (y * az - z * ay)
    ty = 2.0 * (z * ax - x * az)
    tz = 2.0 * (x * ay - y * ax)
    fx = ax + w * tx + (y * tz - z * ty)
    fy = ay + w * ty + (z * tx - x * tz)
    fz = az + w * tz + (x * ty - y * tx)
    gx, gy, gz = gyr[:, 0], gyr[:, 1], gyr[:, 2]
    cols = np.stack([w, x, y, z, fx, fy, fz, gx, gy, gz, gx * gx + gy * gy + gz * gz,
                     ax, ay, az, ax * ax + ay * ay + az * az], axis=0)
    sums = np.add.reduceat(cols, starts, axis=1)
    counts = np.diff(np.append(starts, q.shape[0])).astype(np.float64)
    means = sums / counts
    t_centre = (t0_index + starts + 0.5 * (counts - 1.0)) / fs
    return _blocks_from_means(means[0:4].T, np.ascontiguousarray(means[4:7].T),
                              np.ascontiguousarray(means[7:10].T), means[10],
                              np.ascontiguousarray(means[11:14].T), means[14], counts, t_centre, fs)


def _block_starts(n: int, block: int, offset: int = 0) -> npt.NDArray[np.intp]:
    """Start indices of blocks of ``block`` samples on the grid ``offset + j * block``."""
    first = (-offset) % block
    return np.arange(first, n, block, dtype=np.intp)


def _nconv(x: FloatArray, w: FloatArray, sigma_blocks: float) -> FloatArray:
    """Normalised convolution with a Gaussian along axis 0 (zero outside the data)."""
    shape = (-1,) + (1,) * (x.ndim - 1)
    num = gaussian_filter1d(x * w.reshape(shape), sigma_blocks, axis=0, mode="constant", truncate=3.0)
    den = gaussian_filter1d(w, sigma_blocks, mode="constant", truncate=3.0)
    return np.asarray(num / np.maximum(den, 1e-300).reshape(shape), dtype=np.float64)


def _skew(v: FloatArray) -> FloatArray:
    o = np.zeros(v.shape[:-1])
    return np.stack([np.stack([o, -v[..., 2], v[..., 1]], -1),
                     np.stack([v[..., 2], o, -v[..., 0]], -1),
                     np.stack([-v[..., 1], v[..., 0], o], -1)], -2)


def _rot_to_z(u: FloatArray) -> FloatArray:
    """Quaternions of the smallest rotations taking unit vectors ``u`` onto +z."""
    q = np.empty(u.shape[:-1] + (4,))
    q[..., 0] = 1.0 + u[..., 2]
    q[..., 1] = u[..., 1]  # u × z = (u_y, -u_x, 0)
    q[..., 2] = -u[..., 0]
    q[..., 3] = 0.0
    return _quat.normalise(q)


def _turn_weights(blk: _Blocks, s: OrientationSettings) -> FloatArray:
    """Weight of each block in the gravity estimate: low while the heading changes."""
    if blk.size == 0:
        return np.zeros(0)
    rate = blk.wz - np.median(blk.wz)  # the median removes the vertical gyroscope bias
    rate = gaussian_filter1d(rate, s.turn_smooth_s / s.block_s, mode="nearest")
    return np.asarray(1.0 / (1.0 + (rate / s.turn_rate_rads) ** 2), dtype=np.float64)


def _bias_step(e_mid: FloatArray, blk: _Blocks, weights: FloatArray,
               s: OrientationSettings) -> tuple[FloatArray, FloatArray]:
    """One linearised fit of ``(δb, β)`` given the current drift correction ``e_mid``.

    Returns the *increment* of the gyroscope bias (rad/s) and the full accelerometer offset
    divided by g (sensor frame).
    """
    k = blk.size
    if k < 3:
        return np.zeros(3), np.zeros(3)
    r_e = _quat.matrix(e_mid)
    r_c = r_e @ _quat.matrix(blk.q_mean)  # corrected block orientation, sensor -> world
    f_c = (r_e @ blk.f_w[:, :, None])[:, :, 0]
    sig = s.bias_window_s / s.block_s
    u = _nconv(f_c, weights, sig)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    a = -(_skew(u) @ r_c) * blk.dur_s[:, None, None]
    c = np.cumsum(a, axis=0) - 0.5 * a  # drift at block centres
    n_par = 9 if s.estimate_acc_offset else 6
    x = np.zeros((k, 3, n_par))
    x[:, :, 0:3] = np.eye(3)
    x[:, :, 3:6] = c
    if s.estimate_acc_offset:
        x[:, :, 6:9] = _nconv(r_c, weights, sig)
    xw = (x * weights[:, None, None]).reshape(-1, n_par)
    # einsum, not ``xw.T @ ...``: these small products would go to BLAS, whose helper threads
    # cost more CPU than the products (spinning after each call) and whose sums depend on the
    # machine's thread count; the result must not.
    normal = np.einsum("ri,rj->ij", xw, x.reshape(-1, n_par))
    rhs = np.einsum("ri,r->i", xw, u.reshape(-1))
    # Gaussian priors (ridge) on the bias and the offset: keep unobservable directions at zero
    # (e.g. the offset while the heading has not changed yet, the vertical gyroscope bias)
    normal[3:6, 3:6] += (s.vertical_noise / s.gyr_bias_prior_rads) ** 2 * np.eye(3)
    if s.estimate_acc_offset:
        normal[6:9, 6:9] += (s.vertical_noise * G_MS2 / s.acc_offset_prior_ms2) ** 2 * np.eye(3)
    try:
        sol = np.asarray(np.linalg.solve(normal, rhs), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.zeros(3), np.zeros(3)
    beta = sol[6:9] if s.estimate_acc_offset else np.zeros(3)
    return sol[3:6], beta


def _quiet_bias(blk: _Blocks, s: OrientationSettings) -> FloatArray:
    """Gyroscope bias from the blocks where the sensor is still (zeros without enough of them).

    Still = the angular rate and the specific force barely vary and the specific force is g.
    The median over those blocks' mean rates is the bias (all three axes, the vertical one
    included, which gravity cannot reveal).
    """
    quiet = (blk.w_var < s.quiet_gyr_rads**2) & (blk.f_var < s.quiet_acc_ms2**2) & (
        np.abs(np.linalg.norm(blk.f_w, axis=1) - G_MS2) < 0.15 * G_MS2)
    if float(blk.dur_s[quiet].sum()) < s.min_quiet_s:
        return np.zeros(3)
    return np.asarray(np.median(blk.w_mean[quiet], axis=0), dtype=np.float64)


def _drift_quats(blk: _Blocks, bias_rads: FloatArray,
                 e_start: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Bias correction ``E`` at block centres and after the last block.

    ``E' = E · [-R δb]×`` (world-frame error of integrating with the wrong bias), as an exact
    block-level product of rotations ``exp(-R̄_k δb Δt_k)`` (error O(|δb| Δt)² per block).
    """
    rv = -(_quat.matrix(blk.q_mean) @ bias_rads) * blk.dur_s[:, None]
    dq = _quat.from_rotvec(rv)
    dq0 = dq.copy()
    dq0[0] = _quat.mul(e_start, dq0[0])
    e_end = _quat.cumprod(dq0)  # E after each block
    e_before = np.concatenate([e_start[None, :], e_end[:-1]], axis=0)
    e_mid = _quat.mul(e_before, _quat.from_rotvec(0.5 * rv))
    return e_mid, e_end[-1]


def _gravity_correction(e_mid: FloatArray, blk: _Blocks, weights: FloatArray, beta: FloatArray,
                        s: OrientationSettings) -> FloatArray:
    """World correction ``K`` at block centres: ``rot(u -> z) ⊗ E``."""
    r_e = _quat.matrix(e_mid)
    f_c = (r_e @ blk.f_w[:, :, None])[:, :, 0]
    off = (r_e @ (_quat.matrix(blk.q_mean) @ beta)[:, :, None])[:, :, 0] * G_MS2
    u = _nconv(f_c - off, weights, s.gravity_window_s / s.block_s) + off
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    k = _quat.mul(_rot_to_z(u), e_mid)
    # keep a continuous sign for interpolation
    flip = np.concatenate(([1.0], np.sign(np.einsum("ki,ki->k", k[1:], k[:-1]))))
    flip[flip == 0] = 1.0
    return np.asarray(k * np.cumprod(flip)[:, None], dtype=np.float64)


def _interp_quat(t: FloatArray, t_knots: FloatArray, q_knots: FloatArray) -> FloatArray:
    """Normalised linear interpolation of slowly varying quaternions (constant beyond the ends)."""
    out = np.empty((t.shape[0], 4))
    for i in range(4):
        out[:, i] = np.interp(t, t_knots, q_knots[:, i])
    return _quat.normalise(out)


def _angles(q_ws: FloatArray, q_sb_t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """z-x-y angles (rad) of ``R_wb = R(q_ws) · r_sbᵀ``: yaw, obliquity, tilt."""
    p = _quat.mul(q_ws, q_sb_t[None, :])
    w, x, y, z = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    r21 = 2.0 * (y * z + w * x)
    r20 = 2.0 * (x * z - w * y)
    r22 = 1.0 - 2.0 * (x * x + y * y)
    r01 = 2.0 * (x * y - w * z)
    r11 = 1.0 - 2.0 * (x * x + z * z)
    return np.arctan2(-r01, r11), np.arcsin(np.clip(r21, -1.0, 1.0)), np.arctan2(-r20, r22)


def _heading_sos(s: OrientationSettings, fs: float) -> tuple[FloatArray, int]:
    """Low-pass of the heading and the decimation factor it runs at (to about 20 Hz)."""
    dec = max(int(fs // 20.0), 1)
    sos = np.asarray(butter(s.heading_order, s.heading_cutoff_hz, fs=fs / dec, output="sos"))
    return sos, dec


def _heading(yaw_unwrapped: FloatArray, filt: tuple[FloatArray, int]) -> FloatArray:
    """Zero-phase low-pass of the unwrapped yaw (rad).

    Runs on means over ``dec`` samples (a boxcar of 50 ms, flat far beyond the 0.6 Hz cutoff)
    and is linearly interpolated back; the heading is smooth, so this costs < 0.05° even in a
    sharp turn and saves most of the filtering time.
    """
    sos, dec = filt
    n = yaw_unwrapped.shape[0]
    starts = np.arange(0, n, dec)
    counts = np.diff(np.append(starts, n))
    means = np.add.reduceat(yaw_unwrapped, starts) / counts
    if means.shape[0] <= 3 * (2 * sos.shape[0] + 1):
        return np.full(n, float(np.mean(yaw_unwrapped)))
    smooth = zero_phase(sos, means)
    if dec == 1:
        return np.asarray(smooth, dtype=np.float64)
    t_mean = starts + 0.5 * (counts - 1)
    return np.interp(np.arange(n, dtype=np.float64), t_mean, smooth)


def _r_sb_of(mounting: _HasRsb | npt.ArrayLike) -> tuple[FloatArray, str]:
    r = getattr(mounting, "r_sb", None)
    ref = str(getattr(mounting, "reference", "given"))
    r_sb = np.asarray(mounting if r is None else r, dtype=np.float64)
    if r_sb.shape != (3, 3) or not np.allclose(r_sb @ r_sb.T, np.eye(3), atol=1e-6) \
            or np.linalg.det(r_sb) < 0:
        raise SignalError("mounting must be a Mounting or a (3, 3) proper rotation r_sb")
    return r_sb, ref


# ============================================================================ batch
def pelvis_orientation(
    acc_ms2: npt.ArrayLike,
    gyr_rads: npt.ArrayLike | None,
    fs_hz: float,
    mounting: _HasRsb | npt.ArrayLike,
    *,
    segments: Iterable[Any] | None = None,
    settings: OrientationSettings | None = None,
) -> PelvisAngles:
    """Pelvis tilt, obliquity and rotation per sample (see the module docstring for the method).

    Args:
        acc_ms2: ``(n, 3)`` specific force, sensor frame, m/s² (gravity included).
        gyr_rads: ``(n, 3)`` angular rate, sensor frame, rad/s. Required.
        fs_hz: sample rate within segments.
        mounting: a :class:`~imurun.signal.mounting.Mounting` (or any object with ``r_sb``,
            such as the simulator's), or the ``(3, 3)`` matrix ``r_sb`` (``v_bf = r_sb v_sf``).
        segments: ``[start, stop)`` ranges of contiguous samples; each is integrated and
            corrected on its own, nothing crosses a boundary. ``None``: one segment.
        settings: :class:`OrientationSettings`.

    Returns:
        :class:`PelvisAngles` with NaN outside the analysed segments.

    Raises:
        SignalError: no gyroscope, wrong shapes, non-finite samples inside a segment.

    """
    s = OrientationSettings() if settings is None else settings
    fs = check_fs(fs_hz)
    acc = as_signal(acc_ms2, "acc_ms2")
    n = acc.shape[0]
    if gyr_rads is None:
        raise SignalError("pelvic angles need a gyroscope (gyr_rads is None)")
    gyr = as_signal(gyr_rads, "gyr_rads", n)
    r_sb, reference = _r_sb_of(mounting)
    segs = normalise_segments(segments, n)
    block = max(int(round(s.block_s * fs)), 1)
    sos = _heading_sos(s, fs)
    out = np.empty((5, n))  # degrees: tilt, obliquity, rotation, yaw, heading
    done = 0  # samples before this one are written
    used: list[tuple[int, int]] = []
    biases: list[FloatArray] = []
    offsets: list[FloatArray] = []
    for a, b in segs:
        if (b - a) < s.min_segment_s * fs:
            continue
        sa, sg = acc[a:b], gyr[a:b]
        if not (np.all(np.isfinite(sa)) and np.all(np.isfinite(sg))):
            raise SignalError(f"non-finite samples inside segment ({a}, {b}); split the "
                              "recording into segments around them")
        out[:, done:a] = np.nan
        dst = out[:, a:b]
        bias, beta = _segment_into(sa, sg, fs, block, r_sb, s, dst, RAD2DEG)  # yaw: radians
        yaw_u = dst[3]
        head = _heading(yaw_u, sos)
        np.subtract(yaw_u, head, out=dst[2])
        dst[2] *= RAD2DEG
        np.multiply(head, RAD2DEG, out=dst[4])
        yaw_u *= RAD2DEG
        done = b
        used.append((a, b))
        biases.append(bias)
        offsets.append(beta * G_MS2)
    out[:, done:] = np.nan
    return PelvisAngles(
        tilt_deg=out[0], obliquity_deg=out[1], rotation_deg=out[2], yaw_deg=out[3],
        heading_deg=out[4], fs_hz=fs, reference=reference, segments=tuple(used),
        gyr_bias_rads=np.array(biases).reshape(-1, 3), acc_offset_ms2=np.array(offsets).reshape(-1, 3),
        settings=s,
    )


#: Elements per chunk of the element-wise per-sample stages of :func:`_segment`: their
#: temporaries then stay in cache and are recycled by the allocator instead of being fresh
#: full-length arrays (whose page faults cost more than the arithmetic).
_CHUNK_ELEMS = 32768
#: Blocks per tile when :func:`_segment` moves samples between time order and its
#: ``(block, nb)`` layout (a tile of the transposition stays in cache).
_TILE_BLOCKS = 32


def _row_chunks(block: int, nb: int) -> list[slice]:
    """Slices of rows of the ``(block, nb)`` layout, about :data:`_CHUNK_ELEMS` each."""
    rows = max(1, _CHUNK_ELEMS // max(nb, 1))
    return [slice(r, min(r + rows, block)) for r in range(0, block, rows)]


def _segment(acc: FloatArray, gyr: FloatArray, fs: float, block: int, r_sb: FloatArray,
             s: OrientationSettings) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """One segment, batch. Returns yaw, obliquity, tilt (rad), gyro bias and offset/g (sensor).

    :func:`_segment_into` with arrays of its own.
    """
    dst = np.empty((5, gyr.shape[0]))
    bias, beta = _segment_into(acc, gyr, fs, block, r_sb, s, dst, 1.0)
    return dst[3], dst[1], dst[0], bias, beta


def _segment_into(acc: FloatArray, gyr: FloatArray, fs: float, block: int, r_sb: FloatArray,
                  s: OrientationSettings, dst: FloatArray, angle_scale: float,
                  ) -> tuple[FloatArray, FloatArray]:
    """One segment, batch. Returns the gyro bias and offset/g (sensor frame).

    Writes into ``dst`` (``(5, n)``, rows as :class:`PelvisAngles`) tilt and obliquity times
    ``angle_scale`` (radians times :data:`RAD2DEG` are degrees) in rows 0 and 1, and the
    unwrapped yaw in *radians* in row 3 (the caller derives the heading and rotation from it).

    Same maths as the generic path used by the stream (:func:`_strapdown`,
    :func:`_block_stats`, :func:`_angles`), arranged for speed: the signals are first rotated
    into the body frame (so the orientation integrated is directly body-to-world), the
    blocked prefix product uses the drift-estimation blocks as its blocks (samples laid out
    position-major, ``(block, n_blocks)``), block statistics are taken from the local
    products, and the per-sample correction ``K(t) ⊗ P_b`` is interpolated from three
    block-level products (quaternion products are linear, so interpolating before or after
    multiplying by the block prefix ``P_b`` is the same). Angles use homogeneous formulas, so
    the interpolated quaternions need no normalisation. Element-wise stages run a few rows at
    a time (:func:`_row_chunks`); every sample gets the same arithmetic as in one pass.
    """
    n = gyr.shape[0]
    dt = 1.0 / fs
    nb = -(-n // block)
    m = nb * block
    full = n // block  # complete blocks
    last = n - (nb - 1) * block  # samples in the last block
    chunks = _row_chunks(block, nb)
    # body-frame signals, position-major layout (block, nb); padding is masked below
    # (per-sample work in float32: its rounding, ~1e-7 rad per product and ~1e-5 rad over a
    # block, is far below the sensor's noise; block-level quantities are float64)
    r32 = r_sb.astype(_WORK)

    # per-sample planes are allocated a few at a time: one allocation of several MB is backed
    # by huge pages, where each plane on its own would take thousands of page faults
    planes = np.zeros((6, block, nb), dtype=_WORK)  # body-frame gyroscope, specific force

    def lay(x: FloatArray, out: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        x3 = x[:full * block].reshape(full, block, 3)
        t = np.empty((3, block, _TILE_BLOCKS), dtype=_WORK)
        for c0 in range(0, full, _TILE_BLOCKS):  # a few blocks at a time: cache-friendly
            c1 = min(c0 + _TILE_BLOCKS, full)
            tk = t[:, :, :c1 - c0]
            tk[...] = x3[c0:c1].transpose(2, 1, 0)  # (axis, position, block), float32
            for i in range(3):
                o = tk[0] * r32[i, 0]
                o += tk[1] * r32[i, 1]
                o += tk[2] * r32[i, 2]
                out[i][:, c0:c1] = o
        if full < nb:
            tl = x[full * block:].astype(_WORK)
            for i in range(3):
                o = tl[:, 0] * r32[i, 0]
                o += tl[:, 1] * r32[i, 1]
                o += tl[:, 2] * r32[i, 2]
                out[i][:last, full] = o
        return list(out)
    w = lay(gyr, planes[:3])
    f = lay(acc, planes[3:])
    # rotation vector of every sample interval (trapezoid + coning), with the rate of the
    # previous sample (row 0 takes the last row of the previous block; sample 0 itself)
    h, k12 = _WORK(0.5 * dt), _WORK(dt * dt / 12.0)
    row0_prev = [np.concatenate((c[0, :1], c[-1, :-1])) for c in w]
    tx, ty, tz = np.empty((3, block, nb), dtype=_WORK)
    for sl in chunks:
        if sl.start == 0:
            a0, a1, a2 = (np.concatenate((p[None, :], c[:sl.stop - 1])) for p, c in
                          zip(row0_prev, w, strict=True))
        else:
            a0, a1, a2 = (c[sl.start - 1:sl.stop - 1] for c in w)
        b0, b1, b2 = (c[sl] for c in w)
        tx[sl] = h * (a0 + b0) + k12 * (a1 * b2 - a2 * b1)
        ty[sl] = h * (a1 + b1) + k12 * (a2 * b0 - a0 * b2)
        tz[sl] = h * (a2 + b2) + k12 * (a0 * b1 - a1 * b0)
    tx[0, 0] = ty[0, 0] = tz[0, 0] = 0.0  # sample 0: identity
    if n < m:  # padding: identity increments
        tx[last:, -1] = ty[last:, -1] = tz[last:, -1] = 0.0
    qw = _rotvec_to_quat_inplace(tx, ty, tz, chunks)
    qx, qy, qz = tx, ty, tz
    # local prefix products inside each block (sequential over positions, vectorised over blocks)
    for j in range(1, block):
        qw[j], qx[j], qy[j], qz[j] = _quat._mul4(qw[j - 1], qx[j - 1], qy[j - 1], qz[j - 1],
                                                 qw[j], qx[j], qy[j], qz[j])
    totals = np.stack([qw[-1], qx[-1], qy[-1], qz[-1]], axis=-1).astype(np.float64)
    # re-normalise: float32 rounding shrinks the norm by ~5e-6 per block, which would add up
    pref = _quat.cumprod(_quat.normalise(totals))
    p_b = np.concatenate([[[1.0, 0.0, 0.0, 0.0]], pref[:-1]], axis=0)  # (nb, 4) block prefix
    # block statistics from the local products
    counts = np.full(nb, float(block))
    counts[-1] = last

    def bmean(x: npt.NDArray[np.float32]) -> FloatArray:
        # column sums run down the rows in order (numpy's axis-0 reduction); the padded rows
        # of the last block do not count
        tot = x.sum(axis=0, dtype=np.float64)
        if n < m:
            tot[-1] = np.add.accumulate(x[:last, -1], dtype=np.float64)[-1]
        return np.asarray(tot / counts, dtype=np.float64)
    lam_mean = np.stack([bmean(qw), bmean(qx), bmean(qy), bmean(qz)], axis=-1)
    ax, ay, az = f
    w_mean = np.stack([bmean(c) for c in w], axis=-1)
    f_mean = np.stack([bmean(ax), bmean(ay), bmean(az)], axis=-1)
    # squared norms, then the specific force rotated by the local products,
    # v + 2w(u×v) + 2u×(u×v), written over the body-frame signals (no longer needed)
    two = _WORK(2.0)
    w_sq_s, f_sq_s = np.empty((2, block, nb), dtype=_WORK)
    for sl in chunks:
        w0, w1, w2 = (c[sl] for c in w)
        w_sq_s[sl] = w0 * w0 + w1 * w1 + w2 * w2
        x_, y_, z_ = ax[sl], ay[sl], az[sl]
        f_sq_s[sl] = x_ * x_ + y_ * y_ + z_ * z_
        pw_, px_, py_, pz_ = qw[sl], qx[sl], qy[sl], qz[sl]
        cx = two * (py_ * z_ - pz_ * y_)
        cy = two * (pz_ * x_ - px_ * z_)
        cz = two * (px_ * y_ - py_ * x_)
        fx = x_ + pw_ * cx + (py_ * cz - pz_ * cy)
        fy = y_ + pw_ * cy + (pz_ * cx - px_ * cz)
        fz = z_ + pw_ * cz + (px_ * cy - py_ * cx)
        ax[sl], ay[sl], az[sl] = fx, fy, fz
    w_sq = bmean(w_sq_s)
    f_sq = bmean(f_sq_s)
    del w_sq_s, f_sq_s, w
    f_loc = np.stack([bmean(ax), bmean(ay), bmean(az)], axis=-1)
    del f, ax, ay, az, planes
    f_w = _quat.rotate(p_b, f_loc)
    t_c = ((np.arange(nb) * block) + 0.5 * (counts - 1.0)) / fs
    blk = _blocks_from_means(_quat.mul(p_b, lam_mean), f_w, w_mean, w_sq, f_mean, f_sq, counts,
                             t_c, fs)
    # drift and gravity corrections (block level, body-frame bias)
    bias_b, beta_b, k_mid = _corrections(blk, s)
    # per-sample correction: interpolate K ⊗ P_b between the neighbouring block centres
    km = _quat.mul(k_mid[np.maximum(np.arange(nb) - 1, 0)], p_b)
    k0 = _quat.mul(k_mid, p_b)
    kp = _quat.mul(k_mid[np.minimum(np.arange(nb) + 1, nb - 1)], p_b)
    half = (block + 1) // 2  # rows before the centre interpolate towards the previous block
    # interpolation weight = (t - t_left) / (t_right - t_left) = row * slope + offset, per block
    t0 = np.arange(nb) * block / fs  # time of each block's first sample
    t_prev = t_c[np.maximum(np.arange(nb) - 1, 0)]
    t_next = t_c[np.minimum(np.arange(nb) + 1, nb - 1)]
    span_lo = np.where(t_c > t_prev, t_c - t_prev, np.inf)
    span_hi = np.where(t_next > t_c, t_next - t_c, np.inf)
    no_prev = ~np.isfinite(span_lo)
    rows = (np.arange(block, dtype=np.float64) / fs)[:, None]
    # yaw relative to each block's mean yaw: small, so arctan (not arctan2) and no unwrapping;
    # the block yaws are unwrapped at block level (assumes < 180° of turn per block)
    q_ref = _quat.mul(k_mid, blk.q_mean)
    wr, xr, yr, zr = q_ref[:, 0], q_ref[:, 1], q_ref[:, 2], q_ref[:, 3]
    psi = np.unwrap(np.arctan2(-2.0 * (xr * yr - wr * zr), wr * wr - xr * xr + yr * yr - zr * zr))
    rz = np.zeros((nb, 4))
    rz[:, 0], rz[:, 3] = np.cos(0.5 * psi), -np.sin(0.5 * psi)  # Rz(-psi)
    knots = [_quat.mul(rz, v).astype(_WORK) for v in (km, k0, kp)]
    lo_k, mid_k, hi_k = ([np.ascontiguousarray(k[:, i]) for i in range(4)] for k in knots)
    ang = np.empty((3, block, nb), dtype=_WORK)  # yaw - psi, obliquity, tilt

    def angles_of(sl: slice, small: bool) -> bool:
        """Angles of the rows ``sl``; ``False`` if ``small`` was requested but does not hold."""
        g = [np.empty((sl.stop - sl.start, nb), dtype=_WORK) for _ in range(4)]
        lo_rows = slice(sl.start, min(sl.stop, half))
        hi_rows = slice(max(sl.start, half), sl.stop)
        if lo_rows.stop > lo_rows.start:
            a_lo = np.clip((rows[lo_rows] + (t0 - t_prev)) / span_lo, 0.0, 1.0)
            a_lo[:, no_prev] = 1.0
            a_lo = a_lo.astype(_WORK)
            for i in range(4):
                g[i][:lo_rows.stop - sl.start] = lo_k[i] + a_lo * (mid_k[i] - lo_k[i])
        if hi_rows.stop > hi_rows.start:
            a_hi = np.clip((rows[hi_rows] + (t0 - t_c)) / span_hi, 0.0, 1.0).astype(_WORK)
            for i in range(4):
                g[i][hi_rows.start - sl.start:] = mid_k[i] + a_hi * (hi_k[i] - mid_k[i])
        pw, px, py, pz = _quat._mul4(g[0], g[1], g[2], g[3], qw[sl], qx[sl], qy[sl], qz[sl])
        res = _angles_h(pw, px, py, pz, small=small, require_small=small)
        if res is None:
            return False
        for dst, v in zip(ang, res, strict=True):
            dst[sl] = v
        return True

    for sl in chunks:
        if not angles_of(sl, small=True):
            for sl_all in chunks:  # a yaw or tilt beyond ±90°: arctan2 everywhere, as in one pass
                angles_of(sl_all, small=False)
            break
    # back to time order in float64, a few blocks at a time: tilt and obliquity in degrees,
    # the yaw in radians (plus its block's psi)
    for c0 in range(0, full, _TILE_BLOCKS):  # complete blocks
        c1 = min(c0 + _TILE_BLOCKS, full)
        samples = slice(c0 * block, c1 * block)
        cols = (c1 - c0, block)
        np.add(ang[0][:, c0:c1].T, psi[c0:c1, None], out=dst[3, samples].reshape(cols))
        np.multiply(ang[1][:, c0:c1].T, angle_scale, out=dst[1, samples].reshape(cols),
                    dtype=np.float64)
        np.multiply(ang[2][:, c0:c1].T, angle_scale, out=dst[0, samples].reshape(cols),
                    dtype=np.float64)
    if full < nb:  # the last, incomplete block
        np.add(ang[0][:last, full], psi[full], out=dst[3, full * block:], dtype=np.float64)
        np.multiply(ang[1][:last, full], angle_scale, out=dst[1, full * block:],
                    dtype=np.float64)
        np.multiply(ang[2][:last, full], angle_scale, out=dst[0, full * block:],
                    dtype=np.float64)
    return r_sb.T @ bias_b, r_sb.T @ beta_b


def _rotvec_to_quat_inplace(tx: npt.NDArray[np.float32], ty: npt.NDArray[np.float32],
                            tz: npt.NDArray[np.float32], chunks: list[slice],
                            ) -> npt.NDArray[np.float32]:
    """Quaternions of rotation vectors; ``tx, ty, tz`` become the vector part, ``w`` is returned.

    Taylor series when every angle is small (series error < 1e-13), exact formulas otherwise.
    """
    a2 = np.empty_like(tx)
    for sl in chunks:
        x, y, z = tx[sl], ty[sl], tz[sl]
        a2[sl] = x * x + y * y + z * z
    series = float(a2.max(initial=0.0)) < 0.05**2
    cw = a2  # each chunk of the squared angles is read before its cosines replace it
    for sl in chunks:
        b2 = a2[sl].copy()
        if series:
            k = 0.5 + b2 * (-1.0 / 48.0 + b2 * (1.0 / 3840.0))
            cw[sl] = 1.0 + b2 * (-1.0 / 8.0 + b2 * (1.0 / 384.0 + b2 * (-1.0 / 46080.0)))
        else:
            a = np.sqrt(b2)
            small = a < 1e-4
            safe = np.where(small, 1.0, a)
            k = np.where(small, 0.5 - b2 / 48.0, np.sin(0.5 * safe) / safe)
            cw[sl] = np.cos(0.5 * a)
        tx[sl] *= k
        ty[sl] *= k
        tz[sl] *= k
    return cw


def _angles_h(w: FloatArray, x: FloatArray, y: FloatArray, z: FloatArray, small: bool = False,
              require_small: bool = False) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """z-x-y angles (rad) of body-to-world quaternions of any non-zero norm.

    ``small=True``: yaw and tilt are expected within ±90°, where the cosine terms are positive,
    so ``arctan`` of the ratio replaces ``arctan2`` (faster); if any sample is outside that
    range, ``arctan2`` is used, or, with ``require_small``, ``None`` is returned.
    """
    ww, xx, yy, zz = w * w, x * x, y * y, z * z
    two = np.asarray(2.0, dtype=w.dtype)
    sy, cy = -two * (x * y - w * z), ww - xx + yy - zz
    st, ct = -two * (x * z - w * y), ww - xx - yy + zz
    if small and bool(np.all(cy > 0)) and bool(np.all(ct > 0)):
        yaw, tilt = np.arctan(sy / cy), np.arctan(st / ct)
    elif require_small:
        return None
    else:
        yaw, tilt = np.arctan2(sy, cy), np.arctan2(st, ct)
    obl = np.arcsin(np.clip(two * (y * z + w * x) / (ww + xx + yy + zz), -1.0, 1.0))
    return yaw, obl, tilt


def _corrections(blk: _Blocks, s: OrientationSettings) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gyroscope bias, accelerometer offset / g and the correction ``K`` at block centres.

    Frame of the bias and offset = frame of the integrated rates (body in the batch path).
    """
    ident = np.array([1.0, 0.0, 0.0, 0.0])
    weights = _turn_weights(blk, s)
    bias = _quiet_bias(blk, s)
    beta = np.zeros(3)
    e_mid, _ = _drift_quats(blk, bias, ident)
    for _ in range(s.bias_iterations):
        d_bias, beta = _bias_step(e_mid, blk, weights, s)
        bias = bias + d_bias
        e_mid, _ = _drift_quats(blk, bias, ident)
    return bias, beta, _gravity_correction(e_mid, blk, weights, beta, s)


# ============================================================================ streaming
class PelvisOrientationStream:
    """Fixed-lag form of :func:`pelvis_orientation` with explicit, bounded state.

    ``update(acc, gyr)`` takes the next samples of one contiguous segment and returns the
    :class:`PelvisAngles` of the samples that are now final: those at least ``latency_s`` older
    than the newest sample (the gravity smoother and the heading filter look that far ahead).
    ``flush()`` returns the rest (end of the segment); ``reset()`` starts a new segment.

    The maths is the batch maths: the strapdown continues exactly across chunks (the state
    carries the last orientation and rate), block statistics are identical, and the bias /
    offset fit and the gravity smoother run on the blocks of the last ``history_s`` seconds up
    to the newest sample. The output therefore differs from the batch result only because the
    batch smoother also sees the future beyond ``latency_s`` and the past beyond ``history_s``
    (bounded in ``tests/test_orientation.py``).

    State (readable): ``q_last`` (orientation of the newest sample in the gyro world),
    ``w_last`` (its rate), ``bias_rads``, ``acc_offset_ms2``, ``n_seen``, ``n_emitted``.
    """

    def __init__(self, fs_hz: float, mounting: _HasRsb | npt.ArrayLike, *,
                 settings: OrientationSettings | None = None, latency_s: float = 10.0,
                 history_s: float = 300.0) -> None:
        self.fs_hz = check_fs(fs_hz)
        self.settings = OrientationSettings() if settings is None else settings
        if not latency_s > 0 or not history_s >= 2 * latency_s:
            raise SignalError("latency_s must be > 0 and history_s >= 2 * latency_s")
        self.latency_s = float(latency_s)
        self.history_s = float(history_s)
        self._r_sb, self.reference = _r_sb_of(mounting)
        self._q_sb_t = _quat.from_matrix(self._r_sb.T)
        self._block = max(int(round(self.settings.block_s * self.fs_hz)), 1)
        self._sos = _heading_sos(self.settings, self.fs_hz)
        self.reset()

    def reset(self) -> None:
        """Forget everything (start of a new segment)."""
        self.q_last = np.array([1.0, 0.0, 0.0, 0.0])
        self.w_last: FloatArray | None = None
        self.bias_rads = np.zeros(3)
        self.acc_offset_ms2 = np.zeros(3)
        self._bias_from_quiet = False
        self.n_seen = 0
        self.n_emitted = 0
        self._e_anchor = np.array([1.0, 0.0, 0.0, 0.0])  # drift correction at the history start
        self._blocks: _Blocks | None = None
        # samples not yet in a complete block / not yet emitted
        self._pend_q = np.zeros((0, 4))
        self._pend_acc = np.zeros((0, 3))
        self._pend_gyr = np.zeros((0, 3))
        self._pend_block_start = 0  # index into the pending arrays where the open block starts
        self._yaw_ctx = np.zeros(0)  # unwrapped yaw of recently emitted samples (filter context)

    def update(self, acc_ms2: npt.ArrayLike, gyr_rads: npt.ArrayLike) -> PelvisAngles:
        """Feed ``(m, 3)`` samples; return the angles that became final (possibly none)."""
        acc = as_signal(acc_ms2, "acc_ms2")
        gyr = as_signal(gyr_rads, "gyr_rads", acc.shape[0])
        if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(gyr))):
            raise SignalError("non-finite samples; call flush() and reset() around a gap")
        if acc.shape[0]:
            self._ingest(acc, gyr)
        n_final = self.n_seen - int(round(self.latency_s * self.fs_hz))
        return self._emit(max(n_final, self.n_emitted), final=False)

    def flush(self) -> PelvisAngles:
        """Return the angles of every sample not yet returned (the segment has ended)."""
        if self._pend_q.shape[0] > self._pend_block_start:
            self._close_blocks(final=True)
        return self._emit(self.n_seen, final=True)

    # ---------------------------------------------------------------- internals
    def _ingest(self, acc: FloatArray, gyr: FloatArray) -> None:
        dt = 1.0 / self.fs_hz
        q = _strapdown(gyr, dt, self.q_last, self.w_last)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        self.q_last, self.w_last = q[-1].copy(), gyr[-1].copy()
        self.n_seen += acc.shape[0]
        self._pend_q = np.concatenate([self._pend_q, q])
        self._pend_acc = np.concatenate([self._pend_acc, acc])
        self._pend_gyr = np.concatenate([self._pend_gyr, gyr])
        self._close_blocks(final=False)

    def _close_blocks(self, final: bool) -> None:
        s = self.settings
        open_n = self._pend_q.shape[0] - self._pend_block_start
        n_full = open_n // self._block
        starts = self._pend_block_start + np.arange(n_full, dtype=np.intp) * self._block
        if final and open_n % self._block:
            starts = np.append(starts, self._pend_block_start + n_full * self._block)
        if starts.size == 0:
            return
        stop = self._pend_block_start + n_full * self._block if not (final and open_n % self._block) \
            else self._pend_q.shape[0]
        first_abs = self.n_seen - self._pend_q.shape[0]  # absolute index of pending sample 0
        sl = slice(int(starts[0]), stop)
        new = _block_stats(self._pend_q[sl], self._pend_acc[sl], self._pend_gyr[sl],
                           starts - starts[0], first_abs + int(starts[0]), self.fs_hz)
        self._blocks = new if self._blocks is None else _Blocks.concat([self._blocks, new])
        keep = int(np.ceil(self.history_s / s.block_s))
        if self._blocks.size > keep:  # move the anchor of the drift correction forward
            old = self._blocks
            dropped = old.select(slice(None, -keep))
            _, self._e_anchor = _drift_quats(dropped, self.bias_rads, self._e_anchor)
            self._blocks = old.select(slice(-keep, None))
        self._pend_block_start = stop
        if not self._bias_from_quiet:  # still periods give the bias directly (as in the batch)
            b0 = _quiet_bias(self._blocks, s)
            if np.any(b0 != 0.0):
                self.bias_rads = b0
                self._bias_from_quiet = True
        # one more linearised step of the bias / offset fit on the history (as one batch iteration)
        weights = _turn_weights(self._blocks, s)
        e_mid, _ = _drift_quats(self._blocks, self.bias_rads, self._e_anchor)
        d_bias, beta = _bias_step(e_mid, self._blocks, weights, s)
        self.bias_rads = self.bias_rads + d_bias
        self.acc_offset_ms2 = beta * G_MS2

    def _emit(self, upto: int, final: bool) -> PelvisAngles:
        s = self.settings
        m = upto - self.n_emitted
        first_abs = self.n_seen - self._pend_q.shape[0]
        if m <= 0 or self._blocks is None:
            return self._result(np.zeros((5, 0)))
        blk = self._blocks
        weights = _turn_weights(blk, s)
        e_mid, _ = _drift_quats(blk, self.bias_rads, self._e_anchor)
        k_mid = _gravity_correction(e_mid, blk, weights, self.acc_offset_ms2 / G_MS2, s)
        # orientation of every pending sample (emitted ones + look-ahead for the heading filter)
        t = (first_abs + np.arange(self._pend_q.shape[0])) / self.fs_hz
        q_ws = _quat.mul(_interp_quat(t, blk.t_s, k_mid), self._pend_q)
        yaw, obl, tilt = _angles(q_ws, self._q_sb_t)
        ctx = self._yaw_ctx
        i0 = self.n_emitted - first_abs  # pending samples before i0 were already returned
        yaw_u = np.unwrap(yaw)
        if ctx.size:
            # the correction was re-estimated: its slow yaw part may have moved; continue the
            # yaw already returned (the last returned sample is kept pending for this)
            yaw_u += ctx[-1] - yaw_u[i0 - 1]
        head = _heading(np.concatenate([ctx, yaw_u[i0:]]), self._sos)[ctx.size:]
        sel = slice(i0, i0 + m)
        yaw_e = yaw_u[sel]
        head_e = head[:m]
        res = np.stack([tilt[sel], obl[sel], yaw_e - head_e, yaw_e, head_e]) * RAD2DEG
        # keep a bounded yaw context for the next heading filter window
        n_ctx = int(round(max(4.0 / s.heading_cutoff_hz, 2.0 * self.latency_s) * self.fs_hz))
        self._yaw_ctx = np.concatenate([ctx, yaw_e])[-n_ctx:]
        self.n_emitted += m
        # drop emitted samples that are no longer needed by an open block
        drop = min(i0 + m - 1, self._pend_block_start)  # keep the last returned sample
        if drop > 0:
            self._pend_q = self._pend_q[drop:]
            self._pend_acc = self._pend_acc[drop:]
            self._pend_gyr = self._pend_gyr[drop:]
            self._pend_block_start -= drop
        return self._result(res)

    def _result(self, res: FloatArray) -> PelvisAngles:
        n = res.shape[1]
        return PelvisAngles(
            tilt_deg=np.ascontiguousarray(res[0]) if n else np.zeros(0),
            obliquity_deg=np.ascontiguousarray(res[1]) if n else np.zeros(0),
            rotation_deg=np.ascontiguousarray(res[2]) if n else np.zeros(0),
            yaw_deg=np.ascontiguousarray(res[3]) if n else np.zeros(0),
            heading_deg=np.ascontiguousarray(res[4]) if n else np.zeros(0),
            fs_hz=self.fs_hz, reference=self.reference,
            segments=((self.n_emitted - n, self.n_emitted),) if n else (),
            gyr_bias_rads=self.bias_rads.reshape(1, 3).copy(),
            acc_offset_ms2=self.acc_offset_ms2.reshape(1, 3).copy(),
            settings=self.settings,
        )


# ============================================================================ per-step metrics
def _reduce_both(x: FloatArray, i0: npt.NDArray[np.intp], i1: npt.NDArray[np.intp],
                 ) -> tuple[FloatArray, FloatArray]:
    """Max and min of ``x[i0[k]:i1[k]]`` per range (NaN for empty ranges), vectorised."""
    out_max = np.full(i0.size, np.nan)
    out_min = np.full(i0.size, np.nan)
    ok = i1 > i0
    if not ok.any():
        return out_max, out_min
    a, b = i0[ok], i1[ok]
    order = np.argsort(a, kind="stable")
    a_s, b_s = a[order], b[order]
    if np.all(a_s[1:] >= b_s[:-1]):  # disjoint and sorted (the usual case): one reduceat each
        edges = np.empty(2 * a_s.size, dtype=np.intp)
        edges[0::2], edges[1::2] = a_s, b_s
        if edges[-1] >= x.size:  # the last range runs to the end of x: reduceat's default
            edges = edges[:-1]
        v_max = np.maximum.reduceat(x, edges)[0::2]
        v_min = np.minimum.reduceat(x, edges)[0::2]
    else:  # overlapping ranges: a padded index matrix
        idx = a_s[:, None] + np.arange(int((b_s - a_s).max()))[None, :]
        mat = np.where(idx < b_s[:, None], x[np.minimum(idx, x.size - 1)], np.nan)
        valid = ~np.isnan(mat)
        with np.errstate(invalid="ignore"):
            v_max = np.max(mat, axis=1, initial=-np.inf, where=valid)
            v_min = np.min(mat, axis=1, initial=np.inf, where=valid)
    for out, vals in ((out_max, v_max), (out_min, v_min)):
        res = np.empty(a.size)
        res[order] = vals
        out[ok] = res
    return out_max, out_min


@dataclass(frozen=True, eq=False)
class _TimeBase:
    """What the per-step windows need from the sample times (computed once per series)."""

    t: FloatArray
    period: float  # median sample period
    gap: IntArray  # number of gaps (steps > 1.5 periods) before each sample

    @classmethod
    def of(cls, t: FloatArray) -> _TimeBase:
        if t.size < 2:
            return cls(t, float("nan"), np.zeros(t.size, dtype=np.intp))
        dt = np.diff(t)
        period = float(np.median(dt))
        # the count is constant between gaps (few): repeated per stretch rather than a
        # cumulative sum over every sample (a cumsum of booleans casts each one)
        after = np.flatnonzero(dt > 1.5 * period) + 1  # first sample after each gap
        lengths = np.diff(np.concatenate(([0], after, [t.size])))
        gap = np.repeat(np.arange(after.size + 1, dtype=np.intp), lengths)
        return cls(t, period, gap)


def _first_at_or_after(t: FloatArray, x: FloatArray,
                       known: tuple[FloatArray, npt.NDArray[np.intp]] | None = None,
                       ) -> npt.NDArray[np.intp]:
    """``searchsorted(t, x, side="left")``.

    With ``known = (x_prev, result_prev)``: an entry equal to the next entry of ``x_prev`` (a
    step's end that is the next step's IC) takes its result instead of being searched again.
    """
    if known is None:
        return np.searchsorted(t, x, side="left").astype(np.intp)
    kx, ki = known
    out = np.empty(x.shape, dtype=np.intp)
    same = np.zeros(x.shape, dtype=bool)
    same[:-1] = x[:-1] == kx[1:]  # stop k == start k + 1
    out[:-1][same[:-1]] = ki[1:][same[:-1]]
    rest = ~same
    out[rest] = np.searchsorted(t, x[rest], side="left")
    return out


def _bounds(tb: _TimeBase, start: FloatArray, stop: FloatArray,
            i_start: npt.NDArray[np.intp] | None = None,
            ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Sample ranges ``start <= t < stop`` and whether the samples cover each of them.

    ``i_start``: the search result of ``start`` when already known (the same events).
    """
    t = tb.t
    good = np.isfinite(start) & np.isfinite(stop) & (stop > start)
    s0 = np.where(good, start, 0.0)
    s1 = np.where(good, stop, 0.0)
    # a binary search per event misses the cache at every level on a long series: search only
    # what is new (the end of a step is usually the next step's IC, already searched)
    if i_start is None:
        i0 = _first_at_or_after(t, s0)
    else:
        i0 = np.where(good, i_start, np.searchsorted(t, 0.0, side="left")).astype(np.intp)
    i1 = np.maximum(_first_at_or_after(t, s1, known=(s0, i0)), i0)
    if t.size < 2:
        return i0, i1, np.zeros(start.shape, dtype=bool)
    period = tb.period
    last = np.clip(i1 - 1, 0, t.size - 1)
    first = np.clip(i0, 0, t.size - 1)
    good &= i1 > i0
    # samples cover the window: no gap inside, none at its start or end
    good &= (t[first] - s0 <= 1.5 * period) & (s1 - t[last] <= 1.5 * period)
    good &= tb.gap[last] == tb.gap[first]
    return i0, i1, good


def _measured(x: FloatArray, i0: npt.NDArray[np.intp], i1: npt.NDArray[np.intp],
              ) -> npt.NDArray[np.bool_]:
    """No NaN sample in ``x[i0[k]:i1[k]]``.

    The NaN samples before ``i1`` and before ``i0`` are counted by searching the (sorted) NaN
    positions rather than by a cumulative count over every sample.
    """
    nan = np.flatnonzero(np.isnan(x))
    return np.asarray(np.searchsorted(nan, i1, side="left")
                      == np.searchsorted(nan, i0, side="left"))


def _check_time(t_s: npt.ArrayLike, n: int | None = None) -> FloatArray:
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or (n is not None and t.shape != (n,)):
        raise SignalError(f"t_s must be 1-D like the angle series ({n} samples), got {t.shape}")
    if t.size > 1 and bool(np.any(t[1:] <= t[:-1])):
        raise SignalError("t_s must be strictly increasing")
    return t


def _check_series(angle_deg: npt.ArrayLike, t_s: npt.ArrayLike, name: str) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(angle_deg, dtype=np.float64)
    t = np.asarray(t_s, dtype=np.float64)
    if x.ndim != 1 or t.shape != x.shape:
        raise SignalError(f"{name} and t_s must be 1-D of the same length, got {x.shape} and {t.shape}")
    return x, _check_time(t)


def _events(*arrays: npt.ArrayLike) -> list[FloatArray]:
    out = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    if any(a.shape != out[0].shape for a in out):
        raise SignalError(f"event arrays must have the same length, got {[a.shape for a in out]}")
    return out


def _range_of(x: FloatArray, i0: npt.NDArray[np.intp], i1: npt.NDArray[np.intp],
              good: npt.NDArray[np.bool_]) -> FloatArray:
    hi, lo = _reduce_both(x, i0, i1)
    return np.where(good & _measured(x, i0, i1), hi - lo, np.nan)


def _drop_of(x: FloatArray, t: FloatArray, ic: FloatArray, sd: npt.NDArray[Any],
             i0: npt.NDArray[np.intp], i1: npt.NDArray[np.intp], good: npt.NDArray[np.bool_],
             ) -> FloatArray:
    good = good & _measured(x, i0, i1) & ((sd == 0) | (sd == 1))
    at_ic = np.zeros(ic.shape)  # only read where good
    at_ic[good] = np.interp(ic[good], t, x)
    hi, lo = _reduce_both(x, i0, i1)
    up = np.maximum(hi - at_ic, 0.0)
    down = np.maximum(at_ic - lo, 0.0)
    return np.where(good, np.where(sd == 0, up, down), np.nan)


def _range(angle_deg: npt.ArrayLike, t_s: npt.ArrayLike, ic_s: npt.ArrayLike,
           end_s: npt.ArrayLike | None, name: str) -> FloatArray:
    x, t = _check_series(angle_deg, t_s, name)
    (ic,) = _events(ic_s)
    end = np.append(ic[1:], np.nan) if end_s is None else _events(ic, end_s)[1]
    if t.size < 2:
        return np.full(ic.shape, np.nan)
    return _range_of(x, *_bounds(_TimeBase.of(t), ic, end))


def pelvic_tilt_range_deg(tilt_deg: npt.ArrayLike, t_s: npt.ArrayLike, ic_s: npt.ArrayLike,
                          end_s: npt.ArrayLike | None = None) -> FloatArray:
    """Per step: max − min of the tilt over ``ic_s[k] <= t < end`` (degrees, ≥ 0).

    ``end`` is the next IC (``end_s=None``; the last step is then NaN) or ``end_s[k]``. A step
    is NaN when its window is not fully measured (missing event, outside the series, across a
    gap in ``t_s``, NaN samples).
    """
    return _range(tilt_deg, t_s, ic_s, end_s, "tilt_deg")


def pelvic_rotation_range_deg(rotation_deg: npt.ArrayLike, t_s: npt.ArrayLike, ic_s: npt.ArrayLike,
                              end_s: npt.ArrayLike | None = None) -> FloatArray:
    """Per step: max − min of the pelvic rotation from this IC to the next (as the tilt range)."""
    return _range(rotation_deg, t_s, ic_s, end_s, "rotation_deg")


def pelvic_drop_deg(obliquity_deg: npt.ArrayLike, t_s: npt.ArrayLike, ic_s: npt.ArrayLike,
                    to_s: npt.ArrayLike, side: npt.ArrayLike) -> FloatArray:
    """Per step: how far the swing-side hip drops during stance, relative to its level at IC.

    Stance is ``ic_s[k] <= t < to_s[k]``; the obliquity at IC is linearly interpolated. Left
    stance (``side == 0``): the right hip drops, so obliquity (+ = left hip up) rises and the
    drop is ``max(obliquity − obliquity_IC)``; right stance (``side == 1``):
    ``max(obliquity_IC − obliquity)``. The IC value is included, so the drop is ≥ 0 (degrees).
    Unknown side (any other code, e.g. ``Side.UNKNOWN``) or a stance that is not fully measured
    gives NaN. Same definition as the simulator's truth.
    """
    x, t = _check_series(obliquity_deg, t_s, "obliquity_deg")
    ic, to = _events(ic_s, to_s)
    sd = np.asarray(side).reshape(-1)
    if sd.shape != ic.shape:
        raise SignalError(f"side must have shape {ic.shape}, got {sd.shape}")
    if t.size < 2:
        return np.full(ic.shape, np.nan)
    return _drop_of(x, t, ic, sd, *_bounds(_TimeBase.of(t), ic, to))


@dataclass(frozen=True, eq=False)
class PelvicStepMetrics:
    """Per-step pelvic metrics, degrees (NaN where a step's window is not fully measured).

    The same values as :func:`pelvic_tilt_range_deg`, :func:`pelvic_drop_deg` and
    :func:`pelvic_rotation_range_deg`, computed together by :func:`pelvic_step_metrics`.
    """

    tilt_range_deg: FloatArray
    drop_deg: FloatArray
    rotation_range_deg: FloatArray


def pelvic_step_metrics(angles: PelvisAngles, t_s: npt.ArrayLike, ic_s: npt.ArrayLike,
                        end_s: npt.ArrayLike, to_s: npt.ArrayLike,
                        side: npt.ArrayLike) -> PelvicStepMetrics:
    """Tilt range and rotation range (``ic_s`` to ``end_s``) and pelvic drop (stance) per step.

    One pass for the three metrics: the sample windows of the steps are found once (the
    separate functions each search the time base again).
    """
    t = _check_time(t_s, angles.n_samples)
    ic, end, to = _events(ic_s, end_s, to_s)
    sd = np.asarray(side).reshape(-1)
    if sd.shape != ic.shape:
        raise SignalError(f"side must have shape {ic.shape}, got {sd.shape}")
    if t.size < 2:
        nan = np.full(ic.shape, np.nan)
        return PelvicStepMetrics(nan, nan.copy(), nan.copy())
    tb = _TimeBase.of(t)
    step = _bounds(tb, ic, end)
    i_ic = np.searchsorted(t, np.where(np.isfinite(ic), ic, 0.0), side="left").astype(np.intp)
    stance = _bounds(tb, ic, to, i_start=i_ic)
    return PelvicStepMetrics(
        tilt_range_deg=_range_of(angles.tilt_deg, *step),
        drop_deg=_drop_of(angles.obliquity_deg, t, ic, sd, *stance),
        rotation_range_deg=_range_of(angles.rotation_deg, *step))
