"""Start the virtual sensor as a separate process on a pseudo-terminal, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.02) -> None:
    """Wait until ``cond()`` holds, polling; fail the test with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


@dataclass
class Sensor:
    proc: subprocess.Popen[bytes]
    link: Path
    flash: Path
    log: Path

    @property
    def truth(self) -> Path:
        return self.flash / "truth"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def virtual_sensor(tmp: Path, *args: str, name: str = "sensor",
                   startup_timeout_s: float = 60.0) -> Iterator[Sensor]:
    """``imurun simulate serial`` in its own process; yields once its port exists."""
    link = tmp / f"{name}.tty"
    flash = tmp / f"{name}-flash"
    ready = tmp / f"{name}.ready"
    log = tmp / f"{name}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "imurun", "simulate", "serial", "--link", str(link),
             "--flash", str(flash), "--ready-file", str(ready), *args],
            stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: ready.exists() or proc.poll() is not None, startup_timeout_s,
                 "the virtual sensor to start")
        if proc.poll() is not None:
            raise AssertionError(f"virtual sensor exited:\n{log.read_text()}")
        yield Sensor(proc, link, flash, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextlib.contextmanager
def nonsense_port() -> Iterator[str]:
    """A pseudo-terminal on which something other than a sensor talks: NMEA sentences of a GPS
    receiver, every 20 ms, never a frame. Yields the port's path."""
    import threading
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def talk() -> None:
        while not stop.wait(0.02):
            try:
                os.write(master, b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M*47\r\n")
            except OSError:
                return

    t = threading.Thread(target=talk, daemon=True)
    t.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        t.join(2)
        os.close(slave)
        os.close(master)
