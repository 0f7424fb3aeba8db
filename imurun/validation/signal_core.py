"""Validation of the whole analysis (:func:`imurun.analyze`): per-step metrics against truth.

Two sources of truth:

* **The virtual sensor** (:mod:`imurun.sim.motion`): synthetic sessions from
  :func:`~imurun.sim.motion.script_default` (standing, walking, running at several paces with
  turns) with the default :class:`~imurun.sim.motion.NoiseModel` (white noise, accelerometer
  and gyroscope bias and scale errors drawn per run) and a random mounting per run
  (:meth:`~imurun.sim.motion.Mounting.random`: any of the 24 axis-aligned placements, tilted up
  to ±30°). Each run is analysed from the sensor-frame signals, exactly as a file would be
  (mounting estimated, orientation estimated), once with the gyroscope and once without. Every
  truth step is paired with the nearest detected step within 50 ms.
* **alcantara2022** (running on a force treadmill, sacral accelerometer with vertical and
  forward axes only): step, contact and flight time and the peak vertical force of the step
  table against the force plate (contact = vGRF above 0.05 BW, see
  :mod:`imurun.validation.datasets`).

:func:`render` writes the markdown section that ``make validate`` appends to
``docs/validation.md``; every number in it is computed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imurun.analysis import analyze
from imurun.ingest.recording import Recording
from imurun.signal.events import Side
from imurun.signal.metrics import morin_peak_force_bw
from imurun.signal.results import RunAnalysis
from imurun.sim.motion import Motion, Mounting, NoiseModel, generate, script_default
from imurun.validation._markdown import table as _table
from imurun.validation.datasets import ALCANTARA_CONTACT_BW, Trial, load_alcantara2022

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "SYNTHETIC_SEEDS",
    "SYNTHETIC_TARGETS",
    "AlcantaraSteps",
    "MetricError",
    "SyntheticRun",
    "alcantara_step_metrics",
    "render",
    "synthetic_accuracy",
]

#: Seeds of the synthetic sessions (one session per seed; the mounting is drawn per seed).
SYNTHETIC_SEEDS: tuple[int, ...] = (101, 102, 103, 104, 105, 106)
#: Length of each synthetic session, minutes.
SYNTHETIC_MINUTES = 8.0
#: Pairing tolerance between truth and detected steps, s.
MATCH_TOLERANCE_S = 0.05

#: Per-step metrics compared with the truth: (step field, unit, scale to the unit).
STEP_METRICS: tuple[tuple[str, str, float], ...] = (
    ("contact_s", "ms", 1e3),
    ("flight_s", "ms", 1e3),
    ("step_s", "ms", 1e3),
    ("vertical_oscillation_m", "mm", 1e3),
    ("braking_mps", "m/s", 1.0),
    ("impact_g", "g", 1.0),
    ("pelvic_tilt_range_deg", "deg", 1.0),
    ("pelvic_drop_deg", "deg", 1.0),
    ("pelvic_rotation_range_deg", "deg", 1.0),
)


@dataclass(frozen=True)
class SyntheticTarget:
    """A synthetic-truth target of the issue: ``key`` must be ``op`` ``limit`` (``unit``)."""

    key: str
    description: str
    limit: float
    op: str
    unit: str


#: The issue's synthetic targets (pooled over all seeds, with the gyroscope).
SYNTHETIC_TARGETS: tuple[SyntheticTarget, ...] = (
    SyntheticTarget("side", "left/right accuracy (running steps)", 99.5, ">=", "%"),
    SyntheticTarget("pelvic_tilt_range_deg", "pelvic tilt range RMSE", 1.0, "<=", "deg"),
    SyntheticTarget("pelvic_rotation_range_deg", "pelvic rotation range RMSE", 1.0, "<=", "deg"),
    SyntheticTarget("drop_left", "pelvic drop RMSE, left stance", 1.0, "<=", "deg"),
    SyntheticTarget("drop_right", "pelvic drop RMSE, right stance", 1.0, "<=", "deg"),
    SyntheticTarget("ic_mae", "IC mean absolute error", 5.0, "<=", "ms"),
    SyntheticTarget("ic_bias", "IC mean error (absolute value)", 5.0, "<=", "ms"),
)


@dataclass(frozen=True)
class MetricError:
    """Errors (estimate − truth) of one metric, in ``unit``, over the paired steps."""

    name: str
    unit: str
    n: int
    n_truth: int
    bias: float
    rmse: float
    mae: float

    @classmethod
    def of(cls, name: str, unit: str, est: FloatArray, ref: FloatArray) -> MetricError:
        e = est - ref
        ok = np.isfinite(e)
        e = e[ok]
        if e.size == 0:
            return cls(name, unit, 0, int(ref.size), np.nan, np.nan, np.nan)
        return cls(name, unit, int(e.size), int(ref.size), float(e.mean()),
                   float(np.sqrt(np.mean(e * e))), float(np.mean(np.abs(e))))


@dataclass(frozen=True, eq=False)
class SyntheticRun:
    """One synthetic session analysed (``gyro=False``: the gyroscope was withheld)."""

    seed: int
    mounting: str
    gyro: bool
    duration_s: float
    runtime_s: float
    n_truth_running: int
    n_detected_running: int
    recall: float
    precision: float
    activity_agreement: float
    walking_found: float
    walking_ic_err_s: FloatArray  # detected - truth IC of the walking steps found
    walking_to_err_s: FloatArray  # detected - truth TO of those with a detected TO
    walking_side_correct: int
    side_correct: int
    side_n: int
    ic_err_s: FloatArray
    errors: dict[str, tuple[FloatArray, FloatArray]]  # name -> (estimate, truth) per pair
    drop_side: npt.NDArray[np.int8]  # truth stance side of each pair (0 left, 1 right)


def _match(ref: FloatArray, det: FloatArray, tol: float) -> tuple[npt.NDArray[np.intp],
                                                                   npt.NDArray[np.bool_]]:
    d = np.where(np.isfinite(det), det, np.inf)
    if d.size == 0:
        return np.zeros(ref.size, dtype=np.intp), np.zeros(ref.size, dtype=bool)
    j = np.clip(np.searchsorted(d, ref), 1, max(d.size - 1, 1))
    jm = np.maximum(j - 1, 0)
    jj = np.where(np.abs(d[j] - ref) < np.abs(d[jm] - ref), j, jm).astype(np.intp)
    jj = np.clip(jj, 0, d.size - 1)
    return jj, np.abs(d[jj] - ref) <= tol


def _session(seed: int, minutes: float) -> Motion:
    rng = np.random.default_rng(seed)
    mounting = Mounting.random(np.random.default_rng([seed, 1]))
    return generate(script_default(minutes, rng), None, 200.0, mounting=mounting,
                    noise=NoiseModel(), rng=rng)


def _score(seed: int, m: Motion, res: RunAnalysis, gyro: bool, runtime_s: float) -> SyntheticRun:
    tr = m.truth
    st = res.steps
    run_t = tr.activity == "run"
    jj, ok = _match(tr.ic_s, st.ic_s, MATCH_TOLERANCE_S)
    pair = ok & run_t & (st.activity[jj] == "run")
    ti, di = np.flatnonzero(pair), jj[pair]
    det_run = st.ic_s[st.is_running]
    _, ok_det = _match(det_run, tr.ic_s[run_t], MATCH_TOLERANCE_S)
    jw, okw = _match(tr.ic_s, st.ic_s, 0.2)
    agree = (st.activity[jw] == tr.activity)[okw]
    walk_t = tr.activity == "walk"
    wpair = okw & walk_t & (st.activity[jw] == "walk")
    wt, wd = np.flatnonzero(wpair), jw[wpair]
    w_to = np.isfinite(st.to_s[wd])
    w_side = np.where(tr.side[wt] == 0, Side.LEFT, Side.RIGHT)
    side_truth = np.where(tr.side[ti] == 0, Side.LEFT, Side.RIGHT)
    errors = {name: (getattr(st, name)[di], getattr(tr, name)[ti]) for name, _, _ in STEP_METRICS}
    return SyntheticRun(
        seed=seed, mounting=m.mounting.label, gyro=gyro, duration_s=m.duration_s,
        runtime_s=runtime_s, n_truth_running=int(run_t.sum()),
        n_detected_running=int(st.is_running.sum()),
        recall=float(pair.sum() / max(run_t.sum(), 1)),
        precision=float(ok_det.mean()) if ok_det.size else float("nan"),
        activity_agreement=float(agree.mean()) if agree.size else float("nan"),
        walking_found=float(wpair.sum() / max(walk_t.sum(), 1)),
        walking_ic_err_s=st.ic_s[wd] - tr.ic_s[wt],
        walking_to_err_s=st.to_s[wd][w_to] - tr.to_s[wt][w_to],
        walking_side_correct=int(np.sum(st.side[wd] == w_side)),
        side_correct=int(np.sum(st.side[di] == side_truth)), side_n=int(ti.size),
        ic_err_s=st.ic_s[di] - tr.ic_s[ti], errors=errors,
        drop_side=tr.side[ti].astype(np.int8),
    )


def synthetic_accuracy(seeds: Sequence[int] = SYNTHETIC_SEEDS,
                       minutes: float = SYNTHETIC_MINUTES) -> list[SyntheticRun]:
    """Analyse one synthetic session per seed, with and without the gyroscope."""
    out = []
    for seed in seeds:
        m = _session(seed, minutes)
        for gyro in (True, False):
            rec = Recording.from_arrays(m.t_s, m.acc_ms2, m.gyr_rads if gyro else None,
                                        fs_hz=m.fs_hz)
            t0 = time.perf_counter()
            res = analyze(rec, mass_kg=m.truth.profile.mass_kg)
            out.append(_score(seed, m, res, gyro, time.perf_counter() - t0))
    return out


def pooled(runs: Sequence[SyntheticRun]) -> dict[str, float]:
    """Pooled values of the synthetic targets (and the rest) over ``runs``."""
    cat = {name: (np.concatenate([r.errors[name][0] for r in runs]),
                  np.concatenate([r.errors[name][1] for r in runs])) for name, _, _ in STEP_METRICS}
    side = np.concatenate([r.drop_side for r in runs])
    ic = np.concatenate([r.ic_err_s for r in runs])
    out = {
        "side": 100.0 * sum(r.side_correct for r in runs) / max(sum(r.side_n for r in runs), 1),
        "ic_mae": float(np.mean(np.abs(ic))) * 1e3,
        "ic_bias": abs(float(np.mean(ic))) * 1e3,
        "recall": 100.0 * float(np.mean([r.recall for r in runs])),
        "precision": 100.0 * float(np.mean([r.precision for r in runs])),
    }
    for name, _, scale in STEP_METRICS:
        out[name] = MetricError.of(name, "", cat[name][0] * scale, cat[name][1] * scale).rmse
    est, ref = cat["pelvic_drop_deg"]
    out["drop_left"] = MetricError.of("", "", est[side == 0], ref[side == 0]).rmse
    out["drop_right"] = MetricError.of("", "", est[side == 1], ref[side == 1]).rmse
    return out


# ---------------------------------------------------------------------------- asymmetric runners
#: Shares of the contact time on the left of the asymmetric virtual runners, and their seeds.
BALANCE_SHARES: tuple[float, ...] = (0.45, 0.5, 0.53, 0.55, 0.57, 0.6)
BALANCE_SEEDS: tuple[int, ...] = (201, 202, 203)
BALANCE_MINUTES = 6.0


@dataclass(frozen=True)
class BalanceRun:
    """One asymmetric virtual runner: contact balance (% left) true and measured, per method."""

    share: float  # the profile's share of the contact time on the left
    seed: int
    truth_pct: float  # the summary's definition applied to the truth's running steps
    measured_pct: float  # defaults (step impulse)
    step_time_pct: float  # the toe-off model given body weight times the step time
    contact_bias_ms: tuple[float, float]  # (left, right) mean contact error, defaults


def _balance_pct(contact: FloatArray, side: npt.NDArray[np.integer]) -> float:
    left, right = contact[side == 0], contact[side == 1]
    left, right = left[np.isfinite(left)], right[np.isfinite(right)]
    if not left.size or not right.size:
        return float("nan")
    ml, mr = float(np.median(left)), float(np.median(right))
    return 100.0 * ml / (ml + mr)


def asymmetric_balance(shares: Sequence[float] = BALANCE_SHARES,
                       seeds: Sequence[int] = BALANCE_SEEDS,
                       minutes: float = BALANCE_MINUTES) -> list[BalanceRun]:
    """Contact balance of virtual runners whose left and right contacts differ.

    Each session is analysed twice: with the defaults and with the toe-off model given body
    weight times each step's time (``to_step_impulse=False``), which holds over a stride but
    not for each step of an asymmetric runner.
    """
    import dataclasses

    from imurun.analysis import AnalysisSettings
    from imurun.signal.events import RunningSettings
    from imurun.sim.motion import RunnerProfile

    out = []
    for share in shares:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            profile = dataclasses.replace(RunnerProfile(), contact_balance_left=share)
            m = generate(script_default(minutes, rng), profile, 200.0,
                         mounting=Mounting.random(np.random.default_rng([seed, 1])),
                         noise=NoiseModel(), rng=rng)
            rec = Recording.from_arrays(m.t_s, m.acc_ms2, m.gyr_rads, fs_hz=m.fs_hz)
            res = analyze(rec, mass_kg=profile.mass_kg)
            old = analyze(rec, mass_kg=profile.mass_kg, settings=AnalysisSettings(
                running=RunningSettings(to_step_impulse=False)))
            tr, st = m.truth, res.steps
            run = tr.activity == "run"
            jj, ok = _match(tr.ic_s, st.ic_s, MATCH_TOLERANCE_S)
            pair = ok & run & (st.activity[jj] == "run")
            ti, di = np.flatnonzero(pair), jj[pair]
            err = (st.contact_s[di] - tr.contact_s[ti]) * 1e3
            side = tr.side[ti]
            out.append(BalanceRun(
                share=share, seed=seed,
                truth_pct=_balance_pct(tr.contact_s[run], tr.side[run]),
                measured_pct=res.summary.contact_balance_left_pct,
                step_time_pct=old.summary.contact_balance_left_pct,
                contact_bias_ms=(float(np.nanmean(err[side == 0])),
                                 float(np.nanmean(err[side == 1])))))
    return out


# ---------------------------------------------------------------------------- alcantara2022
@dataclass(frozen=True, eq=False)
class AlcantaraSteps:
    """Per-step metrics of one alcantara2022 trial against the force plate (paired steps)."""

    trial_id: str
    condition: str
    n_ref: int
    n_paired: int
    step: tuple[FloatArray, FloatArray]
    contact: tuple[FloatArray, FloatArray]
    flight: tuple[FloatArray, FloatArray]
    peak_force: tuple[FloatArray, FloatArray]
    peak_force_morin: tuple[FloatArray, FloatArray]
    all_running: bool


def _trial_recording(trial: Trial) -> Recording:
    t = np.arange(trial.n_samples) / trial.fs_hz
    return Recording.from_arrays(t, trial.bf_acc_ms2, None, fs_hz=trial.fs_hz)


def alcantara_step_metrics(root: Path | None = None) -> list[AlcantaraSteps]:
    """Analyse every alcantara2022 trial (axes given: the trial is already in the body frame)."""
    out = []
    for trial in load_alcantara2022(root):
        res = analyze(_trial_recording(trial), mounting=np.eye(3))
        st = res.steps
        ric, rto = trial.ref_ic_s, trial.ref_to_s
        # reference steps: IC, the first TO after it, and the next IC
        nxt = np.r_[ric[1:], np.nan]
        j = np.searchsorted(rto, ric)
        ref_to = np.where(j < rto.size, rto[np.minimum(j, rto.size - 1)], np.nan)
        ref_to = np.where(ref_to < np.nan_to_num(nxt, nan=np.inf), ref_to, np.nan)
        grf = trial.ref_vgrf_bw
        assert grf is not None
        i0 = np.floor(ric * trial.fs_hz).astype(np.intp)
        i1 = np.where(np.isfinite(ref_to), np.ceil(ref_to * trial.fs_hz), i0 + 1).astype(np.intp)
        ref_peak = np.array([grf[a:max(b, a + 1)].max() for a, b in zip(i0, i1, strict=True)])
        ref_peak = np.where(np.isfinite(ref_to), ref_peak, np.nan)
        jj, ok = _match(ric, st.ic_s, MATCH_TOLERANCE_S)
        di, ri = jj[ok], np.flatnonzero(ok)
        morin = morin_peak_force_bw(st.contact_s[di], st.flight_s[di])
        out.append(AlcantaraSteps(
            trial_id=trial.trial_id, condition=trial.condition.label, n_ref=int(ric.size),
            n_paired=int(ok.sum()),
            step=(st.step_s[di], (nxt - ric)[ri]),
            contact=(st.contact_s[di], (ref_to - ric)[ri]),
            flight=(st.flight_s[di], (nxt - ref_to)[ri]),
            peak_force=(st.peak_force_bw[di], ref_peak[ri]),
            peak_force_morin=(morin, ref_peak[ri]),
            all_running=bool(np.all(st.activity[di] == "run")),
        ))
    return out


# ---------------------------------------------------------------------------- markdown
def _f(x: float, digits: int = 1) -> str:
    return "–" if not np.isfinite(x) else f"{x:.{digits}f}"


def _digits(unit: str) -> int:
    return 3 if unit in ("m/s", "g", "BW") else 2 if unit in ("deg", "mm") else 1


def render(runs: Sequence[SyntheticRun], alcantara: Sequence[AlcantaraSteps] | None,
           balance: Sequence[BalanceRun] = ()) -> str:
    """The markdown section on the whole analysis (appended to ``docs/validation.md``)."""
    lines: list[str] = []
    add = lines.append
    add("# Validation of the per-step metrics (`imurun.analyze`)")
    add("")
    gy = [r for r in runs if r.gyro]
    acc = [r for r in runs if not r.gyro]
    minutes = gy[0].duration_s / 60 if gy else float("nan")
    add(f"Generated by the same command from {len(gy)} synthetic sessions of the virtual sensor "
        f"({minutes:.0f} min each: standing, walking, running at several paces with turns and a "
        "180° turnaround), each with the default sensor noise model (white noise, accelerometer "
        "bias ~15 mg and gyroscope bias ~0.3°/s per axis, scale errors 0.5 %) and a random "
        "mounting (any of the 24 axis-aligned placements, tilted up to ±30°), analysed from the "
        "sensor-frame signals as a file would be: mounting and orientation estimated, nothing "
        "taken from the truth. Each truth step is paired with the nearest detected step within "
        f"{MATCH_TOLERANCE_S * 1e3:.0f} ms. Truth definitions: `imurun/sim/motion.py`; metric "
        "definitions: `docs/metrics.md`.")
    add("")
    if gy:
        p = pooled(gy)
        add("## Targets (synthetic, pooled over all sessions, with gyroscope)")
        add("")
        rows = []
        for t in SYNTHETIC_TARGETS:
            v = p[t.key]
            met = np.isfinite(v) and (v >= t.limit if t.op == ">=" else v <= t.limit)
            rows.append([t.description, f"{t.op} {t.limit:g} {t.unit}", f"{_f(v, 2)} {t.unit}",
                         "met" if met else "**not met**"])
        add(_table(["metric", "target", "value", ""], rows))
        add("")
    for label, group in (("with gyroscope", gy), ("accelerometer only", acc)):
        if not group:
            continue
        p = pooled(group)
        add(f"## Per-step errors, {label}")
        add("")
        add(f"Running steps: recall {_f(p['recall'], 2)} %, precision {_f(p['precision'], 2)} %; "
            f"IC error {_f(p['ic_mae'], 2)} ms MAE; left/right {_f(p['side'], 2)} % correct.")
        add("")
        rows = []
        for name, unit, scale in STEP_METRICS:
            est = np.concatenate([r.errors[name][0] for r in group]) * scale
            ref = np.concatenate([r.errors[name][1] for r in group]) * scale
            me = MetricError.of(name, unit, est, ref)
            d = _digits(unit)
            rows.append([f"`{name}`", unit, f"{me.n}/{me.n_truth}", _f(float(np.nanmean(ref)), d),
                         _f(me.bias, d), _f(me.rmse, d), _f(me.mae, d)])
        add(_table(["metric", "unit", "measured / paired", "truth mean", "bias", "RMSE", "MAE"],
                   rows))
        add("")
    if runs:
        add("Per session:")
        add("")
        rows = []
        for r in runs:
            e = {name: MetricError.of(name, u, r.errors[name][0] * s, r.errors[name][1] * s)
                 for name, u, s in STEP_METRICS}
            ic = r.ic_err_s * 1e3
            rows.append([str(r.seed), "yes" if r.gyro else "no", r.mounting,
                         f"{r.n_truth_running}", _f(100 * r.recall, 2),
                         _f(100 * r.activity_agreement, 2),
                         _f(100 * r.side_correct / max(r.side_n, 1), 2),
                         _f(float(np.mean(np.abs(ic))), 2), _f(e["contact_s"].rmse, 1),
                         _f(e["vertical_oscillation_m"].rmse, 2), _f(e["braking_mps"].rmse, 3),
                         _f(e["pelvic_tilt_range_deg"].rmse, 2), _f(e["pelvic_drop_deg"].rmse, 2),
                         _f(e["pelvic_rotation_range_deg"].rmse, 2), _f(r.runtime_s, 2)])
        add(_table(["seed", "gyro", "mounting", "running steps", "recall %", "activity %",
                    "L/R %", "IC MAE ms", "contact RMSE ms", "oscillation RMSE mm",
                    "braking RMSE m/s", "tilt RMSE deg", "drop RMSE deg", "rotation RMSE deg",
                    "analysis s"], rows))
        add("")
        wf = float(np.mean([r.walking_found for r in runs]))
        wic = np.concatenate([r.walking_ic_err_s for r in runs]) * 1e3
        wto = np.concatenate([r.walking_to_err_s for r in runs]) * 1e3
        wside = sum(r.walking_side_correct for r in runs)
        if wic.size:
            add(f"Walking steps (the virtual sensor's walk: two feet's ground reaction forces, "
                f"fitted to real sacral walking, see `docs/simulator.md`), all sessions with and "
                f"without gyroscope: {_f(100 * wf, 1)} % of the truth's walking steps are found "
                "and labelled walking within 200 ms; IC "
                f"error {_f(float(wic.mean()), 1)} ms bias, {_f(float(np.abs(wic).mean()), 1)} ms "
                f"MAE; a TO on {_f(100 * wto.size / wic.size, 1)} % of them (error "
                f"{_f(float(wto.mean()), 1) if wto.size else '–'} ms bias, "
                f"{_f(float(np.abs(wto).mean()), 1) if wto.size else '–'} ms MAE; the last step "
                f"of a walk has none); left/right {_f(100 * wside / wic.size, 2)} % correct. "
                "The simulated step's shape was fitted to the mean sacral signal of "
                "voisard_ipol's straight walking, on which the walking detector's settings were "
                "chosen too, and every simulated step has that shape: these numbers check that "
                "the virtual sensor and the detector agree, not how accurate walking events are "
                "(that is measured on the real references above).")
            add("")
    if balance:
        _render_balance(balance, add)
    if alcantara:
        add("## Running on a force treadmill: alcantara2022, per-step table")
        add("")
        add("The trials analysed by `imurun.analyze` (accelerometer only, vertical and forward "
            "axes; the axes are given, 5-s windows are too short to estimate a mounting), steps "
            f"paired with the force-plate contacts (vGRF > {ALCANTARA_CONTACT_BW:g} BW) within "
            f"{MATCH_TOLERANCE_S * 1e3:.0f} ms. Peak force is compared with the vGRF peak of the "
            "same contact: the step table's estimate (10 Hz low-passed vertical specific force) "
            "and the sine-wave model of Morin et al. (2005) from contact and flight time.")
        add("")
        rows = []
        all_pairs: dict[str, list[tuple[FloatArray, FloatArray]]] = {}
        spec = (("step", "step time", "ms", 1e3), ("contact", "contact time", "ms", 1e3),
                ("flight", "flight time", "ms", 1e3),
                ("peak_force", "peak vertical force", "BW", 1.0),
                ("peak_force_morin", "peak vertical force, Morin model", "BW", 1.0))
        for key, _, _, _ in spec:
            all_pairs[key] = [getattr(a, key) for a in alcantara]
        for key, label, unit, scale in spec:
            est = np.concatenate([p[0] for p in all_pairs[key]]) * scale
            ref = np.concatenate([p[1] for p in all_pairs[key]]) * scale
            me = MetricError.of(key, unit, est, ref)
            trial_means = [float(np.nanmean(p[0] * scale) - np.nanmean(p[1] * scale))
                           for p in all_pairs[key] if np.isfinite(p[0] - p[1]).any()]
            d = _digits(unit)
            rows.append([label, unit, str(me.n), _f(float(np.nanmean(ref)), d), _f(me.bias, d),
                         _f(me.rmse, d), _f(max(np.abs(trial_means)) if trial_means
                                            else float("nan"), d)])
        add(_table(["metric", "unit", "paired steps", "reference mean", "bias", "RMSE",
                    "worst trial-mean error"], rows))
        add("")
        n_ref = sum(a.n_ref for a in alcantara)
        n_pair = sum(a.n_paired for a in alcantara)
        add(f"{n_pair} of {n_ref} force-plate contacts paired; every paired step labelled "
            f"running: {'yes' if all(a.all_running for a in alcantara) else 'no'}. One runner, "
            "one sensor: these numbers say nothing about other runners or mountings.")
        add("")
    add("## Limits")
    add("")
    add("* The synthetic truth is a model: rigid sensor on the sacrum, no soft-tissue motion, "
        "no lever arm, level ground. It checks the mathematics end to end (mounting, "
        "orientation, integration, events) under realistic sensor errors; it cannot show how "
        "well the sacrum represents the centre of mass or how a real pelvis moves.")
    add("* No real running recording with a gyroscope and a pelvis reference was available: "
        "pelvic tilt, drop and rotation are validated on synthetic truth only.")
    add("* Vertical oscillation and braking assume level running at a steady pace within a few "
        "strides (see `docs/metrics.md`).")
    add("")
    return "\n".join(lines)


def _render_balance(balance: Sequence[BalanceRun], add: Callable[[str], None]) -> None:
    n = len({b.seed for b in balance})
    add("## Contact balance of asymmetric runners (synthetic)")
    add("")
    add(f"Virtual runners whose left contacts last longer or shorter than their right ones ({n} "
        f"sessions of {BALANCE_MINUTES:.0f} min per share, noise and random mountings as above). "
        "Balance is the summary's `contact_balance_left_pct`; the truth's is the same definition "
        "applied to the true contact times. *Step time only*: the toe-off model given body "
        "weight times each step's time instead of the step's share of the measured impulse "
        "(`to_step_impulse=False`).")
    add("")
    rows = []
    for share in sorted({b.share for b in balance}):
        g = [b for b in balance if b.share == share]
        truth = np.array([b.truth_pct for b in g])
        new = np.array([b.measured_pct for b in g]) - truth
        old = np.array([b.step_time_pct for b in g]) - truth
        left = np.array([b.contact_bias_ms[0] for b in g])
        right = np.array([b.contact_bias_ms[1] for b in g])
        rows.append([f"{100 * share:g} %", _f(float(np.mean(truth)), 1),
                     f"{_f(float(np.mean(new)), 2)} ({_f(float(np.min(new)), 2)} to "
                     f"{_f(float(np.max(new)), 2)})",
                     f"{_f(float(np.mean(old)), 2)} ({_f(float(np.min(old)), 2)} to "
                     f"{_f(float(np.max(old)), 2)})",
                     _f(float(np.mean(left)), 1), _f(float(np.mean(right)), 1)])
    add(_table(["runner's share on the left", "true balance % left",
                "measured − true, points (range)", "step time only: measured − true, points",
                "contact bias left ms", "contact bias right ms"], rows))
    add("")
    worst = max(abs(b.measured_pct - b.truth_pct) for b in balance)
    add(f"The largest error of a session is {worst:.2f} points. The side with the shorter "
        "contacts keeps a toe-off that comes early: the virtual runner's impact transient has "
        "the same size on both sides, so it is a larger part of the short contact's impulse, and "
        "the half-sine model has no impact transient.")
    add("")


def main_section(root: Path | None = None, *, seeds: Sequence[int] = SYNTHETIC_SEEDS,
                 minutes: float = SYNTHETIC_MINUTES) -> str:
    """Everything above, as ``make validate`` runs it (alcantara2022 when it is found)."""
    from imurun.validation.datasets import DatasetNotFoundError

    runs = synthetic_accuracy(seeds, minutes)
    try:
        alc: list[AlcantaraSteps] | None = alcantara_step_metrics(root)
    except DatasetNotFoundError:
        alc = None
    return render(runs, alc, asymmetric_balance())


