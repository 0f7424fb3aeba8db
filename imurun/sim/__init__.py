"""imurun.sim: the motion generator and the virtual sensor.

The virtual sensor from Python (docs/simulator.md, "From Python"): :class:`SimulateOptions`
says what it holds and how its link behaves (the options of ``imurun simulate serial``),
:func:`virtual_serial_sensor` serves it on a pseudo-terminal while a ``with`` block runs, and
:func:`make_sensor` gives the sensor alone, to put on a link of one's own. The motion generator
is :mod:`imurun.sim.motion`.

The names are imported when first used: ``import imurun.sim.motion`` does not load the serial
link (POSIX pseudo-terminals).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imurun.sim.runner import SimulateOptions as SimulateOptions
    from imurun.sim.runner import make_sensor as make_sensor
    from imurun.sim.runner import virtual_serial_sensor as virtual_serial_sensor
    from imurun.sim.serial_link import LinkStats as LinkStats
    from imurun.sim.serial_link import SerialLink as SerialLink

__all__ = ["LinkStats", "SerialLink", "SimulateOptions", "make_sensor", "virtual_serial_sensor"]

_HOME = {"SimulateOptions": "imurun.sim.runner", "make_sensor": "imurun.sim.runner",
         "virtual_serial_sensor": "imurun.sim.runner", "LinkStats": "imurun.sim.serial_link",
         "SerialLink": "imurun.sim.serial_link"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:  # (a submodule not imported yet: the import system imports it)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
