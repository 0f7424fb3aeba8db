"""Regression: a replay kept the decoder's half frame across a recorded disconnect.

Live, a lost link means a new connection and a new decoder: the bytes of a frame cut by the
disconnect are dropped. ``replay`` kept one decoder for the whole session, so the cut frame's
first half was glued to the first frame after the reconnection: that frame was lost as corrupt
(a sample batch, or the DEVICE_INFO the new connection starts with), and the replayed recording
differed from the live one. ``replay`` now resets the link state at a DISCONNECT record, as the
live path does.
"""

from __future__ import annotations

from pathlib import Path

from imurun.ingest.files import load_session
from tests.ingest_support import Burst, LinkScript, assert_same_recording, build, write_session


def test_replay_after_a_disconnect_mid_frame_equals_live(tmp_path: Path) -> None:
    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 6.0)
    s.stream(400)
    s.disconnect(s.t_next + 0.05)
    s.skip(300)
    s.stream(400)  # the first frame after the reconnection is a sample batch
    bursts = s.bursts()
    i = next(k for k, b in enumerate(bursts) if b.disconnect)
    cut = bursts[i - 1]
    bursts[i - 1] = Burst(cut.t_host_s, cut.data[:len(cut.data) // 2])
    p = write_session(tmp_path / "cut.imrs", bursts)
    live = build(bursts, source=str(p))
    rec = load_session(p)
    assert rec.n_samples == 790
    assert rec.stats.frames_corrupt == 0
    assert_same_recording(rec, live)
