"""Regression: a single Ctrl-C during a sync download was often ignored.

``asyncio.run`` turns the first SIGINT into a cancellation of the main task. The serial transport
waited for bytes with ``asyncio.wait_for(queue.get(), timeout)``, which on Python 3.11
returns the item instead of raising when the inner ``get`` finished just as the caller was
cancelled (CPython gh-86296). While the sensor was sending, that race was won often enough
that the cancellation was lost: the sync went on, downloaded and erased every run, and exited 0.
The serial transport now waits with ``asyncio.timeout`` in the calling task; a cancelled sync also
starts no erase, lets the port go, and keeps the verified prefix for the next sync.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from imurun.transport.serial import SerialTransport
from tests.cancel_support import lost_cancellations
from tests.sim_support import virtual_sensor, wait_for


def test_a_read_cancelled_while_bytes_are_waiting_ends_cancelled() -> None:
    """Real pyserial on a real pseudo-terminal: a cancellation is never lost to arrived bytes."""
    master, slave = os.openpty()
    tty.setraw(slave)

    async def main() -> list[int]:
        t = SerialTransport(os.ttyname(slave))
        await t.open(5.0)
        queue = t._queue
        assert queue is not None

        async def produce() -> None:
            os.write(master, b"\x01" * 200)

        try:
            return await lost_cancellations(60, produce, lambda: t.read(5.0), queue)
        finally:
            await t.close()

    try:
        lost = asyncio.run(main())
    finally:
        os.close(slave)
        os.close(master)
    assert lost == [], f"{len(lost)} of 60 cancellations were lost"


def _run_id(p: Path) -> str:
    """``run-00000001.imrn`` on the sensor, ``run-00000001-<crc>.imrn`` stored: ``00000001``."""
    return p.name.split(".")[0].split("-")[1]


def _verified_bytes(root: Path) -> int:
    """Bytes of runs the sink holds: committed runs and the verified prefixes of partial ones."""
    if not root.exists():
        return 0
    return sum(p.stat().st_size for p in [*root.rglob("run-*.imrn"), *root.rglob("*.part")])


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
@pytest.mark.parametrize("into", ["store", "library"])
def test_ctrl_c_stops_the_sync_at_once_and_the_next_sync_resumes(tmp_path: Path, into: str) -> None:
    home = tmp_path / "home"
    if into == "store":
        sink_root = tmp_path / "store"
        where = ["sync", "--store", str(sink_root)]
    else:
        sink_root = home / "runs"
        where = ["sync"]
    # 50 kB/s: about 8 s for the two runs, so each Ctrl-C lands inside the download even when a
    # loaded machine starts the sync slowly (at 100 kB/s the second attempt could end first)
    with virtual_sensor(tmp_path, "--seed", "14", "--runs", "2", "--minutes", "3",
                        "--rate", "50000") as s:
        flash_copy = tmp_path / "flash-copy"
        shutil.copytree(s.flash, flash_copy, ignore=shutil.ignore_patterns("truth"))
        originals = {_run_id(p): p.read_bytes() for p in flash_copy.glob("run-*.imrn")}
        assert len(originals) == 2
        cmd = [sys.executable, "-m", "imurun", "--home", str(home), *where, "--port", str(s.link)]
        for attempt in range(2):  # each Ctrl-C lands at another point of the download
            before = _verified_bytes(sink_root)
            host = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                def progressed(before: int = before, host: subprocess.Popen[str] = host) -> bool:
                    return _verified_bytes(sink_root) > before or host.poll() is not None

                wait_for(progressed, 60, "the sync to download something")
                assert host.poll() is None, host.communicate()
                t_signal = time.monotonic()
                host.send_signal(signal.SIGINT)
                out, err = host.communicate(timeout=30)
                stopped_after_s = time.monotonic() - t_signal
            finally:
                if host.poll() is None:
                    host.kill()
                    host.wait(10)
            assert host.returncode == 130, f"attempt {attempt}: exit {host.returncode}\n{out}{err}"
            assert err.endswith("imurun: interrupted\n"), err
            assert "Traceback" not in err
            assert stopped_after_s < 3.0, f"the sync took {stopped_after_s:.1f} s to stop"
            # What was received is kept; a run left the sensor only once stored in full.
            assert _verified_bytes(sink_root) > before
            on_sensor = {_run_id(p) for p in s.flash.glob("run-*.imrn")}
            stored = {_run_id(p): p.read_bytes() for p in sink_root.rglob("run-*.imrn")}
            for run, data in originals.items():
                if run not in on_sensor:
                    assert stored.get(run) == data, f"run {run} erased but not stored"
        held = sum(p.stat().st_size for p in sink_root.rglob("*.part"))
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert ("resumed at byte" in again.stdout) == (held > 0), again.stdout
        assert list(s.flash.glob("run-*.imrn")) == []
    assert {_run_id(p): p.read_bytes() for p in sink_root.rglob("run-*.imrn")} == originals
    assert not list(sink_root.rglob("*.part"))
