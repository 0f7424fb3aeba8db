"""Regression: ``SimulateOptions(link="...", flash="...")`` failed inside the virtual sensor.

The fields are ``Path``; given as text (as a notebook often writes them), ``make_sensor`` and
``virtual_serial_sensor`` failed with ``TypeError: unsupported operand type(s) for /: 'str' and
'str'``, naming neither the option nor the fix. Text paths are made ``Path`` objects now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imurun.sim import SimulateOptions, make_sensor


def test_text_paths_are_paths(tmp_path: Path) -> None:
    link: Any = str(tmp_path / "sensor.tty")
    flash: Any = str(tmp_path / "flash")
    opts = SimulateOptions(link=link, flash=flash, runs=1, minutes=0.1)
    assert opts.link == tmp_path / "sensor.tty"
    assert isinstance(opts.link, Path)
    assert isinstance(opts.flash, Path)
    assert len(make_sensor(opts).flash.run_ids()) == 1
    assert (tmp_path / "flash" / "truth").is_dir()
