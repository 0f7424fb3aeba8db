"""Running Speed and Cadence (Bluetooth SIG service 0x1814): pure bytes in, SI units out.

RSC Measurement (characteristic 0x2A53, notified), all little-endian::

    off size field
    0   1    flags     bit 0 stride length present, bit 1 total distance present,
                       bit 2 running (0 = walking or standing); bits 3-7 reserved
    1   2    speed     u16, 1/256 m/s
    3   1    cadence   u8, 1/min
    4   2    stride    u16, 1/100 m        (only when bit 0 is set)
    .   4    distance  u32, 1/10 m         (only when bit 1 is set)

RSC Feature (0x2A54, read) is a u16 bit field (:class:`RscFeature`). Cadence is sent as the
footpod convention has it: steps per minute. Decoding follows the project's wire rules: every
length is checked before use, reserved flag bits and trailing bytes (a newer sender's fields)
are ignored, a value shorter than its flags require raises :class:`RscError`. The raw units
become SI units here and nowhere else.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntFlag
from typing import Final

from firmware_protocol.errors import ProtocolError

SPEED_UNITS_PER_MPS: Final = 256
STRIDE_UNITS_PER_M: Final = 100
DISTANCE_UNITS_PER_M: Final = 10
MAX_SPEED_MPS: Final = 0xFFFF / SPEED_UNITS_PER_MPS
MAX_CADENCE_PER_MIN: Final = 0xFF
MAX_STRIDE_LENGTH_M: Final = 0xFFFF / STRIDE_UNITS_PER_M
MAX_TOTAL_DISTANCE_M: Final = 0xFFFF_FFFF / DISTANCE_UNITS_PER_M
#: Shortest and longest RSC Measurement this version defines (flags + speed + cadence [+ 2 + 4]).
MIN_MEASUREMENT_SIZE: Final = 4
MAX_MEASUREMENT_SIZE: Final = 10


class RscError(ProtocolError):
    """An RSC value that is shorter than its flags require, or a field out of range."""


class RscFlags(IntFlag):
    """Flags byte of an RSC Measurement."""

    NONE = 0
    STRIDE_LENGTH_PRESENT = 0x01
    TOTAL_DISTANCE_PRESENT = 0x02
    RUNNING = 0x04


class RscFeature(IntFlag):
    """RSC Feature bits (what a sensor can measure)."""

    NONE = 0
    STRIDE_LENGTH = 0x01
    TOTAL_DISTANCE = 0x02
    WALKING_OR_RUNNING_STATUS = 0x04
    CALIBRATION_PROCEDURE = 0x08
    MULTIPLE_SENSOR_LOCATIONS = 0x10

    def __bytes__(self) -> bytes:
        return int(self).to_bytes(2, "little")


def decode_feature(data: bytes | bytearray | memoryview) -> RscFeature:
    """Decode an RSC Feature value (u16); unknown bits are kept, extra bytes ignored."""
    data = bytes(data)
    if len(data) < 2:
        raise RscError(f"RSC Feature of {len(data)} bytes is shorter than 2")
    return RscFeature(int.from_bytes(data[:2], "little"))


_HEAD: Final = struct.Struct("<BHB")


def _check(name: str, value: float, hi: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= hi):
        raise RscError(f"{name} {value!r} outside 0..{hi:g}")


@dataclass(frozen=True)
class RscMeasurement:
    """One RSC Measurement in SI units (``None``: the field was not sent)."""

    speed_mps: float
    cadence_per_min: int
    stride_length_m: float | None = None
    total_distance_m: float | None = None
    running: bool = False

    def __post_init__(self) -> None:
        _check("speed_mps", self.speed_mps, MAX_SPEED_MPS)
        if not 0 <= self.cadence_per_min <= MAX_CADENCE_PER_MIN:
            raise RscError(f"cadence_per_min {self.cadence_per_min} outside 0..255")
        if self.stride_length_m is not None:
            _check("stride_length_m", self.stride_length_m, MAX_STRIDE_LENGTH_M)
        if self.total_distance_m is not None:
            _check("total_distance_m", self.total_distance_m, MAX_TOTAL_DISTANCE_M)

    @property
    def flags(self) -> RscFlags:
        f = RscFlags.NONE
        if self.stride_length_m is not None:
            f |= RscFlags.STRIDE_LENGTH_PRESENT
        if self.total_distance_m is not None:
            f |= RscFlags.TOTAL_DISTANCE_PRESENT
        if self.running:
            f |= RscFlags.RUNNING
        return f

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> RscMeasurement:
        """Decode one notification; never reads past the bytes present."""
        data = bytes(data)
        if len(data) < MIN_MEASUREMENT_SIZE:
            raise RscError(f"RSC Measurement of {len(data)} bytes is shorter than "
                           f"{MIN_MEASUREMENT_SIZE}")
        flags, speed, cadence = _HEAD.unpack_from(data)
        pos = _HEAD.size
        need = pos + (2 if flags & RscFlags.STRIDE_LENGTH_PRESENT else 0) + (
            4 if flags & RscFlags.TOTAL_DISTANCE_PRESENT else 0)
        if len(data) < need:
            raise RscError(f"RSC Measurement flags 0x{flags:02X} need {need} bytes, got {len(data)}")
        stride: float | None = None
        distance: float | None = None
        if flags & RscFlags.STRIDE_LENGTH_PRESENT:
            stride = int.from_bytes(data[pos:pos + 2], "little") / STRIDE_UNITS_PER_M
            pos += 2
        if flags & RscFlags.TOTAL_DISTANCE_PRESENT:
            distance = int.from_bytes(data[pos:pos + 4], "little") / DISTANCE_UNITS_PER_M
        return cls(speed / SPEED_UNITS_PER_MPS, cadence, stride, distance,
                   bool(flags & RscFlags.RUNNING))

    def __bytes__(self) -> bytes:
        """Encode, rounding each field to its wire resolution."""
        out = bytearray(_HEAD.pack(int(self.flags), round(self.speed_mps * SPEED_UNITS_PER_MPS),
                                   self.cadence_per_min))
        if self.stride_length_m is not None:
            out += round(self.stride_length_m * STRIDE_UNITS_PER_M).to_bytes(2, "little")
        if self.total_distance_m is not None:
            out += round(self.total_distance_m * DISTANCE_UNITS_PER_M).to_bytes(4, "little")
        return bytes(out)
