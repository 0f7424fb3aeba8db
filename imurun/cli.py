"""The ``imurun`` command: parse arguments, call the library, print. No logic of its own.

Exit codes: 0 ok; 1 unexpected failure; 2 usage error; 3 bad or unsupported file;
4 device or link problem (port missing, timeout, sensor error); 5 sync incomplete;
6 store problem; 7 not found (unknown run, athlete or library); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from imurun import __version__
from imurun.errors import (
    DeviceError,
    FileFormatError,
    ImurunError,
    IngestError,
    StoreError,
    SyncError,
    TransportError,
    UsageError,
)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_FILE, EXIT_DEVICE, EXIT_SYNC, EXIT_STORE = 0, 1, 2, 3, 4, 5, 6


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


def _rate(s: str) -> float:
    v = float(s)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be between 0 and 1")
    return v


# ---------------------------------------------------------------------------- commands
def cmd_simulate(a: argparse.Namespace) -> int:
    from imurun.sim.runner import SimulateOptions, run_serial

    opts = SimulateOptions(
        link=Path(a.link), flash=Path(a.flash), seed=a.seed, runs=a.runs, minutes=a.minutes,
        stream_minutes=a.stream_minutes, corrupt=a.corrupt, drop=a.drop,
        disconnect_after=tuple(a.disconnect_after or ()), reboot_after_s=tuple(a.reboot_after or ()),
        realtime=a.speed is not None, rate_bytes_per_s=a.rate, mounting=a.mounting,
        reboot_in_run=a.reboot_in_run, duration_s=a.duration, ready_file=Path(a.ready_file) if a.ready_file else None)
    stats = run_serial(opts, say=_say)
    _say(f"virtual sensor stopped: {stats.requests} requests, {stats.bytes_sent} bytes sent, "
         f"{stats.frames_dropped} frames dropped, {stats.bytes_corrupted} bytes corrupted, "
         f"{stats.disconnects} disconnects, {stats.reboots} reboots")
    return EXIT_OK


def _serial_connect(port: str, timeout_s: float, session=None):  # type: ignore[no-untyped-def]
    from imurun.device.client import SensorClient
    from imurun.transport.serial import SerialTransport

    async def connect() -> SensorClient:
        t = SerialTransport(port)
        await t.open(timeout_s)
        c = SensorClient(t, session=session, timeout_s=timeout_s)
        return c

    return connect


def cmd_stream(a: argparse.Namespace) -> int:
    from imurun.device.stream import StreamSettings, stream_live
    from imurun.ingest.builder import RecordingBuilder
    from imurun.transport.session import SessionWriter

    if not a.port:
        raise UsageError("give --port PATH (serial); BLE streaming is --ble NAME_OR_ADDRESS")
    out = Path(a.out)
    session = SessionWriter(out, {"framing": "stream", "link": f"serial {a.port}",
                                  "imurun_version": __version__})
    builder = RecordingBuilder(source=str(out), source_format="session")
    connect = _serial_connect(a.port, a.timeout, session)

    def status(msg: str) -> None:
        _say(f"  {msg}")

    try:
        report = asyncio.run(stream_live(connect, builder, StreamSettings(duration_s=a.duration),
                                         on_status=status))
    finally:
        session.close()
    rec = builder.build()
    _say(f"streamed {report.samples} samples ({rec.duration_s:.1f} s) to {out}; "
         f"ended by {report.ended_by}; {report.reconnects} reconnects, {report.reboots} reboots, "
         f"{len(rec.gaps)} gaps")
    return EXIT_OK


def cmd_sync(a: argparse.Namespace) -> int:
    if a.store is None:  # into the library, then analysed
        from imurun.cli_library import cmd_sync_library

        return cmd_sync_library(a)
    from imurun.device.sync import SyncSettings, sync_runs
    from imurun.store.rundir import RunDirectory

    if not a.port:
        raise UsageError("give --port PATH (serial); BLE sync is --ble NAME_OR_ADDRESS")
    sink = RunDirectory(a.store)
    connect = _serial_connect(a.port, a.timeout)
    last = [0.0]

    def progress(run_id: int, done: int, size: int) -> None:
        now = time.monotonic()
        if sys.stdout.isatty() and (now - last[0] > 0.2 or done == size):
            last[0] = now
            print(f"\r  run {run_id}: {done / max(size, 1):6.1%} of {size / 1024:.0f} KiB",
                  end="" if done < size else "\n", flush=True)

    report = asyncio.run(sync_runs(connect, sink, SyncSettings(erase=not a.keep),
                                   progress=progress))
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
    from imurun.device.client import SensorClient
    from imurun.device.stream import replay
    from imurun.ingest.builder import RecordingBuilder
    from imurun.transport.session import ReplayTransport, read_session

    sf = read_session(a.file)
    builder = RecordingBuilder(source=a.file, source_format="session")
    report = asyncio.run(replay(SensorClient(ReplayTransport(sf, speed=a.speed)), builder))
    rec = builder.build()
    _print_recording(rec, as_json=a.json)
    del report
    return EXIT_OK


def _print_recording(rec, as_json: bool = False) -> None:  # type: ignore[no-untyped-def]
    from imurun.ingest.summary import describe

    d = describe(rec)
    if as_json:
        print(json.dumps(d, indent=2, sort_keys=True))
        return
    for line in d["lines"]:
        print(line)


def cmd_info(a: argparse.Namespace) -> int:
    from imurun.ingest.files import load_recording

    rec = load_recording(a.file, acc_unit=a.acc_unit, gyr_unit=a.gyr_unit)
    _print_recording(rec, as_json=a.json)
    return EXIT_OK


def cmd_export(a: argparse.Namespace) -> int:
    if a.fit is not None:  # FILE names a run of the library
        from imurun.cli_library import cmd_export_fit

        return cmd_export_fit(a)
    from imurun.ingest.export import write_csv
    from imurun.ingest.files import load_recording

    rec = load_recording(a.file, acc_unit=a.acc_unit, gyr_unit=a.gyr_unit)
    write_csv(rec, Path(a.csv))
    _say(f"wrote {rec.n_samples} samples to {a.csv}")
    return EXIT_OK


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
    ss.add_argument("--seed", type=int, default=0)
    ss.add_argument("--runs", type=int, default=0, help="runs to record into an empty flash")
    ss.add_argument("--minutes", type=float, default=10.0, help="length of each recorded run")
    ss.add_argument("--stream-minutes", type=float, default=10.0, help="length of the live stream")
    ss.add_argument("--speed", type=_speed, default=1.0, help="1 (real time) or max")
    ss.add_argument("--corrupt", type=_rate, default=0.0, help="probability a sent byte is damaged")
    ss.add_argument("--drop", type=_rate, default=0.0, help="probability a frame is not sent")
    ss.add_argument("--disconnect-after", type=int, action="append", metavar="BYTES",
                    help="drop the link after this many bytes sent in all (repeatable)")
    ss.add_argument("--reboot-after", type=float, action="append", metavar="SECONDS",
                    help="reboot after this many seconds of streaming (repeatable)")
    ss.add_argument("--reboot-in-run", action="store_true",
                    help="the first recorded run is cut by a reboot half-way")
    ss.add_argument("--rate", type=float, default=None, metavar="BYTES_PER_S",
                    help="pace the link (921600 baud is about 92000)")
    ss.add_argument("--mounting", choices=("upright", "upside_down", "random"), default="upright")
    ss.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ss.add_argument("--ready-file", default=None, help=argparse.SUPPRESS)
    ss.set_defaults(func=cmd_simulate)

    s = sub.add_parser("stream", help="record live data from a sensor")
    s.add_argument("--port", help="serial port of the sensor")
    s.add_argument("--out", required=True, help="session file to write")
    s.add_argument("--duration", type=float, default=None, help="seconds (default: until the sensor stops)")
    s.add_argument("--timeout", type=float, default=3.0)
    s.set_defaults(func=cmd_stream)

    s = sub.add_parser("sync", help="download stored runs from a sensor")
    s.add_argument("--port", help="serial port of the sensor")
    s.add_argument("--store", default=None,
                   help="plain directory of synced runs (default: into the library, analysed)")
    s.add_argument("--keep", action="store_true", help="do not erase synced runs on the sensor")
    s.add_argument("--timeout", type=float, default=3.0)
    s.set_defaults(func=cmd_sync)

    s = sub.add_parser("replay", help="replay a session file through the live decoding path")
    s.add_argument("file")
    s.add_argument("--speed", type=_speed, default=None, help="1 (as recorded) or max (default)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_replay)

    for name, func, hlp in (("info", cmd_info, "summarise any supported file"),
                            ("export", cmd_export, "convert any supported file")):
        s = sub.add_parser(name, help=hlp)
        s.add_argument("file")
        s.add_argument("--acc-unit", choices=("m/s2", "g"), default=None)
        s.add_argument("--gyr-unit", choices=("rad/s", "deg/s"), default=None)
        if name == "info":
            s.add_argument("--json", action="store_true")
        else:
            g = s.add_mutually_exclusive_group(required=True)
            g.add_argument("--csv", help="CSV file to write")
            g.add_argument("--fit", default=None,
                           help="FIT activity file with the running dynamics (FILE: a library run)")
        s.set_defaults(func=func)
    from imurun.cli_library import add_library_commands

    add_library_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("imurun: interrupted", file=sys.stderr)
        return 130
    except ImurunError as e:
        if args.debug:
            traceback.print_exc()
        print(f"imurun: error: {e}", file=sys.stderr)
        return _exit_code(e)
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, no traceback
        if args.debug:
            traceback.print_exc()
        print(f"imurun: unexpected error: {type(e).__name__}: {e} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
