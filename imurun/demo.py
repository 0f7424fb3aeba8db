"""``make demo``: the main job on the bundled default, with no hardware.

Starts the virtual sensor (its own process, on a pseudo-terminal), syncs its stored runs over
real pyserial, streams a minute of live data, and summarises everything it got. Output goes to
``demo-output/`` (or the directory given as the first argument).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from imurun.cli import main as imurun


def _wait(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.05)


def run(out: Path) -> int:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    link, flash, ready = out / "sensor.tty", out / "sensor-flash", out / "sensor.ready"
    print(f"== starting the virtual sensor (2 stored runs of 5 minutes) on {link}", flush=True)
    log = open(out / "sensor.log", "wb")  # noqa: SIM115 - closed in finally
    sensor = subprocess.Popen(
        [sys.executable, "-m", "imurun", "simulate", "serial", "--link", str(link), "--flash",
         str(flash), "--seed", "7", "--runs", "2", "--minutes", "5", "--stream-minutes", "1",
         "--speed", "max", "--corrupt", "0.0001", "--ready-file", str(ready)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait(lambda: ready.exists() or sensor.poll() is not None, 120, "the virtual sensor")
        if sensor.poll() is not None:
            print((out / "sensor.log").read_text())
            return 1
        store = out / "store"
        print("\n== imurun sync (over a slightly noisy link)", flush=True)
        rc = imurun(["sync", "--port", str(link), "--store", str(store)])
        if rc:
            return rc
        print("\n== imurun stream (one minute of live data, flat out)", flush=True)
        session = out / "live.imrs"
        rc = imurun(["stream", "--port", str(link), "--out", str(session)])
        if rc:
            return rc
        for f in sorted(store.glob("*/run-*.imrn")) + [session]:
            print(f"\n== imurun info {f.relative_to(out)}", flush=True)
            imurun(["info", str(f)])
        csv = out / "live.csv"
        print(f"\n== imurun export {session.name} --csv {csv.name}", flush=True)
        imurun(["export", str(session), "--csv", str(csv)])
    finally:
        sensor.send_signal(signal.SIGTERM)
        try:
            sensor.wait(10)
        except subprocess.TimeoutExpired:
            sensor.kill()
        log.close()
    print(f"\nDemo output is in {out.resolve()}:")
    print(f"  synced runs      {store.resolve()}")
    print(f"  live session     {session.resolve()}")
    print(f"  CSV export       {csv.resolve()}")
    print(f"  sensor's truth   {(flash / 'truth').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output")))
