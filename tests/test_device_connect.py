"""imurun.device.connect: a sensor from Python in a few public names, on real pseudo-terminals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.device.client import SensorClient
from imurun.device.connect import (
    Connect,
    StreamProgress,
    serial_connection,
    stream_to_file,
    sync_to_folder,
)
from imurun.device.stream import StreamSettings
from imurun.errors import DeviceTimeoutError, FileFormatError
from imurun.transport.session import read_session
from tests.sim_support import nonsense_port, virtual_sensor


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_stream_to_file_and_sync_to_folder_against_the_virtual_sensor(tmp_path: Path) -> None:
    """What ``imurun stream`` and ``imurun sync --store`` do, in one call each."""
    with virtual_sensor(tmp_path, "--seed", "3", "--runs", "2", "--minutes", "0.2",
                        "--stream-minutes", "0.25", "--speed", "max") as s:
        port = str(s.link)
        events: list[object] = []
        got = asyncio.run(stream_to_file(serial_connection(port), tmp_path / "live.imrs",
                                         on_event=lambda t, ev: events.append(ev)))
        assert got.report.ended_by == "sensor"
        assert got.report.samples == 3000
        assert got.recording is not None
        assert got.path == tmp_path / "live.imrs"
        # the file is a session as `imurun stream --port` writes it, read back the same
        sf = read_session(got.path)
        assert sf.meta["framing"] == "stream"
        assert sf.meta["link"] == f"serial {port}"
        assert sf.meta["imurun_version"] == imurun.__version__
        back = imurun.load_recording(got.path)
        assert back.n_samples == got.recording.n_samples == 3000
        np.testing.assert_array_equal(back.acc_ms2, got.recording.acc_ms2)
        assert len(events) > 3000 // 10  # every decoded message went to on_event
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".live.imrs")]

        report = asyncio.run(sync_to_folder(serial_connection(port), tmp_path / "runs"))
        assert report.ok
        assert [r.run_id for r in report.stored] == [1, 2]
        for r in report.runs:
            assert r.erased
            assert Path(r.location).parent == tmp_path / "runs" / f"{report.device_id:016x}"
            assert Path(r.location).stat().st_size == r.size
            assert imurun.load_recording(r.location).n_samples == 2400
        again = asyncio.run(sync_to_folder(serial_connection(port), tmp_path / "runs"))
        assert again.runs == ()


def test_serial_connection_says_when_it_connects_again() -> None:
    """The first opening is silent; each later one (after a lost link) is said, with the port."""
    said: list[str] = []

    async def main(connect: Connect) -> list[SensorClient]:
        clients = [await connect()]
        assert said == []
        clients.append(await connect())
        for c in clients:
            assert c.timeout_s == 0.5
            await c.transport.close()
        return clients

    with nonsense_port() as port:
        clients = asyncio.run(main(serial_connection(port, 0.5, on_status=said.append)))
    assert said == [f"reconnected to serial {port}"]
    assert clients[0] is not clients[1]


def test_stream_to_file_writes_nothing_when_no_sensor_answers(tmp_path: Path) -> None:
    """Something else talks on the port: no file, no hidden file left beside it."""
    out = tmp_path / "s.imrs"
    with nonsense_port() as port, pytest.raises(DeviceTimeoutError):
        asyncio.run(stream_to_file(serial_connection(port, 0.2), out,
                                   StreamSettings(timeout_s=0.2)))
    assert list(tmp_path.iterdir()) == []


def test_stream_to_file_says_which_path_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    out = tmp_path / "a-file" / "s.imrs"
    with nonsense_port() as port, pytest.raises(FileFormatError, match=r"a-file/s\.imrs: cannot write"):
        asyncio.run(stream_to_file(serial_connection(port, 0.2), out))


def test_the_public_names_are_typed_at_run_time() -> None:
    """``StreamedFile.recording`` named a type imported for the type checker only."""
    import typing

    from imurun.device.connect import StreamedFile
    from imurun.ingest.recording import Recording

    hints = typing.get_type_hints(StreamedFile)
    assert hints["recording"] == Recording | None


def test_the_cli_and_the_python_api_wait_alike_for_a_ble_sensor() -> None:
    """The CLI keeps its own copy of the BLE timeouts (importing it must not load the device
    layer); the two must not drift apart."""
    from imurun import cli
    from imurun.device import connect

    assert (cli.BLE_SCAN_TIMEOUT_S, cli.BLE_CONNECT_TIMEOUT_S) == (
        connect.BLE_SCAN_TIMEOUT_S, connect.BLE_CONNECT_TIMEOUT_S)


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_imurun_stream_is_stream_to_file_plus_its_printing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``imurun stream --port`` built its own session writer and builder beside
    :func:`stream_to_file`, so the command and the function offered to developers could drift
    apart. The command now calls the function (seen here through a wrapper that calls the real
    one), and what it prints, also after Ctrl-C, is what ``progress`` says."""
    from imurun.cli import EXIT_OK, main
    from imurun.device import connect as dc

    calls: list[tuple[Path, dc.StreamProgress | None, dc.StreamedFile]] = []
    real = dc.stream_to_file

    async def spy(connect: Connect, path: str | Path, settings: StreamSettings | None = None,
                  **kw: object) -> dc.StreamedFile:
        got = await real(connect, path, settings, **kw)  # type: ignore[arg-type]
        calls.append((Path(path), kw.get("progress"), got))  # type: ignore[arg-type]
        return got

    monkeypatch.setattr(dc, "stream_to_file", spy)
    out = tmp_path / "live.imrs"
    with virtual_sensor(tmp_path, "--seed", "3", "--stream-minutes", "0.1",
                        "--speed", "max") as s:
        assert main(["stream", "--port", str(s.link), "--out", str(out)]) == EXIT_OK
    ((path, progress, got),) = calls
    assert path == out
    assert isinstance(progress, dc.StreamProgress)
    assert progress.written
    assert progress.samples == got.report.samples == 1200
    assert got.recording is not None
    said = capsys.readouterr().out
    assert f"streamed 1200 samples ({got.recording.duration_s:.1f} s) to {out}; ended by " \
           "sensor" in said
    assert imurun.load_recording(out).n_samples == 1200


def test_stream_progress_before_any_sensor_answers(tmp_path: Path) -> None:
    """A port where no sensor answers: nothing written, no samples, as ``progress`` says."""
    progress = StreamProgress()
    with nonsense_port() as port, pytest.raises(DeviceTimeoutError):
        asyncio.run(stream_to_file(serial_connection(port, 0.2), tmp_path / "s.imrs",
                                   StreamSettings(timeout_s=0.2), progress=progress))
    assert not progress.written
    assert progress.samples == 0


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_an_on_rsc_that_raises_stops_the_stream_and_keeps_everything(tmp_path: Path) -> None:
    """``on_rsc`` raised: the RSC drain stopped silently, the stream went on to its end (30 s
    here), then the callback's bare exception came out of the ``finally``, skipping the RSC
    notes still queued and the closing of the file. Now the stream stops at once (told by the
    callback's failure as by ``stop``), every notification is still a note of the file, the
    file is closed and analysable, and the error is a :class:`CallbackError` naming
    ``on_rsc``, raised from the callback's own."""
    from imurun.errors import CallbackError

    out = tmp_path / "live.imrs"
    progress = StreamProgress()
    sent = [bytes([0x04, k, 0x02, 170]) for k in range(6)]  # RSC: running, speed, cadence
    heard: list[bytes] = []

    def on_rsc(t_host_s: float, data: bytes) -> None:
        heard.append(data)
        if len(heard) == 2:
            raise ValueError("a bug in the caller's code")

    async def main(port: str) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def footpod() -> None:  # what a BLE link's RSC notifications put in the queue
            while progress.samples < 400:  # 2 s of samples, the file written
                await asyncio.sleep(0.02)
            for data in sent:
                queue.put_nowait((1.0, data))

        feeding = asyncio.create_task(footpod())
        try:
            await stream_to_file(serial_connection(port), out, progress=progress,
                                 rsc_queue=queue, on_rsc=on_rsc)
        finally:
            feeding.cancel()

    with virtual_sensor(tmp_path, "--seed", "3", "--stream-minutes", "0.5") as s:
        with pytest.raises(CallbackError, match=r"^on_rsc raised ValueError: a bug in the "
                                                r"caller's code; the stream stopped") as err:
            asyncio.run(main(str(s.link)))
    assert err.value.callback == "on_rsc"
    assert isinstance(err.value.__cause__, ValueError)
    assert heard == sent[:2]  # not called again after it raised
    # stopped at once: far from the 6000 samples of the whole stream
    assert progress.written
    assert 400 <= progress.samples < 6000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".live.imrs")]
    notes = [json.loads(r.data) for r in read_session(out).records if r.kind.name == "NOTE"]
    assert [bytes.fromhex(n["rsc"]) for n in notes if "rsc" in n] == sent  # none lost
    assert imurun.load_recording(out).n_samples == progress.samples
    assert imurun.analyze(out).source.path == str(out)  # `imurun analyze` reads it


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_a_progress_callback_that_raises_stops_the_sync_and_keeps_what_was_verified(
        tmp_path: Path) -> None:
    """``sync_to_folder(progress=...)`` whose callback raised an ``OSError`` (a closed pipe it
    printed to) took it for the disk: every run "failed" with "cannot store runs here: Broken
    pipe" and the sync returned as if it had finished. The callback's error now stops the
    sync as a :class:`CallbackError` naming ``progress`` (from the callback's own); what was
    verified is kept, and the next sync resumes there."""
    from imurun.errors import CallbackError

    calls: list[tuple[int, int, int]] = []

    def progress(run_id: int, verified: int, size: int) -> None:
        calls.append((run_id, verified, size))
        raise BrokenPipeError(32, "Broken pipe")

    with virtual_sensor(tmp_path, "--seed", "3", "--runs", "2", "--minutes", "0.2",
                        "--speed", "max") as s:
        port = str(s.link)
        with pytest.raises(CallbackError, match=r"^progress raised BrokenPipeError: .*Broken "
                                                r"pipe; the sync stopped during run 1") as err:
            asyncio.run(sync_to_folder(serial_connection(port), tmp_path / "runs",
                                       progress=progress))
        assert err.value.callback == "progress"
        assert isinstance(err.value.__cause__, BrokenPipeError)
        assert len(calls) == 1
        again = asyncio.run(sync_to_folder(serial_connection(port), tmp_path / "runs"))
    assert again.ok
    assert [r.run_id for r in again.stored] == [1, 2]
    assert again.runs[0].resumed_from == calls[0][1] > 0  # the verified bytes were kept


def test_a_stream_stopped_while_its_link_is_down_ends_at_once(tmp_path: Path) -> None:
    """``stop`` set while the stream reconnects after a lost link: it stopped only once it had
    connected again, or after all its tries (then raising LinkLost). It ends at once now,
    "stopped", with what arrived in the file, and tries no more."""
    from imurun.sim import SimulateOptions, virtual_serial_sensor
    from imurun.transport.base import LinkLost

    opts = SimulateOptions(link=tmp_path / "sensor.tty", flash=tmp_path / "flash", runs=0,
                           stream_minutes=2, realtime=False)
    out = tmp_path / "live.imrs"
    stop = asyncio.Event()
    tries: list[float] = []

    with virtual_serial_sensor(opts) as sim:
        real = serial_connection(str(sim.link_path))

        async def connect() -> SensorClient:
            if tries:  # a reconnection: the sensor is gone; the user stops meanwhile
                tries.append(asyncio.get_running_loop().time())
                stop.set()
                raise LinkLost("test", "gone")
            tries.append(asyncio.get_running_loop().time())
            client = await real()
            read = client.next_event
            n = [0]

            async def next_event(timeout: float) -> object:  # the link drops after a while
                n[0] += 1
                if n[0] > 200:
                    raise LinkLost(client.transport.description, "cable pulled")
                return await read(timeout)

            client.next_event = next_event  # type: ignore[method-assign]
            return client

        got = asyncio.run(stream_to_file(connect, out, StreamSettings(
            max_reconnects=5, backoff_s=(2.0, 2.0)), stop=stop))
    assert got.report.ended_by == "stopped"
    assert len(tries) == 2  # the first link and one failed try: none after the stop
    assert got.recording is not None
    assert got.recording.n_samples > 0
    assert imurun.load_recording(out).n_samples == got.recording.n_samples

