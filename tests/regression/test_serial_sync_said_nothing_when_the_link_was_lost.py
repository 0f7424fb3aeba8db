"""Regression: ``imurun sync --port`` said nothing when its link was lost and reopened.

BLE sync printed one line per lost link with its reason (from its connector), serial sync
none: the user saw only "1 reconnects" at the end. The loss is now said by the sync itself
(``sync_runs(on_status=...)``, shared with the stream and with BLE), once per loss with the
transport's reason, and the CLI's serial connector says when the port is back. The reason is
said in the user's words (``serial.lost_reason``), not pyserial's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imurun.cli import main
from tests.sim_support import virtual_sensor

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serial_e2e")]


def test_serial_sync_says_each_lost_link_with_its_reason_and_when_it_is_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with virtual_sensor(tmp_path, "--seed", "21", "--runs", "1", "--minutes", "1",
                        "--disconnect-after", "30000") as s:
        flash = sorted(s.flash.glob("run-*.imrn"))[0].read_bytes()
        store = tmp_path / "store"
        assert main(["sync", "--port", str(s.link), "--store", str(store), "--keep"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if "reconnect" in ln and "reconnects" not in ln]
    assert len(lines) == 2, out
    assert re.fullmatch(rf"  serial {re.escape(str(s.link))}: .+; reconnecting", lines[0]), out
    # in the user's words: not pyserial's "device reports readiness to read but returned no data"
    assert "the port closed" in lines[0], out
    assert "readiness" not in lines[0], out
    assert lines[1] == f"  reconnected to serial {s.link}"
    assert "1 reconnects" in out
    assert [p.read_bytes() for p in store.glob("*/run-*.imrn")] == [flash]
