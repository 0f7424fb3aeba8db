"""Clean-up before analysis: uniform segments, very short gaps bridged, saturation marked.

One verb, :func:`prepare`, turns a :class:`imurun.ingest.recording.Recording` (sensor frame, SI
units, segments of contiguous samples, gaps with causes) into a :class:`PreparedSignal` that
the rest of the pipeline can filter segment by segment. What it does, in order:

1. **Bridge very short gaps** (up to :attr:`CleanupSettings.bridge_max_s`, default 50 ms, or
   :attr:`CleanupSettings.bridge_max_samples` missing samples, whichever allows more): when
   two consecutive segments of the same boot are separated by at most that many missing
   samples, and the cause is a lost or corrupt frame or a hole in the source file, the missing
   samples are filled by **linear interpolation** and the two segments are joined. Filled
   samples are flagged (``PreparedSignal.bridged``) and counted in the data quality; the
   analysis withholds the impact and peak force of a running step whose stance they touch. A
   gap across a reboot or a disconnect is never bridged (the clock may have jumped), nor is a
   gap whose duration disagrees with its sample count by more than half a sample. Rationale:
   every segment boundary restarts the filters and loses the step around it, and wireless
   sensors drop packets often (the Xsens MTw recordings of voisard_ipol lose a few packets
   at a time, many times a minute): without bridging, their walks fall apart into pieces too
   short to analyse. 50 ms is shorter than any gait phase, so an event next to a bridged hole moves by
   less than the hole. Longer gaps are kept as gaps: nothing is filtered across them.
2. **Resample non-uniform segments**: a segment whose sample intervals deviate from ``1 /
   fs_hz`` by more than :attr:`CleanupSettings.uniform_tolerance` (relative) is linearly
   interpolated onto a uniform grid starting at its first sample (CSV files with jittered
   time stamps). Sources built by :mod:`imurun.ingest` are already uniform and pass unchanged.
3. **Mark saturation**: a sample is saturated when an axis sits at the sensor's full scale.
   With :attr:`CleanupSettings.acc_range_g` (or ``gyr_range_rads``) known, at or beyond 99.5 % of
   it; otherwise, when an axis repeats its recording-wide extreme value on at least
   :attr:`CleanupSettings.saturation_min_run` consecutive samples and that extreme is beyond
   4 g (4 rad/s): a flat top at the largest value is what clipping looks like, and real running
   signals do not repeat their maximum exactly. Saturated samples are kept (the timing they carry
   is still right); metrics that read their amplitude (impact) are withheld for the steps
   concerned.
4. **Interpolate slow recordings**: a recording sampled below
   :attr:`CleanupSettings.interpolate_below_hz` (95 Hz: below the 100 Hz the detectors were
   validated at) is interpolated, segment by segment, onto a grid
   :attr:`CleanupSettings.interpolate_factor` times finer, the smallest whole factor that
   reaches :attr:`CleanupSettings.interpolate_to_hz` (200 Hz), by band-limited (polyphase
   FIR, Kaiser-windowed sinc) interpolation (Crochiere & Rabiner 1983, *Multirate Digital
   Signal Processing*, ch. 2 and 4; the filter of ``scipy.signal.resample_poly``, applied by
   ``scipy.signal.upfirdn``), the segment's ends extended by odd reflection so that the live
   analysis can do the same as the samples arrive (:class:`StreamingInterpolator`, the same
   numbers). A sensor's samples hold
   everything below its Nyquist frequency (its anti-aliasing filter removes the rest), so
   this adds no information; it places what is there on a grid fine enough for the event
   markers, which read the steepest slope of a rise and where a signal crosses a level, and
   a slope taken between samples 19 ms apart (52 Hz) is the chord, not the tangent. Measured
   on the data sets decimated to 50 Hz with an anti-aliasing filter: docs/validation.md, "Slow
   sensors" (:mod:`imurun.validation.rates`). Flags (bridged, saturated) are
   taken from the samples they were found on and mark the interpolated samples around them;
   the data quality counts the recording's own samples.

Segments shorter than :attr:`CleanupSettings.min_segment_s` are kept in the arrays but dropped
from ``segments`` and counted as time not analysed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imurun.consts import G_MS2
from imurun.errors import SignalError
from imurun.ingest.recording import GapCause, Recording

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = ["CleanupSettings", "PreparedSignal", "StreamingInterpolator", "interpolate_segments",
           "prepare", "saturation_mask"]

_BRIDGEABLE = frozenset({GapCause.LOST_FRAMES, GapCause.CORRUPT, GapCause.SOURCE,
                         GapCause.DAMAGED_BLOCK})


@dataclass(frozen=True)
class CleanupSettings:
    """Clean-up (:func:`prepare`). The defaults are the product.

    Attributes:
        bridge_max_samples: gaps of at most this many missing samples are filled by linear
            interpolation, whatever their duration.
        bridge_max_s: gaps of at most this duration of missing samples are filled too (both
            0 disable bridging).
        uniform_tolerance: relative deviation of a sample interval from ``1 / fs_hz`` above
            which a segment is resampled.
        acc_range_g / gyr_range_rads: the sensor's full scale when known (``None``: detect
            clipping from flat tops).
        saturation_min_run: flat-top length (samples) that counts as clipping.
        min_segment_s: shorter segments are not analysed (the running detector's minimum).
        interpolate_below_hz: recordings sampled below this rate are interpolated (0: never;
            the live analysis follows the default).
        interpolate_to_hz: ... onto a grid a whole number of times finer, at least this rate.

    """

    bridge_max_samples: int = 2
    bridge_max_s: float = 0.05
    uniform_tolerance: float = 0.02
    acc_range_g: float | None = None
    gyr_range_rads: float | None = None
    saturation_min_run: int = 2
    min_segment_s: float = 0.5
    interpolate_below_hz: float = 95.0
    interpolate_to_hz: float = 200.0

    def interpolate_factor(self, fs_hz: float) -> int:
        """The factor a recording sampled at ``fs_hz`` is interpolated by (1: not at all)."""
        if not 0.0 < fs_hz < self.interpolate_below_hz:
            return 1
        return max(int(math.ceil(self.interpolate_to_hz / fs_hz - 1e-9)), 1)

    def __post_init__(self) -> None:
        if self.bridge_max_samples < 0 or not 0.0 <= self.bridge_max_s <= 1.0:
            raise SignalError("bridge_max_samples must be >= 0 and bridge_max_s within 0..1 s")
        if not self.uniform_tolerance > 0:
            raise SignalError("uniform_tolerance must be > 0")
        if self.saturation_min_run < 2:
            raise SignalError("saturation_min_run must be >= 2")
        if not (0.0 <= self.interpolate_below_hz <= 1000.0
                and 0.0 < self.interpolate_to_hz <= 2000.0):
            raise SignalError("interpolate_below_hz must be within 0..1000 Hz and "
                              "interpolate_to_hz within 0..2000 Hz")


@dataclass(frozen=True, eq=False)
class PreparedSignal:
    """Uniform, gap-aware samples ready for the signal layer (sensor frame, SI units).

    Attributes:
        t_s: ``(n,)`` time in the input's own time base, s.
        sf_acc_ms2 / sf_gyr_rads: ``(n, 3)`` specific force and angular rate in the sensor
            frame (``sf_gyr_rads`` is ``None`` for accelerometer-only input).
        fs_hz: sample rate inside every segment.
        segments: ``(start, stop)`` sample ranges analysed (long enough, uniform).
        short_segments: ranges too short to analyse.
        bridged: ``(n,)`` samples filled by interpolation.
        saturated: ``(n,)`` samples where an axis clipped (accelerometer or gyroscope).
        acc_saturated: ``(n,)`` samples where an accelerometer axis clipped (what withholds a
            step's impact; a clipped gyroscope does not touch the acceleration).
        bridged_gaps: how many gaps were filled.
        resampled_segments: how many segments were resampled onto a uniform grid.
        interpolated: the factor the recording was interpolated by (1: not at all; then
            ``fs_hz`` is that many times the recording's rate).
        bridged_samples / saturated_samples / acc_saturated_samples: the recording's own
            samples filled in / clipped (any axis / an accelerometer axis), before any
            interpolation.

    """

    t_s: FloatArray
    sf_acc_ms2: FloatArray
    sf_gyr_rads: FloatArray | None
    fs_hz: float
    segments: tuple[tuple[int, int], ...]
    short_segments: tuple[tuple[int, int], ...]
    bridged: BoolArray
    saturated: BoolArray
    bridged_gaps: int
    resampled_segments: int
    acc_saturated: BoolArray
    interpolated: int = 1
    bridged_samples: int = 0
    saturated_samples: int = 0
    acc_saturated_samples: int = 0

    @property
    def n_samples(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        return self.sf_gyr_rads is not None


def prepare(rec: Recording, settings: CleanupSettings | None = None) -> PreparedSignal:
    """Bridge very short gaps, resample non-uniform segments and mark saturation.

    The recording is not modified; arrays are copied only where something changes.
    """
    cfg = CleanupSettings() if settings is None else settings
    fs = float(rec.fs_hz)
    t, acc, gyr = rec.t_s, rec.acc_ms2, rec.gyr_rads
    segs = [(s.start, s.stop) for s in rec.segments]
    boots = [s.boot_id for s in rec.segments]

    # 1. bridge very short gaps (a loop over gaps; there are few)
    max_missing = bridge_max_missing(cfg, fs)
    joins = _bridgeable(rec, segs, boots, fs, max_missing)
    bridged = np.zeros(t.shape[0], dtype=bool)
    n_bridged_gaps = len(joins)
    if joins:
        t, acc, gyr, bridged, segs = _bridge(t, acc, gyr, segs, joins, fs)

    # 2. resample segments whose timing is not uniform
    n_resampled = 0
    period = 1.0 / fs
    pieces: list[tuple[int, int, FloatArray, FloatArray, FloatArray | None, BoolArray]] = []
    for a, b in segs:
        if b - a < 3:
            continue
        dt = np.diff(t[a:b])
        # max |dt - period|, from the extremes (rounding is monotonic, so this is exact)
        if max(dt.max() - period, period - dt.min()) <= cfg.uniform_tolerance * period:
            continue
        span = t[b - 1] - t[a]
        m = int(np.floor(span * fs + 1e-9)) + 1
        grid = t[a] + np.arange(m) / fs
        ra = np.column_stack([np.interp(grid, t[a:b], acc[a:b, j]) for j in range(3)])
        rg = None if gyr is None else np.column_stack(
            [np.interp(grid, t[a:b], gyr[a:b, j]) for j in range(3)])
        rb = np.interp(grid, t[a:b], bridged[a:b].astype(np.float64)) > 0
        pieces.append((a, b, grid, ra, rg, rb))
        n_resampled += 1
    if pieces:
        t, acc, gyr, bridged, segs = _splice(t, acc, gyr, bridged, segs, pieces)

    # 3. saturation
    acc_saturated = saturation_mask(acc, cfg.saturation_min_run,
                                    None if cfg.acc_range_g is None else cfg.acc_range_g * G_MS2,
                                    4.0 * G_MS2)
    saturated = acc_saturated.copy()
    if gyr is not None:
        saturated |= saturation_mask(gyr, cfg.saturation_min_run, cfg.gyr_range_rads, 4.0)

    counts = (int(bridged.sum()), int(saturated.sum()), int(acc_saturated.sum()))
    # 4. interpolate a slow recording
    k = cfg.interpolate_factor(fs)
    if k > 1:
        t, acc, gyr, masks, segs = _interpolate(t, acc, gyr, (bridged, saturated, acc_saturated),
                                                segs, k, fs)
        bridged, saturated, acc_saturated = masks
        fs *= k

    min_len = max(int(np.ceil(cfg.min_segment_s * fs)), 1)
    long_segs = tuple((a, b) for a, b in segs if b - a >= min_len)
    short = tuple((a, b) for a, b in segs if b - a < min_len)
    for arr in (t, acc, gyr, bridged, saturated, acc_saturated):
        if arr is not None and arr.flags.writeable and arr.base is None:
            arr.setflags(write=False)
    return PreparedSignal(t_s=t, sf_acc_ms2=acc, sf_gyr_rads=gyr, fs_hz=fs, segments=long_segs,
                          short_segments=short, bridged=bridged, saturated=saturated,
                          bridged_gaps=n_bridged_gaps, resampled_segments=n_resampled,
                          acc_saturated=acc_saturated, interpolated=k,
                          bridged_samples=counts[0], saturated_samples=counts[1],
                          acc_saturated_samples=counts[2])


#: Input samples either side of an interpolated one that the filter reads
#: (``resample_poly``'s default length).
_HALF_TAPS = 10


def _interpolation_filter(k: int) -> FloatArray:
    """The FIR low-pass of interpolation by ``k``, each of its phases at a gain of 1 at 0 Hz.

    ``resample_poly``'s default design (a Kaiser-windowed sinc, beta 5, cut-off at the
    input's Nyquist frequency, :data:`_HALF_TAPS` input samples either side), scaled by ``k``
    (the zeros between the samples), with each of its ``k`` phases scaled to a gain of exactly
    1 at 0 Hz: as designed, their gains differ by a few parts in 10,000, and gravity
    (9.8 m/s²) would ripple by a few mm/s² at the input's sample rate.
    """
    from scipy.signal import firwin

    h = firwin(2 * _HALF_TAPS * k + 1, 1.0 / k, window=("kaiser", 5.0))
    for p in range(k):  # k phases, a loop over a handful
        h[p::k] /= h[p::k].sum()
    return np.asarray(h, dtype=np.float64)


def _extended(x: FloatArray, head: bool, tail: bool) -> FloatArray:
    """``x`` with :data:`_HALF_TAPS` samples before and/or after it, by odd reflection.

    Beyond an end the signal continues as the point reflection of its samples about the end
    sample (``2 x[0] - x[i]``), which keeps its level and slope there (gravity does not sag)
    and needs only the samples next to the end: the live analysis can do the same as soon as
    they are in. A segment shorter than the filter reflects its far end sample further.
    """
    n, L = x.shape[0], _HALF_TAPS
    i = np.arange(1, L + 1)
    parts = []
    if head:
        parts.append((2.0 * x[0] - x[np.minimum(i, n - 1)])[::-1])
    parts.append(x)
    if tail:
        parts.append(2.0 * x[n - 1] - x[np.maximum(n - 1 - i, 0)])
    return np.concatenate(parts)


def _fir_up(xe: FloatArray, h: FloatArray, k: int) -> FloatArray:
    """Interpolated samples of an extended stretch ``xe`` whose filter input is complete.

    Fine sample ``f`` (from ``xe[L]``, ``L`` = :data:`_HALF_TAPS`) is ``y[f + 2 L k]`` of the
    full convolution; the samples returned are those from ``xe[L]`` on whose ``L`` input
    samples after them are in ``xe``: ``(len(xe) - 2 L) k`` of them. Each is summed in the same
    order whatever the stretch it is taken from (``upfirdn``'s loop), so a stream cut into
    stretches gives the very numbers of one pass.
    """
    from scipy.signal import upfirdn

    L = _HALF_TAPS
    m = (xe.shape[0] - 2 * L) * k
    if m <= 0:
        return np.zeros((0, *xe.shape[1:]))
    y = upfirdn(h, xe, up=k, axis=0)
    return np.asarray(y[2 * L * k:2 * L * k + m], dtype=np.float64)


def _interpolate_one(x: FloatArray, h: FloatArray, k: int) -> FloatArray:
    """One segment, first to last sample: ``(n - 1) k + 1`` samples (one sample stays as it is)."""
    n = x.shape[0]
    if n < 2 or k == 1:
        return x
    return _fir_up(_extended(x, True, True), h, k)[:(n - 1) * k + 1]


def interpolate_segments(x: npt.ArrayLike, segments: Sequence[tuple[int, int]], k: int,
                         ) -> tuple[FloatArray, tuple[tuple[int, int], ...]]:
    """Each segment of ``x`` (``(n, d)`` samples) on a grid ``k`` times finer, first to last sample.

    Band-limited polyphase interpolation (:func:`_interpolation_filter`), segment by segment:
    nothing crosses a segment boundary; beyond a segment's ends the signal is extended by odd
    reflection about its end samples (:func:`_extended`). A segment of ``m`` samples becomes
    ``(m - 1) k + 1``; one of a single sample stays as it is. :class:`StreamingInterpolator`
    gives the same numbers from the samples as they arrive. Returns the samples of the
    segments, one after the other, and their new ``(start, stop)`` ranges.
    """
    arr = np.asarray(x, dtype=np.float64)
    h = _interpolation_filter(k)
    parts: list[FloatArray] = []
    new_segs: list[tuple[int, int]] = []
    pos = 0
    for a, b in segments:
        y = _interpolate_one(arr[a:b], h, k)
        parts.append(y)
        new_segs.append((pos, pos + y.shape[0]))
        pos += y.shape[0]
    out = np.concatenate(parts) if parts else np.zeros((0, *arr.shape[1:]))
    return out, tuple(new_segs)


class StreamingInterpolator:
    """:func:`interpolate_segments` of one segment at a time, from its samples as they arrive.

    :meth:`add` returns the interpolated samples that are complete (those with
    :data:`_HALF_TAPS` input samples after them, so about that many samples late), :meth:`end`
    the rest of the segment, after which the next :meth:`add` starts a new one. Concatenated,
    they equal :func:`interpolate_segments` of the segment, bit for bit.
    """

    def __init__(self, k: int) -> None:
        if k < 1:
            raise SignalError(f"the interpolation factor must be >= 1, got {k}")
        self.k = int(k)
        self._h = _interpolation_filter(self.k)
        self._reset()

    def _reset(self) -> None:
        self._raw: list[FloatArray] = []  # the first samples, until the head can be built
        self._n_raw = 0
        self._xe: FloatArray | None = None  # the extended samples not yet fully used
        self._done = 0  # interpolated samples of the segment returned so far
        self._d: tuple[int, ...] = ()  # the shape of one sample
        self.n_in = 0  # samples of the current segment so far

    @property
    def pending(self) -> int:
        """The interpolated samples of the segment still to come (at the latest at :meth:`end`)."""
        return 0 if self.n_in == 0 else (self.n_in - 1) * self.k + 1 - self._done

    def add(self, x: npt.ArrayLike) -> FloatArray:
        """``(m, d)`` further samples of the segment; the interpolated samples now complete."""
        arr = np.asarray(x, dtype=np.float64)
        self._d = arr.shape[1:]
        if arr.shape[0] == 0:
            return np.zeros((0, *self._d))
        self.n_in += arr.shape[0]
        if self.k == 1:
            self._done += arr.shape[0]
            return arr
        if self._xe is None:
            self._raw.append(arr)
            self._n_raw += arr.shape[0]
            if self._n_raw < _HALF_TAPS + 1:
                return np.zeros((0, *self._d))
            raw = np.concatenate(self._raw)
            self._raw, self._n_raw = [], 0
            self._xe = _extended(raw, True, False)
        else:
            self._xe = np.concatenate([self._xe, arr])
        out = _fir_up(self._xe, self._h, self.k)
        self._xe = self._xe[out.shape[0] // self.k:]  # the input samples no longer needed
        self._done += out.shape[0]
        return out

    def end(self) -> FloatArray:
        """The rest of the segment (its last sample included); the next samples start another."""
        k, d = self.k, self._d
        if self._xe is None:  # nothing, one sample, or shorter than the filter's reach
            out = (np.zeros((0, *d)) if not self._raw
                   else _interpolate_one(np.concatenate(self._raw), self._h, k))
        else:
            tail = _extended(self._xe[-(_HALF_TAPS + 1):], False, True)[_HALF_TAPS + 1:]
            rest = (self.n_in - 1) * k + 1 - self._done
            out = _fir_up(np.concatenate([self._xe, tail]), self._h, k)[:rest]
        self._reset()
        self._d = d
        return out


def _interpolate(t: FloatArray, acc: FloatArray, gyr: FloatArray | None,
                 masks: tuple[BoolArray, ...], segs: list[tuple[int, int]], k: int, fs: float,
                 ) -> tuple[FloatArray, FloatArray, FloatArray | None, tuple[BoolArray, ...],
                            list[tuple[int, int]]]:
    """The recording on a grid ``k`` times finer (:func:`interpolate_segments`).

    A flag of an original sample marks the interpolated samples on either side of it.
    """
    acc_k, new_segs = interpolate_segments(acc, segs, k)
    gyr_k = None if gyr is None else interpolate_segments(gyr, segs, k)[0]
    t_parts: list[FloatArray] = []
    m_parts: list[list[BoolArray]] = [[] for _ in masks]
    for a, b in segs:
        n = b - a
        if n < 2:
            t_parts.append(t[a:b])
            for lst, mk in zip(m_parts, masks, strict=True):
                lst.append(mk[a:b])
            continue
        m = (n - 1) * k + 1
        t_parts.append(t[a] + np.arange(m) / (k * fs))
        j = np.arange(m)
        lo, hi = a + j // k, a + np.minimum((j + k - 1) // k, n - 1)
        for lst, mk in zip(m_parts, masks, strict=True):
            lst.append(mk[lo] | mk[hi])
    return (np.concatenate(t_parts), acc_k, gyr_k,
            tuple(np.concatenate(lst) for lst in m_parts), list(new_segs))


def linear_fill(before: npt.ArrayLike, after: npt.ArrayLike, k: int) -> FloatArray:
    """The ``k`` samples that bridge a gap, shape ``(k, *before.shape)``.

    Linear from the sample ``before`` the gap to the one ``after`` it (both excluded): the
    batch clean-up and the live analysis bridge alike.
    """
    x0 = np.asarray(before, dtype=np.float64)
    x1 = np.asarray(after, dtype=np.float64)
    w = (np.arange(1, k + 1) / (k + 1)).reshape((k,) + (1,) * x0.ndim)
    return np.asarray(x0 * (1 - w) + x1 * w, dtype=np.float64)


def bridge_max_missing(settings: CleanupSettings, fs_hz: float) -> int:
    """Most missing samples a bridged gap may have at ``fs_hz`` (:class:`CleanupSettings`).

    ``bridge_max_s`` is read with the tolerance of a measured sample rate (±1000 ppm, the
    clock drift the ingest accepts): a recording's rate is fitted on the sensor's clock, so a
    200 Hz sensor reads 199.9998 Hz as often as 200.0002 Hz, and its lost 10-sample frame
    (50 ms) must be bridged either way. The live analysis uses the same limit.
    """
    by_time = int(np.floor(settings.bridge_max_s * float(fs_hz) * (1.0 + 1e-3) + 1e-9))
    return max(settings.bridge_max_samples, by_time)


def saturation_mask(x: npt.ArrayLike, min_run: int = 2, full_scale: float | None = None,
                    min_level: float = 0.0) -> BoolArray:
    """``(n,)`` mask of samples where any axis of ``x`` (``(n, 3)``) sits at full scale.

    With ``full_scale``: ``|x| >= 0.995 full_scale``. Without: an axis equal to its
    recording-wide maximum (or minimum) of magnitude ``>= min_level`` on at least ``min_run``
    consecutive samples (those samples, and any other sample at that extreme, are flagged).
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise SignalError(f"x must have shape (n, 3), got {arr.shape}")
    n = arr.shape[0]
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    if full_scale is not None:
        with np.errstate(invalid="ignore"):
            return np.asarray(np.any(np.abs(arr) >= 0.995 * full_scale, axis=1))
    # a column whose sum is finite has no NaN: its extremes are its plain max and min
    sums = _per_column(np.add, arr)
    col_hi, col_lo = _per_column(np.maximum, arr), _per_column(np.minimum, arr)
    hi, lo = np.zeros(3), np.zeros(3)
    for j in range(3):
        if np.isfinite(sums[j]):
            hi[j], lo[j] = col_hi[j], col_lo[j]
        elif np.any(np.isfinite(arr[:, j])):
            hi[j], lo[j] = np.nanmax(arr[:, j]), np.nanmin(arr[:, j])
    for j in range(3):
        for ext in (float(hi[j]), float(lo[j])):
            if abs(ext) < min_level or not np.isfinite(ext):
                continue
            at = arr[:, j] == ext
            if np.count_nonzero(at) < min_run:  # no run can be long enough
                continue
            # longest run of consecutive samples at the extreme
            d = np.diff(np.concatenate(([0], at.view(np.int8), [0])))
            starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            if starts.size and int(np.max(stops - starts)) >= min_run:
                out |= at
    return out


def _per_column(ufunc: np.ufunc, arr: FloatArray) -> FloatArray:
    """``ufunc`` reduced over each column of an ``(n, 3)`` array.

    A plain axis-0 reduction of an ``(n, 3)`` array runs an inner loop of 3 elements, and three
    strided column reductions read the array three times; here the rows are reduced 64 at a
    time as one ``(n / 64, 192)`` block (contiguous inner loops), then the 64 partial rows.
    Exact for maxima and minima; sums differ from a column-by-column sum by rounding only.
    """
    rows = 64
    n = arr.shape[0]
    m = n - n % rows if arr.flags.c_contiguous else 0
    parts = [arr[m:]]
    if m:
        parts.insert(0, ufunc.reduce(arr[:m].reshape(-1, 3 * rows), axis=0).reshape(rows, 3))
    return np.asarray(ufunc.reduce(np.concatenate(parts), axis=0), dtype=np.float64)


# ---------------------------------------------------------------------------- helpers
def _bridgeable(rec: Recording, segs: list[tuple[int, int]], boots: list[int | None], fs: float,
                max_missing: int) -> list[int]:
    """Indices ``i`` of the boundaries between segment ``i`` and ``i + 1`` that can be filled."""
    if max_missing <= 0 or len(segs) < 2:
        return []
    t = rec.t_s
    out = []
    for i in range(len(segs) - 1):
        if boots[i] != boots[i + 1]:
            continue
        last, first = segs[i][1] - 1, segs[i + 1][0]
        dt = float(t[first] - t[last])
        missing = dt * fs - 1.0
        k = int(round(missing))
        if not 1 <= k <= max_missing or abs(missing - k) > 0.5:
            continue
        cause = _gap_cause(rec, float(t[last]), float(t[first]))
        if cause in _BRIDGEABLE:
            out.append(i)
    return out


def _gap_cause(rec: Recording, t_a: float, t_b: float) -> GapCause | None:
    for g in rec.gaps:
        if abs(g.start_s - t_a) < 1e-6 and abs(g.end_s - t_b) < 1e-6:
            return g.cause
    for g in rec.gaps:  # tolerate rounding of the recorded gap times
        if g.start_s <= t_b and g.end_s >= t_a:
            return g.cause
    return GapCause.UNKNOWN


def _bridge(t: FloatArray, acc: FloatArray, gyr: FloatArray | None,
            segs: list[tuple[int, int]], joins: list[int], fs: float,
            ) -> tuple[FloatArray, FloatArray, FloatArray | None, BoolArray,
                       list[tuple[int, int]]]:
    """Fill the gaps after the segments in ``joins`` and merge the segments they separate."""
    join_set = set(joins)
    t_parts: list[FloatArray] = []
    a_parts: list[FloatArray] = []
    g_parts: list[FloatArray] = []
    b_parts: list[BoolArray] = []
    new_segs: list[tuple[int, int]] = []
    pos = 0
    cur_start = 0
    for i, (a, b) in enumerate(segs):
        t_parts.append(t[a:b])
        a_parts.append(acc[a:b])
        if gyr is not None:
            g_parts.append(gyr[a:b])
        b_parts.append(np.zeros(b - a, dtype=bool))
        pos += b - a
        if i in join_set:
            a2 = segs[i + 1][0]
            k = int(round((t[a2] - t[b - 1]) * fs)) - 1
            t_parts.append(linear_fill(t[b - 1], t[a2], k))
            a_parts.append(linear_fill(acc[b - 1], acc[a2], k))
            if gyr is not None:
                g_parts.append(linear_fill(gyr[b - 1], gyr[a2], k))
            b_parts.append(np.ones(k, dtype=bool))
            pos += k
        else:
            new_segs.append((cur_start, pos))
            cur_start = pos
    return (np.concatenate(t_parts), np.concatenate(a_parts),
            None if gyr is None else np.concatenate(g_parts), np.concatenate(b_parts), new_segs)


def _splice(t: FloatArray, acc: FloatArray, gyr: FloatArray | None, bridged: BoolArray,
            segs: list[tuple[int, int]],
            pieces: list[tuple[int, int, FloatArray, FloatArray, FloatArray | None, BoolArray]],
            ) -> tuple[FloatArray, FloatArray, FloatArray | None, BoolArray,
                       list[tuple[int, int]]]:
    """Replace the resampled segments and renumber all segments."""
    by_start = {p[0]: p for p in pieces}
    t_parts, a_parts, g_parts, b_parts = [], [], [], []
    new_segs: list[tuple[int, int]] = []
    pos = 0
    for a, b in segs:
        if a in by_start:
            _, _, tt, aa, gg, bb = by_start[a]
        else:
            tt, aa, gg, bb = t[a:b], acc[a:b], None if gyr is None else gyr[a:b], bridged[a:b]
        t_parts.append(tt)
        a_parts.append(aa)
        if gyr is not None:
            assert gg is not None
            g_parts.append(gg)
        b_parts.append(bb)
        new_segs.append((pos, pos + tt.shape[0]))
        pos += tt.shape[0]
    return (np.concatenate(t_parts), np.concatenate(a_parts),
            None if gyr is None else np.concatenate(g_parts), np.concatenate(b_parts), new_segs)
