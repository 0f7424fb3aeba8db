"""Regression: a batch arriving late across the u32 sample-counter wrap made a 2**32 gap.

The builder unwrapped ``sample_counter`` only forwards (``c < last - 2**31`` adds 2**32). When
the batch holding the wrap arrived after the first batch past it (reordered on the link), its
counter (just below 2**32) was taken as 2**32 samples in the future: a gap of 4294967266 samples
("21474836 s") and a note that the device timestamps disagreed with the rate. Counters are now
unwrapped to the value nearest the previous one, in either direction.
"""

from __future__ import annotations

from firmware_protocol.messages import SampleBatch
from tests.ingest_support import LinkScript, build


def test_batch_reordered_across_the_wrap_is_sorted_into_place() -> None:
    s = LinkScript()
    s.counter = 2**32 - 25
    s.info(0.0)
    s.syncs(0.0, 3.0)
    s.stream(400)
    batches = [i for i in s._items if isinstance(i.msg, SampleBatch)]
    batches[2].t, batches[3].t = batches[3].t, batches[2].t  # counters 2**32-5 and 5 swap
    rec = build(s.bursts())
    assert rec.n_samples == 400
    assert rec.gaps == ()
    assert len(rec.segments) == 1
    assert rec.meta.notes == ()
