"""The analysis of the remaining walking errors (imurun.validation.walking_errors)."""

from __future__ import annotations

import numpy as np
import pytest

from imurun.signal.events import Side
from imurun.validation.datasets import load_dataset, shared_data_root
from imurun.validation.evaluate import evaluate_trial, summarise
from imurun.validation.walking_errors import (
    SideError,
    ic_error_causes,
    side_errors,
    walking_errors_section,
)

ROOT = shared_data_root()


def _require(name: str) -> None:
    if not (ROOT / name).is_dir():
        pytest.skip(f"data set folder {ROOT / name} is absent (set IMURUN_SHARED_DATA)")


def _error(**kw: object) -> SideError:
    base: dict[str, object] = dict(
        dataset="d", trial_id="t", ref_ic_s=10.0, det_ic_s=10.02, ref_side=int(Side.LEFT),
        det_side=int(Side.RIGHT), where="straight", evidence=-0.2, ref_evidence=0.3,
        missed_in_step=(), missed_before=(), false_next=None, false_previous=None)
    base.update(kw)
    return SideError(**base)  # type: ignore[arg-type]


def test_cause_names_the_detection_errors_next_to_the_step() -> None:
    e = _error(missed_in_step=(10.5,), false_previous=9.4)
    assert e.next_to_detection_error
    assert e.cause() == ("the step's window spans the missed contact at 10.50 s; the detection "
                         "before it (9.40 s) is false; its own evidence is contrary")
    e = _error(false_next=10.3, missed_before=(9.6, 9.8))
    assert e.cause().startswith("the step before spans the missed contact at 9.60, 9.80 s; "
                                "the step is cut short by a false detection at 10.30 s")


def test_cause_without_detection_errors_says_what_the_decoder_did() -> None:
    e = _error(evidence=0.1)  # left evidence on a left step: the alternation overruled it
    assert not e.next_to_detection_error
    assert e.evidence_agrees
    assert e.ref_evidence_agrees
    assert e.cause() == ("no detection error next to it; its own evidence agrees; the "
                         "alternation overruled it")
    e = _error(ref_side=int(Side.RIGHT), det_side=int(Side.LEFT), evidence=0.1)
    assert not e.evidence_agrees
    assert not e.ref_evidence_agrees
    assert e.cause().endswith("its own evidence is contrary")


def test_every_wrong_side_of_mobgap_lab_is_listed() -> None:
    """The table lists exactly the steps the scorer counts as wrong, trial by trial."""
    _require("mobgap_lab")
    for tr in load_dataset("mobgap_lab"):
        r = evaluate_trial(tr)
        errs = side_errors(tr)
        assert len(errs) == r.side_known - r.side_correct, tr.trial_id
        for e in errs:
            assert e.ref_side != e.det_side
            assert abs(e.det_ic_s - e.ref_ic_s) <= 0.2
            assert e.where in ("turn", "first of a walk", "closing step", "straight")


@pytest.mark.parametrize("name", ["mobgap_lab", "voisard_ipol"])
def test_ic_error_causes_add_up_to_the_scored_errors(name: str) -> None:
    _require(name)
    trials = load_dataset(name)
    s = summarise([evaluate_trial(t) for t in trials], name)
    c = ic_error_causes(name, trials)
    assert (c.n_ref, c.missed, c.false) == (s.ic.n_ref, s.ic.fn, s.ic.fp)
    pairs = sum(c.far_pairs)
    assert c.missed == c.missed_no_data + pairs + sum(c.missed_other)
    assert c.false == pairs + sum(c.false_other)
    assert c.far_offsets_s.size == pairs
    assert all(abs(x) > 0.2 for x in c.far_offsets_s)  # beyond the matching tolerance
    assert c.far_in_turn.size == c.far_step_after.size == c.far_step_before.size == pairs
    assert int(c.far_in_turn.sum()) == c.far_pairs[1]
    finite = c.far_step_after[np.isfinite(c.far_step_after)]
    assert np.all(finite > 0)


def test_late_turn_pairs_in_voisard_sit_before_a_long_reference_step() -> None:
    """The paired turn errors of voisard_ipol: the detection comes ~250 ms after the foot's
    listed contact, and the reference's step from that contact is longer than usual."""
    _require("voisard_ipol")
    c = ic_error_causes("voisard_ipol", load_dataset("voisard_ipol"))
    late_turn = c.far_in_turn & (c.far_offsets_s > 0)
    assert late_turn.sum() >= 10
    assert np.median(c.far_step_after[late_turn]) > 1.2
    assert 0.9 < np.median(c.far_step_before[late_turn]) < 1.1


def test_voisard_misses_in_packet_loss_gaps_are_found() -> None:
    """Trial 7-3 loses packets for about 2 s of walking: its steps there have no data."""
    _require("voisard_ipol")
    trials = [t for t in load_dataset("voisard_ipol") if t.trial_id == "7-3"]
    c = ic_error_causes("voisard_ipol", trials)
    assert c.missed_no_data >= 3


def test_section_renders() -> None:
    _require("mobgap_lab")
    text = walking_errors_section(load_dataset("mobgap_lab"))
    assert "### Why the remaining walking errors happen" in text
    assert "MS/001/Test11/Trial1" in text
    assert walking_errors_section([]) == ""


def test_section_without_mobgap_lab_has_only_the_cause_table() -> None:
    _require("voisard_ipol")
    trials = [t for t in load_dataset("voisard_ipol") if t.subject.subject_id == "voisard-1"]
    text = walking_errors_section(trials)
    assert "Every wrong side" not in text
    assert "| voisard_ipol |" in text
    assert "| mobgap_lab |" not in text
