"""Regression: ``stream_to_file`` whose link never came back did not say where its data was.

When the sensor went away for good (no reconnection within ``max_reconnects`` tries), the
``LinkLost`` error said only ``serial PORT: link lost (no reconnection after 20 tries)``: the
session file with everything that arrived was kept and valid, but neither the exception nor
the docstring said so, and a program had no ``StreamedFile`` to find it. The error now says
whether what arrived is in the file (as a ``CallbackError`` does), once the file is closed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import imurun
from imurun.device.connect import serial_connection, stream_to_file
from imurun.device.stream import StreamSettings
from imurun.errors import TransportError
from imurun.sim import SimulateOptions, virtual_serial_sensor
from imurun.transport.base import LinkLost


@pytest.mark.xdist_group("serial_e2e")
def test_a_link_lost_for_good_says_the_file_holds_what_arrived(tmp_path: Path) -> None:
    opts = SimulateOptions(link=tmp_path / "sensor.tty", flash=tmp_path / "flash", runs=0,
                           stream_minutes=0.5, realtime=False, disconnect_after=(60_000,))
    out = tmp_path / "live.imrs"
    with virtual_serial_sensor(opts) as sim, pytest.raises(LinkLost) as e:
        asyncio.run(stream_to_file(serial_connection(str(sim.link_path)), out,
                                   StreamSettings(max_reconnects=0)))
    assert isinstance(e.value, TransportError)
    assert str(e.value) == (f"serial {sim.link_path}: link lost (no reconnection after 0 tries; "
                            f"what arrived until then is in {out})")
    rec = imurun.load_recording(out)
    assert 1000 < rec.n_samples < 6000
