"""End to end over a real pseudo-terminal: virtual sensor in one process, pyserial host in another.

These are the acceptance checks of the foundation issue: a complete stream, a sync that survives
corruption and disconnects byte for byte, and a sync killed with SIGKILL that resumes cleanly.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imurun.cli import main
from imurun.device.client import SensorClient
from imurun.device.stream import StreamSettings, stream_live
from imurun.ingest.builder import RecordingBuilder
from imurun.ingest.files import load_recording, load_session
from imurun.ingest.recording import GapCause
from imurun.sim.source import load_truth
from imurun.transport.serial import SerialTransport
from imurun.transport.session import SessionWriter
from tests.sim_support import virtual_sensor, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serial_e2e")]


def _stream(port: Path, out: Path, **settings: float) -> tuple[RecordingBuilder, object]:
    session = SessionWriter(out, {"framing": "stream", "link": f"serial {port}"})
    builder = RecordingBuilder(source=str(out))

    async def connect() -> SensorClient:
        t = SerialTransport(str(port))
        await t.open(10.0)
        return SensorClient(t, session=session, timeout_s=3.0)

    try:
        report = asyncio.run(stream_live(connect, builder, StreamSettings(**settings)))
    finally:
        session.close()
    return builder, report


def _locate(block: np.ndarray, sent: np.ndarray) -> int:
    """Index of ``sent`` where ``block`` starts (it must occur exactly there)."""
    head = block[: min(len(block), 50)]
    hits = [i for i in np.flatnonzero((sent[: len(sent) - len(head) + 1] == head[0]).all(axis=1))
            if np.array_equal(sent[i:i + len(head)], head)]
    assert len(hits) == 1, f"the first samples of a boot occur {len(hits)} times in what was sent"
    return int(hits[0])


def _counts_of(rec) -> np.ndarray:  # type: ignore[no-untyped-def]
    from imurun.sim.firmware import SensorConfig

    cfg = SensorConfig()
    acc = np.rint(rec.acc_ms2 / np.float64(np.float32(cfg.acc_lsb_ms2)))
    gyr = np.rint(rec.gyr_rads / np.float64(np.float32(cfg.gyr_lsb_rads)))
    return np.concatenate((acc, gyr), axis=1).astype(np.int64)


def test_ten_minutes_streamed_flat_out_arrive_complete(tmp_path: Path) -> None:
    with virtual_sensor(tmp_path, "--seed", "11", "--stream-minutes", "10", "--speed", "max") as s:
        out = tmp_path / "live.imrs"
        builder, report = _stream(s.link, out, timeout_s=10.0)
        rec = builder.build()
        truth = load_truth(s.truth / "stream-boot1.npz")
    sent = truth["counts"].astype(np.int64)
    assert report.ended_by == "sensor"  # type: ignore[attr-defined]
    assert len(sent) == 10 * 60 * 200
    assert rec.n_samples == len(sent)
    assert rec.gaps == ()
    np.testing.assert_array_equal(_counts_of(rec), sent)
    assert rec.stats.frames_corrupt == 0
    assert rec.stats.frames_lost == 0
    # Times: uniform at the sensor's rate, 10 minutes long.
    assert rec.fs_hz == pytest.approx(200.0, rel=1e-3)
    assert rec.duration_s == pytest.approx(600.0, rel=1e-3)
    # The replay of what was recorded goes through the same path and gives the same recording.
    again = load_session(out)
    np.testing.assert_array_equal(again.acc_ms2, rec.acc_ms2)
    np.testing.assert_array_equal(again.gyr_rads, rec.gyr_rads)
    np.testing.assert_allclose(again.t_s, rec.t_s, atol=1e-9)


def test_the_simulator_says_what_speed_max_does_to_its_clock(tmp_path: Path) -> None:
    """Regression: at --speed max the sensor's clock runs ahead of the wall clock and hosts
    note a clock they cannot correct, which nothing said; and '--speed 2' was accepted and ran
    in real time. Now the simulator says it at start, and a pace it does not have is refused."""
    from imurun.cli import SIM_SPEED_MAX_NOTE

    with virtual_sensor(tmp_path, "--speed", "max") as s:
        wait_for(lambda: "Ctrl-C to stop" in s.log.read_text(), 30.0, "the startup lines")
    lines = s.log.read_text().splitlines()
    assert lines[0] == SIM_SPEED_MAX_NOTE
    assert "the sensor's clock keeps pace with the samples sent" in lines[0]
    with virtual_sensor(tmp_path, "--speed", "1", name="realtime") as s:
        wait_for(lambda: "Ctrl-C to stop" in s.log.read_text(), 30.0, "the startup lines")
    assert SIM_SPEED_MAX_NOTE not in s.log.read_text()
    for pace in ("2", "0.5", "fast"):
        r = subprocess.run([sys.executable, "-m", "imurun", "simulate", "serial", "--link",
                            str(tmp_path / "x.tty"), "--flash", str(tmp_path / "xf"), "--speed",
                            pace], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, pace
        assert "the virtual sensor streams in real time (1) or as fast as the host reads (max)" \
            in r.stderr


def test_a_replay_counts_the_link_as_the_live_stream_did_across_a_reconnect(
        tmp_path: Path) -> None:
    """The handshake after a reconnect is part of the link: counted live as in the replay."""
    with virtual_sensor(tmp_path, "--seed", "13", "--stream-minutes", "1", "--speed", "max",
                        "--disconnect-after", "60000") as s:
        out = tmp_path / "live.imrs"
        builder, report = _stream(s.link, out, timeout_s=10.0)
        rec = builder.build()
    assert report.reconnects == 1  # type: ignore[attr-defined]
    again = load_session(out)
    np.testing.assert_array_equal(again.acc_ms2, rec.acc_ms2)
    assert again.stats == rec.stats


def test_stream_through_reboot_and_corruption_leaves_explicit_gaps(tmp_path: Path) -> None:
    with virtual_sensor(tmp_path, "--seed", "12", "--stream-minutes", "2", "--speed", "max",
                        "--reboot-after", "40", "--corrupt", "0.0002") as s:
        out = tmp_path / "live.imrs"
        builder, report = _stream(s.link, out, timeout_s=10.0)
        rec = builder.build()
        first = load_truth(s.truth / "stream-boot1.npz")["counts"].astype(np.int64)
        second = load_truth(s.truth / "stream-boot2.npz")["counts"].astype(np.int64)
    assert report.reboots == 1  # type: ignore[attr-defined]
    causes = [g.cause for g in rec.gaps]
    assert GapCause.REBOOT in causes
    assert GapCause.CORRUPT in causes  # corrupt frames cost their samples, visibly
    assert len({seg.boot_id for seg in rec.segments}) == 2
    # Every sample that arrived is bit-exact and in place: each segment is the slice of what the
    # sensor sent that the gaps' counts of missing samples put it at.
    got = _counts_of(rec)
    boots = [seg.boot_id for seg in rec.segments]
    per_boot = {boots[0]: first, boots[-1]: second}
    pos: dict[int | None, int] = {}
    for k, seg in enumerate(rec.segments):
        sent = per_boot[seg.boot_id]
        if seg.boot_id not in pos:
            # A boot's first samples may have been lost before anything arrived (no gap before
            # the first segment says how many): find where its first segment starts.
            pos[seg.boot_id] = _locate(got[seg.start:seg.stop], sent)
        elif rec.gaps[k - 1].cause != GapCause.REBOOT:
            pos[seg.boot_id] += rec.gaps[k - 1].n_missing
        i = pos[seg.boot_id]
        np.testing.assert_array_equal(got[seg.start:seg.stop], sent[i:i + len(seg)])
        pos[seg.boot_id] += len(seg)
    assert pos[boots[0]] <= len(first)
    assert pos[boots[-1]] == len(second)
    assert rec.stats.frames_corrupt > 0


def test_sync_with_corruption_and_two_disconnects_is_byte_identical(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with virtual_sensor(tmp_path, "--seed", "13", "--runs", "3", "--minutes", "3",
                        "--corrupt", "0.0002", "--drop", "0.005",
                        "--disconnect-after", "150000", "--disconnect-after", "420000") as s:
        flash_copy = tmp_path / "flash-copy"
        shutil.copytree(s.flash, flash_copy, ignore=shutil.ignore_patterns("truth"))
        store = tmp_path / "store"
        assert main(["sync", "--port", str(s.link), "--store", str(store)]) == 0
        first_sync = capsys.readouterr().out
        assert "2 reconnects" in first_sync  # both disconnects happened and were survived
        assert "damaged chunks/frames re-requested" in first_sync
        remaining = sorted(p.name for p in s.flash.glob("run-*.imrn"))
        # syncing again stores nothing twice
        assert main(["sync", "--port", str(s.link), "--store", str(store)]) == 0
        assert "synced 0 new run(s)" in capsys.readouterr().out
    originals = sorted(flash_copy.glob("run-*.imrn"))
    assert len(originals) == 3
    stored = sorted(store.glob("*/run-*.imrn"))
    assert len(stored) == 3
    for orig, got in zip(originals, stored, strict=True):
        assert got.name.startswith(orig.stem)
        assert got.read_bytes() == orig.read_bytes()
    assert remaining == []  # erased on the sensor only after being stored
    assert not list((store / ".partial").iterdir())


def test_sync_killed_with_sigkill_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    # A slow link (about 40 KB/s) so the kill lands mid-run.
    with virtual_sensor(tmp_path, "--seed", "14", "--runs", "2", "--minutes", "3",
                        "--rate", "40000") as s:
        flash_copy = tmp_path / "flash-copy"
        shutil.copytree(s.flash, flash_copy, ignore=shutil.ignore_patterns("truth"))
        store = tmp_path / "store"
        partial = store / ".partial"
        host_log = tmp_path / "host.log"
        with open(host_log, "wb") as log:
            host = subprocess.Popen([sys.executable, "-m", "imurun", "sync", "--port",
                                     str(s.link), "--store", str(store)],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            def mid_run() -> bool:
                parts = list(partial.glob("*.part")) if partial.exists() else []
                return any(p.stat().st_size > 20_000 for p in parts) or host.poll() is not None
            wait_for(mid_run, 60, "the sync to be part-way through a run")
            assert host.poll() is None, host_log.read_text()
            os.kill(host.pid, signal.SIGKILL)
            host.wait(10)
        finally:
            if host.poll() is None:
                host.kill()
        assert host.returncode == -signal.SIGKILL
        held = sum(p.stat().st_size for p in partial.glob("*.part"))
        assert held > 0
        rerun = subprocess.run([sys.executable, "-m", "imurun", "sync", "--port", str(s.link),
                                "--store", str(store)], capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "resumed at byte" in rerun.stdout
    originals = sorted(flash_copy.glob("run-*.imrn"))
    stored = sorted(store.glob("*/run-*.imrn"))
    assert [p.name.split("-")[1] for p in stored] == [p.stem.split("-")[1] for p in originals]
    for orig, got in zip(originals, stored, strict=True):
        assert got.read_bytes() == orig.read_bytes()
    assert not list(partial.iterdir())


def _flash_ids(flash: Path) -> list[str]:
    """The library ids of the runs on a sensor's flash (a run's id is its file's SHA-256)."""
    import hashlib

    return sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in flash.glob("run-*.imrn"))


def _library_ids(home: Path) -> list[str]:
    from imurun.store.library import Library

    with Library.open(home, create=False) as lib:
        return sorted(r.id for r in lib.runs())


def test_sync_with_standard_error_closed_takes_every_run_off_the_sensor(tmp_path: Path) -> None:
    """``imurun sync ... 2>&-``: the progress printer asked a missing standard error whether it
    was a terminal, and the sync ended in an error before a byte came off the sensor."""
    with virtual_sensor(tmp_path, "--seed", "15", "--runs", "2", "--minutes", "1") as s:
        ids = _flash_ids(s.flash)
        home = tmp_path / "home"
        r = subprocess.run(["sh", "-c", 'exec "$0" "$@" 2>&-', sys.executable, "-m", "imurun",
                            "--home", str(home), "sync", "--port", str(s.link)],
                           capture_output=True, text=True, timeout=180, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "synced 2 new run(s)" in r.stdout
        assert "imurun: " not in r.stdout  # no error (said on stdout when stderr is closed)
        assert not list(s.flash.glob("run-*.imrn"))  # erased once stored
    assert len(ids) == 2
    assert _library_ids(home) == ids


class _GoneTerminal(io.TextIOBase):
    """Standard error as a terminal that has gone: every write fails with a closed pipe."""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_progress_bar_that_cannot_be_drawn_does_not_stop_the_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The bar's first write to a standard error that had gone raised inside the sync's
    ``progress``: the sync stopped (a CallbackError ended as a closed pipe, exit 141) with the
    runs still on the sensor. A bar is decoration: the runs come off, the command says so."""
    with virtual_sensor(tmp_path, "--seed", "16", "--runs", "2", "--minutes", "1") as s:
        ids = _flash_ids(s.flash)
        monkeypatch.setattr(sys, "stderr", _GoneTerminal())
        code = main(["--home", str(tmp_path / "home"), "sync", "--port", str(s.link),
                     "--no-report"])
        monkeypatch.undo()
        out = capsys.readouterr().out
        assert code == 0, out
        assert "synced 2 new run(s)" in out
        assert not list(s.flash.glob("run-*.imrn"))
    assert _library_ids(tmp_path / "home") == ids


def test_stored_run_decodes_to_the_motion_the_sensor_recorded(tmp_path: Path) -> None:
    with virtual_sensor(tmp_path, "--seed", "15", "--runs", "1", "--minutes", "1",
                        "--reboot-in-run") as s:
        store = tmp_path / "store"
        assert main(["sync", "--port", str(s.link), "--store", str(store)]) == 0
        truth = load_truth(s.truth / "recorded-000.npz")
    runs = sorted(store.glob("*/run-*.imrn"))
    assert len(runs) == 2  # the reboot cut the run in two
    first = load_recording(runs[0])
    second = load_recording(runs[1])
    assert "no END block" in " ".join(first.meta.notes)
    sent = truth["counts"].astype(np.int64)
    np.testing.assert_array_equal(_counts_of(first), sent[: first.n_samples])
    np.testing.assert_array_equal(_counts_of(second), sent[-second.n_samples:])


def test_wrong_port_is_one_clear_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "imurun", "sync", "--port", str(tmp_path / "nope"),
                        "--store", str(tmp_path / "store"), "--timeout", "0.5"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 4
    assert r.stderr.count("\n") == 1
    assert "not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_every_request_the_sensor_cannot_honour_is_answered_with_error(tmp_path: Path) -> None:
    """SPEC §3: a malformed request is ERROR 2, a read at or beyond a run's end ERROR 4; none
    is left unanswered (the host would wait for its timeout)."""
    from firmware_protocol.codec import Received, StreamDecoder
    from firmware_protocol.frame import Frame, cobs_encode
    from firmware_protocol.messages import Catalogue, CatalogueRequest, Error, RunRead

    def raw(msg_type: int, payload: bytes, seq: int) -> bytes:
        return cobs_encode(bytes(Frame(msg_type, payload, seq=seq))) + b"\x00"

    async def ask(t: SerialTransport, dec: StreamDecoder, data: bytes) -> object:
        await t.write(data)
        while True:
            chunk = await t.read(5.0)
            for ev in dec.feed(chunk.data):
                if isinstance(ev, Received):
                    return ev.message

    async def main(link: str) -> list[object]:
        t = SerialTransport(link)
        await t.open(5.0)
        dec = StreamDecoder()
        try:
            cat = await ask(t, dec, raw(0x20, bytes(CatalogueRequest().payload()), 0))
            assert isinstance(cat, Catalogue)
            run = cat.runs[0]
            return [await ask(t, dec, raw(0x22, b"\x01\x00\x00\x00", 1)),  # RUN_READ, 4 bytes
                    await ask(t, dec, raw(0x25, b"\x01\x00", 2)),  # RUN_ERASE, 2 bytes
                    await ask(t, dec, raw(0x31, b"\x01" + bytes(70), 3)),  # CONFIG_SET, 70 bytes
                    await ask(t, dec, raw(0x22, RunRead(run.run_id, run.size, 100).payload(), 4))]
        finally:
            await t.close()

    with virtual_sensor(tmp_path, "--runs", "1", "--minutes", "0.2", "--speed", "max") as s:
        answers = asyncio.run(main(str(s.link)))
    assert all(isinstance(a, Error) for a in answers), answers
    assert [(a.code, a.request_type) for a in answers] == [  # type: ignore[attr-defined]
        (2, 0x22), (2, 0x25), (2, 0x31), (4, 0x22)]


def test_a_full_disk_stops_the_sync_cleanly_and_the_next_sync_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while storing: exit 5 with the reason for every run left, the runs stored before
    are kept (and erased on the sensor), nothing else is erased, and a second sync resumes."""
    import errno

    from imurun.store.rundir import RunDirectory

    real_append = RunDirectory.append
    budget = {"bytes": 90_000}  # the runs are about 60 kB each: run 2 meets the full disk

    def append(self: RunDirectory, device_id: int, entry: object, offset: int,
               data: bytes) -> None:
        budget["bytes"] -= len(data)
        if budget["bytes"] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, device_id, entry, offset, data)  # type: ignore[arg-type]

    with virtual_sensor(tmp_path, "--seed", "14", "--runs", "3", "--minutes", "1") as s:
        flash = {p.name: p.read_bytes() for p in s.flash.glob("run-*.imrn")}
        store = tmp_path / "store"
        monkeypatch.setattr(RunDirectory, "append", append)
        assert main(["sync", "--port", str(s.link), "--store", str(store)]) == 5
        out, err = capsys.readouterr()
        assert "run 1: stored" in out
        assert out.count("No space left on device") == 2  # runs 2 and 3
        assert "resume" in err
        assert sorted(p.name for p in s.flash.glob("run-*.imrn")) == sorted(flash)[1:]
        monkeypatch.setattr(RunDirectory, "append", real_append)
        assert main(["sync", "--port", str(s.link), "--store", str(store)]) == 0
        again = capsys.readouterr().out
        assert "run 2: stored" in again
        assert "run 3: stored" in again
        assert not list(s.flash.glob("run-*.imrn"))
    stored = sorted(store.glob("*/run-*.imrn"))
    assert sorted(p.read_bytes() for p in stored) == sorted(flash.values())


# before: Ctrl-C left the sensor streaming (no STREAM_STOP was sent): a real sensor streamed to
# nobody until its battery ran out, and the next `imurun stream` first read the stale stream (a
# damaged frame and seconds of samples from before it started); nothing said what was kept.
def test_ctrl_c_mid_stream_keeps_the_recording_and_stops_the_sensor(tmp_path: Path) -> None:
    from firmware_protocol.codec import Received, StreamDecoder
    from firmware_protocol.messages import StreamStop
    from imurun.transport.session import RecordKind, read_session

    out = tmp_path / "live.imrs"
    with virtual_sensor(tmp_path, "--seed", "5", "--stream-minutes", "1") as s:  # real time
        proc = subprocess.Popen(
            [sys.executable, "-m", "imurun", "stream", "--port", str(s.link), "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            wait_for(lambda: out.exists() and out.stat().st_size > 8000, 30.0,
                     "the first seconds of the stream in the recording")
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 130, stdout + stderr
    assert "imurun: interrupted" in stderr
    assert f"samples streamed to {out} (kept)" in stdout
    told = int(stdout.split("interrupted: ")[1].split()[0])
    sf = read_session(out)
    assert not sf.truncated
    assert sf.damaged == 0
    sent = StreamDecoder().feed(b"".join(r.data for r in sf.records if r.kind == RecordKind.TX))
    assert isinstance([e for e in sent if isinstance(e, Received)][-1].message, StreamStop)
    rec = load_session(out)
    assert rec.n_samples >= told > 0
