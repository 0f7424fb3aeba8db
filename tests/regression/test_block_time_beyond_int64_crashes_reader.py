"""Regression: a sample block with device_time_us >= 2**63 crashed read_run.

``StoredRun.block_device_time_us`` is an int64 array; a SAMPLES_RAW or SAMPLES_PACKED block whose
(u64) ``device_time_us`` did not fit made ``np.asarray(..., np.int64)`` raise ``OverflowError``
out of ``read_run``, losing the whole run, although the block's CRC was fine. Such a time
(292,000 years after boot) can only be garbage, so the block is now reported as damaged and
skipped alone, like any other block whose content does not make sense.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol.runfile import (
    RunHeader,
    encode_block,
    encode_samples_block,
    read_run,
)


def _with_time(block: bytes, t_us: int) -> bytes:
    """A sample block with its device time replaced (the encoders now refuse t_us >= 2**63)."""
    payload = block[12:16] + t_us.to_bytes(8, "little") + block[24:]
    return encode_block(block[4], payload)


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("t_us", [2**63, 2**64 - 1])
def test_block_with_impossible_time_is_damage_not_a_crash(packed: bool, t_us: int) -> None:
    head = bytes(RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.001, 0.001))
    smooth = np.tile(np.arange(64, dtype=np.int16)[:, None], (1, 6))
    good = encode_samples_block(smooth, 0, 1000, packed=packed)
    bad = _with_time(encode_samples_block(smooth, 64, 0, packed=packed), t_us)
    after = encode_samples_block(smooth, 128, 2**63 - 1, packed=packed)
    run = read_run(head + good + bad + after)
    assert run.sample_index.tolist() == [*range(64), *range(128, 192)]
    assert run.block_device_time_us.tolist() == [1000, 2**63 - 1]
    assert [d.offset for d in run.damaged] == [len(head) + len(good)]
