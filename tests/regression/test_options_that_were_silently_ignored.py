"""Options that did nothing in the combination given are refused, not ignored.

``stream --rsc`` records a footpod over Bluetooth; with a serial ``--port`` it was silently
dropped. ``sync --no-report`` concerns the reports written into the library; with ``--store``
(plain run files, no reports) it was silently dropped too. Both are now a usage error (exit 2)
before anything is touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.cli import EXIT_USAGE, main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_stream_rsc_over_serial_is_refused(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    out = tmp_path / "s.imrs"
    code, err = _run(capsys, "stream", "--port", str(tmp_path / "no-such-port"), "--rsc",
                     "--out", str(out))
    assert code == EXIT_USAGE, err
    assert "--rsc" in err
    assert "--ble" in err
    assert not out.exists()


def test_sync_no_report_with_store_is_refused(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, err = _run(capsys, "--home", str(tmp_path / "home"), "sync", "--port",
                     str(tmp_path / "no-such-port"), "--store", str(store), "--no-report")
    assert code == EXIT_USAGE, err
    assert "--no-report" in err
    assert "--store" in err
    assert not store.exists()
