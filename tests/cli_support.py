"""Running the CLI in-process from tests, and checking its one-line errors."""

from __future__ import annotations

import pytest

from imurun.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``imurun ARGV`` in this process: ``(exit code, stdout, stderr)``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *expect: str) -> str:
    """The one ``imurun: error: ...`` line of ``err``, holding each of ``expect``."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("imurun: error: "), err
    for e in expect:
        assert e in lines[0], err
    return lines[0]
