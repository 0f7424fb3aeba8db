"""``imurun simulate``: set up the virtual sensor's flash and put it on a link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from imurun.sim.serial_link import Faults, LinkStats, SerialLink
from imurun.sim.source import motion_source

DAY_MS = 86_400_000
#: Wall clock of the first simulated run: 2026-11-02 07:00 UTC, runs a day apart.
FIRST_RUN_UNIX_MS = 1_793_602_800_000


@dataclass(frozen=True)
class SimulateOptions:
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


def make_sensor(opts: SimulateOptions, say: Callable[[str], None] = print) -> VirtualSensor:
    """Create the sensor; record ``opts.runs`` runs into an empty flash (ground truth beside)."""
    cfg = SensorConfig(device_id=opts.device_id)
    flash = Flash(opts.flash)
    truth_dir = opts.flash / "truth"
    source = motion_source(opts.seed, cfg, truth_dir, mounting=opts.mounting)
    sensor = VirtualSensor(cfg, flash, motion=source, stream_seconds=opts.stream_minutes * 60.0)
    if opts.runs and not flash.run_ids():
        for k in range(opts.runs):
            counts = source(opts.minutes * 60.0, f"recorded-{k:03d}")
            cut = len(counts) // 2 if (opts.reboot_in_run and k == 0) else None
            ids = sensor.record_run(counts, FIRST_RUN_UNIX_MS + k * DAY_MS, reboot_at=cut)
            (truth_dir / f"recorded-{k:03d}.runs").write_text(" ".join(map(str, ids)))
            say(f"recorded run(s) {', '.join(map(str, ids))}: {opts.minutes:g} min "
                f"({len(counts)} samples)")
    return sensor


def run_serial(opts: SimulateOptions, say: Callable[[str], None] = print) -> LinkStats:
    sensor = make_sensor(opts, say)
    faults = Faults(corrupt_rate=opts.corrupt, drop_rate=opts.drop,
                    disconnect_after=tuple(sorted(opts.disconnect_after)),
                    reboot_after_s=opts.reboot_after_s)
    link = SerialLink(sensor, opts.link, faults, seed=opts.seed,
                      realtime=opts.realtime, rate_bytes_per_s=opts.rate_bytes_per_s)
    say(f"virtual sensor {sensor.cfg.display_name} on {opts.link} "
        f"({len(sensor.flash.run_ids())} stored runs); Ctrl-C to stop")
    return link.serve(duration_s=opts.duration_s, ready=opts.ready_file)
