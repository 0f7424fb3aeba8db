"""``imurun simulate serial --clock-drift-ppm``: the drift asked for is the drift a host finds.

End to end: the simulator in its own process (pyserial on a pseudo-terminal), ``imurun sync``
in this one, and the stored run read back as ``imurun info`` reads it. The fit of a stored run's
block times against its sample index recovers the drift to within 0.1 ppm for a run of a minute
(block times are whole microseconds: docs/simulator.md, "Clock").
"""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize("value", ["1001", "-2000", "nan", "fast"])
def test_a_drift_no_crystal_has_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           value: str) -> None:
    with pytest.raises(SystemExit) as e:  # argparse: a usage error, exit 2
        main(["simulate", "serial", "--link", str(tmp_path / "tty"), "--flash",
              str(tmp_path / "flash"), "--clock-drift-ppm", value])
    assert e.value.code == 2
    assert "a clock drift is a number of ppm within ±1000" in capsys.readouterr().err
    assert not (tmp_path / "flash").exists()
