"""The shortcuts taken for speed give exactly what the plain NumPy forms they replace give.

Issue 4's one-hour analysis was made faster without changing any result; the helpers below
replace a plain NumPy expression inside the pipeline and are held here to bitwise equality
with it, on random inputs and on the edge cases (ties, ends of the grid, non-finite values).
The whole pipeline is held by ``tests/test_pipeline_pin.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

import imurun.signal._segments as segments_mod
import imurun.signal.mounting as mounting_mod
from imurun.consts import G_MS2
from imurun.errors import SignalError
from imurun.signal._segments import (
    bandpass,
    crossings,
    finite_column,
    highpass,
    interp_index,
    lowpass,
    segment_argmin,
    zero_phase,
)
from imurun.signal.events import Side, SideSettings, _decide
from imurun.signal.mounting import (
    MountingSettings,
    _percentile_over,
    _window_rows,
    estimate_mounting,
)
from imurun.signal.orientation import _measured, _TimeBase
from imurun.sim import motion as sim


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000])
def test_interp_index_is_np_interp_on_the_index_grid(n: int) -> None:
    rng = np.random.default_rng(n)
    for trial in range(20):
        y = rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 5, n)
        if trial % 2:  # non-finite values: np.interp's own fallbacks
            y[rng.integers(0, n, 3)] = rng.choice([np.nan, np.inf, -np.inf], 3)
        x = np.concatenate([rng.uniform(-2, n + 1, 500), np.arange(-1.0, n + 1.0, 0.5),
                            [np.nan, -np.inf, np.inf, n - 1.0, 0.0, -0.0,
                             np.nextafter(n - 1.0, 0.0)]])
        expected = np.interp(x, np.arange(n), y)
        assert np.array_equal(interp_index(x, y), expected, equal_nan=True)


def test_finite_column_looks_at_the_whole_column() -> None:
    x = np.full((50, 3), np.nan)
    x[:, 0] = 1.0
    x[20, 1] = 2.0  # measured only inside: the quick look at the ends must not decide
    assert finite_column(x, 0)
    assert finite_column(x, 1)
    assert not finite_column(x, 2)
    assert not finite_column(np.zeros((0, 3)), 0)


def _crossings_reference(x: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    step = np.diff((x > level).astype(np.int8))
    i_up = np.flatnonzero(step == 1) + 1
    i_dn = np.flatnonzero(step == -1) + 1
    return ((i_up - 1) + (level - x[i_up - 1]) / (x[i_up] - x[i_up - 1]),
            (i_dn - 1) + (level - x[i_dn - 1]) / (x[i_dn] - x[i_dn - 1]))


def test_crossings_are_the_transitions_of_the_mask() -> None:
    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal(5000), 1)  # many samples exactly at the level
    for level in (0.0, 0.5, -1.2):
        up, dn = crossings(x, level)
        ref_up, ref_dn = _crossings_reference(x, level)
        assert np.array_equal(up, ref_up)
        assert np.array_equal(dn, ref_dn)


def test_segment_argmin_takes_the_first_minimum_like_argmin() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 3000).astype(np.float64)  # ties everywhere
    edges = np.sort(rng.choice(np.arange(1, 3000), 200, replace=False))
    lo, hi = edges[:-1:2], edges[1::2]
    expected = [a + int(np.argmin(x[a:b])) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
    assert segment_argmin(x, lo, hi).tolist() == expected


@pytest.mark.parametrize("w", [1, 2, 5, 20, 800])
def test_percentile_over_decides_as_np_percentile(w: int) -> None:
    rng = np.random.default_rng(w)
    limit = 1.8
    edge = limit * G_MS2
    rows = [rng.uniform(0.5, 1.5, (50, w)) * edge,  # straddling the limit
            np.full((3, w), edge),  # exactly at it
            rng.choice([np.nextafter(edge, 0.0), edge, np.nextafter(edge, 1e9)], (50, w)),
            rng.uniform(0.0, 0.9, (10, w)) * edge, rng.uniform(1.1, 3.0, (10, w)) * edge]
    x = np.concatenate(rows)
    expected = np.percentile(x, 95, axis=1) / G_MS2 > limit
    got = _percentile_over(x, 95.0, G_MS2, limit)
    assert got.dtype == bool
    assert np.array_equal(got, expected)
    assert expected.any()
    assert not expected.all()


def test_window_rows_are_the_index_matrix_gather() -> None:
    x = np.arange(1003, dtype=np.float64)[::-1]  # a reversed view, as filters return
    w, c = 100, 10
    rows = np.array([0, 3, 4, 9])
    t = (rows * w)[:, None] + np.arange(w)[None, :]
    got = _window_rows(x, c, w, rows)
    assert got.flags.c_contiguous
    assert np.array_equal(got, x[t])


def test_time_base_counts_the_gaps_before_each_sample() -> None:
    rng = np.random.default_rng(11)
    t = np.cumsum(np.where(rng.random(4000) < 0.01, 0.5, 0.005))  # 200 Hz with ~40 gaps
    for series in (t, t[:1], t[:2], 0.005 * np.arange(100.0)):
        tb = _TimeBase.of(series)
        expected = np.zeros(series.size, dtype=np.intp)
        if series.size > 1:
            expected[1:] = np.cumsum(np.diff(series) > 1.5 * tb.period)
        assert tb.gap.dtype == np.intp
        assert np.array_equal(tb.gap, expected)


def test_measured_finds_a_nan_anywhere_in_the_window() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(3000)
    x[rng.integers(0, 3000, 60)] = np.nan
    x[:10] = np.nan
    x[-5:] = np.nan
    i0 = rng.integers(0, 3000, 2000)
    i1 = np.minimum(i0 + rng.integers(0, 80, 2000), 3000)
    expected = [not np.isnan(x[a:b]).any() for a, b in zip(i0.tolist(), i1.tolist(), strict=True)]
    assert _measured(x, i0, i1).tolist() == expected


def _filters() -> list[np.ndarray]:
    return [butter(2, 8.0, fs=200.0, output="sos"),  # one section (lowpass, highpass)
            butter(2, 0.5, fs=200.0, btype="highpass", output="sos"),
            np.vstack([butter(2, 8.0, fs=200.0, output="sos"),  # bandpass(): two sections
                       butter(2, 0.5, fs=200.0, btype="highpass", output="sos")]),
            butter(2, [0.5, 3.0], fs=200.0, btype="bandpass", output="sos"),  # the mounting's
            butter(3, 0.6, fs=20.0, output="sos"),  # the heading's: a first-order section
            butter(4, 12.0, fs=100.0, output="sos")]


def _kernel_of_another_signature(*args: object) -> None:
    raise TypeError("_sosfilt() takes exactly 4 positional arguments (3 given)")


@pytest.mark.parametrize("kernel", ["compiled", "public", "changed"])
def test_zero_phase_is_sosfiltfilt(kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernel == "public":  # the fallback when SciPy's compiled kernel cannot be imported
        monkeypatch.setattr(segments_mod, "_sosfilt_kernel", None)
    elif kernel == "changed":  # ... or takes other arguments
        monkeypatch.setattr(segments_mod, "_sosfilt_kernel", _kernel_of_another_signature)
    elif segments_mod._sosfilt_kernel is None:
        pytest.skip("this SciPy has no scipy.signal._sosfilt._sosfilt")
    rng = np.random.default_rng(17)
    for sos in _filters():
        edge = 3 * (2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()),
                                               int((sos[:, 5] == 0).sum())))
        for n in (edge, edge + 1, edge + 2, 2 * edge + 3, 1000, 20001):
            x = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-20, 20)
            if n > 1000:
                x[5000:5050] = 9.81  # a flat stretch
            view = np.r_[x, x][::2]  # a strided input
            for arr in (x, view):
                try:
                    expected = sosfiltfilt(sos, arr, axis=0)
                except ValueError:  # too short: the same error
                    with pytest.raises(ValueError, match="padlen"):
                        zero_phase(sos, arr)
                    continue
                got = zero_phase(sos, arr)
                assert got.dtype == np.float64
                assert got.shape == arr.shape
                assert np.array_equal(got, expected), (sos.shape, n)
    x2 = rng.standard_normal((500, 3))  # 2-D: sosfiltfilt itself, along axis 0
    assert np.array_equal(zero_phase(_filters()[0], x2), sosfiltfilt(_filters()[0], x2, axis=0))


def test_filters_are_sosfiltfilt_of_their_butterworth_design() -> None:
    rng = np.random.default_rng(23)
    x = rng.standard_normal(30000) + 9.81
    fs = 200.0
    lo = butter(2, 8.0, fs=fs, output="sos")
    hi = butter(2, 0.5, fs=fs, btype="highpass", output="sos")
    assert np.array_equal(lowpass(x, fs, 8.0), sosfiltfilt(lo, x, axis=0))
    assert np.array_equal(highpass(x, fs, 0.5), sosfiltfilt(hi, x, axis=0))
    assert np.array_equal(bandpass(x, fs, 0.5, 8.0), sosfiltfilt(np.vstack([lo, hi]), x, axis=0))
    x_in = x.copy()
    lowpass(x, fs, 8.0)
    assert np.array_equal(x, x_in)  # the input is not written


def _decide_reference(e: np.ndarray, t0: np.ndarray, cfg: SideSettings) -> np.ndarray:
    """The two-state Viterbi pass of :func:`imurun.signal.events._decide`, written plainly."""
    per_step = np.where(e > 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    finite = np.isfinite(e)
    per_step[~finite] = Side.UNKNOWN
    if not cfg.use_alternation or e.size < 2 or not finite.any():
        return per_step
    scale = float(np.nanmedian(np.abs(e))) or 1.0
    llr = np.where(finite, np.clip(e / scale, -cfg.evidence_clip, cfg.evidence_clip), 0.0)
    steps = np.diff(t0)
    med = float(np.median(steps))
    regular = (steps >= cfg.min_step_ratio * med) & (steps <= cfg.max_step_ratio * med)
    p_alt = np.where(regular, cfg.alternation_p, 0.5)
    gain = (np.log(p_alt) - np.log1p(-p_alt)).tolist()
    half = (0.5 * llr).tolist()
    s_left, s_right = half[0], -half[0]
    from_other = [0] * e.size
    for k in range(1, e.size):
        g = gain[k - 1]
        left_stay, left_swap = s_left, s_right + g
        right_stay, right_swap = s_right, s_left + g
        from_other[k] = (1 if left_swap > left_stay else 0) | (2 if right_swap > right_stay else 0)
        s_left = max(left_stay, left_swap) + half[k]
        s_right = max(right_stay, right_swap) - half[k]
    state = np.empty(e.size, dtype=np.int8)
    cur = 0 if s_left >= s_right else 1
    state[-1] = cur
    for k in range(e.size - 1, 0, -1):
        if from_other[k] & (1 << cur):
            cur = 1 - cur
        state[k - 1] = cur
    return np.where(state == 0, Side.LEFT, Side.RIGHT).astype(np.int8)


def test_decide_is_the_plain_viterbi_pass() -> None:
    rng = np.random.default_rng(29)
    cfg = SideSettings()
    seen_swaps = 0
    for trial in range(60):
        n = int(rng.integers(1, 400))
        t0 = np.cumsum(np.where(rng.random(n) < 0.1, rng.uniform(20, 200, n), 70.0))
        e = rng.standard_normal(n)
        if trial % 3 == 1:  # ties: evidence on a coarse grid, steps of equal length
            e = np.round(e * 2.0) / 2.0
            t0 = 70.0 * np.arange(n)
        if trial % 4 == 2:  # unmeasured steps
            e[rng.integers(0, n, max(n // 10, 1))] = np.nan
        if trial % 5 == 3:  # a weak step amid strong alternation: the pass overrules it
            e = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * rng.uniform(0.5, 2.0, n)
            e[n // 2] = -0.01 * e[n // 2]
        expected = _decide_reference(e, t0, cfg)
        got = _decide(e, t0, cfg)
        assert got.dtype == np.int8
        assert np.array_equal(got, expected), trial
        seen_swaps += int(np.sum(expected != _decide_reference(
            e, t0, SideSettings(use_alternation=False))))
    assert seen_swaps > 0  # the sequence decoding changed some sides: the loop was exercised


@pytest.fixture(scope="module")
def ten_minutes() -> sim.Motion:
    rng = np.random.default_rng(31)
    return sim.generate(sim.script_default(10.0, rng), None, 200.0,
                        mounting=sim.Mounting.random(np.random.default_rng([31, 1])),
                        noise=sim.NoiseModel(), rng=rng)


def _angle_deg(r_a: np.ndarray, r_b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r_a @ r_b.T) - 1.0) / 2.0, -1.0, 1.0))))


def test_mounting_of_a_shorter_recording_uses_every_window(ten_minutes: sim.Motion) -> None:
    acc = ten_minutes.acc_ms2[:8 * 60 * 200]  # 120 windows: fewer than the 128 it may use
    every = estimate_mounting(acc, 200.0, settings=MountingSettings(forward_max_windows=0))
    bounded = estimate_mounting(acc, 200.0)
    assert np.array_equal(bounded.r_sb, every.r_sb)
    assert bounded.quality == every.quality
    assert bounded.method == every.method


def test_mounting_filters_only_around_the_stretches_it_uses(ten_minutes: sim.Motion,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            ) -> None:
    """Filtering the chosen windows' ranges gives their statistic as filtering everything."""
    m = ten_minutes
    cfg = MountingSettings(forward_max_windows=16)  # 8 stretches of 2 windows
    got = estimate_mounting(m.acc_ms2, m.fs_hz, settings=cfg)
    assert "16 of them, in 8 stretches" in got.method
    whole = mounting_mod._forward_ranges

    def whole_segments(chosen: np.ndarray, use: np.ndarray, *args: object) -> object:
        return whole(chosen, chosen, *args)  # every segment counts as fully chosen: filtered whole

    monkeypatch.setattr(mounting_mod, "_forward_ranges", whole_segments)
    ref = estimate_mounting(m.acc_ms2, m.fs_hz, settings=cfg)
    # the filters' start-up transient has died out (a margin of one window leaves 2e-6 here)
    assert np.abs(got.r_sb - ref.r_sb).max() < 1e-8
    assert got.quality is not None
    assert ref.quality is not None
    assert abs(got.quality.forward_consistency - ref.quality.forward_consistency) < 1e-10
    every = estimate_mounting(m.acc_ms2, m.fs_hz, settings=MountingSettings(forward_max_windows=0))
    assert _angle_deg(got.r_sb, every.r_sb) < 0.5  # 16 of ~140 windows: the same forward
    assert _angle_deg(got.r_sb, every.r_sb) > 0.0


def test_forward_windows_are_stretches_spread_over_the_recording() -> None:
    use = np.r_[np.arange(5, 300), np.arange(400, 1000, 2)]
    got = mounting_mod._forward_windows(use, 128)
    assert got.size == 128
    assert np.all(np.isin(got, use))
    pos = np.searchsorted(use, got)  # positions in use: 8 runs of 16 consecutive windows
    runs = np.split(pos, np.flatnonzero(np.diff(pos) != 1) + 1)
    assert [r.size for r in runs] == [16] * 8
    centres = np.array([r.mean() for r in runs]) / use.size
    assert np.allclose(centres, (np.arange(8) + 0.5) / 8, atol=0.01)
    assert np.array_equal(mounting_mod._forward_windows(use[:128], 128), use[:128])
    assert np.array_equal(mounting_mod._forward_windows(use, 0), use)
    with pytest.raises(SignalError, match="forward_max_windows"):
        MountingSettings(forward_max_windows=7)  # fewer than one window per stretch
