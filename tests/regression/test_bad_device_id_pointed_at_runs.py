"""Regression: a device id that is not hexadecimal pointed at `imurun runs`, which lists none.

``imurun sensor bind zz Ana`` said "(see `imurun runs`)", but `imurun runs` shows no device ids:
`imurun sync` prints them (and `imurun show RUN` in its origin line, `imurun sensor list`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.cli import main


def test_bad_device_id_names_where_ids_are_shown(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "athlete", "add", "Ana"]) == 0
    capsys.readouterr()
    assert main([*home, "sensor", "bind", "zz", "Ana"]) == 2
    err = capsys.readouterr().err
    assert "not hexadecimal" in err
    assert "imurun runs" not in err
    assert "imurun sync" in err
