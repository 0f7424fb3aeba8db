"""The live times are the recording's until a reboot, then behind it by the reboot's duration.

What docs/api.md ("Live analysis") and ``LiveStreamHook``'s docstring say: the live path
counts samples (lost ones included, from the sample counter), so a replay's live steps fall on
the batch analysis' steps until the reboot of ``recordings/reboot-and-gaps.imrs``; after it they
are early by the time the sensor took to boot, which only the time syncs tell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import imurun
from imurun.analysis_live import LiveStreamHook, StreamSteps, replay_session
from imurun.ingest.recording import GapCause

SESSION = Path(__file__).resolve().parent.parent / "recordings" / "reboot-and-gaps.imrs"


def test_live_steps_fall_on_the_batch_steps_and_a_reboot_shifts_them() -> None:
    found: list[StreamSteps] = []
    hook = LiveStreamHook(lambda _line: None, on_steps=found.append)
    rec = replay_session(SESSION, hook)
    hook.flush()
    live = StreamSteps.concat(found).ic_s
    batch = imurun.analyze(SESSION).steps.ic_s
    (reboot,) = [g for g in rec.gaps if g.cause == GapCause.REBOOT]
    lost_s = reboot.end_s - reboot.start_s - 1.0 / rec.fs_hz  # the boot's duration
    assert 0.05 < lost_s < 0.08  # "64 ms"
    nearest = batch[np.abs(batch[None, :] - live[:, None]).argmin(axis=1)]
    before = live < reboot.start_s - 1.0
    after = live > reboot.end_s + 5.0  # once the new boot's first steps are found again
    assert before.sum() > 30
    assert after.sum() > 50
    assert np.median(np.abs(live[before] - nearest[before])) < 1e-3
    shifted = batch[np.abs(batch[None, :] - (live[after] + lost_s)[:, None]).argmin(axis=1)]
    assert np.median(np.abs(live[after] + lost_s - shifted)) < 1e-3
    assert np.median(np.abs(live[after] - nearest[after])) > 0.05
