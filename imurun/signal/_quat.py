"""Unit quaternions for the orientation code (private to :mod:`imurun.signal`).

Convention: Hamilton product, scalar first, ``q = [w, x, y, z]``, arrays of shape ``(..., 4)``.
A quaternion ``q_ab`` rotates coordinates from frame b into frame a: ``v_a = q_ab v_b q_ab*``,
the same map as the matrix :func:`matrix` returns. Composition: ``q_ac = q_ab ⊗ q_bc``.

Everything is vectorised over the leading axes. :func:`cumprod` is the only recursive operation
(strapdown integration ``Q_k = Q_{k-1} ⊗ dq_k``); it is evaluated as a blocked prefix product
(a two-level scan: a sequential sweep over the positions inside blocks, vectorised across
blocks, then a scan of the block totals), which performs the same products as the sequential
recursion, only grouped differently, so the results agree to rounding error.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
#: Component arrays of any float precision (the batch orientation works in float32).
_F = TypeVar("_F", bound=npt.NDArray[np.floating[Any]])

__all__ = [
    "conj",
    "cumprod",
    "cumprod_sequential",
    "from_matrix",
    "from_rotvec",
    "matrix",
    "mul",
    "normalise",
    "rotate",
    "to_rotvec",
]

#: Below this many quaternions :func:`cumprod` runs the plain recursion.
_SMALL = 64


def mul(p: FloatArray, q: FloatArray) -> FloatArray:
    """Hamilton product ``p ⊗ q`` (broadcasting over leading axes)."""
    pw, px, py, pz = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    qw, qx, qy, qz = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(_mul4(pw, px, py, pz, qw, qx, qy, qz), axis=-1)


def _mul4(pw: _F, px: _F, py: _F, pz: _F, qw: _F, qx: _F, qy: _F, qz: _F,
          ) -> tuple[_F, _F, _F, _F]:
    return cast(tuple[_F, _F, _F, _F], (
        pw * qw - px * qx - py * qy - pz * qz,
        pw * qx + px * qw + py * qz - pz * qy,
        pw * qy - px * qz + py * qw + pz * qx,
        pw * qz + px * qy - py * qx + pz * qw,
    ))


def conj(q: FloatArray) -> FloatArray:
    """Conjugate (the inverse of a unit quaternion)."""
    out = np.array(q, dtype=np.float64, copy=True)
    out[..., 1:] *= -1.0
    return out


def normalise(q: FloatArray) -> FloatArray:
    """``q / |q|`` (a new array)."""
    return np.asarray(q / np.linalg.norm(q, axis=-1, keepdims=True), dtype=np.float64)


def from_rotvec(theta: FloatArray) -> FloatArray:
    """Quaternion of the rotation vector ``theta`` (axis times angle, rad), shape ``(..., 4)``.

    Exact for any angle; for tiny angles the series ``sin(a/2)/a ≈ 1/2 - a²/48`` avoids 0/0.
    """
    th = np.asarray(theta, dtype=np.float64)
    a2 = np.einsum("...i,...i->...", th, th)
    a = np.sqrt(a2)
    small = a < 1e-4
    safe = np.where(small, 1.0, a)
    k = np.where(small, 0.5 - a2 / 48.0, np.sin(0.5 * safe) / safe)
    out = np.empty(th.shape[:-1] + (4,), dtype=np.float64)
    out[..., 0] = np.cos(0.5 * a)
    out[..., 1:] = th * k[..., None]
    return out


def to_rotvec(q: FloatArray) -> FloatArray:
    """Rotation vector (rad) of unit quaternions, angle in ``[0, pi]``."""
    qq = np.asarray(q, dtype=np.float64)
    sign = np.where(qq[..., :1] < 0.0, -1.0, 1.0)
    qq = qq * sign
    v = qq[..., 1:]
    s = np.linalg.norm(v, axis=-1)
    ang = 2.0 * np.arctan2(s, qq[..., 0])
    small = s < 1e-12
    k = np.where(small, 2.0, ang / np.where(small, 1.0, s))
    return np.asarray(v * k[..., None], dtype=np.float64)


def matrix(q: FloatArray) -> FloatArray:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions (``v_a = R @ v_b`` for ``q_ab``)."""
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = [
        [1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy)],
        [2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx)],
        [2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def from_matrix(r: FloatArray) -> FloatArray:
    """Unit quaternion (w >= 0) of rotation matrices ``(..., 3, 3)`` (Shepperd's method)."""
    m = np.asarray(r, dtype=np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cand = np.stack([
        np.stack([1.0 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                  m[..., 1, 0] - m[..., 0, 1]], axis=-1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1.0 + 2.0 * m[..., 0, 0] - tr,
                  m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], axis=-1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                  1.0 + 2.0 * m[..., 1, 1] - tr, m[..., 1, 2] + m[..., 2, 1]], axis=-1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                  m[..., 1, 2] + m[..., 2, 1], 1.0 + 2.0 * m[..., 2, 2] - tr], axis=-1),
    ], axis=-2)
    diag = np.stack([tr, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], axis=-1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q = normalise(q)
    return np.where(q[..., :1] < 0.0, -q, q)


def rotate(q: FloatArray, v: FloatArray) -> FloatArray:
    """``q v q*`` for vectors ``v`` of shape ``(..., 3)``: ``v + 2 w (u × v) + 2 u × (u × v)``."""
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return np.asarray(v + q[..., :1] * t + np.cross(u, t), dtype=np.float64)


def cumprod_sequential(dq: FloatArray) -> FloatArray:
    """Reference recursion ``Q_0 = dq_0``, ``Q_k = Q_{k-1} ⊗ dq_k`` (a plain Python loop).

    The reference the blocked :func:`cumprod` is tested against; also used by it for tiny inputs
    (a few dozen quaternions, where Python floats beat array calls).
    """
    d = np.asarray(dq, dtype=np.float64)
    out = np.empty_like(d)
    if d.shape[0] == 0:
        return out
    rows = d.tolist()
    pw, px, py, pz = rows[0]
    res = [rows[0]]
    for qw, qx, qy, qz in rows[1:]:
        pw, px, py, pz = (pw * qw - px * qx - py * qy - pz * qz,
                          pw * qx + px * qw + py * qz - pz * qy,
                          pw * qy - px * qz + py * qw + pz * qx,
                          pw * qz + px * qy - py * qx + pz * qw)
        res.append([pw, px, py, pz])
    out[:] = res
    return out


def cumprod(dq: FloatArray, block: int | None = None) -> FloatArray:
    """Prefix product ``Q_k = dq_0 ⊗ dq_1 ⊗ … ⊗ dq_k`` of ``(n, 4)`` quaternions, vectorised.

    Two-level scan: the ``n`` inputs are cut into blocks of ``block`` (default about
    ``sqrt(n)``); a sweep over the positions inside a block computes every block's local prefix
    products at once (one vectorised product per position, across all blocks); the block totals
    are scanned recursively; finally every local prefix is left-multiplied by the product of all
    earlier blocks. Same products as the recursion, grouped differently: the results agree to
    rounding error (tested against :func:`cumprod_sequential`). The output is not re-normalised.
    """
    d = np.asarray(dq, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != 4:
        raise ValueError(f"expected quaternions of shape (n, 4), got {d.shape}")
    n = d.shape[0]
    if n <= _SMALL:
        return cumprod_sequential(d)
    b = int(block) if block is not None else max(16, int(np.sqrt(n)))
    nb = -(-n // b)
    pad = nb * b - n
    comp = np.empty((4, nb * b), dtype=np.float64)
    comp[:, :n] = d.T
    comp[:, n:] = np.array([[1.0], [0.0], [0.0], [0.0]])  # identity padding
    # (4, b, nb): position-in-block major, so every sweep step touches contiguous memory
    loc = np.ascontiguousarray(comp.reshape(4, nb, b).transpose(0, 2, 1))
    w, x, y, z = loc[0], loc[1], loc[2], loc[3]
    for j in range(1, b):
        w[j], x[j], y[j], z[j] = _mul4(w[j - 1], x[j - 1], y[j - 1], z[j - 1],
                                       w[j], x[j], y[j], z[j])
    totals = np.stack([w[b - 1], x[b - 1], y[b - 1], z[b - 1]], axis=-1)  # (nb, 4)
    prefix = cumprod(totals)  # inclusive prefix of block totals
    # exclusive prefix: identity for block 0, prefix[k-1] for block k
    pw = np.concatenate(([1.0], prefix[:-1, 0]))
    px = np.concatenate(([0.0], prefix[:-1, 1]))
    py = np.concatenate(([0.0], prefix[:-1, 2]))
    pz = np.concatenate(([0.0], prefix[:-1, 3]))
    ow, ox, oy, oz = _mul4(pw[None, :], px[None, :], py[None, :], pz[None, :], w, x, y, z)
    out = np.empty((nb * b, 4), dtype=np.float64)
    # back to time order: (b, nb) -> (nb, b) -> flat
    out[:, 0] = ow.T.reshape(-1)
    out[:, 1] = ox.T.reshape(-1)
    out[:, 2] = oy.T.reshape(-1)
    out[:, 3] = oz.T.reshape(-1)
    return out[:n] if pad else out
