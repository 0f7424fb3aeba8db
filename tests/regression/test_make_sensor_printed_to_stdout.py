"""Regression: ``imurun.sim.make_sensor(opts)`` printed to the program's standard output.

docs/simulator.md ("From Python") gives ``make_sensor(opts)`` to put the virtual sensor on a
link of one's own (the BLE face). Its ``say`` defaulted to ``print``, so a program or notebook
got ``recorded run(s) 1: 0.5 min (6000 samples)`` on its stdout, while
``virtual_serial_sensor(opts)`` says nothing unless asked. Both are silent by default now;
``say=print`` still prints the lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.sim import SimulateOptions, make_sensor


def _opts(tmp_path: Path, name: str) -> SimulateOptions:
    return SimulateOptions(link=tmp_path / "tty", flash=tmp_path / name, runs=1, minutes=0.1)


def test_make_sensor_says_nothing_unless_asked(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sensor = make_sensor(_opts(tmp_path, "flash"))
    assert len(sensor.flash.run_ids()) == 1
    assert capsys.readouterr() == ("", "")


def test_make_sensor_says_its_lines_when_asked(tmp_path: Path) -> None:
    heard: list[str] = []
    make_sensor(_opts(tmp_path, "flash"), say=heard.append)
    assert heard == ["recorded run(s) 1: 0.1 min (1200 samples)"]
