"""Regression: ``RunAnalysis.reason_unavailable("cadence")`` answered ``None``, as for "measured".

A name that is no metric at all (``"cadence"`` for ``"cadence_spm"``) gave the answer of a metric
that was measured, so a typo read as "available". It raises
:class:`imurun.errors.UnknownNameError` now, as ``result.indicator(key)`` does, listing the
metric names (the summary fields and the step columns). The names the library itself asks for
(the run report and ``imurun analyze``'s text: summary fields and step columns) still answer,
and so does a name an analysis from a newer imurun lists as unavailable.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import imurun
from imurun.analysis import format_report
from imurun.errors import ImurunError, UnknownNameError
from imurun.report.run_report import render_run_report
from imurun.signal.results import STEP_FLOAT_FIELDS, SUMMARY_FIELDS, RunAnalysis, Unavailable

RUN = Path(__file__).resolve().parents[2] / "recordings" / "clean-run.imrs"
METRICS = (*(name for name, _ in SUMMARY_FIELDS), *STEP_FLOAT_FIELDS)


@pytest.fixture(scope="module")
def acc_only() -> RunAnalysis:
    rec = imurun.load_recording(RUN)
    return imurun.analyze(imurun.Recording.from_arrays(rec.t_s, rec.acc_ms2))


def test_a_name_that_is_no_metric_is_an_unknown_name(acc_only: RunAnalysis) -> None:
    for typo in ("cadence", "contact_time", "Cadence_spm", ""):
        with pytest.raises(UnknownNameError) as e:
            acc_only.reason_unavailable(typo)
        assert isinstance(e.value, ImurunError)
        assert isinstance(e.value, KeyError)
        assert str(e.value).startswith(f"no metric {typo!r}; known: n_steps, n_walking_steps, ")
        assert set(e.value.known) == set(METRICS)


def test_every_summary_field_and_step_column_still_answers(acc_only: RunAnalysis) -> None:
    for name in METRICS:
        acc_only.reason_unavailable(name)  # no exception
    assert acc_only.reason_unavailable("cadence_spm") is None
    assert "gyroscope" in (acc_only.reason_unavailable("pelvic_drop_deg") or "")
    assert "gyroscope" in (acc_only.reason_unavailable("pelvic_drop_stance_left_deg") or "")
    assert "mass" in (acc_only.reason_unavailable("vertical_stiffness_kn_m") or "")


def test_the_library_s_own_callers_still_work(acc_only: RunAnalysis) -> None:
    text = format_report(acc_only)
    assert "pelvic drop" in text
    assert "gyroscope" in text
    page = render_run_report(acc_only)
    assert "Not measured: " in page


def test_a_metric_listed_by_a_newer_imurun_still_answers(acc_only: RunAnalysis) -> None:
    newer = dataclasses.replace(acc_only, unavailable=(
        *acc_only.unavailable, Unavailable("ground_time_balance_pct", "a newer metric")))
    back = RunAnalysis.from_json(newer.to_json())
    assert back.reason_unavailable("ground_time_balance_pct") == "a newer metric"
