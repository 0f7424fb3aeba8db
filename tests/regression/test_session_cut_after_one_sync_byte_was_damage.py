"""Regression: a session cut one byte into a record counted as damaged, not truncated.

A writer killed right after the first byte of a record's sync word leaves ``D5`` at the end of
the file. ``read_session`` compared two bytes with the sync word, found a mismatch and counted a
damaged region instead of reporting the truncated tail the format documents.
"""

from __future__ import annotations

from pathlib import Path

from imurun.transport.session import RecordKind, SessionWriter, read_session


def test_one_sync_byte_at_the_end_is_a_truncated_tail(tmp_path: Path) -> None:
    p = tmp_path / "s.imrs"
    with SessionWriter(p, {"framing": "stream"}) as w:
        w.write(RecordKind.RX, 1.0, b"abc")
        w.write(RecordKind.RX, 2.0, b"def")
    full = p.read_bytes()
    second = full.rindex(b"\xd5\x5d")
    p.write_bytes(full[:second + 1])
    sf = read_session(p)
    assert [r.data for r in sf.records] == [b"abc"]
    assert sf.truncated
    assert sf.damaged == 0
