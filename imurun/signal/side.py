"""The stance side of a step (:class:`Side`), in a module of its own.

Results, summaries and reports need the side codes but not the detectors: importing them from
here keeps SciPy (the detectors' filters, seconds of start-up on a slow machine) out of commands
that only read kept analyses, such as ``imurun weekly`` and ``imurun runs``.
:mod:`imurun.signal.events` re-exports it.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Side"]


class Side(IntEnum):
    """Which foot a step starts on (its initial contact)."""

    UNKNOWN = -1
    LEFT = 0
    RIGHT = 1
