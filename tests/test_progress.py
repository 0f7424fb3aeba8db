"""Progress bars: drawn on standard error only when asked (a terminal), never on a pipe."""

from __future__ import annotations

import pytest

from imurun import cli_progress


def test_quiet_when_standard_error_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    bars = cli_progress.SyncBars()
    count = cli_progress.counter("analysed")
    for done in (0, 500, 1000):
        bars(1, done, 1000)
    for k in (1, 2, 3):
        count(k, 3)
    assert capsys.readouterr() == ("", "")


def test_bars_on_a_terminal(capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_progress, "DELAY_S", 0.0)
    bars = cli_progress.SyncBars(on=True)
    for done in (0, 512, 2048):
        bars(7, done, 2048)
    count = cli_progress.counter("analysed", on=True)
    for k in (1, 2, 3):
        count(k, 3)
    out, err = capsys.readouterr()
    assert out == ""
    assert "run 7" in err
    assert "2.00k" in err
    assert "analysed" in err
    assert "/3 " in err
