"""``imurun simulate``: set up the virtual sensor's flash and put it on a link.

:func:`virtual_serial_sensor` is ``imurun simulate serial`` inside a Python program (a thread
serves the link while a ``with`` block runs); :func:`make_sensor` gives the sensor alone, to put
on a link of one's own (``BleLink``). Both are exported from :mod:`imurun.sim`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imurun.errors import DeviceTimeoutError, UsageError
from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from imurun.sim.motion import RunnerProfile
from imurun.sim.serial_link import Faults, LinkStats, SerialLink
from imurun.sim.source import motion_source

DAY_MS = 86_400_000
#: Wall clock of the first simulated run: 2026-11-02 07:00 UTC, runs a day apart.
FIRST_RUN_UNIX_MS = 1_793_602_800_000


@dataclass(frozen=True)
class SimulateOptions:
    """A virtual sensor: what it holds, how it streams, the faults of its link.

    The fields are the options of ``imurun simulate serial`` (docs/simulator.md, docs/cli.md):
    ``link`` (``--link``: the pseudo-terminal's path, a symlink the host opens like
    ``/dev/ttyACM0``), ``flash`` (``--flash``: the directory of its stored runs, with the ground
    truth in ``flash/truth``), ``seed``, ``runs`` and ``minutes`` (runs recorded into an empty
    flash), ``stream_minutes`` (each live stream), ``realtime`` (``False``: ``--speed max``, as
    fast as the host reads), ``mounting``, ``plan``, ``device_id``, ``clock_drift_ppm``,
    ``reboot_in_run``, ``watch``; the faults ``corrupt``, ``drop``, ``disconnect_after``,
    ``reboot_after_s``, ``stall_after``, ``stall_s``, ``rate_bytes_per_s``; and ``duration_s``
    (stop serving after that long) and ``ready_file`` (written once the port exists).
    """

    link: Path
    flash: Path
    seed: int = 0
    runs: int = 0
    minutes: float = 10.0
    stream_minutes: float = 10.0
    corrupt: float = 0.0
    drop: float = 0.0
    disconnect_after: tuple[int, ...] = ()
    reboot_after_s: tuple[float, ...] = ()
    realtime: bool = True
    rate_bytes_per_s: float | None = None
    mounting: str = "upright"
    reboot_in_run: bool = False
    duration_s: float | None = None
    ready_file: Path | None = None
    device_id: int = 0x1D0C_5E75_0000_0001
    plan: Path | None = None  # a training plan (JSON, see :func:`load_plan`) instead of runs
    watch: bool = False  # also write each recorded run's watch file (FLASH/watch/run-N.fit)
    stall_after: tuple[int, ...] = ()  # bytes sent at which the sensor goes silent, port open
    stall_s: float = 2.0  # how long each of those silences lasts
    clock_drift_ppm: float = 0.0  # the sensor crystal's error (SensorConfig.clock_drift_ppm)

    def __post_init__(self) -> None:
        # A path given as text (as a notebook often does) is a Path, as the fields say: the
        # sensor joins paths to them ("unsupported operand type(s) for /: 'str' and 'str'").
        for name in ("link", "flash", "plan", "ready_file"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Path):
                object.__setattr__(self, name, Path(v))


@dataclass(frozen=True)
class PlannedRun:
    """One run of a plan: when, how long, and who (a :class:`RunnerProfile`)."""

    start_unix_ms: int
    minutes: float
    profile: RunnerProfile


def load_plan(path: Path) -> tuple[PlannedRun, ...]:
    """Read a training plan: the runs a virtual sensor records before it goes on the link.

    JSON: ``{"profile": {RunnerProfile fields}, "runs": [{"day": D, "minutes": M,
    "hour": H, "profile": {fields for this run}}, ...]}``. ``day`` counts from 2026-11-02
    (a Monday), ``hour`` is UTC (default 7); ``"start": "2026-11-16T18:30:00Z"`` gives the time
    directly. Each run's profile is the plan's with the run's own fields on top.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the plan {path}: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list) or not doc["runs"]:
        raise UsageError(f"{path}: a plan is a JSON object with a non-empty list 'runs'")
    base = doc.get("profile") or {}
    out = []
    for k, r in enumerate(doc["runs"]):
        if not isinstance(r, dict) or "minutes" not in r:
            raise UsageError(f"{path}: run {k} needs 'minutes'")
        if "start" in r:
            t = dt.datetime.fromisoformat(str(r["start"]).replace("Z", "+00:00"))
            start_ms = int(t.timestamp() * 1000)
        else:
            start_ms = FIRST_RUN_UNIX_MS + int(round((float(r.get("day", k))
                                                      + (float(r.get("hour", 7.0)) - 7.0) / 24.0)
                                                     * DAY_MS))
        out.append(PlannedRun(start_ms, float(r["minutes"]),
                              _profile({**base, **(r.get("profile") or {})}, path, k)))
    return tuple(out)


def _profile(fields: Mapping[str, Any], path: Path, k: int) -> RunnerProfile:
    known = {f.name for f in dataclasses.fields(RunnerProfile)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise UsageError(f"{path}: run {k}: unknown RunnerProfile field(s) {', '.join(unknown)}")
    return RunnerProfile(**fields)


def make_sensor(opts: SimulateOptions, say: Callable[[str], None] | None = None) -> VirtualSensor:
    """Create the sensor; record ``opts.runs`` runs into an empty flash (ground truth beside).

    ``say`` hears the lines ``imurun simulate`` prints while it records runs (``None``, the
    default: nothing is said, as for :func:`virtual_serial_sensor`; ``print`` to see them).
    """
    if say is None:
        say = _quiet
    cfg = SensorConfig(device_id=opts.device_id, clock_drift_ppm=opts.clock_drift_ppm)
    flash = Flash(opts.flash)
    truth_dir = opts.flash / "truth"
    source = motion_source(opts.seed, cfg, truth_dir, mounting=opts.mounting)
    sensor = VirtualSensor(cfg, flash, motion=source, stream_seconds=opts.stream_minutes * 60.0)
    if opts.plan is not None and opts.runs:
        raise UsageError("give either a plan or a number of runs, not both")
    if opts.plan is not None and not flash.run_ids():
        for k, run in enumerate(load_plan(opts.plan)):
            # one source per run (its own profile); seeds apart so runs differ
            src = motion_source(opts.seed * 1_000_003 + k, cfg, truth_dir, profile=run.profile,
                                mounting=opts.mounting)
            counts = src(run.minutes * 60.0, f"recorded-{k:03d}")
            ids = sensor.record_run(counts, run.start_unix_ms)
            (truth_dir / f"recorded-{k:03d}.runs").write_text(" ".join(map(str, ids)))
            if opts.watch:
                _watch_file(opts.flash, truth_dir, k, ids[0], run.start_unix_ms)
            say(f"recorded run(s) {', '.join(map(str, ids))}: {run.minutes:g} min "
                f"({len(counts)} samples)")
    if opts.runs and not flash.run_ids():
        for k in range(opts.runs):
            counts = source(opts.minutes * 60.0, f"recorded-{k:03d}")
            cut = len(counts) // 2 if (opts.reboot_in_run and k == 0) else None
            start_ms = FIRST_RUN_UNIX_MS + k * DAY_MS
            ids = sensor.record_run(counts, start_ms, reboot_at=cut)
            (truth_dir / f"recorded-{k:03d}.runs").write_text(" ".join(map(str, ids)))
            if opts.watch:
                _watch_file(opts.flash, truth_dir, k, ids[0], start_ms)
            say(f"recorded run(s) {', '.join(map(str, ids))}: {opts.minutes:g} min "
                f"({len(counts)} samples)")
    return sensor


def _watch_file(flash: Path, truth_dir: Path, k: int, run_id: int, start_unix_ms: int) -> None:
    """What a watch recorded during recorded run ``k`` (its first sensor run: ``run_id``)."""
    from imurun.sim.watch import truth_watch_fit

    truth_watch_fit(flash / "watch" / f"run-{run_id:08d}.fit", truth_dir / f"recorded-{k:03d}.npz",
                    start_unix_ms / 1000.0)


def _serial_link(opts: SimulateOptions, say: Callable[[str], None]) -> SerialLink:
    """The sensor of ``opts`` (:func:`make_sensor`) with the link and faults of ``opts``."""
    faults = Faults(corrupt_rate=opts.corrupt, drop_rate=opts.drop,
                    disconnect_after=tuple(sorted(opts.disconnect_after)),
                    reboot_after_s=opts.reboot_after_s,
                    stall_after=tuple(sorted(opts.stall_after)), stall_s=opts.stall_s)
    return SerialLink(make_sensor(opts, say), opts.link, faults, seed=opts.seed,
                      realtime=opts.realtime, rate_bytes_per_s=opts.rate_bytes_per_s)


def run_serial(opts: SimulateOptions, say: Callable[[str], None] = print) -> LinkStats:
    """``imurun simulate serial``: serve the link until Ctrl-C, SIGTERM or ``opts.duration_s``."""
    link = _serial_link(opts, say)
    sensor = link.sensor
    drift = f", clock {opts.clock_drift_ppm:+g} ppm" if opts.clock_drift_ppm else ""
    say(f"virtual sensor {sensor.cfg.display_name} on {opts.link} "
        f"({len(sensor.flash.run_ids())} stored runs{drift}); Ctrl-C to stop")
    return link.serve(duration_s=opts.duration_s, ready=opts.ready_file)


def _quiet(_line: str) -> None:
    """Say nothing (the default of :func:`make_sensor`)."""


#: How long :func:`virtual_serial_sensor` waits for its port to appear.
START_TIMEOUT_S = 10.0


@contextlib.contextmanager
def virtual_serial_sensor(opts: SimulateOptions, *, say: Callable[[str], None] | None = None,
                          ) -> Iterator[SerialLink]:
    """The virtual sensor of ``opts`` on its pseudo-terminal while a ``with`` block runs.

    ``imurun simulate serial`` inside a Python program: the runs of ``opts`` are recorded into
    its flash first, then a thread serves the link, and the ``with`` block gets the
    :class:`~imurun.sim.serial_link.SerialLink` once its port exists: open
    ``str(link.link_path)`` (``opts.link``) as a serial port
    (:func:`imurun.device.connect.serial_connection`). Leaving the block stops the sensor: the
    port disappears, the truth files of the streams it served are on disk, and ``link.stats``
    (a :class:`~imurun.sim.serial_link.LinkStats`) says what it sent. ``say`` hears the lines
    ``imurun simulate`` prints while it records runs (``None``: nothing is said). An error of
    the serving thread is raised here, when the block is left.
    """
    link = _serial_link(opts, (lambda _line: None) if say is None else say)
    opened = threading.Event()
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            link.serve(duration_s=opts.duration_s, ready=opts.ready_file, on_open=opened.set)
        except BaseException as e:  # raised in the caller's thread, below
            failed.append(e)
        finally:
            opened.set()

    thread = threading.Thread(target=serve, name=f"virtual sensor on {opts.link}", daemon=True)
    thread.start()
    try:
        if not opened.wait(START_TIMEOUT_S):
            raise DeviceTimeoutError(f"starting the virtual sensor on {opts.link}",
                                     START_TIMEOUT_S)
        if failed:
            raise failed[0]
        yield link
    finally:
        link.stop()
        thread.join()
    if failed:
        raise failed[0]
