"""Regression: ``imurun stream`` said nothing while the sensor was silent with the link up.

A sync already said, once, that the sensor had gone silent and what it did about it, and said
when data came back; a stream (serial, BLE, with or without ``--live``) said nothing until its
3 s timeout, then reconnected, and a shorter silence went unsaid altogether. Now a stream says it
through the same :class:`imurun.device.linkstatus.LinkStatus` words after 1 s of silence (it keeps
the link and waits, reconnecting after 3 s without data), says when data come back, and a
silence that lasts is a lost link as before (``no data for 3 s; reconnecting``). Nothing received
is lost: the recording ``--out`` holds every sample the sensor sent, and reads back.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest

from imurun import cli
from imurun.device.client import SensorClient
from imurun.device.stream import replay
from imurun.ingest.builder import RecordingBuilder
from imurun.ingest.files import load_session
from imurun.ingest.recording import GapCause
from imurun.sim.ble_link import BleFaults, BleLink
from imurun.sim.runner import SimulateOptions, make_sensor
from imurun.sim.source import load_truth
from imurun.testing.bleak_bumble import make_backends
from imurun.testing.bumble_link import EmulatedRadio
from imurun.transport.ble import BleBackend
from imurun.transport.session import ReplayTransport, read_session
from tests.sim_support import virtual_sensor

BLE = "BLE imurun-0001 [F0:00:00:00:00:01]"
DOING = "keeping the link and waiting for data; reconnecting after 3 s without data"


def silent_line(desc: str) -> re.Pattern[str]:
    return re.compile(rf"  {re.escape(desc)}: the sensor has gone silent \(no data for "
                      rf"(\d+(?:\.\d)?) s\); {re.escape(DOING)}")


def _ble_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str], faults: BleFaults,
                *extra: str) -> tuple[str, list[BleLink], Path]:
    opts = SimulateOptions(link=tmp_path / "unused", flash=tmp_path / "flash",
                           stream_minutes=0.5)
    links: list[BleLink] = []

    @asynccontextmanager
    async def hook() -> AsyncIterator[BleBackend]:
        sensor = make_sensor(opts, say=lambda _m: None)
        async with (EmulatedRadio() as radio,
                    BleLink(sensor, radio, faults=faults, realtime=False,
                            truth_dir=opts.flash / "truth") as link):
            links.append(link)
            yield BleBackend(*make_backends(radio))

    monkeypatch.setattr(cli, "ble_backend_hook", hook)
    out_file = tmp_path / "live.imrses"
    code = cli.main(["stream", "--ble", "imurun-0001", "--out", str(out_file), *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return out, links, out_file


def _said(out: str, desc: str) -> tuple[list[str], list[str]]:
    """The silent lines and the data-again lines, in order; they come in this order."""
    lines = out.splitlines()
    silent = [ln for ln in lines if "gone silent" in ln]
    again = [ln for ln in lines if "data again" in ln]
    for ln in silent:
        m = silent_line(desc).fullmatch(ln)
        assert m is not None, ln
        assert 1.0 <= float(m.group(1)) <= 3.0, ln  # said after 1 s, before the timeout (rounded)
    for ln in again:
        assert re.fullmatch(rf"  {re.escape(desc)}: data again after \d+\.\d s of silence", ln), ln
    if silent and again:
        assert lines.index(silent[0]) < lines.index(again[0])
    return silent, again


def _complete(out_file: Path, truth: Path) -> None:
    """The recording holds every sample the sensor sent, in order, with no gap."""
    rec = load_session(out_file)
    sent = load_truth(truth)["counts"]
    assert rec.n_samples == len(sent)
    assert not rec.gaps
    builder = RecordingBuilder()
    asyncio.run(replay(SensorClient(ReplayTransport(read_session(out_file))), builder))
    counts = np.concatenate([k for b in builder.boots for _, _, k, _ in b.batches])
    np.testing.assert_array_equal(counts, sent)


@pytest.mark.parametrize("live", [False, True])
def test_a_short_ble_silence_is_said_once_and_the_stream_goes_on_when_data_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        live: bool) -> None:
    out, links, out_file = _ble_stream(tmp_path, monkeypatch, capsys,
                                       BleFaults(stall_after=(30_000,), stall_s=2.0),
                                       *(["--live"] if live else []))
    assert links[0].stats.stalls == 1
    silent, again = _said(out, BLE)
    assert len(silent) == 1, out
    assert len(again) == 1, out
    assert not [ln for ln in out.splitlines() if ln.endswith("; reconnecting")], out
    assert "ended by sensor; 0 reconnects" in out
    _complete(out_file, tmp_path / "flash" / "truth" / "stream-boot1.npz")


def test_a_ble_silence_that_lasts_is_a_lost_link_said_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out, links, out_file = _ble_stream(tmp_path, monkeypatch, capsys,
                                       BleFaults(stall_after=(30_000,), stall_s=60.0))
    assert links[0].stats.stalls == 1
    silent, again = _said(out, BLE)
    assert len(silent) == 1, out
    assert not again, out  # the data came back on a new connection: that is said instead
    said = [ln for ln in out.splitlines() if BLE in ln and not ln.startswith("  connected")]
    assert said == [silent[0], f"  {BLE}: no data for 3 s; reconnecting",
                    f"  reconnected to {BLE}"], out
    assert "ended by sensor; 1 reconnects" in out
    rec = load_session(out_file)  # readable, the silence an explicit gap
    assert [g.cause for g in rec.gaps] == [GapCause.DISCONNECT]


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_a_short_serial_silence_is_said_once_and_nothing_is_lost(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with virtual_sensor(tmp_path, "--seed", "3", "--stream-minutes", "0.5", "--speed", "max",
                        "--stall-after", "30000", "--stall-for", "2") as s:
        out_file = tmp_path / "live.imrs"
        code = cli.main(["stream", "--port", str(s.link), "--out", str(out_file)])
        out = capsys.readouterr().out
        assert code == 0, out
    assert "0 disconnects, 0 reboots, 1 stalls" in s.output()  # the sensor stopped: its line
    silent, again = _said(out, f"serial {s.link}")
    assert len(silent) == 1, out
    assert len(again) == 1, out
    assert "ended by sensor; 0 reconnects" in out
    _complete(out_file, s.truth / "stream-boot1.npz")
