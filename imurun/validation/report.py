"""Render the validation results as markdown: ``python -m imurun.validation.report --out F``.

Every number in the output is computed here from the data; nothing is typed by hand. The text
around the tables states definitions and limits that do not depend on the numbers.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from imurun.signal.events import detect_running_events
from imurun.validation._markdown import ms as _ms
from imurun.validation._markdown import pct as _pct
from imurun.validation._markdown import table as _table
from imurun.validation.datasets import (
    ALCANTARA_CONTACT_BW,
    MERGE_REFERENCE_IC_S,
    DatasetNotFoundError,
    Trial,
    load_alcantara2022,
    load_dataset,
    shared_data_root,
)
from imurun.validation.evaluate import (
    LONG_REF_INTERVAL,
    TARGETS,
    CrossValidation,
    EventMetrics,
    GroupSummary,
    TrialResult,
    ValidationResults,
    WalkingCrossValidation,
    cross_validate_running,
    cross_validate_walking,
    metric_value,
    run_validation,
    summarise,
    target_met,
)
from imurun.validation.optical import (
    OpticalComparison,
    compare_references,
    optical_limits,
    optical_section,
)
from imurun.validation.peers import (
    load_walking_peers,
    walking_peers_limits,
    walking_peers_section,
)
from imurun.validation.rates import RateRow, slow_rate_rows, slow_rate_section

__all__ = ["CrossChecks", "cross_checks", "main", "render", "synthetic_runtime_s"]


@dataclass(frozen=True)
class CrossChecks:
    """The cross-validated estimates shown next to the in-sample ones.

    ``running``: leave one slope / one speed out on alcantara2022 (``"slope"``, ``"speed"``).
    ``walking``: leave one data set out and leave one subject out (subjects of both walking
    data sets), refitting the IC marker weight (``"data set"``, ``"subject"``) or the weight
    and a constant IC offset (``"data set + offset"``, ``"subject + offset"``).
    """

    running: dict[str, CrossValidation]
    walking: dict[str, WalkingCrossValidation]

    def value(self, dataset: str, key: str) -> float:
        """Cross-validated value of a target (NaN when not computed)."""
        if dataset == "alcantara2022" and "slope" in self.running:
            return metric_value(self.running["slope"].pooled, key)
        wcv = self.walking.get("subject")
        if wcv is not None:
            for g in wcv.pooled:
                if g.label == dataset:
                    return metric_value(g, key)
        return float("nan")


#: What the "cross-validated" column of the targets table is, per data set.
CV_LABEL = {"alcantara2022": "leave one slope out",
            "mobgap_lab": "leave one subject out", "voisard_ipol": "leave one subject out"}


def cross_checks(results: ValidationResults, running_trials: Sequence[Trial] | None,
                 walking_trials: Sequence[Trial] | None) -> CrossChecks:
    """Run the leave-one-group-out checks (with the settings ``results`` was made with)."""
    run: dict[str, CrossValidation] = {}
    if running_trials:
        run["slope"] = cross_validate_running(
            running_trials, lambda t: _slope_key(t.condition.slope_pct), base=results.running)
        run["speed"] = cross_validate_running(
            running_trials, lambda t: _speed_key(t.condition.speed_ms), base=results.running)
    walk: dict[str, WalkingCrossValidation] = {}
    if walking_trials:
        cache: dict[float, list[TrialResult]] = {}
        for group, key in (("data set", _dataset_of), ("subject", _subject_of)):
            walk[group] = cross_validate_walking(walking_trials, key, base=results.walking,
                                                 cache=cache)
            walk[f"{group} + offset"] = cross_validate_walking(
                walking_trials, key, fit_offset=True, base=results.walking, cache=cache)
    return CrossChecks(running=run, walking=walk)


def _slope_key(slope_pct: float | None) -> str:
    return "slope unknown" if slope_pct is None else f"{slope_pct:+g} %"


def _speed_key(speed_ms: float | None) -> str:
    return "speed unknown" if speed_ms is None else f"{speed_ms:g} m/s"


def _dataset_of(t: Trial) -> str:
    return t.dataset


def _subject_of(t: Trial) -> str:
    return t.subject.subject_id


def _event_cells(m: EventMetrics | None) -> list[str]:
    if m is None:
        return ["–"] * 7
    return [str(m.n_ref), _pct(m.precision), _pct(m.recall), _pct(m.f1), _ms(m.bias_s),
            _ms(m.mae_s), _ms(m.sd_s)]


_EV_HEAD = ["n ref", "precision %", "recall %", "F1 %", "bias ms", "MAE ms", "SD ms"]


def _running_rows(groups: Sequence[GroupSummary]) -> list[list[str]]:
    rows = []
    for g in groups:
        rows.append([g.label, str(g.n_trials), *_event_cells(g.ic)[:1], _pct(g.ic.precision),
                     _pct(g.ic.recall), _ms(g.ic.bias_s), _ms(g.ic.mae_s),
                     _pct(g.to.precision) if g.to else "–", _pct(g.to.recall) if g.to else "–",
                     _ms(g.to.bias_s) if g.to else "–", _ms(g.to.mae_s) if g.to else "–",
                     _ms(g.contact_bias_s), _ms(g.contact_rmse_s),
                     _ms(g.trial_mean_contact_max_abs_s)])
    return rows


_RUN_HEAD = ["group", "trials", "steps (ref IC)", "IC P %", "IC R %", "IC bias ms", "IC MAE ms",
             "TO P %", "TO R %", "TO bias ms", "TO MAE ms", "contact bias ms",
             "contact RMSE ms", "worst trial-mean contact error ms"]


def synthetic_runtime_s(fs_hz: float = 200.0, hours: float = 1.0, repeats: int = 3,
                        root: Path | None = None) -> tuple[float, int]:
    """Median time of :func:`detect_running_events` on ``hours`` of running at ``fs_hz``.

    The signal tiles one real alcantara2022 trial (resampled from 500 Hz), with a random
    lateral axis and gyroscope (fixed seed) so that the side path runs too.
    Returns ``(seconds, steps)``.
    """
    from scipy.signal import resample_poly

    trial = load_alcantara2022(root)[2]
    acc = np.nan_to_num(trial.bf_acc_ms2)
    up, down = int(round(fs_hz)), int(round(trial.fs_hz))
    g = int(np.gcd(up, down))
    acc = resample_poly(acc, up // g, down // g, axis=0)
    n = int(round(hours * 3600 * fs_hz))
    big = np.tile(acc, (int(np.ceil(n / acc.shape[0])), 1))[:n]
    rng = np.random.default_rng(20240601)
    big[:, 1] = rng.normal(0.0, 1.0, n)
    gyr = rng.normal(0.0, 0.5, (n, 3))
    times = []
    steps = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        ev = detect_running_events(big, fs_hz, gyr)
        times.append(time.perf_counter() - t0)
        steps = len(ev)
    return float(np.median(times)), steps


def render(results: ValidationResults, *, runtime: tuple[float, int] | None = None,
           cv_trials: Sequence[Trial] | None = None,
           checks: CrossChecks | None = None,
           walking_trials: Sequence[Trial] | None = None,
           walking_peers: Mapping[str, Any] | None = None,
           optical: OpticalComparison | None = None,
           slow_rates: Sequence[RateRow] | None = None) -> str:
    """The markdown document.

    ``checks``: the cross-validated estimates, when computed; ``walking_trials``: the walking
    trials, for the analysis of the remaining walking errors; ``walking_peers``: the
    benchmark's measurement of mobgap on the walking data sets
    (:func:`~imurun.validation.peers.load_walking_peers`; ``None``: "not measured");
    ``optical``: mobgap_lab scored against its optical reference
    (:func:`~imurun.validation.optical.compare_references`; ``None``: the section is left out);
    ``slow_rates``: the data sets at 50 Hz (:func:`~imurun.validation.rates.slow_rate_rows`;
    ``None`` or empty: the section is left out).
    """
    lines: list[str] = []
    add = lines.append
    add("# Validation of gait event detection")
    add("")
    add("Generated by `python -m imurun.validation.report --out docs/validation.md` "
        f"(`make validate`) with imurun {results.version}, Python "
        f"{platform.python_version()}, NumPy {np.__version__}. Every number below is "
        "computed from the shared data sets by that command; do not edit by hand.")
    add("")
    if results.missing:
        add(f"**Data sets not found, not evaluated:** {', '.join(results.missing)}.")
        add("")
    add("## How it is measured")
    add("")
    add(f"* **alcantara2022** (running, one runner, 21 treadmill trials of 4.96 s, 500 Hz "
        "sacral accelerometer with vertical and anteroposterior axes only): reference contact ="
        f" vGRF > {ALCANTARA_CONTACT_BW:g} BW, crossings interpolated between samples; intervals "
        "shorter than 30 ms are filter ringing during flight and are dropped. The vGRF is used "
        "as published (its ≈2-sample lag is not corrected). The accelerometer was low-pass "
        "filtered and clipped at 0 by the authors and is used unchanged.")
    add("* **mobgap_lab** (walking, 1 healthy adult + 1 person with MS, McRoberts MM+ lower "
        "back, 100 Hz): INDIP initial and final contacts and their sides, scored inside the "
        "INDIP micro walking bouts (turns included)."
        + ("" if optical is None else " How far INDIP itself is from the lab's optical "
           "reference is measured in the section \"mobgap_lab against its optical "
           "reference\"."))
    add("* **voisard_ipol** (walking, 10 subjects, Xsens MTw at L5, 100 Hz): initial contacts, "
        "toe-offs and sides from the foot sensors, scored inside `TrialBoundaries` (10 m, "
        "U-turn, 10 m).")
    add(f"* In both walking references, initial contacts (and toe-offs) closer than "
        f"{MERGE_REFERENCE_IC_S * 1e3:g} ms to each other are one event (no walking step is "
        "that short): mobgap_lab lists "
        "some contacts twice where two micro walking bouts meet, and both references label "
        "both feet at a few starts and stops.")
    tol = results.tolerance_s
    add(f"* Matching: one-to-one, nearest first, within {tol['running'] * 1e3:g} ms (running) "
        f"or {tol['walking'] * 1e3:g} ms (walking); unmatched detections are false positives, "
        "unmatched references false negatives. Events within one tolerance of the start or "
        "end of a recording are not scored (their partner may lie outside it). Errors are "
        "detected − reference (positive = late); MAE = mean absolute error over matched events.")
    add("* Contact time is scored on steps whose IC and TO both matched the same reference "
        "step; the per-trial error is the difference of the trial means over those steps.")
    add("* Left/right accuracy: matched ICs whose reference side is known (a step with side "
        "*unknown* counts as wrong).")
    add("* Detector settings: the defaults of `RunningSettings` and `WalkingSettings`:")
    add("")
    add("```")
    add(f"RunningSettings: {asdict(results.running)}")
    add(f"WalkingSettings: {asdict(results.walking)}")
    add("```")
    add("")

    # targets
    add("## Targets")
    add("")
    add(_targets_table(results, checks))
    add("")
    if checks is not None:
        add("*In-sample*: with the default settings, some of which were chosen on these same "
            "data. *Cross-validated*: what was chosen on the data is refitted without the "
            "held-out group and the group is scored with it (running: `to_pulse_width`, "
            "leave one slope out; walking: the IC marker weight `ic_rise_weight`, leave one "
            "subject out over both walking data sets). That is the estimate for new "
            "conditions or people; details below.")
        add("")

    if "alcantara2022" in results.datasets():
        _running_section(results, add, cv_trials, checks)
    walking = [d for d in results.datasets() if d in ("mobgap_lab", "voisard_ipol")]
    if walking:
        _walking_section(results, walking, add, checks)
        if walking_trials:
            from imurun.validation.walking_errors import walking_errors_section

            add(walking_errors_section(walking_trials, results.walking))
        if optical is not None:
            add(optical_section(optical))
        add(walking_peers_section(walking_peers))
    if slow_rates:
        add(slow_rate_section(slow_rates))

    add("## Runtime")
    add("")
    rows = []
    for ds in results.datasets():
        rs = results.by_dataset(ds)
        tot = sum(r.runtime_s for r in rs)
        dur = sum(r.duration_s for r in rs)
        rows.append([ds, f"{dur:.0f}", f"{tot:.3f}", f"{tot / dur * 3600:.2f}"])
    add(_table(["data set", "recorded s", "detector s", "s per hour of recording"], rows))
    add("")
    if runtime is not None:
        add(f"Synthetic 1 h of running at 200 Hz (one real alcantara2022 trial resampled and "
            f"tiled, random lateral axis and gyroscope so the side path runs): "
            f"**{runtime[0]:.2f} s** for {runtime[1]} steps (median of 3 runs, "
            f"{platform.processor() or platform.machine()}).")
        add("")
    add("## Limits")
    add("")
    add("* The running reference is one runner on a treadmill; the contact-pulse width "
        "factor of the toe-off model (`to_pulse_width`) was fitted on these same trials. The "
        "leave-one-condition-out check above is the honest estimate for new conditions of this "
        "runner; other runners, sensors and mountings are not covered by any data here.")
    add("* No running data set has a lateral axis or a gyroscope: running left/right is "
        "implemented with the same physics as walking but is **not validated**. alcantara2022 "
        "steps get side *unknown*.")
    tail = "" if not cv_trials else _tail_text(cv_trials)
    parts = [] if not cv_trials else _contact_parts(results, cv_trials)
    shares = "" if not parts else (
        " The per-trial contact-time error left has two parts (table \"Per trial, at the "
        "detector's pulse width\"): the model's own, from "
        f"{min(p.model_s for p in parts) * 1e3:.1f} to "
        f"{max(p.model_s for p in parts) * 1e3:.1f} ms, and that of the sensor's inputs, from "
        f"{min(p.inputs_s for p in parts) * 1e3:.1f} to "
        f"{max(p.inputs_s for p in parts) * 1e3:.1f} ms, of which the IC part (the IC bias "
        f"times the model's slope, {min(p.gain for p in parts):.2f} to "
        f"{max(p.gain for p in parts):.2f}) ranges from "
        f"{min(p.ic_share_s for p in parts) * 1e3:.1f} to "
        f"{max(p.ic_share_s for p in parts) * 1e3:.1f} ms.")
    add("* Toe-off is modelled, not seen: the sacrum's vertical acceleration near toe-off "
        "also carries pelvis motion (a bump that grows uphill), so TO comes from the spring-"
        "mass model anchored where the force falls through body weight. What the model cannot "
        "follow is the trial-to-trial change of the force's own toe-off tail" + tail + "."
        + shares)
    add("* Walking: the steps inside a reference turn window (slow pivoting steps) leave "
        "almost no trace at the trunk and are most of the missed walking ICs (table \"Where "
        "the missed reference ICs are\"): averaged around the missed turn contacts of "
        "voisard_ipol, the vertical and total acceleration, its rate of change and the three "
        "angular rates are all flat, while around the detected turn contacts they show the "
        "straight-walking pattern at about half its size. The step that closes a "
        "walk (the trailing foot brought alongside) is weak too: it is accepted at a lower "
        "prominence (`closing_prominence_ms2`) one step time after the last step of a walk, "
        "and its IC is searched over that window (`closing_ic_window`: a foot set down gently "
        "takes its weight slowly, so the weak peak can come late after the contact); this "
        "finds about half of them, but its IC is timed less well than a full step's. "
        "At the start of a walk, the stance leg's loading as the leading foot lifts off "
        "makes a weak trunk peak one swing time before the first contact; it is dropped "
        "(`initiation_prominence`, `initiation_step_ratio`), which removes most of the false "
        "detections at walk starts and loses a few true first steps that come early. "
        "The walking cross-validation refits only the IC "
        "marker weight; the other walking settings were chosen earlier on the same two data "
        "sets.")
    if walking:
        add(walking_peers_limits(walking_peers))
    if optical is not None and "mobgap_lab" in results.datasets():
        mob = results.summary("mobgap_lab")
        limit = optical_limits(optical, lambda key: target_met(
            next(t for t in TARGETS if t.dataset == "mobgap_lab" and t.key == key),
            metric_value(mob, key)))
        if limit:
            add(limit)
    walking = [d for d in results.datasets() if d in ("mobgap_lab", "voisard_ipol")]
    share = {n: _to_share(results.summary(n)) for n in walking}
    share = {n: v for n, v in share.items() if np.isfinite(v)}
    if share:
        add("* Walking TO is found only where the trunk shows the push-off: with a short "
            "double support (fast walking) the dip after the loading peak merges into it and "
            "the step's TO, stance time and double support are left unknown (null). Steps "
            "with a TO: " + ", ".join(f"{n} {_pct(v)} %" for n, v in share.items()) + ".")
    else:
        add("* Walking TO is not estimated.")
    add("")
    return "\n".join(lines)


def _tail_text(trials: Sequence[Trial]) -> str:
    """How long the reference force takes from 0.3 BW down to the contact threshold, per trial."""
    from imurun.signal._segments import crossings

    means = []
    for t in trials:
        if t.ref_vgrf_bw is None:
            continue
        _, dn = crossings(np.asarray(t.ref_vgrf_bw, dtype=np.float64), 0.3)
        d = []
        for to in t.ref_to_s:
            k = np.searchsorted(dn, to * t.fs_hz) - 1
            if k >= 0 and to * t.fs_hz - dn[k] < 0.1 * t.fs_hz:
                d.append(to - dn[k] / t.fs_hz)
        if d:
            means.append(float(np.mean(d)))
    if not means:
        return ""
    return (f" (the trial mean of the time from 0.3 BW down to {ALCANTARA_CONTACT_BW:g} BW "
            f"ranges from {min(means) * 1e3:.0f} to {max(means) * 1e3:.0f} ms)")


def _targets_table(results: ValidationResults, checks: CrossChecks | None) -> str:
    rows = []
    for t in TARGETS:
        limit = f"{t.op} {_fmt_limit(t.limit, t.unit)}"
        if t.dataset not in results.datasets():
            rows.append([t.dataset, t.description, limit, "not evaluated", "–", "", ""])
            continue
        v = metric_value(results.summary(t.dataset), t.key)
        cv = checks.value(t.dataset, t.key) if checks is not None else float("nan")
        rows.append([t.dataset, t.description, limit, _fmt_limit(v, t.unit),
                     "met" if target_met(t, v) else "**not met**",
                     _fmt_limit(cv, t.unit) if np.isfinite(cv) else "–",
                     ("met" if target_met(t, cv) else "**not met**") if np.isfinite(cv)
                     else ""])
    return _table(["data set", "metric", "target", "in-sample", "", "cross-validated", ""],
                  rows)


def _fmt_limit(v: float, unit: str) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{v * 1e3:.1f} ms" if unit == "ms" else f"{v * 100:.1f} %"


def _running_section(results: ValidationResults, add: Callable[[str], None],
                     cv_trials: Sequence[Trial] | None, checks: CrossChecks | None) -> None:
    from imurun.validation.evaluate import evaluate_trial

    name = "alcantara2022"
    rs = results.by_dataset(name)
    add("## Running: alcantara2022")
    add("")
    overall = results.summary(name)
    groups = [overall]
    if cv_trials:
        for label, cfg in (
                ("vertical axis only (`ic_use_braking=False`)",
                 replace(results.running, ic_use_braking=False)),
                ("toe-off at the 0.3 g level crossing (`to_method=\"level\"`)",
                 replace(results.running, to_method="level"))):
            groups.append(summarise([evaluate_trial(t, running=cfg) for t in cv_trials], label))
    add(_table(_RUN_HEAD, _running_rows(groups)))
    add("")
    add("The second row ignores the forward axis: IC is then the loading rise of the vertical "
        "signal extended down to zero force. It shows what an accelerometer whose forward axis "
        "is unknown or unreliable gets. The third row replaces the spring-mass toe-off by the "
        "downward crossing of the contact level (the rule used before), for comparison.")
    add("")
    add("By slope:")
    add("")
    add(_table(_RUN_HEAD, _running_rows(results.groups(
        name, lambda r: _slope_key(r.slope_pct)))))
    add("")
    add("By speed:")
    add("")
    add(_table(_RUN_HEAD, _running_rows(results.groups(
        name, lambda r: _speed_key(r.speed_ms)))))
    add("")
    add("Per trial (IC and TO bias, mean contact time of the reference and its error):")
    add("")
    rows = []
    for r in rs:
        ic, to = r.ic, r.to
        rows.append([r.trial_id, r.condition, f"{ic.tp}/{ic.n_ref}",
                     f"{to.tp}/{to.n_ref}" if to else "–", _ms(ic.bias_s), _ms(ic.mae_s),
                     _ms(to.bias_s) if to else "–", _ms(to.mae_s) if to else "–",
                     _ms(float(r.contact_ref_s.mean()) if r.contact_ref_s.size else np.nan, 0),
                     _ms(r.mean_contact_error_s)])
    add(_table(["trial", "condition", "IC matched", "TO matched", "IC bias ms", "IC MAE ms",
                "TO bias ms", "TO MAE ms", "ref contact ms", "contact error ms"], rows))
    add("")
    if not cv_trials:
        return
    add("### Sensitivity and leave-one-condition-out check")
    add("")
    add("The one parameter fitted on these trials is `to_pulse_width` (contact pulses are "
        "wider at the base than the half-sine of the spring-mass model). Against the "
        "reference, everything else default:")
    add("")
    rows = []
    for w in (1.0, 1.03, 1.05, 1.07, 1.1):
        cfg = replace(results.running, to_pulse_width=w)
        g = summarise([evaluate_trial(t, running=cfg) for t in cv_trials], f"{w:g}")
        assert g.to is not None
        rows.append([g.label, _pct(g.to.recall), _ms(g.to.bias_s), _ms(g.to.mae_s),
                     _ms(g.contact_bias_s), _ms(g.contact_rmse_s),
                     _ms(g.trial_mean_contact_max_abs_s)])
    add(_table(["pulse width", "TO recall %", "TO bias ms", "TO MAE ms", "contact bias ms",
                "contact RMSE ms", "worst trial-mean ms"], rows))
    add("")
    if checks is None:
        return
    for label, key in (("slope", "slope"), ("speed", "speed")):
        cv = checks.running.get(key)
        if cv is None:
            continue
        add(f"Leave one {label} out: `to_pulse_width` fitted on the other {label}s, scored "
            "on the held-out one.")
        add("")
        rows = [[g.label, f"{w:g}", _ms(g.ic.mae_s), _ms(g.to.mae_s) if g.to else "–",
                 _ms(g.contact_bias_s), _ms(g.contact_rmse_s),
                 _ms(g.trial_mean_contact_max_abs_s)]
                for g, w in zip(cv.held_out, cv.pulse_width, strict=True)]
        p = cv.pooled
        rows.append(["**pooled**", "", _ms(p.ic.mae_s), _ms(p.to.mae_s) if p.to else "–",
                     _ms(p.contact_bias_s), _ms(p.contact_rmse_s),
                     _ms(p.trial_mean_contact_max_abs_s)])
        rows.append(["in-sample (defaults)", f"{results.running.to_pulse_width:g}",
                     _ms(overall.ic.mae_s), _ms(overall.to.mae_s) if overall.to else "–",
                     _ms(overall.contact_bias_s), _ms(overall.contact_rmse_s),
                     _ms(overall.trial_mean_contact_max_abs_s)])
        add(_table([f"held-out {label}", "fitted pulse width", "IC MAE ms", "TO MAE ms",
                    "contact bias ms", "contact RMSE ms", "worst trial-mean ms"], rows))
        add("")
    _model_on_reference(cv_trials, results.running.to_pulse_width, add)
    _contact_error_parts_section(results, cv_trials, add)


@dataclass(frozen=True)
class _ContactParts:
    """Where one trial's mean contact-time error comes from (seconds)."""

    trial_id: str
    condition: str
    detector_s: float  # the detector's trial-mean contact error
    model_s: float  # the toe-off model fed with the force plate's timings, same pulse width
    gain: float  # d(contact)/d(time from IC to the body-weight fall) of the model here
    ic_bias_s: float  # the detector's mean IC error

    @property
    def inputs_s(self) -> float:
        """The share of the sensor's inputs: what the detector adds to the model's own error."""
        return self.detector_s - self.model_s

    @property
    def ic_share_s(self) -> float:
        """The part of it an IC error makes: an early IC lengthens the modelled contact."""
        return -self.gain * self.ic_bias_s


def _contact_parts(results: ValidationResults, trials: Sequence[Trial]) -> list[_ContactParts]:
    """Split each alcantara2022 trial's contact error into the model's and the inputs' shares.

    The toe-off model gives the contact time from ``e``, the time from IC to the fall of the
    force through body weight, and the step time; an error in ``e`` (an IC that is early, a
    body-weight fall at the sacrum that is late) reaches the contact time multiplied by the
    model's slope ``d tc / d e`` (``gain``, about 1.5 for these contacts: with IC later and the
    fall fixed, the modelled pulse is shorter *and* its tail after the fall is shorter).
    """
    from imurun.validation.evaluate import spring_mass_on_reference

    width = results.running.to_pulse_width
    det = {r.trial_id: r for r in results.by_dataset("alcantara2022")}
    out = []
    for t in trials:
        r = det.get(t.trial_id)
        if r is None or t.ref_vgrf_bw is None:
            continue
        tc, ref = spring_mass_on_reference(t, width)
        if not tc.size or not np.isfinite(r.mean_contact_error_s):
            continue
        gain = _spring_mass_slope(float(np.median(ref)), float(np.median(np.diff(t.ref_ic_s))),
                                  width)
        out.append(_ContactParts(t.trial_id, r.condition, r.mean_contact_error_s,
                                 float(np.mean(tc - ref)), gain, r.ic.bias_s))
    return out


def _spring_mass_slope(contact_s: float, step_s: float, width: float) -> float:
    """``d tc / d e`` of :func:`~imurun.signal.events.spring_mass_contact_s` at contact ``tc``.

    ``e`` is the time from IC to the body-weight fall; evaluated numerically on a fine grid of
    ``e`` around the ``e`` that gives ``contact_s`` (NaN outside the model's range).
    """
    from imurun.signal.events import spring_mass_contact_s

    e = np.linspace(0.05, 0.95, 3601) * step_s
    c = spring_mass_contact_s(e, step_s, width)
    ok = np.isfinite(c)
    if not ok.any() or not c[ok].min() <= contact_s <= c[ok].max():
        return float("nan")
    e, c = e[ok], c[ok]
    at = int(np.argmin(np.abs(c - contact_s)))
    return float(np.gradient(c, e)[at])


def _contact_error_parts_section(results: ValidationResults, trials: Sequence[Trial],
                                 add: Callable[[str], None]) -> None:
    parts = _contact_parts(results, trials)
    if not parts:
        return
    width = results.running.to_pulse_width
    add("Per trial, at the detector's pulse width: the detector's mean contact error, the "
        "model's own error with the force plate's timings (table above), and the difference: "
        "what the sensor's inputs add. The model multiplies an error in the time from IC to "
        "the body-weight fall by its slope `d tc / d e` (shown); the IC part is that slope "
        "times the detector's IC bias, with the sign reversed (an early IC lengthens the "
        "contact); the rest comes from the body-weight fall at the sacrum and the step's "
        "impulse share. A time offset between the sensor and the plate moves IC and the "
        "fall alike and cancels between those two parts. Trial means are over slightly "
        "different steps (scored pairs vs steps with a complete reference).")
    add("")
    rows = [[p.trial_id, p.condition, _ms(p.detector_s), _ms(p.model_s), _ms(p.inputs_s),
             f"{p.gain:.2f}", _ms(p.ic_bias_s), _ms(p.ic_share_s),
             _ms(p.inputs_s - p.ic_share_s)] for p in parts]
    add(_table(["trial", "condition", "detector ms", f"model, plate timings ({width:g}) ms",
                "sensor inputs ms", "d tc / d e", "IC bias ms", "IC part ms",
                "rest of inputs ms"], rows))
    add("")
    model = np.array([p.model_s for p in parts])
    inputs = np.array([p.inputs_s for p in parts])
    worst = sorted(parts, key=lambda p: -abs(p.detector_s))[:4]
    add(f"The model's own share ranges from {model.min() * 1e3:.1f} to "
        f"{model.max() * 1e3:.1f} ms by trial, the sensor inputs' from "
        f"{inputs.min() * 1e3:.1f} to {inputs.max() * 1e3:.1f} ms. The trials with the "
        "largest errors: " + "; ".join(
            f"{p.trial_id} {_ms(p.detector_s)} ms (model {_ms(p.model_s)}, inputs "
            f"{_ms(p.inputs_s)}, of which IC {_ms(p.ic_share_s)})" for p in worst) + ".")
    add("")


def _model_on_reference(trials: Sequence[Trial], default_width: float,
                        add: Callable[[str], None]) -> None:
    """The spring-mass model fed with the force plate's timings: its own share of the error."""
    from imurun.validation.evaluate import PULSE_WIDTH_GRID, spring_mass_on_reference

    def score(w: float) -> tuple[float, float, float, float, int]:
        means, errs = [], []
        for t in trials:
            tc, ref = spring_mass_on_reference(t, w)
            if tc.size:
                means.append(float(np.mean(tc - ref)))
                errs.append(tc - ref)
        e = np.concatenate(errs) if errs else np.zeros(0)
        m = np.asarray(means)
        if not m.size:
            return np.nan, np.nan, np.nan, np.nan, 0
        return (float(np.abs(m).max()), float(m.min()), float(m.max()),
                float(np.sqrt(np.mean(e**2))), int(e.size))

    scores = {w: score(w) for w in PULSE_WIDTH_GRID}
    if not any(v[4] for v in scores.values()):
        return
    best = min(scores, key=lambda w: scores[w][0])
    add("### The contact-time model on the force plate's own timings")
    add("")
    add("The detector's toe-off is the spring-mass model fed with what it measures at the "
        "sacrum: IC, the step time (weighted by the step's share of the vertical impulse) and "
        "the fall of the vertical force through body weight. Fed with the same taken from the "
        "reference vGRF instead, the model's error is what a perfect sensor would still get "
        "(steps with a reference IC, toe-off and next IC):")
    add("")
    rows = []
    for w in sorted({1.0, 1.03, default_width, 1.07, best, 1.1}):
        worst, lo, hi, rmse, n = scores.get(w) or score(w)
        label = f"{w:g}" + (" (the detector's)" if w == default_width else "") + (
            " (best here)" if w == best else "")
        rows.append([label, str(n), _ms(rmse), f"{lo * 1e3:.1f} to {hi * 1e3:.1f}", _ms(worst)])
    add(_table(["pulse width", "steps", "contact RMSE ms", "trial-mean errors ms",
                "worst trial-mean ms"], rows))
    add("")
    w_best, w_def = scores[best][0], (scores.get(default_width) or score(default_width))[0]
    limit = next(t.limit for t in TARGETS
                 if t.dataset == "alcantara2022" and t.key == "contact_trial_mean")
    add(f"With perfect timings the model's worst trial-mean contact error is {w_best * 1e3:.1f} "
        f"ms at its best pulse width ({best:g}) and {w_def * 1e3:.1f} ms at the detector's "
        f"({default_width:g}). The first is {100 * w_best / limit:.0f} % of the target "
        f"({limit * 1e3:g} ms) before any error of the sensor is added: it comes from the "
        "trial-to-trial variation of the force's shape, which the half-sine does not follow.")
    add("")


def _walking_section(results: ValidationResults, names: Sequence[str],
                     add: Callable[[str], None], checks: CrossChecks | None = None) -> None:
    add("## Walking: initial contacts, toe-offs and sides")
    add("")
    head = ["group", "trials", *_EV_HEAD, "straight F1 %", "turn F1 %", "L/R %", "L/R n"]

    def row(g: GroupSummary) -> list[str]:
        return [g.label, str(g.n_trials), *_event_cells(g.ic), _pct(g.straight.f1),
                _pct(g.turn.f1), _pct(g.side_accuracy), str(g.side_n)]

    add(_table(head, [row(results.summary(n)) for n in names]))
    add("")
    _walking_to_section(results, names, add)
    add("Where the missed reference ICs are (a turn window of the reference; the first or the "
        "last IC of an evaluation window, i.e. the first step of a walk or the step that "
        "closes it; anywhere else), and the false detections in turns:")
    add("")
    rows = []
    for n in names:
        rs = results.by_dataset(n)
        m = np.sum([r.missed_at for r in rs], axis=0)
        s = results.summary(n)
        fp_turn = sum(r.turn_counts[1] for r in rs)
        fp_pair = sum(r.false_between_same_foot for r in rs)
        rows.append([n, str(s.ic.n_ref), str(s.ic.fn), str(m[0]), str(m[1]), str(m[2]),
                     str(m[3]), str(s.ic.fp), str(fp_turn), str(fp_pair)])
    add(_table(["data set", "ref ICs", "missed", "in turns", "first of a walk",
                "closing step", "elsewhere", "false detections", "of them in turns",
                "of them between two contacts of one foot"], rows))
    add("")
    add("Walking alternates feet, yet the references sometimes list two consecutive contacts "
        "of the same foot; between them the other foot was set down without being listed, "
        "or it pivoted without leaving the ground. This happens far more often in turns than in "
        "straight walking:")
    add("")
    pair_rows = []
    for n in names:
        c = np.sum([r.ref_same_foot for r in results.by_dataset(n)], axis=0)
        pair_rows.append([n, f"{c[0]} of {c[1]}", _pct(c[0] / c[1] if c[1] else float("nan")),
                          f"{c[2]} of {c[3]}", _pct(c[2] / c[3] if c[3] else float("nan"))])
    add(_table(["data set", "same-foot pairs, straight", "%", "same-foot pairs, in turns", "%"],
               pair_rows))
    add("")
    add("A detection more than the matching tolerance inside such a pair (last column above) "
        "may be that unlisted contact; it is scored as a false detection all the same.")
    add("")
    add(f"The same holds where the reference lists no contact for an unusually long time: "
        f"an interval between two consecutive reference ICs of at least "
        f"{LONG_REF_INTERVAL:g} times the trial's median interval (a usual step) leaves room "
        f"for a contact it does not list. The false detections more than the matching "
        f"tolerance inside such an interval, whichever feet it begins and ends with:")
    add("")
    long_rows = []
    for n in names:
        rs = results.by_dataset(n)
        k = sum(r.long_ref_intervals for r in rs)
        long_s = sum(r.long_ref_interval_s for r in rs)
        all_s = sum(r.ref_interval_s for r in rs)
        s = results.summary(n)
        inside = sum(r.false_in_long_ref_interval for r in rs)
        long_rows.append([n, str(k), _pct(long_s / all_s if all_s else float("nan")),
                          str(s.ic.fp), str(inside),
                          _pct(inside / s.ic.fp if s.ic.fp else float("nan"))])
    add(_table(["data set", "long reference intervals", "% of the time between listed "
                "contacts", "false detections", "of them inside a long interval", "%"],
               long_rows))
    add("")
    if checks is not None and checks.walking:
        _walking_cv(results, names, add, checks)
    if "mobgap_lab" in names:
        add("mobgap_lab by participant and test:")
        add("")
        add(_table(head, [row(g) for g in results.groups(
            "mobgap_lab", lambda r: "/".join(r.trial_id.split("/")[:3]))]))
        add("")
    if "voisard_ipol" in names:
        add("voisard_ipol by subject:")
        add("")
        add(_table(head, [row(g) for g in results.groups(
            "voisard_ipol", lambda r: r.subject_id.split("-")[-1] + " (subject)")]))
        add("")
    bad: list[TrialResult] = [r for n in names for r in results.by_dataset(n)
                              if r.side_known and r.side_accuracy < 0.5]
    if bad:
        listed = {(r.dataset, r.trial_id) for r in bad}
        note = ""
        if {("voisard_ipol", "4-1"), ("voisard_ipol", "4-2")} <= listed:
            note = (" In voisard_ipol 4-1 and 4-2 every side cue at the sacrum (lateral "
                    "velocity change, roll rate, yaw rate) is inverted, while the same "
                    "subject's trials 4-3 to 4-6 agree and the reference labels match the "
                    "foot-sensor files; the foot sensors were probably swapped between the feet "
                    "in those two trials." + _foot_tilt_note())
        add("Trials where fewer than half of the sides agree with the reference: "
            + ", ".join(f"{r.dataset} {r.trial_id} ({_pct(r.side_accuracy, 0)} %)" for r in bad)
            + "." + note + " Without the listed trials:")
        add("")
        keep = {(r.dataset, r.trial_id) for r in bad}
        rows = []
        for n in names:
            rs = [r for r in results.by_dataset(n) if (r.dataset, r.trial_id) not in keep]
            g = summarise(rs, n + " (without them)")
            rows.append([g.label, str(g.n_trials), _pct(g.side_accuracy), str(g.side_n)])
        add(_table(["data set", "trials", "L/R %", "L/R n"], rows))
        add("")
        ceil = []
        for n in names:
            listed_n = sum(r.side_known for r in results.by_dataset(n)
                           if (r.dataset, r.trial_id) in keep)
            total = results.summary(n).side_n
            if listed_n and total:
                ceil.append(f"{n} {_pct(1.0 - listed_n / total)} %")
        if ceil:
            add("If the listed trials' labels are inverted, a detector right on every step "
                "scores at most this against the reference as published: " + ", ".join(ceil)
                + ".")
            add("")


def _to_share(g: GroupSummary) -> float:
    """Share of the detected steps (in the evaluation windows) that have a TO (NaN: none)."""
    return g.to.n_det / g.ic.n_det if g.to is not None and g.ic.n_det else float("nan")


def _walking_to_section(results: ValidationResults, names: Sequence[str],
                        add: Callable[[str], None]) -> None:
    groups = [results.summary(n) for n in names]
    if not any(g.to is not None for g in groups):
        return
    add("### Walking toe-off and stance time")
    add("")
    add("The toe-off (TO) of a walking step's foot comes after the other foot's IC (double "
        "support). It is matched to the references' toe-offs like IC (one-to-one within "
        f"{results.tolerance_s['walking'] * 1e3:g} ms); the stance time (`contact_s` of a "
        "walking step, TO − IC of one foot) is scored on steps whose IC and TO both matched "
        "that foot's reference IC and TO. The issue sets no walking TO target. The marker "
        "(McCamley et al. 2012's final contact: the steepest rise after the dip that follows "
        "the loading peak) has no fitted offset; its smoothing `to_sigma_s` and its search "
        "windows were chosen on these same two data sets, and no other walking data set with "
        "toe-offs is here to hold out.")
    add("")
    hd = ["data set", "trials", "steps with a TO %", *_EV_HEAD, "stance n", "stance bias ms",
          "stance RMSE ms", "worst trial-mean stance error ms"]
    rows = []
    for n, g in zip(names, groups, strict=True):
        rows.append([n, str(g.n_trials), _pct(_to_share(g)), *_event_cells(g.to),
                     str(g.n_contact), _ms(g.contact_bias_s), _ms(g.contact_rmse_s),
                     _ms(g.trial_mean_contact_max_abs_s)])
    add(_table(hd, rows))
    add("")
    add("A trial's mean stance error is its TO bias minus its IC bias; the walking IC is the "
        "compromise between the two references' definitions of IC described below, so part "
        "of the stance error of a trial is the IC's.")
    add("")


def _walking_cv(results: ValidationResults, names: Sequence[str], add: Callable[[str], None],
                checks: CrossChecks) -> None:
    add("### Cross-validation and the references' definitions of IC")
    add("")
    add("The walking IC is a weighted mean of two trunk markers, the steepest rise of the "
        "magnitude of the specific force (loading) and the peak of the forward acceleration "
        "(Zijlstra & Hof 2003); the weight `ic_rise_weight` was chosen on these data, and a constant "
        "offset could be added (`ic_offset_s`). Each is refitted without the held-out group "
        "(the weight: lowest IC mean absolute error on the grid "
        f"{', '.join(f'{w:g}' for w in _rise_grid())}; the offset: minus the median error), "
        "then the group is scored:")
    add("")
    rows = []
    for n in names:
        s = results.summary(n)
        rows.append(["in-sample (defaults)", n, f"{results.walking.ic_rise_weight:g}",
                     _ms(results.walking.ic_offset_s, 0), _pct(s.ic.f1), _ms(s.ic.bias_s),
                     _ms(s.ic.mae_s), _pct(s.side_accuracy)])
    for label, wcv in checks.walking.items():
        group, _, extra = label.partition(" + ")
        what = "weight and offset refitted" if extra else "weight refitted"
        for g in wcv.pooled:
            ws, os_ = list(wcv.rise_weight), list(wcv.offset_s)
            if group == "data set":  # the values fitted without this data set
                k = wcv.groups.index(g.label)
                ws, os_ = [ws[k]], [os_[k]]
            wtxt = f"{min(ws):g}" if min(ws) == max(ws) else f"{min(ws):g}–{max(ws):g}"
            otxt = (_ms(min(os_), 0) if min(os_) == max(os_)
                    else f"{_ms(min(os_), 0)} to {_ms(max(os_), 0)}")
            rows.append([f"leave one {group} out, {what}", g.label, wtxt, otxt,
                         _pct(g.ic.f1), _ms(g.ic.bias_s), _ms(g.ic.mae_s),
                         _pct(g.side_accuracy)])
    add(_table(["check", "scored data set", "fitted weight", "fitted offset ms", "F1 %",
                "bias ms", "MAE ms", "L/R %"], rows))
    add("")
    across = [checks.walking[k] for k in ("data set", "data set + offset")
              if k in checks.walking]
    if across and all(len(c.groups) == 2 for c in across):
        worse = all(g.ic.mae_s > results.summary(g.label).ic.mae_s
                    for c in across for g in c.pooled)
        if worse:
            add("Fitted on one reference and scored on the other, the refitted weight (and "
                "offset) make the other reference worse than the defaults: the foot-sensor "
                "events of voisard_ipol sit on the forward peak of the trunk, the INDIP events "
                "of mobgap_lab (foot sensors and pressure insoles) nearer the loading rise."
                " That difference lies in the references' definitions of IC and is not a "
                "constant, so the default weight stays the compromise between them and no "
                "offset is added.")
        else:
            add("Fitted on one reference and scored on the other, the refitted values do not "
                "make both references worse; see the table.")
        add("")


def _foot_tilt_note() -> str:
    """The foot sensors' own laterality signature (no sacral signal involved)."""
    from imurun.validation.datasets import voisard_foot_tilt_signature

    try:
        sig = voisard_foot_tilt_signature()
    except (DatasetNotFoundError, OSError, ValueError):
        return ""
    if not sig:
        return ""
    neg = [k for k, v in sig.items() if v < 0]
    return (" An independent check on the foot sensors alone: while the subject stands, the "
            "lateral (y) component of gravity of the left-foot sensor exceeds the right-foot "
            f"sensor's in {len(sig) - len(neg)} of {len(sig)} trials; it is the other way round "
            f"only in {', '.join(neg) if neg else 'none'}.")


def _rise_grid() -> tuple[float, ...]:
    from imurun.validation.evaluate import RISE_WEIGHT_GRID

    return RISE_WEIGHT_GRID


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the markdown report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=None, help="markdown file (default: stdout)")
    ap.add_argument("--data", type=Path, default=None,
                    help="shared data folder (default: $IMURUN_SHARED_DATA or ../shared/data)")
    ap.add_argument("--no-runtime", action="store_true", help="skip the 1 h runtime benchmark")
    ap.add_argument("--no-signal-core", action="store_true",
                    help="skip the per-step metrics of imurun.analyze (synthetic truth)")
    args = ap.parse_args(argv)
    root = args.data
    results = run_validation(root=root)
    if not results.trials:
        print(f"no data sets found under {root or shared_data_root()}", file=sys.stderr)
        return 1
    cv_trials = None
    runtime = None
    try:
        cv_trials = load_alcantara2022(root)
        if not args.no_runtime:
            runtime = synthetic_runtime_s(root=root)
    except DatasetNotFoundError:
        pass
    walking_trials: list[Trial] = []
    for name in ("mobgap_lab", "voisard_ipol"):
        try:
            walking_trials += load_dataset(name, root)
        except DatasetNotFoundError:
            pass
    checks = cross_checks(results, cv_trials, walking_trials)
    text = render(results, runtime=runtime, cv_trials=cv_trials, checks=checks,
                  walking_trials=walking_trials, walking_peers=load_walking_peers(),
                  optical=compare_references(root, results.walking),
                  slow_rates=slow_rate_rows([*(cv_trials or []), *walking_trials]))
    print(_targets_table(results, checks))
    if not args.no_signal_core:
        from imurun.validation.signal_core import main_section

        text += "\n" + main_section(root)
    from imurun.validation.orientation_check import orientation_section

    text += "\n" + orientation_section(root)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
