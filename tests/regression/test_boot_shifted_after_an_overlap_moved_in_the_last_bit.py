"""Regression: a boot shifted after the one before had its times changed in the last bits.

0cb8231 moved the rule "a boot the clocks place inside the one before starts one sample period
after it" into ``imurun.ingest.clock.place_boots``, and the recording then moved such a boot's
times by ``start - t[0]`` with the start it computed: ``t + (start - t[0])`` instead of
``t + (end_before - t[0]) + period``. The same times to 1e-14 s, but not the same floats: a
session whose boots overlap no longer loaded bit for bit as before (2512 of the 14000 times of
``tests/test_live_time_base.py``'s overlap session differed), when the batch path must not
change. ``place_boots`` and the recording now do the old arithmetic, in its order.
"""

from __future__ import annotations

import hashlib

from tests.ingest_support import LinkScript, build

#: sha256 of ``t_s`` of the recording below as imurun 0c42f17 built it (before the move)
T_S_SHA256 = "ea3d3d7eb903f8eb194c3bdac67349118ac074fb7d4336e69ef560cc062a370e"


def test_a_boot_shifted_after_the_one_before_keeps_the_times_it_had() -> None:
    s = LinkScript(seed=6)
    s.info(0.0)
    s.syncs(0.0, 5.0)
    s.stream(1000)
    s.reboot(s.t_next + 0.05)
    s.info(s.boot_t)
    for k in range(8):  # answers that put the device clock 2 s ahead of the samples'
        s.sync(s.boot_t + k, wrong_by_us=2_000_000)
    s.stream(1400)
    rec = build(s.bursts())
    assert "boot 2 overlaps the previous one in time; shifted" in rec.meta.notes
    assert hashlib.sha256(rec.t_s.tobytes()).hexdigest() == T_S_SHA256
