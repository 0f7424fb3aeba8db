"""Regression: ``Library.add_athlete(..., mass_kg=np.float32(58))`` failed with a ``TypeError``.

SQLite stores an object with the buffer protocol (a NumPy float32 scalar) as a BLOB: the mass
was written as bytes, read back inside the same transaction, and compared with 20.0:
``TypeError: '<=' not supported between instances of 'float' and 'bytes'``. A mass given as
text (``"58"``) failed the same way. The athlete's numbers are plain floats now, and one that is
not a number is a ``UsageError`` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imurun.errors import UsageError
from imurun.store.library import Library


def test_numpy_numbers_are_stored_as_numbers(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        a = lib.add_athlete("Ana", mass_kg=np.float32(58), leg_length_m=np.float64(0.9))  # type: ignore[arg-type]
        assert type(a.mass_kg) is float
        assert a.mass_kg == 58.0
        b = lib.update_athlete("Ana", mass_kg=np.int64(60))  # type: ignore[arg-type]
        assert type(b.mass_kg) is float
    with Library.open(tmp_path / "home") as lib:
        back = lib.athlete("Ana")
        assert (back.mass_kg, back.leg_length_m) == (60.0, 0.9)


@pytest.mark.parametrize(("kw", "message"), [
    ({"mass_kg": "58"}, "body mass must be a number of kg (mass_kg), got '58'"),
    ({"leg_length_m": True}, "leg length must be a number of m (leg_length_m), got True"),
])
def test_a_number_that_is_not_one_is_named(tmp_path: Path, kw: dict[str, Any],
                                           message: str) -> None:
    with Library.open(tmp_path / "home") as lib:
        with pytest.raises(UsageError) as e:
            lib.add_athlete("Ana", **kw)
        assert str(e.value) == message
        assert lib.athletes() == []
