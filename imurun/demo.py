"""``make demo``: the runner's and the coach's week, with no hardware.

A small team of three runners trains for three weeks (2-22 Nov 2026), each with a virtual
sensor holding their runs: Ana runs evenly, Ben's pelvic drop in left stance grows week by week,
Chloé lands far ahead of her body (overstriding) and ends with a run twice as long as any of the
month. For each runner the demo starts their sensor (its own process, on a pseudo-terminal), and
in a fresh library of their own (``IMURUN_HOME``) adds them, binds the sensor and syncs it over
real pyserial, which analyses every run. Ana writes the report of her latest run; every runner
shares a bundle with the coach, who imports the three into the coach's library and writes the
weekly summary of the last week (HTML, CSV and JSON). Every step is the ``imurun`` command a
person would type, printed before it runs.

Output goes to ``demo-output/`` (or the directory given as the first argument).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imurun.cli import main as imurun

WEEK = "2026-W47"  # the last of the three simulated weeks (16-22 Nov 2026)


@dataclass(frozen=True)
class DemoRunner:
    name: str
    key: str  # file-system name
    device_id: int
    mass_kg: float
    seed: int
    plan: dict[str, Any]


def _weeks(days: tuple[int, ...], minutes: tuple[float, ...],
           profiles: tuple[dict[str, float], ...] = ()) -> list[dict[str, Any]]:
    out = []
    for k, (d, m) in enumerate(zip(days, minutes, strict=True)):
        run: dict[str, Any] = {"day": d, "minutes": m, "hour": 7.0 if d % 2 == 0 else 18.5}
        if profiles:
            run["profile"] = profiles[k]
        out.append(run)
    return out


_DAYS = (0, 2, 5, 7, 9, 12, 14, 16, 19)  # Mon, Wed, Sat of each week

#: The team. Lengths in minutes of recording (warm-up walk and cool-down included).
TEAM: tuple[DemoRunner, ...] = (
    DemoRunner("Ana", "ana", 0x1D0C_5E75_0000_0A7A, 58.0, 11, {
        "profile": {"mass_kg": 58.0, "leg_length_m": 0.86},
        "runs": _weeks(_DAYS, (7, 9, 12, 7, 9, 12, 7, 9, 12))}),
    DemoRunner("Ben", "ben", 0x1D0C_5E75_0000_0BE2, 74.0, 22, {
        "profile": {"mass_kg": 74.0, "leg_length_m": 0.95, "cadence_spm": 166.0},
        "runs": _weeks(_DAYS, (7, 9, 12, 7, 9, 12, 7, 9, 13),
                       tuple({"drop_left_stance_deg": d} for d in
                             (7.0, 7.0, 7.2, 8.0, 8.2, 8.4, 12.0, 12.3, 12.5)))}),
    DemoRunner("Chloé", "chloe", 0x1D0C_5E75_0000_0C10, 63.0, 33, {
        "profile": {"mass_kg": 63.0, "leg_length_m": 0.88, "cadence_spm": 151.0,
                    "contact_s": 0.30, "braking_mps": 0.46},
        "runs": _weeks(_DAYS, (7, 9, 11, 7, 9, 11, 7, 9, 24))}),
)


def _say(msg: str) -> None:
    print(msg, flush=True)


def _run(args: list[str], home: Path | None = None) -> None:
    argv = (["--home", str(home)] if home is not None else []) + args
    _say("$ imurun " + " ".join(shlex.quote(x) for x in argv))
    rc = imurun(argv)
    if rc:
        raise SystemExit(f"demo: `imurun {' '.join(argv)}` failed with exit code {rc}")


def _wait(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.05)


class _Sensor:
    """A runner's virtual sensor: its own process, recording the plan, then on a pty."""

    def __init__(self, out: Path, r: DemoRunner) -> None:
        d = out / "sensors" / r.key
        d.mkdir(parents=True)
        self.link, self.ready, self.log_path = d / "sensor.tty", d / "sensor.ready", d / "log"
        plan = d / "plan.json"
        plan.write_text(json.dumps(r.plan, indent=1), encoding="utf-8")
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imurun", "simulate", "serial", "--link", str(self.link),
             "--flash", str(d / "flash"), "--plan", str(plan), "--seed", str(r.seed),
             "--device-id", f"{r.device_id:016x}", "--speed", "max", "--corrupt", "0.00005",
             "--stream-minutes", "0.1", "--ready-file", str(self.ready)],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_ready(self) -> None:
        _wait(lambda: self.ready.exists() or self.proc.poll() is not None, 240,
              f"the virtual sensor on {self.link}")
        if self.proc.poll() is not None:
            self.log.flush()
            raise SystemExit(f"demo: the virtual sensor failed:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run(out: Path) -> int:
    t0 = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _say(f"== three runners, three weeks (2-22 Nov 2026): starting their virtual sensors, "
         f"which record {sum(len(r.plan['runs']) for r in TEAM)} runs")
    sensors = [_Sensor(out, r) for r in TEAM]
    homes = {r.key: out / "runners" / r.key for r in TEAM}
    bundles = out / "bundles"
    coach = out / "coach"
    try:
        for r, sensor in zip(TEAM, sensors, strict=True):
            sensor.wait_ready()
            home = homes[r.key]
            _say(f"\n== {r.name}: a fresh library, the sensor bound to {r.name}, then sync "
                 "(over a pseudo-terminal, a slightly noisy link) and analysis")
            _run(["athlete", "add", r.name, "--mass-kg", f"{r.mass_kg:g}"], home)
            _run(["sensor", "bind", f"{r.device_id:016x}", r.name], home)
            # Ana's sync writes the report of every run it brings; to keep the demo short the
            # others skip theirs (their latest run's report is written below)
            _run(["sync", "--port", str(sensor.link)] + (["--no-report"] if r.key != "ana"
                                                          else []), home)
            sensor.stop()
        _say("\n== Ana's history, and every runner's report of their latest run")
        _run(["runs"], homes["ana"])
        for r in TEAM:
            _run(["report", "latest", "--out", str(out / f"{r.key}-latest-run.html")],
                 homes[r.key])
        report = out / "ana-latest-run.html"
        _say("\n== every runner shares their runs with the coach; the coach imports them")
        bundles.mkdir()
        for r in TEAM:
            _run(["share", "--athlete", r.name, "--out", str(bundles / f"{r.key}.zip")],
                 homes[r.key])
        for r in TEAM:
            _run(["import", str(bundles / f"{r.key}.zip")], coach)
        _say(f"\n== the coach's weekly summary of {WEEK}")
        weekly = out / f"weekly-{WEEK}.html"
        _run(["weekly", "--week", WEEK, "--out", str(weekly)], coach)
        _run(["weekly", "--week", WEEK, "--format", "csv", "--out",
              str(out / f"weekly-{WEEK}.csv")], coach)
        _run(["weekly", "--week", WEEK, "--format", "json", "--out",
              str(out / f"weekly-{WEEK}.json")], coach)
    finally:
        for s in sensors:
            s.stop()
    _say(f"\nDemo done in {time.monotonic() - t0:.0f} s. Everything is in {out.resolve()}:")
    _say(f"  run reports (open in a browser)  {report.resolve()}")
    for r in TEAM[1:]:
        _say(f"                                   {(out / f'{r.key}-latest-run.html').resolve()}")
    _say(f"  weekly summary                   {weekly.resolve()}")
    _say(f"                                   {weekly.with_suffix('.csv').resolve()}")
    _say(f"                                   {weekly.with_suffix('.json').resolve()}")
    _say(f"  runners' libraries               {(out / 'runners').resolve()}/<name>")
    _say(f"  coach's library                  {coach.resolve()}")
    _say(f"  shared bundles                   {bundles.resolve()}")
    _say(f"  sensors (flash, truth, plan)     {(out / 'sensors').resolve()}/<name>")
    _say(f"Try: imurun --home {shlex.quote(str(coach))} runs")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output")))
