"""Shared helpers of the event detectors: input checks, per-segment filtering, crossings.

Private to :mod:`imurun.signal`; nothing here is part of the public API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, sosfilt, sosfilt_zi, sosfiltfilt

from imurun.errors import SignalError

FloatArray = npt.NDArray[np.float64]
IntpArray = npt.NDArray[np.intp]


def as_signal(x: npt.ArrayLike, name: str, n: int | None = None) -> FloatArray:
    """``x`` as a float64 ``(n, 3)`` array (a copy is never made unless needed; never written)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise SignalError(f"{name} must have shape (n, 3) with time on axis 0, got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise SignalError(f"{name} must have shape ({n}, 3) like the acceleration, got {arr.shape}")
    return arr


def check_fs(fs_hz: float) -> float:
    fs = float(fs_hz)
    if not (np.isfinite(fs) and fs > 0):
        raise SignalError(f"fs_hz must be a positive number, got {fs_hz!r}")
    return fs


def normalise_segments(segments: Iterable[Any] | None, n: int) -> tuple[tuple[int, int], ...]:
    """Segments as sorted, non-overlapping ``(start, stop)`` pairs inside ``[0, n]``.

    Accepts ``None`` (one segment over everything), pairs, or objects with ``start``/``stop``
    attributes (such as :class:`imurun.ingest.recording.Segment`).
    """
    if segments is None:
        return ((0, n),) if n > 0 else ()
    out: list[tuple[int, int]] = []
    for seg in segments:
        if hasattr(seg, "start") and hasattr(seg, "stop"):
            a, b = int(seg.start), int(seg.stop)
        else:
            try:
                a, b = (int(v) for v in seg)
            except (TypeError, ValueError) as e:
                raise SignalError(f"a segment must be a (start, stop) pair, got {seg!r}") from e
        if not (0 <= a < b <= n):
            raise SignalError(f"segment ({a}, {b}) is outside [0, {n}] or empty")
        if out and a < out[-1][1]:
            raise SignalError(f"segments must be sorted and not overlap: {out[-1]} then ({a}, {b})")
        out.append((a, b))
    return tuple(out)


try:  # the compiled kernel of scipy.signal.sosfilt (private; the public call is the fallback)
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # pragma: no cover - a SciPy that moved it: the same values, more copies
    _sosfilt_kernel = None


@lru_cache(maxsize=64)
def _butter_sos(order: int, cutoff_hz: float, fs_hz: float, btype: str) -> FloatArray:
    sos = np.asarray(butter(order, cutoff_hz, fs=fs_hz, btype=btype, output="sos"))
    sos.setflags(write=False)  # cached and shared: callers get a copy (sosfilt needs it writable)
    return sos


@lru_cache(maxsize=64)
def _steady_state(sos_bytes: bytes, n_sections: int) -> FloatArray:
    """``sosfilt_zi`` of the filter whose coefficients are ``sos_bytes``.

    Cached: it solves a linear system per filter, which costs as much as filtering thousands of
    samples.
    """
    zi = np.asarray(sosfilt_zi(np.frombuffer(sos_bytes).reshape(n_sections, 6)))
    zi.setflags(write=False)
    return zi


def zero_phase(sos: npt.ArrayLike, x: npt.ArrayLike) -> FloatArray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=0)``, the same values, with fewer copies.

    For a 1-D float64 ``x`` the steps of ``sosfiltfilt`` (odd extension by three times the
    filter's taps, forward pass from the steady state scaled by the first sample, backward
    pass likewise, extension cut off) are done with the same arithmetic in two buffers: the
    extension is built in place and filtered in place, the steady state is cached per filter.
    Anything else goes to ``sosfiltfilt`` itself. Returns a new array (possibly a reversed
    view of one).
    """
    s = np.asarray(sos, dtype=np.float64)
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.dtype != np.float64 or s.ndim != 2 or s.shape[1] != 6:
        return np.asarray(sosfiltfilt(s, arr, axis=0), dtype=np.float64)
    ns = s.shape[0]
    ntaps = 2 * ns + 1 - min(int((s[:, 2] == 0).sum()), int((s[:, 5] == 0).sum()))
    edge = 3 * ntaps
    n = arr.shape[0]
    if n <= edge or edge == 0:  # sosfiltfilt's own error (too short), or its no-padding case
        return np.asarray(sosfiltfilt(s, arr, axis=0), dtype=np.float64)
    s = np.ascontiguousarray(s)
    zi = _steady_state(s.tobytes(), ns)
    ext = np.empty(n + 2 * edge)
    ext[edge:edge + n] = arr
    np.subtract(2 * arr[0], arr[edge:0:-1], out=ext[:edge])
    np.subtract(2 * arr[-1], arr[-2:-(edge + 2):-1], out=ext[edge + n:])
    if _sosfilt_kernel is None:  # the public path: the same arithmetic, two more copies
        y, _ = sosfilt(s, ext, zi=zi * ext[0])
        y, _ = sosfilt(s, y[::-1], zi=zi * y[-1])
        return np.asarray(y[::-1][edge:edge + n], dtype=np.float64)
    sos_w = s.copy()  # the kernel takes writable arrays (it does not write them)
    try:
        _sosfilt_kernel(sos_w, ext[None, :], (zi * ext[0])[None])
        back = ext[::-1].copy()
        _sosfilt_kernel(sos_w, back[None, :], (zi * back[0])[None])
    except (TypeError, ValueError):  # a SciPy whose private kernel takes other arguments
        return np.asarray(sosfiltfilt(s, arr, axis=0), dtype=np.float64)
    return back[::-1][edge:edge + n]


def lowpass(x: FloatArray, fs_hz: float, cutoff_hz: float, order: int = 2) -> FloatArray:
    """Zero-phase Butterworth low-pass along axis 0 (forward-backward, so the order doubles).

    A cutoff at or above 0.45 ``fs_hz`` leaves the signal unfiltered (copied).
    """
    if cutoff_hz >= 0.45 * fs_hz:
        return np.array(x, dtype=np.float64, copy=True)
    return zero_phase(_butter_sos(order, float(cutoff_hz), float(fs_hz), "lowpass"), x)


def highpass(x: FloatArray, fs_hz: float, cutoff_hz: float, order: int = 2) -> FloatArray:
    """Zero-phase Butterworth high-pass along axis 0."""
    return zero_phase(_butter_sos(order, float(cutoff_hz), float(fs_hz), "highpass"), x)


@lru_cache(maxsize=32)
def _band_sos(order: int, low_hz: float, high_hz: float, fs_hz: float) -> FloatArray:
    sos = np.vstack([_butter_sos(order, high_hz, fs_hz, "lowpass"),
                     _butter_sos(order, low_hz, fs_hz, "highpass")])
    sos.setflags(write=False)
    return sos


def bandpass(x: FloatArray, fs_hz: float, low_hz: float, high_hz: float, order: int = 2,
             ) -> FloatArray:
    """``highpass(lowpass(x, fs_hz, high_hz), fs_hz, low_hz)`` in one zero-phase pass.

    The cascade of the two Butterworth filters as one second-order-section filter: the same
    frequency response, half the passes (edge padding differs slightly from two separate
    calls). A ``high_hz`` at or above 0.45 ``fs_hz`` leaves only the high-pass.
    """
    if high_hz >= 0.45 * fs_hz:
        return highpass(x, fs_hz, low_hz, order)
    return zero_phase(_band_sos(order, float(low_hz), float(high_hz), float(fs_hz)), x)


def min_filter_length(order: int = 2) -> int:
    """Shortest input :func:`scipy.signal.sosfiltfilt` accepts with its default padding."""
    n_sections = (order + 1) // 2
    return 3 * (2 * n_sections + 1) + 1


def crossings(x: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Fractional indices where ``x`` crosses ``level`` upward and downward.

    An upward crossing lies between samples ``i - 1`` (at or below ``level``) and ``i`` (above);
    the returned position is linearly interpolated, so it is in ``[i - 1, i)``.
    """
    above = x > level
    before, after = above[:-1], above[1:]
    i_up = np.flatnonzero(after > before) + 1  # False -> True
    i_dn = np.flatnonzero(before > after) + 1  # True -> False
    return _interp_cross(x, i_up, level), _interp_cross(x, i_dn, level)


def _interp_cross(x: FloatArray, i: IntpArray, level: float) -> FloatArray:
    x0 = x[i - 1]
    x1 = x[i]
    return (i - 1) + (level - x0) / (x1 - x0)


def interp_index(x: FloatArray, y: FloatArray) -> FloatArray:
    """``np.interp(x, np.arange(y.size), y)``, without building the grid.

    On the integer grid the interval of ``x`` is ``floor(x)`` and its slope
    ``y[j + 1] - y[j]``, so the same formula as ``np.interp`` gives the same values (NaN
    stays NaN, ``y[0]`` / ``y[-1]`` beyond the ends), at the cost of the points only. The few
    points where a non-finite ``y`` makes the formula NaN are left to ``np.interp`` itself.
    """
    xs = np.asarray(x, dtype=np.float64)
    n = y.shape[0]
    if n < 2:
        return np.asarray(np.interp(xs, np.arange(n), y), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # np.interp does not warn either
        j = np.clip(np.floor(xs), 0, n - 2)
        j = np.where(np.isfinite(j), j, 0).astype(np.intp)
        out = (y[j + 1] - y[j]) * (xs - j) + y[j]
        out = np.where(xs <= 0, y[0], np.where(xs >= n - 1, y[n - 1], out))
    out = np.asarray(np.where(np.isnan(xs), np.nan, out), dtype=np.float64)
    odd = np.isnan(out) & ~np.isnan(xs)
    if odd.any():
        out[odd] = np.interp(xs[odd], np.arange(n), y)
    return out


def runs(mask: npt.NDArray[np.bool_]) -> tuple[IntpArray, IntpArray]:
    """``(starts, stops)`` of the runs of ``True`` in ``mask`` (stops exclusive)."""
    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(m)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def window_argext(x: FloatArray, starts: IntpArray, length: int, *, mode: str,
                  stop: IntpArray | None = None) -> IntpArray:
    """Index of the max (``mode="max"``) or min of ``x[s:s + length]`` for every ``s``.

    Windows are clipped to ``[0, len(x))`` and, when ``stop`` is given, end before ``stop``
    (each window must keep at least one sample). Vectorised: one ``(k, length)`` index matrix,
    no Python loop over windows.
    """
    if starts.size == 0:
        return np.zeros(0, dtype=np.intp)
    length = max(int(length), 1)
    idx = starts[:, None] + np.arange(length)[None, :]
    if stop is not None:
        idx = np.minimum(idx, np.maximum(stop - 1, starts)[:, None])
    np.clip(idx, 0, x.size - 1, out=idx)
    vals = x[idx]
    k = np.argmax(vals, axis=1) if mode == "max" else np.argmin(vals, axis=1)
    return np.asarray(idx[np.arange(starts.size), k], dtype=np.intp)


def refine_extremum(x: FloatArray, idx: IntpArray) -> FloatArray:
    """Fractional positions of the extrema ``x[idx]``.

    The vertex of the parabola through each extremum and its two neighbours, clipped to half a
    sample; at the ends of ``x`` the index is kept.
    """
    i = np.asarray(idx, dtype=np.intp)
    out = i.astype(np.float64)
    inner = (i > 0) & (i < x.size - 1)
    j = i[inner]
    y0, y1, y2 = x[j - 1], x[j], x[j + 1]
    den = y0 - 2.0 * y1 + y2
    safe = np.where(den != 0.0, den, 1.0)
    off = np.where(den != 0.0, 0.5 * (y0 - y2) / safe, 0.0)
    out[inner] = j + np.clip(off, -0.5, 0.5)
    return out


def unmeasured_axes(x: FloatArray) -> str:
    """The axes of an ``(n, 3)`` signal that were not measured (all NaN), as words.

    ``""`` when every axis holds measurements; else e.g. ``"z axis was"`` or ``"x and z axes
    were"``, for a sentence ending "... not measured".
    """
    missing = [name for j, name in enumerate("xyz") if not finite_column(x, j)]
    if not missing:
        return ""
    if len(missing) == 1:
        return f"{missing[0]} axis was"
    return f"{', '.join(missing[:-1])} and {missing[-1]} axes were"


def finite_column(x: FloatArray, col: int) -> bool:
    """``True`` when column ``col`` holds measurements (not all-NaN).

    A measured column nearly always has a finite first or last sample, so those two are looked
    at before the whole column is scanned (a full scan per call was 1 ms on an hour).
    """
    c = x[:, col]
    if c.size and (np.isfinite(c[0]) or np.isfinite(c[-1])):
        return True
    return bool(np.any(np.isfinite(c)))


def require_finite(x: FloatArray, name: str, seg: Sequence[int]) -> None:
    if not np.all(np.isfinite(x)):
        raise SignalError(f"{name} has non-finite samples inside segment ({seg[0]}, {seg[1]}); "
                          "split the recording into segments around them")


def segment_argmin(x: FloatArray, lo: IntpArray, hi: IntpArray) -> IntpArray:
    """Index of the minimum of ``x[lo[k]:hi[k]]`` for disjoint, sorted, non-empty ranges.

    Vectorised over the samples inside the ranges only (one gather, one
    ``minimum.reduceat`` and a first-occurrence search); ranges with ``hi <= lo`` give ``lo``.
    """
    out = lo.astype(np.intp).copy()
    ok = (hi > lo) & (lo < x.size)
    if lo.size == 0 or not ok.any():
        return out
    a = lo[ok].astype(np.intp)
    lens = np.minimum(hi[ok].astype(np.intp), x.size) - a
    lens = np.maximum(lens, 1)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    # sample indices of every range, concatenated
    idx = np.arange(int(lens.sum()), dtype=np.intp) + np.repeat(a - starts, lens)
    vals = x[idx]
    mins = np.minimum.reduceat(vals, starts)
    label = np.repeat(np.arange(a.size), lens)
    hit = np.flatnonzero(vals == mins[label])
    first_r, first_i = np.unique(label[hit], return_index=True)
    res = a.copy()
    res[first_r] = idx[hit[first_i]]
    out[ok] = res
    return out
