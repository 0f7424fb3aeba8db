"""The ``imurun`` command: parse arguments, call the library, print. No logic of its own.

Exit codes: 0 ok; 1 unexpected failure; 2 usage error; 3 bad or unsupported file, or an
output file that cannot be written; 4 device or link problem (port missing, timeout, sensor
error); 5 sync incomplete; 6 store problem; 7 not found (unknown run, athlete or library);
130 interrupted; 141 standard output closed early (``imurun runs | head``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sqlite3
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from imurun import __version__
from imurun.cli_analysis import add_file_options, file_options, positive_number
from imurun.errors import (
    CallbackError,
    DeviceError,
    DeviceTimeoutError,
    FileFormatError,
    ImurunError,
    IngestError,
    StoreError,
    SyncError,
    TransportError,
    UsageError,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from imurun.device.client import SensorClient
    from imurun.device.stream import StreamReport, StreamSettings
    from imurun.ingest.recording import Recording
    from imurun.transport.ble import BleBackend, FoundSensor, NotificationQueue
    from imurun.transport.session import SessionWriter

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_FILE, EXIT_DEVICE, EXIT_SYNC, EXIT_STORE = 0, 1, 2, 3, 4, 5, 6
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


def _exit_code(e: BaseException) -> int:
    from imurun.errors import NotFoundError

    if isinstance(e, NotFoundError):
        return 7
    if isinstance(e, UsageError):
        return EXIT_USAGE
    if isinstance(e, FileFormatError | IngestError):
        return EXIT_FILE
    if isinstance(e, TransportError | DeviceError):
        return EXIT_DEVICE
    if isinstance(e, SyncError):
        return EXIT_SYNC
    if isinstance(e, StoreError):
        return EXIT_STORE
    return EXIT_FAIL


def _say(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------- output paths
def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file (links and ``./`` spellings included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


def cannot_write(path: str | os.PathLike[str], e: OSError) -> FileFormatError:
    """The error of an output file that could not be written (exit code 3, as every input)."""
    return FileFormatError(str(path), f"cannot write: {e.strerror or e}")


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Report a failure to write ``path`` as :func:`cannot_write`, whichever layer raised it.

    The library's durable writers raise :class:`StoreError` caused by the ``OSError``; that
    error's file is the target, a temporary file beside it, or a directory above it. Errors about
    other files (the library's own) pass through unchanged.
    """
    target = Path(path).absolute()
    try:
        yield
    except StoreError as e:
        if isinstance(e.__cause__, OSError) and _about(e.__cause__, target):
            raise cannot_write(path, e.__cause__) from e
        raise
    except OSError as e:
        if _about(e, target):
            raise cannot_write(path, e) from e
        raise


def _about(e: OSError, target: Path) -> bool:
    names = [Path(os.fsdecode(f)).absolute() for f in (e.filename, e.filename2) if f is not None]
    return any(f == target or f.parent == target.parent or f in target.parents for f in names)


def check_output(path: str | os.PathLike[str], *, option: str,
                 inputs: Sequence[str | os.PathLike[str]] = (),
                 home: str | os.PathLike[str] | None = None, derived: bool = True) -> Path:
    """Refuse, before any work, an output that is an input, a library's file, or unwritable.

    An existing file that is not an input may be replaced (as a derived output is), unless it is
    a sensor's recording (a session or stored-run file: the data themselves) and ``derived``
    (every output but ``stream --out``, which replaces one only with ``--force``). A library's
    own files (``home``'s, ``None``: the default library's, or those of a library above the
    path; :func:`imurun.store.library.managed_file`) never are. Missing parent directories are
    fine: the writers create them. Writability is probed with an anonymous temporary file in the
    nearest existing directory, so it holds for root too.
    """
    from imurun.store.library import managed_file

    p = Path(path)
    for src in inputs:
        if same_file(p, src):
            raise UsageError(f"{option} {p} is the input file; writing it would destroy the "
                             "input: give another file name")
    managed = managed_file(p, home)
    if managed is not None:
        root, role = managed
        raise UsageError(f"{option} {p} is {role} of the library {root}, which imurun "
                         "manages; writing it would destroy library data: give another file name")
    kind = _recording_kind(p) if derived else None
    if kind is not None:
        raise UsageError(f"{option} {p} is a recording ({kind}); writing it would destroy the "
                         "recording: give another file name")
    if p.is_dir():
        raise FileFormatError(str(p), "cannot write: it is a directory, give a file name")
    try:
        if p.exists() and not os.access(p, os.W_OK):
            raise PermissionError(13, os.strerror(13), str(p))
        d = p.absolute().parent
        while not d.exists():
            d = d.parent
        if not d.is_dir():
            raise NotADirectoryError(20, f"{d} is not a directory", str(d))
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise cannot_write(p, e) from e
    return p


def _recording_kind(p: Path) -> str | None:
    """``"a session file"`` or ``"a stored-run file"`` when ``p`` is one, else ``None``."""
    from firmware_protocol.runfile import MAGIC as RUN_MAGIC
    from imurun.transport.session import is_session

    try:
        if not p.is_file():
            return None
        with p.open("rb") as fh:
            head = fh.read(64)
    except OSError:
        return None  # (said by the writability check below)
    if is_session(head):
        return "a session file"
    return "a stored-run file" if head.startswith(RUN_MAGIC) else None


def _speed(s: str) -> float | None:
    if s == "max":
        return None
    try:
        v = float(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError("speed must be a positive number or 'max'") from e
    if v <= 0:
        raise argparse.ArgumentTypeError("speed must be a positive number or 'max'")
    return v


SIM_SPEED_MAX_NOTE = (
    "--speed max: live streams go out as fast as the host reads; the sensor's clock keeps pace "
    "with the samples sent, so it runs ahead of the wall clock (a host notes a clock it cannot "
    "correct: expected here)")


def _sim_speed(s: str) -> float | None:
    """The virtual sensor streams in real time (1) or flat out (max): nothing in between."""
    if s == "max":
        return None
    try:
        if float(s) == 1.0:
            return 1.0
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("the virtual sensor streams in real time (1) or as fast as "
                                     "the host reads (max)")


def _rate(s: str) -> float:
    v = float(s)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be between 0 and 1")
    return v


def _drift_ppm(s: str) -> float:
    """A crystal's error in ppm: what a host corrects (imurun.ingest.builder, ±1000 ppm)."""
    from imurun.ingest.clock import MAX_PLAUSIBLE_DRIFT_PPM

    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if not abs(v) <= MAX_PLAUSIBLE_DRIFT_PPM:
        raise argparse.ArgumentTypeError(
            f"a clock drift is a number of ppm within ±{MAX_PLAUSIBLE_DRIFT_PPM:.0f} (a crystal's "
            "error; a host takes a larger one for a clock it cannot correct)")
    return v


# ---------------------------------------------------------------------------- commands
def _check_simulate_paths(link: Path, flash: Path) -> None:
    """The link is (re)made as a symlink and the flash is a directory: say so before starting."""
    if link.is_symlink():  # the link of an earlier run: replaced
        pass
    elif link.is_dir():
        raise FileFormatError(str(link), "cannot make the serial port's link here: it is a "
                                         "directory (give the path of a link to create)")
    elif link.exists():
        raise FileFormatError(str(link), "cannot make the serial port's link here: it is a "
                                         "file, not a link (left as it is)")
    elif not link.absolute().parent.is_dir():
        raise FileFormatError(str(link), "cannot make the serial port's link here: no "
                                         f"directory {link.absolute().parent}")
    if flash.exists() and not flash.is_dir():
        raise FileFormatError(str(flash), "not a flash directory (it is a file); --flash is "
                                          "the directory of the sensor's stored runs")
    try:
        flash.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileFormatError(str(flash), f"cannot create the flash directory: "
                                          f"{e.strerror or e}") from e


def cmd_simulate(a: argparse.Namespace) -> int:
    from imurun.sim.runner import SimulateOptions, run_serial

    _check_simulate_paths(Path(a.link), Path(a.flash))
    if a.speed is None:
        _say(SIM_SPEED_MAX_NOTE)
    opts = SimulateOptions(
        link=Path(a.link), flash=Path(a.flash), seed=a.seed, runs=a.runs, minutes=a.minutes,
        stream_minutes=a.stream_minutes, corrupt=a.corrupt, drop=a.drop,
        disconnect_after=tuple(a.disconnect_after or ()), reboot_after_s=tuple(a.reboot_after or ()),
        realtime=a.speed is not None, rate_bytes_per_s=a.rate, mounting=a.mounting,
        reboot_in_run=a.reboot_in_run, duration_s=a.duration, ready_file=Path(a.ready_file) if a.ready_file else None,
        plan=Path(a.plan) if a.plan else None, watch=a.watch,
        stall_after=tuple(a.stall_after or ()), stall_s=a.stall_for,
        clock_drift_ppm=a.clock_drift_ppm,
        **({"device_id": a.device_id} if a.device_id is not None else {}))
    stats = run_serial(opts, say=_say)
    _say(f"virtual sensor stopped: {stats.requests} requests, {stats.bytes_sent} bytes sent, "
         f"{stats.frames_dropped} frames dropped, {stats.bytes_corrupted} bytes corrupted, "
         f"{stats.disconnects} disconnects, {stats.reboots} reboots"
         + (f", {stats.stalls} stalls" if opts.stall_after else ""))
    return EXIT_OK


def _serial_connect(port: str, timeout_s: float) -> Callable[[], Awaitable[SensorClient]]:
    """:func:`imurun.device.connect.serial_connection`, saying ``  reconnected to PORT``."""
    from imurun.device.connect import serial_connection

    return serial_connection(port, timeout_s, on_status=_link_status)


def _link_status(msg: str) -> None:
    """``on_status`` of a stream or sync: one indented line per change of the link."""
    _say(f"  {msg}")


def cmd_stream(a: argparse.Namespace) -> int:
    from imurun.cli_analysis import live_hook
    from imurun.device.connect import StreamProgress, stream_to_file

    out = _check_stream_out(a)
    if a.ble:
        return _stream_ble(a, out)
    if a.rsc:
        raise UsageError("--rsc records a footpod's Running Speed and Cadence over Bluetooth: "
                         "it needs --ble NAME_OR_ADDRESS; a serial link has none")
    if not a.port:
        raise UsageError("give --port PATH (serial); BLE streaming is --ble NAME_OR_ADDRESS")
    hook = live_hook(a)
    progress = StreamProgress()
    try:  # what a developer calls: the command adds only its printing
        streamed = asyncio.run(stream_to_file(_serial_connect(a.port, a.timeout), out,
                                              stream_settings(a), on_event=hook,
                                              on_status=_link_status, progress=progress))
    except KeyboardInterrupt:
        _say_interrupted(out, progress.written, progress.samples)
        raise
    if hook is not None:  # the end of the data: what the live analysis still holds
        hook.flush()
    if streamed.recording is None:
        _say(_nothing_received(out))
        return EXIT_OK
    _say(_streamed(streamed.report, streamed.recording, out))
    return EXIT_OK


def _streamed(report: StreamReport, rec: Recording, out: Path) -> str:
    """The last line of a stream: how much, how it ended, and what the link went through."""
    return (f"streamed {report.samples} samples ({rec.duration_s:.1f} s) to {out}; "
            f"ended by {report.ended_by}; {report.reconnects} reconnects, {report.reboots} "
            f"reboots, {len(rec.gaps)} gaps")


def stream_settings(a: argparse.Namespace) -> StreamSettings:
    """The stream settings of `stream`'s options.

    ``--duration``, and ``--timeout`` both for each request and for the silence a stream may
    have before its link counts as lost.
    """
    from imurun.device.stream import StreamSettings

    return StreamSettings(duration_s=a.duration, timeout_s=a.timeout)


def _say_interrupted(out: Path, written: bool, samples: int) -> None:
    """Ctrl-C: say what the recording holds (it is kept: every record was flushed)."""
    if written:
        _say(f"interrupted: {samples} samples streamed to {out} (kept)")
    else:
        _say(_nothing_received(out))


def _nothing_received(out: Path) -> str:
    kept = "; the existing file is left as it was" if out.exists() else ""
    return f"nothing received from the sensor: {out} not written{kept}"


def _check_stream_out(a: argparse.Namespace) -> Path:
    """``--out`` of a stream: writable, and an earlier recording is replaced only with --force."""
    out = check_output(a.out, option="--out", home=getattr(a, "home", None), derived=False)
    if out.exists() and not a.force:
        raise UsageError(f"--out {out} exists: streaming would replace that recording; give "
                         "another file name, or --force to replace it")
    return out


def _session_writer(out: Path, meta: dict[str, str]) -> SessionWriter:
    """The recording of a stream, which appears (or replaces ``out``) once a sensor answers.

    A valid frame or a footpod measurement counts; bytes from something else on the port do not.
    """
    from imurun.transport.session import SessionWriter

    try:
        return SessionWriter(out, meta, defer=True, publish_on_rx=False)
    except OSError as e:
        raise cannot_write(out, e) from e


def cmd_sync(a: argparse.Namespace) -> int:
    if a.store is None:  # into the library, then analysed
        from imurun.cli_library import cmd_sync_library

        return cmd_sync_library(a)
    if not a.report:
        raise UsageError("--no-report applies to runs synced into the library; --store writes "
                         "plain run files and no reports, so leave it out")
    from imurun.device.connect import sync_to_folder
    from imurun.device.sync import SyncSettings

    if not a.port and not a.ble:
        raise UsageError("give --port PATH (serial); BLE sync is --ble NAME_OR_ADDRESS")
    if a.port and a.ble:
        raise UsageError("give either --port or --ble, not both")
    from imurun.store.library import managed_file

    managed = managed_file(a.store, getattr(a, "home", None))
    if managed is not None:
        root, what = managed
        raise UsageError(f"--store {a.store} is {what} of the library in {root}: plain run files "
                         "there would confuse it; sync without --store to put the runs into the "
                         "library, or give --store a folder outside it")
    from imurun.cli_progress import SyncBars

    progress = SyncBars()
    settings = SyncSettings(erase=not a.keep)
    # the folder is held before the sensor is reached: a second sync there touches nothing
    if a.ble:
        report = _run_ble(lambda backend: sync_to_folder(_ble_connect(a, backend), a.store,
                                                         settings, progress=progress,
                                                         on_status=_link_status))
    else:
        report = asyncio.run(sync_to_folder(_serial_connect(a.port, a.timeout), a.store,
                                            settings, progress=progress, on_status=_link_status))
    for r in report.runs:
        extra = f" (resumed at byte {r.resumed_from})" if r.resumed_from else ""
        where = f" -> {r.location}" if r.location else ""
        err = f": {r.error}" if r.error else ""
        erased = ", erased on sensor" if r.erased else ""
        _say(f"run {r.run_id}: {r.status}{extra}{where}{erased}{err}")
    _say(f"synced {len(report.stored)} new run(s) from sensor {report.device_id:016x} in "
         f"{report.duration_s:.1f} s: {report.bytes_fetched} bytes fetched, "
         f"{report.reconnects} reconnects, {report.chunks_rejected + report.frames_corrupt} "
         f"damaged chunks/frames re-requested")
    if not report.ok:
        raise SyncError("some runs could not be synced (see above); run sync again to resume")
    return EXIT_OK


def cmd_replay(a: argparse.Namespace) -> int:
    from imurun.analysis_live import replay_session
    from imurun.cli_analysis import live_hook

    if a.live and a.json:
        raise UsageError("--live prints lines of text; --json prints one JSON object: give one")
    hook = live_hook(a)
    rec = replay_session(a.file, hook, speed=a.speed)
    if hook is not None:  # the end of the data: what the live analysis still holds
        hook.flush()
    _print_recording(rec, as_json=a.json)
    return EXIT_OK


def _print_recording(rec: Recording, as_json: bool = False) -> None:
    from imurun.ingest.summary import describe

    d = describe(rec)
    if as_json:
        print(json.dumps(d, indent=2, sort_keys=True))
        return
    for line in d["lines"]:
        print(line)


def cmd_info(a: argparse.Namespace) -> int:
    from imurun.ingest.files import load_recording

    rec = load_recording(a.file, **file_options(a))
    _print_recording(rec, as_json=a.json)
    return EXIT_OK


def cmd_export(a: argparse.Namespace) -> int:
    if a.fit is not None:  # FILE names a run of the library
        from imurun.cli_library import cmd_export_fit

        return cmd_export_fit(a)
    if a.steps_csv is not None:
        from imurun.cli_library import cmd_export_steps

        return cmd_export_steps(a)
    if not os.path.lexists(a.file) and _is_run_ref(a.file):  # a library run, its start kept
        from imurun.cli_library import cmd_export_csv

        return cmd_export_csv(a)
    from imurun.ingest.export import write_csv
    from imurun.ingest.files import load_recording

    check_output(a.csv, option="--csv", inputs=[a.file], home=getattr(a, "home", None))
    rec = load_recording(a.file, **file_options(a))
    write_csv(rec, Path(a.csv))
    _say(f"wrote {rec.n_samples} samples to {a.csv}")
    return EXIT_OK


def _is_run_ref(text: str) -> bool:
    """Whether ``text`` names a library run (``latest`` or 4+ hex digits of its id)."""
    t = text.strip().lower()
    return t == "latest" or (len(t) >= 4 and all(c in "0123456789abcdef" for c in t))


# ---------------------------------------------------------------------------- BLE
T = TypeVar("T")

#: Developer and test seam, ``None`` in normal use: an async context manager factory entered
#: inside a BLE command's event loop; it yields the bleak backend to use instead of the
#: operating system's (the tests yield an emulated radio's; see docs/ble.md).
ble_backend_hook: Callable[[], AbstractAsyncContextManager[BleBackend]] | None = None

BLE_SCAN_TIMEOUT_S = 10.0  # (as imurun.device.connect's: not imported, to keep the CLI light)
BLE_CONNECT_TIMEOUT_S = 15.0


def _add_ble_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--ble", metavar="NAME_OR_ADDRESS",
                   help="Bluetooth LE sensor: advertised name or address (see `imurun devices`)")


def _run_ble(main: Callable[[BleBackend | None], Awaitable[T]]) -> T:
    async def run() -> T:
        hook = ble_backend_hook
        if hook is None:
            return await main(None)
        async with hook() as backend:
            return await main(backend)

    return asyncio.run(run())


def _ble_connect(a: argparse.Namespace, backend: BleBackend | None, *,
                 session: SessionWriter | None = None, rsc_queue: NotificationQueue | None = None,
                 target: FoundSensor | None = None) -> Callable[[], Awaitable[SensorClient]]:
    """:func:`imurun.device.connect.ble_connection` to ``a.ble``; says when the link is (back) up.

    The loss is said by the stream or sync (``on_status``, once per loss, with its reason),
    not here: reconnecting may take many tries.
    """
    from imurun.device.connect import ble_connection

    return ble_connection(a.ble, a.timeout, found=target, backend=backend, session=session,
                          rsc_queue=rsc_queue, on_status=_link_status,
                          scan_timeout_s=BLE_SCAN_TIMEOUT_S, connect_timeout_s=BLE_CONNECT_TIMEOUT_S)


class _RscLog:
    """RSC notifications of a stream, summarised on screen.

    With ``session`` (a footpod-only stream) each is also kept there raw; a sensor's stream keeps
    them through ``stream_to_file``.
    """

    def __init__(self, session: SessionWriter | None = None) -> None:
        self.session = session
        self.cadence: list[int] = []
        self.speed: list[float] = []
        self.malformed = 0

    def add(self, t_host_s: float, data: bytes) -> None:
        from imurun.transport.ble import decode_rsc

        if self.session is not None:
            self.session.note(rsc=data.hex(), t_host_s=t_host_s)
        m = decode_rsc(data)
        if m is None:
            self.malformed += 1
            return
        self.cadence.append(m.cadence_per_min)
        self.speed.append(m.speed_mps)
        if sys.stdout.isatty():
            print(f"\r  RSC {m.speed_mps:5.2f} m/s {m.cadence_per_min:3d} /min"
                  f"{'  running' if m.running else '         '}", end="", flush=True)

    def summary(self) -> str:
        if not self.cadence:
            return f"RSC: no measurements ({self.malformed} malformed)"
        cad = sorted(self.cadence)[len(self.cadence) // 2]
        spd = sorted(self.speed)[len(self.speed) // 2]
        return (f"RSC: {len(self.cadence)} measurements ({self.malformed} malformed), "
                f"median cadence {cad} /min, median speed {spd:.2f} m/s")


def _stream_ble(a: argparse.Namespace, out: Path) -> int:
    from imurun.cli_analysis import live_hook
    from imurun.device.connect import StreamProgress, stream_to_file
    from imurun.transport.ble import resolve

    if a.port:
        raise UsageError("give either --port or --ble, not both")
    progress = StreamProgress()

    async def main(backend: BleBackend | None) -> int:
        found = await resolve(a.ble, timeout_s=BLE_SCAN_TIMEOUT_S, backend=backend)
        if not found.is_imurun:
            if not a.rsc:
                raise UsageError(f"{found} does not advertise the imurun service; "
                                 "add --rsc to record its Running Speed and Cadence")
            meta = {"framing": "packet", "link": f"BLE {found}", "imurun_version": __version__,
                    "content": "rsc"}
            return await _stream_rsc_only(a, backend, found, _session_writer(out, meta))
        rsc_queue: NotificationQueue | None = asyncio.Queue() if a.rsc else None
        rsc = _RscLog()
        hook = live_hook(a)
        started.append(True)
        # what a developer calls: the command adds only its printing
        streamed = await stream_to_file(
            _ble_connect(a, backend, rsc_queue=rsc_queue, target=found), out,
            stream_settings(a), on_event=hook, on_status=_link_status, progress=progress,
            rsc_queue=rsc_queue, on_rsc=rsc.add)
        if hook is not None:  # the end of the data: what the live analysis still holds
            hook.flush()
        if streamed.recording is None:
            _say(_nothing_received(out))
            return EXIT_OK
        if sys.stdout.isatty() and rsc.cadence:
            print()
        _say(_streamed(streamed.report, streamed.recording, out))
        if a.rsc:
            _say(rsc.summary())
        return EXIT_OK

    started: list[bool] = []
    try:
        return _run_ble(main)
    except KeyboardInterrupt:
        if started:
            _say_interrupted(out, progress.written, progress.samples)
        raise


async def _stream_rsc_only(a: argparse.Namespace, backend: BleBackend | None, found: FoundSensor,
                           session: SessionWriter) -> int:
    """A footpod without the imurun service: Running Speed and Cadence only (no reconnects)."""
    from imurun.transport.ble import RscReader

    rsc = _RscLog(session)
    loop = asyncio.get_running_loop()
    t_end = None if a.duration is None else loop.time() + a.duration
    try:
        async with RscReader(found, backend=backend, open_timeout_s=BLE_CONNECT_TIMEOUT_S) as reader:
            _say(f"  connected to {reader.description} (RSC only)")
            while t_end is None or loop.time() < t_end:
                left = 3600.0 if t_end is None else max(t_end - loop.time(), 0.0)
                try:
                    n = await reader.read(min(max(a.timeout, 1.0) * 10, left))
                except DeviceTimeoutError:
                    if t_end is not None and loop.time() >= t_end:
                        break
                    raise
                rsc.add(n.t_host_s, n.data)
            rsc.malformed += reader.malformed
    finally:
        session.close()
    if sys.stdout.isatty() and rsc.cadence:
        print()
    if not session.published:
        _say(_nothing_received(session.path))
        return EXIT_OK
    _say(f"recorded Running Speed and Cadence of {found} to {a.out}")
    _say(rsc.summary())
    return EXIT_OK


def cmd_devices(a: argparse.Namespace) -> int:
    from imurun.device.client import SensorClient
    from imurun.transport.ble import IMURUN_SERVICE_UUID, RSC_SERVICE_UUID, BleTransport, scan

    async def main(backend: BleBackend | None) -> int:
        uuids = (IMURUN_SERVICE_UUID, RSC_SERVICE_UUID) if a.all else (IMURUN_SERVICE_UUID,)
        found = await scan(a.scan_time, backend=backend, service_uuids=uuids)
        if not found:
            _say(f"no sensors found in {a.scan_time:g} s (are they awake and not connected "
                 "to another host?)")
            return EXIT_OK
        for s in found:
            rssi = "   ?" if s.rssi is None else f"{s.rssi:4d}"
            kind = "imurun" if s.is_imurun else "footpod (RSC)" if s.has_rsc else "other"
            extra = ""
            if a.info and s.is_imurun:
                try:
                    async with BleTransport(s, backend=backend,
                                            open_timeout_s=BLE_CONNECT_TIMEOUT_S) as t:
                        info = await SensorClient(t, max_write=t.max_write).device_info()
                    extra = (f"  firmware {info.firmware_version}"
                             f"  id {info.device_id:016x}")
                except ImurunError as e:
                    extra = f"  (could not read its info: {e})"
            _say(f"{s.name or '(no name)':<20} {s.address:<17} {rssi} dBm  {kind}{extra}")
        return EXIT_OK

    return _run_ble(main)


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imurun", description="Companion for a sacrum-worn running sensor.")
    p.add_argument("--version", action="version", version=f"imurun {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("--home", default=None, metavar="DIR",
                   help="library directory (default: $IMURUN_HOME or the user data directory)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("simulate", help="run the virtual sensor")
    ssub = s.add_subparsers(dest="link_kind", required=True, metavar="LINK")
    ss = ssub.add_parser("serial", help="on a pseudo-terminal (USB serial)")
    ss.add_argument("--link", required=True, help="path of the symlink to the sensor's serial port")
    ss.add_argument("--flash", required=True, help="directory holding the sensor's stored runs")
    ss.add_argument("--seed", type=int, default=0,
                    help="the random seed of the runs, the stream and the faults (default 0)")
    ss.add_argument("--runs", type=int, default=0, help="runs to record into an empty flash")
    ss.add_argument("--minutes", type=float, default=10.0, help="length of each recorded run")
    ss.add_argument("--stream-minutes", type=float, default=10.0, help="length of the live stream")
    ss.add_argument("--speed", type=_sim_speed, default=1.0,
                    help="1: a live stream takes as long as its motion (default); max: as fast "
                         "as the host reads, the sensor's clock running ahead of the wall clock")
    ss.add_argument("--corrupt", type=_rate, default=0.0, help="probability a sent byte is damaged")
    ss.add_argument("--drop", type=_rate, default=0.0, help="probability a frame is not sent")
    ss.add_argument("--disconnect-after", type=int, action="append", metavar="BYTES",
                    help="drop the link after this many bytes sent in all (repeatable)")
    ss.add_argument("--reboot-after", type=float, action="append", metavar="SECONDS",
                    help="reboot after this many seconds of streaming (repeatable)")
    ss.add_argument("--stall-after", type=int, action="append", metavar="BYTES",
                    help="go silent, the port still open, after this many bytes sent in all "
                         "(repeatable; a stuck transmit queue: what is queued meanwhile is sent "
                         "afterwards)")
    ss.add_argument("--stall-for", type=positive_number, default=2.0, metavar="SECONDS",
                    help="how long each --stall-after silence lasts (default 2)")
    ss.add_argument("--reboot-in-run", action="store_true",
                    help="the first recorded run is cut by a reboot half-way")
    ss.add_argument("--rate", type=float, default=None, metavar="BYTES_PER_S",
                    help="pace the link (921600 baud is about 92000)")
    ss.add_argument("--mounting", choices=("upright", "upside_down", "random"), default="upright",
                    help="how the virtual sensor is worn (default upright)")
    ss.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ss.add_argument("--ready-file", default=None, help=argparse.SUPPRESS)
    ss.add_argument("--watch", action="store_true",
                    help="also write what a GPS watch recorded during each recorded run (its "
                         "true speed, FLASH/watch/run-N.fit), for `imurun attach`")
    ss.add_argument("--plan", default=None, metavar="JSON",
                    help="record the runs of a training plan (dates, lengths, runner profiles) "
                         "into an empty flash; see docs/simulator.md")
    ss.add_argument("--device-id", type=lambda x: int(x, 16), default=None, metavar="HEX",
                    help="the sensor's 64-bit id (default 1d0c5e7500000001)")
    ss.add_argument("--clock-drift-ppm", type=_drift_ppm, default=0.0, metavar="PPM",
                    help="the error of the sensor's crystal: its clock runs fast by PPM parts "
                         "per million (slow if negative; -1000..1000, default 0)")
    ss.set_defaults(func=cmd_simulate)

    s = sub.add_parser("stream", help="record live data from a sensor")
    s.add_argument("--port", help="serial port of the sensor")
    s.add_argument("--out", required=True,
                   help="session file to write (an existing one is kept unless --force)")
    s.add_argument("--force", action="store_true",
                   help="replace the --out file if it exists (its recording is lost)")
    s.add_argument("--duration", type=positive_number, default=None,
                   help="seconds (default: until the sensor stops)")
    s.add_argument("--timeout", type=positive_number, default=3.0, metavar="S",
                   help="seconds each request waits for the sensor's answer, and the silence "
                        "after which the link counts as lost (default 3)")
    _add_ble_options(s)
    s.add_argument("--rsc", action="store_true",
                   help="with --ble: also record Running Speed and Cadence (any footpod works)")
    s.set_defaults(func=cmd_stream)

    s = sub.add_parser("sync", help="download stored runs from a sensor")
    s.add_argument("--port", help="serial port of the sensor")
    s.add_argument("--store", default=None,
                   help="plain directory of synced runs (default: into the library, analysed)")
    s.add_argument("--keep", action="store_true", help="do not erase synced runs on the sensor")
    s.add_argument("--no-report", dest="report", action="store_false",
                   help="do not write the report of each new run (into the library)")
    s.add_argument("--timeout", type=positive_number, default=3.0, metavar="S",
                   help="seconds each request waits for the sensor's answer (sent up to 3 times; "
                        "default 3)")
    _add_ble_options(s)
    s.set_defaults(func=cmd_sync)

    s = sub.add_parser("devices", help="scan for sensors over Bluetooth LE")
    s.add_argument("--scan-time", type=float, default=5.0, help="seconds to scan (default 5)")
    s.add_argument("--all", action="store_true",
                   help="also list Running Speed and Cadence footpods")
    s.add_argument("--no-info", dest="info", action="store_false",
                   help="do not connect to read firmware versions")
    s.set_defaults(func=cmd_devices)

    s = sub.add_parser("replay", help="replay a session file through the live decoding path")
    s.add_argument("file", help="a session file (imurun stream --out)")
    s.add_argument("--speed", type=_speed, default=None, help="1 (as recorded) or max (default)")
    s.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    s.set_defaults(func=cmd_replay)

    for name, func, hlp in (("info", cmd_info, "summarise any supported file"),
                            ("export", cmd_export, "convert any supported file")):
        s = sub.add_parser(name, help=hlp)
        s.add_argument("file", help="any supported file (docs/formats.md)" + (
            "" if name == "info" else "; with --fit or --steps-csv, or --csv when no such file "
            "exists, a library run (4+ leading hex digits of its id, or 'latest')"))
        add_file_options(s)
        if name == "info":
            s.add_argument("--json", action="store_true", help="print one JSON object")
        else:
            g = s.add_mutually_exclusive_group(required=True)
            g.add_argument("--csv", help="CSV file to write")
            g.add_argument("--fit", default=None,
                           help="FIT activity file with the running dynamics (FILE: a library run)")
            g.add_argument("--steps-csv", default=None, metavar="OUT",
                           help="one row per step, with speed, step and stride length when a "
                                "watch file is attached (FILE: a library run)")
        s.set_defaults(func=func)
    from imurun.cli_library import add_library_commands

    add_library_commands(sub)
    from imurun.cli_analysis import add_analysis_commands

    add_analysis_commands(sub)
    from imurun.cli_report import add_report_commands

    add_report_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("imurun: interrupted", file=sys.stderr)
        return 130
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
        return code
    except KeyboardInterrupt:
        print("imurun: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of the output has gone (`imurun runs | head`)
        _discard_stdout()
        return EXIT_PIPE
    except CallbackError as e:
        if isinstance(e.error, BrokenPipeError):  # the same, seen by a printing callback
            _discard_stdout()  # (`imurun stream --live | head`: the stream stopped, file kept)
            return EXIT_PIPE
        if args.debug:
            traceback.print_exc()
        print(f"imurun: error: {e}", file=sys.stderr)
        return _exit_code(e)
    except ImurunError as e:
        if args.debug:
            traceback.print_exc()
        print(f"imurun: error: {e}", file=sys.stderr)
        return _exit_code(e)
    except sqlite3.DatabaseError as e:  # the library's index damaged after it was opened
        if args.debug:
            traceback.print_exc()
        from imurun.store.library import index_busy

        if index_busy(e):
            print("imurun: error: the library is in use by another imurun process (its index "
                  "stayed locked for 30 s); run this again when that has finished",
                  file=sys.stderr)
            return EXIT_STORE
        print(f"imurun: error: the library index is damaged ({e}); `imurun store check "
              "--repair` sets it aside and rebuilds it from the files, which hold everything",
              file=sys.stderr)
        return EXIT_STORE
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, no traceback
        if args.debug:
            traceback.print_exc()
        print(f"imurun: unexpected error: {type(e).__name__}: {e} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_FAIL


def _discard_stdout() -> None:
    """Point standard output at the null device, so that the flush at exit does not fail again.

    The recipe of the Python documentation ("Note on SIGPIPE", :mod:`signal`).
    """
    with contextlib.suppress(OSError, ValueError):  # no file descriptor (output captured)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
