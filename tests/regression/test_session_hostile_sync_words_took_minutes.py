"""Regression: a hostile session file made ``read_session`` run for minutes.

Each sync word followed by a declared length of up to 1 MiB made the reader compute a CRC-32 over
that much data before resynchronising one byte further on. A 2 MiB file made of such record
headers cost ~75,000 CRCs of 1 MiB: 100 s on the development machine, effectively a hang for
``imurun info``. The CRC work spent on candidates that fail is now bounded by a budget linear in
the file size; past it, the rest of the file is reported as one damaged region.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

from imurun.transport.session import MAGIC, MAX_RECORD, SYNC, RecordKind, read_session


def test_sync_words_declaring_the_largest_record_read_quickly(tmp_path: Path) -> None:
    head = MAGIC + struct.pack("<I", 2) + b"{}"
    rec = SYNC + bytes([RecordKind.RX]) + struct.pack("<dI", 0.0, MAX_RECORD)
    p = tmp_path / "hostile.imrs"
    p.write_bytes(head + rec * (2 * MAX_RECORD // len(rec)))
    t0 = time.perf_counter()
    sf = read_session(p)
    assert time.perf_counter() - t0 < 5.0
    assert sf.records == ()
    assert sf.damaged == 1
