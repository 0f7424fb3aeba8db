"""Pelvis orientation convention shared by the simulator and its users.

Frames (all right-handed):

* ``wf`` world frame W: x forward along the initial heading, y left, z up.
* ``bf`` sacrum body frame B: x forward, y left, z up in the standing reference posture.
* ``sf`` sensor frame S: fixed to B by the mounting (see :class:`imurun.sim.motion.Mounting`).

Orientation of B in W, as the matrix ``r_wb`` that maps body coordinates to world coordinates
(``v_wf = r_wb @ v_bf``), is built from three angles, applied as intrinsic rotations in this
order (Cardan z-x-y, the "rotation-obliquity-tilt" order of Baker 2001)::

    r_wb = Rz(yaw) @ Rx(obliquity) @ Ry(tilt),      yaw = heading + pelvic rotation

Signs (right-hand rule about the *current* body axis):

* yaw / rotation about z: positive = the pelvis faces further left (x turns toward +y).
* obliquity about x: positive = the left hip is up (the y axis tilts toward +z).
* tilt about y: positive = anterior tilt, the sacrum's z axis leans forward (z turns toward +x).

All functions here take and return radians; arrays have time on axis 0 and vectors on the last
axis, shape ``(n, 3)``. Nothing is modified in place.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from imurun.errors import SignalError

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "angles_from_r_wb",
    "bf_from_wf",
    "bf_rate_from_angle_rates",
    "r_wb_from_angles",
    "rot_x",
    "rot_y",
    "rot_z",
    "wf_from_bf",
]


def _stack(rows: list[list[FloatArray]]) -> FloatArray:
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def rot_x(angle_rad: npt.ArrayLike) -> FloatArray:
    """Rotation matrices about x, shape ``(..., 3, 3)``; positive turns y toward z."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return _stack([[o, z, z], [z, c, -s], [z, s, c]])


def rot_y(angle_rad: npt.ArrayLike) -> FloatArray:
    """Rotation matrices about y, shape ``(..., 3, 3)``; positive turns z toward x."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return _stack([[c, z, s], [z, o, z], [-s, z, c]])


def rot_z(angle_rad: npt.ArrayLike) -> FloatArray:
    """Rotation matrices about z, shape ``(..., 3, 3)``; positive turns x toward y."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return _stack([[c, -s, z], [s, c, z], [z, z, o]])


def r_wb_from_angles(
    yaw_rad: npt.ArrayLike, obliquity_rad: npt.ArrayLike, tilt_rad: npt.ArrayLike
) -> FloatArray:
    """``Rz(yaw) @ Rx(obliquity) @ Ry(tilt)``: maps body coordinates to world coordinates."""
    return rot_z(yaw_rad) @ rot_x(obliquity_rad) @ rot_y(tilt_rad)


def angles_from_r_wb(r_wb: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Inverse of :func:`r_wb_from_angles`: ``(yaw, obliquity, tilt)`` in radians.

    Yaw and tilt are in (-pi, pi], obliquity in [-pi/2, pi/2] (singular at +-90 deg, far outside
    any pelvic motion).
    """
    r = np.asarray(r_wb, dtype=np.float64)
    if r.shape[-2:] != (3, 3):
        raise SignalError(f"expected rotation matrices of shape (..., 3, 3), got {r.shape}")
    obliquity = np.arcsin(np.clip(r[..., 2, 1], -1.0, 1.0))
    yaw = np.arctan2(-r[..., 0, 1], r[..., 1, 1])
    tilt = np.arctan2(-r[..., 2, 0], r[..., 2, 2])
    return yaw, obliquity, tilt


def bf_rate_from_angle_rates(
    obliquity_rad: npt.ArrayLike,
    tilt_rad: npt.ArrayLike,
    yaw_rate_rads: npt.ArrayLike,
    obliquity_rate_rads: npt.ArrayLike,
    tilt_rate_rads: npt.ArrayLike,
) -> FloatArray:
    """Angular velocity of B relative to W, in body coordinates, shape ``(n, 3)`` (rad/s).

    For ``r_wb = Rz(a) Rx(b) Ry(c)``: ``omega_bf = Ry(c)^T Rx(b)^T [0, 0, a'] + Ry(c)^T [b', 0, 0]
    + [0, c', 0]``, i.e. ``[b' cos c - a' cos b sin c, c' + a' sin b, b' sin c + a' cos b cos c]``.
    This is what an ideal gyroscope fixed to B measures.
    """
    b = np.asarray(obliquity_rad, dtype=np.float64)
    c = np.asarray(tilt_rad, dtype=np.float64)
    da = np.asarray(yaw_rate_rads, dtype=np.float64)
    db = np.asarray(obliquity_rate_rads, dtype=np.float64)
    dc = np.asarray(tilt_rate_rads, dtype=np.float64)
    cb, sb, cc, sc = np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    return np.stack([db * cc - da * cb * sc, dc + da * sb, db * sc + da * cb * cc], axis=-1)


def _check_vec(v: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise SignalError(f"expected vectors of shape (n, 3), got {arr.shape}")
    return arr


def bf_from_wf(
    v_wf: npt.ArrayLike, yaw_rad: npt.ArrayLike, obliquity_rad: npt.ArrayLike, tilt_rad: npt.ArrayLike
) -> FloatArray:
    """``r_wb^T @ v`` per sample without building matrices: world vectors into body coordinates."""
    v = _check_vec(v_wf)
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (yaw_rad, obliquity_rad, tilt_rad))
    ca, sa = np.cos(a), np.sin(a)
    x1 = ca * v[:, 0] + sa * v[:, 1]  # Rz(a)^T
    y1 = -sa * v[:, 0] + ca * v[:, 1]
    z1 = v[:, 2]
    cb, sb = np.cos(b), np.sin(b)
    y2 = cb * y1 + sb * z1  # Rx(b)^T
    z2 = -sb * y1 + cb * z1
    cc, sc = np.cos(c), np.sin(c)
    x3 = cc * x1 - sc * z2  # Ry(c)^T
    z3 = sc * x1 + cc * z2
    return np.stack([x3, y2, z3], axis=-1)


def wf_from_bf(
    v_bf: npt.ArrayLike, yaw_rad: npt.ArrayLike, obliquity_rad: npt.ArrayLike, tilt_rad: npt.ArrayLike
) -> FloatArray:
    """``r_wb @ v`` per sample without building matrices: body vectors into world coordinates."""
    v = _check_vec(v_bf)
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (yaw_rad, obliquity_rad, tilt_rad))
    cc, sc = np.cos(c), np.sin(c)
    x1 = cc * v[:, 0] + sc * v[:, 2]  # Ry(c)
    z1 = -sc * v[:, 0] + cc * v[:, 2]
    y1 = v[:, 1]
    cb, sb = np.cos(b), np.sin(b)
    y2 = cb * y1 - sb * z1  # Rx(b)
    z2 = sb * y1 + cb * z1
    ca, sa = np.cos(a), np.sin(a)
    x3 = ca * x1 - sa * y2  # Rz(a)
    y3 = sa * x1 + ca * y2
    return np.stack([x3, y3, z2], axis=-1)
