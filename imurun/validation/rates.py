"""Slow sensors: the data sets decimated to 50 Hz, with and without the clean-up's interpolation.

Many loggers and phones sample at 50 Hz. To measure what that costs, each trial's signals are
decimated to 50 Hz (polyphase, with ``resample_poly``'s anti-aliasing low-pass, segment by
segment: what a 50-Hz sensor with an anti-aliasing filter records), then the events are
detected on them as sampled and after the clean-up's interpolation
(:func:`imurun.signal.cleanup.interpolate_segments`, by
:meth:`~imurun.signal.cleanup.CleanupSettings.interpolate_factor`), and scored against the
same references by the same rules as at the trials' own rates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from imurun.signal.cleanup import CleanupSettings, interpolate_segments
from imurun.validation._markdown import ms as _ms
from imurun.validation._markdown import pct as _pct
from imurun.validation._markdown import table as _table
from imurun.validation.datasets import Trial
from imurun.validation.evaluate import GroupSummary, TrialResult, evaluate_trial, summarise

FloatArray = npt.NDArray[np.float64]

__all__ = ["SLOW_HZ", "RateRow", "decimated", "interpolated", "slow_rate_rows",
           "slow_rate_section"]

#: The rate the trials are decimated to.
SLOW_HZ = 50.0


def decimated(trial: Trial, q: int) -> Trial:
    """``trial`` sampled ``q`` times slower, through an anti-aliasing low-pass.

    Sample ``i`` of the result is at ``i q / fs`` s, as sample ``i q`` of the trial (times stay
    ``index / fs_hz``); each segment keeps the samples of it at multiples of ``q``, nothing is
    filtered across a segment boundary, samples outside the segments are NaN.
    """
    from scipy.signal import resample_poly

    n = -(-trial.bf_acc_ms2.shape[0] // q)

    def one(x: FloatArray) -> FloatArray:
        out = np.full((n, x.shape[1]), np.nan)
        for a, b in trial.segments:
            a0 = -(-a // q) * q  # the first multiple of q in the segment
            if b - a0 < 2 * q:
                continue
            y = resample_poly(x[a0:b], 1, q, axis=0, padtype="line")
            out[a0 // q:a0 // q + y.shape[0]] = y
        return out

    segs = []
    for a, b in trial.segments:
        a0 = -(-a // q) * q
        if b - a0 >= 2 * q:
            segs.append((a0 // q, a0 // q + -(-(b - a0) // q)))
    return dataclasses.replace(trial, fs_hz=trial.fs_hz / q, bf_acc_ms2=one(trial.bf_acc_ms2),
                               bf_gyr_rads=None if trial.bf_gyr_rads is None else one(trial.bf_gyr_rads),
                               segments=tuple(segs))


def interpolated(trial: Trial, k: int) -> Trial:
    """``trial`` on a grid ``k`` times finer, by the clean-up's interpolation.

    Each segment from its first sample to its last (:func:`interpolate_segments`), placed so
    that times stay ``index / fs_hz``.
    """
    n = (trial.bf_acc_ms2.shape[0] - 1) * k + 1

    def one(x: FloatArray) -> FloatArray:
        out = np.full((n, x.shape[1]), np.nan)
        y, new = interpolate_segments(x, trial.segments, k)
        for (a, _), (c, d) in zip(trial.segments, new, strict=True):
            out[a * k:a * k + d - c] = y[c:d]
        return out

    segs = tuple((a * k, (b - 1) * k + 1) for a, b in trial.segments)
    return dataclasses.replace(trial, fs_hz=trial.fs_hz * k, bf_acc_ms2=one(trial.bf_acc_ms2),
                               bf_gyr_rads=None if trial.bf_gyr_rads is None else one(trial.bf_gyr_rads),
                               segments=segs)


@dataclass(frozen=True)
class RateRow:
    """One data set at one rate."""

    dataset: str
    label: str
    fs_hz: float
    summary: GroupSummary
    results: tuple[TrialResult, ...]


def slow_rate_rows(trials: Sequence[Trial], cleanup: CleanupSettings | None = None,
                   ) -> list[RateRow]:
    """Each data set of ``trials`` at its own rate, at :data:`SLOW_HZ` and interpolated."""
    cfg = CleanupSettings() if cleanup is None else cleanup
    rows: list[RateRow] = []
    names = list(dict.fromkeys(t.dataset for t in trials))
    for name in names:
        ts = [t for t in trials if t.dataset == name]
        fs = ts[0].fs_hz
        q = int(round(fs / SLOW_HZ))
        if q < 2 or abs(fs / q - SLOW_HZ) > 1e-6 * SLOW_HZ:
            continue  # not a whole multiple of 50 Hz
        k = cfg.interpolate_factor(SLOW_HZ)
        slow = [decimated(t, q) for t in ts]
        variants = [(f"its own, {fs:g} Hz", fs, ts),
                    (f"{SLOW_HZ:g} Hz, as sampled", SLOW_HZ, slow)]
        if k > 1:
            variants.append((f"{SLOW_HZ:g} Hz, interpolated to {SLOW_HZ * k:g} Hz (the "
                             "clean-up's)", SLOW_HZ * k, [interpolated(t, k) for t in slow]))
        for label, f, group in variants:
            res = tuple(evaluate_trial(t) for t in group)
            rows.append(RateRow(name, label, f, summarise(res, name), res))
    return rows


def slow_rate_section(rows: Sequence[RateRow]) -> str:
    """The markdown section."""
    lines = ["## Slow sensors: the data sets at 50 Hz", "",
             "Many loggers and phones sample at 50 Hz. Each trial decimated to 50 Hz (polyphase, "
             "with an anti-aliasing low-pass, segment by segment: what a 50-Hz sensor records), "
             "its events detected as sampled and after the clean-up's interpolation (recordings "
             "sampled below `CleanupSettings.interpolate_below_hz` are interpolated, band-"
             "limited, onto a grid a whole number of times finer that reaches "
             "`interpolate_to_hz`; `imurun.signal.cleanup`), and scored by the same rules as "
             "above (contact time: running only):", ""]
    body = []
    for r in rows:
        s = r.summary
        to = s.to
        running = r.results[0].gait == "running"
        rmse = s.contact_rmse_s if running else float("nan")
        worst = s.trial_mean_contact_max_abs_s if running else float("nan")
        body.append([r.dataset, r.label, _pct(s.ic.f1), _ms(s.ic.bias_s), _ms(s.ic.mae_s),
                     "–" if to is None else _ms(to.mae_s),
                     _ms(rmse), _ms(worst),
                     _pct(s.side_accuracy) if s.side_n else "–"])
    lines.append(_table(["data set", "rate", "IC F1 %", "IC bias ms", "IC MAE ms", "TO MAE ms",
                         "contact RMSE ms", "worst trial-mean contact ms", "L/R %"], body))
    lines.append("")
    return "\n".join(lines)
