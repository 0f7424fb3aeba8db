"""Regression: a damaged run header could raise MessageError instead of RunFormatError.

``read_run`` promises ``RunFormatError`` when the header is unusable. ``RunHeader.from_bytes``
built the header (whose ``__post_init__`` validates the scale factors through ``Scale``)
*before* ``read_run`` checked the header CRC, so flipping the sign bit of ``acc_lsb_ms2``
(offset 47) or ``gyr_lsb_rads`` (offset 51) escaped as ``MessageError`` from the message layer.

Since SPEC §5.1 (a header of rate 0 or an invalid scale is read, blocks and all, and the fault
reported), ``from_bytes`` keeps what was written and never raises for the scale: a damaged
header is still refused by its CRC (``RunFormatError``), an intact one with an invalid scale is
read with ``header.problems`` naming it, and what refuses to convert its counts says so as a
file-format error. No ``MessageError`` escapes on any of these paths.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.crc import crc32
from firmware_protocol.errors import MessageError, RunFormatError
from firmware_protocol.runfile import RunHeader, RunWriter, read_run
from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording


@pytest.mark.parametrize("offset", [44, 47, 48, 51])
@pytest.mark.parametrize("mask", [0x80, 0xFF])
def test_damaged_scale_factor_is_a_run_format_error(offset: int, mask: int) -> None:
    w = RunWriter(RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.001, 0.001))
    data = bytearray(w.start() + w.end())
    data[offset] ^= mask
    with pytest.raises(RunFormatError, match="header CRC"):
        read_run(bytes(data))
    if offset in (47, 51):  # sign bit flipped: the scale itself is invalid, CRC aside
        try:
            header = RunHeader.from_bytes(bytes(data))
        except MessageError as e:  # pragma: no cover - the regression itself
            pytest.fail(f"MessageError escaped: {e}")
        name = "acc_lsb_ms2" if offset == 47 else "gyr_lsb_rads"
        assert [p.split()[0] for p in header.problems] == [name]


def test_zero_scale_with_a_valid_crc_is_read_and_refused_by_name(tmp_path: Path) -> None:
    w = RunWriter(RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.001, 0.001))
    raw = bytearray(w.start() + w.samples(np.zeros((10, 6), np.int16), 5) + w.end())
    raw[44:48] = struct.pack("<f", 0.0)
    raw[92:96] = crc32(bytes(raw[:92])).to_bytes(4, "little")
    run = read_run(bytes(raw))
    assert run.header.problems == ("acc_lsb_ms2 is 0.0, not a finite positive float32",)
    assert len(run.counts) == 10
    p = tmp_path / "run.imrn"
    p.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="acc_lsb_ms2 is 0.0"):
        load_recording(p)
