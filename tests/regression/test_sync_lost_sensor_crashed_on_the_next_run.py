"""Regression: a sensor gone for good crashed the sync when more than one run was left.

When reconnecting failed (after ``max_reconnects`` tries) the run being fetched was recorded as
failed, and the sync went on to the next run of the catalogue with no client: ``AssertionError``
("unexpected error", exit 1), and the run stored earlier in that sync was left unanalysed and
without a report. Now every run still to do fails at once with the same reason (no new round
of reconnecting per run), the sync exits 5, and what it stored is analysed and reported.

The virtual sensor runs in its own process on a pseudo-terminal and is killed (SIGKILL, the
port vanishes) once the first run is stored and the second is part-way through; the sync runs
in-process, through the CLI, with fewer and shorter reconnect tries than the product's.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import imurun.cli
import imurun.device.sync
from imurun.cli import main
from imurun.device.client import SensorClient
from imurun.device.sync import SyncSettings
from tests.sim_support import virtual_sensor, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serial_e2e")]

MAX_RECONNECTS = 2


def test_runs_left_after_the_sensor_is_gone_fail_cleanly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imurun.device.sync, "SyncSettings", functools.partial(
        SyncSettings, max_reconnects=MAX_RECONNECTS, backoff_s=(0.05, 0.1)))
    connects: list[str] = []
    serial_connect = imurun.cli._serial_connect

    def counting(port: str, timeout_s: float, *args: object,
                 **kw: object) -> Callable[[], Awaitable[SensorClient]]:
        inner = serial_connect(port, timeout_s, *args, **kw)  # type: ignore[arg-type]

        async def connect() -> SensorClient:
            connects.append(port)
            return await inner()

        return connect

    monkeypatch.setattr(imurun.cli, "_serial_connect", counting)
    home = tmp_path / "home"
    partial = home / "runs" / ".partial"
    with virtual_sensor(tmp_path, "--seed", "14", "--runs", "3", "--minutes", "3",
                        "--rate", "200000") as s:
        def second_run_under_way() -> bool:
            parts = list(partial.glob("*-00000002-*.part")) if partial.exists() else []
            return any(p.stat().st_size > 0 for p in parts)

        def pull_the_sensor() -> None:
            wait_for(second_run_under_way, 60, "the sync to be part-way through run 2")
            s.proc.kill()
            # The port vanishes, as an unplugged USB device's does. (Left dangling, the link could
            # lead to the pseudo-terminal of a sensor another test opens next.)
            s.link.unlink()

        killer = threading.Thread(target=pull_the_sensor, daemon=True)
        killer.start()
        code = main(["--home", str(home), "sync", "--port", str(s.link), "--timeout", "0.5"])
        killer.join(5)
    out, err = capsys.readouterr()
    assert "unexpected error" not in err, err
    assert code == 5, out + err
    lines = out.splitlines()
    # the loss is said once, with its reason, however many tries reconnecting takes
    assert lines[0].startswith(f"  serial {s.link}: "), out
    assert lines[0].endswith("; reconnecting"), out
    lines = lines[1:]
    assert lines[0] == "run 1: stored, erased on sensor"
    reason = f"could not reconnect after {MAX_RECONNECTS + 1} attempts"
    assert lines[1].startswith(f"run 2: failed: {reason}"), out
    assert lines[2] == lines[1].replace("run 2", "run 3"), out  # the same reason, at once
    # One round of reconnecting in all (the first connection, then the failed tries), not one
    # for each run left.
    assert len(connects) == 1 + MAX_RECONNECTS + 1
    # The run stored before the sensor went is analysed and has its report.
    assert "synced 1 new run(s)" in out
    assert len(list((home / "reports").glob("run-*.html"))) == 1
    assert "    report " in out
    # What arrived of run 2 is kept for the next sync.
    assert any(p.stat().st_size > 0 for p in partial.glob("*-00000002-*.part"))
    assert "run sync again to resume" in err
