"""Regression: a BLE sync said nothing while the sensor was silent with the link still up.

When the notifications stopped without a disconnect, the sync kept asking for the missing
bytes and the user saw nothing at all; a silence longer than the timeout ended, after a
reconnect that the connector could not explain (the link had no lost reason), in a line-less
wait. Now the sync says once that the sensor has gone silent and what it does (asks again for
what is missing, reconnects after 3 s without data), says when data come back, and a silence
that lasts is a lost link like any other (``no data for 3 s; reconnecting``, as a stream says).
Nothing received is lost: the stored run is the sensor's, byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from imurun import cli
from imurun.sim.ble_link import BleFaults, BleLink
from imurun.sim.runner import SimulateOptions, make_sensor
from imurun.store.rundir import RunDirectory
from imurun.testing.bleak_bumble import make_backends
from imurun.testing.bumble_link import EmulatedRadio
from imurun.transport.ble import BleBackend

DESC = "BLE imurun-0001 [F0:00:00:00:00:01]"
SILENT = (f"  {DESC}: the sensor has gone silent (no data for 1.2 s); asking again for what is "
          "missing; reconnecting after 3 s without data")


def _sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          faults: Callable[[int], BleFaults]) -> tuple[str, list[BleLink], bytes]:
    opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash", runs=1, minutes=0.5)
    sensor = make_sensor(opts, say=lambda _m: None)
    image = sensor.flash.read(sensor.flash.run_ids()[0])
    links: list[BleLink] = []

    @asynccontextmanager
    async def hook() -> AsyncIterator[BleBackend]:
        async with (EmulatedRadio() as radio,
                    BleLink(sensor, radio, faults=faults(len(image)), realtime=False) as link):
            links.append(link)
            yield BleBackend(*make_backends(radio))

    monkeypatch.setattr(cli, "ble_backend_hook", hook)
    code = cli.main(["sync", "--ble", "imurun-0001", "--store", str(tmp_path / "store")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert [p.read_bytes() for p in RunDirectory(tmp_path / "store").runs()] == [image]
    return out, links, image


def test_a_short_silence_is_said_once_and_the_sync_goes_on_when_data_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out, links, _ = _sync(tmp_path, monkeypatch, capsys,
                          lambda size: BleFaults(stall_after=(size // 2,), stall_s=2.0))
    assert links[0].stats.stalls == 1
    lines = out.splitlines()
    silent = [ln for ln in lines if "silent" in ln]
    assert silent == [SILENT], out
    again = [ln for ln in lines if "data again" in ln]
    assert len(again) == 1, out
    assert again[0].startswith(f"  {DESC}: data again after ")
    assert lines.index(silent[0]) < lines.index(again[0])
    assert not [ln for ln in lines if ln.endswith("; reconnecting")], out
    assert "0 reconnects" in out


def test_a_silence_that_lasts_is_a_lost_link_said_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out, links, _ = _sync(tmp_path, monkeypatch, capsys,
                          lambda size: BleFaults(stall_after=(size // 2,), stall_s=60.0))
    assert links[0].stats.stalls == 1
    said = [ln for ln in out.splitlines() if DESC in ln and not ln.startswith("  connected")]
    assert said == [SILENT, f"  {DESC}: no data for 3 s; reconnecting",
                    f"  reconnected to {DESC}"], out
    assert "1 reconnects" in out
