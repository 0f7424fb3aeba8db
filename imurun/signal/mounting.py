"""Sensor-to-sacrum alignment (the *mounting*) estimated from the signals themselves.

One verb, :func:`estimate_mounting`, turns sensor-frame specific force (and optionally angular
rate) into a :class:`Mounting`: the rotation ``r_sb`` with ``v_bf = r_sb @ v_sf`` (its rows are
the body axes x forward, y left, z up written in sensor coordinates; its columns the sensor axes
in body coordinates: the convention of :class:`imurun.sim.motion.Mounting`), how sure the
estimate is, and how it was obtained. Nothing but the accelerometer is needed; the gyroscope,
when given, only sharpens the detection of quiet (standing) periods.

Method
------
The signal is cut into non-overlapping windows (4 s by default) inside each segment (a window
never spans a gap) and every window is labelled:

* **quiet**: the norm of the specific force barely varies (and the gyroscope, when present,
  reads almost nothing): the sensor is at rest, so its mean specific force is gravity.
* **locomotion**: the norm of the specific force is periodic with a step period of 0.25-0.8 s
  (first strong peak of the autocorrelation, so that a stride is not taken for a step) and
  varies by more than 0.8 m/s². Locomotion windows are **running**
  when the impacts are large (95th percentile of the norm > 1.8 g) *and* the step period is
  short (< 0.45 s), or the period found is two such steps (a runner whose left and right steps
  differ markedly has the stride as the first strong peak); **walking** when the step period
  is >= 0.4 s and the impacts are not large; other locomotion windows are used for the
  vertical only.

*Vertical (body z).* Over whole strides the mean acceleration of the pelvis is close to zero,
so the mean specific force over locomotion windows is gravity in the running posture. Quiet
windows whose gravity lies within 15° of it are taken as standing; with at least two of them
the vertical is their mean (reference ``"standing"``: tilt is then the absolute anterior tilt
relative to standing, which can only be reported after such a standing calibration).
Otherwise the vertical is the locomotion mean (reference ``"locomotion"``: the mean pelvic
tilt and obliquity while moving are then close to zero; not exactly, because the pelvic tilt
oscillation correlates with the vertical acceleration, which moves the mean specific force
~1-2° away from the mean posture on the virtual sensor). The vertical is the *apparent*
gravity: an accelerometer offset ``b`` tilts it by about ``|b_horizontal| / g`` (0.9° for
0.15 m/s²). That offset is common to all windows, so angles measured in this frame are
unaffected to first order; it only limits how well ``r_sb`` matches the physical mounting.

*Forward (body x), sign included, from the mechanics of the gait.* Running is a bouncing gait
(spring-mass): forward speed and height are lowest together at mid-stance, i.e. the forward
kinetic and gravitational potential energy of the centre of mass fluctuate *in phase*; walking
is a pendular gait where they fluctuate in *opposition* (Cavagna, Heglund & Taylor 1977,
Am J Physiol 233:R243; Cavagna, Thys & Zamboni 1976, J Physiol 262:639). With ``v_z`` the
vertical velocity (band-passed, integrated vertical specific force) and ``a_h`` the horizontal
part of the specific force, the vector ``d = mean(a_h · v_z)`` therefore points *forward* in
running and *backward* in walking (``a_forward = dv_forward/dt ∝ ± dz/dt``), while mediolateral
sway (one cycle per stride, alternating sides) averages out. That needs ``v_z`` to repeat every
step: a runner whose left and right steps differ gives it a stride-periodic part, which meets
the stride-periodic sway and turns the result sideways, so in running windows ``v_z`` is
averaged with itself one step period later first (walking windows, whose steps are less
regular, use it as is). The windows' ``d`` are summed with
sign +1 (running) or -1 (walking); the horizontal direction of the sum is forward, and
``|Σ ± d| / Σ |d|`` (1 = every window agrees) is reported as ``forward_consistency``. A long
recording (more than ``forward_max_windows`` = 128 such windows) uses 128 of them, in 8
stretches of consecutive windows spread evenly over it, and band-passes only around those:
the forward direction is one fixed vector, which 8.5 minutes of locomotion define as well as
an hour, and the cost of this part stays bounded. This sign
rule was checked on the shared real data: positive in all 21 sacral running trials of
Alcantara et al. (2022) and negative in all 64 lower-back walking trials of mobgap_lab and
voisard_ipol (see ``tests/test_mounting.py``).

*Left (body y)* = z × x.

Validity: needs at least one locomotion window (raises :class:`MountingError` otherwise);
assumes level ground on average (a long climb tilts the locomotion vertical) and no persistent
turning in one direction (on a track, the lean into the bends tilts the locomotion vertical by
about ``atan(v² / (r g))``, 2.5° at 4 m/s on a 36.5 m radius, unless quiet standing is recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import next_fast_len
from scipy.signal import butter

from imurun.consts import G_MS2, RAD2DEG
from imurun.errors import SignalError
from imurun.signal._segments import (
    as_signal,
    check_fs,
    normalise_segments,
    unmeasured_axes,
    zero_phase,
)

FloatArray = npt.NDArray[np.float64]

__all__ = ["Mounting", "MountingError", "MountingQuality", "MountingSettings", "estimate_mounting",
           "rotate_rows"]


def _version() -> str:
    from imurun import __version__

    return __version__


class MountingError(SignalError):
    """The mounting cannot be estimated from these signals (``reason`` says why)."""

    def __init__(self, reason: str, **counts: int) -> None:
        self.reason = reason
        self.counts = counts
        detail = ", ".join(f"{k}={v}" for k, v in counts.items())
        super().__init__(f"cannot estimate the mounting: {reason}" + (f" ({detail})" if detail else ""))


#: Stretches of consecutive windows the forward statistic of a long recording is taken over
#: (:attr:`MountingSettings.forward_max_windows`).
_FORWARD_STRETCHES = 8
#: Windows filtered on each side of a stretch: the band-pass and high-pass (0.5 Hz) have
#: settled to ~1e-7 of their start-up transient after two 4-s windows.
_FORWARD_MARGIN_WINDOWS = 2


@dataclass(frozen=True)
class MountingSettings:
    """Parameters of :func:`estimate_mounting` (the defaults are the product).

    Attributes:
        window_s: analysis window; long enough for several strides.
        quiet_acc_std_ms2: a window is quiet when the std of ``|acc|`` is below this ...
        quiet_gyr_rads: ... and the mean gyroscope norm (when given) is below this.
        quiet_g_tolerance_ms2: ... and ``| |mean acc| - g |`` is below this.
        step_period_s: range of step periods searched in the autocorrelation of ``|acc|``.
        min_periodicity: normalised autocorrelation peak needed for locomotion.
        min_locomotion_std_ms2: std of ``|acc|`` needed for locomotion.
        running_max_step_s, running_min_peak_g: running = shorter steps and harder impacts.
        walking_min_step_s: walking = at least this step period (and not running).
        standing_max_angle_deg: quiet windows whose gravity is further than this from the
            locomotion vertical (sitting, lying, sensor on a table) are not standing.
        min_standing_windows: standing windows needed to use the standing reference.
        vertical_reference: ``"auto"`` (standing when available), ``"standing"`` (required),
            ``"locomotion"`` (always the mean posture while moving).
        band_hz: band-pass applied before the forward-direction statistic.
        forward_max_windows: most locomotion windows the forward direction is averaged over:
            a longer recording uses this many, in 8 stretches of consecutive windows evenly
            spread over it, and filters only around them (its cost then stays bounded);
            ``0``: every window.

    """

    window_s: float = 4.0
    quiet_acc_std_ms2: float = 0.15
    quiet_gyr_rads: float = 0.1
    quiet_g_tolerance_ms2: float = 1.5
    step_period_s: tuple[float, float] = (0.25, 0.8)
    min_periodicity: float = 0.4
    min_locomotion_std_ms2: float = 0.8
    running_max_step_s: float = 0.45
    running_min_peak_g: float = 1.8
    walking_min_step_s: float = 0.4
    standing_max_angle_deg: float = 15.0
    min_standing_windows: int = 2
    vertical_reference: Literal["auto", "standing", "locomotion"] = "auto"
    band_hz: tuple[float, float] = (0.5, 10.0)
    forward_max_windows: int = 128

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise SignalError(f"window_s must be > 0, got {self.window_s}")
        lo, hi = self.step_period_s
        if not 0 < lo < hi < self.window_s:
            raise SignalError(f"step_period_s must satisfy 0 < lo < hi < window_s, got {self.step_period_s}")
        if self.vertical_reference not in ("auto", "standing", "locomotion"):
            raise SignalError(f"unknown vertical_reference {self.vertical_reference!r}")
        if not 0 < self.band_hz[0] < self.band_hz[1]:
            raise SignalError(f"band_hz must be increasing and positive, got {self.band_hz}")
        if self.forward_max_windows < 0 or (
                0 < self.forward_max_windows < _FORWARD_STRETCHES):
            raise SignalError(f"forward_max_windows must be 0 (all) or at least "
                              f"{_FORWARD_STRETCHES}, got {self.forward_max_windows}")


@dataclass(frozen=True)
class MountingQuality:
    """How the estimate was supported.

    ``forward_consistency`` is ``|Σ ± d| / Σ |d|`` over the locomotion windows used for the
    forward direction (all, or ``forward_max_windows`` of them; 1 = all agree;
    below about 0.7 treat the forward axis as doubtful). ``vertical_spread_deg`` is the RMS
    angle between the windows' gravity and the chosen vertical (posture variability plus turns
    and slopes).
    """

    forward_consistency: float
    vertical_spread_deg: float
    n_windows: int
    n_running_windows: int
    n_walking_windows: int
    n_quiet_windows: int
    n_standing_windows: int


@dataclass(frozen=True, eq=False)
class Mounting:
    """Sensor-to-body rotation ``r_sb``: ``v_bf = r_sb @ v_sf``, ``v_sf = r_sb.T @ v_bf``.

    Rows of ``r_sb`` are the body axes (x forward, y left, z up) in sensor coordinates.
    ``reference`` is the posture that defines body z: ``"standing"`` or ``"locomotion"``
    (``"given"`` for :meth:`from_matrix`).
    """

    r_sb: FloatArray
    reference: str
    method: str
    quality: MountingQuality | None = None
    settings: MountingSettings | None = None
    version: str = field(default_factory=_version)

    def __post_init__(self) -> None:
        r = np.array(self.r_sb, dtype=np.float64)
        if r.shape != (3, 3):
            raise SignalError(f"r_sb must have shape (3, 3), got {r.shape}")
        if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
            raise SignalError("r_sb must be a proper rotation (orthonormal, det +1)")
        r.setflags(write=False)
        object.__setattr__(self, "r_sb", r)

    @classmethod
    def from_matrix(cls, r_sb: npt.ArrayLike, method: str = "given") -> Mounting:
        """A known mounting (e.g. from a calibration), same convention as ``r_sb``."""
        return cls(np.asarray(r_sb, dtype=np.float64), reference="given", method=method)

    @classmethod
    def identity(cls) -> Mounting:
        """Sensor axes = body axes."""
        return cls.from_matrix(np.eye(3), "identity")

    def bf_from_sf(self, v_sf: npt.ArrayLike) -> FloatArray:
        """Sensor-frame vectors ``(n, 3)`` in body coordinates (a new array)."""
        return rotate_rows(self.r_sb, v_sf)

    def sf_from_bf(self, v_bf: npt.ArrayLike) -> FloatArray:
        """Body-frame vectors ``(n, 3)`` in sensor coordinates (a new array)."""
        return rotate_rows(self.r_sb.T, v_bf)

    @property
    def up_axis_sf(self) -> str:
        """Sensor axis closest to body up, e.g. ``"+z"`` upright, ``"-z"`` upside down."""
        z = self.r_sb[2]
        i = int(np.argmax(np.abs(z)))
        return ("+" if z[i] > 0 else "-") + "xyz"[i]

    @property
    def forward_axis_sf(self) -> str:
        """Sensor axis closest to body forward."""
        x = self.r_sb[0]
        i = int(np.argmax(np.abs(x)))
        return ("+" if x[i] > 0 else "-") + "xyz"[i]

    @property
    def sensor_tilt_deg(self) -> float:
        """Angle between body up and the sensor axis closest to it (0 = that axis is vertical)."""
        z = self.r_sb[2]
        return float(np.degrees(np.arccos(np.clip(np.max(np.abs(z)), -1.0, 1.0))))

    @property
    def euler_zyx_deg(self) -> tuple[float, float, float]:
        """``(yaw, pitch, roll)`` of the sensor in the body frame, ``r_sb = Rz Ry Rx`` (deg)."""
        r = self.r_sb
        yaw = float(np.arctan2(r[1, 0], r[0, 0]) * RAD2DEG)
        pitch = float(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)) * RAD2DEG)
        roll = float(np.arctan2(r[2, 1], r[2, 2]) * RAD2DEG)
        return yaw, pitch, roll

    def summary(self) -> dict[str, Any]:
        """Plain values for a report (JSON-able)."""
        yaw, pitch, roll = self.euler_zyx_deg
        out: dict[str, Any] = {
            "r_sb": self.r_sb.tolist(), "reference": self.reference, "method": self.method,
            "up_axis": self.up_axis_sf, "forward_axis": self.forward_axis_sf,
            "sensor_tilt_deg": round(self.sensor_tilt_deg, 2),
            "euler_zyx_deg": [round(yaw, 2), round(pitch, 2), round(roll, 2)],
            "version": self.version,
        }
        if self.quality is not None:
            out["quality"] = asdict(self.quality)
        if self.settings is not None:
            out["settings"] = asdict(self.settings)
        return out


#: Rows per matrix product in :func:`rotate_rows`: small enough that BLAS runs each product
#: on the calling thread (one long ``(n, 3) @ (3, 3)`` product is split across BLAS threads,
#: which costs several times more CPU when they compete with other processes).
_ROWS_PER_PRODUCT = 16384


def rotate_rows(r: npt.ArrayLike, v: npt.ArrayLike, *, columns: bool = False) -> FloatArray:
    """``(n, 3)`` vectors rotated by the ``(3, 3)`` matrix ``r`` (``r @ v[i]`` for every row).

    ``columns=True`` returns the same values laid out column by column: an ``(n, 3)`` view of
    a C-contiguous ``(3, n)`` array, so that each axis ``out[:, k]`` is contiguous (faster
    element-wise work and filtering along time). A new array either way.
    """
    m = np.asarray(r, dtype=np.float64)
    x = np.asarray(v, dtype=np.float64)
    if m.shape != (3, 3) or x.ndim != 2 or x.shape[1] != 3:
        raise SignalError(f"expected a (3, 3) matrix and (n, 3) vectors, got {m.shape} and "
                          f"{x.shape}")
    n = x.shape[0]
    step = _ROWS_PER_PRODUCT
    if columns:
        out_t = np.empty((3, n))
        for i in range(0, n, step):
            np.matmul(m, x[i:i + step].T, out=out_t[:, i:i + step])
        return out_t.T
    out = np.empty((n, 3))
    mt = np.ascontiguousarray(m.T)
    for i in range(0, n, step):
        np.matmul(x[i:i + step], mt, out=out[i:i + step])
    return out


def _rows(basis: FloatArray, x: FloatArray) -> FloatArray:
    """``basis @ x.T`` as a C-contiguous ``(3, n)`` array (one row per basis vector)."""
    return np.ascontiguousarray(rotate_rows(basis, x, columns=True).T)


def _plane_basis(u: FloatArray) -> FloatArray:
    """Rows ``u, e1, e2``: the unit vector ``u`` and an orthonormal basis of its normal plane."""
    helper = np.eye(3)[int(np.argmin(np.abs(u)))]
    e1 = _unit(np.cross(u, helper))
    return np.stack([u, e1, np.cross(u, e1)])


# ------------------------------------------------------------------------------- estimation
@dataclass(frozen=True)
class _Windows:
    mean_f: FloatArray  # (k, 3) mean specific force per window
    quiet: npt.NDArray[np.bool_]
    running: npt.NDArray[np.bool_]
    walking: npt.NDArray[np.bool_]
    locomotion: npt.NDArray[np.bool_]
    d: FloatArray  # (k, 3) placeholder, filled later
    segment: npt.NDArray[np.intp]  # segment index of each window
    start: npt.NDArray[np.intp]  # first sample of each window
    step_n: npt.NDArray[np.intp]  # step period of each running window, samples (else 0)


def _window_view(x: FloatArray, a: int, k: int, w: int) -> FloatArray:
    """The ``k`` consecutive windows of ``w`` samples from sample ``a``: a ``(k, w, ...)`` view."""
    return x[a:a + k * w].reshape((k, w) + x.shape[1:])


def _percentile_over(x: FloatArray, q: float, scale: float, limit: float,
                     ) -> npt.NDArray[np.bool_]:
    """``np.percentile(x, q, axis=1) / scale > limit``, row by row, mostly without sorting.

    The percentile lies between two order statistics of its row (linear interpolation), so
    it is over the limit when the lower one is, and not when the upper one is not; counting
    the samples over the limit tells both (``v / scale`` is monotonic in ``v``). Only rows
    where they straddle the limit need the percentile itself. Same decisions, exactly.
    """
    w = x.shape[1]
    lo_rank = max(int(np.floor(q / 100.0 * (w - 1))) - 1, 0)  # a rank or two below ...
    hi_rank = min(lo_rank + 3, w - 1)  # ... and above the two interpolated
    over = np.count_nonzero(x / scale > limit, axis=1)
    hit = over >= w - lo_rank  # sorted[lo_rank] is over the limit
    unsure = np.flatnonzero(~hit & (over > w - 1 - hi_rank))  # sorted[hi_rank] is
    if unsure.size:
        hit[unsure] = np.percentile(x[unsure], q, axis=1) / scale > limit
    return np.asarray(hit, dtype=bool)


def _window_rows(x: FloatArray, c: int, w: int, rows: npt.NDArray[np.intp]) -> FloatArray:
    """Windows ``rows`` of the ``c`` windows of ``w`` samples tiling ``x``: ``(m, w)``, a copy."""
    return x[:c * w].reshape(c, w)[rows]


#: Windows classified together by :func:`_label_windows` (a chunk's temporaries, FFTs
#: included, stay in cache; every window gets the same arithmetic as in one batch).
_WINDOWS_PER_CHUNK = 64


def _label_windows(acc: FloatArray, gyr: FloatArray | None, fs: float,
                   segs: tuple[tuple[int, int], ...], s: MountingSettings) -> _Windows:
    w = int(round(s.window_s * fs))
    # windows tile each segment from its start, so they are reshaped views, not gathers
    counts = [max((b - a) // w, 0) for a, b in segs]
    starts = [a + w * np.arange(c, dtype=np.intp) for (a, _), c in zip(segs, counts, strict=True)]
    seg_idx = [np.full(c, i, dtype=np.intp) for i, c in enumerate(counts)]
    st = np.concatenate(starts) if starts else np.zeros(0, dtype=np.intp)
    k = st.size
    if k == 0:
        return _Windows(np.zeros((0, 3)), *(np.zeros(0, dtype=bool),) * 4, np.zeros((0, 3)),
                        np.zeros(0, dtype=np.intp), st, np.zeros(0, dtype=np.intp))
    lo = max(int(s.step_period_s[0] * fs), 1)
    hi = min(int(s.step_period_s[1] * fs), w - 2)
    # lags up to hi + 1 are needed: zero padding to w + hi + 1 samples keeps them free of
    # circular wrap-around (a fast FFT length at least that long)
    nfft = next_fast_len(w + hi + 1, real=True)
    mean_f = np.empty((k, 3))
    sd = np.empty(k)
    lag = np.empty(k, dtype=np.intp)
    peak = np.empty(k)
    impacts = np.empty(k, dtype=bool)
    first_window = 0
    for (a, _), c in zip(segs, counts, strict=True):
        fw = _window_view(acc, a, c, w)  # (c, w, 3)
        for j0 in range(0, c, _WINDOWS_PER_CHUNK):
            f = fw[j0:j0 + _WINDOWS_PER_CHUNK]
            o = slice(first_window + j0, first_window + j0 + f.shape[0])
            fn = np.sqrt(np.einsum("kwi,kwi->kw", f, f))  # |f| of every sample
            mean_f[o] = np.einsum("kwi->ki", f) / w
            sd[o] = fn.std(axis=1)
            # periodicity of |f|: normalised autocorrelation via FFT, peak within the step
            # periods
            x = fn - fn.mean(axis=1, keepdims=True)
            spec = np.fft.rfft(x, n=nfft, axis=1)
            ac = np.fft.irfft(spec.real**2 + spec.imag**2, n=nfft, axis=1)[:, :hi + 2]
            ac = ac / np.maximum(ac[:, :1], 1e-12)
            # the step is the *first* strong local maximum: with left/right asymmetry the
            # stride lag (two steps) can be slightly higher, and running strides fall inside
            # the search range
            mid = ac[:, lo:hi + 1]
            is_max = (mid >= ac[:, lo - 1:hi]) & (mid >= ac[:, lo + 1:hi + 2])
            best = np.where(is_max, mid, -np.inf).max(axis=1)
            strong = is_max & (mid >= 0.7 * best[:, None])
            first = np.where(strong.any(axis=1), np.argmax(strong, axis=1),
                             np.argmax(mid, axis=1))
            lag[o] = lo + first
            peak[o] = ac[np.arange(f.shape[0]), lo + first]
            impacts[o] = _percentile_over(fn, 95.0, G_MS2, s.running_min_peak_g)
        first_window += c
    quiet = (sd < s.quiet_acc_std_ms2) & (
        np.abs(np.linalg.norm(mean_f, axis=1) - G_MS2) < s.quiet_g_tolerance_ms2)
    if gyr is not None and quiet.any():  # the gyroscope only confirms the quiet candidates
        cand = np.flatnonzero(quiet)
        gw = gyr[st[cand, None] + np.arange(w)[None, :]]  # (c, w, 3), few windows
        quiet[cand] = np.sqrt(np.einsum("kwi,kwi->kw", gw, gw)).mean(axis=1) < s.quiet_gyr_rads
    step_s = lag / fs
    loco = (peak > s.min_periodicity) & (sd > s.min_locomotion_std_ms2)
    # With a marked left/right asymmetry the first strong autocorrelation peak can be the
    # stride (two unlike steps), not the step: a window with running impacts whose period is
    # two running steps is running too. Walking never has running impacts: such a window
    # voting "walking" would turn the forward direction round.
    half = step_s / 2.0
    stride_of_running = (half >= s.step_period_s[0]) & (half < s.running_max_step_s)
    running = loco & impacts & ((step_s < s.running_max_step_s) | stride_of_running)
    walking = loco & ~running & ~impacts & (step_s >= s.walking_min_step_s)
    step_n = np.where(step_s < s.running_max_step_s, lag, lag // 2)  # a stride: half of it
    return _Windows(mean_f, quiet, running, walking, loco, np.zeros((k, 3)),
                    np.concatenate(seg_idx), st, np.where(running, step_n, 0).astype(np.intp))


def _forward_windows(use: npt.NDArray[np.intp], max_windows: int) -> npt.NDArray[np.intp]:
    """The windows of ``use`` (sorted) the forward statistic is taken over.

    All of them, or, when there are more than ``max_windows``, :data:`_FORWARD_STRETCHES`
    stretches of ``max_windows / _FORWARD_STRETCHES`` consecutive ones, centred in equal parts
    of ``use`` (the whole recording is represented; running and walking in proportion).
    """
    if max_windows <= 0 or use.size <= max_windows:
        return use
    per = max_windows // _FORWARD_STRETCHES
    centre = ((np.arange(_FORWARD_STRETCHES) + 0.5) * use.size / _FORWARD_STRETCHES)
    first = np.clip(centre.astype(np.intp) - per // 2, 0, use.size - per)
    return use[np.unique(first[:, None] + np.arange(per)[None, :])]


def _forward_ranges(chosen: npt.NDArray[np.intp], use: npt.NDArray[np.intp],
                    segment: npt.NDArray[np.intp], start: npt.NDArray[np.intp],
                    segs: tuple[tuple[int, int], ...], w: int,
                    ) -> list[tuple[int, tuple[int, int]]]:
    """``(segment index, (a, b))`` sample ranges to filter for the windows ``chosen``.

    Every segment whose windows are all chosen is filtered whole (as when nothing is left
    out). Otherwise each run of chosen windows is filtered from
    :data:`_FORWARD_MARGIN_WINDOWS` windows before its first to that many after its last (and
    one more for the step after the window), on the segment's window grid and inside it; runs
    whose ranges would meet are filtered together.
    """
    out: list[tuple[int, tuple[int, int]]] = []
    for si, (a, b) in enumerate(segs):
        mine = chosen[segment[chosen] == si]
        if mine.size == 0:
            continue
        if mine.size == int(np.count_nonzero(segment[use] == si)):
            out.append((si, (a, b)))
            continue
        rows = (start[mine] - a) // w
        lo = np.maximum(rows - _FORWARD_MARGIN_WINDOWS, 0) * w + a
        hi = np.minimum(a + (rows + 2 + _FORWARD_MARGIN_WINDOWS) * w, b)
        new = np.r_[True, lo[1:] > hi[:-1]]  # a range that does not meet the previous one
        for r0, r1 in zip(lo[new].tolist(), np.maximum.reduceat(hi, np.flatnonzero(new)).tolist(),
                          strict=True):
            out.append((si, (int(r0), int(r1))))
    return out


def _unit(v: FloatArray) -> FloatArray:
    return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True), dtype=np.float64)


def estimate_mounting(
    acc_ms2: npt.ArrayLike,
    fs_hz: float,
    *,
    gyr_rads: npt.ArrayLike | None = None,
    segments: Iterable[Any] | None = None,
    settings: MountingSettings | None = None,
) -> Mounting:
    """Estimate the sensor-to-body rotation from sensor-frame signals.

    Args:
        acc_ms2: ``(n, 3)`` specific force in the sensor frame, m/s², gravity included.
        fs_hz: sample rate.
        gyr_rads: optional ``(n, 3)`` angular rate (rad/s); only used to confirm quiet windows.
        segments: ``[start, stop)`` ranges of contiguous samples (``Recording.segments`` or
            pairs); windows and filters never cross their boundaries. ``None``: one segment.
        settings: :class:`MountingSettings`.

    Returns:
        :class:`Mounting`.

    Raises:
        MountingError: no locomotion window (nothing defines forward), or
            ``vertical_reference="standing"`` without standing windows, or an accelerometer
            axis that was not measured (all NaN).
        SignalError: shapes or sample rate are wrong.

    """
    s = MountingSettings() if settings is None else settings
    fs = check_fs(fs_hz)
    acc = as_signal(acc_ms2, "acc_ms2")
    n = acc.shape[0]
    gyr = None if gyr_rads is None else as_signal(gyr_rads, "gyr_rads", n)
    segs = normalise_segments(segments, n)
    if n and (axes := unmeasured_axes(acc)):
        raise MountingError(f"the accelerometer's {axes} not measured (all NaN), and up and "
                            "forward are found from all three axes")
    for a, b in segs:
        if not np.all(np.isfinite(acc[a:b])):
            raise SignalError(f"acc_ms2 has non-finite samples inside segment ({a}, {b})")
    if gyr is not None and not all(np.all(np.isfinite(gyr[a:b])) for a, b in segs):
        gyr = None  # optional input: do not fail on it, just stop using it
    win = _label_windows(acc, gyr, fs, segs, s)
    counts = {"windows": int(win.start.size), "locomotion": int(win.locomotion.sum()),
              "quiet": int(win.quiet.sum())}
    if not win.locomotion.any():
        raise MountingError("no walking or running found, so nothing defines forward", **counts)

    # ---- vertical
    loco_sel = win.running if win.running.sum() >= 3 else win.locomotion
    u_loc = _unit(win.mean_f[loco_sel].sum(axis=0))
    mq = win.mean_f[win.quiet]
    standing = np.zeros(0, dtype=bool)
    if mq.size:
        standing = _unit(mq) @ u_loc > np.cos(np.radians(s.standing_max_angle_deg))
    n_stand = int(standing.sum())
    use_standing = n_stand >= s.min_standing_windows and s.vertical_reference != "locomotion"
    if s.vertical_reference == "standing" and not use_standing:
        raise MountingError("vertical_reference='standing' but too few quiet standing windows",
                            standing=n_stand, **counts)
    if use_standing:
        u = _unit(mq[standing].sum(axis=0))
        reference = "standing"
        ref_f = mq[standing]
    else:
        u = u_loc
        reference = "locomotion"
        ref_f = win.mean_f[loco_sel]
    spread = float(np.degrees(np.sqrt(np.mean(np.arccos(np.clip(_unit(ref_f) @ u, -1, 1)) ** 2))))

    # ---- forward: sum of ± mean(a_h v_z) over locomotion windows (per segment filtering)
    sign = np.where(win.running, 1.0, np.where(win.walking, -1.0, 0.0))
    use = np.flatnonzero(sign != 0.0)
    if use.size == 0:
        raise MountingError("locomotion found but neither clearly walking nor running", **counts)
    w = int(round(s.window_s * fs))
    sos_band = butter(2, list(s.band_hz), btype="bandpass", fs=fs, output="sos")
    sos_hp = butter(2, s.band_hz[0], btype="highpass", fs=fs, output="sos")
    # the filters are linear: band-passing the vertical and two horizontal components of the
    # specific force (rows of ``basis``) is band-passing its vertical and horizontal parts
    basis = _plane_basis(u)  # (3, 3): u, e1, e2
    d = np.zeros((win.start.size, 3))
    chosen = _forward_windows(use, s.forward_max_windows)
    for si, (a, b) in _forward_ranges(chosen, use, win.segment, win.start, segs, w):
        mine = chosen[(win.segment[chosen] == si) & (win.start[chosen] >= a)
                      & (win.start[chosen] + w <= b)]
        if mine.size == 0 or b - a < 13:  # sosfiltfilt's minimum input length for order 2
            continue
        comp = [zero_phase(sos_band, row) for row in _rows(basis, acc[a:b])]  # u, e1, e2
        vz = zero_phase(sos_hp, np.cumsum(comp[0]) / fs)
        # v_z averaged with itself one step later keeps only what repeats every step: the
        # stride-periodic part that an asymmetric gait adds (left and right steps unlike)
        # would otherwise meet the stride-periodic mediolateral sway and pull "forward"
        # sideways. Each window uses its own step period (samples of the segment).
        # the windows tile the segment from its start: window j is row j of a (c, w) view,
        # so its samples are gathered a row at a time
        t0 = win.start[mine] - a  # (m,)
        rows = t0 // w
        c = (b - a) // w
        v_sym = _window_rows(vz, c, w, rows)
        sym = np.flatnonzero(win.running[mine])  # walking: its steps are too irregular for it
        if sym.size:
            p = win.step_n[mine][sym]
            start = t0[sym] + p
            inside = start + w <= b - a  # the whole window one step later is in the segment
            later = np.empty((sym.size, w))
            later[inside] = sliding_window_view(vz, w)[start[inside]]
            tail = np.flatnonzero(~inside)
            if tail.size:  # the last step of the segment: one step before instead
                t = t0[sym[tail], None] + np.arange(w)[None, :]
                pt = p[tail, None]
                idx = t + pt
                later[tail] = vz[np.where(idx < b - a, idx, np.maximum(t - pt, 0))]
            later += v_sym[sym]
            later *= 0.5
            v_sym[sym] = later
        h_mean = np.stack([(_window_rows(comp[1], c, w, rows) * v_sym).mean(axis=1),
                           (_window_rows(comp[2], c, w, rows) * v_sym).mean(axis=1)])  # (2, m)
        d[mine] = h_mean[0, :, None] * basis[1] + h_mean[1, :, None] * basis[2]
    signed = sign[:, None] * d
    total = signed.sum(axis=0)
    norm_sum = float(np.linalg.norm(d[chosen], axis=1).sum())
    consistency = float(np.linalg.norm(total) / norm_sum) if norm_sum > 0 else 0.0
    x = total - (total @ u) * u
    if not np.linalg.norm(x) > 0:
        raise MountingError("the forward direction is undefined (no horizontal bounce signal)",
                            **counts)
    x = _unit(x)
    y = np.cross(u, x)
    r_sb = np.stack([x, y, u])
    quality = MountingQuality(
        forward_consistency=consistency,
        vertical_spread_deg=spread,
        n_windows=int(win.start.size),
        n_running_windows=int(win.running.sum()),
        n_walking_windows=int(win.walking.sum()),
        n_quiet_windows=int(win.quiet.sum()),
        n_standing_windows=n_stand if use_standing else 0,
    )
    vert = (f"standing gravity ({n_stand} quiet windows)" if use_standing else
            f"mean gravity over {int(loco_sel.sum())} locomotion windows")
    method = (f"vertical: {vert}; forward: bounce-phase sign rule over "
              f"{int(win.running.sum())} running and {int(win.walking.sum())} walking windows")
    if chosen.size < use.size:
        method += (f" ({chosen.size} of them, in {_FORWARD_STRETCHES} stretches spread over "
                   "the recording)")
    return Mounting(r_sb=r_sb, reference=reference, method=method, quality=quality, settings=s)
