"""mobgap_lab against its optical reference (:mod:`imurun.validation.optical`).

Hand-made trials fix what the scoring by foot and the generated text must say; the real-data
tests (skipped only when the folder is absent) hold the comparison on the shared recordings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from imurun.signal.events import Side
from imurun.validation.datasets import (
    Condition,
    Subject,
    Trial,
    load_mobgap_lab,
    shared_data_root,
)
from imurun.validation.evaluate import score_detections
from imurun.validation.optical import (
    TITLE,
    OpticalComparison,
    compare_references,
    optical_limits,
    optical_section,
    score_by_foot,
)

FS = 100.0
ROOT = shared_data_root()


def _trial(subject: str, ic: np.ndarray, side: np.ndarray,
           windows: tuple[tuple[float, float], ...], reference: str) -> Trial:
    n = int(20 * FS)
    return Trial(dataset="mobgap_lab", trial_id=f"{subject}/Test5/Trial1", gait="walking",
                 fs_hz=FS, bf_acc_ms2=np.zeros((n, 3)), bf_gyr_rads=None, segments=((0, n),),
                 ref_ic_s=ic, ref_ic_side=side, ref_to_s=np.zeros(0),
                 ref_to_side=np.zeros(0, np.int8), eval_windows_s=windows,
                 condition=Condition("test"), subject=Subject(subject), reference=reference)


def _comparison(subject: str, indip_right_late_s: float, indip_left_late_s: float = 0.0,
                imurun_late_s: float = 0.03, imurun_right_extra_s: float = 0.0,
                ) -> OpticalComparison:
    """Optical contacts every 0.55 s, left first; INDIP late by a constant per foot; imurun late
    by a constant on both feet, sides right. INDIP's bout is longer than the optical one."""
    t = np.round(np.arange(2.0, 12.0, 0.55), 2)
    side = np.where(np.arange(t.size) % 2 == 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    opt = _trial(subject, t, side, ((2.0, float(t[-1])),), "Stereophoto")
    t_indip = t + np.where(side == Side.RIGHT, indip_right_late_s, indip_left_late_s)
    t_indip = np.r_[t_indip, t[-1] + 0.55, t[-1] + 1.1]  # contacts beyond the optical bout
    s_indip = np.r_[side, Side.LEFT, Side.RIGHT].astype(np.int8)
    ind = _trial(subject, t_indip, s_indip, ((2.0, float(t_indip[-1])),), "INDIP")
    det = np.r_[t + imurun_late_s + np.where(side == Side.RIGHT, imurun_right_extra_s, 0.0),
                t_indip[-2:]]
    scored = {
        "indip": (score_by_foot(opt, ind.ref_ic_s, ind.ref_ic_side),),
        "imurun_optical": (score_by_foot(opt, det, s_indip),),
        "imurun_indip": (score_by_foot(replace(ind, eval_windows_s=opt.eval_windows_s), det,
                                       s_indip),),
    }
    return OpticalComparison(scored=scored, fs_hz=FS)


def test_scoring_by_foot_splits_the_pairs_of_score_detections() -> None:
    c = _comparison("MS/001", indip_right_late_s=0.13)
    (s,) = c.scored["indip"]
    t = c.scored["indip"][0].result
    assert s.left.n_ref + s.right.n_ref == t.ic.n_ref
    assert s.left.tp + s.right.tp == t.ic.tp == t.ic.n_ref  # all matched within 200 ms
    np.testing.assert_allclose(s.right.error_s, 0.13, atol=1e-9)
    np.testing.assert_allclose(s.left.error_s, 0.0, atol=1e-9)
    # the pairs are score_detections' own: the same errors, in its order
    np.testing.assert_allclose(np.sort(np.r_[s.left.error_s, s.right.error_s]),
                               np.sort(t.ic_error_s))
    # INDIP's contacts after the optical bout are not false detections
    assert t.ic.fp == 0
    assert c.foot("indip", Side.RIGHT).bias_s == pytest.approx(0.13)
    assert c.foot("indip", Side.LEFT).mae_s == pytest.approx(0.0)


def test_section_reports_a_reference_late_on_one_foot() -> None:
    c = _comparison("MS/001", indip_right_late_s=0.13)
    text = optical_section(c)
    assert text.startswith(f"### {TITLE}")
    assert "| MS/001 | INDIP | Stereophoto |" in text
    assert "| pooled | imurun | INDIP (in the Stereophoto bouts) |" in text
    # by foot: INDIP's right foot 130 ms late, its left foot exact
    assert "| MS/001 | INDIP | Stereophoto | right |" in text
    row = next(line for line in text.splitlines()
               if line.startswith("| MS/001 | INDIP | Stereophoto | right |"))
    assert "| 130.0 | 130.0 |" in row
    assert "INDIP's contacts are further from the optical reference than imurun's" in text
    assert "mostly on the right foot" in text
    assert "imurun, from the trunk, has no such difference between the feet" in text
    assert "more than against the optical reference" in text


def test_section_does_not_clear_the_reference_when_the_trunk_differs_by_foot_too() -> None:
    c = _comparison("MS/001", indip_right_late_s=0.13, imurun_late_s=0.01,
                    imurun_right_extra_s=0.1)
    text = optical_section(c)
    assert "mostly on the right foot" in text
    assert "imurun, from the trunk, differs between the feet too" in text
    assert "has no such difference" not in text


def test_section_says_when_the_reference_is_the_closer_one() -> None:
    c = _comparison("MS/001", indip_right_late_s=0.0, imurun_late_s=0.05)
    text = optical_section(c)
    assert "INDIP's contacts are closer to the optical reference than imurun's" in text
    assert "mostly on the" not in text
    assert optical_limits(c, lambda key: False) == ""


def test_limits_name_the_unmet_targets_only() -> None:
    c = _comparison("MS/001", indip_right_late_s=0.13)
    unmet = optical_limits(c, lambda key: False)
    assert "for MS/001, its right-foot contacts differ from the optical ones" in unmet
    assert "Part of what the unmet mobgap_lab IC MAE" in unmet
    all_met = optical_limits(c, lambda key: True)
    assert "for MS/001" in all_met
    assert "Part of what" not in all_met
    assert "would not meet" not in all_met


def test_time_base_sentence_tells_one_sample_from_an_offset() -> None:
    same = optical_section(_comparison("HA/001", indip_right_late_s=0.01,
                                       indip_left_late_s=0.01))
    assert "median of 10 ms" in same
    assert "within one sample" in same
    shifted = optical_section(_comparison("HA/001", indip_right_late_s=0.05,
                                          indip_left_late_s=0.05))
    assert "more than one sample" in shifted


def test_section_without_the_data() -> None:
    assert "**Not evaluated**" in optical_section(None)
    assert optical_limits(None) == ""


# ---------------------------------------------------------------------------------- real data

def _require() -> None:
    if not (ROOT / "mobgap_lab").is_dir():
        pytest.skip(f"data set folder {ROOT / 'mobgap_lab'} is absent (set IMURUN_SHARED_DATA)")


@pytest.fixture(scope="module")
def real() -> OpticalComparison:
    _require()
    c = compare_references()
    assert c is not None
    return c


def test_real_comparison_counts_are_sane(real: OpticalComparison) -> None:
    indip = load_mobgap_lab()
    optical = load_mobgap_lab(reference="Stereophoto")
    assert {t.trial_id for t in optical} <= {t.trial_id for t in indip}
    assert len(real.scored["indip"]) == len(optical) > 0
    assert real.subjects() == ["HA/001", "MS/001"]
    n_optical = sum(t.ref_ic_s.size for t in optical)
    a, b, c = (real.summary(k).ic for k in ("indip", "imurun_optical", "imurun_indip"))
    # both scorings against the optical reference score the same contacts
    assert a.n_ref == b.n_ref
    assert 0.9 * n_optical <= a.n_ref <= n_optical
    # the coverage shown is what the loaders give
    assert real.coverage["Stereophoto"][2] == n_optical
    assert real.coverage["INDIP"][2] == sum(t.ref_ic_s.size for t in indip)
    assert real.coverage["INDIP"][0] == sum(len(t.eval_windows_s) for t in indip)
    assert c.n_ref <= real.coverage["INDIP"][2]
    for m in (a, b, c):
        assert 0 < m.tp <= m.n_ref
        assert m.tp <= m.n_det
        assert m.max_abs_s <= 0.2 + 1e-9
    for key in ("indip", "imurun_optical", "imurun_indip"):
        feet = [real.foot(key, s) for s in (Side.LEFT, Side.RIGHT)]
        assert sum(f.n_ref for f in feet) <= real.summary(key).ic.n_ref
        assert sum(f.tp for f in feet) <= real.summary(key).ic.tp
        assert all(f.n_ref > 20 for f in feet)


def test_real_imurun_scores_equal_the_standard_scoring(real: OpticalComparison) -> None:
    """imurun against INDIP in the optical bouts is score_detections on the INDIP trial."""
    from imurun.validation.evaluate import detect

    opt = {t.trial_id: t for t in load_mobgap_lab(reference="Stereophoto")}
    for tr, s in zip([t for t in load_mobgap_lab() if t.trial_id in opt],
                     real.scored["imurun_indip"], strict=True):
        ev = detect(tr)
        r = score_detections(replace(tr, eval_windows_s=opt[tr.trial_id].eval_windows_s),
                             ev.ic_s, ev.side)
        assert s.result.ic_counts == r.ic_counts
        np.testing.assert_array_equal(s.result.ic_error_s, r.ic_error_s)


def test_real_time_base_is_shared(real: OpticalComparison) -> None:
    """The loader's claim: the optical times are on INDIP's time base (median within a sample
    in the healthy participant's walking outside turns)."""
    med, n = real.straight_median_s("indip", "HA/001")
    assert n >= 30
    assert abs(med) <= 1.0 / real.fs_hz + 1e-9


def test_real_indip_is_late_on_the_ms_participants_right_foot(real: OpticalComparison) -> None:
    """What the Limits text and the mobgap_lab UNMET reasons state."""
    right = real.foot("indip", Side.RIGHT, "MS/001")
    left = real.foot("indip", Side.LEFT, "MS/001")
    assert right.bias_s > 0.04
    assert right.mae_s > 2 * left.mae_s
    # the trunk (imurun) against the optical reference: no such difference between the feet
    mine = [real.foot("imurun_optical", s, "MS/001") for s in (Side.LEFT, Side.RIGHT)]
    assert abs(mine[1].bias_s - mine[0].bias_s) < 0.5 * (right.bias_s - left.bias_s)
    assert "has no such difference between the feet" in optical_section(real)
    ind, opt, own = (real.summary(k, "MS/001").ic
                     for k in ("indip", "imurun_optical", "imurun_indip"))
    assert ind.mae_s > opt.mae_s
    assert own.mae_s > opt.mae_s
    text = optical_limits(real, lambda key: False)
    assert "for MS/001, its right-foot contacts" in text
    assert "Not so for HA/001" in text
    # the healthy participant's contacts: imurun is closer to INDIP than to the optical ones
    assert (real.summary("imurun_indip", "HA/001").ic.mae_s
            < real.summary("imurun_optical", "HA/001").ic.mae_s)
