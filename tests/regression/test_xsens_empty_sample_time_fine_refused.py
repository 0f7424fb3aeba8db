"""Regression: an MT Manager export with an empty ``SampleTimeFine`` column was refused.

MT Manager writes every selected column in the header but leaves cells empty for data the
device did not send (a published example: OpenSim's ``testIMUHelper.cpp`` shows a row
``03583<TAB><TAB>...`` under ``PacketCounter<TAB>SampleTimeFine<TAB>...``). The importer always
took time from ``SampleTimeFine`` when the column existed, so such files failed with "values are
not all numbers". It now falls back to ``PacketCounter`` and the header's rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imurun.ingest.files import load_recording
from tests.ingest_support import motion, mt_export


def test_empty_sample_time_fine_falls_back_to_packet_counter(tmp_path: Path) -> None:
    t, acc, gyr = motion(100)
    rec = load_recording(mt_export(tmp_path / "e.txt", np.arange(100) + 3583, acc, gyr,
                                   empty_stf=True))
    assert rec.n_samples == 100
    np.testing.assert_allclose(rec.t_s, t, atol=1e-9)
