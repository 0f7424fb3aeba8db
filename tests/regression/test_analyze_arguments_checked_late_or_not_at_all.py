"""Regression: ``imurun.analyze``'s ``mass_kg`` and ``settings`` were not checked as arguments.

* ``mass_kg=np.float32(58)`` (a value read from a NumPy table) gave another stiffness than
  ``mass_kg=58`` (19.4371426 against 19.4371464 kN/m on the stored run: the arithmetic stayed in
  float32), and ``parameters["mass_kg"]`` kept the NumPy type.
* ``mass_kg="58"`` escaped as ``TypeError: must be real number, not str`` (not naming
  ``mass_kg``), after the whole file had been read; ``mass_kg=True`` was taken as 1 kg... and
  refused only after the file was read.
* ``settings={...}`` escaped as ``TypeError: asdict() should be called on dataclass
  instances``.
All are checked before the file is read now, each a ``UsageError`` naming the argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imurun
from imurun.errors import UsageError

RUN = Path(__file__).resolve().parents[2] / "recordings" / "stored-run.imrn"


def test_a_numpy_mass_gives_what_a_python_number_gives() -> None:
    plain = imurun.analyze(RUN, mass_kg=58)
    for mass in (np.float32(58), np.int64(58), np.float64(58)):
        got = imurun.analyze(RUN, mass_kg=mass)  # type: ignore[arg-type]
        assert got.summary.vertical_stiffness_kn_m == plain.summary.vertical_stiffness_kn_m
        assert type(got.parameters["mass_kg"]) is float
        assert got.to_dict() == plain.to_dict()


@pytest.mark.parametrize(("mass", "shown"), [("58", "'58'"), (True, "True"), (-5, "-5")])
def test_a_wrong_mass_is_refused_before_the_file_is_read(mass: Any, shown: str) -> None:
    with pytest.raises(UsageError, match=rf"^mass_kg must be a body mass in kg \(20\.\.250\), "
                                         rf"got {shown}$"):
        imurun.analyze("no such file.imrn", mass_kg=mass)


def test_settings_of_the_wrong_type_are_named() -> None:
    wrong: Any = {"metrics": {"force_lowpass_hz": 8.0}}
    with pytest.raises(UsageError, match=r"^settings must be an imurun\.AnalysisSettings, got "
                                         r"dict; change a field with dataclasses\.replace$"):
        imurun.analyze(RUN, settings=wrong)
