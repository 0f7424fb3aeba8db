"""Regression: one flipped bit in a session's metadata made the whole recording unreadable.

``read_session`` refused the file ("session metadata is not valid JSON") although every record
after the header was intact and CRC-protected: a minute of running lost to one bit. The reader
now finds the first intact record, infers the framing from the received bytes and says so in
the recording's notes.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from imurun.ingest.files import load_recording
from imurun.transport.session import MAGIC

RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "clean-run.imrs"


def test_the_bundled_run_with_a_flipped_metadata_bit_gives_every_sample(tmp_path: Path) -> None:
    buf = bytearray(RECORDING.read_bytes())
    (mlen,) = struct.unpack_from("<I", buf, len(MAGIC))
    buf[len(MAGIC) + 4 + mlen // 2] ^= 0x08
    p = tmp_path / "clean-run.imrs"
    p.write_bytes(bytes(buf))
    rec, ref = load_recording(p), load_recording(RECORDING)
    np.testing.assert_array_equal(rec.t_s, ref.t_s)
    np.testing.assert_array_equal(rec.acc_ms2, ref.acc_ms2)
    assert rec.gyr_rads is not None
    assert ref.gyr_rads is not None
    np.testing.assert_array_equal(rec.gyr_rads, ref.gyr_rads)
    assert (rec.gaps, rec.stats, rec.meta.device_id) == (ref.gaps, ref.stats, ref.meta.device_id)
    assert rec.meta.notes == ref.meta.notes + (
        "session header damaged (metadata is not valid JSON); framing inferred as 'stream' from "
        "the records",)
