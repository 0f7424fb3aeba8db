"""Running Speed and Cadence Measurement / Feature: the SIG layout, decoded to SI units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.errors import ImurunError, ProtocolError
from firmware_protocol.rsc import (
    MAX_MEASUREMENT_SIZE,
    RscError,
    RscFeature,
    RscFlags,
    RscMeasurement,
    decode_feature,
)

#: The vector of DEVICES.md: every field present, running.
VECTOR = bytes.fromhex("07341256890704030201")


def test_spec_vector_decodes_to_si_units() -> None:
    m = RscMeasurement.from_bytes(VECTOR)
    assert m.speed_mps == 0x1234 / 256
    assert m.cadence_per_min == 0x56
    assert m.stride_length_m == 0x0789 / 100
    assert m.total_distance_m == 0x01020304 / 10
    assert m.running is True
    assert m.flags == RscFlags.STRIDE_LENGTH_PRESENT | RscFlags.TOTAL_DISTANCE_PRESENT | RscFlags.RUNNING


def test_spec_vector_encodes_back_byte_for_byte() -> None:
    assert bytes(RscMeasurement.from_bytes(VECTOR)) == VECTOR
    assert bytes(RscMeasurement(0x1234 / 256, 0x56, 0x0789 / 100, 0x01020304 / 10, True)) == VECTOR


@pytest.mark.parametrize(
    ("data", "stride", "distance", "running"),
    [
        (bytes.fromhex("00 0003 AA"), None, None, False),  # minimal: walking, no options
        (bytes.fromhex("04 0003 AA"), None, None, True),
        (bytes.fromhex("01 0003 AA 7D00"), 1.25, None, False),
        (bytes.fromhex("02 0003 AA 0A000000"), None, 1.0, False),
    ],
)
def test_optional_fields_follow_the_flags(data: bytes, stride: float | None,
                                          distance: float | None, running: bool) -> None:
    m = RscMeasurement.from_bytes(data)
    assert (m.speed_mps, m.cadence_per_min) == (3.0, 0xAA)
    assert (m.stride_length_m, m.total_distance_m, m.running) == (stride, distance, running)
    assert bytes(m) == data


def test_every_truncation_of_the_vector_is_rejected_without_reading_past_the_end() -> None:
    for n in range(len(VECTOR)):
        with pytest.raises(RscError):
            RscMeasurement.from_bytes(VECTOR[:n])


def test_rsc_error_joins_the_project_error_tree() -> None:
    with pytest.raises(RscError) as info:
        RscMeasurement.from_bytes(b"\x03\x00")
    assert isinstance(info.value, ProtocolError)
    assert isinstance(info.value, ImurunError)
    assert isinstance(info.value, ValueError)


def test_reserved_flag_bits_and_trailing_bytes_are_ignored() -> None:
    m = RscMeasurement.from_bytes(bytes([0xF8 | 0x07]) + VECTOR[1:] + b"\xEE\xEE")
    assert m == RscMeasurement.from_bytes(VECTOR)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speed_mps": -0.1, "cadence_per_min": 0},
        {"speed_mps": 256.0, "cadence_per_min": 0},
        {"speed_mps": float("nan"), "cadence_per_min": 0},
        {"speed_mps": 1.0, "cadence_per_min": 256},
        {"speed_mps": 1.0, "cadence_per_min": -1},
        {"speed_mps": 1.0, "cadence_per_min": 1, "stride_length_m": 655.36},
        {"speed_mps": 1.0, "cadence_per_min": 1, "total_distance_m": -1.0},
    ],
)
def test_out_of_range_values_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(RscError):
        RscMeasurement(**kwargs)  # type: ignore[arg-type]


@given(st.binary(max_size=2 * MAX_MEASUREMENT_SIZE))
def test_any_bytes_decode_or_raise_rsc_error(data: bytes) -> None:
    try:
        m = RscMeasurement.from_bytes(data)
    except RscError:
        return
    # What decodes re-encodes to the bytes it used (reserved flag bits cleared).
    used = bytes(m)
    assert used[1:] == data[1:len(used)]
    assert used[0] == data[0] & 0x07


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.none() | st.integers(0, 0xFFFF),
       st.none() | st.integers(0, 0xFFFF_FFFF), st.booleans())
def test_raw_values_round_trip_exactly(speed: int, cadence: int, stride: int | None,
                                       distance: int | None, running: bool) -> None:
    m = RscMeasurement(speed / 256, cadence, None if stride is None else stride / 100,
                       None if distance is None else distance / 10, running)
    assert RscMeasurement.from_bytes(bytes(m)) == m


def test_feature_field() -> None:
    f = RscFeature.STRIDE_LENGTH | RscFeature.TOTAL_DISTANCE | RscFeature.WALKING_OR_RUNNING_STATUS
    assert bytes(f) == b"\x07\x00"
    assert decode_feature(b"\x07\x00\xFF") == f
    assert decode_feature(b"\x00\x80") == RscFeature(0x8000)  # unknown bits are kept
    with pytest.raises(RscError):
        decode_feature(b"\x07")
