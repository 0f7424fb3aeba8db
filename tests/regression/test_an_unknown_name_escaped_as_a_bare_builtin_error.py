"""Regression: asking a result for a name it does not hold escaped as a bare builtin error.

``RunAnalysis.indicator("overstride")`` raised ``KeyError: 'overstride'`` and
``RunSummary.get_spread``/``get_drift`` the same; ``PerMinute.series("cadence")`` raised
``ValueError: tuple.index(x): x not in tuple`` and ``ActivityBouts.seconds("running")`` the same:
not an ``ImurunError`` (docs/api.md: errors derive from it), and nothing said which names exist.
They raise :class:`imurun.errors.UnknownNameError`, an ``ImurunError`` that is both a
``KeyError`` and a ``ValueError`` (what each raised before, so existing ``except`` clauses still
catch it), naming the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import imurun
from imurun.errors import ImurunError, UnknownNameError
from imurun.signal.results import RunAnalysis

RUN = Path(__file__).resolve().parents[2] / "recordings" / "clean-run.imrs"


@pytest.fixture(scope="module")
def result() -> RunAnalysis:
    return imurun.analyze(RUN)


ASKS: dict[str, tuple[Callable[[RunAnalysis], object], str]] = {
    "indicator": (lambda r: r.indicator("overstride"),
                  "no indicator 'overstride'; known: overstriding, pelvic_drop_left, "
                  "pelvic_drop_right, anterior_tilt, asymmetry, form_drift"),
    "get_spread": (lambda r: r.summary.get_spread("cadence"), "no spread of 'cadence'; known: "
                   "cadence_spm, contact_ms, "),
    "get_drift": (lambda r: r.summary.get_drift("cadence"), "no drift of 'cadence'; known: "
                  "cadence_spm, contact_ms, "),
    "series": (lambda r: r.summary.per_minute.series("cadence"),
               "no per-minute metric 'cadence'; known: cadence_spm, contact_ms, "),
    "seconds": (lambda r: r.activity.seconds("running"),
                "no activity 'running'; known: run, walk, stand, other, gap, paused"),
}


@pytest.mark.parametrize("ask", sorted(ASKS))
def test_an_unknown_name_is_an_imurun_error_naming_the_known_ones(result: RunAnalysis,
                                                                   ask: str) -> None:
    call, message = ASKS[ask]
    with pytest.raises(UnknownNameError) as e:
        call(result)
    assert isinstance(e.value, ImurunError)
    assert isinstance(e.value, KeyError)
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith(message)


def test_known_names_still_answer(result: RunAnalysis) -> None:
    assert result.indicator("asymmetry").key == "asymmetry"
    assert result.summary.get_spread("cadence_spm").median == result.summary.cadence_spm
    assert len(result.summary.per_minute.series("cadence_spm")) == 1
    assert result.activity.seconds("run") > 30
