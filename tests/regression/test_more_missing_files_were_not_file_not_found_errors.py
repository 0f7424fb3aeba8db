"""Regression: more readers said a missing file was only a ``FileFormatError``.

docs/api.md: "a file that does not exist is its subclass ``MissingFileError``, also a
``FileNotFoundError``". ``replay_session`` (and ``imurun.transport.session.read_session``),
``imurun.workflows.import_path`` and ``imurun.ingest.watch.read_watch_fit`` of a missing path
raised a plain ``FileFormatError``, which ``except FileNotFoundError`` does not catch. The
message is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imurun.analysis_live import replay_session
from imurun.errors import FileFormatError, MissingFileError
from imurun.ingest.watch import read_watch_fit
from imurun.store.library import Library
from imurun.workflows import import_path


def _import(p: Path) -> object:
    with Library.open(p.parent / "home") as lib:
        return import_path(lib, p)


READERS: dict[str, Callable[[Path], object]] = {
    "replay_session": replay_session, "import_path": _import, "read_watch_fit": read_watch_fit}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_missing_file_is_a_file_not_found_error(tmp_path: Path, reader: str) -> None:
    missing = tmp_path / "nope.imrs"
    with pytest.raises(FileNotFoundError) as e:
        READERS[reader](missing)
    assert isinstance(e.value, MissingFileError)
    assert isinstance(e.value, FileFormatError)
    assert str(e.value) == f"{missing}: cannot read: No such file or directory"
