"""Regression: a missing analysis JSON was not a ``FileNotFoundError``.

docs/api.md: "a file that does not exist is its subclass ``MissingFileError``, also a
``FileNotFoundError``". ``imurun.load_recording`` and ``imurun.analyze`` of a missing path keep
that promise, but ``imurun.load_analysis`` (and ``analyze(..., baseline=PATH)``) of a missing
path raised a plain ``FileFormatError``, which ``except FileNotFoundError`` does not catch. A
baseline of the wrong type escaped as ``TypeError: expected str, bytes or os.PathLike object``
without saying it was the baseline; it is a ``UsageError`` naming it, as a wrong ``source`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import imurun
from imurun.errors import FileFormatError, MissingFileError, UsageError

RUN = Path(__file__).resolve().parents[2] / "recordings" / "stored-run.imrn"


def test_load_analysis_of_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError) as e:
        imurun.load_analysis(missing)
    assert isinstance(e.value, MissingFileError)
    assert str(e.value) == f"{missing}: cannot read: No such file or directory"


def test_a_missing_baseline_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(MissingFileError) as e:
        imurun.analyze(RUN, baseline=missing)
    assert str(e.value) == f"{missing}: cannot be the baseline: cannot read: No such file or directory"


def test_an_unreadable_baseline_stays_a_file_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(FileFormatError) as e:
        imurun.analyze(RUN, baseline=bad)
    assert not isinstance(e.value, FileNotFoundError)


def test_a_baseline_of_the_wrong_type_is_named() -> None:
    wrong: Any = 42
    with pytest.raises(UsageError, match="^baseline must be a RunAnalysis, a RunSummary or the "
                                         "path of a saved analysis, got int$"):
        imurun.analyze(RUN, baseline=wrong)
