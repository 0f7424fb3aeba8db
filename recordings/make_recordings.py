"""Regenerate the bundled recordings through the real path: virtual sensor -> pty -> pyserial.

    python recordings/make_recordings.py

Writes, next to this script:

* ``clean-run.imrs``: one minute of live streaming in real time, no faults.
* ``reboot-and-gaps.imrs``: one minute with link corruption, dropped frames and a sensor reboot
  after 25 s (the host restarts the stream): gaps of every live cause but a disconnect.
* ``stored-run.imrn``: a one-minute run synced off the sensor's flash.
* ``*.truth.npz``: the virtual sensor's ground truth for each (see ``imurun.sim.source``).

The seeds are fixed, but the bytes of the live sessions depend on timing (when time-sync requests
interleave with the stream), so regenerating changes them; tests compare against the truth files,
not against fixed bytes.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imurun.cli import main as imurun

HERE = Path(__file__).resolve().parent


def _sensor(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    link, flash, ready = tmp / "tty", tmp / "flash", tmp / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "imurun", "simulate", "serial", "--link",
                             str(link), "--flash", str(flash), "--ready-file", str(ready), *args])
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("virtual sensor did not start")
        time.sleep(0.05)
    return proc, link, flash


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


def main() -> int:
    jobs = [
        ("clean-run", ["--seed", "101", "--stream-minutes", "1"]),
        ("reboot-and-gaps", ["--seed", "102", "--stream-minutes", "1", "--corrupt", "0.0001",
                             "--drop", "0.003", "--reboot-after", "25"]),
    ]
    for name, args in jobs:
        with tempfile.TemporaryDirectory() as d:
            proc, link, flash = _sensor(Path(d), *args)
            try:
                assert imurun(["stream", "--port", str(link), "--out", str(HERE / f"{name}.imrs"),
                               "--force"]) == 0
            finally:
                _stop(proc)
            truths = sorted((flash / "truth").glob("stream-boot*.npz"))
            for k, t in enumerate(truths):
                suffix = "" if len(truths) == 1 else f".boot{k + 1}"
                shutil.copy(t, HERE / f"{name}{suffix}.truth.npz")
    with tempfile.TemporaryDirectory() as d:
        proc, link, flash = _sensor(Path(d), "--seed", "103", "--runs", "1", "--minutes", "1")
        try:
            store = Path(d) / "store"
            assert imurun(["sync", "--port", str(link), "--store", str(store)]) == 0
        finally:
            _stop(proc)
        (run,) = store.glob("*/run-*.imrn")
        shutil.copy(run, HERE / "stored-run.imrn")
        shutil.copy(flash / "truth" / "recorded-000.npz", HERE / "stored-run.truth.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
