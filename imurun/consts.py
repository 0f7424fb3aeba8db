"""Read-only physical constants and axis conventions (see docs/conventions.md)."""

from __future__ import annotations

from typing import Final

#: Standard gravity, m/s² (CGPM 1901). Conversion factor between g and m/s².
G_MS2: Final = 9.80665
#: Degrees to radians.
DEG2RAD: Final = 0.017453292519943295
#: Radians to degrees.
RAD2DEG: Final = 57.29577951308232

#: Body (sacrum) frame: x forward, y left, z up (right-handed).
BF_FORWARD: Final = 0
BF_LEFT: Final = 1
BF_UP: Final = 2
