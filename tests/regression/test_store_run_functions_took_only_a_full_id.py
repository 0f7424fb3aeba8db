"""Regression: ``Library.set_analysis``, ``set_analysis_error`` and ``imurun.store.attach`` took
only a run's full id, unlike the library's other run functions.

Given the ``RunRecord`` that ``lib.run("latest")`` gives, they failed inside SQLite
(``sqlite3.ProgrammingError: Error binding parameter 1``) or with an ``AttributeError``; given a
short id (as the commands take it), ``set_analysis`` said ``no run`` of a run the library holds,
and the others answered wrongly without a word: ``attachment_of``, ``watch_samples``,
``speed_track``, ``run_step_speed`` and ``run_stride_summary`` found no watch data, and
``set_analysis_error`` recorded nothing. They take a ``RunRecord`` or its id now
(``Library.resolve_run``), and ``set_analysis_error`` of a run the library does not hold is a
``NotFoundError``. ``attach_watch_fit`` takes either too; ``index_attachment`` (no id to look
up, inside its caller's transaction) refuses an id at once with a ``UsageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from imurun.errors import NotFoundError, UsageError
from imurun.store.attach import (
    attach_watch_fit,
    attachment_of,
    index_attachment,
    run_step_speed,
    run_stride_summary,
    speed_track,
    watch_samples,
)
from imurun.store.library import Library, RunRecord
from tests.library_support import import_stored_run
from tests.report_support import watch_fit


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, RunRecord]]:
    """One analysed run of 60 s with a watch file attached."""
    home = tmp_path_factory.mktemp("home")
    with Library.open(home) as lib:
        run = import_stored_run(lib)
        assert run.start_unix_s is not None
        attach_watch_fit(lib, run, watch_fit(home / "watch.fit", run.start_unix_s, 60))
        yield lib, lib.run("latest")


def _refs(run: RunRecord) -> list[RunRecord | str]:
    return [run, run.id[:6], "latest"]


def _plain(x: Any) -> Any:
    """Something ``==`` compares: arrays of a result as lists."""
    if x is None or isinstance(x, dict | list | str | int | float):
        return x
    if isinstance(x, tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return np.where(np.isnan(x), -1.0, x).tolist() if x.dtype.kind == "f" else x.tolist()
    return {k: _plain(v) for k, v in vars(x).items()}


READERS: dict[str, Callable[[Library, Any], object]] = {
    "attachment_of": attachment_of,
    "watch_samples": watch_samples,
    "speed_track": speed_track,
    "run_step_speed": run_step_speed,
    "run_stride_summary": run_stride_summary,
}


@pytest.mark.parametrize("name", list(READERS))
def test_the_watch_data_of_a_record_or_a_short_id_are_the_run_s(
        held: tuple[Library, RunRecord], name: str) -> None:
    lib, run = held
    fn = READERS[name]
    expected = _plain(fn(lib, run.id))
    assert expected not in (None, [], {})  # the run has a watch file: a real answer to compare
    for ref in _refs(run):
        assert _plain(fn(lib, ref)) == expected, ref
    with pytest.raises(UsageError, match="run_id takes a RunRecord or a run id"):
        fn(lib, 42)


def test_set_analysis_and_its_error_take_a_record_or_a_short_id(
        held: tuple[Library, RunRecord]) -> None:
    lib, run = held
    doc = lib.analysis(run)
    assert doc is not None
    for ref in _refs(run):
        lib.set_analysis_error(ref, f"failed as {ref!r}")
        assert lib.run("latest").analysis_error == f"failed as {ref!r}"
        again = lib.set_analysis(ref, doc)  # (clears the error)
        assert again.id == run.id
        assert again.analysis_error is None
    with pytest.raises(NotFoundError, match="no run 0000000000"):
        lib.set_analysis_error("0" * 64, "no such run")
    with pytest.raises(NotFoundError, match="no run 0000000000"):
        lib.set_analysis("0" * 64, doc)


def test_attach_watch_fit_takes_a_short_id(held: tuple[Library, RunRecord]) -> None:
    lib, run = held
    att = attach_watch_fit(lib, run.id[:8], lib.root / "watch.fit")  # the same file again
    assert att.run_id == run.id
    assert not att.added


def test_index_attachment_refuses_an_id_at_once(held: tuple[Library, RunRecord]) -> None:
    lib, run = held
    with pytest.raises(UsageError, match=r"run takes a RunRecord .*not str: Library\.run\("):
        index_attachment(lib, run.id, run.directory, {})  # type: ignore[arg-type]
