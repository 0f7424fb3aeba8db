"""Regression: a damaged run header could raise MessageError instead of RunFormatError.

``read_run`` promises ``RunFormatError`` when the header is unusable. ``RunHeader.from_bytes``
builds the header (whose ``__post_init__`` validates the scale factors through ``Scale``)
*before* ``read_run`` checks the header CRC, so flipping the sign bit of ``acc_lsb_ms2``
(offset 47) or ``gyr_lsb_rads`` (offset 51) escaped as ``MessageError`` from the message layer.
The scale check's error is now converted at the header boundary.
"""

from __future__ import annotations

import struct

import pytest

from firmware_protocol.crc import crc32
from firmware_protocol.errors import RunFormatError
from firmware_protocol.runfile import RunHeader, RunWriter, read_run


@pytest.mark.parametrize("offset", [44, 47, 48, 51])
@pytest.mark.parametrize("mask", [0x80, 0xFF])
def test_damaged_scale_factor_is_a_run_format_error(offset: int, mask: int) -> None:
    w = RunWriter(RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.001, 0.001))
    data = bytearray(w.start() + w.end())
    data[offset] ^= mask
    with pytest.raises(RunFormatError):
        read_run(bytes(data))
    if offset in (47, 51):  # sign bit flipped: the scale itself is invalid, CRC aside
        with pytest.raises(RunFormatError):
            RunHeader.from_bytes(bytes(data))


def test_zero_scale_with_a_valid_crc_is_a_run_format_error() -> None:
    raw = bytearray(bytes(RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.001, 0.001)))
    raw[44:48] = struct.pack("<f", 0.0)
    raw[92:96] = crc32(bytes(raw[:92])).to_bytes(4, "little")
    with pytest.raises(RunFormatError, match="acc_lsb_ms2"):
        read_run(bytes(raw))
