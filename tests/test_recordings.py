"""The bundled recordings replay through the live path and match the sensor's own record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imurun.ingest.files import load_recording
from imurun.ingest.recording import GapCause
from imurun.sim.firmware import SensorConfig
from imurun.sim.source import load_truth

REC = Path(__file__).resolve().parents[1] / "recordings"
CASES = {
    "clean-run.imrs": (["clean-run.truth.npz"], set()),
    "reboot-and-gaps.imrs": (["reboot-and-gaps.boot1.truth.npz", "reboot-and-gaps.boot2.truth.npz"],
                             {GapCause.REBOOT, GapCause.CORRUPT}),
    "stored-run.imrn": (["stored-run.truth.npz"], set()),
}


def _counts(rec) -> np.ndarray:  # type: ignore[no-untyped-def]
    cfg = SensorConfig()
    acc = np.rint(rec.acc_ms2 / np.float64(np.float32(cfg.acc_lsb_ms2)))
    gyr = np.rint(rec.gyr_rads / np.float64(np.float32(cfg.gyr_lsb_rads)))
    return np.concatenate((acc, gyr), axis=1).astype(np.int64)


def test_every_recording_is_covered() -> None:
    assert sorted(p.name for p in REC.glob("*.imr?")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_recording_matches_truth(name: str) -> None:
    truth_files, causes = CASES[name]
    rec = load_recording(REC / name)
    sent = [load_truth(REC / t)["counts"].astype(np.int64) for t in truth_files]
    got = _counts(rec)
    assert {g.cause for g in rec.gaps} >= causes
    if not causes:
        assert rec.gaps == ()
        np.testing.assert_array_equal(got, sent[0])
        return
    # Each segment sits where the missing-sample counts of the gaps before it put it.
    boots = sorted({s.boot_id for s in rec.segments}, key=[s.boot_id for s in rec.segments].index)
    assert len(boots) == len(sent)
    pos = dict.fromkeys(boots, 0)
    for k, seg in enumerate(rec.segments):
        if k and rec.gaps[k - 1].cause != GapCause.REBOOT:
            pos[seg.boot_id] += rec.gaps[k - 1].n_missing
        ref = sent[boots.index(seg.boot_id)]
        np.testing.assert_array_equal(got[seg.start:seg.stop], ref[pos[seg.boot_id]:pos[seg.boot_id] + len(seg)])
        pos[seg.boot_id] += len(seg)
    assert rec.fs_hz == pytest.approx(200.0, rel=1e-3)
