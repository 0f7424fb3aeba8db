"""Per-step running metrics from the sacral acceleration: oscillation, braking, impact, force.

Inputs are in the **heading frame** (``hf_``): z = world vertical (up), x = the pelvis' forward
axis projected on the horizontal plane, y = left; specific force with gravity (a sensor at rest
reads +9.81 on z). With a gyroscope the orientation module supplies that frame; without one the
body frame stands in for it (the pelvis then is assumed to keep its mean running posture; see
``docs/metrics.md`` for the error this costs).

Steps are given by fractional sample indices of their initial contact (IC), toe-off (TO) and
end (the next IC); each step must lie inside one segment of contiguous samples. All steps are
processed together: cumulative sums over the whole signal and one gather of every step's
samples, no Python loop over steps.

Methods (each cited in ``docs/metrics.md``):

* **Bias**: over whole strides of steady running the mean acceleration is zero, so the mean
  over the ``bias_window_strides`` strides around a step is the sensor's bias plus the gravity
  a small orientation error leaks into the axis; it is subtracted before integrating.
* **Vertical oscillation**: the bias-corrected vertical acceleration is integrated twice over
  the step (trapezoidal rule) from zero height at IC; the unknown vertical velocity at IC is the
  one that brings the sacrum back to the same height at the next IC (level ground), i.e. the
  linear trend of the displacement is removed per step. This is the step-wise drift-free
  integration of Zijlstra & Hof (1997, Gait Posture 6:249) for trunk accelerations; sacral
  vertical displacement in running by IMU was compared with motion capture by Gullstrand,
  Halvorsen, Tinmark, Eriksson & Nilsson (2009, Gait Posture 30:71). Oscillation = max - min of
  the displacement over the step.
* **Braking**: the bias-corrected forward acceleration integrated from IC; braking = the
  largest speed lost between IC and TO (Lumo Run's "braking", Garmin's step speed loss).
* **Impact**: the largest vertical specific force between IC and TO, in g, unfiltered.
* **Peak vertical force**: the largest vertical specific force between IC and TO after a
  10 Hz low-pass, in body weights (vGRF / m = a + g for the body's centre of mass; the sacrum
  approximates it once the impact transients are filtered out: Patoz et al. 2022, Sensors
  22:784, estimate peak vGRF from a sacral IMU with 0.15 BW RMSE).
* **Vertical stiffness**: the spring-mass sine-wave model of Morin, Dalleau, Kyröläinen,
  Jeannin & Belli (2005, J Appl Biomech 21:167): ``F_max = m g (pi / 2) (t_f / t_c + 1)``,
  ``dy_c = F_max t_c^2 / (m pi^2) - g t_c^2 / 8``, ``k_vert = F_max / dy_c``; needs body mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imurun.consts import BF_FORWARD, BF_UP, G_MS2
from imurun.errors import SignalError
from imurun.signal._segments import as_signal, check_fs, lowpass, min_filter_length

FloatArray = npt.NDArray[np.float64]
IntpArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "MetricSettings",
    "StepKinematics",
    "morin_peak_force_bw",
    "running_step_metrics",
    "vertical_stiffness_kn_m",
]


@dataclass(frozen=True)
class MetricSettings:
    """Per-step metrics (:func:`running_step_metrics`). The defaults are the product.

    Attributes:
        force_lowpass_hz: low-pass applied before the peak-force estimate (removes the impact
            transient of the sacrum, keeps the active peak of the force).
        bias_window_strides: the sensor bias (and the gravity a small orientation error leaks
            into an axis) is the mean acceleration over this many strides before and after
            each step; over whole strides of steady running the true mean is zero.
        min_step_s / max_step_s: steps outside these durations get no metrics (the periodicity
            assumption of the integration does not hold for them).

    """

    force_lowpass_hz: float = 10.0
    bias_window_strides: int = 3
    min_step_s: float = 0.15
    max_step_s: float = 1.5


@dataclass(frozen=True, eq=False)
class StepKinematics:
    """Per-step metrics (NaN where a step cannot be measured).

    Attributes:
        vertical_oscillation_m: range of sacral height over the step, m.
        braking_mps: speed lost from IC to its minimum before TO, m/s (>= 0).
        impact_g: peak vertical specific force in stance, g (NaN when the sensor clipped).
        peak_force_bw: peak vertical force in stance estimated from the low-passed vertical
            specific force, body weights.
        saturated: the accelerometer clipped during the stance.

    """

    vertical_oscillation_m: FloatArray
    braking_mps: FloatArray
    impact_g: FloatArray
    peak_force_bw: FloatArray
    saturated: BoolArray


def morin_peak_force_bw(contact_s: npt.ArrayLike, flight_s: npt.ArrayLike) -> FloatArray:
    """Peak vertical force of the sine-wave model, body weights: ``pi/2 (t_f/t_c + 1)``.

    Morin et al. 2005 (J Appl Biomech 21:167). NaN where contact or flight is not positive.
    """
    tc = np.asarray(contact_s, dtype=np.float64)
    tf = np.asarray(flight_s, dtype=np.float64)
    ok = (tc > 0) & (tf >= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, 0.5 * np.pi * (tf / tc + 1.0), np.nan)


def vertical_stiffness_kn_m(contact_s: npt.ArrayLike, flight_s: npt.ArrayLike,
                            mass_kg: float) -> FloatArray:
    """Vertical stiffness of the spring-mass model (Morin et al. 2005), kN/m.

    ``F_max = m g pi/2 (t_f/t_c + 1)``; centre-of-mass descent ``dy_c = F_max t_c^2 / (m
    pi^2) - g t_c^2 / 8``; ``k = F_max / dy_c``. The model holds for level running (it
    overestimates uphill and underestimates downhill); NaN where contact or flight is invalid.
    """
    if not (np.isfinite(mass_kg) and mass_kg > 0):
        raise SignalError(f"mass_kg must be a positive number, got {mass_kg!r}")
    tc = np.asarray(contact_s, dtype=np.float64)
    f_bw = morin_peak_force_bw(contact_s, flight_s)
    f_max = mass_kg * G_MS2 * f_bw
    with np.errstate(invalid="ignore", divide="ignore"):
        dy = f_max * tc * tc / (mass_kg * np.pi**2) - G_MS2 * tc * tc / 8.0
        k = np.where(dy > 0, f_max / dy, np.nan)
    return np.asarray(k / 1000.0, dtype=np.float64)


def running_step_metrics(
    hf_acc_ms2: npt.ArrayLike,
    fs_hz: float,
    ic_index: npt.ArrayLike,
    to_index: npt.ArrayLike,
    end_index: npt.ArrayLike,
    *,
    segments: tuple[tuple[int, int], ...],
    saturated: npt.ArrayLike | None = None,
    settings: MetricSettings | None = None,
) -> StepKinematics:
    """Vertical oscillation, braking, impact and peak force of every step.

    Args:
        hf_acc_ms2: ``(n, 3)`` heading-frame specific force, m/s² (z up; x forward may be
            all-NaN, then braking is NaN).
        fs_hz: sample rate, Hz.
        ic_index: ``(k,)`` fractional sample index of each step's IC (NaN where unknown).
        to_index: ``(k,)`` the same for its TO.
        end_index: ``(k,)`` the same for its end (the next IC). A step must lie inside one
            segment.
        segments: ``(start, stop)`` ranges of contiguous samples (the low-pass of the force
            estimate runs inside each).
        saturated: optional ``(n,)`` mask of samples with the accelerometer clipped.
        settings: :class:`MetricSettings`.

    Returns:
        :class:`StepKinematics`. Oscillation needs IC and end; braking needs IC, TO, end and
        the forward axis; impact and peak force need IC and TO.

    """
    cfg = MetricSettings() if settings is None else settings
    fs = check_fs(fs_hz)
    acc = as_signal(hf_acc_ms2, "hf_acc_ms2")
    n = acc.shape[0]
    ic = np.asarray(ic_index, dtype=np.float64).reshape(-1)
    to = np.asarray(to_index, dtype=np.float64).reshape(-1)
    end = np.asarray(end_index, dtype=np.float64).reshape(-1)
    k = ic.size
    if to.shape != (k,) or end.shape != (k,):
        raise SignalError("ic_index, to_index and end_index must have the same length")
    sat = np.zeros(n, dtype=bool) if saturated is None else np.asarray(saturated, dtype=bool)
    if sat.shape != (n,):
        raise SignalError(f"saturated must have shape ({n},), got {sat.shape}")
    vo = np.full(k, np.nan)
    brk = np.full(k, np.nan)
    imp = np.full(k, np.nan)
    pf = np.full(k, np.nan)
    clip = np.zeros(k, dtype=bool)
    if k == 0 or n < 2:
        return StepKinematics(vo, brk, imp, pf, clip)

    lo, hi = cfg.min_step_s * fs, cfg.max_step_s * fs
    with np.errstate(invalid="ignore"):
        whole = (np.isfinite(ic) & np.isfinite(end) & (end - ic >= lo) & (end - ic <= hi)
                 & (ic >= 0) & (end <= n - 1))
        stance = (np.isfinite(ic) & np.isfinite(to) & (to > ic) & (to - ic <= hi) & (ic >= 0)
                  & (to <= n - 1))

    v = np.ascontiguousarray(acc[:, BF_UP])  # contiguous: faster element-wise work
    # ---- vertical oscillation: double integration, periodic per step
    if whole.any():
        vo[whole] = _oscillation(v - G_MS2, fs, ic[whole], end[whole],
                                 cfg.bias_window_strides)
    # ---- braking: forward speed lost from IC to its minimum before TO
    fwd = np.ascontiguousarray(acc[:, BF_FORWARD])
    both = whole & stance & (to <= end)
    if both.any() and np.all(np.isfinite(fwd)):
        brk[both] = _braking(fwd, fs, ic[both], to[both], end[both],
                             cfg.bias_window_strides)
    # ---- impact and peak force: maxima over the stance samples
    if stance.any():
        i0 = np.ceil(ic[stance]).astype(np.intp)
        i1 = np.floor(to[stance]).astype(np.intp) + 1
        i1 = np.maximum(i1, i0 + 1)
        idx, starts, _ = _gather(i0, i1)
        imp_s = np.maximum.reduceat(v[idx], starts) / G_MS2
        clipped = np.logical_or.reduceat(sat[idx], starts)
        imp_s[clipped] = np.nan
        imp[stance] = imp_s
        clip[stance] = clipped
        vf = np.full(n, np.nan)
        for a, b in segments:
            if b - a > min_filter_length():
                vf[a:b] = lowpass(v[a:b], fs, cfg.force_lowpass_hz)
        pf[stance] = np.maximum.reduceat(vf[idx], starts) / G_MS2
    return StepKinematics(vo, brk, imp, pf, clip)


# ---------------------------------------------------------------------------- internals
def _gather(i0: IntpArray, i1: IntpArray) -> tuple[IntpArray, IntpArray, IntpArray]:
    """Sample indices of the ranges ``[i0, i1)``, concatenated.

    Also returns where each range starts in the concatenation and the range of every index.
    """
    length = i1 - i0
    starts = np.concatenate(([0], np.cumsum(length)[:-1])).astype(np.intp)
    owner = np.repeat(np.arange(i0.size, dtype=np.intp), length)
    idx = np.arange(int(length.sum()), dtype=np.intp)
    idx += (i0 - starts)[owner]
    return idx, starts, owner


def _cumtrapz(x: FloatArray, fs: float) -> FloatArray:
    """``c[i]`` = trapezoidal integral of ``x`` from sample 0 to sample ``i`` (``c[0] = 0``)."""
    c = np.empty_like(x)
    c[0] = 0.0
    np.add(x[1:], x[:-1], out=c[1:])
    c[1:] *= 0.5
    np.cumsum(c[1:], out=c[1:])
    c /= fs
    return c


def _expand(i0: IntpArray, i1: IntpArray, *per_step: FloatArray,
            ) -> tuple[IntpArray | slice, IntpArray, list[FloatArray], IntpArray]:
    """Per-sample layout of the non-empty ranges ``[i0, i1)`` and of values given per range.

    Returns ``(where, edges, values, lag)``. ``where`` selects the samples: when the ranges are
    sorted and disjoint (consecutive steps), the slice of the whole stretch they cover, the
    samples between ranges included; otherwise the ranges' sample indices, concatenated.
    ``edges`` are the range boundaries in that layout, for ``ufunc.reduceat(y, edges)[0::2]``
    (one result per range; the odd entries reduce the samples between ranges, or a single
    sample when there are none). Every array of ``per_step`` is repeated over its range
    (0 between ranges), and ``lag`` is each sample's position within its range.
    """
    k = i0.size
    pieces = np.zeros(max(2 * k - 1, 0), dtype=np.intp)  # range, gap, range, ..., range
    pieces[0::2] = i1 - i0
    where: IntpArray | slice
    if k and bool(np.all(i0[1:] >= i1[:-1])):
        pieces[1::2] = i0[1:] - i1[:-1]
        where = slice(int(i0[0]), int(i1[-1]))
    else:
        where = _gather(i0, i1)[0]
    edges = np.zeros(pieces.size, dtype=np.intp)
    np.cumsum(pieces[:-1], out=edges[1:])
    lag = np.arange(int(pieces.sum()), dtype=np.intp)
    lag -= np.repeat(edges, pieces)
    values = []
    for v in per_step:
        pv = np.zeros(pieces.size)
        pv[0::2] = v
        values.append(np.repeat(pv, pieces))
    return where, edges, values, lag


#: Steps whose samples are expanded together (about 40,000 samples: the per-sample
#: temporaries stay in cache; each step's result does not depend on the grouping).
_STEPS_PER_CHUNK = 512


def _step_chunks(k: int) -> list[slice]:
    return [slice(a, a + _STEPS_PER_CHUNK) for a in range(0, k, _STEPS_PER_CHUNK)]


def _interp(c: FloatArray, x: FloatArray) -> FloatArray:
    """Linear interpolation of ``c`` at fractional indices ``x`` (inside ``[0, len - 1]``)."""
    i = np.minimum(np.floor(x).astype(np.intp), c.size - 2)
    f = x - i
    return c[i] * (1.0 - f) + c[i + 1] * f


def _step_groups(ic: FloatArray, end: FloatArray) -> IntpArray:
    """Group number of each step: consecutive steps whose end is the next one's IC."""
    if ic.size == 0:
        return np.zeros(0, dtype=np.intp)
    with np.errstate(invalid="ignore"):
        joined = np.abs(end[:-1] - ic[1:]) <= 0.5
    return np.concatenate(([0], np.cumsum(~joined))).astype(np.intp)


def _stride_bias(a: FloatArray, ic: FloatArray, end: FloatArray, strides: int) -> FloatArray:
    """Mean of ``a`` over whole strides around each step (the sensor bias, drift-free).

    The window covers ``2 strides`` consecutive steps of the same group (``strides`` before
    the step and ``strides`` from it), shifted inward at the group edges; a group shorter than
    that uses all of its steps. Over whole strides the true mean acceleration of steady
    running is zero, so what remains is bias (and slow speed change).
    """
    k = ic.size
    c = np.empty(a.size + 1)
    c[0] = 0.0
    np.cumsum(a, out=c[1:])
    grp = _step_groups(ic, end)
    first = np.searchsorted(grp, grp, side="left")
    last = np.searchsorted(grp, grp, side="right") - 1
    pos = np.arange(k)
    lo = np.clip(pos - strides, first, np.maximum(last + 1 - 2 * strides, first))
    hi = np.minimum(lo + 2 * strides - 1, last)
    a0 = np.rint(ic[lo]).astype(np.intp)
    a1 = np.rint(end[hi]).astype(np.intp)
    return np.asarray((c[a1] - c[a0]) / np.maximum(a1 - a0, 1))


def _oscillation(a: FloatArray, fs: float, ic: FloatArray, end: FloatArray,
                 strides: int) -> FloatArray:
    """Range of the double integral of ``a`` over each step, back to its IC height at the end.

    ``a`` is corrected by the stride-synchronous bias (:func:`_stride_bias`), integrated twice
    on the sample grid from ``i0 = round(ic)`` to ``i1 = round(end)`` with zero height at
    ``i0``; the unknown vertical velocity at IC is the one that brings the height back to zero
    at ``i1`` (level ground: every IC at the same height), i.e. the linear trend of the
    displacement is removed.
    """
    b = _stride_bias(a, ic, end, strides)
    c1 = _cumtrapz(a, fs)
    c2 = _cumtrapz(c1, fs)
    i0 = np.rint(ic).astype(np.intp)
    i1 = np.rint(end).astype(np.intp)
    span = (i1 - i0).astype(np.float64)
    p_end = (c2[i1] - c2[i0]) - (c1[i0] * span + 0.5 * b * span * span / fs) / fs
    # height at lag j of a step: c2[i0 + j] - c2[i0] - j (c1[i0] / fs + p_end / span)
    #                             - j² b / (2 fs²), a quadratic in j per step
    q0, q1, q2 = c2[i0], c1[i0] / fs + p_end / span, 0.5 * b / (fs * fs)
    out = np.empty(ic.size)
    for ks in _step_chunks(ic.size):
        where, edges, (h0, h1, h2), lag = _expand(i0[ks], i1[ks], q0[ks], q1[ks], q2[ks])
        lag_f = lag.astype(np.float64)
        h2 *= lag_f
        h2 += h1
        h2 *= lag_f  # j (h1 + j h2)
        pos = c2[where] - h0
        pos -= h2
        out[ks] = (np.maximum.reduceat(pos, edges)[0::2]
                   - np.minimum.reduceat(pos, edges)[0::2])
    return out


def _braking(a: FloatArray, fs: float, ic: FloatArray, to: FloatArray, end: FloatArray,
             strides: int) -> FloatArray:
    """Largest drop of the bias-corrected integral of ``a`` below its value at IC, before TO."""
    b = _stride_bias(a, ic, end, strides)
    c1 = _cumtrapz(a, fs)
    v_ic = _interp(c1, ic)
    i0 = np.floor(ic).astype(np.intp) + 1
    i1 = np.floor(to).astype(np.intp) + 1
    i1 = np.maximum(i1, i0 + 1)
    # speed at sample i of a step: c1[i] - v_ic - b (i - ic) / fs, linear in i per step
    slope = b / fs
    base = v_ic + slope * (i0 - ic)
    low = np.empty(ic.size)
    for ks in _step_chunks(ic.size):
        where, edges, (v0, v1), lag = _expand(i0[ks], i1[ks], base[ks], slope[ks])
        v1 *= lag
        v1 += v0
        vel = c1[where] - v1
        low[ks] = np.minimum.reduceat(vel, edges)[0::2]
    # the speed at TO itself (interpolated) belongs to the stance too
    v_to = _interp(c1, to) - v_ic - b * (to - ic) / fs
    low = np.minimum(low, v_to)
    return np.asarray(np.maximum(-low, 0.0))
