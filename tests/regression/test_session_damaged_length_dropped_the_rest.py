"""Regression: one flipped bit in a record's length field lost every later record.

When a record's declared length ran past the end of the file, ``read_session`` took it for a
truncated tail and stopped reading. A damaged length in the middle of a file (a bit flip that
makes the length larger) therefore silently dropped all records after it and reported the file
as "truncated". The reader now resynchronises on the next sync word, and reports a truncated
tail only if no intact record follows.
"""

from __future__ import annotations

import struct
from pathlib import Path

from imurun.transport.session import _REC, RecordKind, SessionWriter, read_session


def test_records_after_a_damaged_length_are_kept(tmp_path: Path) -> None:
    p = tmp_path / "s.imrs"
    with SessionWriter(p, {"framing": "stream"}) as w:
        for k in range(10):
            w.write(RecordKind.RX, float(k), bytes([k]) * 20)
    buf = bytearray(p.read_bytes())
    (mlen,) = struct.unpack_from("<I", buf, 8)
    first = 12 + mlen
    buf[first + _REC.size - 2] ^= 0x01  # length of record 0 grows by 65536
    p.write_bytes(bytes(buf))
    sf = read_session(p)
    assert [r.t_host_s for r in sf.records] == [float(k) for k in range(1, 10)]
    assert sf.damaged == 1
    assert not sf.truncated
