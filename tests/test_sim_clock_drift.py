"""``imurun simulate serial --clock-drift-ppm``: the drift asked for is the drift a host finds.

End to end: the simulator in its own process (pyserial on a pseudo-terminal), ``imurun sync``
in this one, and the stored run read back as ``imurun info`` reads it. The fit of a stored run's
block times against its sample index recovers the drift to within 0.1 ppm for a run of a minute
(block times are whole microseconds: docs/simulator.md, "Clock").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.analysis_live import LiveStreamHook, StreamSteps, replay_session
from imurun.cli import main
from imurun.ingest.files import load_recording
from tests.sim_support import virtual_sensor

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serial_e2e")]

FS_HZ = 200
#: What docs/simulator.md states for a stored run of a minute.
PRECISION_PPM = 0.1


@pytest.mark.parametrize("ppm", [80.0, -45.0, 0.0])
def test_the_drift_asked_for_is_the_drift_fitted_after_a_sync(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], ppm: float) -> None:
    store = tmp_path / "store"
    with virtual_sensor(tmp_path, "--seed", "4", "--runs", "1", "--minutes", "1",
                        "--clock-drift-ppm", f"{ppm:g}") as s:
        assert main(["sync", "--port", str(s.link), "--store", str(store)]) == 0
        assert "run 1: stored" in capsys.readouterr().out
        said = s.output()
    assert (f"clock {ppm:+g} ppm" in said) == (ppm != 0.0), said
    (run,) = sorted(store.glob("*/run-*.imrn"))
    rec = load_recording(run)
    fitted_ppm = (FS_HZ / rec.fs_hz - 1.0) * 1e6
    assert fitted_ppm == pytest.approx(ppm, abs=PRECISION_PPM)
    assert rec.duration_s == pytest.approx(60.0 * (1 + ppm * 1e-6), abs=60.0 * PRECISION_PPM * 1e-6)


def test_live_step_times_of_a_drifting_stream_follow_the_recording(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stream from a sensor whose clock runs 500 ppm fast, rebooted after a minute, replayed
    through the live path: its step times are the batch analysis' of the recorded file.

    At ``--speed max`` the time syncs show a clock no crystal has, so the recording times the
    samples by the sensor's clock alone (docs/simulator.md, "The clock at --speed max"): 500
    ppm slower than the declared rate, 30 ms a minute. Counting samples at the declared rate,
    the live times parted from the batch ones by up to 51 ms (median 25 ms); they follow the
    recording's fit of the sensor's clock now. Three minutes of samples (a minute, the reboot,
    two minutes): the simulated runner starts running after about 80 s.
    """
    session = tmp_path / "drift.imrs"
    with virtual_sensor(tmp_path, "--seed", "7", "--stream-minutes", "2", "--speed", "max",
                        "--clock-drift-ppm", "500", "--reboot-after", "60"):
        assert main(["stream", "--port", str(tmp_path / "sensor.tty"), "--out",
                     str(session)]) == 0
    assert "1 reboots" in capsys.readouterr().out
    found: list[StreamSteps] = []
    hook = LiveStreamHook(lambda _: None, on_steps=found.append)
    rec = replay_session(session, hook)
    hook.flush()
    assert rec.fs_hz == pytest.approx(FS_HZ / (1 + 500e-6), rel=1e-6)
    assert hook.analyzer is not None
    batch = imurun.analyze(rec, mounting=hook.analyzer.mounting).steps
    live = StreamSteps.concat(found)
    live_ic, batch_ic = live.ic_s[live.running], batch.ic_s[batch.is_running]
    live_ic, batch_ic = live_ic[np.isfinite(live_ic)], batch_ic[np.isfinite(batch_ic)]
    assert live_ic.size == batch_ic.size > 200
    error = np.abs(live_ic - batch_ic)
    assert np.median(error) < 0.1e-3
    assert error.max() < 1e-3
    assert [b.boot_id for b in hook.boot_starts] == [1, 2]


@pytest.mark.parametrize("value", ["1001", "-2000", "nan", "fast"])
def test_a_drift_no_crystal_has_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           value: str) -> None:
    with pytest.raises(SystemExit) as e:  # argparse: a usage error, exit 2
        main(["simulate", "serial", "--link", str(tmp_path / "tty"), "--flash",
              str(tmp_path / "flash"), "--clock-drift-ppm", value])
    assert e.value.code == 2
    assert "a clock drift is a number of ppm within ±1000" in capsys.readouterr().err
    assert not (tmp_path / "flash").exists()
