"""``imurun.sim``: the virtual sensor's documented entry point, on real pseudo-terminals.

docs/api.md's sensor example imported ``make_sensor`` from ``imurun.sim.runner`` and
``SerialLink`` from ``imurun.sim.serial_link`` and served the link from a thread of its own,
stopping and joining it by hand. ``imurun.sim`` now exports ``SimulateOptions``,
``virtual_serial_sensor`` (``imurun simulate serial`` inside a ``with`` block), ``make_sensor``
and the link's types.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import imurun
import imurun.sim
from imurun.device.connect import serial_connection, stream_to_file, sync_to_folder
from imurun.sim import LinkStats, SerialLink, SimulateOptions, make_sensor, virtual_serial_sensor

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_exports_its_names() -> None:
    from imurun.sim import runner, serial_link

    assert sorted(imurun.sim.__all__) == sorted(["LinkStats", "SerialLink", "SimulateOptions",
                                                 "make_sensor", "virtual_serial_sensor"])
    assert SimulateOptions is runner.SimulateOptions
    assert make_sensor is runner.make_sensor
    assert virtual_serial_sensor is runner.virtual_serial_sensor
    assert SerialLink is serial_link.SerialLink
    assert LinkStats is serial_link.LinkStats
    assert set(imurun.sim.__all__) <= set(dir(imurun.sim))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = imurun.sim.nothing


def test_the_motion_generator_does_not_load_the_serial_link() -> None:
    """The names are loaded when first used: ``imurun.sim.motion`` stays as light as it was."""
    code = ("import sys, imurun.sim.motion; from imurun.sim import _gait, motion; "
            "print(sorted(m for m in sys.modules if m.startswith('imurun.sim')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout
    assert "imurun.sim.serial_link" not in out
    assert "imurun.sim.runner" not in out
    assert "imurun.sim.motion" in out


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_virtual_serial_sensor_serves_while_its_block_runs(tmp_path: Path) -> None:
    opts = SimulateOptions(link=tmp_path / "sensor.tty", flash=tmp_path / "flash", seed=2,
                           runs=1, minutes=0.2, stream_minutes=0.05, realtime=False)
    said: list[str] = []
    threads = threading.active_count()
    with virtual_serial_sensor(opts, say=said.append) as sim:
        assert isinstance(sim, SerialLink)
        assert sim.link_path == opts.link
        assert opts.link.exists()  # the port is there on entering: no waiting for it
        port = str(sim.link_path)
        streamed = asyncio.run(stream_to_file(serial_connection(port), tmp_path / "live.imrs"))
        report = asyncio.run(sync_to_folder(serial_connection(port), tmp_path / "runs"))
    assert said == ["recorded run(s) 1: 0.2 min (2400 samples)"]
    assert streamed.report.samples == 600
    assert report.ok
    assert [imurun.load_recording(r.location).n_samples for r in report.runs] == [2400]
    # left: the sensor stopped, its port gone, its thread ended, the stream's truth on disk
    assert not opts.link.exists()
    assert threading.active_count() == threads
    assert isinstance(sim.stats, LinkStats)
    assert sim.stats.requests > 0
    assert list((opts.flash / "truth").glob("stream-boot*.npz"))


def test_virtual_serial_sensor_says_nothing_unless_asked(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    opts = SimulateOptions(link=tmp_path / "sensor.tty", flash=tmp_path / "flash", runs=1,
                           minutes=0.05, realtime=False)
    with virtual_serial_sensor(opts):
        assert opts.link.exists()
    assert capsys.readouterr().out == ""
    assert not opts.link.exists()


def test_an_error_of_the_serving_thread_is_raised_in_the_caller(tmp_path: Path) -> None:
    """A port that cannot be created: the ``with`` statement raises it, no thread is left."""
    opts = SimulateOptions(link=tmp_path / "no-such-dir" / "sensor.tty", flash=tmp_path / "flash")
    threads = threading.active_count()
    with pytest.raises(FileNotFoundError), virtual_serial_sensor(opts):
        pytest.fail("the block must not run without a port")
    assert threading.active_count() == threads
