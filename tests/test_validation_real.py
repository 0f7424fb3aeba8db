"""The event detectors on the real shared data sets, against the issue's accuracy targets.

Skipped (with the reason) only when a data set folder is absent. A target that is not reached is
marked ``xfail(strict=True)`` with the value reached in the reason, so it stays visible and the
test starts failing the day it is reached (then remove the mark). What *is* reached is asserted
separately (:data:`REACHED`) so that it cannot silently get worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imurun.signal.events import Side
from imurun.validation.datasets import (
    DATASETS,
    MERGE_REFERENCE_IC_S,
    DatasetNotFoundError,
    load_dataset,
    merge_close_events,
    shared_data_root,
    voisard_foot_tilt_signature,
)
from imurun.validation.evaluate import (
    TARGETS,
    Target,
    ValidationResults,
    cross_validate_running,
    metric_value,
    run_validation,
    summarise,
    target_met,
)
from imurun.validation.report import render

ROOT = shared_data_root()


def _require(name: str) -> None:
    if not (ROOT / name).is_dir():
        pytest.skip(f"data set folder {ROOT / name} is absent (set IMURUN_SHARED_DATA)")


#: Targets not reached by the current detectors: (data set, key) -> why.
UNMET: dict[tuple[str, str], str] = {
    ("alcantara2022", "contact_trial_mean"):
        "worst trial-mean contact error ≈ 15 ms (≈ 15–17 ms cross-validated), two parts of "
        "similar size: the force's toe-off tail varies between trials and the spring-mass "
        "TO model cannot follow it (fed with the force plate's own timings: −14.7 to +1.6 ms "
        "by trial at width 1.05, ≈ 9 ms worst at its best width), and the sensor's inputs "
        "add −3 to +22 ms (mostly IC errors, which the model multiplies by ≈ 1.5)",
    ("mobgap_lab", "ic_f1"):
        "IC F1 ≈ 90 %: turns and the MS participant's irregular steps are missed or doubled; "
        "INDIP itself, scored as a detector against the lab's optical reference "
        "(stereophotogrammetry, in its bouts), reaches F1 ≈ 92 %, and there imurun's F1 is "
        "≈ 88 % against the optical reference and ≈ 87 % against INDIP",
    ("mobgap_lab", "ic_mae"):
        "IC MAE ≈ 41 ms (≈ 46 ms leave-one-subject-out; MS participant ≈ 50 ms, healthy ≈ "
        "30 ms): INDIP places IC elsewhere relative to the trunk than the foot sensors do; "
        "mobgap's own published detectors score 59–96 ms on the same recordings. INDIP is "
        "itself off the lab's optical reference on the MS participant's right foot (≈ 66 ms "
        "late on average, MAE ≈ 78 ms; left foot ≈ 36 ms): in the optical bouts imurun's MS "
        "MAE is ≈ 40 ms against the optical reference but ≈ 51 ms against INDIP (healthy "
        "participant: ≈ 40 ms against the optical reference, ≈ 27 ms against INDIP; pooled "
        "≈ 40 ms either way, so the target is not met against the optical reference either)",
    ("mobgap_lab", "side"):
        "left/right ≈ 97.7 % (4 of 173 steps, MS participant); each of the 4 has a missed or "
        "a false IC within one step, and the side cue over the reference's own step gives the "
        "right side for all 4 (docs/validation.md, \"Why the remaining walking errors happen\")",
    ("voisard_ipol", "ic_f1"):
        "IC F1 ≈ 97.1 %: U-turn steps (F1 ≈ 78 %) leave almost no trace at the trunk, and "
        "the step that closes a walk is still missed in 15 of the 58 walks (15 of 58 misses); 4 "
        "misses fall in packet-loss gaps of trial 7-3, and 23 misses (18 in turns) are paired "
        "with a false detection nearest to them, most 200–280 ms late: one contact counted "
        "as a miss and a false detection",
    ("voisard_ipol", "side"):
        "left/right ≈ 96 %: trials 4-1/4-2 are fully inverted (≈ 99.5 % without them); if "
        "their labels are swapped, a detector right on every step scores at most ≈ 96.5 %",
}

#: What is reached today for the unmet targets (and for walking toe-off, which has no
#: target), asserted so it cannot get worse:
#: (data set, key, op, bound).
REACHED: tuple[tuple[str, str, str, float], ...] = (
    ("alcantara2022", "contact_trial_mean", "<=", 0.016),
    ("mobgap_lab", "ic_f1", ">=", 0.89),
    ("mobgap_lab", "ic_mae", "<=", 0.041),
    ("mobgap_lab", "side", ">=", 0.97),
    ("voisard_ipol", "ic_f1", ">=", 0.970),
    ("voisard_ipol", "side", ">=", 0.95),
    # walking toe-off and stance time: no issue target, the level reached
    ("mobgap_lab", "to_mae", "<=", 0.046),
    ("mobgap_lab", "to_recall", ">=", 0.87),
    ("mobgap_lab", "to_precision", ">=", 0.80),
    ("mobgap_lab", "contact_rmse", "<=", 0.092),
    ("voisard_ipol", "to_mae", "<=", 0.031),
    ("voisard_ipol", "to_recall", ">=", 0.84),
    ("voisard_ipol", "to_precision", ">=", 0.92),
    ("voisard_ipol", "contact_rmse", "<=", 0.060),
)


@pytest.fixture(scope="module")
def results() -> ValidationResults:
    return run_validation(skip_missing=True)


def _target_params() -> list[Any]:
    out = []
    for t in TARGETS:
        marks: list[pytest.MarkDecorator] = []
        why = UNMET.get((t.dataset, t.key))
        if why:
            marks.append(pytest.mark.xfail(strict=True, reason=f"target not reached: {why}"))
        out.append(pytest.param(t, id=f"{t.dataset}-{t.key}", marks=marks))
    return out


@pytest.mark.parametrize("target", _target_params())
def test_issue_target(results: ValidationResults, target: Target) -> None:
    _require(target.dataset)
    value = metric_value(results.summary(target.dataset), target.key)
    assert target_met(target, value), (
        f"{target.dataset} {target.description}: {value:.4g} (target {target.op} {target.limit})")


@pytest.mark.parametrize(("dataset", "key", "op", "bound"), REACHED,
                         ids=[f"{d}-{k}" for d, k, _, _ in REACHED])
def test_reached_level_does_not_regress(results: ValidationResults, dataset: str, key: str,
                                        op: str, bound: float) -> None:
    _require(dataset)
    value = metric_value(results.summary(dataset), key)
    assert (value <= bound) if op == "<=" else (value >= bound), f"{dataset} {key}: {value:.4g}"


def test_running_targets_hold_under_leave_one_condition_out() -> None:
    """The in-sample running numbers are not an artefact of the one fitted parameter."""
    _require("alcantara2022")
    trials = load_dataset("alcantara2022")
    grid = (1.0, 1.02, 1.04, 1.05, 1.06, 1.08, 1.1)  # coarser than the report's, for speed
    cv = cross_validate_running(trials, lambda t: str(t.condition.slope_pct), grid=grid)
    p = cv.pooled
    assert p.to is not None
    assert p.ic.mae_s <= 0.010
    assert p.to.mae_s <= 0.015
    assert p.contact_rmse_s <= 0.015
    assert p.trial_mean_contact_max_abs_s <= 0.018  # the per-trial target is not met
    assert all(1.02 <= w <= 1.08 for w in cv.pulse_width)


def test_the_whole_analysis_runs_on_every_force_plate_trial() -> None:
    """`make validate`'s per-step table: alcantara2022 has no lateral axis (a NaN column),
    which a check on NaN samples once refused; every trial is analysed, its steps paired."""
    from imurun.validation.signal_core import alcantara_step_metrics

    _require("alcantara2022")
    trials = alcantara_step_metrics()
    assert len(trials) == len(load_dataset("alcantara2022"))
    assert all(t.all_running and t.n_paired >= t.n_ref - 2 for t in trials)  # (edge steps)
    assert sum(t.n_paired for t in trials) >= 0.95 * sum(t.n_ref for t in trials)


def test_walking_sides_without_the_inverted_trials(results: ValidationResults) -> None:
    """voisard_ipol 4-1/4-2: every sacral side cue is inverted there (see docs/validation.md)."""
    _require("voisard_ipol")
    rs = [r for r in results.by_dataset("voisard_ipol") if r.trial_id not in ("4-1", "4-2")]
    assert summarise(rs, "rest").side_accuracy >= 0.99


def test_inverted_trials_are_the_ones_whose_foot_sensors_look_swapped(
        results: ValidationResults) -> None:
    """The foot sensors' own laterality signature flags exactly the trials the sacrum inverts."""
    _require("voisard_ipol")
    sig = voisard_foot_tilt_signature()
    assert len(sig) == len(results.by_dataset("voisard_ipol"))
    inverted = {r.trial_id for r in results.by_dataset("voisard_ipol") if r.side_accuracy < 0.5}
    assert inverted
    assert inverted == {k for k, v in sig.items() if v < 0}


def test_close_reference_contacts_are_merged() -> None:
    t = np.array([1.0, 1.5, 1.5, 2.0, 2.04, 2.6])
    side = np.array([Side.LEFT, Side.RIGHT, Side.RIGHT, Side.LEFT, Side.RIGHT, Side.LEFT],
                    dtype=np.int8)
    mt, ms, n = merge_close_events(t, side, 0.1)
    assert mt.tolist() == [1.0, 1.5, 2.0, 2.6]
    # the same side twice stays that side; two feet at once have no side
    assert ms.tolist() == [Side.LEFT, Side.RIGHT, Side.UNKNOWN, Side.LEFT]
    assert n == 2


@pytest.mark.parametrize("name", ["mobgap_lab", "voisard_ipol"])
def test_walking_references_have_no_impossibly_short_steps(name: str) -> None:
    _require(name)
    for trial in load_dataset(name):
        assert np.all(np.diff(trial.ref_ic_s) >= MERGE_REFERENCE_IC_S), trial.trial_id


def test_running_straight_line_counts(results: ValidationResults) -> None:
    _require("alcantara2022")
    s = results.summary("alcantara2022")
    assert s.ic.n_ref > 300
    assert s.n_contact > 290
    # one contact event per reference event: nothing doubled
    assert s.ic.fp == 0


# ----------------------------------------------------------------------------------- loaders

@pytest.mark.parametrize("name", sorted(DATASETS))
def test_loader_gives_si_body_frame_trials(name: str) -> None:
    _require(name)
    trials = load_dataset(name)
    assert trials
    for tr in trials:
        n = tr.n_samples
        assert tr.bf_acc_ms2.shape == (n, 3)
        assert not tr.bf_acc_ms2.flags.writeable
        for a, b in tr.segments:
            seg = tr.bf_acc_ms2[a:b, 2]
            assert np.all(np.isfinite(seg))
        up = np.nanmean(tr.bf_acc_ms2[:, 2])
        if name == "alcantara2022":
            # sensor axes, clipped at 0 by the source: the mean is above 1 g
            assert 9.0 < up < 13.0
            assert np.all(np.isnan(tr.bf_acc_ms2[:, 1]))
            assert tr.bf_gyr_rads is None
        else:
            # levelled body frame: gravity on +z, m/s² (the sensors' own gain errors reach
            # about 4 %: 9.38 to 10.12 m/s²); gyroscope in rad/s
            assert up == pytest.approx(9.81, abs=0.5)
            assert abs(np.nanmean(tr.bf_acc_ms2[:, 0])) < 0.05
            assert tr.bf_gyr_rads is not None
            assert np.nanmax(np.abs(tr.bf_gyr_rads)) < 15.0
        for ev, side in ((tr.ref_ic_s, tr.ref_ic_side), (tr.ref_to_s, tr.ref_to_side)):
            assert np.all(np.diff(ev) >= 0)
            assert np.all((ev >= 0) & (ev <= tr.duration_s + 1.0))
            assert set(np.unique(side)) <= {Side.UNKNOWN, Side.LEFT, Side.RIGHT}
        for w0, w1 in tr.eval_windows_s:
            assert 0 <= w0 < w1 <= tr.duration_s + 1e-9


def test_missing_folder_raises_a_clear_error(tmp_path: Path) -> None:
    for name in DATASETS:
        with pytest.raises(DatasetNotFoundError, match=name):
            load_dataset(name, tmp_path)
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("nope", tmp_path)


def test_environment_variable_sets_the_root(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("IMURUN_SHARED_DATA", str(tmp_path))
    assert shared_data_root() == tmp_path.resolve()
    r = run_validation(skip_missing=True)
    assert set(r.missing) == set(DATASETS)
    assert not r.trials


def test_report_renders_from_results(results: ValidationResults) -> None:
    if not results.trials:
        pytest.skip(f"no data set folder under {ROOT}")
    text = render(results)
    assert text.startswith("# Validation of gait event detection")
    assert "## Targets" in text
    for ds in results.datasets():
        assert ds in text
    if {"mobgap_lab", "voisard_ipol"} & set(results.datasets()):
        # without the benchmark's entry, the peers' section says so (and has no numbers)
        section = text.split("### Published lower-back detectors on the same recordings")[1]
        assert section.lstrip().startswith("**Not measured**")


def test_report_shows_mobgap_lab_against_its_optical_reference(
        results: ValidationResults) -> None:
    """The section and, since INDIP is measurably off the optical reference, the Limits line."""
    _require("mobgap_lab")
    from imurun.validation.optical import TITLE, compare_references

    optical = compare_references(walking=results.walking)
    assert optical is not None
    text = render(results, optical=optical)
    assert f"### {TITLE}" in text
    limits = text.split("## Limits")[1]
    assert "mobgap_lab's reference INDIP is itself off the lab's optical reference" in limits
    # without it, neither
    plain = render(results)
    assert TITLE not in plain


def test_report_splits_the_running_contact_error_into_model_and_inputs(
        results: ValidationResults) -> None:
    """Each trial's contact error = the toe-off model's own (plate timings) + the inputs'."""
    _require("alcantara2022")
    from imurun.validation.report import _contact_parts

    trials = load_dataset("alcantara2022")
    parts = _contact_parts(results, trials)
    assert len(parts) == len(trials)
    for p in parts:
        assert 1.2 < p.gain < 1.8  # d tc / d e of the half-sine at these duty factors
        # the model's own share is what spring_mass_on_reference gives: |.| < 25 ms per trial
        assert abs(p.model_s) < 0.025
    text = render(results, cv_trials=trials)
    assert "The per-trial contact-time error left has two parts" in text


def test_analyze_finds_the_walking_steps_of_real_recordings() -> None:
    """The whole pipeline (``imurun.analyze`` on the Xsens files, mounting estimated, activity
    classified) reports the reference's walking steps, not only the walking detector alone."""
    _require("voisard_ipol")
    from imurun import analyze
    from imurun.validation.evaluate import match_events

    trials = load_dataset("voisard_ipol")
    n_ref = n_found = 0
    for t in trials:
        res = analyze(ROOT / "voisard_ipol" / f"{t.trial_id}_lb.txt")
        steps = res.steps
        walk = steps.ic_s[steps.activity == "walk"]
        lo, hi = t.eval_windows_s[0]
        ref = t.ref_ic_s[(t.ref_ic_s >= lo + 0.2) & (t.ref_ic_s <= hi - 0.2)]
        m = match_events(ref, walk, 0.2)
        n_ref += ref.size
        n_found += m.ref_idx.size
        assert not np.any(steps.activity == "run"), t.trial_id
    assert n_found / n_ref >= 0.95, f"{n_found} of {n_ref} reference walking steps found"


def test_walking_cross_validation_with_a_single_group_keeps_the_default() -> None:
    """With one group there is nothing to train on (a partial data folder): no crash."""
    _require("voisard_ipol")
    from imurun.signal.events import WalkingSettings
    from imurun.validation.evaluate import cross_validate_walking

    trials = [t for t in load_dataset("voisard_ipol") if t.subject.subject_id == "voisard-1"]
    cv = cross_validate_walking(trials, lambda t: t.subject.subject_id, grid=(0.25, 0.5, 0.75))
    assert cv.rise_weight == (WalkingSettings().ic_rise_weight,)
    assert cv.pooled[0].ic.tp > 0


def _streamed(acc: np.ndarray, gyr: np.ndarray | None, fs: float, settings: Any,
              frame: int) -> Any:
    from imurun.signal.streaming import StreamingEvents, StreamSteps

    se = StreamingEvents(fs, settings)
    parts = [se.update(acc[a:a + frame], None if gyr is None else gyr[a:a + frame])
             for a in range(0, acc.shape[0], frame)]
    parts.append(se.flush())
    return StreamSteps.concat(parts)


@pytest.mark.parametrize("name", DATASETS)
def test_live_steps_equal_one_pass_on_the_real_recordings(name: str) -> None:
    """The live defaults (``hop_s`` 2 s, ``margin_s`` 3 s) were chosen as the shortest that give
    the one-pass steps; held here on every real segment, not only on virtual sessions."""
    _require(name)
    from imurun.signal.streaming import StreamingSettings

    n = 0
    for t in load_dataset(name):
        for a, b in t.segments:
            acc = t.bf_acc_ms2[a:b]
            gyr = None if t.bf_gyr_rads is None else t.bf_gyr_rads[a:b]
            big = acc.shape[0] / t.fs_hz + 10.0  # one window over the whole segment
            ref = _streamed(acc, gyr, t.fs_hz,
                            StreamingSettings(window_s=3 * big, hop_s=big, margin_s=big),
                            acc.shape[0] + 1)
            got = _streamed(acc, gyr, t.fs_hz, StreamingSettings(), 97)
            where = f"{t.trial_id} samples {a}-{b}"
            assert len(got) == len(ref), where
            for f in ("ic_index", "to_index", "step_s", "vertical_oscillation_m"):
                np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=0,
                                           atol=1e-6, err_msg=f"{where}: {f}")
            np.testing.assert_array_equal(got.running, ref.running, err_msg=where)
            n += len(ref)
    assert n > 0
